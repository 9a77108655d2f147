"""Registering model directories, moving aliases and listing versions in MLflow's registry."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.workloads.lifecycle.conftest import (
    VALIDATION_METRICS,
    experiment_of,
    log_as_training_run,
)
from workloads.lifecycle.registry import (
    REGISTER_EXPERIMENT,
    RegistryError,
    list_versions,
    promote,
    read_metrics,
    register,
    tracking_uri_or_fail,
    versions_table,
)
from workloads.training.tracking import MODEL_DIGEST_TAG, model_dir_digest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.*")

EVALUATION = {
    "metrics": {"valid_accuracy": 0.9, "valid_auc": 0.95},
    "binary_classification_metrics": {"auc": {"value": 0.95, "standard_deviation": 0.01}},
    "dataset": {"item_count": 500},
}


def write_json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_a_directory_a_training_run_logged_is_registered_as_that_runs_artifact(
    client: Any, model_dir: Path
) -> None:
    # given a training run that logged the model directory
    run_id = log_as_training_run(client, model_dir)
    # when the directory is registered without an evaluation
    done = register(client, "churn", model_dir)
    # then the version is that run's model/ folder, with the validation metrics
    assert (done.version, done.run_id, done.reused_run) == (1, run_id, True)
    assert done.source == f"runs:/{run_id}/model"
    version = client.get_model_version("churn", "1")
    assert (version.source, version.run_id) == (done.source, run_id)
    source = f"training validation ({model_dir}/metadata.json)"
    assert version.tags == {
        MODEL_DIGEST_TAG: model_dir_digest(model_dir),
        "metrics_source": source,
        "framework": "sklearn",
        "framework_version": version.tags["framework_version"],
        "task": "classification",
        "metric.valid_accuracy": "0.875",
        "metric.valid_loss": "0.25",
    }
    assert version.tags["framework_version"]
    assert version.description == (
        f"sklearn {version.tags['framework_version']} classification model; metrics from "
        f"{source}: valid_accuracy=0.875, valid_loss=0.25"
    )
    assert dict(done.metrics) == VALIDATION_METRICS


def test_a_directory_no_run_logged_is_logged_by_a_run_of_its_own_then_found_again(
    client: Any, store: str, model_dir: Path, tmp_path: Path
) -> None:
    # given a store where no run logged the directory
    # when it is registered twice
    first = register(client, "churn", model_dir)
    second = register(client, "churn", model_dir)
    # then the first registration logged it into a run of the registry's experiment
    assert (first.version, first.reused_run) == (1, False)
    run = client.get_run(first.run_id)
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == REGISTER_EXPERIMENT
    assert run.info.status == "FINISHED"
    # (kept beside the database, not in ./mlruns)
    assert experiment.artifact_location == (tmp_path / "mlartifacts").as_uri()
    # and the second one found that run by the directory's digest
    assert (second.version, second.run_id, second.reused_run) == (2, first.run_id, True)
    # and the artifact holds exactly the directory's files
    from mlflow.artifacts import download_artifacts

    local = download_artifacts(first.source, dst_path=str(tmp_path / "down"), tracking_uri=store)
    assert model_dir_digest(local) == model_dir_digest(model_dir)


def test_a_runs_model_artifact_is_registered_by_the_run_id(client: Any, model_dir: Path) -> None:
    # given a training run that logged the model directory
    run_id = log_as_training_run(client, model_dir)
    # when it is registered by the run's id
    done = register(client, "churn", run_id=run_id)
    # then the version is that artifact, with the validation metrics its metadata records
    assert (done.version, done.run_id, done.reused_run) == (1, run_id, True)
    assert done.source == f"runs:/{run_id}/model"
    version = client.get_model_version("churn", "1")
    assert version.tags["metrics_source"] == (
        f"training validation (runs:/{run_id}/model/metadata.json)"
    )
    assert version.tags[MODEL_DIGEST_TAG] == model_dir_digest(model_dir)
    assert dict(done.metrics) == VALIDATION_METRICS


def test_a_run_without_a_model_directory_or_no_run_at_all_is_refused(client: Any) -> None:
    # given a run that logged no model directory
    run_id = client.create_run(experiment_of(client, "other")).info.run_id
    # when it or an unknown run is registered / then the error names the URI and the problem
    with pytest.raises(RegistryError) as raised:
        register(client, "churn", run_id=run_id)
    assert str(raised.value) == (
        f"runs:/{run_id}/model: Failed to download artifacts from path 'model', please ensure "
        "that the path is correct."
    )
    with pytest.raises(RegistryError) as raised:
        register(client, "churn", run_id="0123abcd")
    assert str(raised.value) == "runs:/0123abcd/model: Run with id=0123abcd not found"


def test_a_runs_model_folder_that_is_no_model_directory_is_refused(
    client: Any, tmp_path: Path
) -> None:
    # given a run whose model/ folder holds an MLflow flavor only
    flavor = tmp_path / "flavor"
    flavor.mkdir()
    (flavor / "MLmodel").write_text("flavors: {}\n")
    run_id = client.create_run(experiment_of(client, "other")).info.run_id
    client.log_artifacts(run_id, str(flavor), "model")
    # when it is registered / then the error says what is missing and who writes it
    with pytest.raises(RegistryError) as raised:
        register(client, "churn", run_id=run_id)
    assert str(raised.value) == (
        f"runs:/{run_id}/model: not a model directory (no metadata.json); the trainer logs one "
        "there when it runs with --tracking-uri"
    )


def test_a_directory_and_a_run_together_or_neither_are_refused(
    client: Any, model_dir: Path
) -> None:
    for model, run in [(model_dir, "0123abcd"), (None, "")]:
        with pytest.raises(RegistryError) as raised:
            register(client, "churn", model, run_id=run)
        assert str(raised.value) == "register: name a model directory or a run, one of them"


def test_a_run_with_another_directory_is_not_taken_for_this_one(
    client: Any, store: str, model_dir: Path, other_model_dir: Path
) -> None:
    # given a training run of another model
    other_run = log_as_training_run(client, other_model_dir)
    # when this model is registered / then it gets a run of its own
    done = register(client, "churn", model_dir)
    assert done.run_id != other_run
    assert not done.reused_run


def test_the_evaluation_metrics_are_recorded_with_where_they_came_from(
    client: Any, store: str, model_dir: Path, tmp_path: Path
) -> None:
    # given an evaluation.json
    evaluation = write_json(tmp_path / "evaluation.json", EVALUATION)
    # when the directory is registered with it
    done = register(client, "churn", model_dir, metrics_file=evaluation)
    # then the version's metrics are the evaluation's flat section
    version = client.get_model_version("churn", str(done.version))
    metrics = {k: v for k, v in version.tags.items() if k.startswith("metric.")}
    assert metrics == {"metric.valid_accuracy": "0.9", "metric.valid_auc": "0.95"}
    assert version.tags["metrics_source"] == str(evaluation)
    assert version.description.endswith(
        f"metrics from {evaluation}: valid_accuracy=0.9, valid_auc=0.95"
    )


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"metrics": {"valid_auc": 0.9, "note": "x"}, "valid_auc": 0.1}, {"valid_auc": 0.9}),
        (
            {"regression_metrics": {"rmse": {"value": 2.0, "standard_deviation": "NaN"}}},
            {"rmse": 2.0},
        ),
        ({"valid_rmse": 3, "flag": True, "name": "x"}, {"valid_rmse": 3.0}),
    ],
)
def test_metrics_are_read_from_each_shape_they_come_in(
    tmp_path: Path, document: object, expected: dict[str, float]
) -> None:
    # given a metrics file of one shape / when it is read / then its numbers come out
    assert read_metrics(write_json(tmp_path / "m.json", document)) == expected


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "{path}: no such file"),
        (
            "{",
            "{path}: cannot be read as JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
        ),
        ("[1]", "{path}: expected a JSON object"),
        (
            '{"metrics": {"a": "high"}}',
            '{path}: no metrics in it (expected {{"metrics": {{NAME: NUMBER}}}})',
        ),
    ],
)
def test_an_unusable_metrics_file_is_one_line_naming_it(
    tmp_path: Path, content: str | None, message: str
) -> None:
    # given a metrics file that is missing or holds no metrics
    path = tmp_path / "evaluation.json"
    if content is not None:
        path.write_text(content)
    # when it is read / then the error names it and what is wrong
    with pytest.raises(RegistryError) as raised:
        read_metrics(path)
    assert str(raised.value) == message.format(path=path)


def test_a_folder_that_is_not_a_model_directory_is_refused(client: Any, tmp_path: Path) -> None:
    # given a folder without metadata.json / when it is registered / then the error says so
    with pytest.raises(RegistryError) as raised:
        register(client, "churn", tmp_path)
    assert str(raised.value) == (
        f"{tmp_path}/metadata.json: missing; a model directory needs metadata.json beside its "
        "model file"
    )


def test_a_model_directory_without_its_model_file_is_refused(
    client: Any, model_dir: Path, tmp_path: Path
) -> None:
    # given a directory with the metadata only
    (tmp_path / "metadata.json").write_bytes((model_dir / "metadata.json").read_bytes())
    # when it is registered / then the error names the missing file
    with pytest.raises(RegistryError) as raised:
        register(client, "churn", tmp_path)
    assert str(raised.value) == (
        f"{tmp_path}: no model.joblib beside metadata.json (framework 'sklearn')"
    )


def test_promote_moves_the_alias_and_records_why_when_and_from_where(
    client: Any, store: str, model_dir: Path, other_model_dir: Path
) -> None:
    # given two versions
    register(client, "churn", model_dir)
    register(client, "churn", other_model_dir)
    noon = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    # when the alias is set, then moved
    first = promote(client, "churn", 1, "champion", " first model ", now=noon)
    second = promote(client, "churn", 2, "champion", "better", now=noon)
    # then each promotion says where the alias was
    assert first.to_dict() == {
        "name": "churn", "alias": "champion", "version": 1, "previous": None,
        "reason": "first model",
    }  # fmt: skip
    assert (second.previous, second.version) == (1, 2)
    assert int(client.get_model_version_by_alias("churn", "champion").version) == 2
    # and the versions carry the reasons
    tags = client.get_model_version("churn", "1").tags
    assert {k: v for k, v in tags.items() if k.startswith("alias.")} == {
        "alias.champion.reason": "first model",
        "alias.champion.promoted_at": "2026-12-07T12:00:00Z",
        "alias.champion.previous": "none",
    }
    assert client.get_model_version("churn", "2").tags["alias.champion.previous"] == "1"
    # and the listing shows who holds the alias
    listed = list_versions(client, "churn")
    assert [(item["version"], item["aliases"]) for item in listed] == [(2, ["champion"]), (1, [])]
    assert listed[1]["promotions"] == {"champion": "first model"}
    assert listed[1]["metrics"] == VALIDATION_METRICS
    assert listed[0]["metrics"] == {}
    assert versions_table(listed).splitlines()[0].split()[:3] == ["2", "champion", "no"]


@pytest.mark.parametrize(
    ("name", "version", "alias", "reason", "message"),
    [
        ("fraud", 1, "champion", "x", "no registered model 'fraud' in this tracking store"),
        ("churn", 4, "champion", "x", "model 'churn' has no version 4"),
        ("churn", 1, "champion", "  ", "--reason: say why this version gets the alias"),
        ("churn", 1, "v3", "x", "alias 'v3': Version alias name 'v3' is reserved."),
    ],
)
def test_promote_names_what_is_missing_or_wrong(
    client: Any,
    store: str,
    model_dir: Path,
    name: str,
    version: int,
    alias: str,
    reason: str,
    message: str,
) -> None:
    # given one version of churn
    register(client, "churn", model_dir)
    # when a promotion asks for something that is not there / then one line says what
    with pytest.raises(RegistryError) as raised:
        promote(client, name, version, alias, reason)
    assert str(raised.value) == message


def test_listing_an_unknown_model_says_so(client: Any) -> None:
    # given an empty store / when a model's versions are listed / then the error names it
    with pytest.raises(RegistryError) as raised:
        list_versions(client, "churn")
    assert str(raised.value) == "no registered model 'churn' in this tracking store"


def test_the_tracking_uri_comes_from_the_argument_then_the_environment_else_an_error() -> None:
    # given an argument, the environment, or neither / then the first one set is used
    environ = {"MLFLOW_TRACKING_URI": "sqlite:///env.db"}
    assert tracking_uri_or_fail("sqlite:///arg.db", environ) == "sqlite:///arg.db"
    assert tracking_uri_or_fail(None, environ) == "sqlite:///env.db"
    with pytest.raises(RegistryError) as raised:
        tracking_uri_or_fail(None, {})
    assert str(raised.value) == (
        "no tracking URI: pass --tracking-uri (e.g. sqlite:///build/mlflow.db) or set "
        "MLFLOW_TRACKING_URI"
    )
