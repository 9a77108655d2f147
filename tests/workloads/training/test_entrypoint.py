"""The entrypoint end to end: local arguments, SageMaker's contract in a fake /opt/ml, failures, SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

from tests.workloads.training.samples import (  # noqa: F401  (one_thread: an autouse fixture)
    make_data,
    one_thread,
    report_lines,
    write_csv,
)
from workloads.console import SCRIPTS
from workloads.inference import handlers
from workloads.model_layout import ModelMetadata
from workloads.training import contract, entrypoint
from workloads.training.entrypoint import main

ROOT = Path(__file__).resolve().parents[3]


def served(model_dir: Path, rows: list[list[float]]) -> list:
    """What the serving handlers answer for ``rows`` from ``model_dir`` (as SageMaker calls them)."""
    model = handlers.model_fn(str(model_dir))
    decoded = handlers.input_fn(json.dumps(rows), "application/json")
    body, content_type = handlers.output_fn(handlers.predict_fn(decoded, model), "application/json")
    assert content_type == "application/json"
    return json.loads(body)["predictions"]


@pytest.fixture
def no_job(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A local run: the contract's root points at an empty directory, tracking is off."""
    monkeypatch.setenv(contract.ROOT_ENV, str(tmp_path / "no-opt-ml"))
    monkeypatch.delenv(contract.MLFLOW_TRACKING_URI_ENV, raising=False)


@pytest.mark.usefixtures("no_job")
def test_local_csv_files_train_a_model_the_handlers_serve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given training and validation CSV files with text labels
    data = make_data(n_classes=3, labels=("gold", "silver", "bronze"))
    write_csv(tmp_path / "data/train/part-0.csv", data, "train")
    write_csv(tmp_path / "data/valid.csv", data, "valid")
    # when the entrypoint trains with plain arguments
    status = main(
        [
            "--algorithm", "sklearn", "--task", "classification", "--target", "y",
            "--train", str(tmp_path / "data/train"), "--validation", str(tmp_path / "data/valid.csv"),
            "--model-dir", str(tmp_path / "model"), "--output-dir", str(tmp_path / "output"),
            "--hyperparameter", "max_iter=30", "--hyperparameter", "learning_rate=0.2",
        ]
    )  # fmt: skip
    # then it succeeds, prints a line per step and a final one, and the model is served
    assert status == 0
    lines = report_lines(capsys.readouterr().out)
    assert [line["step"] for line in lines[:-1]] == [10, 20, 30]
    assert "step" not in lines[-1]
    metadata = ModelMetadata.read(tmp_path / "model")
    assert metadata.classes == ("bronze", "gold", "silver")
    assert metadata.feature_names == ("a", "b", "c", "d")
    assert metadata.metrics == {key: value for key, value in lines[-1].items()}
    assert metadata.framework_version
    predictions = served(tmp_path / "model", data.x_valid[:3].tolist())
    assert set(predictions) <= {"gold", "silver", "bronze"}
    summary = json.loads((tmp_path / "output/metrics.json").read_text())
    assert summary["params"]["learning_rate"] == "0.2"
    assert summary["objective"] == "valid_loss"


@pytest.mark.usefixtures("no_job")
@pytest.mark.parametrize(
    ("algorithm", "options"),
    [
        ("xgboost", ["--hyperparameter", "num_round=20", "--hyperparameter", "nthread=1"]),
        (
            "pytorch",
            [
                "--hyperparameter",
                "epochs=20",
                "--hyperparameter",
                "batch_size=16",
                "--hyperparameter",
                "learning_rate=0.01",
                "--hyperparameter",
                "num_threads=1",
            ],
        ),
    ],
)
def test_a_bundled_dataset_trains_each_framework(
    tmp_path: Path, algorithm: str, options: list[str]
) -> None:
    # given a bundled dataset
    model_dir = tmp_path / "model"
    # when trained by this framework
    status = main(
        ["--algorithm", algorithm, "--dataset", "iris", "--model-dir", str(model_dir), *options]
    )
    # then the saved model is served with the dataset's labels and records its framework version
    assert status == 0
    metadata = ModelMetadata.read(model_dir)
    assert (metadata.framework, metadata.task, metadata.classes) == (
        algorithm,
        "classification",
        (0, 1, 2),
    )
    assert metadata.metrics["valid_accuracy"] > 0.5
    assert metadata.framework_version.split(".")[0].isdigit()
    assert served(model_dir, [[5.1, 3.5, 1.4, 0.2]])[0] in (0, 1, 2)
    # and a PyTorch model carries the handlers the PyTorch container loads from code/
    assert (model_dir / "code" / "inference.py").is_file() is (algorithm == "pytorch")


