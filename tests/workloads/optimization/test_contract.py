"""The SageMaker training contract: hyperparameters, the problem channel, model and checkpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.workloads.optimization import fake_problem
from workloads.optimization.contract import job_from_sagemaker
from workloads.optimization.entrypoint import main
from workloads.optimization.errors import ProblemError
from workloads.training.contract import SageMakerEnvironment


def _job_tree(root: Path, hyperparameters: dict[str, Any], problems: int = 1) -> Path:
    """A scratch /opt/ml with the hyperparameters and ``problems`` files in the problem channel."""
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    channel = root / "input" / "data" / "problem"
    channel.mkdir(parents=True)
    for index in range(problems):
        fake_problem.write(channel / f"p{index}.json")
    return root


@pytest.fixture
def sagemaker_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``ML_PLATFORM_SAGEMAKER_ROOT`` points at a scratch tree; MLflow is off."""
    root = tmp_path / "opt-ml"
    monkeypatch.setenv("ML_PLATFORM_SAGEMAKER_ROOT", str(root))
    monkeypatch.setenv("TRAINING_JOB_NAME", "solve-1")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for name in ("SM_MODEL_DIR", "SM_OUTPUT_DATA_DIR", "SM_CHANNEL_PROBLEM"):
        monkeypatch.delenv(name, raising=False)
    return root


def test_a_job_reads_everything_from_the_contract(sagemaker_root: Path) -> None:
    # given SageMaker's JSON-string hyperparameters (the SDK quotes some values once more)
    _job_tree(
        sagemaker_root,
        {
            "kind": '"countdown"',
            "total_seconds": "30",
            "iteration_seconds": "5",
            "no_improvement_seconds": "10",
            "min_improvement": "0.01",
            "workers": "4",
            "sagemaker_program": "solve.py",
        },
    )
    # when
    job = job_from_sagemaker(SageMakerEnvironment.from_environ(), environ={})
    # then
    assert (job.kind, job.workers, job.problem.name) == ("countdown", 4, "p0.json")
    limits = job.limits
    assert (limits.total_seconds, limits.iteration_seconds) == (30.0, 5.0)
    assert (limits.no_improvement_seconds, limits.min_relative_improvement) == (10.0, 0.01)
    assert job.out_dirs == (sagemaker_root / "model", sagemaker_root / "output" / "data")
    assert job.checkpoint_dir == sagemaker_root / "checkpoints" / "solve-1"
    assert job.tags == {"sagemaker.training_job_name": "solve-1"}


@pytest.mark.parametrize(
    ("hyperparameters", "problems", "message"),
    [
        (
            {"kind": "countdown", "time_limit": "5"},
            1,
            "hyperparameters.json: unknown hyperparameter(s) time_limit (known: kind, "
            "total_seconds, iteration_seconds, no_improvement_seconds, min_improvement, workers, "
            "checkpoint_seconds)",
        ),
        ({}, 1, "hyperparameters.json: kind: missing (routing or jobshop)"),
        (
            {"kind": "countdown", "total_seconds": "soon"},
            1,
            "hyperparameters.json: total_seconds: must be a number, got 'soon'",
        ),
        (
            {"kind": "countdown", "total_seconds": "0"},
            1,
            "hyperparameters.json: total_seconds: must be a positive number of seconds, got 0.0",
        ),
        (
            {"kind": "countdown", "workers": "0"},
            1,
            "hyperparameters.json: workers: must be at least 1, got 0",
        ),
        (
            {"kind": "countdown"},
            2,
            "the 'problem' input channel must hold exactly one problem file, it holds p0.json, "
            "p1.json",
        ),
    ],
)
def test_a_bad_job_setting_is_one_line_naming_it(
    sagemaker_root: Path, hyperparameters: dict[str, str], problems: int, message: str
) -> None:
    # given
    _job_tree(sagemaker_root, hyperparameters, problems)
    # when / then
    with pytest.raises(ProblemError) as raised:
        job_from_sagemaker(SageMakerEnvironment.from_environ(), environ={})
    assert str(raised.value) == message


def test_a_job_without_the_problem_channel_says_which_channels_it_has(
    sagemaker_root: Path,
) -> None:
    # given a job whose data came as "train"
    _job_tree(sagemaker_root, {"kind": "countdown"})
    (sagemaker_root / "input" / "data" / "problem").rename(sagemaker_root / "input/data/train")
    # when / then
    with pytest.raises(ProblemError) as raised:
        job_from_sagemaker(SageMakerEnvironment.from_environ(), environ={})
    assert str(raised.value) == (
        "no 'problem' input channel (the job has: train); give the problem file as the "
        "'problem' channel"
    )


def test_a_job_solves_into_the_model_and_output_dirs_ignoring_arguments(
    countdown: Any, sagemaker_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given
    _job_tree(sagemaker_root, {"kind": "countdown", "total_seconds": "2", "workers": "1"})
    # when the toolkit passes the hyperparameters again as arguments
    status = main(["--kind", "countdown"])
    # then
    captured = capsys.readouterr()
    assert status == 0
    assert captured.err.startswith(
        "SageMaker training job: ignoring the command-line arguments (hyperparameters.json is "
        "read instead)\n"
    )
    assert "objective=90\n" in captured.out
    for folder in ("model", "output/data"):
        assert {path.name for path in (sagemaker_root / folder).iterdir()} == {
            "solution.json",
            "report.html",
        }
    assert list((sagemaker_root / "checkpoints" / "solve-1").glob("checkpoint-*.json"))


def test_a_failed_job_writes_the_reason_for_sagemaker(
    countdown: Any, sagemaker_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a problem file SageMaker cannot use
    _job_tree(sagemaker_root, {"kind": "countdown"})
    (sagemaker_root / "input/data/problem/p0.json").write_text('{"start": 1, "floor": 2}')
    # when
    status = main([])
    # then the job fails with the reason as its FailureReason
    assert status == 2
    reason = "p0.json: floor: must be at most start (1)"
    assert capsys.readouterr().err == f"ml-platform-optimize: error: {reason}\n"
    assert (sagemaker_root / "output" / "failure").read_text() == reason


def test_on_kubernetes_the_checkpoints_are_uploaded_to_s3(
    countdown: Any,
    sagemaker_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given the contract as the pod's init container staged it, and a checkpoint URI
    import boto3
    from moto import mock_aws

    from tests.workloads.dummy_credentials import use_dummy_credentials

    _job_tree(sagemaker_root, {"kind": "countdown", "total_seconds": "2", "workers": "1"})
    use_dummy_credentials(monkeypatch, tmp_path, "eu-west-1")
    monkeypatch.setenv("ML_PLATFORM_CHECKPOINT_S3_URI", "s3://bucket/jobs/solve-1/checkpoints/")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(
            Bucket="bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        # when
        status = main([])
        # then the final checkpoint is in the bucket
        listed = s3.list_objects_v2(Bucket="bucket", Prefix="jobs/solve-1/checkpoints/")
    assert status == 0, capsys.readouterr().err
    local = {path.name for path in (sagemaker_root / "checkpoints" / "solve-1").iterdir()}
    uploaded = {item["Key"].rsplit("/", 1)[1] for item in listed.get("Contents", [])}
    assert local and local <= uploaded
