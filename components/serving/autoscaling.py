"""Autoscaling of one endpoint variant: a scalable target and a target-tracking policy.

SageMaker resets a variant to its initial instance count on every endpoint update, so the target's
minimum is that count (config validation keeps them equal), and burstable ``ml.t*`` variants are
refused by config validation because SageMaker cannot autoscale them.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.serving.spec import VariantConfig


def variant_autoscaling(
    name: str,
    *,
    endpoint_name: pulumi.Input[str],
    variant: VariantConfig,
    endpoint: pulumi.Resource,
    parent: pulumi.Resource,
) -> tuple[aws.appautoscaling.Target, aws.appautoscaling.Policy] | None:
    """Register the variant with Application Auto Scaling and track invocations per instance.

    Returns None, creating nothing, when the variant has no ``autoscaling`` section (it then keeps
    its initial instance count).
    """
    scaling = variant.autoscaling
    if scaling is None:
        return None
    target = aws.appautoscaling.Target(
        f"{name}-scaling-target",
        service_namespace="sagemaker",
        scalable_dimension="sagemaker:variant:DesiredInstanceCount",
        resource_id=pulumi.Output.concat("endpoint/", endpoint_name, "/variant/", variant.name),
        min_capacity=variant.scaling_min_capacity,
        max_capacity=scaling.max_capacity,
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
                target_value=scaling.target_invocations_per_instance,
                scale_in_cooldown=scaling.scale_in_cooldown_seconds,
                scale_out_cooldown=scaling.scale_out_cooldown_seconds,
            )
        ),
        opts=pulumi.ResourceOptions(parent=target),
    )
    return target, policy