def fake_job(root: Path, hyperparameters: dict[str, str], channels: bool = True) -> None:
    """SageMaker's /opt/ml tree: hyperparameters.json (strings) and train/validation channels."""
    (root / "input/config").mkdir(parents=True)
    (root / "input/config/hyperparameters.json").write_text(json.dumps(hyperparameters))
    if channels:
        data = make_data("regression")
        write_csv(root / "input/data/train/train.csv", data, "train")
        write_csv(root / "input/data/validation/validation.csv", data, "valid")


@pytest.fixture
def job_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The contract's root, pointed at a scratch /opt/ml; tracking off."""
    root = tmp_path / "opt/ml"
    monkeypatch.setenv(contract.ROOT_ENV, str(root))
    monkeypatch.delenv(contract.MLFLOW_TRACKING_URI_ENV, raising=False)
    for name in ("SM_MODEL_DIR", "SM_OUTPUT_DATA_DIR", "SM_CHANNEL_TRAIN"):
        monkeypatch.delenv(name, raising=False)
    return root


def test_a_sagemaker_job_reads_the_contract_and_ignores_the_toolkits_arguments(
    job_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a job tree with string hyperparameters (some JSON-encoded, some SageMaker's own)
    fake_job(
        job_root,
        {
            "algorithm": '"xgboost"',
            "task": "regression",
            "target": "y",
            "num_round": "15",
            "max_depth": '"3"',
            "nthread": "1",
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": '"s3://bucket/source.tar.gz"',
            # what a tuning job adds to each of its training jobs
            "_tuning_objective_metric": '"valid_loss"',
        },
    )
    # when the script-mode program runs with the toolkit's arguments
    status = main(["--num_round", "15", "--max_depth", "3"])
    # then the model and outputs are where SageMaker collects them, and no failure is written
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert ModelMetadata.read(job_root / "model").framework == "xgboost"
    summary = json.loads((job_root / "output/data/metrics.json").read_text())
    assert summary["params"]["num_round"] == "15"
    assert summary["steps_run"] <= 15
    assert not (job_root / "output/failure").exists()
    assert "ignoring the command-line arguments" in captured.err
    assert [line["step"] for line in report_lines(captured.out)[:-1]] == list(
        range(1, summary["steps_run"] + 1)
    )


@pytest.mark.parametrize(
    ("hyperparameters", "channels", "reason"),
    [
        (
            {
                "algorithm": "xgboost",
                "task": "regression",
                "target": "y",
                "max_depth": "deep",
                "eta": "0.1",
                "sagemaker_job_name": "x",
            },
            True,
            "hyperparameters.json: unknown hyperparameter 'eta'; allowed: algorithm, task, target, features, objective, validation_fraction, seed, registered_model_name, num_round, learning_rate, max_depth, min_child_weight, subsample, colsample_bytree, reg_lambda, reg_alpha, gamma, max_bin, tree_method, early_stopping_rounds, checkpoint_every, nthread; max_depth: 'deep' is not an integer",
        ),
        (
            {"algorithm": "lightgbm", "task": "regression"},
            True,
            "hyperparameters.json: algorithm: 'lightgbm' is not one of 'sklearn', 'xgboost', 'pytorch', 'automl'; target: missing (str)",
        ),
        (
            {"algorithm": "sklearn", "task": "regression", "target": "y", "objective": "valid_auc"},
            True,
            "hyperparameters.json: objective: 'valid_auc' is not a regression metric (known: train_loss, valid_loss, valid_rmse, valid_mae, valid_r2)",
        ),
        (
            {"algorithm": "sklearn", "task": "regression", "target": "price"},
            True,
            "train: target column 'price' not found; columns: a, b, c, d, y",
        ),
        (
            {"algorithm": "sklearn", "task": "regression", "target": "y"},
            False,
            "no 'train' input channel (the job has: none); name the training data channel 'train'",
        ),
    ],
)
def test_a_failing_job_writes_its_reason_to_the_failure_file(
    job_root: Path, hyperparameters: dict[str, str], channels: bool, reason: str
) -> None:
    """Given a job with bad input, when run, then it exits 1 with the reason in the failure file."""
    fake_job(job_root, hyperparameters, channels)
    assert main([]) == 1
    assert (job_root / "output/failure").read_text() == reason
    assert not (job_root / "model").exists()


def test_an_unexpected_error_is_reported_short_with_its_type(
    job_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a job whose training breaks in an unforeseen way
    fake_job(job_root, {"algorithm": "sklearn", "task": "regression", "target": "y"})

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire " + "x" * 5000)

    monkeypatch.setattr("workloads.training.algorithms.train", broken)
    # when run
    status = main([])
    # then the failure file has the type and message, cut below 1 KB; the log has the traceback
    assert status == 1
    failure = (job_root / "output/failure").read_text()
    assert failure.startswith("RuntimeError: disk on fire xxx") and len(failure) <= 1000
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.usefixtures("no_job")
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--algorithm", "xgboost", "--hyperparameter", "algorithm=sklearn"],
            "--algorithm xgboost conflicts with the hyperparameter algorithm=sklearn",
        ),
        (
            ["--algorithm", "sklearn", "--target", "label"],
            "--dataset iris: the target column is 'target'",
        ),
        (
            ["--algorithm", "sklearn", "--task", "regression", "--hyperparameter", "features=a,b"],
            "iris: features: 'a' not found; 'b' not found",
        ),
    ],
)
def test_local_mistakes_exit_1_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    """Given contradicting or wrong options, when run, then it exits 1 naming the problem."""
    status = main(["--dataset", "iris", "--model-dir", str(tmp_path / "m"), *arguments])
    assert status == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"error: {message}"


