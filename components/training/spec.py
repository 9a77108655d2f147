"""The training layer's input model: the ``training`` section of a stack.

Image repositories, notebooks, experiment tracking, and pipelines with spot and tuning.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from components.shared import hyperparameter_tables
from components.shared.hyperparameters import (
    DISTRIBUTED_ALGORITHMS,
    HYPERPARAMETER_NAME,
    Algorithm,
    Hyperparameters,
    hyperparameters_accepted,
)
from components.shared.instance_storage import has_instance_storage
from components.shared.spec_rules import (
    GPU_FAMILIES,
    MAX_S3_KEY,
    NAME_PATTERN,
    SAGEMAKER_INSTANCE,
    ImageConfig,
    PathProblems,
    Section,
    image_source,
    instance_family,
    name_fits_validator,
    platform_name,
    repeated_names,
    tag_needs_framework,
    unique_names_validator,
)
from workloads.training.objectives import METRICS, evaluated_metrics

#: The validation context's keys of the algorithm and task of the training pipeline being
#: validated (its tuning ranges check against them).
_ALGORITHM_CONTEXT = "training_algorithm"


_TASK_CONTEXT = "training_task"


#: Values of one categorical tuning range (SageMaker ``CategoricalParameterRange``: 1-30 values).
MAX_CATEGORICAL_VALUES = 30


#: The most epochs Hyperband's resource may count (a platform bound on a job's length).
MAX_HYPERBAND_RESOURCE = 10_000


#: SageMaker's limit on a model package group's name, ``mlp-<env>-<group>``
#: (CreateModelPackageGroup ``ModelPackageGroupName``).
MAX_MODEL_GROUP_NAME = 63


#: SageMaker's limit on a model package group's description (``ModelPackageGroupDescription``).
MAX_MODEL_GROUP_DESCRIPTION = 1024


#: The most accounts one group's resource policy names (keeps the policy far below
#: PutModelPackageGroupPolicy's 20,480 characters).
MAX_MODEL_GROUP_READERS = 100


#: SageMaker's name pattern (``[a-zA-Z0-9](-*[a-zA-Z0-9])*``) in lower case: SageMaker reports
#: some ARNs in lower case, and the group's policy names its ARN, which IAM compares exactly.
MODEL_GROUP_PATTERN = r"^[a-z0-9](-*[a-z0-9])*$"


#: The key prefix of a data location in the processed bucket (ends in ``/``).
DATA_PREFIX = r"^[\w!\-.*'()][\w!\-.*'()/]*/$"


#: The most thresholds one evaluation gates on (each is a condition of the pipeline's condition
#: step; 20 keeps the failure message and the model card small).
MAX_THRESHOLDS = 20


#: SageMaker's limit on a training job's name, which is the pipeline's ``mlp-<env>-<name>``
#: (CreateTrainingJob ``TrainingJobName``).
MAX_TRAINING_JOB_NAME = 63


#: Wildcards an ECR lifecycle rule's tag pattern may hold (ECR's lifecycle policy properties).
MAX_LIFECYCLE_WILDCARDS = 4

#: Characters of an ECR tag filter (tag-mutability exclusion filters; lifecycle tag patterns).
_TAG_FILTER_CHARACTERS = r"[0-9a-zA-Z._-]"


class RepositoriesConfig(Section):
    """The ECR repositories for the platform's own images (``ml-platform/<name>``).

    Every tag is immutable. Release tags (``release_tag_patterns``, e.g. ``1.0.0``) are what
    stack files and registered model versions name: never expired. Scratch tags
    (``scratch_tag_prefixes``, e.g. ``dev-3f2a9c1``) are builds for trying things: only the newest
    of each prefix are kept (and, opted in, they may be moved). Untagged images expire after some
    days.
    """

    names: tuple[
        Annotated[str, Field(pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$", max_length=244)], ...
    ] = (
        "training",
        "serving",
    )
    """Repository names under the ``ml-platform/`` namespace (the full name is at most 256
    characters, ECR's limit, so a name at most 244)."""
    release_tag_patterns: tuple[
        Annotated[str, Field(pattern=rf"^({_TAG_FILTER_CHARACTERS}|\*)+$", max_length=128)], ...
    ] = Field(default=("*.*.*",), min_length=1, max_length=10)
    """Tags of releases, as ECR wildcard patterns (``*`` any characters, at most 4 per pattern,
    ECR's limit): an image with such a tag is never expired. Default ``*.*.*`` (``1.0.0``,
    ``1.0.0-gpu``); 1-10 patterns."""
    scratch_tag_prefixes: tuple[
        Annotated[str, Field(pattern=rf"^{_TAG_FILTER_CHARACTERS}+$", max_length=127)], ...
    ] = Field(default=("dev-", "ci-"), max_length=5)
    """Prefixes of scratch tags: only the newest ``keep_scratch_images`` images of each prefix are
    kept. Default ``dev-``, ``ci-``; at most 5 (ECR's limit of tag-mutability exclusion filters);
    none: no tagged image expires."""
    keep_scratch_images: int = Field(default=30, ge=1, le=1000)
    """Images with a scratch tag kept per prefix; older ones expire (default 30)."""
    mutable_scratch_tags: bool = False
    """Let scratch tags be pushed again onto another image (``IMMUTABLE_WITH_EXCLUSION``); off by
    default: Security Hub's ECR.2 and checkov's CKV_AWS_51 pass only fully immutable tags."""
    untagged_expiry_days: int = Field(default=7, ge=1, le=365)
    """Days after which untagged images (failed or superseded pushes) expire (default 7)."""

    _unique_names = unique_names_validator("names", "repository names")
    _unique_patterns = unique_names_validator("release_tag_patterns", "release tag patterns")
    _unique_prefixes = unique_names_validator("scratch_tag_prefixes", "scratch tag prefixes")

    @field_validator("release_tag_patterns")
    @classmethod
    def _patterns_ecr_accepts(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            if pattern.count("*") > MAX_LIFECYCLE_WILDCARDS:
                raise ValueError(
                    f"'{pattern}' has {pattern.count('*')} wildcards; an ECR lifecycle tag"
                    f" pattern has at most {MAX_LIFECYCLE_WILDCARDS}"
                )
            if not pattern.strip("*"):
                raise ValueError(
                    f"'{pattern}' matches every tag, so no scratch image would ever expire"
                )
        return patterns

    @model_validator(mode="after")
    def _scratch_tags_fit(self) -> RepositoriesConfig:
        # A scratch prefix whose pattern is also a release pattern would never expire (the
        # release rule comes first), so the config says so rather than keeping it silently.
        if same := [p for p in self.scratch_tag_prefixes if f"{p}*" in self.release_tag_patterns]:
            raise ValueError(
                f"scratch tag prefix {', '.join(map(repr, same))} is also a release tag pattern"
                " ('<prefix>*'): a tag cannot be both"
            )
        if self.mutable_scratch_tags and not self.scratch_tag_prefixes:
            raise ValueError("mutable_scratch_tags needs scratch_tag_prefixes (the tags it frees)")
        return self


class NotebookInstanceConfig(Section):
    """A SageMaker notebook instance in the private VPC (no internet, no root)."""

    instance_type: str = Field(default="ml.t3.medium", pattern=SAGEMAKER_INSTANCE)
    """Instance type of the notebook."""
    volume_size_gb: int = Field(default=20, ge=5, le=16384)
    """Size of the notebook's KMS-encrypted storage volume."""
    platform_identifier: str = Field(default="notebook-al2023-v1", pattern=r"^notebook-al\w+-v\d$")
    """The notebook platform (Amazon Linux and JupyterLab version)."""
    idle_stop_minutes: int | None = Field(default=60, ge=10, le=1440)
    """Stop the instance after this long without a running kernel (the lifecycle script); unset
    never stops it."""


class StudioConfig(Section):
    """A SageMaker Studio domain in the private VPC (VPC-only traffic, IAM auth, KMS)."""

    user_profiles: tuple[Annotated[str, Field(pattern=NAME_PATTERN)], ...] = ()
    """A user profile per data scientist (they sign in through the console's IAM access)."""

    _unique_profiles = unique_names_validator("user_profiles", "user profiles")


class NotebooksConfig(Section):
    """Where data scientists work: a notebook instance, a Studio domain, both or neither."""

    instance: NotebookInstanceConfig | None = None
    """A SageMaker notebook instance; unset creates none."""
    studio: StudioConfig | None = None
    """A SageMaker Studio domain; unset creates none."""


#: The experiment-tracking settings that only the sized tracking server (``backend: server``) has.
SERVER_ONLY_TRACKING_SETTINGS = ("server_size", "mlflow_version")


class ExperimentTrackingConfig(Section):
    """SageMaker managed MLflow with its artifacts in the experiments bucket.

    Serverless (an MLflow App) by default; a sized tracking server as the option.
    """

    enabled: bool = True
    """Create the MLflow backend (training jobs log to it when their container has mlflow)."""
    backend: Literal["serverless", "server"] = "serverless"
    """``serverless`` (default): a SageMaker MLflow App, with no capacity to choose or server to
    keep running; ``server``: a sized MLflow tracking server that runs all the time."""
    server_size: Literal["Small", "Medium", "Large"] = "Small"
    """Tracking server size, ``backend: server`` only (Small: up to 25 users)."""
    mlflow_version: str = Field(default="3.0", pattern=r"^\d+\.\d+(\.\d+)?$")
    """The MLflow version the tracking server runs, ``backend: server`` only (an app runs the
    version SageMaker maintains)."""
    automatic_model_registration: bool = False
    """Register MLflow models in the SageMaker model registry automatically."""
    weekly_maintenance_window_start: str = Field(
        default="Sun:03:00", pattern=r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun):([01]\d|2[0-3]):[0-5]\d$"
    )
    """When AWS may patch the server or app (``Day:HH:MM``, UTC)."""

    @model_validator(mode="after")
    def _server_settings_need_a_server(self) -> ExperimentTrackingConfig:
        given = [name for name in SERVER_ONLY_TRACKING_SETTINGS if name in self.model_fields_set]
        if self.backend == "serverless" and given:
            raise ValueError(
                f"{' and '.join(given)} {'apply' if len(given) > 1 else 'applies'} to"
                " backend: server only (the serverless MLflow App has no size or version"
                " to choose)"
            )
        return self


class SpotConfig(Section):
    """Managed spot training: cheaper capacity that may be interrupted and resumed."""

    enabled: bool = True
    """Run on spot capacity; the job resumes from its newest checkpoint after an interruption."""
    max_wait_seconds: int = Field(default=14400, ge=1, le=2419200)
    """Longest the job may take including waiting for spot capacity (>= max_runtime_seconds)."""


class ParameterRangeConfig(Section):
    """One hyperparameter range a tuning job searches."""

    name: str = Field(pattern=HYPERPARAMETER_NAME)
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
        if problems := hyperparameter_tables.range_problems(
            algorithm, task, self.name, self.type, self.min, self.max, self.values
        ):
            raise PathProblems(problems)
        return self


class TuningConfig(Section):
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
        if repeated := repeated_names("range names", names):
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

    @property
    def tuned_names(self) -> set[str]:
        """The names of the tuned hyperparameters (the tuning job sets them per training job)."""
        return {item.name for item in self.ranges}


class ModelRegistryConfig(Section):
    """The SageMaker model package group a pipeline's models are registered into (one per model)."""

    group: str | None = Field(default=None, pattern=MODEL_GROUP_PATTERN)
    """The group's short name (default: the pipeline's name): lower-case letters, digits and
    hyphens, starting and ending with a letter or digit; in AWS ``mlp-<environment>-<group>`` (at
    most 63 characters). Pipelines training the same model name the same group."""
    description: str | None = Field(
        default=None, min_length=1, max_length=MAX_MODEL_GROUP_DESCRIPTION
    )
    """What the model is, as the console shows it (1-1,024 characters, no control characters).
    Changing it replaces the group (pulumi-aws cannot update it), which prod's protection
    refuses."""
    readers: tuple[Annotated[str, Field(pattern=r"^\d{12}$")], ...] = ()
    """Other AWS accounts (12-digit ids, quoted) that may describe the group and list and describe
    its versions (a resource policy); none by default."""
    auto_approve: bool = False
    """Register versions as ``Approved`` instead of ``PendingManualApproval`` (default false).
    A production stack refuses it unless ``allow_auto_approve_in_prod`` is set."""
    allow_auto_approve_in_prod: bool = False
    """Let ``auto_approve`` stand in a production-tier stack (default false): without it prod's
    versions always wait for a person's approval."""

    _group_fits = name_fits_validator(
        "group", platform_name, MAX_MODEL_GROUP_NAME, "model package group name"
    )
    _unique_readers = unique_names_validator("readers", "reader accounts")

    @field_validator("description")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        # SageMaker's pattern: letters, marks, separators, symbols, numbers and punctuation.
        if value is not None and any(unicodedata.category(c).startswith("C") for c in value):
            raise ValueError("must not hold control or other unprintable characters")
        return value

    @field_validator("readers")
    @classmethod
    def _few_readers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) > MAX_MODEL_GROUP_READERS:
            raise ValueError(f"at most {MAX_MODEL_GROUP_READERS} accounts, got {len(value)}")
        return value


