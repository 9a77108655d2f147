"""ServingEndpoint: a SageMaker endpoint with weighted variants, capture, guardrails and scaling.

Children, in the order they depend on each other:

* one :class:`ServingModel` per variant (and for the shadow variant); a variant deploying a
  registered version gets its Model after an approval check (:mod:`.model_approval`);
* the endpoint's log group (KMS, retention), which SageMaker would otherwise create unencrypted;
* an EndpointConfiguration, auto-named so that any change makes a new configuration and the
  endpoint moves to it (configurations are immutable; see DESIGN.md);
* three alarms per production variant (:mod:`components.serving.alarms`);
* the Endpoint, with a blue/green deployment policy whose auto-rollback watches those alarms;
* its :class:`~components.serving.rollout_gate.RolloutGate`, which fails ``pulumi up`` when
  SageMaker did not keep the update (a rollback or a failed update), and after a verified update
  deletes the retired configurations (but the newest ``rollout.keep_retired_configs``) and their
  models, which the stack retains (``retain_on_delete``) rather than deletes;
* autoscaling per variant that asks for it (:mod:`components.serving.autoscaling`).

The endpoint itself has a fixed name (``mlp-<env>-<name>``): clients call it by name, and its
alarms need the name before it exists, while the endpoint needs the alarms' names for rollback.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws
from pulumi_aws.sagemaker import (
    EndpointConfigurationDataCaptureConfigCaptureContentTypeHeaderArgs as CaptureContentTypes,
)
from pulumi_aws.sagemaker import (
    EndpointConfigurationProductionVariantServerlessConfigArgs as ServerlessArgs,
)
from pulumi_aws.sagemaker import (
    EndpointDeploymentConfigAutoRollbackConfigurationAlarmArgs as RollbackAlarm,
)
from pulumi_aws.sagemaker import (
    EndpointDeploymentConfigAutoRollbackConfigurationArgs as AutoRollback,
)
from pulumi_aws.sagemaker import (
    EndpointDeploymentConfigBlueGreenUpdatePolicyArgs as BlueGreenUpdate,
)
from pulumi_aws.sagemaker import (
    EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationArgs as Routing,
)
from pulumi_aws.sagemaker import (
    EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationCanarySizeArgs as CanarySize,  # noqa: E501
)
from pulumi_aws.sagemaker import (
    EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationLinearStepSizeArgs as LinearStepSize,  # noqa: E501
)

from components.platform import PlatformContext
from components.serving.alarms import variant_alarms
from components.serving.autoscaling import variant_autoscaling
from components.serving.model import ServingModel, ServingModelArgs, model_package_group
from components.serving.rollout_gate import RolloutGate, gate_timeout_seconds
from components.serving.spec import RolloutConfig, ServingEndpointConfig, VariantConfig
from components.shared import iam_policies
from components.shared.instance_storage import has_instance_storage

#: Content types the capture decodes as CSV or JSON (the rest is base64-encoded).
CAPTURE_CSV_TYPES = ["text/csv"]
CAPTURE_JSON_TYPES = ["application/json", "application/jsonlines"]


def endpoint_name(environment: str, endpoint: ServingEndpointConfig) -> str:
    """The endpoint's name in AWS: ``mlp-<environment>-<name>``.

    Clients invoke it by this name, and its alarms, logs and capture are keyed by it.
    """
    return f"mlp-{environment}-{endpoint.name}"


def config_resource_name(name: str) -> str:
    """The EndpointConfiguration's resource name, from which Pulumi auto-names configurations.

    Names are ``<it>-<hex>``; the rollout gate's reaper recognises the endpoint's configurations
    by it.
    """
    return f"{name}-config"


def variant_model(environment: str, variant: VariantConfig) -> dict[str, str | int]:
    """What a variant runs, as the stack exports it.

    ``{"model_group": "mlp-dev-churn", "model_version": 1}`` for a registered version,
    ``{"model_artifact": "<key>"}`` for an archive in the models bucket.
    """
    if variant.model is not None:
        return {
            "model_group": model_package_group(environment, variant.model),
            "model_version": variant.model.version,
        }
    return {"model_artifact": variant.model_artifact or ""}


def traffic_shares(variants: Sequence[VariantConfig]) -> dict[str, float]:
    """Each production variant's share of requests: weight / sum of weights."""
    total = sum(variant.weight for variant in variants)
    return {variant.name: round(variant.weight / total, 6) for variant in variants}


def _variant_args(
    variant: VariantConfig, model_name: pulumi.Output[str], shadow: bool
) -> (
    aws.sagemaker.EndpointConfigurationProductionVariantArgs
    | aws.sagemaker.EndpointConfigurationShadowProductionVariantArgs
):
    args_type = (
        aws.sagemaker.EndpointConfigurationShadowProductionVariantArgs
        if shadow
        else aws.sagemaker.EndpointConfigurationProductionVariantArgs
    )
    if variant.serverless is not None:
        return args_type(
            variant_name=variant.name,
            model_name=model_name,
            initial_variant_weight=variant.weight,
            serverless_config=ServerlessArgs(
                memory_size_in_mb=variant.serverless.memory_size_mb,
                max_concurrency=variant.serverless.max_concurrency,
                provisioned_concurrency=variant.serverless.provisioned_concurrency,
            ),
        )
    return args_type(
        variant_name=variant.name,
        model_name=model_name,
        instance_type=variant.instance_type,
        initial_instance_count=variant.initial_instance_count,
        # Integral weights: SageMaker reports them back as floats, and 90 == 90.0 gives no diff.
        initial_variant_weight=variant.weight,
    )


