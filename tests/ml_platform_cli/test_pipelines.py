"""``ml-platform pipelines``: start, status and list, run as a subprocess against a moto server.

moto 5.2 has no ListPipelineExecutionSteps: a status with its steps is tested in-process with
botocore's Stubber (the last tests here); the subprocess tests cover everything before that call.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ml_platform_cli.main import main
from tests.ml_platform_cli.aws_server import REGION
from tests.ml_platform_cli.cli_runner import ROOT, run_cli
from tests.ml_platform_cli.jobs_server import MotoServer, moto_server
from tests.workloads.dummy_credentials import use_dummy_credentials
from tests.workloads.ops.sagemaker_samples import create_pipeline

__all__ = ["moto_server"]  # a fixture, imported for pytest

EXECUTION = f"arn:aws:sagemaker:{REGION}:123456789012:pipeline/mlp-dev-churn/execution/abc123"


@pytest.mark.parametrize("command", ["start", "status", "list"])
def test_each_command_has_help_with_examples(command: str) -> None:
    # when
    run = run_cli("pipelines", command, "--help")
    # then
    assert run.exit_code == 0
    assert "\n  Examples:\n    ml-platform pipelines " in run.stdout


def test_start_resolves_the_name_and_passes_the_parameters(moto_server: MotoServer) -> None:
    # given
    sagemaker = moto_server.client("sagemaker")
    create_pipeline(
        sagemaker, "mlp-dev-churn", {"TrainData": "s3://a/", "ValidationData": "s3://b/"}
    )
    # when
    run = run_cli(
        "pipelines", "start", "churn", "--stack", "dev", "-p", "TrainData=s3://c/train/",
        "--display-name", "rerun-1", "--json", env=moto_server.environment,
    )  # fmt: skip
    # then
    assert run.exit_code == 0, run.stderr
    result = run.json()
    assert result["pipeline"] == "mlp-dev-churn"
    assert result["execution"].startswith(
        f"arn:aws:sagemaker:{REGION}:123456789012:pipeline/mlp-dev-churn/execution/"
    )
    parameters = sagemaker.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=result["execution"]
    )["PipelineParameters"]
    assert parameters == [{"Name": "TrainData", "Value": "s3://c/train/"}]
    described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=result["execution"])
    assert described["PipelineExecutionDisplayName"] == "rerun-1"


def test_start_and_wait_prints_the_arn_and_the_final_status(moto_server: MotoServer) -> None:
    # given
    create_pipeline(moto_server.client("sagemaker"), "mlp-dev-churn-monitor")
    # when
    run = run_cli(
        "pipelines", "start", "churn-monitor", "--stack", "dev", "--wait", "--poll-seconds", "0",
        env=moto_server.environment,
    )  # fmt: skip
    # then
    assert run.exit_code == 0, run.stderr
    assert run.stdout.startswith(
        f"arn:aws:sagemaker:{REGION}:123456789012:pipeline/mlp-dev-churn-monitor/execution/"
    )
    assert run.stderr == "mlp-dev-churn-monitor: Succeeded\n"


def test_start_refuses_a_parameter_the_pipeline_does_not_declare(moto_server: MotoServer) -> None:
    # given
    sagemaker = moto_server.client("sagemaker")
    create_pipeline(sagemaker, "mlp-dev-churn", {"TrainData": "s3://a/"})
    # when
    run = run_cli(
        "pipelines", "start", "churn", "--stack", "dev", "-p", "TrainDate=s3://c/",
        env=moto_server.environment,
    )  # fmt: skip
    # then nothing started
    assert run.exit_code == 2
    assert run.stderr == (
        "ml-platform: error: pipeline 'mlp-dev-churn' has no parameter 'TrainDate'"
        " (it has: TrainData)\n"
    )
    summaries = sagemaker.list_pipeline_executions(PipelineName="mlp-dev-churn")
    assert summaries["PipelineExecutionSummaries"] == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["-p", "TrainData"], "--parameter 'TrainData' is not KEY=VALUE"),
        (["-p", "A=1", "-p", "A=2"], "--parameter 'A' is given twice"),
        (
            ["--display-name", "re run"],
            "--display-name 're run' must be 1-82 letters, digits and inner hyphens",
        ),
    ],
)
def test_start_refuses_bad_values_before_calling_aws(arguments: list[str], message: str) -> None:
    # when
    run = run_cli("pipelines", "start", "mlp-dev-churn", *arguments)
    # then
    assert run.exit_code == 2
    assert run.stderr == f"ml-platform: error: {message}\n"


def test_start_a_missing_pipeline_names_it_and_the_region(moto_server: MotoServer) -> None:
    # when
    run = run_cli("pipelines", "start", "fraud", "--stack", "dev", env=moto_server.environment)
    # then
    assert run.exit_code == 1
    assert run.stderr == "ml-platform: error: pipeline 'mlp-dev-fraud' not found in us-east-1\n"


def test_status_of_a_pipeline_never_run(moto_server: MotoServer) -> None:
    # given
    create_pipeline(moto_server.client("sagemaker"), "mlp-dev-churn")
    # when
    run = run_cli("pipelines", "status", "churn", "--stack", "dev", env=moto_server.environment)
    # then
    assert run.exit_code == 1
    assert (
        run.stderr
        == "ml-platform: error: pipeline 'mlp-dev-churn' has no executions in us-east-1\n"
    )


def test_status_of_a_missing_pipeline_names_it_and_the_region(moto_server: MotoServer) -> None:
    # when
    run = run_cli(
        "pipelines",
        "status",
        "mlp-prod-fraud",
        "--region",
        "eu-west-1",
        env=moto_server.environment,
    )
    # then
    assert run.exit_code == 1
    assert run.stderr == "ml-platform: error: pipeline 'mlp-prod-fraud' not found in eu-west-1\n"


def test_status_refuses_an_execution_of_another_pipeline() -> None:
    # when
    run = run_cli(
        "pipelines", "status", "mlp-dev-churn-monitor", "--execution", EXECUTION,
        "--region", REGION,
    )  # fmt: skip
    # then
    assert run.exit_code == 1
    assert run.stderr == (
        f"ml-platform: error: execution '{EXECUTION}' belongs to pipeline 'mlp-dev-churn',"
        " not 'mlp-dev-churn-monitor'\n"
    )


def test_list_shows_the_stacks_pipelines_and_their_latest_execution(
    moto_server: MotoServer,
) -> None:
    # given the training pipeline is deployed and has run; the monitor is not deployed
    sagemaker = moto_server.client("sagemaker")
    create_pipeline(sagemaker, "mlp-dev-churn")
    arn = sagemaker.start_pipeline_execution(PipelineName="mlp-dev-churn")["PipelineExecutionArn"]
    # when
    run = run_cli("pipelines", "list", "--stack", "dev", "--json", env=moto_server.environment)
    # then
    assert run.exit_code == 0, run.stderr
    rows = run.json()
    assert [(row["name"], row["kinds"], row["started_by"], row["deployed"]) for row in rows] == [
        ("mlp-dev-churn", ["training", "retrain"], ["drift on endpoint mlp-dev-churn"], True),
        ("mlp-dev-churn-monitor", ["drift monitor"], ["schedule rate(1 day)"], False),
        ("mlp-dev-opt-routing", ["optimization"], [], False),
    ]
    assert rows[0]["latest_execution"]["arn"] == arn
    assert rows[0]["latest_execution"]["status"] == "Succeeded"
    assert rows[1]["latest_execution"] is None


def test_list_for_people_says_what_is_not_deployed(moto_server: MotoServer) -> None:
    # when
    run = run_cli("pipelines", "list", "--stack", "prod", env=moto_server.environment)
    # then
    assert run.exit_code == 0, run.stderr
    assert run.stdout.split()[0] == "pipeline"
    assert run.stdout.count("not deployed") == 5  # 2 drift monitors, training, 2 optimization


def test_list_needs_a_stack() -> None:
    # when
    run = run_cli("pipelines", "list")
    # then
    assert run.exit_code == 2
    assert run.stderr == (
        "ml-platform: error: pipelines list needs --stack or --stack-file: the pipelines come"
        " from the stack's config\n"
    )


@pytest.fixture
def stubbed_sagemaker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Stubber:
    """Every SageMaker client the command makes is this stubbed one (moto lacks the call)."""
    use_dummy_credentials(monkeypatch, tmp_path, REGION)
    monkeypatch.chdir(ROOT)
    client = boto3.client("sagemaker", region_name=REGION)
    monkeypatch.setattr(boto3.Session, "client", lambda _session, _service, **_: client)
    return Stubber(client)


def _stub_failed_execution(stub: Stubber) -> None:
    started = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
    stub.add_response(
        "list_pipeline_executions",
        {
            "PipelineExecutionSummaries": [
                {
                    "PipelineExecutionArn": EXECUTION,
                    "StartTime": started,
                    "PipelineExecutionStatus": "Failed",
                }
            ]
        },
        {
            "PipelineName": "mlp-dev-churn",
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
            "MaxResults": 1,
        },
    )
    stub.add_response(
        "describe_pipeline_execution",
        {
            "PipelineExecutionArn": EXECUTION,
            "PipelineExecutionStatus": "Failed",
            "FailureReason": "Step Evaluate failed",
            "CreationTime": started,
            "LastModifiedTime": started,
        },
        {"PipelineExecutionArn": EXECUTION},
    )
    stub.add_response(
        "list_pipeline_execution_steps",
        {
            "PipelineExecutionSteps": [
                {
                    "StepName": "Tune",
                    "StepStatus": "Succeeded",
                    "StartTime": started,
                    "Metadata": {
                        "TuningJob": {
                            "Arn": f"arn:aws:sagemaker:{REGION}:123456789012:"
                            "hyper-parameter-tuning-job/pipelines-x1"
                        }
                    },
                },
                {
                    "StepName": "Evaluate",
                    "StepStatus": "Failed",
                    "StartTime": started,
                    "FailureReason": "ClientError: [metric] AUC 0.71 below 0.80 [/x]",
                    "Metadata": {
                        "ProcessingJob": {
                            "Arn": f"arn:aws:sagemaker:{REGION}:123456789012:"
                            "processing-job/mlp-dev-churn-abc123-evaluate"
                        }
                    },
                },
            ]
        },
        {"PipelineExecutionArn": EXECUTION, "SortOrder": "Ascending"},
    )


def test_status_lists_each_steps_status_job_and_failure_in_process(
    stubbed_sagemaker: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    # given
    _stub_failed_execution(stubbed_sagemaker)
    # when
    with stubbed_sagemaker:
        code = main(["pipelines", "status", "churn", "--stack", "dev", "--json"])
    # then
    assert code == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert report["status"] == "Failed"
    assert report["failure_reason"] == "Step Evaluate failed"
    assert [
        (step["name"], step["status"], step["job_kind"], step["job"], step["failure_reason"])
        for step in report["steps"]
    ] == [
        ("Tune", "Succeeded", "tuning", "pipelines-x1", None),
        (
            "Evaluate",
            "Failed",
            "processing",
            "mlp-dev-churn-abc123-evaluate",
            "ClientError: [metric] AUC 0.71 below 0.80 [/x]",
        ),
    ]
    stubbed_sagemaker.assert_no_pending_responses()


def test_status_for_people_shows_the_failed_step_in_process(
    stubbed_sagemaker: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    # given
    _stub_failed_execution(stubbed_sagemaker)
    # when
    with stubbed_sagemaker:
        code = main(["pipelines", "status", "churn", "--stack", "dev"])
    # then
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"mlp-dev-churn: Failed\nexecution {EXECUTION}\n")
    assert "started 2026-01-31 12:00:00, last change 2026-01-31 12:00:00\n" in out
    assert out.endswith(
        "failure: Step Evaluate failed\n"
        "steps:\n"
        "  Tune: Succeeded (2026-01-31 12:00:00 to -), tuning job pipelines-x1\n"
        "  Evaluate: Failed (2026-01-31 12:00:00 to -), processing job"
        " mlp-dev-churn-abc123-evaluate, failed: ClientError: [metric] AUC 0.71 below 0.80 [/x]\n"
    )