class ThresholdConfig(Section):
    """The bounds one evaluation metric must meet for the version to be registered."""

    min: float | None = None
    """The lowest passing value (inclusive); unset: no lower bound."""
    max: float | None = None
    """The highest passing value (inclusive); unset: no upper bound."""
    max_regression: float | None = Field(default=None, ge=0)
    """How much worse than the group's newest ``Approved`` version the metric may be, in its own
    units (lower for metrics to maximise, higher for those to minimise); unset: not compared.
    Without an approved version with this metric, nothing regresses. Comparing reads the
    registry from the evaluation job, which then runs without network isolation (still only
    inside the VPC, reaching AWS through its endpoints)."""

    @model_validator(mode="after")
    def _bounded(self) -> ThresholdConfig:
        if self.min is None and self.max is None and self.max_regression is None:
            raise ValueError("a threshold needs min, max or max_regression")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) must not be above max ({self.max:g})")
        return self


class EvaluationConfig(Section):
    """A held-out evaluation that gates registration: a processing job, then a condition."""

    test_data: str = Field(pattern=DATA_PREFIX, max_length=MAX_S3_KEY)
    """Key prefix (ending in ``/``) of the test CSV files in the processed bucket: data neither
    training nor tuning saw (the pipeline parameter ``TestData`` overrides it per execution)."""
    thresholds: dict[str, ThresholdConfig]
    """Metric -> bounds (``valid_auc: {min: 0.8}``): all must hold, or the execution fails
    naming each metric's value. The metrics are the task's evaluated ones (the training metrics
    but ``train_*``, computed on the test data); at least one, at most 20."""
    instance_type: str = Field(default="ml.m5.xlarge", pattern=SAGEMAKER_INSTANCE)
    """The evaluation job's instance type (default ``ml.m5.xlarge``)."""
    volume_size_gb: int = Field(default=30, ge=1, le=16384)
    """The evaluation job's storage, GB (default 30; SageMaker allows 1-16,384)."""
    max_runtime_seconds: int = Field(default=3600, ge=60, le=777600)
    """Longest the evaluation job may run (default 3,600; SageMaker allows up to 777,600)."""

    @field_validator("thresholds")
    @classmethod
    def _some_thresholds(cls, value: dict[str, ThresholdConfig]) -> dict[str, ThresholdConfig]:
        if not 1 <= len(value) <= MAX_THRESHOLDS:
            raise ValueError(f"needs 1-{MAX_THRESHOLDS} thresholds, got {len(value)}")
        return value

    @property
    def encrypts_volume(self) -> bool:
        """Whether the job's volume gets the platform key (not on NVMe instance-store types)."""
        return not has_instance_storage(self.instance_type)

    @property
    def compares_with_approved(self) -> bool:
        """Whether a threshold bounds the regression against the approved version."""
        return any(item.max_regression is not None for item in self.thresholds.values())


