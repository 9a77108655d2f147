"""Stack configuration: the one place a stack's config is read and validated.

A stack's ``Pulumi.<stack>.yaml`` holds one key per section under the project's namespace
(``ml-platform:data``, ``ml-platform:layers`` ...) plus ``aws:region``. :func:`load_platform_config`
turns those raw values into a frozen :class:`PlatformConfig` or raises one :class:`ConfigError`
listing every problem as ``path: reason`` (for example ``data.kms.deletion_window_days: must be
>= 7``), before any resource exists.

Rules that only hold in production (multi-AZ, a 30-day key deletion window, retained data) are
field validators that read the stack's tier from the validation context, so they are reported at
the exact path together with every other problem in a single pass.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from components.training.pipeline_definition import as_hyperparameter
from stacks import training_hyperparameters
from stacks.layers import LAYERS, PROJECT
from workloads.features.definitions import DefinitionError, FeatureGroupDefinition
from workloads.monitoring.baseline_files import baseline_problems
from workloads.training.objectives import METRICS

#: Retention values CloudWatch Logs accepts (PutRetentionPolicy); 0 keeps logs forever.
LOG_RETENTION_DAYS = (
    0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

#: S3 storage classes a lifecycle rule may transition objects to.
StorageClass = Literal[
    "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"
]

#: S3 refuses transitions to the infrequent-access classes before an object is 30 days old.
_MIN_DAYS_FOR_IA = 30

#: The most days any lifecycle rule may name: 100 years. S3 documents no maximum beyond its
#: integer type (LifecycleExpiration ``Days``); this platform bound keeps values meaningful.
MAX_LIFECYCLE_DAYS = 36500

#: The validation context's key of the validated serving section (monitoring checks against it).
_SERVING_CONTEXT = "serving"

#: The validation context's keys of the algorithm and task of the training pipeline being
#: validated (its tuning ranges check against them).
_ALGORITHM_CONTEXT = "training_algorithm"
_TASK_CONTEXT = "training_task"

_PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(cidr) for cidr in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)


class ConfigError(Exception):
    """A stack's config is invalid; ``problems`` holds every ``path: reason`` line."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.stack = stack
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(
            f"invalid config for stack '{stack}' ({len(problems)} problem"
            f"{'s' if len(problems) != 1 else ''}):\n{lines}"
        )


class PathProblems(ValueError):
    """Several problems inside one field, each at its own path below it.

    Raised by a validator that checks a whole mapping or list at once (hyperparameters against
    the algorithm's table, tuning ranges, derived names): each ``(sub_path, reason)`` is reported
    as ``<field path>.<sub_path>: <reason>`` (``[1].min`` appends as an index; an empty sub-path
    is the field itself).
    """

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{path}: {reason}" for path, reason in self.problems))


class _Section(BaseModel):
    """Base of every config model: immutable, and unknown keys are errors rather than ignored.

    Numbers must be finite: YAML's ``.inf`` and ``.nan`` never reach a service.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


def _is_production(info: ValidationInfo) -> bool:
    return bool(info.context) and info.context.get("tier") == "production"


def _environment(info: ValidationInfo) -> str | None:
    """The stack's environment name when it is valid (names derived from it are checked then)."""
    environment = (info.context or {}).get("environment")
    return environment if isinstance(environment, str) else None


def _name_problem(full_name: str, limit: int, what: str, who: str = "AWS") -> str | None:
    """Why ``full_name`` (a name the program derives) is too long for ``what``, or None."""
    if len(full_name) <= limit:
        return None
    return (
        f"makes the {what} '{full_name}', {len(full_name)} characters; {who} allows at most {limit}"
    )


def _derived_name_fits(
    value: str,
    info: ValidationInfo,
    derive: Callable[[str], str],
    limit: int,
    what: str,
    who: str = "AWS",
) -> str:
    """``value``, once the name ``derive(environment)`` makes of it fits ``limit`` characters."""
    environment = _environment(info)
    if environment is not None and (
        problem := _name_problem(derive(environment), limit, what, who)
    ):
        raise ValueError(problem)
    return value


def _repeated(what: str, names: Sequence[str]) -> str | None:
    """``"<what> must be unique: a, b repeated"`` when ``names`` repeat one, else ``None``."""
    duplicates = sorted({name for name in names if names.count(name) > 1})
    return f"{what} must be unique: {', '.join(duplicates)} repeated" if duplicates else None


def _image_source(image: object, info: ValidationInfo) -> None:
    """Exactly one of a section's ``framework`` (a prebuilt container) and ``image`` is set.

    Called from the ``image`` validator, which runs with its default too (``validate_default``).
    """
    framework = info.data.get("framework")
    if image is not None and framework is not None:
        raise ValueError("set either 'framework' or 'image', not both")
    if image is None and framework is None and "framework" in info.data:
        raise ValueError("set 'framework' (a prebuilt container) or 'image' (our own image)")


def _email_addresses(value: tuple[str, ...]) -> tuple[str, ...]:
    """Every entry looks like an e-mail address (an alarm topic's subscriptions)."""
    for address in value:
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
            raise ValueError(f"'{address}' is not an email address")
    return value


def _tag_needs_framework(value: str | None, info: ValidationInfo) -> str | None:
    """``framework_image_tag`` only applies with ``framework``."""
    if value is not None and info.data.get("framework") is None:
        raise ValueError("only applies with 'framework'")
    return value


# --------------------------------------------------------------------------------------------
# data layer
# --------------------------------------------------------------------------------------------


class KmsKeyConfig(_Section):
    """The platform's customer-managed KMS key."""

    deletion_window_days: int = Field(default=30, ge=7, le=30)
    """Days a deleted key stays recoverable (AWS allows 7-30); production requires 30."""

    @field_validator("deletion_window_days")
    @classmethod
    def _production_keeps_keys_recoverable(cls, value: int, info: ValidationInfo) -> int:
        if _is_production(info) and value < 30:
            raise ValueError("must be 30 in a production stack")
        return value


class LifecycleTransition(_Section):
    """Move objects to a cheaper storage class after some days."""

    # storage_class comes first: the `days` rule below depends on it.
    storage_class: StorageClass
    """The target S3 storage class."""
    days: int = Field(ge=0, le=MAX_LIFECYCLE_DAYS)
    """Age in days at which objects move (at most 36500)."""

    @field_validator("days")
    @classmethod
    def _infrequent_access_needs_30_days(cls, value: int, info: ValidationInfo) -> int:
        storage_class = info.data.get("storage_class")
        if storage_class in ("STANDARD_IA", "ONEZONE_IA") and value < _MIN_DAYS_FOR_IA:
            raise ValueError(f"must be >= {_MIN_DAYS_FOR_IA} for {storage_class} (an S3 rule)")
        return value


class BucketLifecycle(_Section):
    """Lifecycle rules of one bucket."""

    transitions: tuple[LifecycleTransition, ...] = ()
    """Storage-class transitions of current object versions, in increasing order of days."""
    expiration_days: int | None = Field(default=None, ge=1, le=MAX_LIFECYCLE_DAYS)
    """Expire current object versions after this many days (at most 36500); unset keeps them."""
    noncurrent_version_expiration_days: int = Field(default=90, ge=1, le=MAX_LIFECYCLE_DAYS)
    """Delete versions this many days after they stopped being current (at most 36500)."""
    abort_incomplete_multipart_upload_days: int = Field(default=7, ge=1, le=MAX_LIFECYCLE_DAYS)
    """Abort multipart uploads left unfinished for this many days (their parts cost money)."""

    # Fields validate in declaration order, so `transitions` is in info.data here.
    @field_validator("expiration_days")
    @classmethod
    def _expire_after_transitions(cls, value: int | None, info: ValidationInfo) -> int | None:
        transitions = info.data.get("transitions") or ()
        if value is not None and transitions and value <= transitions[-1].days:
            raise ValueError(f"must be > {transitions[-1].days}, the last transition's days")
        return value

    @field_validator("transitions")
    @classmethod
    def _transitions_in_order(
        cls, value: tuple[LifecycleTransition, ...]
    ) -> tuple[LifecycleTransition, ...]:
        days = [transition.days for transition in value]
        if days != sorted(set(days)):
            raise ValueError("days must be strictly increasing from one transition to the next")
        return value


class BucketsConfig(_Section):
    """Lifecycle rules per bucket of the data layer; every bucket has safe defaults."""

    raw: BucketLifecycle = BucketLifecycle()
    """Data as it arrives."""
    processed: BucketLifecycle = BucketLifecycle()
    """Cleaned data, feature-store offline data."""
    models: BucketLifecycle = BucketLifecycle()
    """Model artifacts and code archives."""
    experiments: BucketLifecycle = BucketLifecycle()
    """Experiment tracking artifacts and checkpoints."""
    capture: BucketLifecycle = BucketLifecycle()
    """Endpoint data capture."""
    monitoring: BucketLifecycle = BucketLifecycle()
    """Monitoring baselines and reports."""
    access_logs: BucketLifecycle = BucketLifecycle()
    """S3 server access logs of the other buckets."""


class NetworkConfig(_Section):
    """The private VPC the platform's workloads run in."""

    cidr: str = "10.20.0.0/16"
    """The VPC's IPv4 range: a private (RFC 1918) network, prefix /16 to /24."""
    availability_zones: int = Field(default=2, ge=1, le=6)
    """How many availability zones get a private subnet; production requires at least 2."""
    subnet_prefix_length: int = Field(default=20, ge=16, le=28)
    """Prefix length of each private subnet carved out of ``cidr``."""
    flow_log_traffic: Literal["ALL", "ACCEPT", "REJECT"] = "ALL"
    """Which traffic the VPC flow logs record."""

    @field_validator("cidr")
    @classmethod
    def _private_ipv4_network(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value)
        except ValueError:
            raise ValueError(
                f"'{value}' is not an IPv4 network in CIDR notation (e.g. 10.20.0.0/16)"
            ) from None
        if not 16 <= network.prefixlen <= 24:
            raise ValueError("prefix length must be between /16 and /24 (a VPC limit)")
        if not any(network.subnet_of(private) for private in _PRIVATE_RANGES):
            raise ValueError("must be a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)")
        return str(network)

    @field_validator("availability_zones")
    @classmethod
    def _production_is_multi_az(cls, value: int, info: ValidationInfo) -> int:
        if _is_production(info) and value < 2:
            raise ValueError("must be >= 2 in a production stack")
        return value

    @field_validator("subnet_prefix_length")
    @classmethod
    def _subnets_fit(cls, value: int, info: ValidationInfo) -> int:
        cidr, zones = info.data.get("cidr"), info.data.get("availability_zones")
        if cidr is None or zones is None:
            return value  # already reported
        vpc_prefix = ipaddress.IPv4Network(cidr).prefixlen
        if value <= vpc_prefix:
            raise ValueError(f"must be > {vpc_prefix}, the VPC's own prefix length")
        if 2 ** (value - vpc_prefix) < zones:
            raise ValueError(f"leaves room for fewer than {zones} subnets in {cidr}")
        return value

    def subnet_cidrs(self) -> list[str]:
        """Return one private subnet range per availability zone, carved in order from ``cidr``."""
        subnets = ipaddress.IPv4Network(self.cidr).subnets(new_prefix=self.subnet_prefix_length)
        return [str(next(subnets)) for _ in range(self.availability_zones)]


