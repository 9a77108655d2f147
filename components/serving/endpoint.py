"""ServingEndpoint: a SageMaker endpoint with weighted variants, capture, guardrails and scaling.

Children, in the order they depend on each other:

* one :class:`ServingModel` per variant (and for the shadow variant);
* the endpoint's log group (KMS, retention), which SageMaker would otherwise create unencrypted;
* an EndpointConfiguration, auto-named so that any change makes a new configuration and the
  endpoint moves to it (configurations are immutable; see DESIGN.md);
* three alarms per production variant (:mod:`components.serving.alarms`);
* the Endpoint, with a blue/green deployment policy whose auto-rollback watches those alarms;
* autoscaling per variant that asks for it (:mod:`components.serving.autoscaling`).

The endpoint itself has a fixed name (``mlp-<env>-<name>``): clients call it by name, and its
alarms need the name before it exists, while the endpoint needs the alarms' names for rollback.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
from pulumi_aws.sagemaker import (
    EndpointConfigurationDataCaptureConfigCaptureContentTypeHeaderArgs as CaptureContentTypes,
)
from pulumi_aws.sagemaker import (
    EndpointConfigurationProductionVariantServerlessConfigArgs as ServerlessConfig,
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

from components.serving.alarms import AlarmThresholds, variant_alarms
from components.serving.autoscaling import ScalingBounds, variant_autoscaling
from components.serving.model import ModelImage, ServingModel, ServingModelArgs
from components.shared import iam_policies
from components.shared.instance_storage import has_instance_storage
from components.shared.retention import DataRetention

#: SageMaker's limit on production variants per endpoint configuration.
MAX_VARIANTS = 10

#: Content types the capture decodes as CSV or JSON (the rest is base64-encoded).
CAPTURE_CSV_TYPES = ["text/csv"]
CAPTURE_JSON_TYPES = ["application/json", "application/jsonlines"]


@dataclass(frozen=True)
class ServerlessSpec:
    """Capacity of a serverless variant."""

    memory_size_mb: int
    """Memory per worker (1024-6144, 1 GB steps)."""
    max_concurrency: int
    """Concurrent invocations before throttling."""
    provisioned_concurrency: int | None = None
    """Warm workers."""


@dataclass(frozen=True)
class VariantSpec:
    """One variant: which model, on what compute, with how much traffic."""

    name: str
    """Variant name, unique in the endpoint."""
    image: ModelImage
    """The container image."""
    model_artifact_key: str
    """Key of the model archive in the models bucket."""
    weight: int = 1
    """Relative traffic weight (share = weight / sum)."""
    instance_type: str | None = "ml.m5.large"
    """Instance type (None for serverless)."""
    initial_instance_count: int = 1
    """Instances at deploy."""
    serverless: ServerlessSpec | None = None
    """Serverless capacity instead of instances."""
    scaling: ScalingBounds | None = None
    """Autoscaling bounds; None keeps the initial count."""


@dataclass(frozen=True)
class RolloutSpec:
    """Blue/green traffic shifting of updates."""

    strategy: str = "CANARY"
    """``CANARY``, ``LINEAR`` or ``ALL_AT_ONCE``."""
    step_percent: int = 10
    """Capacity share of the canary or of each linear step."""
    wait_interval_seconds: int = 300
    """Time between shifts."""
    baking_period_seconds: int = 600
    """Time the new fleet serves alone before the old one is terminated."""
    maximum_execution_timeout_seconds: int | None = None
    """Bound on the whole update."""


@dataclass(frozen=True)
class EndpointSpec:
    """What one endpoint serves and how: its variants, capture, rollout and alarms."""

    endpoint_name: str
    """The endpoint's name (``mlp-<env>-<name>``)."""
    variants: list[VariantSpec]
    """Production variants (1-10)."""
    rollout: RolloutSpec
    """Update guardrails."""
    alarms: AlarmThresholds
    """Alarm thresholds."""
    shadow_variant: VariantSpec | None = None
    """A variant receiving a copy of the traffic."""
    capture_sampling_percentage: int | None = 100
    """Share of requests captured; None turns capture off."""

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= len(self.variants) <= MAX_VARIANTS:
            problems.append(f"variants: 1 to {MAX_VARIANTS} required, got {len(self.variants)}")
        names = [variant.name for variant in self.all_variants]
        if len(set(names)) != len(names):
            problems.append(f"variants: names must be unique, got {names}")
        if any(variant.weight < 0 for variant in self.variants):
            problems.append("variants: weights must be >= 0")
        elif self.variants and sum(variant.weight for variant in self.variants) <= 0:
            problems.append("variants: weights must have a positive sum")
        if self.is_serverless and self.capture_sampling_percentage is not None:
            problems.append("capture_sampling_percentage: serverless endpoints cannot capture")
        if problems:
            raise ValueError(f"endpoint {self.endpoint_name}: " + "; ".join(problems))

    @property
    def all_variants(self) -> list[VariantSpec]:
        """Production variants, then the shadow variant if any."""
        return [*self.variants, *([self.shadow_variant] if self.shadow_variant else [])]

    @property
    def is_serverless(self) -> bool:
        """Whether the endpoint runs serverless (then it is its only variant)."""
        return any(variant.serverless is not None for variant in self.variants)