class TrainingPipelineConfig(Section):
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
    train_data: str = Field(pattern=DATA_PREFIX, max_length=MAX_S3_KEY)
    """Key prefix (ending in ``/``) of the training CSV files in the processed bucket."""
    validation_data: str = Field(pattern=DATA_PREFIX, max_length=MAX_S3_KEY)
    """Key prefix of the validation CSV files in the processed bucket."""
    framework: Literal["sklearn", "xgboost", "pytorch"] | None = None
    """Run on AWS's prebuilt training container for this framework; or set ``image``."""
    framework_image_tag: str | None = None
    """The prebuilt container's tag; defaults per framework and CPU/GPU."""
    image: ImageConfig | None = Field(default=None, validate_default=True)
    """Run on our own training image (which has mlflow for experiment tracking)."""
    hyperparameters: Hyperparameters = {}  # noqa: RUF012 (pydantic copies defaults)
    """Fixed hyperparameters (passed to the training code as strings): names and values the
    algorithm's trainer accepts (components/shared/hyperparameter_tables.py), not
    algorithm/task/target."""
    instance_type: str = Field(default="ml.m5.xlarge", pattern=SAGEMAKER_INSTANCE)
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
    registry: ModelRegistryConfig | None = None
    """The model package group this pipeline's model is registered into; unset creates none. With
    it, every execution registers its model there as a new version (after the evaluation, when
    there is one)."""
    evaluation: EvaluationConfig | None = None
    """Evaluate the trained (or best tuned) model on held-out data and register it only when the
    thresholds hold (needs ``registry``); unset registers without evaluating."""

    _framework_tag = field_validator("framework_image_tag")(tag_needs_framework)

    _hyperparameters = field_validator("hyperparameters")(hyperparameters_accepted)

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
            known = hyperparameter_tables.ALGORITHM_TABLES
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

    _job_name_fits = name_fits_validator(
        "name", platform_name, MAX_TRAINING_JOB_NAME, "training job name"
    )

    @field_validator("image")
    @classmethod
    def _one_image_source(cls, value: ImageConfig | None, info: ValidationInfo) -> Any:
        image_source(value, info)
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
        if value > 1 and algorithm is not None and algorithm not in DISTRIBUTED_ALGORITHMS:
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

    @field_validator("registry")
    @classmethod
    def _one_framework_to_serve(
        cls, value: ModelRegistryConfig | None, info: ValidationInfo
    ) -> ModelRegistryConfig | None:
        if value is not None and info.data.get("algorithm") == "automl":
            raise ValueError(
                "automl picks its framework at run time, so a registered version could not name "
                "the serving container it needs: register a pipeline of one algorithm"
            )
        return value

    @field_validator("evaluation")
    @classmethod
    def _evaluated_metrics(
        cls, value: EvaluationConfig | None, info: ValidationInfo
    ) -> EvaluationConfig | None:
        if value is None:
            return value
        if "registry" in info.data and info.data["registry"] is None:
            raise ValueError("the evaluation gates the registration: set registry too")
        task = info.data.get("task")
        if task is None:
            return value
        known = evaluated_metrics(task)
        problems = [
            (
                f"thresholds.{name}",
                f"'{name}' is not a metric the {task} evaluation reports "
                f"(known: {', '.join(known)})",
            )
            for name in value.thresholds
            if name not in known
        ]
        if problems:
            raise PathProblems(problems)
        return value

    @property
    def uses_gpu(self) -> bool:
        """Whether the training instances have GPUs."""
        return instance_family(self.instance_type) in GPU_FAMILIES

    @property
    def network_isolation(self) -> bool:
        """Whether the job runs without network (only a job that logs to MLflow needs it)."""
        return not self.track_experiments

    @property
    def encrypts_volume(self) -> bool:
        """Whether the job's volumes get the platform key (not on NVMe instance-store types)."""
        return not has_instance_storage(self.instance_type)

    @property
    def model_group(self) -> str | None:
        """The short name of the model package group the pipeline registers into, or None."""
        if self.registry is None:
            return None
        return self.registry.group or self.name

    @property
    def fixed_hyperparameters(self) -> dict[str, str]:
        """The configured ``hyperparameters`` as SageMaker passes them: every value a string."""
        return {
            name: hyperparameter_tables.as_hyperparameter(value)
            for name, value in self.hyperparameters.items()
        }


