"""The README's quick-start training command trains, tracks and leaves a servable model.

The command is read from the README (and the tables from docs/training.md, "Training a model
locally"), so the two cannot drift apart. It runs in this process: ``ml-platform train`` hands
its arguments to ``workloads.training.entrypoint:command`` (as does the ``ml-platform-train``
alias; both checked), and the console script itself exists only after ``make`` installs the
project.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from ml_platform_cli.runners import TRAIN_ENTRY_POINT
from tests.workloads.training.samples import (  # noqa: F401  (one_thread: an autouse fixture)
    mlflow_store,
    one_thread,
)
from workloads.console import SCRIPTS
from workloads.inference import handlers
from workloads.training import contract, objectives
from workloads.training.algorithms import params_type
from workloads.training.entrypoint import JobParams, main
from workloads.training.hyperparameters import as_strings

ROOT = Path(__file__).resolve().parents[3]
# The reference (the hyperparameters and metrics tables) lives in docs/training.md; the commands
# are the first two of the README's quick start, which that page points to.
SECTION = (
    (ROOT / "docs/training.md")
    .read_text()
    .split("## Training a model locally\n", 1)[1]
    .split("\n## ", 1)[0]
)
STEP_BY_STEP = (
    (ROOT / "README.md")
    .read_text()
    .split("## Quick start (no AWS account)\n", 1)[1]
    .split("\n## ", 1)[0]
    .split("### Step by step\n", 1)[1]
)
TRAIN, SERVE = re.findall(r"```sh\n(.*?)```", STEP_BY_STEP, flags=re.DOTALL)[:2]

# MLflow's own warnings, which it silences itself outside pytest (see test_tracking.py).
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.*"),
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
]


def command() -> list[str]:
    """The training command's words (continuation lines joined)."""
    return shlex.split(TRAIN.replace("\\\n", " "))


def option(words: list[str], name: str) -> str:
    return words[words.index(name) + 1]


def test_the_command_is_the_console_script_of_the_entrypoint() -> None:
    """Given the README's command, then it runs ml-platform train, which is entrypoint.main."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert command()[:2] == [".venv/bin/ml-platform", "train"]
    assert scripts["ml-platform"] == "ml_platform_cli.main:main"
    assert TRAIN_ENTRY_POINT == "workloads.training.entrypoint:command"
    assert scripts["ml-platform-train"] == "workloads.console:train"
    assert SCRIPTS["ml-platform-train"][0] == TRAIN_ENTRY_POINT


def test_the_readme_command_trains_a_tracked_model_that_is_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # given a fresh directory with the project's sample (the README's store with MLflow's schema already in it, which
    # saves the seconds its creation takes) and no SageMaker tree or tracking variables
    monkeypatch.chdir(tmp_path)
    (tmp_path / "workloads").symlink_to(ROOT / "workloads")  # the shipped sample, as in the root
    monkeypatch.setenv(contract.ROOT_ENV, str(tmp_path / "no-job"))
    monkeypatch.delenv(contract.MLFLOW_TRACKING_URI_ENV, raising=False)
    words = command()
    database = Path(option(words, "--tracking-uri").removeprefix("sqlite:///"))
    mlflow_store(tmp_path / database, tmp_path_factory)
    # when the README's training command runs
    assert main(words[2:]) == 0
    # then the directory the README serves holds the model, and it answers the README's curl
    model_dir = option(words, "--model-dir")
    assert option(shlex.split(SERVE.splitlines()[0]), "--model-dir") == model_dir
    assert sorted(p.name for p in Path(model_dir).iterdir()) == ["metadata.json", "model.ubj"]
    body = re.search(r"-d '(.*?)'", SERVE).group(1)  # type: ignore[union-attr]
    expected = json.loads(re.search(r"# (\{.*\})", SERVE).group(1))  # type: ignore[union-attr]
    model = handlers.model_fn(model_dir)
    answer, _ = handlers.output_fn(
        handlers.predict_fn(handlers.input_fn(body, "text/csv"), model), "application/json"
    )
    assert json.loads(answer) == expected
    # and the run, its model and the registered version are in the SQLite store
    import mlflow

    client = mlflow.MlflowClient(option(words, "--tracking-uri"))
    experiment = client.get_experiment_by_name(option(words, "--experiment"))
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["algorithm"] == "xgboost"
    assert run.data.metrics["valid_accuracy"] == model.metadata.metrics["valid_accuracy"]
    assert (tmp_path / "build/mlartifacts").is_dir()  # beside the database, not ./mlruns
    assert not (tmp_path / "mlruns").exists()
    [version] = client.search_model_versions(f"name='{option(words, '--register-model')}'")
    assert version.run_id == run.info.run_id
    assert (Path(option(words, "--output-dir")) / "metrics.json").is_file()


def documented() -> dict[str, str]:
    """The hyperparameters table: each row's first cell and its `name=default` spans."""
    rows = {}
    for line in SECTION.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0] not in ("algorithm", "---", "task"):
            rows[cells[0].strip("`")] = cells[1]
    return rows


@pytest.mark.parametrize("algorithm", ["sklearn", "xgboost", "pytorch", "automl"])
def test_the_table_lists_every_hyperparameter_with_its_default(algorithm: str) -> None:
    """Given an algorithm's row, then it shows exactly its params class's fields and defaults."""
    pytest.importorskip("torch")
    row = documented()[algorithm]
    found = dict(re.findall(r"`(\w+)=([^`]*)`", row))
    assert found == as_strings(params_type(algorithm)())


def test_the_table_lists_the_shared_hyperparameters_and_the_metrics() -> None:
    """Given the shared row and the metrics table, then they match JobParams and METRICS."""
    row = documented()["every one"]
    names = set(re.findall(r"`(\w+)=?[^`]*`", row)) - {"valid_loss"}
    assert names == {field for field in JobParams.__dataclass_fields__}
    for task, metrics in objectives.METRICS.items():
        line = next(line for line in SECTION.splitlines() if line.startswith(f"| {task} |"))
        assert set(re.findall(r"`(\w+)`", line)) == set(metrics)
