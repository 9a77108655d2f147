"""Autoscaling of one endpoint variant: a scalable target and a target-tracking policy.

SageMaker resets a variant to its initial instance count on every endpoint update, so the target's
minimum is that count (config validation keeps them equal), and burstable ``ml.t*`` variants are
refused by config validation because SageMaker cannot autoscale them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class ScalingBounds:
    """How one variant scales."""

    min_capacity: int
    """The fewest instances (the variant's initial count)."""
    max_capacity: int
    """The most instances."""
    target_invocations_per_instance: int
    """Invocations per instance per minute to hold."""
    scale_in_cooldown_seconds: int
    """Wait after a scale-in."""
    scale_out_cooldown_seconds: int
    """Wait after a scale-out."""


def variant_autoscaling(
    name: str,
    *,
    endpoint_name: pulumi.Input[str],
    variant_name: str,
    bounds: ScalingBounds,
    endpoint: pulumi.Resource,
    parent: pulumi.Resource,
) -> tuple[aws.appautoscaling.Target, aws.appautoscaling.Policy]:
    """Register the variant with Application Auto Scaling and track invocations per instance."""
    target = aws.appautoscaling.Target(
        f"{name}-scaling-target",
        service_namespace="sagemaker",
        scalable_dimension="sagemaker:variant:DesiredInstanceCount",
        resource_id=pulumi.Output.concat("endpoint/", endpoint_name, "/variant/", variant_name),
        min_capacity=bounds.min_capacity,
        max_capacity=bounds.max_capacity,
        # The variant exists only once the endpoint does.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[endpoint]),
    )
    policy = aws.appautoscaling.Policy(
        f"{name}-scaling-policy",
        policy_type="TargetTrackingScaling",
        service_namespace=target.service_namespace,
        scalable_dimension=target.scalable_dimension,
        resource_id=target.resource_id,
        target_tracking_scaling_policy_configuration=(
            aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="SageMakerVariantInvocationsPerInstance"
                ),
                target_value=bounds.target_invocations_per_instance,
                scale_in_cooldown=bounds.scale_in_cooldown_seconds,
                scale_out_cooldown=bounds.scale_out_cooldown_seconds,
            )
        ),
        opts=pulumi.ResourceOptions(parent=target),
    )
    return target, policy