class DataConfig(_Section):
    """The data layer: KMS, buckets, network, catalog and logs."""

    kms: KmsKeyConfig = KmsKeyConfig()
    """The platform key."""
    buckets: BucketsConfig = BucketsConfig()
    """Lifecycle rules per bucket."""
    network: NetworkConfig = NetworkConfig()
    """The private VPC."""
    log_retention_days: int = 30
    """Retention of the platform's CloudWatch log groups (one of CloudWatch's allowed values)."""

    @field_validator("log_retention_days")
    @classmethod
    def _cloudwatch_retention(cls, value: int, info: ValidationInfo) -> int:
        if value not in LOG_RETENTION_DAYS:
            allowed = ", ".join(str(days) for days in LOG_RETENTION_DAYS)
            raise ValueError(f"must be one of {allowed} (CloudWatch Logs retention values)")
        if _is_production(info) and 0 < value < 365:
            raise ValueError("must be >= 365 (or 0, never expire) in a production stack")
        return value


# --------------------------------------------------------------------------------------------
# serving layer
# --------------------------------------------------------------------------------------------

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

#: Memory sizes a serverless variant may have (1 GB steps, 1-6 GB).
SERVERLESS_MEMORY_SIZES_MB = (1024, 2048, 3072, 4096, 5120, 6144)

#: Frameworks whose AWS prebuilt inference containers run our handlers, with the image tag used
#: when a variant names none. The tag must match the framework version the model was trained
#: with (the training layer records it in the model's metadata).
PREBUILT_FRAMEWORK_TAGS = {
    "sklearn": "1.4-2",
    "xgboost": "1.7-1",
    "pytorch": "2.6.0-cpu-py312",
}

Framework = Literal["sklearn", "xgboost", "pytorch"]

_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"

#: The longest S3 object key (bytes; keys here are ASCII by their patterns).
_MAX_S3_KEY = 1024
_ARTIFACT_KEY = re.compile(r"^[\w!\-.*'()][\w!\-.*'()/]*\.tar\.gz$")


class ServerlessConfig(_Section):
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


class AutoscalingConfig(_Section):
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


