"""``ml-platform jobs``: list, status, logs and stop, run as a subprocess against a moto server.

moto 5.2 has no StopTrainingJob and no StopHyperParameterTuningJob: stopping those kinds is tested
in-process with botocore's Stubber (tests/workloads/ops/test_jobs.py and the last tests here).
"""

from __future__ import annotations

import selectors
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ml_platform_cli.main import main
from tests.ml_platform_cli.aws_server import REGION
from tests.ml_platform_cli.cli_runner import ROOT, run_cli
from tests.ml_platform_cli.jobs_server import (
    PROCESSING_LOGS,
    TRAINING_LOGS,
    MotoServer,
    moto_server,
    put_logs,
)
from tests.workloads.dummy_credentials import use_dummy_credentials
from tests.workloads.ops.sagemaker_samples import (
    create_processing_job,
    create_training_job,
    create_tuning_job,
)

__all__ = ["moto_server"]  # a fixture, imported for pytest


@pytest.mark.parametrize("command", ["list", "status", "logs", "stop"])
def test_each_command_has_help_with_examples(command: str) -> None:
    # when
    run = run_cli("jobs", command, "--help")
    # then
    assert run.exit_code == 0
    assert "\n  Examples:\n    ml-platform jobs " in run.stdout


def test_list_prints_the_jobs_of_every_kind_as_json(moto_server: MotoServer) -> None:
    # given
    sagemaker = moto_server.client("sagemaker")
    create_training_job(sagemaker, "mlp-dev-churn-1")
    create_processing_job(sagemaker, "mlp-dev-churn-monitor-1")
    # when
    run = run_cli("jobs", "list", "--stack", "dev", "--json", env=moto_server.environment)
    # then
    assert run.exit_code == 0, run.stderr
    rows = {row["name"]: row for row in run.json()}
    assert set(rows) == {"mlp-dev-churn-1", "mlp-dev-churn-monitor-1"}
    assert rows["mlp-dev-churn-1"]["kind"] == "training"
    assert rows["mlp-dev-churn-monitor-1"]["kind"] == "processing"
    assert rows["mlp-dev-churn-1"]["status"] == "Completed"


def test_list_filters_by_kind_and_name(moto_server: MotoServer) -> None:
    # given
    sagemaker = moto_server.client("sagemaker")
    create_training_job(sagemaker, "mlp-dev-churn-1")
    create_training_job(sagemaker, "mlp-dev-fraud-1")
    create_processing_job(sagemaker, "mlp-dev-churn-monitor-1")
    # when
    run = run_cli(
        "jobs",
        "list",
        "--kind",
        "training",
        "--name-contains",
        "churn",
        "--region",
        REGION,
        "--json",
        env=moto_server.environment,
    )
    # then
    assert run.exit_code == 0, run.stderr
    assert [row["name"] for row in run.json()] == ["mlp-dev-churn-1"]


def test_list_without_jobs_says_so_for_people(moto_server: MotoServer) -> None:
    # when
    run = run_cli("jobs", "list", "--stack", "dev", env=moto_server.environment)
    # then
    assert run.exit_code == 0, run.stderr
    assert run.stdout == "no jobs found in us-east-1\n"


def test_list_refuses_an_unknown_status() -> None:
    # when
    run = run_cli("jobs", "list", "--status", "Running")
    # then
    assert run.exit_code == 2
    assert run.stderr == (
        "ml-platform: error: Invalid value for '--status': 'Running' is not one of"
        " 'InProgress', 'Completed', 'Failed', 'Stopping', 'Stopped'."
        " (see `ml-platform jobs list --help`)\n"
    )


def test_status_shows_times_metrics_and_spot_fields(moto_server: MotoServer) -> None:
    # given
    create_training_job(moto_server.client("sagemaker"), "mlp-dev-churn-1", spot=True)
    job = moto_server.sagemaker_backend().training_jobs["mlp-dev-churn-1"]
    job.training_time_in_seconds, job.billable_time_in_seconds = 1000, 300
    # when
    run = run_cli(
        "jobs", "status", "churn-1", "--stack", "dev", "--json", env=moto_server.environment
    )
    # then
    assert run.exit_code == 0, run.stderr
    report = run.json()
    assert report["name"] == "mlp-dev-churn-1"
    assert report["kind"] == "training"
    assert report["status"] == "Completed"
    assert report["secondary_status"] == "Completed"
    assert report["billable_seconds"] == 300
    assert report["spot_savings_percent"] == 70.0
    assert report["final_metrics"] == {"train:progress": 100.0}
    assert report["failure_reason"] is None