class TrainingConfig(Section):
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
        if repeated := repeated_names("pipeline names", names):
            raise ValueError(repeated)
        if conflicts := model_group_conflicts(value):
            raise PathProblems(conflicts)
        tracking = info.data.get("experiment_tracking")
        tracked = [p.name for p in value if p.track_experiments]
        if tracking is not None and not tracking.enabled and tracked:
            raise ValueError(
                f"{', '.join(tracked)} track experiments but experiment_tracking is disabled"
            )
        return value


def model_group_conflicts(pipelines: tuple[TrainingPipelineConfig, ...]) -> list[tuple[str, str]]:
    """``([i].registry, reason)`` for each pipeline naming a group an earlier one set otherwise.

    Pipelines of one model share its group, so they must describe it and grant it alike.
    """
    first: dict[str, tuple[int, ModelRegistryConfig]] = {}
    problems = []
    for index, pipeline in enumerate(pipelines):
        group, registry = pipeline.model_group, pipeline.registry
        if group is None or registry is None:
            continue
        if group not in first:
            first[group] = (index, registry)
            continue
        earlier, settings = first[group]
        differ = [
            field
            for field, same in (
                ("description", settings.description == registry.description),
                ("readers", set(settings.readers) == set(registry.readers)),
            )
            if not same
        ]
        if differ:
            problems.append(
                (
                    f"[{index}].registry",
                    f"model group '{group}' is also pipelines[{earlier}]'s, whose "
                    f"{' and '.join(differ)} {'differs' if differ == ['description'] else 'differ'}"
                    " (pipelines sharing a group must set the same description and readers)",
                )
            )
    return problems
