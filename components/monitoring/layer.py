"""MonitoringLayer: a drift monitor per monitored endpoint, and what they share.

It consumes the data layer (capture and monitoring buckets, the platform key, the VPC) and the
serving layer (the endpoints), and owns:

* an SNS topic ``mlp-<env>-monitoring-alarms``, encrypted with the platform key, that every
  monitor alarm notifies (plus the configured e-mail subscriptions);
* the VPC's interface endpoint for CloudWatch metrics (``monitoring``): the publish step calls
  PutMetricData from the private VPC, which has no internet;
* an EventBridge Scheduler schedule group ``mlp-<env>-monitoring`` holding every monitor's
  schedule (the scheduler roles trust only this group);
* the monitoring code zip, uploaded once to ``s3://<monitoring>/code/<digest>/monitoring-code.zip``
  (a code change is a new key, so the pipelines change with it);
* one :class:`~components.model_monitor.ModelMonitor` per monitored endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.monitoring.model_monitor import ModelMonitor, ModelMonitorArgs, ModelMonitorBackend
from components.monitoring.pipeline import MonitorSpec
from components.platform import PlatformContext
from components.shared.alarm_topic import alarm_topic
from components.shared.code_archive import SourceArchive, upload_archive
from components.shared.vpc_endpoints import interface_endpoints
from components.training.pipeline import TrainingImage, resolve_image
from workloads.monitoring import contract

#: Interface endpoints this layer adds to the VPC (the publish step's PutMetricData).
ENDPOINT_SERVICES = ("monitoring",)

#: Where the monitoring code zips live in the monitoring bucket.
CODE_PREFIX = "code"


@dataclass(frozen=True)
class MonitoredEndpoint:
    """One monitor: what it checks (the pipeline's spec) and when."""

    name: str
    """The endpoint's short name (names the monitor's resources)."""
    spec: MonitorSpec
    """The pipeline's spec."""
    baseline_folder: Path
    """The local baseline folder."""
    schedule: str
    """EventBridge Scheduler expression."""
    interval_hours: int
    """Hours between two scheduled checks."""
    silent_after_hours: int
    """Hours without a completed check before the monitor-silent alarm fires."""
    model_monitor: ModelMonitorBackend | None = None
    """The optional SageMaker Model Monitor backend."""


@dataclass(frozen=True)
class MonitoringLayerArgs:
    """Inputs of the MonitoringLayer."""

    environment: str
    """Short environment name (``dev``, ``prod``)."""
    region: str
    """The stack's region."""
    platform: PlatformContext
    """The platform the layer is deployed into (built by the data layer)."""
    endpoint_names: dict[str, pulumi.Input[str]]
    """The serving endpoints' names (outputs) by full name."""
    monitors: list[MonitoredEndpoint]
    """The monitored endpoints."""
    code_archive: SourceArchive
    """The monitoring code zip."""
    image: TrainingImage
    """The processing image: AWS's prebuilt one (a repository and tag) or ours in ECR."""
    alarm_emails: list[str]
    """Addresses subscribed to the alarm topic."""

    def __post_init__(self) -> None:
        problems = []
        names = [monitor.spec.endpoint_name for monitor in self.monitors]
        if repeated := sorted({name for name in names if names.count(name) > 1}):
            problems.append(f"endpoints monitored twice: {', '.join(repeated)}")
        if unknown := sorted(set(names) - set(self.endpoint_names)):
            problems.append(f"not serving endpoints: {', '.join(unknown)}")
        if problems:
            raise ValueError("MonitoringLayer: " + "; ".join(problems))


class MonitoringLayer(pulumi.ComponentResource):
    """Scheduled drift monitors of the stack's endpoints, their alarms and shared parts."""

    alarm_topic_arn: pulumi.Output[str]
    """The topic every monitor alarm notifies."""
    schedule_group_name: pulumi.Output[str]
    """The schedule group of the monitors' schedules."""
    code_archive_uri: pulumi.Output[str]
    """Where the monitoring code zip lies in S3."""
    monitors: dict[str, ModelMonitor]
    """Each monitor by its endpoint's full name."""

    def __init__(
        self, name: str, args: MonitoringLayerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlplatform:monitoring:MonitoringLayer", name, None, opts)
        data = args.platform
        prefix = f"mlp-{args.environment}-monitoring"
        child = pulumi.ResourceOptions(parent=self)

        topic = alarm_topic(
            f"{prefix}-alarms",
            topic_name=f"{prefix}-alarms",
            display_name=f"ml-platform {args.environment} monitoring alarms",
            kms_key_arn=data.kms_key_arn,
            account_id=data.account_id,
            partition=data.partition,
            emails=args.alarm_emails,
            parent=self,
        )

        interface_endpoints(
            prefix,
            ENDPOINT_SERVICES,
            region=args.region,
            vpc_id=data.vpc_id,
            subnet_ids=data.subnet_ids,
            security_group_id=data.endpoint_security_group_id,
            opts=child,
        )

        group = aws.scheduler.ScheduleGroup(prefix, name=prefix, opts=child)

        bucket = data.buckets["monitoring"].bucket
        code = upload_archive(
            f"{prefix}-code",
            args.code_archive,
            bucket=bucket,
            key=f"{CODE_PREFIX}/{args.code_archive.sha256[:16]}/{contract.CODE_ARCHIVE}",
            kms_key_arn=data.kms_key_arn,
            parent=self,
        )

        image = resolve_image(
            args.image,
            region=args.region,
            account_id=data.account_id,
            partition=data.partition,
            parent=self,
        )
        self.monitors = {}
        for monitor in args.monitors:
            endpoint = monitor.spec.endpoint_name
            self.monitors[endpoint] = ModelMonitor(
                f"{prefix}-{monitor.name}",
                ModelMonitorArgs(
                    spec=monitor.spec,
                    baseline_folder=monitor.baseline_folder,
                    schedule=monitor.schedule,
                    interval_hours=monitor.interval_hours,
                    silent_after_hours=monitor.silent_after_hours,
                    schedule_group=group.name,
                    region=args.region,
                    account_id=data.account_id,
                    partition=data.partition,
                    endpoint_name=args.endpoint_names[endpoint],
                    capture_bucket=data.buckets["capture"].bucket,
                    monitoring_bucket=bucket,
                    code_key=code.key,
                    kms_key_arn=data.kms_key_arn,
                    vpc_id=data.vpc_id,
                    subnet_ids=data.subnet_ids,
                    security_group_id=data.workload_security_group_id,
                    image_uri=image.uri,
                    image_repository_arn=image.repository_arn,
                    alarm_topic_arn=topic.arn,
                    model_monitor=monitor.model_monitor,
                ),
                opts=child,
            )
        self.alarm_topic_arn = topic.arn
        self.schedule_group_name = group.name
        self.code_archive_uri = code.uri
        self.register_outputs(self.exports())

    def exports(self) -> dict[str, object]:
        """The layer's outputs as the stack exports them."""
        return {
            "alarm_topic_arn": self.alarm_topic_arn,
            "schedule_group_name": self.schedule_group_name,
            "code_archive_uri": self.code_archive_uri,
            "monitors": {name: monitor.exports() for name, monitor in self.monitors.items()},
        }