def test_status_of_a_processing_job_with_its_kind(moto_server: MotoServer) -> None:
    # given
    create_processing_job(moto_server.client("sagemaker"), "mlp-dev-churn-monitor-1")
    # when
    run = run_cli(
        "jobs",
        "status",
        "mlp-dev-churn-monitor-1",
        "--kind",
        "processing",
        "--region",
        REGION,
        env=moto_server.environment,
    )
    # then
    assert run.exit_code == 0, run.stderr
    assert "processing job mlp-dev-churn-monitor-1" in run.stdout
    assert "Completed" in run.stdout


def test_tuning_jobs_are_listed_and_reported_with_their_best_training_job(
    moto_server: MotoServer,
) -> None:
    # given a tuning job as a pipeline's tuning step names it
    create_tuning_job(moto_server.client("sagemaker"), "pipelines-x1y2z3")
    # when
    listed = run_cli(
        "jobs", "list", "--kind", "tuning", "--stack", "dev", "--json", env=moto_server.environment
    )
    status = run_cli(
        "jobs", "status", "pipelines-x1y2z3", "--stack", "dev", "--json",
        env=moto_server.environment,
    )  # fmt: skip
    # then the generated name is not expanded
    assert listed.exit_code == 0, listed.stderr
    assert [(row["name"], row["kind"]) for row in listed.json()] == [("pipelines-x1y2z3", "tuning")]
    assert status.exit_code == 0, status.stderr
    report = status.json()
    assert (report["kind"], report["status"]) == ("tuning", "Completed")
    assert report["best_training_job"] == "FakeTrainingJobName"  # moto's
    assert report["final_metrics"] == {"Accuracy": 1.0}


def test_status_of_a_missing_job_names_the_resolved_name_and_region(
    moto_server: MotoServer,
) -> None:
    # when
    run = run_cli("jobs", "status", "churn-9", "--stack", "dev", env=moto_server.environment)
    # then
    assert run.exit_code == 1
    assert run.stderr == (
        "ml-platform: error: no training, processing or tuning job 'mlp-dev-churn-9' in us-east-1\n"
    )


def test_status_of_a_missing_job_of_one_kind(moto_server: MotoServer) -> None:
    # when
    run = run_cli(
        "jobs", "status", "pipelines-x1", "--kind", "tuning", "--stack", "dev",
        env=moto_server.environment,
    )  # fmt: skip
    # then
    assert run.exit_code == 1
    assert run.stderr == "ml-platform: error: no tuning job 'pipelines-x1' in us-east-1\n"


def test_logs_print_every_stream_of_the_job(moto_server: MotoServer) -> None:
    # given
    create_training_job(moto_server.client("sagemaker"), "mlp-dev-churn-1")
    logs = moto_server.client("logs")
    put_logs(logs, TRAINING_LOGS, "mlp-dev-churn-1/algo-1-1", ["epoch 1", "epoch 2"])
    put_logs(logs, TRAINING_LOGS, "mlp-dev-churn-1/algo-2-1", ["worker ready"])
    put_logs(logs, TRAINING_LOGS, "mlp-dev-churn-10/algo-1-1", ["another job"])
    # when
    run = run_cli("jobs", "logs", "churn-1", "--stack", "dev", env=moto_server.environment)
    # then
    assert run.exit_code == 0, run.stderr
    assert run.stdout == (
        "[mlp-dev-churn-1/algo-1-1] epoch 1\n"
        "[mlp-dev-churn-1/algo-1-1] epoch 2\n"
        "[mlp-dev-churn-1/algo-2-1] worker ready\n"
    )


def test_logs_of_a_job_that_logged_nothing_say_so_on_stderr(moto_server: MotoServer) -> None:
    # given
    create_processing_job(moto_server.client("sagemaker"), "mlp-dev-churn-monitor-1")
    # when
    run = run_cli("jobs", "logs", "churn-monitor-1", "--stack", "dev", env=moto_server.environment)
    # then
    assert run.exit_code == 0, run.stderr
    assert run.stdout == ""
    assert run.stderr == (
        "no log events for processing job 'mlp-dev-churn-monitor-1' (Completed)\n"
    )


def test_logs_since_skips_older_events(moto_server: MotoServer) -> None:
    # given
    create_processing_job(moto_server.client("sagemaker"), "mlp-dev-churn-monitor-1")
    put_logs(moto_server.client("logs"), PROCESSING_LOGS, "mlp-dev-churn-monitor-1/algo-1-1", ["x"])
    # when
    run = run_cli(
        "jobs", "logs", "churn-monitor-1", "--stack", "dev", "--since", "2999-01-01T00:00:00",
        env=moto_server.environment,
    )  # fmt: skip
    # then
    assert run.exit_code == 0, run.stderr
    assert run.stdout == ""


