"""SageMaker pipelines: a stack's pipelines, starting, the latest execution, steps, waiting.

moto (5.2) has no ListPipelineExecutionSteps and finishes every execution at once (Succeeded):
steps and the statuses before the end go through botocore's Stubber.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.stub import Stubber

from tests.workloads.ops.conftest import ACCOUNT, REGION
from tests.workloads.ops.sagemaker_samples import create_pipeline
from workloads.ops.errors import OpsError
from workloads.ops.pipelines import (
    MAX_POLL_SECONDS,
    PipelineNotFound,
    StackPipeline,
    describe_execution,
    describe_pipeline,
    execution_report,
    execution_steps,
    latest_execution,
    parameter_names,
    pipeline_of_execution,
    stack_pipelines,
    start_execution,
    wait_for_execution,
)

ROOT = Path(__file__).resolve().parents[3]
EXECUTION = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/mlp-dev-churn/execution/abc123"
STARTED = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def stack_config(stack: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


def test_the_dev_stacks_pipelines() -> None:
    # when
    pipelines = stack_pipelines(stack_config("dev"), "dev")
    # then
    assert pipelines == [
        StackPipeline(
            "mlp-dev-churn", ("training", "retrain"), ("drift on endpoint mlp-dev-churn",)
        ),
        StackPipeline("mlp-dev-churn-monitor", ("drift monitor",), ("schedule rate(1 day)",)),
        StackPipeline("mlp-dev-opt-routing", ("optimization",), ()),
    ]


def test_the_prod_stacks_pipelines_are_the_ones_its_plan_creates() -> None:
    # given the SageMaker pipelines `make plan STACK=prod` lists (aws:sagemaker/pipeline:Pipeline)
    planned = {
        "mlp-prod-fraud",
        "mlp-prod-churn-monitor",
        "mlp-prod-fraud-monitor",
        "mlp-prod-opt-delivery-routes",
        "mlp-prod-opt-machine-schedule",
    }
    # when
    names = {pipeline.name for pipeline in stack_pipelines(stack_config("prod"), "prod")}
    # then
    assert names == planned


def test_a_retrain_schedule_and_another_pipeline_are_read() -> None:
    # given
    config = {
        "ml-platform:training": {"pipelines": [{"name": "churn"}, {"algorithm": "no name"}]},
        "ml-platform:monitoring": {
            "endpoints": [
                {
                    "endpoint": "scoring",
                    "schedule": "rate(6 hours)",
                    "retrain_pipeline": "churn",
                    "retrain_schedule": "rate(7 days)",
                }
            ]
        },
    }
    # when
    pipelines = stack_pipelines(config, "qa")
    # then
    assert pipelines == [
        StackPipeline("mlp-qa-churn", ("training", "retrain"), ("schedule rate(7 days)",)),
        StackPipeline("mlp-qa-scoring-monitor", ("drift monitor",), ("schedule rate(6 hours)",)),
    ]


def test_sections_of_the_wrong_shape_are_skipped() -> None:
    # when / then
    assert (
        stack_pipelines({"ml-platform:training": ["x"], "ml-platform:monitoring": 3}, "dev") == []
    )


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        (
            json.dumps({"Parameters": [{"Name": "TrainData"}, {"Name": "TestData"}]}),
            ["TrainData", "TestData"],
        ),
        (json.dumps({"Steps": []}), []),
        ("not json", None),
        (json.dumps(["a list"]), None),
    ],
)
def test_parameter_names_read_the_definition(definition: str, expected: list[str] | None) -> None:
    # when / then
    assert parameter_names({"PipelineDefinition": definition}) == expected


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (EXECUTION, "mlp-dev-churn"),
        (f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/mlp-dev-churn", None),
        ("abc123", None),
    ],
)
def test_the_pipeline_of_an_execution_arn(arn: str, expected: str | None) -> None:
    # when / then
    assert pipeline_of_execution(arn) == expected


def test_a_missing_pipeline_is_named_with_the_region(sagemaker: Any) -> None:
    # when / then
    with pytest.raises(PipelineNotFound, match=r"^pipeline 'mlp-dev-x' not found in us-east-1$"):
        describe_pipeline(sagemaker, "mlp-dev-x")
    with pytest.raises(PipelineNotFound, match=r"^pipeline 'mlp-dev-x' not found in us-east-1$"):
        latest_execution(sagemaker, "mlp-dev-x")


def test_start_then_latest_execution(sagemaker: Any) -> None:
    # given
    create_pipeline(sagemaker, "mlp-dev-churn", {"TrainData": "s3://a/"})
    assert latest_execution(sagemaker, "mlp-dev-churn") is None
    # when
    arn = start_execution(sagemaker, "mlp-dev-churn", {"TrainData": "s3://b/"}, "rerun")
    # then
    latest = latest_execution(sagemaker, "mlp-dev-churn")
    assert latest is not None and latest["PipelineExecutionArn"] == arn
    assert sagemaker.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)[
        "PipelineParameters"
    ] == [{"Name": "TrainData", "Value": "s3://b/"}]


def test_the_latest_execution_is_the_newest_whatever_the_order(stub: Stubber) -> None:
    # given a response in oldest-first order (as moto gives it)
    older = {"PipelineExecutionArn": "arn:old", "StartTime": datetime(2026, 1, 1, tzinfo=UTC)}
    newer = {"PipelineExecutionArn": "arn:new", "StartTime": datetime(2026, 1, 2, tzinfo=UTC)}
    stub.add_response("list_pipeline_executions", {"PipelineExecutionSummaries": [older, newer]})
    # when
    latest = latest_execution(stub.client, "mlp-dev-churn")
    # then
    assert latest is not None and latest["PipelineExecutionArn"] == "arn:new"


def test_describe_execution_refuses_another_pipelines_arn(stub: Stubber) -> None:
    # when / then nothing is called
    with pytest.raises(
        OpsError,
        match=f"^execution '{EXECUTION}' belongs to pipeline 'mlp-dev-churn', not 'mlp-dev-fraud'$",
    ):
        describe_execution(stub.client, "mlp-dev-fraud", EXECUTION)
    with pytest.raises(OpsError, match=r"^'abc' is not a pipeline execution ARN$"):
        describe_execution(stub.client, "mlp-dev-fraud", "abc")


def test_a_missing_execution_is_named_with_the_region(sagemaker: Any) -> None:
    # given
    create_pipeline(sagemaker, "mlp-dev-churn")
    # when / then
    with pytest.raises(OpsError) as raised:
        describe_execution(sagemaker, "mlp-dev-churn", EXECUTION)
    assert str(raised.value) == (
        f"execution '{EXECUTION}' of pipeline 'mlp-dev-churn' not found in us-east-1"
    )


def test_execution_report_without_executions(sagemaker: Any) -> None:
    # given
    create_pipeline(sagemaker, "mlp-dev-churn")
    # when / then
    with pytest.raises(
        OpsError, match=r"^pipeline 'mlp-dev-churn' has no executions in us-east-1$"
    ):
        execution_report(sagemaker, "mlp-dev-churn")


def test_execution_steps_follow_pages_and_name_each_steps_job(stub: Stubber) -> None:
    # given
    request = {"PipelineExecutionArn": EXECUTION, "SortOrder": "Ascending"}
    stub.add_response(
        "list_pipeline_execution_steps",
        {
            "PipelineExecutionSteps": [
                {
                    "StepName": "Train",
                    "StepStatus": "Succeeded",
                    "StartTime": STARTED,
                    "EndTime": STARTED,
                    "Metadata": {
                        "TrainingJob": {
                            "Arn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/t-1"
                        }
                    },
                }
            ],
            "NextToken": "page-2",
        },
        request,
    )
    stub.add_response(
        "list_pipeline_execution_steps",
        {
            "PipelineExecutionSteps": [
                {"StepName": "Check", "StepStatus": "Failed", "FailureReason": "below threshold"}
            ]
        },
        request | {"NextToken": "page-2"},
    )
    # when
    steps = execution_steps(stub.client, EXECUTION)
    # then
    assert steps == [
        {
            "name": "Train",
            "status": "Succeeded",
            "started": STARTED,
            "ended": STARTED,
            "failure_reason": None,
            "job_kind": "training",
            "job": "t-1",
        },
        {
            "name": "Check",
            "status": "Failed",
            "started": None,
            "ended": None,
            "failure_reason": "below threshold",
            "job_kind": None,
            "job": None,
        },
    ]


def describe_response(status: str, reason: str | None = None) -> dict[str, Any]:
    response = {
        "PipelineExecutionArn": EXECUTION,
        "PipelineExecutionStatus": status,
        "CreationTime": STARTED,
    }
    return response | ({"FailureReason": reason} if reason else {})


def test_wait_polls_until_the_execution_ends(stub: Stubber) -> None:
    # given an execution seen Executing twice, then Failed
    for response in (
        describe_response("Executing"),
        describe_response("Executing"),
        describe_response("Failed", "Step Train failed"),
    ):
        stub.add_response(
            "describe_pipeline_execution", response, {"PipelineExecutionArn": EXECUTION}
        )
    pauses: list[float] = []
    heard: list[str] = []
    # when
    final = wait_for_execution(
        stub.client,
        "mlp-dev-churn",
        EXECUTION,
        poll_seconds=600,
        on_change=heard.append,
        sleep=pauses.append,
    )
    # then
    assert final["PipelineExecutionStatus"] == "Failed"
    assert final["FailureReason"] == "Step Train failed"
    assert heard == ["Executing", "Failed"]
    assert pauses == [MAX_POLL_SECONDS, MAX_POLL_SECONDS]