@pytest.mark.usefixtures("no_job")
def test_usage_errors_exit_2_and_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    """Given no data source, then argparse's usage error; given --help, then the help."""
    assert main(["--algorithm", "sklearn", "--model-dir", "m"]) == 2
    assert "one of the arguments --train --dataset is required" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "--hyperparameter KEY=VALUE" in capsys.readouterr().out


@pytest.mark.usefixtures("no_job")
def test_only_pytorch_trains_under_torchrun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given WORLD_SIZE=2, when xgboost is asked for, then it refuses instead of training twice."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    status = main(["--algorithm", "xgboost", "--dataset", "iris", "--model-dir", str(tmp_path)])
    assert status == 1
    assert "trains in a single process, but WORLD_SIZE=2" in capsys.readouterr().err


def test_the_console_script_and_the_module_run_the_entrypoint(tmp_path: Path) -> None:
    # given the project's console scripts
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    # when the module is run as `python -m workloads.training --help`
    run = subprocess.run(
        [sys.executable, "-m", "workloads.training", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, contract.ROOT_ENV: str(tmp_path)},
    )
    # then both reach entrypoint.command
    assert scripts["ml-platform-train"] == "workloads.console:train"
    assert SCRIPTS["ml-platform-train"][0] == "workloads.training.entrypoint:command"
    assert run.returncode == 0
    assert run.stdout.startswith("usage: ml-platform-train")


def script_mode_xgboost(tmp_path: Path) -> list[str]:
    """The command line of a long XGBoost run in script mode, checkpointing into a directory.

    It runs as ``train.py`` in a source directory, the way the prebuilt containers run it.
    """
    data = make_data(rows=4000)
    write_csv(tmp_path / "train.csv", data, "train")
    source = tmp_path / "code"
    shutil.copytree(
        ROOT / "workloads", source / "workloads", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "workloads/training/sagemaker_program.py", source / "train.py")
    return [
        sys.executable, "train.py", "--algorithm", "xgboost", "--task", "classification",
        "--target", "y", "--train", str(tmp_path / "train.csv"),
        "--model-dir", str(tmp_path / "model"), "--checkpoint-dir", str(tmp_path / "checkpoints"),
        "--hyperparameter", "early_stopping_rounds=0", "--hyperparameter", "nthread=1",
        "--hyperparameter", "checkpoint_every=100000", "--hyperparameter", "max_depth=4",
    ]  # fmt: skip