def test_logs_refuse_a_since_that_is_no_time() -> None:
    # when
    run = run_cli("jobs", "logs", "mlp-dev-churn-1", "--since", "yesterday")
    # then
    assert run.exit_code == 2
    assert run.stderr == (
        "ml-platform: error: Invalid value for '--since': 'yesterday' is neither a duration"
        " (30s, 15m, 2h, 1d) nor an ISO time (2026-01-31T12:00:00Z)"
        " (see `ml-platform jobs logs --help`)\n"
    )


def test_logs_follow_until_the_job_ends_and_drain_what_came_last(
    moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a running job that logs a line each time it is described and ends at the third look
    create_training_job(moto_server.client("sagemaker"), "mlp-dev-churn-1")
    backend = moto_server.sagemaker_backend()
    job = backend.training_jobs["mlp-dev-churn-1"]
    job.training_job_status = "InProgress"
    logs = moto_server.client("logs")
    put_logs(logs, TRAINING_LOGS, "mlp-dev-churn-1/algo-1-1", ["started"])
    looks = []
    describe = backend.describe_training_job

    def describe_and_progress(name: str) -> dict[str, Any]:
        looks.append(name)
        put_logs(logs, TRAINING_LOGS, "mlp-dev-churn-1/algo-1-1", [f"look {len(looks)}"])
        if len(looks) == 3:
            job.training_job_status = "Completed"
        return describe(name)

    monkeypatch.setattr(backend, "describe_training_job", describe_and_progress)
    # when
    run = run_cli(
        "jobs", "logs", "churn-1", "--stack", "dev", "--follow", "--poll-seconds", "0.05",
        env=moto_server.environment, timeout=60,
    )  # fmt: skip
    # then every line arrives once, in order, including the one logged as it ended
    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines() == [
        f"[mlp-dev-churn-1/algo-1-1] {line}" for line in ("started", "look 1", "look 2", "look 3")
    ]
    assert len(looks) == 3


def test_logs_follow_a_job_that_fails_exits_1_with_its_reason(
    moto_server: MotoServer,
) -> None:
    # given
    create_training_job(moto_server.client("sagemaker"), "mlp-dev-churn-1")
    job = moto_server.sagemaker_backend().training_jobs["mlp-dev-churn-1"]
    job.training_job_status = "Failed"
    job.failure_reason = "AlgorithmError: out of memory"
    put_logs(moto_server.client("logs"), TRAINING_LOGS, "mlp-dev-churn-1/algo-1-1", ["oom"])
    # when
    run = run_cli(
        "jobs", "logs", "churn-1", "--stack", "dev", "--follow", "--poll-seconds", "0",
        env=moto_server.environment,
    )  # fmt: skip
    # then
    assert run.exit_code == 1
    assert run.stdout == "[mlp-dev-churn-1/algo-1-1] oom\n"
    assert run.stderr == (
        "ml-platform: error: training job 'mlp-dev-churn-1' Failed: AlgorithmError: out of memory\n"
    )


def test_logs_follow_ends_on_ctrl_c_with_exit_130(moto_server: MotoServer) -> None:
    # given a job that never ends
    create_training_job(moto_server.client("sagemaker"), "mlp-dev-churn-1")
    job = moto_server.sagemaker_backend().training_jobs["mlp-dev-churn-1"]
    job.training_job_status = "InProgress"
    put_logs(moto_server.client("logs"), TRAINING_LOGS, "mlp-dev-churn-1/algo-1-1", ["started"])
    environment = moto_server.environment | {"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ml_platform_cli",
            "jobs",
            "logs",
            "churn-1",
            "--stack",
            "dev",
            "--follow",
            "--poll-seconds",
            "0.1",
        ],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # when its first line is out (a bounded wait), it gets SIGINT as from Ctrl-C
        assert child.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(child.stdout, selectors.EVENT_READ)
            assert selector.select(timeout=60), "no output from jobs logs --follow"
        first = child.stdout.readline()
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
    # then
    assert first == "[mlp-dev-churn-1/algo-1-1] started\n"
    assert child.returncode == 130
    # click ends the ^C line with a newline on stderr before the one-line error
    assert stderr == "\nml-platform: error: interrupted\n"
    assert stdout == ""


def test_stop_a_running_processing_job(moto_server: MotoServer) -> None:
    # given
    create_processing_job(moto_server.client("sagemaker"), "mlp-dev-churn-monitor-1")
    job = moto_server.sagemaker_backend().processing_jobs["mlp-dev-churn-monitor-1"]
    job.processing_job_status = "InProgress"
    # when
    run = run_cli("jobs", "stop", "churn-monitor-1", "--stack", "dev", env=moto_server.environment)
    # then
    assert run.exit_code == 0, run.stderr
    assert run.stdout == "stopping processing job 'mlp-dev-churn-monitor-1' (was InProgress)\n"
    assert job.processing_job_status == "Stopped"


def test_stop_a_finished_job_is_one_line_exit_1(moto_server: MotoServer) -> None:
    # given
    create_training_job(moto_server.client("sagemaker"), "mlp-dev-churn-1")
    # when
    run = run_cli("jobs", "stop", "churn-1", "--stack", "dev", env=moto_server.environment)
    # then
    assert run.exit_code == 1
    assert run.stderr == (
        "ml-platform: error: training job 'mlp-dev-churn-1' already Completed; nothing to stop\n"
    )


def test_stop_a_missing_job_names_it_and_the_region(moto_server: MotoServer) -> None:
    # when
    run = run_cli("jobs", "stop", "mlp-dev-x", "--region", "eu-west-1", env=moto_server.environment)
    # then
    assert run.exit_code == 1
    assert run.stderr == (
        "ml-platform: error: no training, processing or tuning job 'mlp-dev-x' in eu-west-1\n"
    )


@pytest.fixture
def stubbed_sagemaker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Stubber:
    """Every SageMaker client the command makes is this stubbed one (moto lacks the call)."""
    use_dummy_credentials(monkeypatch, tmp_path, REGION)
    client = boto3.client("sagemaker", region_name=REGION)
    monkeypatch.setattr(boto3.Session, "client", lambda _session, _service, **_: client)
    return Stubber(client)


def test_stop_a_running_training_job_in_process(
    stubbed_sagemaker: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    # given
    stubbed_sagemaker.add_response(
        "describe_training_job",
        _training("mlp-dev-churn-1", "InProgress"),
        {"TrainingJobName": "mlp-dev-churn-1"},
    )
    stubbed_sagemaker.add_response("stop_training_job", {}, {"TrainingJobName": "mlp-dev-churn-1"})
    # when
    with stubbed_sagemaker:
        code = main(["jobs", "stop", "mlp-dev-churn-1"])
    # then
    assert code == 0
    assert capsys.readouterr().out == "stopping training job 'mlp-dev-churn-1' (was InProgress)\n"
    stubbed_sagemaker.assert_no_pending_responses()


def test_stop_a_running_tuning_job_in_process(
    stubbed_sagemaker: Stubber, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    monkeypatch.chdir(ROOT)
    name = {"HyperParameterTuningJobName": "pipelines-x1"}
    stubbed_sagemaker.add_response(
        "describe_hyper_parameter_tuning_job", _tuning("pipelines-x1", "InProgress"), name
    )
    stubbed_sagemaker.add_response("stop_hyper_parameter_tuning_job", {}, name)
    # when
    with stubbed_sagemaker:
        code = main(["jobs", "stop", "pipelines-x1", "--kind", "tuning", "--stack", "dev"])
    # then
    assert code == 0
    assert capsys.readouterr().out == "stopping tuning job 'pipelines-x1' (was InProgress)\n"
    stubbed_sagemaker.assert_no_pending_responses()


def _training(name: str, status: str) -> dict[str, Any]:
    from datetime import UTC, datetime

    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:{REGION}:123456789012:training-job/{name}",
        "ModelArtifacts": {"S3ModelArtifacts": "s3://models/out/model.tar.gz"},
        "TrainingJobStatus": status,
        "SecondaryStatus": "Training",
        "AlgorithmSpecification": {"TrainingInputMode": "File"},
        "ResourceConfig": {"VolumeSizeInGB": 10},
        "StoppingCondition": {},
        "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
    }


def _tuning(name: str, status: str) -> dict[str, Any]:
    from datetime import UTC, datetime

    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobArn": (
            f"arn:aws:sagemaker:{REGION}:123456789012:hyper-parameter-tuning-job/{name}"
        ),
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "ResourceLimits": {"MaxParallelTrainingJobs": 2},
        },
        "HyperParameterTuningJobStatus": status,
        "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
        "TrainingJobStatusCounters": {},
        "ObjectiveStatusCounters": {},
    }


def test_status_for_people_prints_aws_text_as_is(moto_server: MotoServer) -> None:
    # given a failure reason that looks like rich markup
    create_training_job(moto_server.client("sagemaker"), "mlp-dev-churn-1")
    job = moto_server.sagemaker_backend().training_jobs["mlp-dev-churn-1"]
    job.training_job_status = "Failed"
    job.failure_reason = "AlgorithmError: [Errno 12] [/x]"
    # when
    run = run_cli("jobs", "status", "churn-1", "--stack", "dev", env=moto_server.environment)
    # then
    assert run.exit_code == 0, run.stderr
    assert "│ AlgorithmError: [Errno 12] [/x]" in run.stdout
