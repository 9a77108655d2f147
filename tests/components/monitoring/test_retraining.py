"""Retraining under the mock runtime: the drift alarm's rule, its target and role, the schedule.

given dev monitoring churn with retrain_on_drift, and prod monitoring churn (no retraining) and
fraud with retrain_on_drift and a weekly retrain_schedule (baselines built in a temporary folder)
/ when the program runs under the recording mock runtime / then each retraining endpoint gets an
EventBridge rule on its drift alarm's change to ALARM whose target starts exactly the training
layer's pipeline with a role that may do only that, the schedule starts the same pipeline, the
requests are ones EventBridge and Scheduler accept, and nothing is made where retraining is off.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.monitoring.retraining import TARGET_ID
from stacks.offline.mock_runtime import MOCK_ACCOUNT_ID, RecordedResource, run_offline
from stacks.offline.plan import render
from tests.components.monitoring.test_model_monitor import LAYERS, monitors, statements
from tests.conftest import STACKS, Plan, stack_config, with_section, write_baseline
from tests.iam_catalog import check_documents, policy_documents
from tests.pipeline_requests import check_schedule, schedule_request
from tests.service_models import operation, request_problems

RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
PIPELINE = "aws:sagemaker/pipeline:Pipeline"
SCHEDULE = "aws:scheduler/schedule:Schedule"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"

#: Which monitored endpoint retrains with which training pipeline, per stack.
RETRAINING = {"dev": {"churn": "churn"}, "prod": {"fraud": "fraud"}}
WEEKLY = "cron(0 3 ? * SUN *)"


def retraining_section(stack: str, baselines: Path) -> dict[str, Any]:
    churn = write_baseline(baselines / "churn")
    fraud = write_baseline(baselines / "fraud")
    if stack == "dev":
        return {
            "endpoints": [{"endpoint": "churn", "baseline": str(churn), "retrain_on_drift": True}]
        }
    return {
        "endpoints": [
            {"endpoint": "churn", "baseline": str(churn)},
            {
                "endpoint": "fraud",
                "baseline": str(fraud),
                "retrain_on_drift": True,
                "retrain_schedule": WEEKLY,
            },
        ]
    }


@pytest.fixture(scope="module")
def retraining_plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Plan]:
    baselines = tmp_path_factory.mktemp("baselines")
    plans = {}
    for stack in STACKS:
        flat = with_section(stack_config(stack), "layers", LAYERS)
        flat = with_section(flat, "monitoring", retraining_section(stack, baselines))
        plans[stack] = Plan(run_offline(stack, flat))
    return plans


@pytest.fixture(params=STACKS)
def stacked(request: pytest.FixtureRequest, retraining_plans: dict[str, Plan]) -> tuple[str, Plan]:
    """Each stack's name and plan in turn."""
    return request.param, retraining_plans[request.param]


def training_pipeline(plan: Plan, stack: str, short: str) -> RecordedResource:
    """The training layer's pipeline ``mlp-<stack>-<short>``."""
    (pipeline,) = [
        p
        for p in plan.layer("training").of_type(PIPELINE)
        if p.inputs["pipelineName"] == f"mlp-{stack}-{short}"
    ]
    return pipeline


def retrain_role(monitor: Plan) -> RecordedResource:
    (role,) = [r for r in monitor.of_type(ROLE) if r.name.endswith("-retrain")]
    return role


def test_the_rule_matches_the_drift_alarm_going_to_alarm(stacked: tuple[str, Plan]) -> None:
    stack, plan = stacked
    for short in RETRAINING[stack]:
        monitor = monitors(plan.layer("monitoring"))[short]
        (rule,) = monitor.of_type(RULE)
        (drift,) = [a for a in monitor.of_type(ALARM) if a.name.endswith(f"-{short}-drift")]
        assert rule.inputs["name"] == f"mlp-{stack}-{short}-retrain"
        assert rule.inputs["state"] == "ENABLED"
        assert "eventBusName" not in rule.inputs  # the default bus, where CloudWatch sends
        assert json.loads(rule.inputs["eventPattern"]) == {
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            "resources": [
                f"arn:aws:cloudwatch:us-east-1:{MOCK_ACCOUNT_ID}:alarm:"
                f"mlp-{stack}-{short}-monitor-drift"
            ],
            "detail": {
                "alarmName": [f"mlp-{stack}-{short}-monitor-drift"],
                "state": {"value": ["ALARM"]},
            },
        }
        assert drift.outputs["arn"] == json.loads(rule.inputs["eventPattern"])["resources"][0]


