"""ModelMonitor: one serving endpoint's drift monitor, run on a schedule, with its alarms.

Per monitored endpoint (``mlp-<env>-<name>``):

* the **baseline** (``statistics.json``, ``constraints.json``, ``baseline.npz``) uploaded from the
  configured folder to ``s3://<monitoring>/<endpoint>/baseline/``, SSE-KMS with the platform key;
* a **job role** for the monitor's processing jobs that may read the endpoint's capture prefix,
  its baseline and the code zip, write its ``windows/`` and ``reports/`` prefixes, use the
  platform key only through S3 (and for its volumes), publish metrics only in the monitoring
  namespace, write processing-job logs, pull its image and run in the platform's VPC;
* the **SageMaker Pipeline** ``mlp-<env>-<name>-monitor`` (:mod:`components.monitor_pipeline`) and
  its **pipeline role**, which may create processing jobs only in the platform's subnets and
  security group, with the platform key on volumes and outputs, on the configured instance type
  and runtime, and pass the job role to SageMaker only;
* an **EventBridge Scheduler schedule** (UTC, no flexible window, retries) that starts the
  pipeline with ``WindowHours``; its role may start this pipeline and nothing else;
* **CloudWatch alarms** on the monitor's metrics, notifying the monitoring topic on ALARM and OK:
  features drifted, prediction drift, constraint violations, and a monitor-silent alarm that
  fires when no check completed for longer than the schedule's interval (missing data breaches);
* optionally, for accounts that still have SageMaker Model Monitor, a **DataQualityJobDefinition**
  on the same baseline and a **MonitoringSchedule**, isolated, encrypted and in the VPC, with a
  role of its own.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components import iam_policies
from components.monitor_pipeline import (
    BASELINE_PREFIX,
    REPORTS_PREFIX,
    WINDOW_HOURS,
    WINDOWS_PREFIX,
    MonitorPlatform,
    MonitorSpec,
    endpoint_prefix,
    monitor_definition,
)
from components.service_role import service_role
from components.source_archive import project_relative
from workloads.monitoring import contract

#: Where SageMaker writes processing job logs (one group for the account and region).
PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"

#: Name prefix SageMaker Pipelines gives the jobs of its steps (``pipelines-<execution>-...``).
GENERATED_JOB_PREFIX = "pipelines-"

#: Where the optional Model Monitor backend writes its reports under the endpoint's folder.
MODEL_MONITOR_PREFIX = "model-monitor"

#: The namespace SageMaker Model Monitor publishes its data-quality metrics in.
MODEL_MONITOR_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"

#: AWS's Model Monitor analyzer (``get_prebuilt_ecr_image`` supports this repository name); its
#: images are published as ``latest`` only.
MODEL_MONITOR_REPOSITORY = "sagemaker-model-monitor-analyzer"
MODEL_MONITOR_TAG = "latest"

#: Where the analyzer finds the captured requests and writes its results inside its container.
_MODEL_MONITOR_INPUT = "/opt/ml/processing/input/endpoint"
_MODEL_MONITOR_OUTPUT = "/opt/ml/processing/output"

#: Longest a Model Monitor job may run (an hourly schedule allows at most an hour).
MODEL_MONITOR_MAX_RUNTIME_SECONDS = 1800

#: EventBridge Scheduler's retries of a failed StartPipelineExecution.
SCHEDULE_RETRY_ATTEMPTS = 3
SCHEDULE_MAX_EVENT_AGE_SECONDS = 3600


@dataclass(frozen=True)
class MonitorAccess:
    """What the roles' policies need to know (plain values, inside an ``apply``)."""

    partition: str
    region: str
    account_id: str
    endpoint_name: str
    capture_bucket: str
    monitoring_bucket: str
    code_key: str
    kms_key_arn: str
    vpc_id: str
    subnet_ids: list[str]
    security_group_id: str
    image_repository_arns: list[str]


def _s3(access: MonitorAccess, bucket: str, key: str = "") -> str:
    return f"arn:{access.partition}:s3:::{bucket}{'/' + key if key else ''}"


