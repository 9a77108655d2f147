"""The serving layer's input model: the ``serving`` section of a stack (endpoints and variants)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
)

from components.shared.image_tags import PREBUILT_FRAMEWORK_TAGS, tag_version
from components.shared.spec_rules import (
    ARTIFACT_KEY,
    MAX_S3_KEY,
    NAME_PATTERN,
    ImageConfig,
    Section,
    email_addresses,
    image_source,
    is_production,
    name_fits_validator,
    platform_name,
    production_minimum_validator,
    repeated_names,
    tag_needs_framework,
    unique_names_validator,
)
from workloads.model_layout import LIBRARY_NAMES, version_conflict

#: SageMaker limits on an endpoint configuration (CreateEndpointConfig).
MAX_VARIANTS_PER_ENDPOINT = 10


#: SageMaker's limit on an endpoint name, which is ``mlp-<env>-<name>`` (CreateEndpoint).
MAX_ENDPOINT_NAME = 63


#: The most instances one variant starts with or scales to (the same bound as autoscaling's
#: ``max_capacity``; SageMaker's own ceiling is the account's per-instance-type quota).
MAX_INSTANCES_PER_VARIANT = 100


#: The largest relative variant weight: integer weights up to 1000 give 0.1% traffic steps.
MAX_VARIANT_WEIGHT = 1000


#: Upper bound on alarm thresholds that count events per period (a platform bound).
MAX_ALARM_COUNT_THRESHOLD = 1_000_000


#: The highest version number a variant may name (a platform bound; SageMaker numbers a group's
#: versions from 1 upwards).
MAX_MODEL_VERSION = 1_000_000


#: Memory sizes a serverless variant may have (1 GB steps, 1-6 GB).
SERVERLESS_MEMORY_SIZES_MB = (1024, 2048, 3072, 4096, 5120, 6144)


Framework = Literal["sklearn", "xgboost", "pytorch"]


class ServerlessConfig(Section):
    """A serverless variant: no instances to manage, billed per request (cheap dev endpoints)."""

    memory_size_mb: int = 2048
    """Memory of each worker, one of 1024, 2048, ... 6144."""
    max_concurrency: int = Field(default=5, ge=1, le=200)
    """Concurrent invocations the variant serves before throttling (1-200)."""
    provisioned_concurrency: int | None = Field(default=None, ge=1, le=200)
    """Workers kept warm (no cold starts); at most ``max_concurrency``. Unset: none."""

    @field_validator("memory_size_mb")
    @classmethod
    def _memory_step(cls, value: int) -> int:
        if value not in SERVERLESS_MEMORY_SIZES_MB:
            sizes = ", ".join(str(size) for size in SERVERLESS_MEMORY_SIZES_MB)
            raise ValueError(f"must be one of {sizes} (SageMaker serverless memory sizes)")
        return value

    @field_validator("provisioned_concurrency")
    @classmethod
    def _within_max(cls, value: int | None, info: ValidationInfo) -> int | None:
        maximum = info.data.get("max_concurrency")
        if value is not None and maximum is not None and value > maximum:
            raise ValueError(f"must be <= max_concurrency ({maximum})")
        return value


class AutoscalingConfig(Section):
    """Target tracking on ``SageMakerVariantInvocationsPerInstance`` for one variant."""

    min_capacity: int | None = Field(default=None, ge=1, le=MAX_INSTANCES_PER_VARIANT)
    """The fewest instances; defaults to, and must equal, the variant's initial count."""
    max_capacity: int = Field(ge=1, le=MAX_INSTANCES_PER_VARIANT)
    """The most instances the variant scales out to (at most 100)."""
    target_invocations_per_instance: int = Field(default=100, ge=1, le=1_000_000)
    """Invocations per instance per minute the policy keeps the variant at (at most 1,000,000)."""
    scale_in_cooldown_seconds: int = Field(default=300, ge=0, le=3600)
    """Wait after a scale-in before the next one (scale in slowly)."""
    scale_out_cooldown_seconds: int = Field(default=60, ge=0, le=3600)
    """Wait after a scale-out before the next one."""


def container_tag(framework: str, tag: str | None) -> str:
    """A prebuilt container's tag: ``tag`` when set, else the framework's default."""
    return tag or PREBUILT_FRAMEWORK_TAGS[framework]


class RegisteredModelConfig(Section):
    """A registered model version: version ``version`` of the model package group ``group``."""

    group: str = Field(pattern=r"^[a-z0-9](-*[a-z0-9])*$", max_length=63)
    """The group's short name, as a training pipeline's ``registry.group`` (or name) gives it;
    in AWS ``mlp-<environment>-<group>``. It must be a group a training pipeline of the stack
    registers into."""
    version: int = Field(ge=1, le=MAX_MODEL_VERSION)
    """The version number in the group (SageMaker numbers versions from 1). It must be Approved
    when ``pulumi up`` runs: the approval check refuses any other status."""