def test_the_target_starts_the_training_layers_pipeline(stacked: tuple[str, Plan]) -> None:
    stack, plan = stacked
    for short, pipeline_short in RETRAINING[stack].items():
        monitor = monitors(plan.layer("monitoring"))[short]
        (rule,) = monitor.of_type(RULE)
        (target,) = monitor.children(rule, TARGET)
        pipeline = training_pipeline(plan, stack, pipeline_short)
        inputs = target.inputs
        # the ARN built from the deterministic name is the training layer's pipeline
        assert inputs["arn"] == pipeline.outputs["arn"]
        assert inputs["rule"] == rule.outputs["name"]
        assert inputs["targetId"] == TARGET_ID
        assert inputs["roleArn"] == retrain_role(monitor).outputs["arn"]
        assert inputs["retryPolicy"] == {
            "maximumEventAgeInSeconds": 3600,
            "maximumRetryAttempts": 3,
        }
        # the pipeline runs on its parameters' defaults (its configured data)
        assert "sagemakerPipelineTarget" not in inputs
        # its role may start the pipeline before the first event arrives
        (policy,) = monitor.children(retrain_role(monitor), ROLE_POLICY)
        assert policy.urn in target.depends_on


def test_the_rules_role_may_only_start_that_pipeline(stacked: tuple[str, Plan]) -> None:
    stack, plan = stacked
    for short, pipeline_short in RETRAINING[stack].items():
        monitor = monitors(plan.layer("monitoring"))[short]
        role = retrain_role(monitor)
        assert json.loads(role.inputs["assumeRolePolicy"]) == {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": MOCK_ACCOUNT_ID},
                        "ArnLike": {
                            "aws:SourceArn": f"arn:aws:events:us-east-1:{MOCK_ACCOUNT_ID}:rule/"
                            f"mlp-{stack}-{short}-retrain"
                        },
                    },
                }
            ],
        }
        (policy,) = monitor.children(role, ROLE_POLICY)
        assert json.loads(policy.inputs["policy"]) == {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "StartThisPipeline",
                    "Effect": "Allow",
                    "Action": "sagemaker:StartPipelineExecution",
                    "Resource": training_pipeline(plan, stack, pipeline_short).outputs["arn"],
                }
            ],
        }


def test_the_retraining_policies_fit_the_iam_catalog(stacked: tuple[str, Plan]) -> None:
    plan = stacked[1]
    # given every policy of the retraining roles (rule and schedule)
    documents = [
        document
        for document in policy_documents(plan.layer("monitoring").resources)
        if "-retrain" in document.where
    ]
    assert {document.kind for document in documents} == {"inline", "trust"}
    # then each is valid against AWS's action catalog
    assert check_documents(documents) == []


def test_put_rule_and_put_targets_are_requests_eventbridge_accepts(
    stacked: tuple[str, Plan],
) -> None:
    stack, plan = stacked
    for short in RETRAINING[stack]:
        monitor = monitors(plan.layer("monitoring"))[short]
        (rule,) = monitor.of_type(RULE)
        (target,) = monitor.children(rule, TARGET)
        put_rule = {
            "Name": rule.inputs["name"],
            "EventPattern": rule.inputs["eventPattern"],
            "State": rule.inputs["state"],
            "Description": rule.inputs["description"],
        }
        assert request_problems(operation("events", "PutRule").input_shape, put_rule) == []
        retry = target.inputs["retryPolicy"]
        put_targets = {
            "Rule": target.inputs["rule"],
            "Targets": [
                {
                    "Id": target.inputs["targetId"],
                    "Arn": target.inputs["arn"],
                    "RoleArn": target.inputs["roleArn"],
                    "RetryPolicy": {
                        "MaximumEventAgeInSeconds": int(retry["maximumEventAgeInSeconds"]),
                        "MaximumRetryAttempts": int(retry["maximumRetryAttempts"]),
                    },
                }
            ],
        }
        assert request_problems(operation("events", "PutTargets").input_shape, put_targets) == []