def _data_capture(
    spec: ServingEndpointConfig, platform: PlatformContext
) -> aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs | None:
    """Capture of requests and responses to the capture bucket, or None when capture is off."""
    if spec.capture_sampling_percentage is None:
        return None
    capture_bucket = platform.buckets["capture"].bucket
    return aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs(
        enable_capture=True,
        initial_sampling_percentage=spec.capture_sampling_percentage,
        destination_s3_uri=pulumi.Output.concat("s3://", capture_bucket),
        kms_key_id=platform.kms_key_arn,
        capture_options=[
            aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureOptionArgs(capture_mode=mode)
            for mode in ("Input", "Output")
        ],
        capture_content_type_header=CaptureContentTypes(
            csv_content_types=CAPTURE_CSV_TYPES, json_content_types=CAPTURE_JSON_TYPES
        ),
    )


def _endpoint_configuration(
    name: str,
    spec: ServingEndpointConfig,
    models: dict[str, ServingModel],
    platform: PlatformContext,
    parent: pulumi.Resource,
) -> aws.sagemaker.EndpointConfiguration:
    """The endpoint's configuration: its variants on their models, capture, volume encryption."""
    encrypt_volumes = not spec.is_serverless and not any(
        has_instance_storage(variant.instance_type) for variant in spec.all_variants
    )
    shadow = spec.shadow_variant
    return aws.sagemaker.EndpointConfiguration(
        config_resource_name(name),
        # No `name`: see the module docstring.
        production_variants=[
            _variant_args(variant, models[variant.name].model_name, shadow=False)
            for variant in spec.variants
        ],
        shadow_production_variants=[_variant_args(shadow, models[shadow.name].model_name, True)]
        if shadow
        else None,
        kms_key_arn=platform.kms_key_arn if encrypt_volumes else None,
        data_capture_config=_data_capture(spec, platform),
        # Retained in every tier: when SageMaker rolls an update back (the rollout gate then fails
        # `pulumi up`), Pulumi keeps the replaced configuration as a pending delete and deletes it
        # first on the next `up` (pulumi/pulumi#9979, pulumi/pulumi#2948) while the endpoint
        # still runs on it. Retained, Pulumi's delete only forgets it; the gate's reaper
        # (workloads/ops/reaper.py) deletes it once no endpoint uses it and it is not among the
        # newest retired ones kept for rollback.
        opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=True),
    )


def _deployment_config(
    rollout: RolloutConfig, alarm_names: list[pulumi.Output[str]]
) -> aws.sagemaker.EndpointDeploymentConfigArgs:
    """Blue/green with traffic shifting, rolled back automatically when an alarm fires."""
    step = {"type": "CAPACITY_PERCENT", "value": rollout.step_percent}
    return aws.sagemaker.EndpointDeploymentConfigArgs(
        blue_green_update_policy=BlueGreenUpdate(
            traffic_routing_configuration=Routing(
                type=rollout.strategy,
                wait_interval_in_seconds=rollout.wait_interval_seconds,
                canary_size=CanarySize(**step) if rollout.strategy == "CANARY" else None,
                linear_step_size=LinearStepSize(**step) if rollout.strategy == "LINEAR" else None,
            ),
            termination_wait_in_seconds=rollout.baking_period_seconds,
            maximum_execution_timeout_in_seconds=rollout.maximum_execution_timeout_seconds,
        ),
        auto_rollback_configuration=AutoRollback(
            alarms=[RollbackAlarm(alarm_name=name) for name in alarm_names]
        ),
    )


def _rollout_gate(
    name: str,
    spec: ServingEndpointConfig,
    platform: PlatformContext,
    endpoint: aws.sagemaker.Endpoint,
    endpoint_config: aws.sagemaker.EndpointConfiguration,
    alarm_names: list[pulumi.Output[str]],
    parent: pulumi.Resource,
) -> RolloutGate:
    """The gate that fails the deployment unless ``endpoint`` runs ``endpoint_config``.

    ``alarm_names`` are the alarms the deployment config rolls back on (none for serverless).
    """
    return RolloutGate(
        f"{name}-rollout-gate",
        endpoint_name=endpoint.name,
        expected_config_name=endpoint_config.name,
        region=platform.region,
        alarm_names=[] if spec.is_serverless else alarm_names,
        timeout_seconds=gate_timeout_seconds(spec),
        config_prefix=config_resource_name(name),
        keep_retired_configs=spec.rollout.keep_retired_configs,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[endpoint]),
    )