@dataclass(frozen=True)
class ServingPlatform:
    """What every endpoint of a stack shares: data-layer outputs, the alarm topic, the code."""

    alarm_topic_arn: pulumi.Input[str]
    """Topic the alarms notify."""
    models_bucket: pulumi.Input[str]
    """The models bucket."""
    capture_bucket: pulumi.Input[str]
    """The capture bucket."""
    kms_key_arn: pulumi.Input[str]
    """The platform key."""
    code_archive_key: pulumi.Input[str] | None
    """Key of the inference source archive in the models bucket."""
    subnet_ids: pulumi.Input[list[str]]
    """Private subnets."""
    security_group_id: pulumi.Input[str]
    """Workload security group."""
    vpc_id: pulumi.Input[str]
    """The VPC."""
    region: str
    """The stack's region."""
    account_id: pulumi.Input[str]
    """The stack's account."""
    partition: pulumi.Input[str]
    """The stack's partition."""
    log_retention_days: int
    """Retention of the endpoints' log groups."""
    retention: DataRetention
    """Whether the log groups survive destroy."""


def traffic_shares(variants: list[VariantSpec]) -> dict[str, float]:
    """Each production variant's share of requests: weight / sum of weights."""
    total = sum(variant.weight for variant in variants)
    return {variant.name: round(variant.weight / total, 6) for variant in variants}


def _variant_args(
    variant: VariantSpec, model_name: pulumi.Output[str], shadow: bool
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
            serverless_config=ServerlessConfig(
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


def _deployment_config(
    rollout: RolloutSpec, alarm_names: list[pulumi.Output[str]]
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

    def __init__(
        self,
        name: str,
        spec: EndpointSpec,
        platform: ServingPlatform,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlplatform:serving:ServingEndpoint", name, None, opts)
        endpoint_name = spec.endpoint_name

        self.models = {}
        for variant in spec.all_variants:
            self.models[variant.name] = ServingModel(
                f"{name}-{variant.name}",
                ServingModelArgs(
                    endpoint_name=endpoint_name,
                    image=variant.image,
                    models_bucket=platform.models_bucket,
                    model_artifact_key=variant.model_artifact_key,
                    code_archive_key=platform.code_archive_key
                    if variant.image.downloads_code
                    else None,
                    capture_bucket=platform.capture_bucket,
                    kms_key_arn=platform.kms_key_arn,
                    subnet_ids=platform.subnet_ids,
                    security_group_id=platform.security_group_id,
                    vpc_id=platform.vpc_id,
                    # Serverless inference cannot run in a VPC.
                    in_vpc=variant.serverless is None,
                    region=platform.region,
                    account_id=platform.account_id,
                    partition=platform.partition,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/sagemaker/Endpoints/{endpoint_name}",
            kms_key_id=platform.kms_key_arn,
            retention_in_days=platform.log_retention_days,
            opts=platform.retention.stateful(self),
        )

        capture = None
        self.capture_uri = None
        if spec.capture_sampling_percentage is not None:
            # SageMaker appends <endpoint>/<variant>/yyyy/mm/dd/hh to the destination.
            self.capture_uri = pulumi.Output.concat(
                "s3://", platform.capture_bucket, f"/{endpoint_name}/"
            )
            capture = aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs(
                enable_capture=True,
                initial_sampling_percentage=spec.capture_sampling_percentage,
                destination_s3_uri=pulumi.Output.concat("s3://", platform.capture_bucket),
                kms_key_id=platform.kms_key_arn,
                capture_options=[
                    aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureOptionArgs(
                        capture_mode=mode
                    )
                    for mode in ("Input", "Output")
                ],
                capture_content_type_header=CaptureContentTypes(
                    csv_content_types=CAPTURE_CSV_TYPES, json_content_types=CAPTURE_JSON_TYPES
                ),
            )
        encrypt_volumes = not spec.is_serverless and not any(
            has_instance_storage(variant.instance_type) for variant in spec.all_variants
        )
        endpoint_config = aws.sagemaker.EndpointConfiguration(
            f"{name}-config",
            # No `name`: see the module docstring.
            production_variants=[
                _variant_args(variant, self.models[variant.name].model_name, shadow=False)
                for variant in spec.variants
            ],
            shadow_production_variants=[
                _variant_args(
                    spec.shadow_variant, self.models[spec.shadow_variant.name].model_name, True
                )
            ]
            if spec.shadow_variant
            else None,
            kms_key_arn=platform.kms_key_arn if encrypt_volumes else None,
            data_capture_config=capture,
            opts=pulumi.ResourceOptions(parent=self),
        )

        alarms = [
            alarm
            for variant in spec.variants
            for alarm in variant_alarms(
                f"{name}-{variant.name}",
                endpoint_name=endpoint_name,
                variant_name=variant.name,
                thresholds=spec.alarms,
                topic_arn=platform.alarm_topic_arn,
                parent=self,
            )
        ]
        endpoint = aws.sagemaker.Endpoint(
            f"{name}-endpoint",
            name=endpoint_name,
            endpoint_config_name=endpoint_config.name,
            # Serverless endpoints update in place; traffic shifting needs instance fleets.
            deployment_config=None
            if spec.is_serverless
            else _deployment_config(spec.rollout, [alarm.name for alarm in alarms]),
            opts=pulumi.ResourceOptions(parent=self),
        )

        for variant in spec.variants:
            if variant.scaling is not None:
                variant_autoscaling(
                    f"{name}-{variant.name}",
                    endpoint_name=endpoint.name,
                    variant_name=variant.name,
                    bounds=variant.scaling,
                    endpoint=endpoint,
                    parent=self,
                )

        self.endpoint_name = endpoint.name
        self.endpoint_arn = endpoint.arn
        self.endpoint_config_name = endpoint_config.name
        self.variant_names = [variant.name for variant in spec.variants]
        self.traffic_shares = traffic_shares(spec.variants)
        self.alarm_names = pulumi.Output.all(*[alarm.name for alarm in alarms])
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
