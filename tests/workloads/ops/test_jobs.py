"""SageMaker jobs: finding one of any kind, listing, stopping, the status report, and logs.

moto (5.2) creates every job Completed and has no StopTrainingJob or
StopHyperParameterTuningJob: running states are set in moto's backend, and the stop calls it
lacks go through botocore's Stubber.
"""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto.sagemaker.models import sagemaker_backends

from tests.workloads.ops.conftest import ACCOUNT, REGION
from tests.workloads.ops.sagemaker_samples import create_processing_job, create_training_job
from workloads.ops.errors import OpsError
from workloads.ops.jobs import (
    JOB_KINDS,
    MAX_POLL_SECONDS,
    STATUSES,
    Job,
    LogLine,
    describe_job,
    final_metrics,
    follow_logs,
    is_not_found,
    job_report,
    kinds_named,
    list_jobs,
    log_tail,
    spot_savings_percent,
    stop_job,
)

TRAINING_LOGS = "/aws/sagemaker/TrainingJobs"


def put_logs(logs: Any, stream: str, *messages: str, group: str = TRAINING_LOGS) -> None:
    if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        logs.create_log_group(logGroupName=group)
    if not logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream)["logStreams"]:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(messages)],
    )


def client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "DescribeTrainingJob")


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        ("ValidationException", "Requested resource not found.", True),
        ("ValidationException", "Could not find requested job with name x", True),
        ("ResourceNotFound", "Amazon SageMaker can't find a tuning job with name x", True),
        ("ValidationException", "1 validation error detected: Value 'x y' ...", False),
        ("AccessDeniedException", "not authorized", False),
    ],
)
def test_is_not_found_knows_each_operations_wording(
    code: str, message: str, expected: bool
) -> None:
    # when / then
    assert is_not_found(client_error(code, message)) is expected


def test_describe_job_tries_each_kind_in_turn(sagemaker: Any) -> None:
    # given only a processing job of that name
    create_processing_job(sagemaker, "mlp-dev-churn-monitor-1")
    # when
    job = describe_job(sagemaker, "mlp-dev-churn-monitor-1", kinds_named(None))
    # then
    assert job.kind.name == "processing"
    assert job.name == "mlp-dev-churn-monitor-1"
    assert job.status == "Completed"
    assert job.finished


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        (None, "no training, processing or tuning job 'absent' in us-east-1"),
        ("all", "no training, processing or tuning job 'absent' in us-east-1"),
        ("tuning", "no tuning job 'absent' in us-east-1"),
    ],
)
def test_a_missing_job_is_named_with_the_region(
    sagemaker: Any, kind: str | None, message: str
) -> None:
    # when / then
    with pytest.raises(OpsError, match=f"^{message}$"):
        describe_job(sagemaker, "absent", kinds_named(kind))


def test_describe_job_does_not_take_a_denied_call_for_a_missing_job(stub: Stubber) -> None:
    # given
    stub.add_client_error(
        "describe_training_job", "AccessDeniedException", "not authorized to DescribeTrainingJob"
    )
    # when / then
    with pytest.raises(OpsError) as raised:
        describe_job(stub.client, "mlp-dev-churn-1", kinds_named(None))
    assert str(raised.value) == (
        "Describing training job 'mlp-dev-churn-1' failed: AccessDeniedException:"
        " not authorized to DescribeTrainingJob"
    )


def test_list_jobs_merges_the_kinds_newest_first_up_to_max(sagemaker: Any) -> None:
    # given three jobs created one after the other
    create_training_job(sagemaker, "a-training")
    time.sleep(0.01)  # distinct creation times; the assertion is on order, not on time
    create_processing_job(sagemaker, "b-processing")
    time.sleep(0.01)
    create_training_job(sagemaker, "c-training")
    # when
    rows = list_jobs(sagemaker, kinds_named("all"), max_results=2)
    # then
    assert [(row["name"], row["kind"]) for row in rows] == [
        ("c-training", "training"),
        ("b-processing", "processing"),
    ]


def test_list_jobs_passes_the_filters_and_follows_pages(stub: Stubber) -> None:
    # given two pages of training jobs
    created = "2026-01-01T00:00:00Z"
    summary = {"TrainingJobStatus": "Failed", "CreationTime": created, "TrainingJobArn": "arn:x"}
    expected = {
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "StatusEquals": "Failed",
        "NameContains": "churn",
        "MaxResults": 5,
    }
    stub.add_response(
        "list_training_jobs",
        {"TrainingJobSummaries": [{"TrainingJobName": "churn-1", **summary}], "NextToken": "t"},
        expected,
    )
    stub.add_response(
        "list_training_jobs",
        {"TrainingJobSummaries": [{"TrainingJobName": "churn-2", **summary}]},
        expected | {"NextToken": "t"},
    )
    # when
    rows = list_jobs(
        stub.client, kinds_named("training"), status="Failed", name_contains="churn", max_results=5
    )
    # then
    assert [row["name"] for row in rows] == ["churn-1", "churn-2"]
    assert {row["status"] for row in rows} == {"Failed"}