class ServingEndpoint(pulumi.ComponentResource):
    """A SageMaker endpoint: weighted variants, data capture, guarded rollouts, autoscaling."""

    endpoint_name: pulumi.Output[str]
    """The endpoint's name (what clients invoke)."""
    endpoint_arn: pulumi.Output[str]
    """The endpoint's ARN."""
    endpoint_config_name: pulumi.Output[str]
    """The configuration the endpoint should be on (what ``workloads.ops verify`` checks)."""
    variant_names: list[str]
    """Production variant names."""
    traffic_shares: dict[str, float]
    """Each production variant's share of requests (weight / sum)."""
    capture_uri: pulumi.Output[str] | None
    """Where captured requests land (``s3://<capture bucket>/<endpoint>/``), if captured."""
    alarm_names: pulumi.Output[list[str]]
    """The alarms that roll back updates."""
    models: dict[str, ServingModel]
    """Each variant's model, by variant name."""
    variant_models: dict[str, dict[str, str | int]]
    """What each variant (and the shadow) runs: its ``model_artifact``, or the model package
    group and version of a registered version (:func:`variant_model`)."""

    def __init__(
        self,
        name: str,
        spec: ServingEndpointConfig,
        platform: PlatformContext,
        *,
        alarm_topic_arn: pulumi.Input[str],
        code_archive_key: pulumi.Input[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Deploy the endpoint ``spec`` into ``platform``.

        ``alarm_topic_arn`` is the topic its alarms notify; ``code_archive_key`` the layer's
        inference source archive in the models bucket (None when the layer built none).
        """
        super().__init__("mlplatform:serving:ServingEndpoint", name, None, opts)
        full_name = endpoint_name(platform.environment, spec)
        model_args = ServingModelArgs(endpoint_name=full_name, code_archive_key=code_archive_key)
        self.models = {
            variant.name: ServingModel(
                f"{name}-{variant.name}",
                variant,
                platform,
                model_args,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for variant in spec.all_variants
        }

        aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/sagemaker/Endpoints/{full_name}",
            kms_key_id=platform.kms_key_arn,
            retention_in_days=platform.log_retention_days,
            opts=platform.retention.stateful(self),
        )
        endpoint_config = _endpoint_configuration(name, spec, self.models, platform, parent=self)

        alarms = [
            alarm
            for variant in spec.variants
            for alarm in variant_alarms(
                f"{name}-{variant.name}",
                endpoint_name=full_name,
                variant_name=variant.name,
                thresholds=spec.alarms,
                topic_arn=alarm_topic_arn,
                parent=self,
            )
        ]
        alarm_names = [alarm.name for alarm in alarms]
        endpoint = aws.sagemaker.Endpoint(
            f"{name}-endpoint",
            name=full_name,
            endpoint_config_name=endpoint_config.name,
            # Serverless endpoints update in place; traffic shifting needs instance fleets.
            deployment_config=None
            if spec.is_serverless
            else _deployment_config(spec.rollout, alarm_names),
            opts=pulumi.ResourceOptions(parent=self),
        )
        _rollout_gate(name, spec, platform, endpoint, endpoint_config, alarm_names, parent=self)
        for variant in spec.variants:
            variant_autoscaling(
                f"{name}-{variant.name}",
                endpoint_name=endpoint.name,
                variant=variant,
                endpoint=endpoint,
                parent=self,
            )

        self.endpoint_name = endpoint.name
        self.endpoint_arn = endpoint.arn
        self.endpoint_config_name = endpoint_config.name
        self.variant_names = [variant.name for variant in spec.variants]
        self.variant_models = {
            variant.name: variant_model(platform.environment, variant)
            for variant in spec.all_variants
        }
        self.traffic_shares = traffic_shares(spec.variants)
        # SageMaker appends <endpoint>/<variant>/yyyy/mm/dd/hh to the capture destination.
        self.capture_uri = (
            pulumi.Output.concat("s3://", platform.buckets["capture"].bucket, f"/{full_name}/")
            if spec.capture_sampling_percentage is not None
            else None
        )
        self.alarm_names = pulumi.Output.all(*alarm_names)
        self.register_outputs(self.exports())

    def exports(self) -> dict[str, pulumi.Input[object]]:
        """The endpoint's outputs as the stack exports them."""
        return {
            "name": self.endpoint_name,
            "arn": self.endpoint_arn,
            "endpoint_config_name": self.endpoint_config_name,
            "variants": self.variant_names,
            "traffic_shares": self.traffic_shares,
            "capture_uri": self.capture_uri,
            "rollback_alarms": self.alarm_names,
            "variant_models": self.variant_models,
        }

    def grant_invoke(self, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        """Allow ``role`` to invoke this endpoint (and nothing else), without writing IAM JSON."""
        return aws.iam.RolePolicy(
            name,
            role=role.id,
            policy=self.endpoint_arn.apply(
                lambda arn: iam_policies.policy_json(iam_policies.invoke_endpoint_statement([arn]))
            ),
            opts=pulumi.ResourceOptions(parent=role),
        )
