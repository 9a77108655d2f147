"""Model URIs resolved through MLflow into model directories the server loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.workloads.lifecycle.conftest import experiment_of, log_as_training_run
from workloads.lifecycle.model_source import ModelSource, ModelUri, parse_model_uri
from workloads.lifecycle.registry import RegistryError, promote, register
from workloads.model_layout import load_model
from workloads.training.tracking import model_dir_digest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.*")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "models:/churn@champion",
            ModelUri("models:/churn@champion", name="churn", alias="champion"),
        ),
        ("models:/churn/3", ModelUri("models:/churn/3", name="churn", version=3)),
        ("runs:/0a1b/model", ModelUri("runs:/0a1b/model", run_id="0a1b", path="model")),
    ],
)
def test_the_three_uri_forms_are_parsed(text: str, expected: ModelUri) -> None:
    # given a model URI / when it is parsed / then its parts come out
    parsed = parse_model_uri(text)
    assert parsed == expected
    assert parsed.follows_alias == bool(expected.alias)


@pytest.mark.parametrize(
    "text", ["models:/churn", "models:/churn/0", "models:/churn/latest", "s3://b/k", "runs:/x"]
)
def test_other_uris_are_refused_naming_the_forms(text: str) -> None:
    # given a URI of no known form / when it is parsed / then the error names the accepted forms
    with pytest.raises(RegistryError) as raised:
        parse_model_uri(text)
    assert str(raised.value) == (
        f"--model-uri {text!r}: expected models:/NAME@ALIAS, models:/NAME/VERSION or "
        "runs:/RUN_ID/PATH"
    )


def source(uri: str, store: str, tmp_path: Path) -> ModelSource:
    return ModelSource(parse_model_uri(uri), store, tmp_path / "cache")


def test_an_alias_resolves_to_its_version_and_downloads_the_directory_once(
    client: Any, store: str, model_dir: Path, other_model_dir: Path, tmp_path: Path
) -> None:
    # given two versions with the alias on the first
    register(client, "churn", model_dir)
    register(client, "churn", other_model_dir)
    promote(client, "churn", 1, "champion", "first")
    champion = source("models:/churn@champion", store, tmp_path)
    # when it is resolved and fetched
    resolved = champion.resolve()
    local = champion.fetch(resolved)
    # then it is version 1's directory, which loads
    assert (resolved.key, resolved.label) == ("churn/1", "models:/churn@champion (version 1)")
    assert model_dir_digest(local) == model_dir_digest(model_dir)
    assert load_model(local).metadata.task == "classification"
    # and a second fetch is served from the cache
    assert champion.fetch(resolved) == local
    # when the alias moves / then the next resolve names the new version
    promote(client, "churn", 2, "champion", "second")
    assert champion.resolve().key == "churn/2"
    assert load_model(champion.fetch(champion.resolve())).metadata.task == "regression"


def test_a_version_and_a_run_resolve_to_fixed_artifacts(
    client: Any, store: str, model_dir: Path, tmp_path: Path
) -> None:
    # given a training run registered as version 1
    run_id = log_as_training_run(client, model_dir)
    register(client, "churn", model_dir)
    for uri, key in [
        ("models:/churn/1", "churn/1"),
        (f"runs:/{run_id}/model", f"runs/{run_id}/model"),
    ]:
        # when the URI is resolved and fetched / then it is the directory
        fixed = source(uri, store, tmp_path)
        resolved = fixed.resolve()
        assert (resolved.key, resolved.label) == (key, uri)
        assert model_dir_digest(fixed.fetch(resolved)) == model_dir_digest(model_dir)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (
            "models:/fraud@champion",
            "models:/fraud@champion: no registered model 'fraud' in this tracking store",
        ),
        (
            "models:/churn@challenger",
            "models:/churn@challenger: model 'churn' has no alias 'challenger'",
        ),
        ("models:/churn/7", "models:/churn/7: model 'churn' has no version 7"),
        ("runs:/0123abcd/model", "runs:/0123abcd/model: Run with id=0123abcd not found"),
    ],
)
def test_what_is_not_there_is_named_in_one_line(
    client: Any, store: str, model_dir: Path, tmp_path: Path, uri: str, message: str
) -> None:
    # given churn version 1 without aliases
    register(client, "churn", model_dir)
    # when a URI names what is not there / then resolving says what
    with pytest.raises(RegistryError) as raised:
        source(uri, store, tmp_path).resolve()
    assert str(raised.value) == message


def test_a_version_that_is_no_model_directory_is_refused(
    client: Any, store: str, tmp_path: Path
) -> None:
    # given a version whose artifact is some other folder (an MLflow flavor, say)
    flavor = tmp_path / "flavor"
    flavor.mkdir()
    (flavor / "MLmodel").write_text("flavors: {}\n")
    experiment = experiment_of(client, "other")
    run = client.create_run(experiment)
    client.log_artifacts(run.info.run_id, str(flavor), "flavor")
    client.create_registered_model("churn")
    client.create_model_version("churn", f"runs:/{run.info.run_id}/flavor", run.info.run_id)
    versioned = source("models:/churn/1", store, tmp_path)
    # when it is fetched / then the error says what to register instead
    with pytest.raises(RegistryError) as raised:
        versioned.fetch(versioned.resolve())
    assert str(raised.value) == (
        f"models:/churn/1: runs:/{run.info.run_id}/flavor is not a model directory (no "
        "metadata.json); register the directory the trainer wrote with ml-platform-lifecycle "
        "register"
    )
    # and nothing is left in the cache
    assert list((tmp_path / "cache").iterdir()) == []