def _processing_statements(access: MonitorAccess, namespace: str) -> list[iam_policies.Statement]:
    """What any processing job of this monitor needs besides data: key, logs, metrics, VPC."""
    log_group = (
        f"arn:{access.partition}:logs:{access.region}:{access.account_id}"
        f":log-group:{PROCESSING_LOG_GROUP}"
    )
    return [
        iam_policies.kms_via_s3_statement(access.kms_key_arn, access.region),
        {
            # EC2 encrypts the job's volume with the key through a grant. A volume key needs
            # kms:CreateGrant alone (AWS's execution-role permissions for processing jobs);
            # kms:DescribeKey never carries the grant condition, so it was never granted here.
            # https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html
            "Sid": "EncryptJobVolumes",
            "Effect": "Allow",
            "Action": ["kms:CreateGrant"],
            "Resource": access.kms_key_arn,
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
        iam_policies.write_logs_statement("WriteProcessingLogs", [log_group]),
        {
            "Sid": "PublishMonitoringMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",  # PutMetricData has no resource scope; the namespace condition is it
            "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}},
        },
        *iam_policies.ecr_pull_statements(access.image_repository_arns),
        *iam_policies.vpc_interface_statements(
            partition=access.partition,
            region=access.region,
            account_id=access.account_id,
            vpc_id=access.vpc_id,
            subnet_ids=access.subnet_ids,
            security_group_id=access.security_group_id,
        ),
    ]


def _read_capture(access: MonitorAccess) -> list[iam_policies.Statement]:
    endpoint = access.endpoint_name
    return [
        {
            "Sid": "ReadCapture",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": _s3(access, access.capture_bucket, f"{endpoint}/*"),
        },
        {
            "Sid": "ListCapture",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": _s3(access, access.capture_bucket),
            "Condition": {"StringLike": {"s3:prefix": [f"{endpoint}/*"]}},
        },
    ]


def job_role_policy(access: MonitorAccess) -> str:
    """The monitor's job role: exactly its endpoint's prefixes, the code, key, metrics, VPC."""
    endpoint, bucket = access.endpoint_name, access.monitoring_bucket
    written = [
        _s3(access, bucket, f"{endpoint_prefix(endpoint, kind)}*")
        for kind in (WINDOWS_PREFIX, REPORTS_PREFIX)
    ]
    return iam_policies.policy_json(
        *_read_capture(access),
        {
            "Sid": "ReadBaselineAndCode",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [
                _s3(access, bucket, f"{endpoint_prefix(endpoint, BASELINE_PREFIX)}*"),
                _s3(access, bucket, access.code_key),
            ],
        },
        {
            "Sid": "WriteWindowsAndReports",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
            "Resource": written,
        },
        {
            # Processing inputs list their prefix before downloading it.
            "Sid": "ListMonitorPrefixes",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": _s3(access, bucket),
            "Condition": {
                "StringLike": {
                    "s3:prefix": [
                        *(
                            f"{endpoint_prefix(endpoint, kind)}*"
                            for kind in (BASELINE_PREFIX, WINDOWS_PREFIX, REPORTS_PREFIX)
                        ),
                        access.code_key,
                    ]
                }
            },
        },
        *_processing_statements(access, contract.METRIC_NAMESPACE),
    )


def model_monitor_role_policy(access: MonitorAccess) -> str:
    """The optional Model Monitor backend's role: capture, baseline, its reports, key, VPC."""
    endpoint, bucket = access.endpoint_name, access.monitoring_bucket
    reports = f"{endpoint}/{MODEL_MONITOR_PREFIX}/"
    return iam_policies.policy_json(
        *_read_capture(access),
        {
            "Sid": "ReadBaseline",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": _s3(access, bucket, f"{endpoint_prefix(endpoint, BASELINE_PREFIX)}*"),
        },
        {
            "Sid": "WriteModelMonitorReports",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
            "Resource": _s3(access, bucket, f"{reports}*"),
        },
        {
            "Sid": "ListModelMonitorPrefixes",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": _s3(access, bucket),
            "Condition": {
                "StringLike": {
                    "s3:prefix": [f"{endpoint_prefix(endpoint, BASELINE_PREFIX)}*", f"{reports}*"]
                }
            },
        },
        *_processing_statements(access, MODEL_MONITOR_NAMESPACE),
    )


def pipeline_role_policy(
    *,
    spec: MonitorSpec,
    partition: str,
    region: str,
    account_id: str,
    job_role_arn: str,
    kms_key_arn: str,
    subnet_ids: list[str],
    security_group_id: str,
) -> str:
    """The pipeline role: its processing jobs, created only with the platform's guardrails.

    SageMaker Pipelines names a processing step's jobs ``pipelines-<execution>-<step>-...``.
    """
    jobs = f"arn:{partition}:sagemaker:{region}:{account_id}:processing-job/{GENERATED_JOB_PREFIX}*"
    return iam_policies.policy_json(
        {
            "Sid": "CreateJobsWithGuardrails",
            "Effect": "Allow",
            "Action": "sagemaker:CreateProcessingJob",
            "Resource": jobs,
            "Condition": {
                "StringEquals": {"sagemaker:VolumeKmsKey": kms_key_arn},
                # The publish step has no outputs (so no output key); any output must use it.
                "StringEqualsIfExists": {"sagemaker:OutputKmsKey": kms_key_arn},
                "ForAllValues:StringEquals": {
                    "sagemaker:VpcSubnets": sorted(subnet_ids),
                    "sagemaker:VpcSecurityGroupIds": [security_group_id],
                    "sagemaker:InstanceTypes": [spec.instance_type],
                },
                "NumericLessThanEquals": {
                    "sagemaker:MaxRuntimeInSeconds": spec.max_runtime_seconds
                },
                # ForAllValues holds for a request without subnets too: require them.
                "Null": {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"},
            },
        },
        {
            # Pipelines tags every job it starts with the execution that started it.
            "Sid": "TagJobs",
            "Effect": "Allow",
            "Action": "sagemaker:AddTags",
            "Resource": jobs,
        },
        {
            "Sid": "WatchAndStopJobs",
            "Effect": "Allow",
            "Action": ["sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob"],
            "Resource": jobs,
        },
        iam_policies.pass_role_to_sagemaker_statement("PassJobRoleToSageMaker", job_role_arn),
    )


def schedule_arn(partition: str, region: str, account_id: str, group: str, name: str) -> str:
    """An EventBridge Scheduler schedule's ARN (``schedule/<group>/<name>``)."""
    return f"arn:{partition}:scheduler:{region}:{account_id}:schedule/{group}/{name}"


def schedule_group_arn(partition: str, region: str, account_id: str, group: str) -> str:
    """An EventBridge Scheduler schedule group's ARN: what Scheduler calls as ``aws:SourceArn``."""
    return f"arn:{partition}:scheduler:{region}:{account_id}:schedule-group/{group}"


def scheduler_role_policy(*, pipeline_arn: str, kms_key_arn: str, schedule: str) -> str:
    """The schedule's role: start this one pipeline; read the schedule's encrypted payload."""
    return iam_policies.policy_json(
        {
            "Sid": "StartThisPipeline",
            "Effect": "Allow",
            "Action": "sagemaker:StartPipelineExecution",
            "Resource": pipeline_arn,
        },
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
class ModelMonitorBackend:
    """The optional SageMaker Model Monitor backend of one endpoint."""

    schedule: str
    """Its cron expression."""
    instance_type: str
    """Instance type of its jobs."""


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
        self.pipeline_name = spec.pipeline_name
        child = pulumi.ResourceOptions(parent=self)
        bucket = args.monitoring_bucket

        uploads = [
            aws.s3.BucketObjectv2(
                f"{name}-{file_name.split('.')[0]}",
                bucket=bucket,
                key=f"{endpoint_prefix(endpoint, BASELINE_PREFIX)}{file_name}",
                # Relative to the project, so plans do not depend on where the clone lives.
                source=pulumi.FileAsset(project_relative(args.baseline_folder / file_name)),
                content_type="application/json"
                if file_name.endswith(".json")
                else "application/octet-stream",
                server_side_encryption="aws:kms",
                kms_key_id=args.kms_key_arn,
                opts=child,
            )
            for file_name in contract.BASELINE_FILES
        ]
        self.baseline_uri = pulumi.Output.concat(
            "s3://", bucket, "/", endpoint_prefix(endpoint, BASELINE_PREFIX)
        )
        self.reports_uri = pulumi.Output.concat(
            "s3://", bucket, "/", endpoint_prefix(endpoint, REPORTS_PREFIX)
        )

        access = pulumi.Output.all(
            partition=args.partition,
            account=args.account_id,
            capture=args.capture_bucket,
            monitoring=bucket,
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
                endpoint_name=endpoint,
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

        job_role = service_role(
            f"{name}-job",
            service="sagemaker.amazonaws.com",
            description=f"The drift monitor's processing jobs of {endpoint}",
            account_id=args.account_id,
            opts=child,
        )
        job_policy = aws.iam.RolePolicy(
            f"{name}-job",
            role=job_role.id,
            policy=access.apply(job_role_policy),
            opts=pulumi.ResourceOptions(parent=job_role),
        )
        self.job_role_arn = job_role.arn

        pipeline_role = service_role(
            f"{name}-pipeline",
            service="sagemaker.amazonaws.com",
            description=f"Lets SageMaker Pipelines run {spec.pipeline_name}'s processing jobs",
            account_id=args.account_id,
            opts=child,
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
        pipeline = aws.sagemaker.Pipeline(
            f"{name}-pipeline",
            # A fixed name: the schedule and people start executions by it.
            pipeline_name=spec.pipeline_name,
            pipeline_display_name=spec.pipeline_name,
            pipeline_description=(
                f"Checks {endpoint}'s captured traffic of the last {spec.window_hours} h for "
                "drift against its baseline and publishes the figures to CloudWatch"
            ),
            role_arn=pipeline_role.arn,
            pipeline_definition=definition,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[pipeline_policy, job_policy]),
        )
        self.pipeline_arn = pipeline.arn

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
                    source_arn_like=schedule_group_arn(
                        values[0], args.region, values[1], values[2]
                    ),
                )
            ),
            opts=child,
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
        schedule = aws.scheduler.Schedule(
            f"{name}-schedule",
            name=schedule_name,
            group_name=args.schedule_group,
            description=f"Starts {spec.pipeline_name}: a drift check of {endpoint}",
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
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*uploads, scheduler_policy]),
        )
        self.schedule_name = schedule.name

        alarms = [
            self._alarm(name, spec, args, alarm)
            for alarm in alarm_specs(spec, args.silent_after_hours)
        ]
        self.alarm_names = pulumi.Output.all(*(alarm.name for alarm in alarms))

        self.model_monitor_schedule_name = None
        if args.model_monitor is not None:
            self.model_monitor_schedule_name = self._model_monitor(
                name, args, args.model_monitor, access, uploads
            )
        self.register_outputs(self.exports())

    def _alarm(
        self, name: str, spec: MonitorSpec, args: ModelMonitorArgs, alarm: AlarmSpec
    ) -> aws.cloudwatch.MetricAlarm:
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
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _model_monitor(
        self,
        name: str,
        args: ModelMonitorArgs,
        backend: ModelMonitorBackend,
        access: pulumi.Output[MonitorAccess],
        uploads: list[aws.s3.BucketObjectv2],
    ) -> pulumi.Output[str]:
        """SageMaker Model Monitor's DataQualityJobDefinition and MonitoringSchedule."""
        spec = args.spec
        endpoint = spec.endpoint_name
        child = pulumi.ResourceOptions(parent=self)
        analyzer = aws.sagemaker.get_prebuilt_ecr_image_output(
            repository_name=MODEL_MONITOR_REPOSITORY,
            image_tag=MODEL_MONITOR_TAG,
            region=args.region,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        analyzer_repository = pulumi.Output.concat(
            "arn:",
            args.partition,
            ":ecr:",
            args.region,
            ":",
            analyzer.registry_id,
            ":repository/",
            MODEL_MONITOR_REPOSITORY,
        )
        role = service_role(
            f"{name}-model-monitor",
            service="sagemaker.amazonaws.com",
            description=f"SageMaker Model Monitor's data-quality jobs of {endpoint}",
            account_id=args.account_id,
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-model-monitor",
            role=role.id,
            policy=pulumi.Output.all(access, analyzer_repository).apply(
                lambda values: model_monitor_role_policy(
                    dataclasses.replace(values[0], image_repository_arns=[values[1]])
                )
            ),
            opts=pulumi.ResourceOptions(parent=role),
        )
        bucket = args.monitoring_bucket
        baseline = endpoint_prefix(endpoint, BASELINE_PREFIX)
        network = aws.sagemaker.DataQualityJobDefinitionNetworkConfigArgs(
            enable_network_isolation=True,
            enable_inter_container_traffic_encryption=True,
            vpc_config=aws.sagemaker.DataQualityJobDefinitionNetworkConfigVpcConfigArgs(
                security_group_ids=[args.security_group_id], subnets=args.subnet_ids
            ),
        )
        job_definition = aws.sagemaker.DataQualityJobDefinition(
            f"{name}-data-quality",
            # Auto-named: every field replaces the definition, and a new name lets the schedule
            # move to the new one before the old one goes.
            role_arn=role.arn,
            data_quality_app_specification=aws.sagemaker.DataQualityJobDefinitionDataQualityAppSpecificationArgs(
                image_uri=analyzer.registry_path,
                environment={"publish_cloudwatch_metrics": "Enabled"},
            ),
            data_quality_baseline_config=aws.sagemaker.DataQualityJobDefinitionDataQualityBaselineConfigArgs(
                constraints_resource=aws.sagemaker.DataQualityJobDefinitionDataQualityBaselineConfigConstraintsResourceArgs(
                    s3_uri=pulumi.Output.concat(
                        "s3://", bucket, "/", baseline, contract.CONSTRAINTS_FILE
                    )
                ),
                statistics_resource=aws.sagemaker.DataQualityJobDefinitionDataQualityBaselineConfigStatisticsResourceArgs(
                    s3_uri=pulumi.Output.concat(
                        "s3://", bucket, "/", baseline, contract.STATISTICS_FILE
                    )
                ),
            ),
            data_quality_job_input=aws.sagemaker.DataQualityJobDefinitionDataQualityJobInputArgs(
                endpoint_input=aws.sagemaker.DataQualityJobDefinitionDataQualityJobInputEndpointInputArgs(
                    endpoint_name=args.endpoint_name,
                    local_path=_MODEL_MONITOR_INPUT,
                    s3_data_distribution_type="FullyReplicated",
                    s3_input_mode="File",
                )
            ),
            data_quality_job_output_config=aws.sagemaker.DataQualityJobDefinitionDataQualityJobOutputConfigArgs(
                kms_key_id=args.kms_key_arn,
                monitoring_outputs=aws.sagemaker.DataQualityJobDefinitionDataQualityJobOutputConfigMonitoringOutputsArgs(
                    s3_output=aws.sagemaker.DataQualityJobDefinitionDataQualityJobOutputConfigMonitoringOutputsS3OutputArgs(
                        s3_uri=pulumi.Output.concat(
                            "s3://", bucket, f"/{endpoint}/{MODEL_MONITOR_PREFIX}/"
                        ),
                        local_path=_MODEL_MONITOR_OUTPUT,
                        s3_upload_mode="EndOfJob",
                    )
                ),
            ),
            job_resources=aws.sagemaker.DataQualityJobDefinitionJobResourcesArgs(
                cluster_config=aws.sagemaker.DataQualityJobDefinitionJobResourcesClusterConfigArgs(
                    instance_count=1,
                    instance_type=backend.instance_type,
                    volume_size_in_gb=spec.volume_size_gb,
                    volume_kms_key_id=args.kms_key_arn,
                )
            ),
            network_config=network,
            stopping_condition=aws.sagemaker.DataQualityJobDefinitionStoppingConditionArgs(
                max_runtime_in_seconds=MODEL_MONITOR_MAX_RUNTIME_SECONDS
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, *uploads]),
        )
        schedule = aws.sagemaker.MonitoringSchedule(
            f"{name}-data-quality",
            name=f"{spec.pipeline_name}-data-quality",
            monitoring_schedule_config=aws.sagemaker.MonitoringScheduleMonitoringScheduleConfigArgs(
                monitoring_type="DataQuality",
                monitoring_job_definition_name=job_definition.name,
                schedule_config=aws.sagemaker.MonitoringScheduleMonitoringScheduleConfigScheduleConfigArgs(
                    schedule_expression=backend.schedule
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return schedule.name

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
