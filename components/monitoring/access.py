"""MonitorAccess: the resolved values one kind of monitor job runs with, as plain strings.

The pipeline definition (:mod:`components.monitoring.pipeline`) and the roles' policies
(:mod:`components.monitoring.policies`, :mod:`components.monitoring.model_monitor_backend`) are
plain functions of plain values, so they read, and are tested, as the JSON they produce. They get
those values here, once every Output they come from is known: inside an ``apply``. What a monitor
is configured with (window, thresholds, compute) is never copied here; it stays in the spec.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pulumi

from components.platform import PlatformContext
from components.shared.resolved_platform import ResolvedPlatform, with_resolved_platform


@dataclass(frozen=True)
class MonitorAccess(ResolvedPlatform):
    """What one monitor's jobs run as and with, resolved (plain values, inside an ``apply``).

    The platform's account, key and network (:class:`ResolvedPlatform`), and the monitor's own.
    """

    endpoint_name: str
    """The monitored endpoint's full name: its capture prefix, its monitoring bucket folder."""
    capture_bucket: str
    """The bucket of the endpoints' data capture."""
    monitoring_bucket: str
    """The bucket of baselines, windows, reports and the code zip."""
    code_key: str
    """Key of the monitoring code zip in the monitoring bucket."""
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
    return with_resolved_platform(
        platform,
        lambda resolved, values: MonitorAccess(
            **asdict(resolved),
            endpoint_name=endpoint_name,
            capture_bucket=values["capture"],
            monitoring_bucket=values["monitoring"],
            code_key=values["code"],
            role_arn=values["role"],
            image_uri=values["image"],
            image_repository_arns=[values["repository"]],
        ),
        capture=platform.buckets["capture"].bucket,
        monitoring=platform.buckets["monitoring"].bucket,
        code=code_key,
        role=role_arn,
        image=image_uri,
        repository=image_repository_arn,
    )
