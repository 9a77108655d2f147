"""An EventBridge Scheduler schedule that starts one SageMaker pipeline, and the role it uses.

The monitor's check (:mod:`components.monitoring.model_monitor`), the optional retraining
schedule (:mod:`components.monitoring.retraining`) and scheduled optimization jobs
(:mod:`components.optimization.layer`) start their pipelines this way: a schedule in the layer's
group (UTC, no flexible window, retries), encrypted with the platform key, whose role trusts
Scheduler only for the layer's group and may start that one pipeline and decrypt that one
schedule's payload, nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.platform import PlatformContext
from components.shared import iam_policies

#: EventBridge Scheduler's retries of a failed StartPipelineExecution.
SCHEDULE_RETRY_ATTEMPTS = 3
SCHEDULE_MAX_EVENT_AGE_SECONDS = 3600


def schedule_arn(partition: str, region: str, account_id: str, group: str, name: str) -> str:
    """An EventBridge Scheduler schedule's ARN (``schedule/<group>/<name>``)."""
    return f"arn:{partition}:scheduler:{region}:{account_id}:schedule/{group}/{name}"


def schedule_group_arn(partition: str, region: str, account_id: str, group: str) -> str:
    """An EventBridge Scheduler schedule group's ARN: what Scheduler calls as ``aws:SourceArn``."""
    return f"arn:{partition}:scheduler:{region}:{account_id}:schedule-group/{group}"


def start_pipeline_statement(pipeline_arn: str) -> iam_policies.Statement:
    """Start executions of this one pipeline, nothing else."""
    return {
        "Sid": "StartThisPipeline",
        "Effect": "Allow",
        "Action": "sagemaker:StartPipelineExecution",
        "Resource": pipeline_arn,
    }


def scheduler_role_policy(*, pipeline_arn: str, kms_key_arn: str, schedule: str) -> str:
    """The schedule's role: start this one pipeline; read the schedule's encrypted payload."""
    return iam_policies.policy_json(
        start_pipeline_statement(pipeline_arn),
        {
            # The schedule's target input is encrypted with the platform key; Scheduler decrypts
            # it with this role, under the schedule's ARN as encryption context.
            "Sid": "DecryptThisSchedule",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": kms_key_arn,
            "Condition": {
                "StringEquals": {"kms:EncryptionContext:aws:scheduler:schedule:arn": schedule}
            },
        },
    )


@dataclass(frozen=True)
class PipelineSchedule:
    """What one schedule starts, when, and under which names."""

    resource_name: str
    """Prefix of the Pulumi names: ``<prefix>-scheduler`` (role, policy), ``<prefix>-schedule``."""
    schedule_name: str
    """The schedule's AWS name (in the layer's group)."""
    description: str
    """The schedule's description."""
    expression: str
    """A validated rate or cron expression (UTC)."""
    pipeline_arn: pulumi.Input[str]
    """The pipeline it starts."""
    parameters: tuple[tuple[str, pulumi.Input[str]], ...] = ()
    """Pipeline parameters it sets (name, value); the rest keep their defaults."""


def pipeline_schedule(
    parent: pulumi.Resource,
    schedule: PipelineSchedule,
    platform: PlatformContext,
    group: pulumi.Input[str],
    depends_on: Sequence[pulumi.Resource] = (),
) -> aws.scheduler.Schedule:
    """The schedule and its role; ``depends_on`` must exist before the first run."""
    region = platform.region
    name = schedule.resource_name
    where = pulumi.Output.all(platform.partition, platform.account_id, group)
    this_schedule = where.apply(
        lambda values: schedule_arn(values[0], region, values[1], values[2], schedule.schedule_name)
    )
    scheduler_role = aws.iam.Role(
        f"{name}-scheduler",
        description=f"Lets EventBridge Scheduler start {schedule.schedule_name}",
        # Only schedules of the layer's group may use the role (confused-deputy guard).
        assume_role_policy=where.apply(
            lambda values: iam_policies.service_trust_policy(
                "scheduler.amazonaws.com",
                values[1],
                source_arn_like=schedule_group_arn(values[0], region, values[1], values[2]),
            )
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    scheduler_policy = aws.iam.RolePolicy(
        f"{name}-scheduler",
        role=scheduler_role.id,
        policy=pulumi.Output.all(schedule.pipeline_arn, platform.kms_key_arn, this_schedule).apply(
            lambda values: scheduler_role_policy(
                pipeline_arn=values[0], kms_key_arn=values[1], schedule=values[2]
            )
        ),
        opts=pulumi.ResourceOptions(parent=scheduler_role),
    )
    parameters = None
    if schedule.parameters:
        parameters = aws.scheduler.ScheduleTargetSagemakerPipelineParametersArgs(
            pipeline_parameters=[
                aws.scheduler.ScheduleTargetSagemakerPipelineParametersPipelineParameterArgs(
                    name=key, value=value
                )
                for key, value in schedule.parameters
            ]
        )
    return aws.scheduler.Schedule(
        f"{name}-schedule",
        name=schedule.schedule_name,
        group_name=group,
        description=schedule.description,
        schedule_expression=schedule.expression,
        schedule_expression_timezone="UTC",
        flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
        kms_key_arn=platform.kms_key_arn,
        state="ENABLED",
        target=aws.scheduler.ScheduleTargetArgs(
            arn=schedule.pipeline_arn,
            role_arn=scheduler_role.arn,
            retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                maximum_event_age_in_seconds=SCHEDULE_MAX_EVENT_AGE_SECONDS,
                maximum_retry_attempts=SCHEDULE_RETRY_ATTEMPTS,
            ),
            sagemaker_pipeline_parameters=parameters,
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*depends_on, scheduler_policy]),
    )
