"""Retraining: the monitor's drift alarm (and optionally a schedule) starts a training pipeline.

Per monitored endpoint with ``retrain_on_drift`` or ``retrain_schedule``:

* an **EventBridge rule** ``mlp-<env>-<endpoint>-retrain`` on the default bus matching the drift
  alarm's state change to ALARM (source ``aws.cloudwatch``, detail-type ``CloudWatch Alarm State
  Change``, the alarm's ARN and name), whose **target** is the training pipeline
  ``mlp-<env>-<retrain_pipeline>`` (EventBridge's SageMaker pipeline target, with retries), and a
  **role** EventBridge assumes only for that rule in this account, which may start that pipeline
  and nothing else;
* optionally an **EventBridge Scheduler schedule** of the same name in the monitoring group that
  starts the same pipeline (:mod:`components.shared.pipeline_schedule`).

The monitoring layer never imports the training layer: the pipeline's ARN is built from its
deterministic name, and ``stacks/config.py`` checks that the pipeline is one of the stack's
``training.pipelines`` and that the training layer is deployed with monitoring. The pipeline runs
with its parameters' defaults (its configured data).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.monitoring.policies import retrain_role_policy
from components.monitoring.spec import MonitoredEndpointConfig
from components.platform import PlatformContext
from components.shared import iam_policies
from components.shared.pipeline_schedule import (
    SCHEDULE_MAX_EVENT_AGE_SECONDS,
    SCHEDULE_RETRY_ATTEMPTS,
    PipelineSchedule,
    pipeline_schedule,
)

#: The target's id on the rule (PutTargets ``Id``).
TARGET_ID = "retrain-pipeline"


@dataclass(frozen=True)
class Retraining:
    """What starts an endpoint's retraining pipeline (the stack's ``retraining`` export)."""

    pipeline_name: str
    """The training pipeline started (``mlp-<env>-<name>``)."""
    pipeline_arn: pulumi.Output[str]
    """Its ARN."""
    rule_name: str | None
    """The EventBridge rule on the drift alarm, when ``retrain_on_drift``."""
    schedule_name: str | None
    """The retraining schedule, when ``retrain_schedule``."""

    def exports(self) -> dict[str, object]:
        """As the stack exports it."""
        return {
            "pipeline_name": self.pipeline_name,
            "pipeline_arn": self.pipeline_arn,
            "rule_name": self.rule_name,
            "schedule_name": self.schedule_name,
        }


def pipeline_arn(partition: str, region: str, account_id: str, name: str) -> str:
    """A SageMaker pipeline's ARN (``pipeline/<name>``)."""
    return f"arn:{partition}:sagemaker:{region}:{account_id}:pipeline/{name}"


def rule_arn(partition: str, region: str, account_id: str, name: str) -> str:
    """An EventBridge rule's ARN on the default bus: what EventBridge calls as ``aws:SourceArn``."""
    return f"arn:{partition}:events:{region}:{account_id}:rule/{name}"


def alarm_state_pattern(alarm_arn: str, alarm_name: str) -> str:
    """The event pattern of one alarm going to ALARM (CloudWatch's state-change event)."""
    return json.dumps(
        {
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            "resources": [alarm_arn],
            "detail": {"alarmName": [alarm_name], "state": {"value": ["ALARM"]}},
        },
        sort_keys=True,
    )


def retraining(
    parent: pulumi.Resource,
    name: str,
    entry: MonitoredEndpointConfig,
    platform: PlatformContext,
    drift_alarm: aws.cloudwatch.MetricAlarm,
    schedule_group: pulumi.Input[str],
) -> Retraining | None:
    """The rule and schedule that start ``entry``'s retraining pipeline, or None when neither."""
    if not entry.retrains:
        return None
    environment, region = platform.environment, platform.region
    pipeline = entry.retrain_pipeline_name(environment)
    arn = pulumi.Output.all(platform.partition, platform.account_id).apply(
        lambda values: pipeline_arn(values[0], region, values[1], pipeline)
    )
    retrain_name = entry.retrain_name(environment)
    if entry.retrain_on_drift:
        _drift_rule(parent, name, retrain_name, pipeline, arn, platform, drift_alarm)
    if entry.retrain_schedule is not None:
        pipeline_schedule(
            parent,
            PipelineSchedule(
                resource_name=f"{name}-retrain",
                schedule_name=retrain_name,
                description=f"Starts {pipeline}: retraining of "
                f"{entry.endpoint_name(environment)}'s model",
                expression=entry.retrain_schedule,
                pipeline_arn=arn,
            ),
            platform,
            schedule_group,
        )
    return Retraining(
        pipeline_name=pipeline,
        pipeline_arn=arn,
        rule_name=retrain_name if entry.retrain_on_drift else None,
        schedule_name=retrain_name if entry.retrain_schedule is not None else None,
    )


def _drift_rule(
    parent: pulumi.Resource,
    name: str,
    rule_name: str,
    pipeline: str,
    arn: pulumi.Output[str],
    platform: PlatformContext,
    drift_alarm: aws.cloudwatch.MetricAlarm,
) -> aws.cloudwatch.EventTarget:
    """The rule on the drift alarm's ALARM state, its role and its pipeline target."""
    region = platform.region
    role = aws.iam.Role(
        f"{name}-retrain",
        description=f"Lets EventBridge rule {rule_name} start {pipeline}",
        # Only this rule of this account may use the role (confused-deputy guard).
        assume_role_policy=pulumi.Output.all(platform.partition, platform.account_id).apply(
            lambda values: iam_policies.service_trust_policy(
                "events.amazonaws.com",
                values[1],
                source_arn_like=rule_arn(values[0], region, values[1], rule_name),
            )
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    policy = aws.iam.RolePolicy(
        f"{name}-retrain",
        role=role.id,
        policy=arn.apply(retrain_role_policy),
        opts=pulumi.ResourceOptions(parent=role),
    )
    rule = aws.cloudwatch.EventRule(
        f"{name}-retrain",
        name=rule_name,
        description=f"Starts {pipeline} when the monitor's drift alarm goes to ALARM",
        event_pattern=pulumi.Output.all(drift_alarm.arn, drift_alarm.name).apply(
            lambda values: alarm_state_pattern(values[0], values[1])
        ),
        state="ENABLED",
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return aws.cloudwatch.EventTarget(
        f"{name}-retrain",
        rule=rule.name,
        target_id=TARGET_ID,
        arn=arn,
        role_arn=role.arn,
        retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
            maximum_event_age_in_seconds=SCHEDULE_MAX_EVENT_AGE_SECONDS,
            maximum_retry_attempts=SCHEDULE_RETRY_ATTEMPTS,
        ),
        opts=pulumi.ResourceOptions(parent=rule, depends_on=[policy]),
    )
