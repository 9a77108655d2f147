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
* one :class:`~components.monitoring.model_monitor.ModelMonitor` per monitored endpoint.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.monitoring.model_monitor import ModelMonitor, ModelMonitorArgs
from components.monitoring.spec import MonitoringConfig
from components.platform import PlatformContext, PlatformLayer
from components.shared.code_archive import ARCHIVE_DIR, build_monitoring_archive
from components.shared.images import (
    PREBUILT_MONITORING_TAG,
    ContainerImage,
    resolve_image,
)
from components.shared.spec_rules import PROJECT_ROOT
from workloads.monitoring import contract

#: Interface endpoints this layer adds to the VPC (the publish step's PutMetricData).
ENDPOINT_SERVICES = ("monitoring",)

#: Where the monitoring code zips live in the monitoring bucket.
CODE_PREFIX = "code"


class MonitoringLayer(PlatformLayer[MonitoringConfig]):
    """Scheduled drift monitors of the stack's endpoints, their alarms and shared parts."""

    TYPE = "mlplatform:monitoring:MonitoringLayer"

    alarm_topic_arn: pulumi.Output[str]
    """The topic every monitor alarm notifies."""
    schedule_group_name: pulumi.Output[str]
    """The schedule group of the monitors' schedules."""
    code_archive_uri: pulumi.Output[str]
    """Where the monitoring code zip lies in S3."""
    monitors: dict[str, ModelMonitor]
    """Each monitor by its endpoint's full name."""

    def build(self, spec: MonitoringConfig, platform: PlatformContext) -> None:
        """Monitor ``spec``'s endpoints; ``platform`` must carry the serving endpoints' names."""
        prefix = f"mlp-{platform.environment}-monitoring"
        child = pulumi.ResourceOptions(parent=self)

        topic = platform.alarm_topic(
            f"{prefix}-alarms",
            topic_name=f"{prefix}-alarms",
            display_name=f"ml-platform {platform.environment} monitoring alarms",
            emails=spec.alarm_emails,
            parent=self,
        )
        platform.interface_endpoints(prefix, ENDPOINT_SERVICES, opts=child)

        group = aws.scheduler.ScheduleGroup(prefix, name=prefix, opts=child)

        archive = build_monitoring_archive(PROJECT_ROOT, ARCHIVE_DIR)
        code = platform.upload_archive(
            f"{prefix}-code",
            archive,
            bucket="monitoring",
            key=f"{CODE_PREFIX}/{archive.sha256[:16]}/{contract.CODE_ARCHIVE}",
            parent=self,
        )

        shared = ModelMonitorArgs(
            schedule_group=group.name,
            code_key=code.key,
            image=resolve_image(
                processing_image(spec),
                region=platform.region,
                account_id=platform.account_id,
                partition=platform.partition,
                parent=self,
            ),
            alarm_topic_arn=topic.arn,
        )
        self.monitors = {
            entry.endpoint_name(platform.environment): ModelMonitor(
                f"{prefix}-{entry.endpoint}", entry, spec, platform, shared, opts=child
            )
            for entry in spec.endpoints
        }
        self.alarm_topic_arn = topic.arn
        self.schedule_group_name = group.name
        self.code_archive_uri = code.uri

    def exports(self) -> dict[str, object]:
        """The layer's outputs as the stack exports them."""
        return {
            "alarm_topic_arn": self.alarm_topic_arn,
            "schedule_group_name": self.schedule_group_name,
            "code_archive_uri": self.code_archive_uri,
            "monitors": {name: monitor.exports() for name, monitor in self.monitors.items()},
        }


def processing_image(spec: MonitoringConfig) -> ContainerImage:
    """The image the monitor's processing jobs run: ours when set, else AWS's scikit-learn."""
    if spec.image is not None:
        return ContainerImage.ours(spec.image)
    return ContainerImage.prebuilt("sklearn", "processing", PREBUILT_MONITORING_TAG)
