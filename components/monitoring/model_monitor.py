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
* optionally, **retraining** (:mod:`components.monitoring.retraining`): an EventBridge rule that
  starts the model's training pipeline when the drift alarm goes to ALARM, and/or a schedule that
  starts it regularly;
* optionally, for accounts that still have SageMaker Model Monitor, a **DataQualityJobDefinition**
  on the same baseline and a **MonitoringSchedule**, isolated, encrypted and in the VPC, with a
  role of its own (:mod:`components.monitoring.model_monitor_backend`).

The roles' policies are plain functions in :mod:`components.monitoring.policies`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.monitoring.access import MonitorAccess, monitor_access
from components.monitoring.model_monitor_backend import model_monitor_backend
from components.monitoring.pipeline import (
    BASELINE_PREFIX,
    REPORTS_PREFIX,
    WINDOW_HOURS,
    endpoint_prefix,
    monitor_definition,
)
from components.monitoring.policies import job_role_policy, pipeline_role_policy
from components.monitoring.retraining import Retraining, retraining
from components.monitoring.spec import MonitoredEndpointConfig, MonitoringConfig
from components.platform import PlatformContext
from components.shared.code_archive import project_relative
from components.shared.images import ResolvedImage
from components.shared.pipeline_schedule import PipelineSchedule, pipeline_schedule
from components.shared.service_role import sagemaker_role_with_policy, service_role
from components.shared.spec_rules import PROJECT_ROOT
from workloads.monitoring import contract

#: The suffix of the features-drifted alarm, the one retraining listens to.
DRIFT_ALARM = "drift"


@dataclass(frozen=True)
class AlarmSpec:
    """One monitor alarm: which metric, how it is judged."""

    suffix: str
    """Ends the alarm's resource and CloudWatch names (``<pipeline>-<suffix>``)."""
    metric: str
    """The metric in the monitoring namespace it watches."""
    description: str
    """What a breach means, after the endpoint's name."""
    comparison: str
    """CloudWatch's comparison operator."""
    threshold: float
    """The value the metric is compared with."""
    statistic: str = "Maximum"
    """How the period's data points are combined."""
    treat_missing_data: str = "notBreaching"
    """What a period without data counts as."""