def test_every_status_the_cli_offers_is_one_sagemaker_lists() -> None:
    # given the statuses of ml_platform_cli.jobs (which imports no workloads at module level)
    from ml_platform_cli.jobs import JOB_KINDS as CLI_KINDS
    from ml_platform_cli.jobs import JOB_STATUSES

    # then
    assert JOB_STATUSES == STATUSES
    assert tuple(JOB_KINDS) == CLI_KINDS


def test_stop_job_stops_a_running_training_job(stub: Stubber) -> None:
    # given
    stub.add_response("stop_training_job", {}, {"TrainingJobName": "mlp-dev-churn-1"})
    job = Job(
        JOB_KINDS["training"],
        {"TrainingJobName": "mlp-dev-churn-1", "TrainingJobStatus": "InProgress"},
    )
    # when
    stop_job(stub.client, job)
    # then the stub saw the call (the fixture fails on calls left unmade)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("Completed", "training job 'x' already Completed; nothing to stop"),
        ("Stopped", "training job 'x' already Stopped; nothing to stop"),
        ("Stopping", "training job 'x' is already stopping; nothing to stop"),
    ],
)
def test_stop_job_refuses_a_job_that_is_not_running(
    stub: Stubber, status: str, message: str
) -> None:
    # given
    job = Job(JOB_KINDS["training"], {"TrainingJobName": "x", "TrainingJobStatus": status})
    # when / then nothing is called
    with pytest.raises(OpsError, match=f"^{message}$"):
        stop_job(stub.client, job)


def test_stop_job_words_an_aws_refusal(stub: Stubber) -> None:
    # given
    stub.add_client_error("stop_processing_job", "ValidationException", "Job is not running")
    job = Job(
        JOB_KINDS["processing"], {"ProcessingJobName": "p", "ProcessingJobStatus": "InProgress"}
    )
    # when / then
    with pytest.raises(
        OpsError,
        match=r"^Stopping processing job 'p' failed: ValidationException: Job is not running$",
    ):
        stop_job(stub.client, job)


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        (
            {
                "EnableManagedSpotTraining": True,
                "TrainingTimeInSeconds": 1000,
                "BillableTimeInSeconds": 250,
            },
            75.0,
        ),
        (
            {
                "EnableManagedSpotTraining": True,
                "TrainingTimeInSeconds": 3,
                "BillableTimeInSeconds": 3,
            },
            0.0,
        ),
        ({"TrainingTimeInSeconds": 1000, "BillableTimeInSeconds": 1000}, None),
        ({"EnableManagedSpotTraining": True}, None),
    ],
)
def test_spot_savings_are_the_share_of_training_time_not_billed(
    description: dict[str, Any], expected: float | None
) -> None:
    # when / then
    assert spot_savings_percent(description) == expected


def test_the_report_of_a_training_job(sagemaker: Any) -> None:
    # given a spot job that trained 600 s and was billed 240 s
    create_training_job(sagemaker, "mlp-dev-churn-1", EnableManagedSpotTraining=True)
    backend_job = sagemaker_backends[ACCOUNT][REGION].training_jobs["mlp-dev-churn-1"]
    backend_job.training_time_in_seconds, backend_job.billable_time_in_seconds = 600, 240
    # when
    report = job_report(describe_job(sagemaker, "mlp-dev-churn-1", kinds_named("training")))
    # then
    assert report["arn"] == f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/mlp-dev-churn-1"
    assert (report["status"], report["secondary_status"]) == ("Completed", "Completed")
    assert (report["training_seconds"], report["billable_seconds"]) == (600, 240)
    assert report["spot_savings_percent"] == 60.0
    assert report["final_metrics"] == {"train:progress": 100.0}
    assert report["started"] is not None and report["ended"] is not None