def stop_at_step_3(tmp_path: Path, command: list[str], signals: int) -> tuple[int, float]:
    """Run ``command`` in ``tmp_path/code`` to step 3, then SIGTERM it ``signals`` times.

    The signals go 5 ms apart, until the process has exited. Returns its exit status and the
    seconds from the first signal.
    """
    environment = {
        **os.environ,
        contract.ROOT_ENV: str(tmp_path / "no-job"),
        "PYTHONUNBUFFERED": "1",
    }
    environment.pop(contract.MLFLOW_TRACKING_URI_ENV, None)
    process = subprocess.Popen(
        command,
        cwd=tmp_path / "code",
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("step=3 "):
                break
        started = time.monotonic()
        for _ in range(signals):
            if process.poll() is not None:
                break
            process.send_signal(signal.SIGTERM)
            time.sleep(0.005)
        status = process.wait(timeout=30)
        return status, time.monotonic() - started
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_sigterm_mid_xgboost_exits_0_and_a_rerun_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a long XGBoost run in script mode
    base = script_mode_xgboost(tmp_path)
    # when SIGTERM arrives once training is under way
    status, stopped_in = stop_at_step_3(
        tmp_path, [*base, "--hyperparameter", "num_round=1000000"], 1
    )
    # then it exits 0 promptly with a checkpoint and no model
    assert status == 0
    assert stopped_in < 10
    assert not (tmp_path / "model").exists()
    [checkpoint] = list((tmp_path / "checkpoints").glob("checkpoint-*.ubj"))
    saved = int(checkpoint.name.split("-")[1])
    assert saved >= 3
    # and a rerun (in this process) resumes from that round and finishes two rounds later
    monkeypatch.setenv(contract.ROOT_ENV, str(tmp_path / "no-job"))
    monkeypatch.delenv(contract.MLFLOW_TRACKING_URI_ENV, raising=False)
    assert main([*base[2:], "--hyperparameter", f"num_round={saved + 2}"]) == 0
    captured = capsys.readouterr()
    assert f"resuming from the checkpoint of round {saved}" in captured.err
    assert [line.get("step") for line in report_lines(captured.out)] == [saved + 1, saved + 2, None]
    assert ModelMetadata.read(tmp_path / "model").framework == "xgboost"


def test_repeated_sigterms_after_the_stop_checkpoint_still_exit_0(tmp_path: Path) -> None:
    # given a long XGBoost run in script mode
    base = script_mode_xgboost(tmp_path)
    # when SIGTERM arrives at step 3 and keeps arriving every 5 ms until the process has exited
    # (SageMaker or torchrun repeating the stop while the job writes its checkpoint and exits)
    status, _ = stop_at_step_3(tmp_path, [*base, "--hyperparameter", "num_round=1000000"], 2000)
    # then the stop stays clean: exit 0 (not -15) with the stop checkpoint written
    assert status == 0
    assert list((tmp_path / "checkpoints").glob("checkpoint-*.ubj"))


def test_parse_hyperparameters_returns_the_shared_and_the_algorithms_params() -> None:
    """Given raw strings for xgboost, then the shared and XGBoost params come back typed."""
    shared, own = entrypoint.parse_hyperparameters(
        {
            "algorithm": "xgboost",
            "task": "regression",
            "target": "y",
            "seed": "4",
            "max_depth": "2",
        },
        "hp",
    )
    assert (shared.seed, shared.resolved_objective) == (4, "valid_loss")
    assert own.max_depth == 2
    assert np.isclose(own.learning_rate, 0.1)


@pytest.mark.usefixtures("no_job")
def test_sigterm_while_the_data_loads_exits_0_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a SIGTERM that arrives while the data is being read
    real_load = entrypoint.load_data
    handler = signal.getsignal(signal.SIGTERM)

    def load_then_signal(job: entrypoint.Job) -> object:
        data = real_load(job)
        os.kill(os.getpid(), signal.SIGTERM)
        return data

    monkeypatch.setattr(entrypoint, "load_data", load_then_signal)
    # when the entrypoint runs
    status = main(
        ["--algorithm", "xgboost", "--dataset", "iris", "--model-dir", str(tmp_path / "m")]
    )
    # then it exits 0 without training, and the previous SIGTERM handler is back
    assert status == 0
    assert "stopped on request (SIGTERM) before training" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
    assert signal.getsignal(signal.SIGTERM) is handler