class VariantConfig(Section):
    """One variant of an endpoint: a model and the compute that serves it."""

    name: str = Field(pattern=NAME_PATTERN)
    """Variant name, unique within the endpoint (kept across blue/green updates)."""
    model_artifact: str | None = Field(default=None, max_length=MAX_S3_KEY)
    """Key of the model archive (``model.tar.gz``) in the platform's models bucket; or set
    ``model``. Give each model its own key: ``python -m workloads.ops package`` uploads to
    ``<prefix>/<sha16>/model.tar.gz`` and never overwrites another archive there."""
    model: RegisteredModelConfig | None = Field(default=None, validate_default=True)
    """Serve a registered version (``{group: churn, version: 7}``) instead of ``model_artifact``:
    the model is built from the model package, whose artifact is the training job's output."""
    framework: Framework | None = None
    """Serve with AWS's prebuilt container for this framework and our handlers; or set ``image``."""
    framework_image_tag: str | None = None
    """The prebuilt container's tag; defaults per framework (see PREBUILT_FRAMEWORK_TAGS)."""
    framework_version: str | None = Field(default=None, pattern=r"^\d+\.\d+(\.\d+)?$")
    """The library version the model was trained with (its metadata.json's ``framework_version``,
    e.g. ``1.9.1``); with it the container's version is checked at plan time. Unset: checked when
    the model loads (and, for a registered version, at ``pulumi up`` against its package)."""
    image: ImageConfig | None = Field(default=None, validate_default=True)
    """Serve with our own image (the standalone server) instead of a prebuilt container."""
    instance_type: str | None = Field(default="ml.m5.large", pattern=r"^ml\.[a-z0-9-]+\.\w+$")
    """Instance type of an instance-based variant (unset for a serverless one)."""
    initial_instance_count: int = Field(default=1, ge=1, le=MAX_INSTANCES_PER_VARIANT)
    """Instances at deploy (at most 100); production requires at least 2 (one per availability
    zone)."""
    weight: int = Field(default=1, ge=0, le=MAX_VARIANT_WEIGHT)
    """Relative traffic weight (0-1000): the variant's share is weight / sum of the endpoint's
    weights."""
    serverless: ServerlessConfig | None = None
    """Make the variant serverless (then ``instance_type`` must be unset)."""
    autoscaling: AutoscalingConfig | None = None
    """Scale the instance count with traffic; unset keeps ``initial_instance_count``."""

    @field_validator("model_artifact")
    @classmethod
    def _archive_key(cls, value: str | None) -> str | None:
        # An explicit null is a variant without an archive: the model check below names it.
        if value is not None and (not ARTIFACT_KEY.match(value) or ".." in value):
            raise ValueError(
                "must be the key of a .tar.gz archive in the models bucket "
                "(e.g. churn/v1/model.tar.gz), without a leading '/' or '..'"
            )
        return value

    @field_validator("model")
    @classmethod
    def _one_model_source(
        cls, value: RegisteredModelConfig | None, info: ValidationInfo
    ) -> RegisteredModelConfig | None:
        if "model_artifact" not in info.data:
            return value  # model_artifact itself is invalid and reported
        artifact = info.data["model_artifact"]
        if value is not None and artifact is not None:
            raise ValueError("set either 'model_artifact' or 'model', not both")
        if value is None and artifact is None:
            raise ValueError(
                "set 'model_artifact' (an archive in the models bucket) or 'model' "
                "(a registered version: {group, version})"
            )
        return value

    _framework_tag = field_validator("framework_image_tag")(tag_needs_framework)

    @field_validator("framework_version")
    @classmethod
    def _servable(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or "framework_image_tag" not in info.data:
            return value
        framework = info.data.get("framework")
        if framework is None:
            raise ValueError("only applies with 'framework'")
        tag = container_tag(framework, info.data["framework_image_tag"])
        serving = tag_version(tag)
        if conflict := version_conflict(framework, value, serving):
            raise ValueError(
                f"the model was trained with {LIBRARY_NAMES[framework]} {value} but the "
                f"{framework} container {tag} has {serving} ({conflict}): set "
                "framework_image_tag to a matching container or retrain"
            )
        return value

    @field_validator("image")
    @classmethod
    def _one_image_source(cls, value: ImageConfig | None, info: ValidationInfo) -> Any:
        image_source(value, info)
        return value

    _production_is_redundant = production_minimum_validator("initial_instance_count", 2)

    @field_validator("serverless")
    @classmethod
    def _serverless_has_no_instances(
        cls, value: ServerlessConfig | None, info: ValidationInfo
    ) -> ServerlessConfig | None:
        if value is None:
            return value
        if info.data.get("instance_type") is not None:
            raise ValueError("a serverless variant has no instance_type: set it to null")
        if is_production(info):
            raise ValueError(
                "not allowed in a production stack (serverless variants run outside the VPC "
                "and without data capture)"
            )
        return value

    @field_validator("autoscaling")
    @classmethod
    def _scalable(
        cls, value: AutoscalingConfig | None, info: ValidationInfo
    ) -> AutoscalingConfig | None:
        if value is None:
            return value
        if info.data.get("serverless") is not None:
            raise ValueError("serverless variants scale by themselves (max_concurrency)")
        instance_type = info.data.get("instance_type") or ""
        if instance_type.startswith("ml.t"):
            raise ValueError(
                f"not available on burstable instance type {instance_type} "
                "(SageMaker does not autoscale ml.t* variants)"
            )
        initial = info.data.get("initial_instance_count")
        if initial is None:
            return value
        if value.min_capacity is not None and value.min_capacity != initial:
            # SageMaker resets a variant to its initial count on every endpoint update: a lower
            # minimum would be scaled back up by each deploy, a higher one scales below it.
            raise ValueError(
                f"min_capacity must equal initial_instance_count ({initial}): every endpoint "
                "update resets the variant to its initial count"
            )
        if value.max_capacity < initial:
            raise ValueError(f"max_capacity must be >= initial_instance_count ({initial})")
        return value

    @property
    def is_serverless(self) -> bool:
        """Whether the variant is serverless rather than instance-based."""
        return self.serverless is not None

    @property
    def framework_tag(self) -> str | None:
        """The prebuilt container's tag (its own or the framework's default); None for ``image``."""
        if self.framework is None:
            return None
        return container_tag(self.framework, self.framework_image_tag)

    @property
    def scaling_min_capacity(self) -> int:
        """The fewest instances autoscaling keeps: the initial instance count.

        Every endpoint update resets the variant to its initial count, so ``_scalable`` holds
        ``autoscaling.min_capacity`` (when set) to it.
        """
        return self.initial_instance_count


class DataCaptureConfig(Section):
    """Capture of requests and responses to the capture bucket (for monitoring)."""

    enabled: bool = True
    """Capture traffic; serverless endpoints cannot and must set this to false."""
    sampling_percentage: int = Field(default=100, ge=1, le=100)
    """Percentage of requests captured."""


class RolloutConfig(Section):
    """How an update shifts traffic from the old fleet to the new one (deployment guardrails)."""

    strategy: Literal["CANARY", "LINEAR", "ALL_AT_ONCE"] = "CANARY"
    """Blue/green traffic shifting: a canary step, linear steps, or everything at once."""
    step_percent: int = Field(default=10, ge=1, le=50)
    """Capacity share of the canary, or of each linear step."""
    wait_interval_seconds: int = Field(default=300, ge=0, le=3600)
    """Time between traffic shifts, watched by the rollback alarms."""
    baking_period_seconds: int = Field(default=600, ge=0, le=3600)
    """Time the new fleet takes all traffic while the alarms watch, before the old one goes."""
    maximum_execution_timeout_seconds: int | None = Field(default=None, ge=600, le=14400)
    """Upper bound on the whole update; unset lets SageMaker choose."""
    keep_retired_configs: int = Field(default=2, ge=0, le=10)
    """Retired endpoint configurations (and their models) kept for an instant rollback after a
    verified rollout; the rollout gate deletes older ones that no endpoint uses (default 2, 0..10;
    every tier, also serverless endpoints)."""


class EndpointAlarmsConfig(Section):
    """Thresholds of the endpoint's alarms (they also roll a deployment back)."""

    error_5xx_threshold: int = Field(default=1, ge=1, le=MAX_ALARM_COUNT_THRESHOLD)
    """5XX errors per period that raise the alarm."""
    invocation_errors_threshold: int = Field(default=5, ge=1, le=MAX_ALARM_COUNT_THRESHOLD)
    """Model errors (the container's non-2XX answers) per period that raise the alarm."""
    latency_p99_ms: int = Field(default=500, ge=1, le=60000)
    """p99 model latency in milliseconds that raises the alarm."""
    period_seconds: Literal[10, 30, 60, 300] = 60
    """Length of one evaluation period."""
    evaluation_periods: int = Field(default=3, ge=1, le=10)
    """Consecutive breaching periods before the alarm fires."""


class ServingEndpointConfig(Section):
    """One SageMaker endpoint: its variants, capture, rollout guardrails and alarms."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,40}[a-z0-9]$")
    """Short endpoint name; the endpoint is ``mlp-<environment>-<name>`` (at most 63 characters,
    SageMaker's limit)."""
    variants: tuple[VariantConfig, ...]
    """Production variants (1-10) sharing traffic by weight."""
    shadow_variant: VariantConfig | None = None
    """A variant that receives a copy of the traffic; its answers are captured, not returned."""
    # validate_default: the defaults (capture on, canary) must pass the serverless rules too.
    data_capture: DataCaptureConfig = Field(default=DataCaptureConfig(), validate_default=True)
    """Request/response capture."""
    rollout: RolloutConfig = Field(default=RolloutConfig(), validate_default=True)
    """Guardrails for updates."""
    alarms: EndpointAlarmsConfig = EndpointAlarmsConfig()
    """Alarm thresholds."""

    _endpoint_name_fits = name_fits_validator(
        "name", platform_name, MAX_ENDPOINT_NAME, "SageMaker endpoint name"
    )

    @field_validator("variants")
    @classmethod
    def _service_limits(cls, value: tuple[VariantConfig, ...]) -> tuple[VariantConfig, ...]:
        problems = []
        if not value:
            problems.append("at least one variant is required")
        if len(value) > MAX_VARIANTS_PER_ENDPOINT:
            problems.append(
                f"at most {MAX_VARIANTS_PER_ENDPOINT} variants per endpoint "
                f"(a SageMaker limit), got {len(value)}"
            )
        names = [variant.name for variant in value]
        if repeated := repeated_names("variant names", names):
            problems.append(repeated)
        if value and sum(variant.weight for variant in value) <= 0:
            problems.append("weights must have a positive sum (a variant's share is weight / sum)")
        serverless = [variant.name for variant in value if variant.is_serverless]
        if serverless and len(value) > 1:
            problems.append(
                "a serverless variant must be the endpoint's only variant (a SageMaker rule)"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("shadow_variant")
    @classmethod
    def _one_production_variant(
        cls, value: VariantConfig | None, info: ValidationInfo
    ) -> VariantConfig | None:
        variants = info.data.get("variants")
        if value is None or variants is None:
            return value
        if len(variants) != 1:
            raise ValueError("needs exactly one production variant to shadow")
        if value.name == variants[0].name:
            raise ValueError(f"name '{value.name}' is already the production variant's")
        if value.is_serverless or variants[0].is_serverless:
            raise ValueError("shadow testing needs instance-based variants")
        return value

    @field_validator("data_capture")
    @classmethod
    def _capture_possible(cls, value: DataCaptureConfig, info: ValidationInfo) -> DataCaptureConfig:
        variants = info.data.get("variants") or ()
        if value.enabled and any(variant.is_serverless for variant in variants):
            raise ValueError("serverless endpoints cannot capture data: set enabled to false")
        return value

    @field_validator("rollout")
    @classmethod
    def _guardrails_possible(cls, value: RolloutConfig, info: ValidationInfo) -> RolloutConfig:
        variants = info.data.get("variants") or ()
        serverless = any(variant.is_serverless for variant in variants)
        if serverless and value.strategy != "ALL_AT_ONCE":
            raise ValueError(
                f"{value.strategy} traffic shifting needs instance-based variants: "
                "use ALL_AT_ONCE on a serverless endpoint"
            )
        return value

    @property
    def is_serverless(self) -> bool:
        """Whether the endpoint runs on a serverless variant."""
        return any(variant.is_serverless for variant in self.variants)

    @property
    def all_variants(self) -> tuple[VariantConfig, ...]:
        """Production variants in order, then the shadow variant if any (each gets a model)."""
        return (*self.variants, *((self.shadow_variant,) if self.shadow_variant else ()))

    @property
    def capture_sampling_percentage(self) -> int | None:
        """Share of requests captured, or None when capture is off."""
        return self.data_capture.sampling_percentage if self.data_capture.enabled else None


class ServingConfig(Section):
    """Serving endpoints (the serving layer)."""

    endpoints: tuple[ServingEndpointConfig, ...] = ()
    """The endpoints the layer deploys."""
    alarm_emails: tuple[str, ...] = ()
    """Addresses subscribed to the serving alarms' SNS topic (each confirms by mail)."""

    _unique_endpoints = unique_names_validator(
        "endpoints", "endpoint names", lambda endpoint: endpoint.name
    )

    _emails = field_validator("alarm_emails")(email_addresses)