@dataclass(frozen=True)
class ModelMonitorArgs:
    """What the monitoring layer made that one ModelMonitor uses (outputs, not configuration)."""

    schedule_group: pulumi.Input[str]
    """The layer's schedule group name."""
    code_key: pulumi.Input[str]
    """Key of the monitoring code zip in the monitoring bucket."""
    image: ResolvedImage
    """The processing image and the ECR repository it comes from."""
    alarm_topic_arn: pulumi.Input[str]
    """The topic the alarms notify."""


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
    retraining: Retraining | None
    """What starts the endpoint's retraining pipeline, when retraining is on."""

    def __init__(
        self,
        name: str,
        entry: MonitoredEndpointConfig,
        monitoring: MonitoringConfig,
        platform: PlatformContext,
        args: ModelMonitorArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Monitor ``entry``'s endpoint, with the jobs' compute of ``monitoring`` (its section)."""
        super().__init__("mlplatform:monitoring:ModelMonitor", name, None, opts)
        endpoint = entry.endpoint_name(platform.environment)
        bucket = platform.buckets["monitoring"].bucket

        uploads = _upload_baseline(self, name, entry, platform)
        job_role, job_policy, access = _job_role(self, name, endpoint, platform, args)
        pipeline = _pipeline(self, name, entry, monitoring, platform, access, job_policy)
        schedule = _schedule(self, name, entry, platform, args, pipeline, uploads)
        alarms = {
            alarm.suffix: _alarm(self, name, entry, platform, args, alarm)
            for alarm in alarm_specs(entry)
        }
        self.retraining = retraining(
            self, name, entry, platform, alarms[DRIFT_ALARM], schedule_group=args.schedule_group
        )
        self.model_monitor_schedule_name = None
        if entry.model_monitor.enabled:
            self.model_monitor_schedule_name = model_monitor_backend(
                self, name, entry, monitoring, platform, code_key=args.code_key, uploads=uploads
            )

        self.pipeline_name = entry.pipeline_name(platform.environment)
        self.pipeline_arn = pipeline.arn
        self.schedule_name = schedule.name
        self.baseline_uri = pulumi.Output.concat(
            "s3://", bucket, "/", endpoint_prefix(endpoint, BASELINE_PREFIX)
        )
        self.reports_uri = pulumi.Output.concat(
            "s3://", bucket, "/", endpoint_prefix(endpoint, REPORTS_PREFIX)
        )
        self.alarm_names = pulumi.Output.all(*(alarm.name for alarm in alarms.values()))
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
            "retraining": None if self.retraining is None else self.retraining.exports(),
        }


def _upload_baseline(
    parent: ModelMonitor, name: str, entry: MonitoredEndpointConfig, platform: PlatformContext
) -> list[aws.s3.BucketObjectv2]:
    """The baseline files, uploaded to ``<endpoint>/baseline/`` with the platform key."""
    endpoint = entry.endpoint_name(platform.environment)
    folder = entry.baseline_path(PROJECT_ROOT)
    return [
        aws.s3.BucketObjectv2(
            f"{name}-{file_name.split('.')[0]}",
            bucket=platform.buckets["monitoring"].bucket,
            key=f"{endpoint_prefix(endpoint, BASELINE_PREFIX)}{file_name}",
            # Relative to the project, so plans do not depend on where the clone lives.
            source=pulumi.FileAsset(project_relative(folder / file_name)),
            content_type="application/json"
            if file_name.endswith(".json")
            else "application/octet-stream",
            server_side_encryption="aws:kms",
            kms_key_id=platform.kms_key_arn,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for file_name in contract.BASELINE_FILES
    ]


def _job_role(
    parent: ModelMonitor,
    name: str,
    endpoint: str,
    platform: PlatformContext,
    args: ModelMonitorArgs,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy, pulumi.Output[MonitorAccess]]:
    """The role the monitor's processing jobs run as, its policy, and what the jobs run with."""
    job_role = service_role(
        f"{name}-job",
        service="sagemaker.amazonaws.com",
        description=f"The drift monitor's processing jobs of {endpoint}",
        account_id=platform.account_id,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    access = monitor_access(
        platform,
        endpoint,
        code_key=args.code_key,
        role_arn=job_role.arn,
        image_uri=args.image.uri,
        image_repository_arn=args.image.repository_arn,
    )
    job_policy = aws.iam.RolePolicy(
        f"{name}-job",
        role=job_role.id,
        policy=access.apply(job_role_policy),
        opts=pulumi.ResourceOptions(parent=job_role),
    )
    return job_role, job_policy, access


def _pipeline(
    parent: ModelMonitor,
    name: str,
    entry: MonitoredEndpointConfig,
    monitoring: MonitoringConfig,
    platform: PlatformContext,
    access: pulumi.Output[MonitorAccess],
    job_policy: aws.iam.RolePolicy,
) -> aws.sagemaker.Pipeline:
    """The monitor's SageMaker Pipeline and the role it creates processing jobs with."""
    pipeline_name = entry.pipeline_name(platform.environment)
    pipeline_role, pipeline_policy = sagemaker_role_with_policy(
        f"{name}-pipeline",
        f"{name}-pipeline",
        description=f"Lets SageMaker Pipelines run {pipeline_name}'s processing jobs",
        account_id=platform.account_id,
        parent=parent,
        policy=access.apply(lambda resolved: pipeline_role_policy(monitoring, resolved)),
    )
    definition = access.apply(
        lambda resolved: json.dumps(monitor_definition(entry, monitoring, resolved), sort_keys=True)
    )
    return aws.sagemaker.Pipeline(
        f"{name}-pipeline",
        # A fixed name: the schedule and people start executions by it.
        pipeline_name=pipeline_name,
        pipeline_display_name=pipeline_name,
        pipeline_description=(
            f"Checks {entry.endpoint_name(platform.environment)}'s captured traffic of the last "
            f"{entry.window_hours} h for drift against its baseline and publishes the figures to "
            "CloudWatch"
        ),
        role_arn=pipeline_role.arn,
        pipeline_definition=definition,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[pipeline_policy, job_policy]),
    )


def _schedule(
    parent: ModelMonitor,
    name: str,
    entry: MonitoredEndpointConfig,
    platform: PlatformContext,
    args: ModelMonitorArgs,
    pipeline: aws.sagemaker.Pipeline,
    uploads: list[aws.s3.BucketObjectv2],
) -> aws.scheduler.Schedule:
    """The EventBridge Scheduler schedule that starts the check with its window, and its role."""
    schedule_name = entry.pipeline_name(platform.environment)
    return pipeline_schedule(
        parent,
        PipelineSchedule(
            resource_name=name,
            schedule_name=schedule_name,
            description=(
                f"Starts {schedule_name}: a drift check of "
                f"{entry.endpoint_name(platform.environment)}"
            ),
            expression=entry.schedule,
            pipeline_arn=pipeline.arn,
            parameters=((WINDOW_HOURS, str(entry.window_hours)),),
        ),
        platform,
        args.schedule_group,
        # The first run needs the baseline in place.
        depends_on=uploads,
    )


def _alarm(
    parent: ModelMonitor,
    name: str,
    entry: MonitoredEndpointConfig,
    platform: PlatformContext,
    args: ModelMonitorArgs,
    alarm: AlarmSpec,
) -> aws.cloudwatch.MetricAlarm:
    """One of the monitor's alarms, notifying the monitoring topic on ALARM and OK."""
    endpoint = entry.endpoint_name(platform.environment)
    silent = alarm.treat_missing_data == "breaching"
    # The drift alarms look at one schedule interval (a day at most), so a drifted check keeps
    # the alarm up until the next check; the silent alarm counts hours without a check.
    period = 3600 if silent else min(entry.interval_hours, 24) * 3600
    periods = entry.silent_after_hours if silent else 1
    return aws.cloudwatch.MetricAlarm(
        f"{name}-{alarm.suffix}",
        name=f"{entry.pipeline_name(platform.environment)}-{alarm.suffix}",
        alarm_description=f"{endpoint}: {alarm.description}",
        namespace=contract.METRIC_NAMESPACE,
        metric_name=alarm.metric,
        dimensions={"Endpoint": endpoint},
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


def alarm_specs(entry: MonitoredEndpointConfig) -> list[AlarmSpec]:
    """The monitor's alarms: drift, prediction drift, violations, and a silent monitor."""
    prediction_psi = entry.thresholds.prediction_psi
    return [
        AlarmSpec(
            DRIFT_ALARM,
            contract.FEATURES_DRIFTED,
            "input features drifted past their thresholds in the last check",
            "GreaterThanOrEqualToThreshold",
            1,
        ),
        AlarmSpec(
            "prediction-drift",
            contract.PREDICTION_PSI,
            f"prediction PSI >= {prediction_psi:g} in the last check",
            "GreaterThanOrEqualToThreshold",
            prediction_psi,
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
            f"no drift check completed in {entry.silent_after_hours} h: the monitor is not running",
            "LessThanThreshold",
            1,
            statistic="Sum",
            # No data is exactly what this alarm is about.
            treat_missing_data="breaching",
        ),
    ]
