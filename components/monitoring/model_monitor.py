"""ModelMonitor: one serving endpoint's drift monitor, run on a schedule, with its alarms.

Per monitored endpoint (``mlp-<env>-<name>``):

* the **baseline** (``statistics.json``, ``constraints.json``, ``baseline.npz``) uploaded from the
  configured folder to ``s3://<monitoring>/<endpoint>/baseline/``, SSE-KMS with the platform key;
* a **job role** for the monitor's processing jobs that may read the endpoint's capture prefix,
  its baseline and the code zip, write its ``windows/`` and ``reports/`` prefixes, use the
  platform key only through S3 (and for its volumes), publish metrics only in the monitoring
  namespace, write processing-job logs, pull its image and run in the platform's VPC;
* the **SageMaker Pipeline** ``mlp-<env>-<name>-monitor``
  (:mod:`components.monitoring.pipeline`) and its **pipeline role**, which may create processing
  jobs only in the platform's subnets and security group, with the platform key on volumes and
  outputs, on the configured instance type and runtime, and pass the job role to SageMaker only;
* an **EventBridge Scheduler schedule** (UTC, no flexible window, retries) that starts the
  pipeline with ``WindowHours``; its role may start this pipeline and nothing else;
* **CloudWatch alarms** on the monitor's metrics, notifying the monitoring topic on ALARM and OK:
  features drifted, prediction drift, constraint violations, and a monitor-silent alarm that
  fires when no check completed for longer than the schedule's interval (missing data breaches);
* optionally, for accounts that still have SageMaker Model Monitor, a **DataQualityJobDefinition**
  on the same baseline and a **MonitoringSchedule**, isolated, encrypted and in the VPC, with a
  role of its own (:mod:`components.monitoring.model_monitor_backend`).

The roles' policies are plain functions in :mod:`components.monitoring.policies`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.monitoring.model_monitor_backend import (
    ModelMonitorBackend,  # importers (monitoring/layer.py, stacks/program.py) find it here
    model_monitor_backend,
)
from components.monitoring.pipeline import (
    BASELINE_PREFIX,
    REPORTS_PREFIX,
    WINDOW_HOURS,
    MonitorPlatform,
    MonitorSpec,
    endpoint_prefix,
    monitor_definition,
)
from components.monitoring.policies import (
    MonitorAccess,
    job_role_policy,
    pipeline_role_policy,
    schedule_arn,
    schedule_group_arn,
    scheduler_role_policy,
)
from components.shared import iam_policies
from components.shared.code_archive import project_relative
from components.shared.service_role import service_role
from workloads.monitoring import contract

#: EventBridge Scheduler's retries of a failed StartPipelineExecution.
SCHEDULE_RETRY_ATTEMPTS = 3
SCHEDULE_MAX_EVENT_AGE_SECONDS = 3600


@dataclass(frozen=True)
class AlarmSpec:
    """One monitor alarm: which metric, how it is judged."""

    suffix: str
    metric: str
    description: str
    comparison: str
    threshold: float
    statistic: str = "Maximum"
    treat_missing_data: str = "notBreaching"


@dataclass(frozen=True)
class ModelMonitorArgs:
    """Inputs of one ModelMonitor."""

    spec: MonitorSpec
    """The pipeline's spec (endpoint, window, thresholds, compute)."""
    baseline_folder: Path
    """The local baseline folder whose files are uploaded."""
    schedule: str
    """EventBridge Scheduler expression (rate or cron, UTC)."""
    interval_hours: int
    """Hours between two scheduled checks (the drift alarms' period, at most a day)."""
    silent_after_hours: int
    """Hours without a completed check before the monitor-silent alarm fires (1-168)."""
    schedule_group: pulumi.Input[str]
    """The layer's schedule group name."""
    region: str
    """The stack's region."""
    account_id: pulumi.Input[str]
    """The stack's account."""
    partition: pulumi.Input[str]
    """The stack's partition."""
    endpoint_name: pulumi.Input[str]
    """The serving endpoint's name (its output: the monitor follows the endpoint)."""
    capture_bucket: pulumi.Input[str]
    """The capture bucket's name."""
    monitoring_bucket: pulumi.Input[str]
    """The monitoring bucket's name."""
    code_key: pulumi.Input[str]
    """Key of the monitoring code zip in the monitoring bucket."""
    kms_key_arn: pulumi.Input[str]
    """The platform key."""
    vpc_id: pulumi.Input[str]
    """The platform VPC."""
    subnet_ids: pulumi.Input[list[str]]
    """The private subnets."""
    security_group_id: pulumi.Input[str]
    """The workload security group."""
    image_uri: pulumi.Input[str]
    """The processing image."""
    image_repository_arn: pulumi.Input[str]
    """The ECR repository the image comes from."""
    alarm_topic_arn: pulumi.Input[str]
    """The topic the alarms notify."""
    model_monitor: ModelMonitorBackend | None = None
    """The optional SageMaker Model Monitor backend (None: off)."""

    def __post_init__(self) -> None:
        problems = []
        missing = [n for n in contract.BASELINE_FILES if not (self.baseline_folder / n).is_file()]
        if missing:
            problems.append(f"baseline {self.baseline_folder} lacks {', '.join(missing)}")
        if not 1 <= self.silent_after_hours <= 168:
            problems.append("silent_after_hours must be 1-168 (CloudWatch evaluates <= 7 days)")
        if self.interval_hours < 1:
            problems.append("interval_hours must be >= 1")
        if problems:
            raise ValueError(f"ModelMonitor {self.spec.endpoint_name}: " + "; ".join(problems))