def test_the_retraining_schedule_starts_the_same_pipeline(
    retraining_plans: dict[str, Plan],
) -> None:
    plan = retraining_plans["prod"]
    monitor = monitors(plan.layer("monitoring"))["fraud"]
    (schedule,) = [s for s in monitor.of_type(SCHEDULE) if s.name.endswith("-retrain-schedule")]
    pipeline = training_pipeline(plan, "prod", "fraud")
    inputs = schedule.inputs
    assert inputs["name"] == "mlp-prod-fraud-retrain"
    assert inputs["scheduleExpression"] == WEEKLY
    assert inputs["scheduleExpressionTimezone"] == "UTC"
    assert inputs["target"]["arn"] == pipeline.outputs["arn"]
    assert "sagemakerPipelineParameters" not in inputs["target"]
    # the CreateSchedule request and the StartPipelineExecution it makes are valid
    definitions = {
        p.inputs["pipelineName"]: json.loads(p.inputs["pipelineDefinition"])
        for p in plan.of_type(PIPELINE)
    }
    check_schedule(schedule_request(inputs), definitions)
    # its role starts that pipeline only, and decrypts only this schedule's payload
    (role,) = [r for r in monitor.of_type(ROLE) if r.name.endswith("-retrain-scheduler")]
    assert inputs["target"]["roleArn"] == role.outputs["arn"]
    (policy,) = monitor.children(role, ROLE_POLICY)
    found = statements(policy)
    assert set(found) == {"StartThisPipeline", "DecryptThisSchedule"}
    assert found["StartThisPipeline"]["Resource"] == pipeline.outputs["arn"]
    assert found["DecryptThisSchedule"]["Condition"]["StringEquals"] == {
        "kms:EncryptionContext:aws:scheduler:schedule:arn": schedule.outputs["arn"]
    }


def test_exports_and_the_plan_show_the_retrain_wiring(stacked: tuple[str, Plan]) -> None:
    stack, plan = stacked
    exported = plan.run.exports["monitoring"]["monitors"]
    expected = {
        "dev": {
            "mlp-dev-churn": {
                "pipeline_name": "mlp-dev-churn",
                "rule_name": "mlp-dev-churn-retrain",
                "schedule_name": None,
            }
        },
        "prod": {
            "mlp-prod-churn": None,
            "mlp-prod-fraud": {
                "pipeline_name": "mlp-prod-fraud",
                "rule_name": "mlp-prod-fraud-retrain",
                "schedule_name": "mlp-prod-fraud-retrain",
            },
        },
    }[stack]
    found = {
        name: None
        if monitor["retraining"] is None
        else {k: v for k, v in monitor["retraining"].items() if k != "pipeline_arn"}
        for name, monitor in exported.items()
    }
    assert found == expected
    rendered = render(plan.run)
    lines = rendered.split("retraining (what starts a training pipeline):\n", 1)[1].splitlines()
    assert (
        lines[: len(RETRAINING[stack])]
        == {
            "dev": ["  mlp-dev-churn: drift alarm (rule mlp-dev-churn-retrain) -> mlp-dev-churn"],
            "prod": [
                "  mlp-prod-fraud: drift alarm (rule mlp-prod-fraud-retrain) and schedule "
                "mlp-prod-fraud-retrain -> mlp-prod-fraud"
            ],
        }[stack]
    )


def test_nothing_is_made_where_retraining_is_off(retraining_plans: dict[str, Plan]) -> None:
    churn = monitors(retraining_plans["prod"].layer("monitoring"))["churn"]
    assert churn.of_type(RULE) == [] and churn.of_type(TARGET) == []
    assert [r.name for r in churn.of_type(ROLE) if "retrain" in r.name] == []
    assert [s.name for s in churn.of_type(SCHEDULE)] == ["mlp-prod-monitoring-churn-schedule"]