def test_the_report_of_a_tuning_job_names_its_best_training_job() -> None:
    # given
    job = Job(
        JOB_KINDS["tuning"],
        {
            "HyperParameterTuningJobName": "pipelines-x1",
            "HyperParameterTuningJobArn": "arn:tuning",
            "HyperParameterTuningJobStatus": "Completed",
            "TrainingJobStatusCounters": {"Completed": 6, "Failed": 0},
            "BestTrainingJob": {
                "TrainingJobName": "pipelines-x1-003-abcdef12",
                "FinalHyperParameterTuningJobObjectiveMetric": {
                    "MetricName": "validation:auc",
                    "Value": 0.91,
                },
            },
            "ConsumedResources": {"RuntimeInSeconds": 1234},
        },
    )
    # when
    report = job_report(job)
    # then
    assert report["arn"] == "arn:tuning"
    assert report["best_training_job"] == "pipelines-x1-003-abcdef12"
    assert report["training_jobs"] == {"Completed": 6, "Failed": 0}
    assert report["runtime_seconds"] == 1234
    assert final_metrics(job) == {"validation:auc": 0.91}


def test_a_log_tail_reads_only_what_is_new_and_finds_new_streams(aws: None) -> None:
    # given
    logs = boto3.client("logs", region_name=REGION)
    job = Job(JOB_KINDS["training"], {"TrainingJobName": "job", "TrainingJobStatus": "InProgress"})
    put_logs(logs, "job/algo-1-1", "one", "two")
    put_logs(logs, "job-2/algo-1-1", "another job's line")
    tail = log_tail(logs, job)
    # when
    first = tail.read()
    put_logs(logs, "job/algo-1-1", "three")
    put_logs(logs, "job/algo-2-1", "second host")
    second = tail.read()
    third = tail.read()
    # then
    assert [(line.stream, line.message) for line in first] == [
        ("job/algo-1-1", "one"),
        ("job/algo-1-1", "two"),
    ]
    assert [(line.stream, line.message) for line in second] == [
        ("job/algo-1-1", "three"),
        ("job/algo-2-1", "second host"),
    ]
    assert third == []


def test_a_log_tail_before_any_job_logged_is_empty(aws: None) -> None:
    # given no log group at all
    logs = boto3.client("logs", region_name=REGION)
    job = Job(
        JOB_KINDS["processing"], {"ProcessingJobName": "p", "ProcessingJobStatus": "InProgress"}
    )
    # when / then
    assert log_tail(logs, job).read() == []


def test_a_tuning_jobs_logs_are_its_training_jobs(aws: None) -> None:
    # given
    logs = boto3.client("logs", region_name=REGION)
    job = Job(
        JOB_KINDS["tuning"],
        {
            "HyperParameterTuningJobName": "pipelines-x1",
            "HyperParameterTuningJobStatus": "InProgress",
        },
    )
    put_logs(logs, "pipelines-x1-001-abcdef12/algo-1-1", "trial 1")
    put_logs(logs, "pipelines-x1-002-bcdef123/algo-1-1", "trial 2")
    # when
    lines = log_tail(logs, job).read()
    # then
    assert [line.message for line in lines] == ["trial 1", "trial 2"]


def test_follow_polls_until_the_job_ends_then_drains(sagemaker: Any) -> None:
    # given a running job that logs one line per pause and ends after the second
    logs = boto3.client("logs", region_name=REGION)
    create_training_job(sagemaker, "job")
    backend_job = sagemaker_backends[ACCOUNT][REGION].training_jobs["job"]
    backend_job.training_job_status = "InProgress"
    put_logs(logs, "job/algo-1-1", "started")
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        put_logs(logs, "job/algo-1-1", f"after pause {len(pauses)}")
        if len(pauses) == 2:
            backend_job.training_job_status = "Failed"

    printed: list[LogLine] = []
    job = describe_job(sagemaker, "job", kinds_named("training"))
    # when
    last = follow_logs(
        sagemaker, logs, job, printed.append, follow=True, poll_seconds=999, sleep=pause
    )
    # then every line once, the last one logged after the job was seen to end
    assert [line.message for line in printed] == [
        "started",
        "after pause 1",
        "after pause 2",
        "after pause 3",
    ]
    assert last.status == "Failed"
    assert pauses == [MAX_POLL_SECONDS] * 3


def test_without_follow_the_logs_are_read_once(sagemaker: Any) -> None:
    # given a running job
    logs = boto3.client("logs", region_name=REGION)
    create_training_job(sagemaker, "job")
    sagemaker_backends[ACCOUNT][REGION].training_jobs["job"].training_job_status = "InProgress"
    put_logs(logs, "job/algo-1-1", "started")
    printed: list[LogLine] = []

    def no_pause(seconds: float) -> None:
        raise AssertionError("slept without --follow")

    # when
    last = follow_logs(
        sagemaker,
        logs,
        describe_job(sagemaker, "job", kinds_named(None)),
        printed.append,
        sleep=no_pause,
    )
    # then
    assert [line.message for line in printed] == ["started"]
    assert last.status == "InProgress"
