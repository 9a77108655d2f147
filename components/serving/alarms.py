"""The alarms that watch an endpoint's variants; they page the stack's topic and roll back updates.

Three alarms per production variant, on the metrics SageMaker publishes per endpoint and variant
(namespace ``AWS/SageMaker``): server errors, model errors and p99 model latency. Deployment
guardrails name them in the endpoint's auto-rollback configuration, so a blue/green update that
trips one is rolled back (without alarms, rollback does nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.serving.spec import EndpointAlarmsConfig


@dataclass(frozen=True)
class _AlarmKind:
    """One of the three alarms: its metric and statistic, and its threshold in the config."""

    suffix: str
    metric: str
    description: str
    threshold: Callable[[EndpointAlarmsConfig], int]
    statistic: str = "Sum"
    extended_statistic: str | None = None


_KINDS = (
    _AlarmKind(
        "5xx",
        "Invocation5XXErrors",
        "server (5XX) errors",
        lambda limits: limits.error_5xx_threshold,
    ),
    _AlarmKind(
        "model-errors",
        "InvocationModelErrors",
        "model invocation errors",
        lambda limits: limits.invocation_errors_threshold,
    ),
    _AlarmKind(
        "latency-p99",
        "ModelLatency",
        "p99 model latency",
        # ModelLatency is reported in microseconds.
        lambda limits: limits.latency_p99_ms * 1000,
        statistic="",
        extended_statistic="p99",
    ),
)


def variant_alarms(
    name: str,
    *,
    endpoint_name: str,
    variant_name: str,
    thresholds: EndpointAlarmsConfig,
    topic_arn: pulumi.Input[str],
    parent: pulumi.Resource,
) -> list[aws.cloudwatch.MetricAlarm]:
    """Create the three alarms of one variant, each notifying ``topic_arn`` when it fires.

    ``thresholds`` is the endpoint's ``alarms`` section; every variant is held to the same.
    """
    alarms = []
    for kind in _KINDS:
        alarms.append(
            aws.cloudwatch.MetricAlarm(
                f"{name}-{kind.suffix}",
                alarm_description=(
                    f"{endpoint_name}/{variant_name}: {kind.description} above threshold; "
                    "rolls back a deployment in progress"
                ),
                namespace="AWS/SageMaker",
                metric_name=kind.metric,
                dimensions={"EndpointName": endpoint_name, "VariantName": variant_name},
                # A percentile alarm names an extended statistic and no plain one.
                statistic=kind.statistic or None,
                extended_statistic=kind.extended_statistic,
                threshold=kind.threshold(thresholds),
                comparison_operator="GreaterThanOrEqualToThreshold",
                period=thresholds.period_seconds,
                evaluation_periods=thresholds.evaluation_periods,
                # No traffic is not an outage: idle variants stay OK.
                treat_missing_data="notBreaching",
                alarm_actions=[topic_arn],
                ok_actions=[topic_arn],
                opts=pulumi.ResourceOptions(parent=parent),
            )
        )
    return alarms