class ImageConfig(_Section):
    """An image of our own in this account's ECR (built from a Dockerfile in docker/)."""

    repository: str = Field(pattern=r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*$", max_length=256)
    """The ECR repository name (in the stack's account and region; 2-256 characters)."""
    tag: str = Field(pattern=r"^[\w][\w.-]{0,127}$")
    """An immutable tag (never ``latest``: a moving tag makes deploys unrepeatable)."""

    @field_validator("tag")
    @classmethod
    def _not_latest(cls, value: str) -> str:
        if value == "latest":
            raise ValueError("must not be 'latest' (pin an immutable tag)")
        return value


class VariantConfig(_Section):
    """One variant of an endpoint: a model and the compute that serves it."""

    name: str = Field(pattern=_NAME_PATTERN)
    """Variant name, unique within the endpoint (kept across blue/green updates)."""
    model_artifact: str = Field(max_length=_MAX_S3_KEY)
    """Key of the model archive (``model.tar.gz``) in the platform's models bucket."""
    framework: Framework | None = None
    """Serve with AWS's prebuilt container for this framework and our handlers; or set ``image``."""
    framework_image_tag: str | None = None
    """The prebuilt container's tag; defaults per framework (see PREBUILT_FRAMEWORK_TAGS)."""
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
    def _archive_key(cls, value: str) -> str:
        if not _ARTIFACT_KEY.match(value) or ".." in value:
            raise ValueError(
                "must be the key of a .tar.gz archive in the models bucket "
                "(e.g. churn/v1/model.tar.gz), without a leading '/' or '..'"
            )
        return value

    _framework_tag = field_validator("framework_image_tag")(_tag_needs_framework)

    @field_validator("image")
    @classmethod
    def _one_image_source(cls, value: ImageConfig | None, info: ValidationInfo) -> Any:
        _image_source(value, info)
        return value

    @field_validator("initial_instance_count")
    @classmethod
    def _production_is_redundant(cls, value: int, info: ValidationInfo) -> int:
        if _is_production(info) and value < 2:
            raise ValueError("must be >= 2 in a production stack")
        return value

    @field_validator("serverless")
    @classmethod
    def _serverless_has_no_instances(
        cls, value: ServerlessConfig | None, info: ValidationInfo
    ) -> ServerlessConfig | None:
        if value is None:
            return value
        if info.data.get("instance_type") is not None:
            raise ValueError("a serverless variant has no instance_type: set it to null")
        if _is_production(info):
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


class DataCaptureConfig(_Section):
    """Capture of requests and responses to the capture bucket (for monitoring)."""

    enabled: bool = True
    """Capture traffic; serverless endpoints cannot and must set this to false."""
    sampling_percentage: int = Field(default=100, ge=1, le=100)
    """Percentage of requests captured."""


class RolloutConfig(_Section):
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


class EndpointAlarmsConfig(_Section):
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


class ServingEndpointConfig(_Section):
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

    @field_validator("name")
    @classmethod
    def _endpoint_name_fits(cls, value: str, info: ValidationInfo) -> str:
        return _derived_name_fits(
            value, info, lambda env: f"mlp-{env}-{value}", MAX_ENDPOINT_NAME,
            "SageMaker endpoint name",
        )  # fmt: skip

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
        if repeated := _repeated("variant names", names):
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


class ServingConfig(_Section):
    """Serving endpoints (the serving layer)."""

    endpoints: tuple[ServingEndpointConfig, ...] = ()
    """The endpoints the layer deploys."""
    alarm_emails: tuple[str, ...] = ()
    """Addresses subscribed to the serving alarms' SNS topic (each confirms by mail)."""

    @field_validator("endpoints")
    @classmethod
    def _unique_endpoints(
        cls, value: tuple[ServingEndpointConfig, ...]
    ) -> tuple[ServingEndpointConfig, ...]:
        names = [endpoint.name for endpoint in value]
        if repeated := _repeated("endpoint names", names):
            raise ValueError(repeated)
        return value

    _emails = field_validator("alarm_emails")(_email_addresses)


# --------------------------------------------------------------------------------------------
# training layer
# --------------------------------------------------------------------------------------------

#: Prebuilt SageMaker training containers that run our training code in script mode, with the tag
#: used when a pipeline names none. The serving container of the same framework must load what
#: they train, so these versions match PREBUILT_FRAMEWORK_TAGS.
PREBUILT_TRAINING_TAGS = {
    "sklearn": "1.4-2",
    "xgboost": "1.7-1",
    "pytorch": "2.6.0-cpu-py312",
}

#: The PyTorch training container tag used on GPU instances (same version as the CPU tag).
PYTORCH_GPU_TRAINING_TAG = "2.6.0-gpu-py312"

#: Instance families with NVIDIA GPUs, the same in EC2 (``g5.xlarge``) and SageMaker
#: (``ml.g5.xlarge``); the deep-learning AMIs and the GPU training containers support them all.
GPU_FAMILIES = ("p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "g4dn", "g5", "g6", "g6e")

#: What the training entrypoint trains: one algorithm, or AutoML across all of them.
Algorithm = Literal["sklearn", "xgboost", "pytorch", "automl"]

#: The only algorithm that trains on more than one instance (DDP through torchrun).
_DISTRIBUTED_ALGORITHMS = ("pytorch",)

_SAGEMAKER_INSTANCE = r"^ml\.[a-z0-9-]+\.\w+$"
_HYPERPARAMETER_NAME = r"^[a-z][a-z0-9_]{0,62}$"

#: The longest hyperparameter value SageMaker passes (CreateTrainingJob ``HyperParameters``; the
#: limits here are botocore's sagemaker service model, which some API pages still give as 256).
MAX_HYPERPARAMETER_VALUE_LENGTH = 2500

#: Values of one categorical tuning range (SageMaker ``CategoricalParameterRange``: 1-30 values).
MAX_CATEGORICAL_VALUES = 30

#: The most epochs Hyperband's resource may count (a platform bound on a job's length).
MAX_HYPERBAND_RESOURCE = 10_000

#: SageMaker's limit on a training job's name, which is the pipeline's ``mlp-<env>-<name>``
#: (CreateTrainingJob ``TrainingJobName``).
MAX_TRAINING_JOB_NAME = 63


def _scalar_hyperparameter(value: Any) -> str | int | float | bool:
    """A hyperparameter is one string, number or boolean (SageMaker passes each as a string)."""
    if isinstance(value, str | int | float):  # bool is an int
        return value
    if value is None:
        raise ValueError("must be a string, number or boolean, not null (write none for no value)")
    raise ValueError(f"must be a string, number or boolean, not {_kind_of(value)}")


#: One hyperparameter value; any other YAML value is one problem at its key (a plain union
#: would report one line per member type).
HyperparameterValue = Annotated[Any, AfterValidator(_scalar_hyperparameter)]


def _hyperparameters_accepted(
    value: dict[str, str | int | float | bool], info: ValidationInfo
) -> dict[str, str | int | float | bool]:
    """Every fixed hyperparameter is one the algorithm's trainer accepts, with a value it accepts.

    Checked against the algorithm's table (stacks/training_hyperparameters.py); skipped when the
    algorithm itself is invalid (reported at its own path).
    """
    algorithm, task = info.data.get("algorithm"), info.data.get("task")
    if algorithm is None:
        return value
    problems = training_hyperparameters.value_problems(algorithm, task, value)
    problems += [
        (
            name,
            f"is {length} characters; SageMaker passes at most {MAX_HYPERPARAMETER_VALUE_LENGTH}",
        )
        for name, item in value.items()
        if (length := len(as_hyperparameter(item))) > MAX_HYPERPARAMETER_VALUE_LENGTH
    ]
    if problems:
        raise PathProblems(problems)
    return value


def _instance_family(instance_type: str) -> str:
    """``g5`` for ``ml.g5.2xlarge`` and for ``g5.2xlarge``."""
    parts = instance_type.split(".")
    return parts[1] if parts[0] == "ml" else parts[0]


class RepositoriesConfig(_Section):
    """The ECR repositories for the platform's own images (``ml-platform/<name>``)."""

    names: tuple[
        Annotated[str, Field(pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$", max_length=244)], ...
    ] = (
        "training",
        "serving",
    )
    """Repository names under the ``ml-platform/`` namespace (the full name is at most 256
    characters, ECR's limit, so a name at most 244)."""
    keep_tagged_images: int = Field(default=30, ge=1, le=1000)
    """Tagged images a repository keeps; older ones expire (a lifecycle rule)."""
    untagged_expiry_days: int = Field(default=7, ge=1, le=365)
    """Days after which untagged images (failed or superseded pushes) expire."""

    @field_validator("names")
    @classmethod
    def _unique_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if repeated := _repeated("repository names", value):
            raise ValueError(repeated)
        return value


class NotebookInstanceConfig(_Section):
    """A SageMaker notebook instance in the private VPC (no internet, no root)."""

    instance_type: str = Field(default="ml.t3.medium", pattern=_SAGEMAKER_INSTANCE)
    """Instance type of the notebook."""
    volume_size_gb: int = Field(default=20, ge=5, le=16384)
    """Size of the notebook's KMS-encrypted storage volume."""
    platform_identifier: str = Field(default="notebook-al2023-v1", pattern=r"^notebook-al\w+-v\d$")
    """The notebook platform (Amazon Linux and JupyterLab version)."""
    idle_stop_minutes: int | None = Field(default=60, ge=10, le=1440)
    """Stop the instance after this long without a running kernel (the lifecycle script); unset
    never stops it."""


class StudioConfig(_Section):
    """A SageMaker Studio domain in the private VPC (VPC-only traffic, IAM auth, KMS)."""

    user_profiles: tuple[Annotated[str, Field(pattern=_NAME_PATTERN)], ...] = ()
    """A user profile per data scientist (they sign in through the console's IAM access)."""

    @field_validator("user_profiles")
    @classmethod
    def _unique_profiles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if repeated := _repeated("user profiles", value):
            raise ValueError(repeated)
        return value


class NotebooksConfig(_Section):
    """Where data scientists work: a notebook instance, a Studio domain, both or neither."""

    instance: NotebookInstanceConfig | None = None
    """A SageMaker notebook instance; unset creates none."""
    studio: StudioConfig | None = None
    """A SageMaker Studio domain; unset creates none."""


class ExperimentTrackingConfig(_Section):
    """A SageMaker managed MLflow tracking server with its artifacts in the experiments bucket."""

    enabled: bool = True
    """Create the tracking server (training jobs log to it when their container has mlflow)."""
    server_size: Literal["Small", "Medium", "Large"] = "Small"
    """Tracking server size (Small: up to 25 users)."""
    mlflow_version: str = Field(default="3.0", pattern=r"^\d+\.\d+(\.\d+)?$")
    """The MLflow version the server runs."""
    automatic_model_registration: bool = False
    """Register MLflow models in the SageMaker model registry automatically."""
    weekly_maintenance_window_start: str = Field(
        default="Sun:03:00", pattern=r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun):([01]\d|2[0-3]):[0-5]\d$"
    )
    """When AWS may patch the server (``Day:HH:MM``, UTC)."""


class SpotConfig(_Section):
    """Managed spot training: cheaper capacity that may be interrupted and resumed."""

    enabled: bool = True
    """Run on spot capacity; the job resumes from its newest checkpoint after an interruption."""
    max_wait_seconds: int = Field(default=14400, ge=1, le=2419200)
    """Longest the job may take including waiting for spot capacity (>= max_runtime_seconds)."""


class ParameterRangeConfig(_Section):
    """One hyperparameter range a tuning job searches."""

    name: str = Field(pattern=_HYPERPARAMETER_NAME)
    """The hyperparameter (as the training code reads it)."""
    type: Literal["integer", "continuous", "categorical"]
    """Integer or continuous ranges need ``min``/``max``; categorical ones ``values``."""
    min: float | None = None
    """Lowest value (integer and continuous ranges)."""
    max: float | None = None
    """Highest value (integer and continuous ranges)."""
    scaling: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] = "Auto"
    """How values are sampled across the range."""
    values: tuple[Annotated[str, Field(max_length=256)], ...] = ()
    """The choices of a categorical range (1-30 of at most 256 characters, SageMaker's limits)."""

    @model_validator(mode="after")
    def _range_shape(self) -> ParameterRangeConfig:
        kind, low, high, scaling = self.type, self.min, self.max, self.scaling
        if kind == "categorical":
            if not self.values:
                raise ValueError("a categorical range needs at least one value")
            if len(self.values) > MAX_CATEGORICAL_VALUES:
                raise ValueError(
                    f"a categorical range has at most {MAX_CATEGORICAL_VALUES} values "
                    f"(a SageMaker limit), got {len(self.values)}"
                )
            if low is not None or high is not None:
                raise ValueError("a categorical range has values, not min/max")
            if len(set(self.values)) != len(self.values):
                raise ValueError("values must not repeat")
            return self
        article = "an" if kind == "integer" else "a"
        if self.values:
            raise ValueError(f"{article} {kind} range has min/max, not values")
        if low is None or high is None:
            raise ValueError(f"{article} {kind} range needs both min and max")
        if low >= high:
            raise ValueError(f"min ({low:g}) must be below max ({high:g})")
        if kind == "integer" and (low != int(low) or high != int(high)):
            raise ValueError("an integer range needs whole-number min and max")
        if scaling in ("Logarithmic", "ReverseLogarithmic") and low <= 0:
            raise ValueError(f"{scaling} scaling needs min > 0")
        if scaling == "ReverseLogarithmic" and (kind != "continuous" or high >= 1):
            raise ValueError("ReverseLogarithmic scaling needs a continuous range below 1")
        return self

    @model_validator(mode="after")
    def _accepted_by_the_trainer(self, info: ValidationInfo) -> ParameterRangeConfig:
        # The pipeline being validated shared its algorithm and task (_share_algorithm).
        context = info.context or {}
        algorithm, task = context.get(_ALGORITHM_CONTEXT), context.get(_TASK_CONTEXT)
        if algorithm is None:
            return self
        if problems := training_hyperparameters.range_problems(
            algorithm, task, self.name, self.type, self.min, self.max, self.values
        ):
            raise PathProblems(problems)
        return self


class TuningConfig(_Section):
    """A hyperparameter tuning step that runs instead of the single training step."""

    strategy: Literal["Bayesian", "Hyperband"] = "Bayesian"
    """Search strategy; Hyperband stops weak jobs early using the per-epoch objective."""
    objective: str = "valid_loss"
    """The reported metric to optimise (see workloads/training/objectives.py)."""
    max_jobs: int = Field(default=20, ge=1, le=750)
    """Training jobs the tuning job runs in total."""
    max_parallel_jobs: int = Field(default=2, ge=1, le=100)
    """Training jobs it runs at the same time (at most ``max_jobs``)."""
    ranges: tuple[ParameterRangeConfig, ...]
    """The hyperparameters searched (1-30, unique names)."""
    hyperband_min_resource: int | None = Field(default=None, ge=1, le=MAX_HYPERBAND_RESOURCE)
    """Hyperband only: the fewest epochs a job runs before it may be stopped."""
    hyperband_max_resource: int | None = Field(
        default=None, ge=1, le=MAX_HYPERBAND_RESOURCE, validate_default=True
    )
    """Hyperband only: the most epochs a job runs (at most 10,000)."""

    @field_validator("max_parallel_jobs")
    @classmethod
    def _parallel_within_total(cls, value: int, info: ValidationInfo) -> int:
        total = info.data.get("max_jobs")
        if total is not None and value > total:
            raise ValueError(f"must be <= max_jobs ({total})")
        return value

    @field_validator("ranges")
    @classmethod
    def _ranges(cls, value: tuple[ParameterRangeConfig, ...]) -> tuple[ParameterRangeConfig, ...]:
        if not 1 <= len(value) <= 30:
            raise ValueError(f"needs 1-30 ranges (a SageMaker limit), got {len(value)}")
        names = [item.name for item in value]
        if repeated := _repeated("range names", names):
            raise ValueError(repeated)
        return value

    @field_validator("hyperband_max_resource")
    @classmethod
    def _hyperband_resources(cls, value: int | None, info: ValidationInfo) -> int | None:
        strategy, low = info.data.get("strategy"), info.data.get("hyperband_min_resource")
        if strategy != "Hyperband":
            if value is not None or low is not None:
                raise ValueError("hyperband_min_resource/hyperband_max_resource need Hyperband")
            return value
        if value is None or low is None:
            raise ValueError("Hyperband needs hyperband_min_resource and hyperband_max_resource")
        if low >= value:
            raise ValueError(f"must be above hyperband_min_resource ({low})")
        return value


class TrainingPipelineConfig(_Section):
    """A SageMaker Pipeline that trains (or tunes) one model with our training code."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,40}[a-z0-9]$")
    """Short name; the pipeline and its training job are ``mlp-<environment>-<name>`` (at most
    63 characters, a training job name's limit)."""
    algorithm: Algorithm
    """What to train: ``sklearn``, ``xgboost``, ``pytorch`` or ``automl`` (all of them)."""
    task: Literal["classification", "regression"]
    """Whether the target is a class or a number."""
    target: str = Field(pattern=r"^[\w.-]{1,128}$")
    """The target column of the training data."""
    train_data: str = Field(pattern=r"^[\w!\-.*'()][\w!\-.*'()/]*/$", max_length=_MAX_S3_KEY)
    """Key prefix (ending in ``/``) of the training CSV files in the processed bucket."""
    validation_data: str = Field(pattern=r"^[\w!\-.*'()][\w!\-.*'()/]*/$", max_length=_MAX_S3_KEY)
    """Key prefix of the validation CSV files in the processed bucket."""
    framework: Literal["sklearn", "xgboost", "pytorch"] | None = None
    """Run on AWS's prebuilt training container for this framework; or set ``image``."""
    framework_image_tag: str | None = None
    """The prebuilt container's tag; defaults per framework and CPU/GPU."""
    image: ImageConfig | None = Field(default=None, validate_default=True)
    """Run on our own training image (which has mlflow for experiment tracking)."""
    hyperparameters: dict[
        Annotated[str, Field(pattern=_HYPERPARAMETER_NAME)], HyperparameterValue
    ] = {}
    """Fixed hyperparameters (passed to the training code as strings): names and values the
    algorithm's trainer accepts (stacks/training_hyperparameters.py), not algorithm/task/target."""
    instance_type: str = Field(default="ml.m5.xlarge", pattern=_SAGEMAKER_INSTANCE)
    """Training instance type (GPU families for GPU training)."""
    instance_count: int = Field(default=1, ge=1, le=64)
    """Instances per training job; more than one only for pytorch (DDP)."""
    volume_size_gb: int = Field(default=30, ge=1, le=16384)
    """Storage per instance for data, checkpoints and the model."""
    max_runtime_seconds: int = Field(default=3600, ge=60, le=2419200)
    """Longest a training job may run."""
    spot: SpotConfig = Field(default=SpotConfig(), validate_default=True)
    """Managed spot training."""
    tuning: TuningConfig | None = None
    """Tune hyperparameters instead of training once."""
    track_experiments: bool = Field(default=False, validate_default=True)
    """Log runs to the stack's MLflow tracking server (needs ``image``: the prebuilt containers
    have no mlflow and the private VPC cannot install it)."""

    _framework_tag = field_validator("framework_image_tag")(_tag_needs_framework)

    _hyperparameters = field_validator("hyperparameters")(_hyperparameters_accepted)

    # The tuning ranges (validated inside this pipeline, after these fields) check themselves
    # against its algorithm's table: the raw algorithm and task are shared through the context,
    # None when invalid (reported at their own paths). `name` comes first and resets both, so a
    # pipeline without them never sees the previous pipeline's. A model-level "before" validator
    # would do it in one place, but it makes pydantic validate the JSON input as Python, where
    # strict mode refuses lists for tuples.
    @field_validator("name", mode="before")
    @classmethod
    def _new_pipeline(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(info.context, dict):
            info.context[_ALGORITHM_CONTEXT] = info.context[_TASK_CONTEXT] = None
        return value

    @field_validator("algorithm", mode="before")
    @classmethod
    def _share_algorithm(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(info.context, dict):
            known = training_hyperparameters.ALGORITHM_TABLES
            info.context[_ALGORITHM_CONTEXT] = (
                value if isinstance(value, str) and value in known else None
            )
        return value

    @field_validator("task", mode="before")
    @classmethod
    def _share_task(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(info.context, dict):
            info.context[_TASK_CONTEXT] = (
                value if isinstance(value, str) and value in METRICS else None
            )
        return value

    @field_validator("name")
    @classmethod
    def _job_name_fits(cls, value: str, info: ValidationInfo) -> str:
        return _derived_name_fits(
            value, info, lambda env: f"mlp-{env}-{value}", MAX_TRAINING_JOB_NAME,
            "training job name",
        )  # fmt: skip

    @field_validator("image")
    @classmethod
    def _one_image_source(cls, value: ImageConfig | None, info: ValidationInfo) -> Any:
        _image_source(value, info)
        framework, algorithm = info.data.get("framework"), info.data.get("algorithm")
        if framework is not None and algorithm not in (None, "automl", framework):
            raise ValueError(
                f"algorithm {algorithm} needs the {algorithm} container, not {framework}"
            )
        if framework is not None and algorithm == "automl":
            raise ValueError(
                "automl trains every framework: it needs 'image' (our training image has them all)"
            )
        return value

    @field_validator("instance_count")
    @classmethod
    def _distributed_algorithm(cls, value: int, info: ValidationInfo) -> int:
        algorithm = info.data.get("algorithm")
        if value > 1 and algorithm is not None and algorithm not in _DISTRIBUTED_ALGORITHMS:
            raise ValueError(
                f"{algorithm} trains on one instance; only pytorch trains on several (DDP)"
            )
        return value

    @field_validator("spot")
    @classmethod
    def _spot_wait(cls, value: SpotConfig, info: ValidationInfo) -> SpotConfig:
        max_runtime = info.data.get("max_runtime_seconds")
        if value.enabled and max_runtime is not None and value.max_wait_seconds < max_runtime:
            raise ValueError(
                f"max_wait_seconds ({value.max_wait_seconds}) must be >= max_runtime_seconds "
                f"({max_runtime}): it includes the run itself"
            )
        return value

    @field_validator("tuning")
    @classmethod
    def _tuning_objective(cls, value: TuningConfig | None, info: ValidationInfo) -> Any:
        task = info.data.get("task")
        if value is None or task is None:
            return value
        problems: list[tuple[str, str]] = []
        if value.objective not in METRICS[task]:
            problems.append(
                (
                    "",
                    f"objective '{value.objective}' is not a {task} metric "
                    f"(known: {', '.join(METRICS[task])})",
                )
            )
        fixed = sorted(set(info.data.get("hyperparameters") or {}) & {r.name for r in value.ranges})
        if fixed:
            problems.append(("", f"{', '.join(fixed)} both fixed in hyperparameters and tuned"))
        if problems:
            raise PathProblems(problems)
        return value

    @field_validator("track_experiments")
    @classmethod
    def _tracking_needs_mlflow(cls, value: bool, info: ValidationInfo) -> bool:
        framework = info.data.get("framework")
        if value and framework is not None:
            raise ValueError(
                f"the prebuilt {framework} container has no mlflow and the private VPC cannot "
                "pip-install it: set 'image' to an image built from docker/training.Dockerfile, "
                "or set track_experiments to false"
            )
        return value

    @property
    def uses_gpu(self) -> bool:
        """Whether the training instances have GPUs."""
        return _instance_family(self.instance_type) in GPU_FAMILIES


class TrainingConfig(_Section):
    """Training infrastructure (the training layer)."""

    repositories: RepositoriesConfig = RepositoriesConfig()
    """ECR repositories for the training and serving images."""
    notebooks: NotebooksConfig = NotebooksConfig()
    """Notebook environments for data scientists."""
    experiment_tracking: ExperimentTrackingConfig = ExperimentTrackingConfig()
    """The MLflow tracking server."""
    pipelines: tuple[TrainingPipelineConfig, ...] = ()
    """Training pipelines (one model each)."""

    @field_validator("pipelines")
    @classmethod
    def _unique_pipelines(
        cls, value: tuple[TrainingPipelineConfig, ...], info: ValidationInfo
    ) -> tuple[TrainingPipelineConfig, ...]:
        names = [pipeline.name for pipeline in value]
        if repeated := _repeated("pipeline names", names):
            raise ValueError(repeated)
        tracking = info.data.get("experiment_tracking")
        tracked = [p.name for p in value if p.track_experiments]
        if tracking is not None and not tracking.enabled and tracked:
            raise ValueError(
                f"{', '.join(tracked)} track experiments but experiment_tracking is disabled"
            )
        return value


# --------------------------------------------------------------------------------------------
# gpu layer
# --------------------------------------------------------------------------------------------


def _gpu_instance_types(value: tuple[str, ...]) -> tuple[str, ...]:
    """At least one instance type, all of GPU families, none repeated."""
    if not value:
        raise ValueError("at least one GPU instance type is required")
    not_gpu = [name for name in value if _instance_family(name) not in GPU_FAMILIES]
    if not_gpu:
        raise ValueError(
            f"not GPU instance types: {', '.join(not_gpu)} "
            f"(GPU families: {', '.join(GPU_FAMILIES)})"
        )
    if repeated := _repeated("instance types", value):
        raise ValueError(repeated)
    return value


def _at_least_min_size(value: int, info: ValidationInfo) -> int:
    """A group's ``max_size`` is not below its ``min_size``."""
    low = info.data.get("min_size")
    if low is not None and value < low:
        raise ValueError(f"must be >= min_size ({low})")
    return value


def _between_min_and_max_size(value: int | None, info: ValidationInfo) -> int | None:
    """A group's starting size lies between its ``min_size`` and ``max_size``."""
    low, high = info.data.get("min_size"), info.data.get("max_size")
    if None not in (low, high, value) and not low <= value <= high:
        raise ValueError(f"must be between min_size ({low}) and max_size ({high})")
    return value


class GpuConfig(_Section):
    """Self-managed GPU instances (the gpu layer): an Auto Scaling group of GPU boxes."""

    instance_types: tuple[Annotated[str, Field(pattern=r"^[a-z0-9-]+\.\w+$")], ...] = (
        "g5.xlarge",
        "g4dn.xlarge",
    )
    """EC2 GPU instance types the group may launch (several give spot more pools)."""
    min_size: int = Field(default=0, ge=0, le=100)
    """The fewest instances (0 lets the group scale to nothing)."""
    max_size: int = Field(default=2, ge=0, le=100)
    """The most instances."""
    desired_capacity: int | None = Field(default=None, ge=0, le=100, validate_default=True)
    """Instances at deploy (between min_size and max_size); unset starts at min_size."""
    on_demand_base_capacity: int = Field(default=0, ge=0, le=100)
    """Instances that are always on-demand, before any spot (at most 100, the group's bound)."""
    on_demand_percentage_above_base: int = Field(default=0, ge=0, le=100)
    """Share of on-demand above the base; the rest is spot (capacity-optimized)."""
    ami_name_filter: str = Field(
        default="Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *",
        min_length=1,
        max_length=255,
    )
    """Name filter of the GPU deep-learning AMI (the newest match owned by Amazon is used)."""
    root_volume_size_gb: int = Field(default=200, ge=50, le=16384)
    """Size of each instance's encrypted root volume."""

    _gpu_types = field_validator("instance_types")(_gpu_instance_types)

    _above_minimum = field_validator("max_size")(_at_least_min_size)

    _within_bounds = field_validator("desired_capacity")(_between_min_and_max_size)


# --------------------------------------------------------------------------------------------
# sections of later layers: empty until their issues fill them, so any key is an error
# --------------------------------------------------------------------------------------------


class OnlineStoreConfig(_Section):
    """A feature group's online store: the latest record per identifier, for inference lookups."""

    enabled: bool = True
    """Keep an online store (GetRecord / BatchGetRecord); fixed for a group version."""
    storage_type: Literal["Standard", "InMemory"] = "Standard"
    """``Standard`` or the ElastiCache-backed ``InMemory`` tier; fixed for a group version."""
    ttl_days: int | None = Field(default=None, ge=1, le=36500)
    """Hard-delete online records this many days after their event time (none: keep them);
    may change in place."""


class OfflineStoreConfig(_Section):
    """A feature group's offline store: every record ever written, in the processed bucket."""

    enabled: bool = True
    """Keep an offline store (training sets, point-in-time joins); fixed for a group version."""
    table_format: Literal["Glue", "Iceberg"] = "Glue"
    """The offline table's format; Iceberg allows compaction. Fixed for a group version."""


class FeatureGroupConfig(_Section):
    """One version of one feature group; its schema is :mod:`workloads.features.definitions`."""

    name: str
    """The group's name (``customers``); with ``version`` it names the SageMaker group."""
    version: int = 1
    """The schema version. Only adding features changes a version in place; anything else
    (removing, renaming or retyping a feature, other store settings) is a new version entry."""
    description: str = Field(default="", max_length=128)
    """Free text shown on the group."""
    record_identifier: str
    """The feature that identifies a record."""
    event_time: str
    """The feature holding when a record's values became true (ISO-8601 String or epoch
    Fractional)."""
    features: dict[str, str]
    """Every feature and its type (String, Integral, Fractional), identifier and event time
    included, in order."""
    online: OnlineStoreConfig = OnlineStoreConfig()
    """The online store."""
    offline: OfflineStoreConfig = OfflineStoreConfig()
    """The offline store."""

    @model_validator(mode="after")
    def _valid_definition(self) -> FeatureGroupConfig:
        # The schema rules live with the definition the feature code uses (one source of truth).
        try:
            _ = self.definition
        except DefinitionError as error:
            raise ValueError("; ".join(error.problems)) from None
        if not (self.online.enabled or self.offline.enabled):
            raise ValueError("enable the online store, the offline store or both")
        return self

    @property
    def definition(self) -> FeatureGroupDefinition:
        """The schema as the feature code sees it."""
        return FeatureGroupDefinition.from_mapping(self.model_dump())


class AthenaConfig(_Section):
    """The Athena workgroup for offline-store queries."""

    bytes_scanned_cutoff_gb: int = Field(default=100, ge=1, le=1_000_000)
    """Cancel a query that scans more than this many GB (a cost guard)."""


class FeatureStoreConfig(_Section):
    """Feature groups (the feature-store layer)."""

    groups: tuple[FeatureGroupConfig, ...] = ()
    """Every group version; a newer version of a group is another entry with the same name."""
    athena: AthenaConfig = AthenaConfig()
    """The workgroup for offline queries."""

    @field_validator("groups")
    @classmethod
    def _unique_versions(
        cls, value: tuple[FeatureGroupConfig, ...]
    ) -> tuple[FeatureGroupConfig, ...]:
        if repeated := _repeated(
            "group versions", [f"{group.name} v{group.version}" for group in value]
        ):
            raise ValueError(repeated)
        return value


# --------------------------------------------------------------------------------------------
# monitoring layer
# --------------------------------------------------------------------------------------------

#: The project root (the folder holding Pulumi.yaml): baseline folders are relative to it.
PROJECT_ROOT = Path(__file__).resolve().parents[1]

#: AWS's prebuilt scikit-learn processing image the monitor runs in when no image of ours is set
#: (numpy, scipy and boto3 inside); its repository in ``get_prebuilt_ecr_image``.
PREBUILT_MONITORING_REPOSITORY = "sagemaker-scikit-learn"
PREBUILT_MONITORING_TAG = "1.4-2-cpu-py3"

#: The longest a check may go unseen before the monitor-silent alarm pages: CloudWatch evaluates
#: an alarm over at most 7 days (Period x EvaluationPeriods <= 604,800 s for hourly periods).
MAX_SILENT_HOURS = 168

#: Hours after a missed check before the monitor-silent alarm fires (runs start a few minutes
#: late and take a while).
SILENT_GRACE_HOURS = 2

#: Name limits of what a monitor creates: an EventBridge Scheduler schedule (CreateSchedule
#: ``Name``, 1-64) and a SageMaker monitoring schedule (CreateMonitoringSchedule, 1-63).
MAX_SCHEDULE_NAME = 64
MAX_MONITORING_SCHEDULE_NAME = 63

# EventBridge Scheduler expressions (https://docs.aws.amazon.com/scheduler/latest/UserGuide/
# schedule-types.html): ``rate(value unit)`` with a singular unit for 1, or a six-field cron.
_RATE = re.compile(r"^rate\((?P<value>[1-9]\d*) (?P<unit>hours?|days?)\)$")
_CRON = re.compile(r"^cron\((?P<fields>[^()]+)\)$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?,/#LW-]+$")


def _cron_problem(expression: str) -> str | None:
    """Why ``cron(...)`` is not a valid six-field cron expression, or None."""
    match = _CRON.match(expression)
    if match is None:
        return "must be rate(1 day), rate(N hours), rate(N days) or cron(...)"
    fields = match["fields"].split()
    if len(fields) != 6:
        return (
            "a cron expression has six fields: minutes hours day-of-month month day-of-week year "
            "(e.g. cron(0 6 * * ? *))"
        )
    if bad := [field for field in fields if not _CRON_FIELD.match(field)]:
        return f"cron field {bad[0]!r} has characters cron does not allow"
    if (fields[2] == "?") == (fields[4] == "?"):
        return "one of day-of-month and day-of-week must be '?' (and only one)"
    return None


def schedule_interval_hours(expression: str) -> int:
    """Hours between two runs of a validated schedule (a cron runs hourly when its hour is '*')."""
    if match := _RATE.match(expression):
        value = int(match["value"])
        return value * 24 if match["unit"].startswith("day") else value
    fields = expression[len("cron(") : -1].split()
    return 1 if fields[1] == "*" else 24


def _schedule_expression(value: str) -> str:
    """A valid EventBridge Scheduler rate or cron expression, at most 6 days apart."""
    if match := _RATE.match(value):
        count, unit = int(match["value"]), match["unit"]
        if (count == 1) != (not unit.endswith("s")):
            raise ValueError(
                f"write rate(1 {unit.rstrip('s')}) for one and rate(N {unit.rstrip('s')}s) "
                "for more (EventBridge Scheduler's rule)"
            )
        if schedule_interval_hours(value) + SILENT_GRACE_HOURS > MAX_SILENT_HOURS:
            raise ValueError(
                f"runs must be at most {MAX_SILENT_HOURS - SILENT_GRACE_HOURS} hours apart "
                "(the monitor-silent alarm watches at most 7 days)"
            )
        return value
    if value.startswith("rate("):
        raise ValueError("a rate must be rate(N hours) or rate(N days), N >= 1")
    if problem := _cron_problem(value):
        raise ValueError(problem)
    return value


ScheduleExpression = Annotated[str, AfterValidator(_schedule_expression)]


def _cron_expression(value: str) -> str:
    """A six-field cron expression (what a SageMaker monitoring schedule takes)."""
    if not value.startswith("cron("):
        raise ValueError("must be cron(...) (e.g. cron(0 * ? * * *) for hourly)")
    if problem := _cron_problem(value):
        raise ValueError(problem)
    return value


#: The highest PSI threshold: PSI has no upper bound, but past 100 a threshold never fires on
#: real data (a platform bound; 0.25 is the usual "significant").
_MAX_PSI = 100


class DriftThresholds(_Section):
    """When a check counts a feature as drifted or a constraint as violated (the check's flags)."""

    psi: float = Field(default=0.2, gt=0, le=_MAX_PSI)
    """Population stability index of a numeric feature (0.1 moderate, 0.2 significant; at most
    100)."""
    ks_statistic: float = Field(default=0.1, gt=0, le=1)
    """Kolmogorov-Smirnov statistic of a numeric feature."""
    js_distance: float = Field(default=0.1, gt=0, le=1)
    """Jensen-Shannon distance of a categorical feature."""
    missing_rate_increase: float = Field(default=0.05, gt=0, le=1)
    """Rise of a feature's missing-value rate over the baseline's."""
    range_violation_rate: float = Field(default=0.01, gt=0, le=1)
    """Share of values outside the baseline's range."""
    type_violation_rate: float = Field(default=0.01, gt=0, le=1)
    """Share of values of the wrong type."""
    prediction_psi: float = Field(default=0.2, gt=0, le=_MAX_PSI)
    """PSI of the endpoint's predictions (prediction drift); also the prediction-drift alarm's."""


class ModelMonitorBackendConfig(_Section):
    """SageMaker Model Monitor (DataQualityJobDefinition + MonitoringSchedule) on the same baseline.

    Only for accounts that still have Model Monitor (closed to new customers); off by default.
    """

    enabled: bool = False
    """Also run SageMaker's data-quality monitor on the endpoint."""
    schedule: str = "cron(0 * ? * * *)"
    """Its cron expression (Model Monitor runs hourly or daily)."""
    instance_type: str = Field(default="ml.m5.xlarge", pattern=_SAGEMAKER_INSTANCE)
    """Instance type of its monitoring jobs."""

    _schedule = field_validator("schedule")(_cron_expression)


class MonitoredEndpointConfig(_Section):
    """One monitored serving endpoint: its baseline, schedule and thresholds."""

    endpoint: str
    """The serving endpoint's short name (an entry of ``serving.endpoints`` that captures data)."""
    baseline: str
    """The baseline folder (``ml-platform-monitor baseline``), relative to the project root."""
    schedule: ScheduleExpression = "rate(1 day)"
    """When the check runs (EventBridge Scheduler, UTC): rate(1 day), rate(N hours) or cron(...)."""
    window_hours: int = Field(default=24, ge=1, le=168)
    """Hours of captured traffic each check reads, ending when it runs."""
    thresholds: DriftThresholds = DriftThresholds()
    """When features count as drifted."""
    model_monitor: ModelMonitorBackendConfig = ModelMonitorBackendConfig()
    """The optional SageMaker Model Monitor backend."""

    @field_validator("endpoint")
    @classmethod
    def _captured_serving_endpoint(cls, value: str, info: ValidationInfo) -> str:
        serving = (info.context or {}).get(_SERVING_CONTEXT)
        if serving is None:
            return value  # the serving section is invalid: its own problems are reported
        endpoints = {endpoint.name: endpoint for endpoint in serving.endpoints}
        endpoint = endpoints.get(value)
        if endpoint is None:
            known = ", ".join(endpoints) or "none"
            raise ValueError(f"'{value}' is not a serving endpoint (serving.endpoints: {known})")
        if endpoint.is_serverless:
            raise ValueError(f"'{value}' is serverless: SageMaker captures no data there")
        if not endpoint.data_capture.enabled:
            raise ValueError(
                f"'{value}' captures no data: set serving.endpoints[].data_capture.enabled"
            )
        return value

    @field_validator("baseline")
    @classmethod
    def _valid_baseline(cls, value: str, info: ValidationInfo) -> str:
        root = Path((info.context or {}).get("project_root") or PROJECT_ROOT)
        if problems := baseline_problems(root / value):
            raise ValueError("; ".join(problems))
        return value

    @model_validator(mode="after")
    def _derived_names_fit(self, info: ValidationInfo) -> MonitoredEndpointConfig:
        environment = _environment(info)
        if environment is None:
            return self
        problems = [
            _name_problem(name, limit, what)
            for what, (name, limit) in self.derived_names(environment).items()
        ]
        if found := [("endpoint", problem) for problem in problems if problem is not None]:
            raise PathProblems(found)
        return self

    def derived_names(self, environment: str) -> dict[str, tuple[str, int]]:
        """The AWS names this monitor's resources get in ``environment``, with their limits.

        The pipeline and its EventBridge schedule are ``mlp-<env>-<endpoint>-monitor`` (stacks/
        program.py, components/monitoring/model_monitor.py); Model Monitor's schedule adds
        ``-data-quality``. A test holds these to the names in the plan.
        """
        pipeline = f"mlp-{environment}-{self.endpoint}-monitor"
        names = {"EventBridge schedule name": (pipeline, MAX_SCHEDULE_NAME)}
        if self.model_monitor.enabled:
            names["Model Monitor schedule name"] = (
                f"{pipeline}-data-quality",
                MAX_MONITORING_SCHEDULE_NAME,
            )
        return names

    @property
    def silent_after_hours(self) -> int:
        """Hours without a finished check after which the monitor-silent alarm fires."""
        return schedule_interval_hours(self.schedule) + SILENT_GRACE_HOURS

    def baseline_path(self, root: Path = PROJECT_ROOT) -> Path:
        """The baseline folder on this machine."""
        return root / self.baseline


class MonitoringConfig(_Section):
    """Model monitors (the monitoring layer)."""

    endpoints: tuple[MonitoredEndpointConfig, ...] = ()
    """The monitored endpoints, one entry each."""
    alarm_emails: tuple[str, ...] = ()
    """Addresses subscribed to the monitoring alarms' SNS topic (each confirms by mail)."""
    instance_type: str = Field(default="ml.m5.large", pattern=_SAGEMAKER_INSTANCE)
    """Instance type of the monitor's processing jobs."""
    volume_size_gb: int = Field(default=30, ge=1, le=16384)
    """Storage of each processing job (the window's capture files are staged there)."""
    max_runtime_seconds: int = Field(default=3600, ge=60, le=432000)
    """Longest one step of a check may run."""
    image: ImageConfig | None = None
    """Our own image in ECR; unset runs AWS's prebuilt scikit-learn processing image."""

    @field_validator("endpoints")
    @classmethod
    def _unique_endpoints(
        cls, value: tuple[MonitoredEndpointConfig, ...]
    ) -> tuple[MonitoredEndpointConfig, ...]:
        if repeated := _repeated("monitored endpoints", [entry.endpoint for entry in value]):
            raise ValueError(repeated)
        return value

    _emails = field_validator("alarm_emails")(_email_addresses)


# --------------------------------------------------------------------------------------------
# kubernetes layer
# --------------------------------------------------------------------------------------------

#: A Kubernetes object name (RFC 1123 label): what namespaced names and DNS labels allow.
_K8S_NAME = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
_MAX_DNS_LABEL = 63

#: Kubernetes quantities: CPU as cores or millicores, memory with a binary or decimal suffix.
_CPU_QUANTITY = r"^(\d+(\.\d{1,3})?|\d+m)$"
_MEMORY_QUANTITY = r"^\d+(Ki|Mi|Gi|Ti|k|M|G|T)?$"

_EC2_INSTANCE_TYPE = r"^[a-z0-9-]+\.\w+$"

#: An S3 key prefix: not empty, no leading '/' (S3 keys are at most 1024 bytes).
_KEY_PREFIX = r"^[\w!\-.*'()][\w!\-.*'()/]*$"

#: An IAM OIDC identity provider's ARN (what an EKS cluster's service-account roles trust).
_OIDC_PROVIDER_ARN = r"^arn:aws[\w-]*:iam::\d{12}:oidc-provider/[\w.\-/]+$"


def _not_open_to_the_internet(value: tuple[str, ...]) -> tuple[str, ...]:
    """CIDRs that may reach a public API endpoint: real ranges, never the whole internet."""
    for cidr in value:
        try:
            network = ipaddress.ip_network(cidr)
        except ValueError:
            raise ValueError(f"'{cidr}' is not a CIDR block") from None
        if network.prefixlen == 0:
            raise ValueError(f"'{cidr}' opens the API to the whole internet")
    return value


class NodeGroupConfig(_Section):
    """A managed node group: its instance types and size bounds."""

    instance_types: tuple[Annotated[str, Field(pattern=_EC2_INSTANCE_TYPE)], ...] = ("m6i.large",)
    """EC2 instance types the group may launch (several give spot more pools)."""
    min_size: int = Field(default=2, ge=0, le=100)
    """The fewest nodes."""
    max_size: int = Field(default=4, ge=1, le=100)
    """The most nodes."""
    desired_size: int | None = Field(default=None, ge=0, le=100, validate_default=True)
    """Nodes at creation (later left to the autoscaler); unset starts at min_size."""
    disk_size_gb: int = Field(default=50, ge=20, le=16384)
    """Each node's encrypted root volume."""
    spot: bool = False
    """Run on spot capacity (cheaper; nodes may be reclaimed with two minutes' notice)."""

    @field_validator("instance_types")
    @classmethod
    def _some_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one instance type is required")
        if repeated := _repeated("instance types", value):
            raise ValueError(repeated)
        return value

    _above_minimum = field_validator("max_size")(_at_least_min_size)

    _within_bounds = field_validator("desired_size")(_between_min_and_max_size)

    @property
    def initial_size(self) -> int:
        """Nodes at creation."""
        return self.min_size if self.desired_size is None else self.desired_size


class GpuNodeGroupConfig(NodeGroupConfig):
    """The GPU node group: tainted so only pods that ask for GPUs land there."""

    instance_types: tuple[Annotated[str, Field(pattern=_EC2_INSTANCE_TYPE)], ...] = ("g5.xlarge",)
    """EC2 GPU instance types (all with the same GPU count, so a pod's request fits any node)."""
    min_size: int = Field(default=0, ge=0, le=100)
    """The fewest nodes (0: no GPU bill while nothing runs)."""
    max_size: int = Field(default=2, ge=1, le=100)
    """The most nodes."""
    disk_size_gb: int = Field(default=100, ge=20, le=16384)
    """Each node's encrypted root volume (images with CUDA are large)."""

    _gpu_types = field_validator("instance_types")(_gpu_instance_types)


class EksClusterConfig(_Section):
    """An EKS cluster the stack creates in the data layer's VPC."""

    version: str = Field(default="1.33", pattern=r"^1\.\d{2}$")
    """The Kubernetes minor version."""
    system_nodes: NodeGroupConfig = NodeGroupConfig()
    """On-demand nodes for the platform's controllers, MLflow, JupyterHub and CPU workloads."""
    gpu_nodes: GpuNodeGroupConfig | None = GpuNodeGroupConfig()
    """GPU nodes (tainted ``nvidia.com/gpu``); ``null`` for a cluster without GPUs."""
    admin_role_arns: tuple[
        Annotated[str, Field(pattern=r"^arn:aws[\w-]*:iam::\d{12}:role/.+$")], ...
    ] = ()
    """IAM roles given cluster-admin access (the deployer always has it as the creator)."""
    public_access_cidrs: tuple[str, ...] = ()
    """Opt-in: also expose the API endpoint publicly, to these CIDRs only. Empty: private only."""

    _public_cidrs = field_validator("public_access_cidrs")(_not_open_to_the_internet)


class ExistingClusterConfig(_Section):
    """A cluster that exists already (any conformant one with an IAM OIDC provider)."""

    kubeconfig: str | None = Field(default=None, min_length=1)
    """Path of its kubeconfig file (``~`` allowed); unset reads ``$KUBECONFIG``. Rendering needs
    none."""
    context: str | None = Field(default=None, min_length=1)
    """The kubeconfig context to use; unset uses the file's current context."""
    oidc_provider_arn: str = Field(pattern=_OIDC_PROVIDER_ARN)
    """The IAM OIDC provider of the cluster's service-account issuer (for service-account roles)."""
    storage_class: str = Field(default="gp3", pattern=_K8S_NAME)
    """The StorageClass of persistent volumes (databases, notebook homes)."""


#: The longest file or folder name most file systems take (bytes); longer fails with ENAMETOOLONG.
_MAX_FILE_NAME_BYTES = 255
_MAX_PATH_BYTES = 4096


def render_folder_problem(folder: str, root: Path) -> str | None:
    """Why the Kubernetes manifests cannot be rendered to ``folder``, or None.

    A relative ``folder`` is taken from the project ``root`` (where Pulumi runs the program) and
    must stay inside it: a ``..`` or a symlink that leads out is almost always a slip, and would
    write files wherever it points. An absolute folder is an explicit choice and may be anywhere.
    Neither may be, or pass through, an existing file, and the nearest existing folder must be
    writable, so the render cannot fail after the plan.
    """
    if not folder.strip():
        return "must not be empty (unset it to apply the manifests instead)"
    if "\x00" in folder:
        return "must not contain a NUL character"
    path = Path(folder)
    if any(len(part.encode()) > _MAX_FILE_NAME_BYTES for part in path.parts):
        return f"has a folder name longer than {_MAX_FILE_NAME_BYTES} bytes"
    try:
        target = (root / path).resolve()
        if len(str(target).encode()) > _MAX_PATH_BYTES:
            return f"leads to a path longer than {_MAX_PATH_BYTES} bytes"
        existing = target
        while not existing.exists():
            existing = existing.parent
    except (OSError, RuntimeError) as error:  # a symlink loop, an unreadable folder
        return f"'{folder}' cannot be resolved ({error.__class__.__name__})"
    if not path.is_absolute():
        project = root.resolve()
        if target == project:
            return "is the project folder itself: name a folder inside it (e.g. build/manifests)"
        if not target.is_relative_to(project):
            return (
                f"'{folder}' leads outside the project folder {project} (through '..' or a "
                "symlink): name a folder inside it, or an absolute path to render elsewhere on "
                "purpose"
            )
    if not existing.is_dir():
        what = "is a file" if existing == target else f"goes through the file {existing}"
        return f"'{folder}' {what}, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"'{folder}' cannot be written: {existing} is not writable"
    return None


class ClusterConfig(_Section):
    """Where the Kubernetes resources go: a cluster the stack creates, or one that exists."""

    eks: EksClusterConfig | None = None
    """Create an EKS cluster (needs data.network.availability_zones >= 2)."""
    existing: ExistingClusterConfig | None = None
    """Use an existing cluster."""
    render_to: str | None = None
    """Write every Kubernetes manifest to this folder (relative to the project root) instead of
    applying it, for review without a cluster; AWS resources are still created. A relative
    folder must stay inside the project; an absolute one may be anywhere. Never an existing
    file, and its nearest existing folder must be writable."""
    install_operators: bool | None = None
    """Install cert-manager, Knative Serving, KServe and Kubeflow Trainer (pinned Helm charts).
    Defaults to true on a created cluster and false on an existing one."""

    @field_validator("render_to")
    @classmethod
    def _renderable_folder(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        root = Path((info.context or {}).get("project_root") or PROJECT_ROOT)
        if problem := render_folder_problem(value, root):
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _one_source(self) -> ClusterConfig:
        if (self.eks is None) == (self.existing is None):
            raise ValueError("set exactly one of 'eks' (create a cluster) and 'existing'")
        return self

    @property
    def operators_installed(self) -> bool:
        """Whether the stack installs the operators the workloads need."""
        if self.install_operators is not None:
            return self.install_operators
        return self.eks is not None


class ResourcesConfig(_Section):
    """Requests (what the scheduler reserves) and limits of one container."""

    cpu: str = Field(default="1", pattern=_CPU_QUANTITY)
    """CPU request, e.g. ``500m`` or ``2``."""
    memory: str = Field(default="2Gi", pattern=_MEMORY_QUANTITY)
    """Memory request and limit (equal: memory is not compressible)."""
    cpu_limit: str | None = Field(default=None, pattern=_CPU_QUANTITY)
    """CPU limit; unset: twice the request."""
    gpus: int = Field(default=0, ge=0, le=16)
    """NVIDIA GPUs (request = limit); > 0 schedules onto the GPU nodes."""


class KServeEndpointConfig(_Section):
    """One KServe InferenceService running our inference server image."""

    name: str = Field(pattern=_K8S_NAME)
    """The InferenceService's name in the serving namespace; KServe's predictor host label
    ``<name>-predictor-mlp-<environment>-serving`` must fit a DNS label (63 characters)."""
    image: ImageConfig
    """Our inference server image in ECR (docker/serving.Dockerfile)."""
    model_artifact: str = Field(max_length=_MAX_S3_KEY)
    """Key of the model's ``model.tar.gz`` in the models bucket (the newest revision)."""
    canary_traffic_percent: int | None = Field(default=None, ge=0, le=100)
    """Share of traffic the newest revision gets while the previous one keeps the rest; unset
    (or 100) sends everything to the newest."""
    min_replicas: int = Field(default=1, ge=0, le=100)
    """The fewest pods (0 scales to zero when idle; the first request then waits for a pod)."""
    max_replicas: int = Field(default=3, ge=1, le=100)
    """The most pods."""
    scale_metric: Literal["concurrency", "rps"] = "concurrency"
    """What the Knative autoscaler tracks."""
    scale_target: int = Field(default=10, ge=1, le=100_000)
    """Concurrent requests (or requests per second) per pod the autoscaler keeps (at most
    100,000)."""
    resources: ResourcesConfig = ResourcesConfig()
    """Each predictor pod's resources."""

    @field_validator("model_artifact")
    @classmethod
    def _artifact_key(cls, value: str) -> str:
        if not _ARTIFACT_KEY.match(value):
            raise ValueError("must be a key ending in .tar.gz in the models bucket")
        return value

    @field_validator("name")
    @classmethod
    def _host_label_fits(cls, value: str, info: ValidationInfo) -> str:
        # KServe names the predictor's host <name>-predictor-<namespace>, one DNS label, and
        # fails to reconcile past 63 characters (kserve/kserve#4807); the namespace is
        # mlp-<env>-serving (components/kubernetes/namespaces.py).
        return _derived_name_fits(
            value, info, lambda env: f"{value}-predictor-mlp-{env}-serving", _MAX_DNS_LABEL,
            "KServe predictor host label", "a DNS label",
        )  # fmt: skip

    @field_validator("max_replicas")
    @classmethod
    def _above_minimum(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("min_replicas")
        if low is not None and value < low:
            raise ValueError(f"must be >= min_replicas ({low})")
        return value


class KubernetesTrainingJobConfig(_Section):
    """One distributed training job: ``torchrun`` over ``nodes`` x ``gpus_per_node`` workers."""

    name: str = Field(pattern=_K8S_NAME)
    """The TrainJob's name in the training namespace."""
    image: ImageConfig
    """Our training image in ECR (docker/training.Dockerfile)."""
    algorithm: Algorithm = "pytorch"
    """The training algorithm; more than one worker only for ``pytorch`` (DDP)."""
    task: Literal["classification", "regression"] = "classification"
    """Whether the target is a class or a number."""
    target: str = Field(pattern=r"^[\w.-]{1,128}$")
    """The target column (not empty)."""
    train_data: str = Field(pattern=_KEY_PREFIX, max_length=_MAX_S3_KEY)
    """Prefix of the training channel in the processed bucket (not empty)."""
    validation_data: str | None = Field(default=None, pattern=_KEY_PREFIX, max_length=_MAX_S3_KEY)
    """Prefix of the validation channel in the processed bucket."""
    hyperparameters: dict[
        Annotated[str, Field(pattern=_HYPERPARAMETER_NAME)], HyperparameterValue
    ] = {}
    """Hyperparameters passed to the training code (as strings): names and values the
    algorithm's trainer accepts, not algorithm/task/target (the job's own fields)."""
    nodes: int = Field(default=1, ge=1, le=64)
    """Pods (one per node)."""
    gpus_per_node: int = Field(default=0, ge=0, le=16)
    """GPUs per pod, one worker process each; 0 runs one CPU worker per pod."""
    resources: ResourcesConfig = ResourcesConfig(cpu="2", memory="8Gi")
    """Each pod's CPU and memory (its GPUs are ``gpus_per_node``)."""
    backoff_limit: int = Field(default=3, ge=0, le=20)
    """Pod failures tolerated before the job fails (restarts resume from the newest checkpoint)."""
    active_deadline_seconds: int = Field(default=86400, ge=60, le=30 * 86400)
    """Longest the job may run in total."""

    _hyperparameters = field_validator("hyperparameters")(_hyperparameters_accepted)

    @model_validator(mode="after")
    def _distributed_algorithm(self) -> KubernetesTrainingJobConfig:
        if self.world_size > 1 and self.algorithm not in _DISTRIBUTED_ALGORITHMS:
            raise ValueError(
                f"{self.algorithm} trains in one process; only pytorch trains on "
                f"nodes x gpus_per_node = {self.world_size} workers (DDP)"
            )
        return self

    @property
    def world_size(self) -> int:
        """Worker processes in the job: one per GPU, or one per node on CPU."""
        return self.nodes * max(self.gpus_per_node, 1)


class KubernetesMlflowConfig(_Section):
    """An MLflow tracking server in the cluster: PostgreSQL metadata, S3 artifacts, auth on."""

    enabled: bool = True
    """Run the tracking server."""
    image: ImageConfig | None = None
    """Our MLflow image in ECR (docker/mlflow.Dockerfile); unset: ``ml-platform/mlflow`` at the
    version below."""
    database: Literal["rds", "in_cluster"] = "rds"
    """``rds``: an encrypted RDS PostgreSQL instance; ``in_cluster``: a PostgreSQL StatefulSet
    (cheap, for development)."""
    rds_instance_class: str = Field(default="db.t4g.small", pattern=r"^db\.[a-z0-9]+\.\w+$")
    """The RDS instance class."""
    rds_storage_gb: int = Field(default=20, ge=20, le=65536)
    """RDS storage (grows automatically up to 5x)."""
    rds_multi_az: bool = False
    """A standby in a second availability zone (production)."""
    backup_retention_days: int = Field(default=7, ge=1, le=35)
    """Days of automatic RDS backups."""
    replicas: int = Field(default=1, ge=1, le=10)
    """Tracking server pods."""
    resources: ResourcesConfig = ResourcesConfig(cpu="500m", memory="1Gi")
    """Each tracking server pod's resources."""


class JupyterHubConfig(_Section):
    """JupyterHub (the zero-to-jupyterhub Helm chart) with a CPU and a GPU profile."""

    enabled: bool = True
    """Run JupyterHub."""
    admin_users: tuple[Annotated[str, Field(pattern=r"^\S{1,256}$")], ...] = ()
    """Users who may approve sign-ups and manage servers (native authenticator); names without
    spaces, not empty."""
    user_image: ImageConfig | None = None
    """The single-user notebook image in ECR; unset: the chart's pinned default image."""
    storage_gb: int = Field(default=20, ge=1, le=16384)
    """Each user's persistent home volume."""
    cpu_profile: ResourcesConfig = ResourcesConfig(cpu="1", memory="4Gi")
    """Resources of the default (CPU) profile."""
    gpu_profile: ResourcesConfig | None = ResourcesConfig(cpu="4", memory="16Gi", gpus=1)
    """Resources of the GPU profile; ``null`` for none."""
    idle_cull_minutes: int = Field(default=60, ge=5, le=10080)
    """Stop a user's server after this long idle (it keeps its volume)."""

    @field_validator("gpu_profile")
    @classmethod
    def _has_gpus(cls, value: ResourcesConfig | None) -> ResourcesConfig | None:
        if value is not None and value.gpus < 1:
            raise ValueError("a GPU profile needs gpus >= 1")
        return value


class KubernetesConfig(_Section):
    """Kubernetes options (the kubernetes layer)."""

    cluster: ClusterConfig | None = None
    """Where the resources go (required when the layer is deployed)."""
    endpoints: tuple[KServeEndpointConfig, ...] = ()
    """KServe InferenceServices, one per entry."""
    training_jobs: tuple[KubernetesTrainingJobConfig, ...] = ()
    """Distributed training jobs, one TrainJob per entry."""
    mlflow: KubernetesMlflowConfig = KubernetesMlflowConfig()
    """The MLflow tracking server."""
    jupyterhub: JupyterHubConfig = JupyterHubConfig()
    """JupyterHub."""

    @field_validator("endpoints")
    @classmethod
    def _unique_endpoints(
        cls, value: tuple[KServeEndpointConfig, ...]
    ) -> tuple[KServeEndpointConfig, ...]:
        if repeated := _repeated("endpoint names", [entry.name for entry in value]):
            raise ValueError(repeated)
        return value

    @field_validator("training_jobs")
    @classmethod
    def _unique_jobs(
        cls, value: tuple[KubernetesTrainingJobConfig, ...]
    ) -> tuple[KubernetesTrainingJobConfig, ...]:
        if repeated := _repeated("training job names", [entry.name for entry in value]):
            raise ValueError(repeated)
        return value


# --------------------------------------------------------------------------------------------
# the whole platform
# --------------------------------------------------------------------------------------------


def _known_layer(name: str) -> str:
    if name not in LAYERS:
        raise ValueError(f"'{name}' is not a layer (known: {', '.join(LAYERS)})")
    if not LAYERS[name].implemented:
        raise ValueError(f"'{name}' is not available yet in this version")
    return name


#: A layer name from stacks/layers.py whose components exist.
LayerName = Annotated[str, AfterValidator(_known_layer)]

#: The stack's environment name: short, because it is part of every derived resource name.
_ENVIRONMENT = re.compile(r"^[a-z][a-z0-9]{1,11}$")

_TAG_KEY = re.compile(r"^[\w .:/=+\-@]{1,128}$")
_TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{0,256}$")

#: The tags the program puts on every resource itself (stacks/program.py ``base_tags``); the
#: stack's own tags may override their values but still count against the limits.
PLATFORM_TAG_KEYS = ("Project", "Environment", "PulumiStack", "ManagedBy")

#: AWS's limit on tags per resource (user-defined tag restrictions).
MAX_TAGS = 50

#: S3's limit on tags per object. The provider's default tags reach S3 objects too (the code
#: archives and monitoring baselines), and S3 refuses an object with more
#: (hashicorp/terraform-provider-aws#19895).
MAX_S3_OBJECT_TAGS = 10

#: The layers that upload S3 objects (code archives, monitoring baselines).
_LAYERS_WITH_S3_OBJECTS = ("training", "serving", "monitoring")


class PlatformConfig(_Section):
    """Everything a stack configures. Field names are the keys under ``ml-platform:``."""

    model_config = ConfigDict(populate_by_name=False)

    region: str = Field(alias="aws:region", pattern=r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
    """The AWS region (``aws:region``), e.g. ``us-east-1``."""
    environment: str = Field(pattern=_ENVIRONMENT.pattern)
    """Short environment name (``dev``, ``prod``) used in resource names and tags."""
    tier: Literal["development", "production"]
    """``production`` turns on the production rules and retains data on destroy."""
    retain_data: bool | None = None
    """Keep stateful resources on ``pulumi destroy``; defaults to true exactly in production."""
    tags: dict[str, str] = {}
    """Tags every resource carries (through the provider's default tags)."""
    layers: tuple[LayerName, ...] = ("data",)
    """The layers this stack deploys (see stacks/layers.py)."""
    data: DataConfig = DataConfig()
    """The data layer."""
    feature_store: FeatureStoreConfig = FeatureStoreConfig()
    """The feature-store layer."""
    training: TrainingConfig = TrainingConfig()
    """The training layer."""
    gpu: GpuConfig = GpuConfig()
    """The GPU-compute layer."""
    serving: ServingConfig = ServingConfig()
    """The serving layer."""
    monitoring: MonitoringConfig = MonitoringConfig()
    """The monitoring layer."""
    kubernetes: KubernetesConfig = KubernetesConfig()
    """The Kubernetes layer."""

    @field_validator("serving")
    @classmethod
    def _share_serving(cls, value: ServingConfig, info: ValidationInfo) -> ServingConfig:
        # Fields validate in order: the monitoring section (after this one) checks its endpoints
        # against the validated serving endpoints, at its own paths.
        if isinstance(info.context, dict):
            info.context[_SERVING_CONTEXT] = value
        return value

    @field_validator("retain_data")
    @classmethod
    def _production_retains(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        if _is_production(info) and value is False:
            raise ValueError("must not be false in a production stack")
        return value

    @field_validator("tags")
    @classmethod
    def _aws_tag_rules(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        problems: list[tuple[str, str]] = []
        for key, tag_value in value.items():
            if not _TAG_KEY.match(key) or key.lower().startswith("aws:"):
                problems.append(
                    ("", f"'{key}' is not a valid tag key (1-128 chars, no 'aws:' prefix)")
                )
            elif len(tag_value) > 256:
                problems.append((key, "longer than 256 characters (AWS's tag value limit)"))
            elif not _TAG_VALUE.match(tag_value):
                problems.append(
                    (
                        key,
                        "may only hold letters, digits, spaces and _.:/=+-@ (an AWS tag rule)",
                    )
                )
        keys = set(PLATFORM_TAG_KEYS) | set(value)
        layers = (info.context or {}).get("layers") or ()
        uploading = [layer for layer in _LAYERS_WITH_S3_OBJECTS if layer in layers]
        limit = MAX_S3_OBJECT_TAGS if uploading else MAX_TAGS
        if len(keys) > limit:
            why = (
                f"S3 objects take at most {MAX_S3_OBJECT_TAGS} and the {', '.join(uploading)} "
                "layers upload objects, which get every default tag"
                if uploading
                else f"AWS allows at most {MAX_TAGS} per resource"
            )
            problems.append(
                (
                    "",
                    f"{len(keys)} tags with the platform's own "
                    f"({', '.join(PLATFORM_TAG_KEYS)}): {why}",
                )
            )
        if problems:
            raise PathProblems(problems)
        return value

    @field_validator("layers")
    @classmethod
    def _layers_complete(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        problems = []
        if duplicates := sorted({name for name in value if value.count(name) > 1}):
            problems.append(f"lists {', '.join(duplicates)} more than once")
        for name in value:
            if missing := [dep for dep in LAYERS[name].depends_on if dep not in value]:
                problems.append(f"'{name}' needs {', '.join(missing)}, which is not listed")
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("kubernetes")
    @classmethod
    def _kubernetes_deployable(
        cls, value: KubernetesConfig, info: ValidationInfo
    ) -> KubernetesConfig:
        # Checked only when the layer is deployed: the section's defaults stay valid otherwise.
        if "kubernetes" not in (info.data.get("layers") or ()):
            return value
        if value.cluster is None:
            raise ValueError("cluster: required when the kubernetes layer is deployed")
        problems = []
        data = info.data.get("data")
        zones = data.network.availability_zones if data is not None else 2
        if value.cluster.eks is not None and zones < 2:
            problems.append(
                "cluster.eks: EKS needs subnets in two availability zones "
                f"(data.network.availability_zones is {zones})"
            )
        if value.mlflow.enabled and value.mlflow.database == "rds" and zones < 2:
            problems.append(
                "mlflow.database: RDS needs two availability zones "
                f"(data.network.availability_zones is {zones}); use in_cluster"
            )
        eks = value.cluster.eks
        if eks is not None and eks.gpu_nodes is None:
            wanting = [
                f"endpoints[{index}]"
                for index, entry in enumerate(value.endpoints)
                if entry.resources.gpus
            ] + [
                f"training_jobs[{index}]"
                for index, job in enumerate(value.training_jobs)
                if job.gpus_per_node
            ]
            if value.jupyterhub.enabled and value.jupyterhub.gpu_profile is not None:
                wanting.append("jupyterhub.gpu_profile")
            if wanting:
                problems.append(
                    f"{', '.join(wanting)}: ask for GPUs but cluster.eks.gpu_nodes is null"
                )
        if value.jupyterhub.enabled and not value.jupyterhub.admin_users:
            problems.append(
                "jupyterhub.admin_users: at least one admin is needed to approve sign-ups"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @property
    def retains_data(self) -> bool:
        """Whether stateful resources survive ``pulumi destroy`` (protected, retained)."""
        return self.tier == "production" if self.retain_data is None else self.retain_data


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------

#: Config keys outside the project's namespace that the platform reads.
_FOREIGN_KEYS = ("aws:region",)

#: The largest stack file read (a platform bound: real ones are a few KB; this stops a stray
#: multi-GB file from being read into memory).
MAX_STACK_FILE_BYTES = 1024 * 1024

#: The deepest a stack file's values may nest (a platform bound: real ones nest about 6 deep;
#: the validators' JSON parser stops at a few hundred with a message naming no path).
MAX_STACK_FILE_DEPTH = 32


class StackFileError(ConfigError):
    """A stack file that cannot be read as a stack's config: one line naming the file and line."""

    def __init__(self, stack: str, path: Path, line: int | None, reason: str) -> None:
        self.path, self.line, self.reason = path, line, reason
        where = f"{path}, line {line}" if line is not None else str(path)
        super().__init__(stack, [f"{where}: {reason}"])
        # One line, not ConfigError's list: nothing was validated yet.
        self.args = (f"{where}: {reason}",)

    def __str__(self) -> str:
        return str(self.args[0])


class _StackFileProblem(Exception):
    """Raised inside the loader; :func:`load_stack_file` turns it into a StackFileError."""

    def __init__(self, mark: yaml.Mark | None, reason: str) -> None:
        super().__init__(reason)
        self.line = mark.line + 1 if mark is not None else None
        self.reason = reason


class _StackFileLoader(yaml.SafeLoader):
    """PyYAML's safe loader, stricter: no aliases, no duplicate keys, only JSON-like values.

    - Aliases (``*name``) are refused: they are how a few lines expand into gigabytes (the
      "billion laughs"), and a stack file has no need of them.
    - A key repeated in one mapping is refused: YAML loaders silently keep the last one.
    - Timestamps stay the text they were written as (what Pulumi's own YAML reader passes);
      binary, set, omap and pairs values are refused (no config value takes them).
    """

    # PyYAML's hooks: composing a node (where aliases resolve) and constructing a mapping.
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _StackFileProblem(
                event.start_mark,
                f"YAML aliases (*{event.anchor}) are not allowed in a stack file: write the "
                "value out",
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        first_seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                earlier = first_seen.get(key)
            except TypeError:  # an unhashable key: PyYAML reports it below
                continue
            line = key_node.start_mark.line + 1
            if earlier is not None:
                raise _StackFileProblem(
                    key_node.start_mark,
                    f"duplicate key '{key}' (first at line {earlier}); YAML would keep only "
                    "the last",
                )
            first_seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _timestamp_as_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


def _refuse(kind: str) -> Any:
    def constructor(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        raise _StackFileProblem(node.start_mark, f"a YAML {kind} is not a config value")

    return constructor


_StackFileLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)
for _tag, _kind in (
    ("binary", "binary value"),
    ("set", "set"),
    ("omap", "omap"),
    ("pairs", "pairs"),
):
    _StackFileLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse(_kind))


def _kind_of(value: Any) -> str:
    """What a YAML value is, in words, with its article: ``a list``, ``text``, ``a number``."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "text" if isinstance(value, str) else f"a {type(value).__name__}"


def _depth(value: Any) -> int:
    """How deep mappings and lists nest in ``value`` (a scalar is 0), without recursion."""
    deepest, pending = 0, [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            children = item.values() if isinstance(item, dict) else item
            pending += [(child, depth + 1) for child in children]
            deepest = max(deepest, depth + 1)
    return deepest


def load_stack_file(path: Path, stack: str) -> dict[str, Any]:
    """The ``config:`` mapping of a ``Pulumi.<stack>.yaml`` file, read safely.

    Raises:
        StackFileError: one line naming the file (and line) and what is wrong: unreadable,
            larger than MAX_STACK_FILE_BYTES, not UTF-8, not YAML, an alias, a duplicate key, a
            root or ``config:`` that is not a mapping, values nested deeper than
            MAX_STACK_FILE_DEPTH, or a config key that is not a string.

    """
    try:
        size = path.stat().st_size
        if size > MAX_STACK_FILE_BYTES:
            raise StackFileError(
                stack,
                path,
                None,
                f"{size} bytes; a stack file may be at most {MAX_STACK_FILE_BYTES}",
            )
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise StackFileError(stack, path, None, f"cannot be read ({error.strerror})") from None
    except UnicodeDecodeError:
        raise StackFileError(stack, path, None, "is not UTF-8 text") from None
    try:
        # A SafeLoader subclass: no Python objects are ever constructed.
        document = yaml.load(text, Loader=_StackFileLoader)
    except _StackFileProblem as problem:
        raise StackFileError(stack, path, problem.line, problem.reason) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = " ".join(part for part in (error.context, error.problem) if part)
        raise StackFileError(stack, path, line, f"not valid YAML: {reason}") from None
    except (yaml.YAMLError, ValueError) as error:
        # e.g. an integer of more digits than Python converts (ValueError)
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise StackFileError(stack, path, None, f"not valid YAML: {first}") from None
    except RecursionError:
        raise StackFileError(stack, path, None, "nested too deeply to be a stack file") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise StackFileError(
            stack, path, None, f"must be a mapping with a 'config:' key, not {_kind_of(document)}"
        )
    config = document.get("config")
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise StackFileError(
            stack,
            path,
            None,
            f"'config:' must be a mapping of keys to values, not {_kind_of(config)}",
        )
    if (depth := _depth(config)) > MAX_STACK_FILE_DEPTH:
        raise StackFileError(
            stack,
            path,
            None,
            f"nests {depth} levels deep; a stack file may nest at most {MAX_STACK_FILE_DEPTH}",
        )
    if bad := [key for key in config if not isinstance(key, str)]:
        raise StackFileError(
            stack, path, None, f"config key {bad[0]!r} is not a string like 'ml-platform:data'"
        )
    return config


def decode_config_value(value: Any) -> Any:
    """Decode one value as the Pulumi engine hands it over: objects and lists arrive as JSON text.

    Plain strings that are not JSON (``dev``) stay strings; ``true`` and ``30`` become a bool and a
    number, as Pulumi's own ``Config.get_object`` would read them.
    """
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (json.JSONDecodeError, RecursionError):
        # Not JSON, or nested beyond Python's recursion limit: validated as the text it is.
        return value


def raw_platform_values(flat_config: Mapping[str, Any]) -> dict[str, Any]:
    """Pick this project's keys (namespace stripped) and the foreign keys it reads, decoded."""
    prefix = f"{PROJECT}:"
    values: dict[str, Any] = {}
    for key, value in flat_config.items():
        if key.startswith(prefix):
            values[key.removeprefix(prefix)] = decode_config_value(value)
        elif key in _FOREIGN_KEYS:
            values[key] = value
    return values


def load_platform_config(
    stack: str, flat_config: Mapping[str, Any], project_root: Path | None = None
) -> PlatformConfig:
    """Validate a stack's flat config map (``{"ml-platform:data": "{...}", ...}``).

    Paths in the config (baseline folders) are relative to ``project_root`` (default: this
    project's, the folder holding Pulumi.yaml).

    Raises:
        ConfigError: with every problem as ``path: reason``, sorted by path.

    """
    values = raw_platform_values(flat_config)
    environment = values.get("environment")
    layers = values.get("layers")
    context = {
        "tier": values.get("tier"),
        "stack": stack,
        "project_root": project_root or PROJECT_ROOT,
        # Names derived from the environment are checked only when it is itself valid.
        "environment": environment
        if isinstance(environment, str) and _ENVIRONMENT.match(environment)
        else None,
        "layers": tuple(layers) if isinstance(layers, list) else (),
    }
    try:
        # YAML's .inf/.nan travel as JSON's Infinity/NaN (json.dumps allows them), for the
        # models to refuse at their paths.
        return PlatformConfig.model_validate_json(json.dumps(values), context=context)
    except ValidationError as error:
        problems = [line for item in error.errors(include_url=False) for line in _describe(item)]
        raise ConfigError(stack, sorted(set(problems))) from None


def format_path(location: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as a config path: ``serving.endpoints[0].weight``."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "<config>"


def _describe(item: Any) -> list[str]:
    """Turn one pydantic error into ``path: reason`` lines with short, user-facing reasons.

    One line, unless the error is a :class:`PathProblems` (one line per problem at its path).
    """
    location = tuple(item["loc"])
    kind, ctx = item["type"], item.get("ctx", {})
    error = ctx.get("error")
    if kind == "value_error" and isinstance(error, PathProblems):
        path = format_path(location)
        return [f"{_join_path(path, sub_path)}: {reason}" for sub_path, reason in error.problems]
    return [f"{format_path(location)}: {_reason(item, location, kind, ctx)}"]


def _join_path(path: str, sub_path: str) -> str:
    """``a.b`` + ``c`` is ``a.b.c``; + ``[1].min`` is ``a.b[1].min``; + ``""`` is ``a.b``."""
    if not sub_path:
        return path
    if sub_path.startswith("[") or path == "<config>":
        return f"{path}{sub_path}" if path != "<config>" else sub_path
    return f"{path}.{sub_path}"


def _reason(item: Any, location: tuple[int | str, ...], kind: str, ctx: dict[str, Any]) -> str:
    """The short reason of one pydantic error."""
    if kind == "extra_forbidden":
        reason = "unknown key" + _suggestion(location)
    elif kind == "missing":
        reason = "required"
    elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        sign = {"greater_than_equal": ">=", "greater_than": ">"}.get(kind) or (
            "<=" if kind == "less_than_equal" else "<"
        )
        bound = next(iter(ctx.values()))
        reason = f"must be {sign} {bound}"
    elif kind == "literal_error":
        reason = f"must be one of {ctx['expected']}"
    elif kind == "value_error":
        reason = str(ctx["error"])
    elif kind == "string_pattern_mismatch":
        reason = f"must match {ctx['pattern']}"
    elif kind == "string_too_short":
        minimum = ctx["min_length"]
        reason = "must not be empty" if minimum == 1 else f"must be at least {minimum} characters"
    elif kind == "string_too_long":
        reason = f"must be at most {ctx['max_length']} characters"
    elif kind.startswith("int_"):
        reason = "must be an integer"
    elif kind.startswith("bool_"):
        reason = "must be true or false"
    elif kind.startswith("string_"):
        reason = "must be a string"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        reason = "must be a mapping"
    elif kind in ("tuple_type", "list_type"):
        reason = "must be a list"
    elif kind == "finite_number":
        reason = "must be a finite number (not .inf or .nan)"
    elif kind in ("float_type", "float_parsing"):
        reason = "must be a number"
    elif kind == "too_long":
        reason = f"must have at most {ctx.get('max_length')} items"
    elif kind == "too_short":
        reason = f"must have at least {ctx.get('min_length')} item(s)"
    else:
        reason = item["msg"]
    return reason


def _suggestion(location: tuple[int | str, ...]) -> str:
    """Suggest the closest known key for a misspelt one, by walking the models to its parent."""
    model: Any = PlatformConfig
    for part in location[:-1]:
        if isinstance(part, int):
            continue  # an index into a tuple of models: the model stays the same
        field = model.model_fields.get(part)
        model = _model_in(field.annotation) if field is not None else None
        if model is None:
            return ""
    known = [field.alias or name for name, field in model.model_fields.items()]
    close = difflib.get_close_matches(str(location[-1]), known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The config model inside an annotation: ``X``, ``X | None`` or ``tuple[X, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        if (model := _model_in(argument)) is not None:
            return model
    return None
