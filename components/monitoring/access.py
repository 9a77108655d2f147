"""MonitorAccess: the resolved values one kind of monitor job runs with, as plain strings.

The pipeline definition (:mod:`components.monitoring.pipeline`) and the roles' policies
(:mod:`components.monitoring.policies`, :mod:`components.monitoring.model_monitor_backend`) are
plain functions of plain values, so they read, and are tested, as the JSON they produce. They get
those values here, once every Output they come from is known: inside an ``apply``. What a monitor
is configured with (window, thresholds, compute) is never copied here; it stays in the spec.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.platform import PlatformContext


@dataclass(frozen=True)
class MonitorAccess:
    """What one monitor's jobs run as and with, resolved (plain values, inside an ``apply``)."""

    partition: str
    """The AWS partition, for ARNs."""
    region: str
    """The stack's region."""
    account_id: str
    """The stack's account."""
    endpoint_name: str
    """The monitored endpoint's full name: its capture prefix, its monitoring bucket folder."""
    capture_bucket: str
    """The bucket of the endpoints' data capture."""
    monitoring_bucket: str
    """The bucket of baselines, windows, reports and the code zip."""
    code_key: str
    """Key of the monitoring code zip in the monitoring bucket."""
    kms_key_arn: str
    """The platform key (volumes, outputs, S3 objects)."""
    vpc_id: str
    """The platform VPC the jobs run in."""
    subnet_ids: list[str]
    """The private subnets the jobs run in."""
    security_group_id: str
    """The workload security group the jobs run in."""
    role_arn: str
    """The role the jobs run as."""
    image_uri: str
    """The image the jobs run."""
    image_repository_arns: list[str]
    """The ECR repositories the role may pull the image from."""


def monitor_access(
    platform: PlatformContext,
    endpoint_name: str,
    *,
    code_key: pulumi.Input[str],
    role_arn: pulumi.Input[str],
    image_uri: pulumi.Input[str],
    image_repository_arn: pulumi.Input[str],
) -> pulumi.Output[MonitorAccess]:
    """The resolved values of the jobs that run as ``role_arn`` on ``image_uri`` for one endpoint.

    Everything else comes from the platform: its capture and monitoring buckets, key and network.
    """
    return pulumi.Output.all(
        partition=platform.partition,
        account=platform.account_id,
        capture=platform.buckets["capture"].bucket,
        monitoring=platform.buckets["monitoring"].bucket,
        code=code_key,
        key=platform.kms_key_arn,
        vpc=platform.vpc_id,
        subnets=platform.subnet_ids,
        security_group=platform.workload_security_group_id,
        role=role_arn,
        image=image_uri,
        repository=image_repository_arn,
    ).apply(
        lambda values: MonitorAccess(
            partition=values["partition"],
            region=platform.region,
            account_id=values["account"],
            endpoint_name=endpoint_name,
            capture_bucket=values["capture"],
            monitoring_bucket=values["monitoring"],
            code_key=values["code"],
            kms_key_arn=values["key"],
            vpc_id=values["vpc"],
            subnet_ids=list(values["subnets"]),
            security_group_id=values["security_group"],
            role_arn=values["role"],
            image_uri=values["image"],
            image_repository_arns=[values["repository"]],
        )
    )