class ModelMonitor(pulumi.ComponentResource):
    """A scheduled drift monitor of one endpoint: baseline, pipeline, schedule, roles, alarms."""

    pipeline_name: str
    """The monitor pipeline's name."""
    pipeline_arn: pulumi.Output[str]
    """The monitor pipeline's ARN."""
    schedule_name: pulumi.Output[str]
    """The EventBridge Scheduler schedule's name."""
    baseline_uri: pulumi.Output[str]
    """``s3://<monitoring>/<endpoint>/baseline/``."""
    reports_uri: pulumi.Output[str]
    """``s3://<monitoring>/<endpoint>/reports/`` (one folder per execution below it)."""
    alarm_names: pulumi.Output[list[str]]
    """The monitor's alarms."""
    job_role_arn: pulumi.Output[str]
    """The role the processing jobs run as."""
    model_monitor_schedule_name: pulumi.Output[str] | None
    """The Model Monitor schedule, when that backend is on."""

    def __init__(
        self, name: str, args: ModelMonitorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlplatform:monitoring:ModelMonitor", name, None, opts)
        spec = args.spec
        endpoint = spec.endpoint_name
        bucket = args.monitoring_bucket
        access = _monitor_access(args)

        uploads = _upload_baseline(self, name, args)
        job_role, job_policy = _job_role(self, name, args, access)
        pipeline = _pipeline(self, name, args, access, job_role, job_policy)
        schedule = _schedule(self, name, args, pipeline, uploads)
        alarms = [
            _alarm(self, name, args, alarm) for alarm in alarm_specs(spec, args.silent_after_hours)
        ]
        self.model_monitor_schedule_name = None
        if args.model_monitor is not None:
            self.model_monitor_schedule_name = model_monitor_backend(
                self, name, args, args.model_monitor, access, uploads
            )

        self.pipeline_name = spec.pipeline_name
        self.pipeline_arn = pipeline.arn
        self.schedule_name = schedule.name
        self.baseline_uri = pulumi.Output.concat(
            "s3://", bucket, "/", endpoint_prefix(endpoint, BASELINE_PREFIX)
        )
        self.reports_uri = pulumi.Output.concat(
            "s3://", bucket, "/", endpoint_prefix(endpoint, REPORTS_PREFIX)
        )
        self.alarm_names = pulumi.Output.all(*(alarm.name for alarm in alarms))
        self.job_role_arn = job_role.arn
        self.register_outputs(self.exports())

    def exports(self) -> dict[str, object]:
        """The monitor's outputs as the stack exports them."""
        return {
            "pipeline_name": self.pipeline_name,
            "pipeline_arn": self.pipeline_arn,
            "schedule_name": self.schedule_name,
            "baseline_uri": self.baseline_uri,
            "reports_uri": self.reports_uri,
            "alarm_names": self.alarm_names,
            "job_role_arn": self.job_role_arn,
            "model_monitor_schedule_name": self.model_monitor_schedule_name,
        }


def _monitor_access(args: ModelMonitorArgs) -> pulumi.Output[MonitorAccess]:
    """The plain values the roles' policies are built from, once all inputs are known."""
    return pulumi.Output.all(
        partition=args.partition,
        account=args.account_id,
        capture=args.capture_bucket,
        monitoring=args.monitoring_bucket,
        code=args.code_key,
        key=args.kms_key_arn,
        vpc=args.vpc_id,
        subnets=args.subnet_ids,
        security_group=args.security_group_id,
        repository=args.image_repository_arn,
    ).apply(
        lambda values: MonitorAccess(
            partition=values["partition"],
            region=args.region,
            account_id=values["account"],
            endpoint_name=args.spec.endpoint_name,
            capture_bucket=values["capture"],
            monitoring_bucket=values["monitoring"],
            code_key=values["code"],
            kms_key_arn=values["key"],
            vpc_id=values["vpc"],
            subnet_ids=list(values["subnets"]),
            security_group_id=values["security_group"],
            image_repository_arns=[values["repository"]],
        )
    )


def _upload_baseline(
    parent: ModelMonitor, name: str, args: ModelMonitorArgs
) -> list[aws.s3.BucketObjectv2]:
    """The baseline files, uploaded to ``<endpoint>/baseline/`` with the platform key."""
    endpoint = args.spec.endpoint_name
    return [
        aws.s3.BucketObjectv2(
            f"{name}-{file_name.split('.')[0]}",
            bucket=args.monitoring_bucket,
            key=f"{endpoint_prefix(endpoint, BASELINE_PREFIX)}{file_name}",
            # Relative to the project, so plans do not depend on where the clone lives.
            source=pulumi.FileAsset(project_relative(args.baseline_folder / file_name)),
            content_type="application/json"
            if file_name.endswith(".json")
            else "application/octet-stream",
            server_side_encryption="aws:kms",
            kms_key_id=args.kms_key_arn,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for file_name in contract.BASELINE_FILES
    ]


def _job_role(
    parent: ModelMonitor, name: str, args: ModelMonitorArgs, access: pulumi.Output[MonitorAccess]
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """The role the monitor's processing jobs run as, and its policy."""
    job_role = service_role(
        f"{name}-job",
        service="sagemaker.amazonaws.com",
        description=f"The drift monitor's processing jobs of {args.spec.endpoint_name}",
        account_id=args.account_id,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    job_policy = aws.iam.RolePolicy(
        f"{name}-job",
        role=job_role.id,
        policy=access.apply(job_role_policy),
        opts=pulumi.ResourceOptions(parent=job_role),
    )
    return job_role, job_policy


def _pipeline(
    parent: ModelMonitor,
    name: str,
    args: ModelMonitorArgs,
    access: pulumi.Output[MonitorAccess],
    job_role: aws.iam.Role,
    job_policy: aws.iam.RolePolicy,
) -> aws.sagemaker.Pipeline:
    """The monitor's SageMaker Pipeline and the role it creates processing jobs with."""
    spec = args.spec
    pipeline_role = service_role(
        f"{name}-pipeline",
        service="sagemaker.amazonaws.com",
        description=f"Lets SageMaker Pipelines run {spec.pipeline_name}'s processing jobs",
        account_id=args.account_id,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    pipeline_policy = aws.iam.RolePolicy(
        f"{name}-pipeline",
        role=pipeline_role.id,
        policy=pulumi.Output.all(access, job_role.arn).apply(
            lambda values: pipeline_role_policy(
                spec=spec,
                partition=values[0].partition,
                region=args.region,
                account_id=values[0].account_id,
                job_role_arn=values[1],
                kms_key_arn=values[0].kms_key_arn,
                subnet_ids=values[0].subnet_ids,
                security_group_id=values[0].security_group_id,
            )
        ),
        opts=pulumi.ResourceOptions(parent=pipeline_role),
    )

    definition = pulumi.Output.all(access, job_role.arn, args.image_uri).apply(
        lambda values: json.dumps(
            monitor_definition(
                spec,
                MonitorPlatform(
                    region=args.region,
                    role_arn=values[1],
                    image_uri=values[2],
                    capture_bucket=values[0].capture_bucket,
                    monitoring_bucket=values[0].monitoring_bucket,
                    code_key=values[0].code_key,
                    kms_key_arn=values[0].kms_key_arn,
                    subnet_ids=values[0].subnet_ids,
                    security_group_id=values[0].security_group_id,
                ),
            ),
            sort_keys=True,
        )
    )
    return aws.sagemaker.Pipeline(
        f"{name}-pipeline",
        # A fixed name: the schedule and people start executions by it.
        pipeline_name=spec.pipeline_name,
        pipeline_display_name=spec.pipeline_name,
        pipeline_description=(
            f"Checks {spec.endpoint_name}'s captured traffic of the last {spec.window_hours} h "
            "for drift against its baseline and publishes the figures to CloudWatch"
        ),
        role_arn=pipeline_role.arn,
        pipeline_definition=definition,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[pipeline_policy, job_policy]),
    )


def _schedule(
    parent: ModelMonitor,
    name: str,
    args: ModelMonitorArgs,
    pipeline: aws.sagemaker.Pipeline,
    uploads: list[aws.s3.BucketObjectv2],
) -> aws.scheduler.Schedule:
    """The EventBridge Scheduler schedule that starts the pipeline, and its role."""
    spec = args.spec
    schedule_name = spec.pipeline_name
    where = pulumi.Output.all(args.partition, args.account_id, args.schedule_group)
    this_schedule = where.apply(
        lambda values: schedule_arn(values[0], args.region, values[1], values[2], schedule_name)
    )
    scheduler_role = aws.iam.Role(
        f"{name}-scheduler",
        description=f"Lets EventBridge Scheduler start {spec.pipeline_name}",
        # Only schedules of the layer's group may use the role (confused-deputy guard).
        assume_role_policy=where.apply(
            lambda values: iam_policies.service_trust_policy(
                "scheduler.amazonaws.com",
                values[1],
                source_arn_like=schedule_group_arn(values[0], args.region, values[1], values[2]),
            )
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    scheduler_policy = aws.iam.RolePolicy(
        f"{name}-scheduler",
        role=scheduler_role.id,
        policy=pulumi.Output.all(pipeline.arn, args.kms_key_arn, this_schedule).apply(
            lambda values: scheduler_role_policy(
                pipeline_arn=values[0], kms_key_arn=values[1], schedule=values[2]
            )
        ),
        opts=pulumi.ResourceOptions(parent=scheduler_role),
    )
    return aws.scheduler.Schedule(
        f"{name}-schedule",
        name=schedule_name,
        group_name=args.schedule_group,
        description=f"Starts {spec.pipeline_name}: a drift check of {spec.endpoint_name}",
        schedule_expression=args.schedule,
        schedule_expression_timezone="UTC",
        flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
        kms_key_arn=args.kms_key_arn,
        state="ENABLED",
        target=aws.scheduler.ScheduleTargetArgs(
            arn=pipeline.arn,
            role_arn=scheduler_role.arn,
            retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                maximum_event_age_in_seconds=SCHEDULE_MAX_EVENT_AGE_SECONDS,
                maximum_retry_attempts=SCHEDULE_RETRY_ATTEMPTS,
            ),
            sagemaker_pipeline_parameters=aws.scheduler.ScheduleTargetSagemakerPipelineParametersArgs(
                pipeline_parameters=[
                    aws.scheduler.ScheduleTargetSagemakerPipelineParametersPipelineParameterArgs(
                        name=WINDOW_HOURS, value=str(spec.window_hours)
                    )
                ]
            ),
        ),
        # The first run needs the baseline and the roles in place.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*uploads, scheduler_policy]),
    )


def _alarm(
    parent: ModelMonitor, name: str, args: ModelMonitorArgs, alarm: AlarmSpec
) -> aws.cloudwatch.MetricAlarm:
    """One of the monitor's alarms, notifying the monitoring topic on ALARM and OK."""
    spec = args.spec
    silent = alarm.treat_missing_data == "breaching"
    # The drift alarms look at one schedule interval (a day at most), so a drifted check keeps
    # the alarm up until the next check; the silent alarm counts hours without a check.
    period = 3600 if silent else min(args.interval_hours, 24) * 3600
    periods = args.silent_after_hours if silent else 1
    return aws.cloudwatch.MetricAlarm(
        f"{name}-{alarm.suffix}",
        name=f"{spec.pipeline_name}-{alarm.suffix}",
        alarm_description=f"{spec.endpoint_name}: {alarm.description}",
        namespace=contract.METRIC_NAMESPACE,
        metric_name=alarm.metric,
        dimensions={"Endpoint": spec.endpoint_name},
        statistic=alarm.statistic,
        threshold=alarm.threshold,
        comparison_operator=alarm.comparison,
        period=period,
        evaluation_periods=periods,
        datapoints_to_alarm=periods,
        treat_missing_data=alarm.treat_missing_data,
        alarm_actions=[args.alarm_topic_arn],
        ok_actions=[args.alarm_topic_arn],
        opts=pulumi.ResourceOptions(parent=parent),
    )


def alarm_specs(spec: MonitorSpec, silent_after_hours: int) -> list[AlarmSpec]:
    """The monitor's alarms: drift, prediction drift, violations, and a silent monitor."""
    return [
        AlarmSpec(
            "drift",
            contract.FEATURES_DRIFTED,
            "input features drifted past their thresholds in the last check",
            "GreaterThanOrEqualToThreshold",
            1,
        ),
        AlarmSpec(
            "prediction-drift",
            contract.PREDICTION_PSI,
            f"prediction PSI >= {spec.thresholds['prediction_psi']:g} in the last check",
            "GreaterThanOrEqualToThreshold",
            spec.thresholds["prediction_psi"],
        ),
        AlarmSpec(
            "violations",
            contract.CONSTRAINT_VIOLATIONS,
            "the last check found constraint violations (see its report)",
            "GreaterThanOrEqualToThreshold",
            1,
        ),
        AlarmSpec(
            "silent",
            contract.CHECKS_COMPLETED,
            f"no drift check completed in {silent_after_hours} h: the monitor is not running",
            "LessThanThreshold",
            1,
            statistic="Sum",
            # No data is exactly what this alarm is about.
            treat_missing_data="breaching",
        ),
    ]
