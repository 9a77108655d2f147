"""``ml-platform-lifecycle``: register, promote and versions from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.workloads.lifecycle.conftest import log_as_training_run
from workloads.lifecycle.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.*")


def test_register_promote_and_versions_print_what_they_did(
    store: str, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a model directory no run has logged
    # when it is registered, promoted and listed
    assert main(["register", "churn", "--model-dir", str(model_dir), "--tracking-uri", store]) == 0
    registered = capsys.readouterr().out
    promote = ["promote", "churn", "--version", "1", "--reason", "first", "--tracking-uri", store]
    assert main(promote) == 0
    promoted = capsys.readouterr().out
    assert main(["versions", "churn", "--json", "--tracking-uri", store]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    # then each says what it did
    run_id = listed["run_id"]
    assert registered == (
        f"churn: version 1 registered from runs:/{run_id}/model (logged by this command)\n"
    )
    assert promoted == "churn@champion: unset -> version 1\n"
    assert (listed["version"], listed["aliases"]) == (1, ["champion"])
    assert listed["promotions"] == {"champion": "first"}


def test_register_takes_a_run_id_instead_of_a_directory(
    client: Any, store: str, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a training run that logged the model directory
    run_id = log_as_training_run(client, model_dir)
    # when its artifact is registered by the run's id / then the version is that artifact
    assert main(["register", "churn", "--run-id", run_id, "--tracking-uri", store]) == 0
    assert capsys.readouterr().out == (
        f"churn: version 1 registered from runs:/{run_id}/model (the training run's artifact)\n"
    )


def test_json_output_of_register_and_promote(
    store: str, model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given the store in MLFLOW_TRACKING_URI
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    # when register and promote print JSON
    assert main(["register", "churn", "--model-dir", str(model_dir), "--json"]) == 0
    registered = json.loads(capsys.readouterr().out)
    promote = ["promote", "churn", "--version", "1", "--alias", "staging", "--reason", "r"]
    assert main([*promote, "--json"]) == 0
    promoted = json.loads(capsys.readouterr().out)
    # then the documents say what was done
    assert (registered["name"], registered["version"], registered["reused_run"]) == (
        "churn",
        1,
        False,
    )
    assert promoted == {
        "name": "churn", "alias": "staging", "version": 1, "previous": None, "reason": "r"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["versions", "churn"],
            "no tracking URI: pass --tracking-uri (e.g. sqlite:///build/mlflow.db) or set MLFLOW_TRACKING_URI",
        ),
        (
            ["versions", "churn", "--tracking-uri", "{store}"],
            "no registered model 'churn' in this tracking store",
        ),
        (
            ["promote", "churn", "--version", "2", "--reason", "r", "--tracking-uri", "{store}"],
            "no registered model 'churn' in this tracking store",
        ),
        (
            ["register", "churn", "--model-dir", "{missing}", "--tracking-uri", "{store}"],
            "{missing}/metadata.json: missing; a model directory needs metadata.json beside its model file",
        ),
    ],
)
def test_errors_are_one_line_and_exit_1(
    store: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    # given no tracking URI in the environment
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    values = {"store": store, "missing": str(tmp_path / "nothing")}
    # when a command cannot do what it is asked
    status = main([word.format(**values) for word in argv])
    # then it exits 1 with one line naming the problem
    assert status == 1
    assert (
        capsys.readouterr().err
        == f"ml-platform-lifecycle {argv[0]}: error: " + message.format(**values) + "\n"
    )


def test_a_version_below_1_is_refused(
    store: str, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given churn version 1
    assert main(["register", "churn", "--model-dir", str(model_dir), "--tracking-uri", store]) == 0
    capsys.readouterr()
    # when version 0 is promoted / then the error says where versions start
    promote = ["promote", "churn", "--version", "0", "--reason", "r", "--tracking-uri", store]
    assert main(promote) == 1
    assert capsys.readouterr().err == (
        "ml-platform-lifecycle promote: error: --version: versions start at 1, not 0\n"
    )


def test_python_m_runs_the_same_command() -> None:
    # given the module form / when asked for help / then it is ml-platform-lifecycle
    done = subprocess.run(
        [sys.executable, "-m", "workloads.lifecycle", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("usage: ml-platform-lifecycle [-h] {register,promote,versions}")
