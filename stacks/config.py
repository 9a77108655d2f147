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
import json
import re
import typing
from collections.abc import Mapping
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
)

from components.data.spec import DataConfig
from components.feature_store.spec import FeatureStoreConfig
from components.gpu.spec import GpuConfig
from components.kubernetes.spec import KubernetesConfig
from components.monitoring.spec import MonitoringConfig
from components.optimization.spec import NAME_PREFIX, OptimizationConfig
from components.serving.spec import ServingConfig
from components.shared.spec_rules import (
    PROJECT_ROOT,
    SERVING_CONTEXT,
    PathProblems,
    Section,
    is_production,
    kind_of,
)
from components.training.spec import TrainingConfig
from stacks.layers import LAYERS, PROJECT


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


def _known_layer(name: str) -> str:
    if name not in LAYERS:
        raise ValueError(f"'{name}' is not a layer (known: {', '.join(LAYERS)})")
    return name


#: A layer name from stacks/layers.py.
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


class PlatformConfig(Section):
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
    tags: dict[str, str] = {}  # noqa: RUF012 (pydantic copies defaults)
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
    optimization: OptimizationConfig = OptimizationConfig()
    """The optimization layer."""

    @field_validator("serving")
    @classmethod
    def _share_serving(cls, value: ServingConfig, info: ValidationInfo) -> ServingConfig:
        # Fields validate in order: the monitoring section (after this one) checks its endpoints
        # against the validated serving endpoints, at its own paths.
        if isinstance(info.context, dict):
            info.context[SERVING_CONTEXT] = value
        return value

    @field_validator("serving")
    @classmethod
    def _registered_groups(cls, value: ServingConfig, info: ValidationInfo) -> ServingConfig:
        # A variant deploying a registered version names a group the stack's training pipelines
        # register into: the group is mlp-<env>-<group> in this account, which only they create.
        # Read whether or not the training layer is deployed: production retains the groups (and
        # their versions) when the layer is removed. A group that does not exist in AWS is
        # refused at `pulumi up` by the approval check.
        training = info.data.get("training")
        if training is None:
            return value  # the training section's own problems are reported
        known = sorted({pipeline.model_group for pipeline in training.pipelines} - {None})
        problems = [
            (
                f"endpoints[{index}].{where}.model.group",
                f"'{variant.model.group}' is not a model group a training pipeline registers "
                f"into (known: {', '.join(known) if known else 'none'})",
            )
            for index, endpoint in enumerate(value.endpoints)
            for where, variant in (
                *(
                    (f"variants[{number}]", variant)
                    for number, variant in enumerate(endpoint.variants)
                ),
                *(
                    (("shadow_variant", endpoint.shadow_variant),)
                    if endpoint.shadow_variant
                    else ()
                ),
            )
            if variant.model is not None and variant.model.group not in known
        ]
        if problems:
            raise PathProblems(problems)
        return value

    @field_validator("retain_data")
    @classmethod
    def _production_retains(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        if is_production(info) and value is False:
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

    @field_validator("training")
    @classmethod
    def _production_approves_by_hand(
        cls, value: TrainingConfig, info: ValidationInfo
    ) -> TrainingConfig:
        # A production model version waits for a person unless the stack says otherwise twice.
        if not is_production(info):
            return value
        problems = [
            (
                f"pipelines[{index}].registry.auto_approve",
                "must not be true in a production stack (versions wait in PendingManualApproval "
                "for a person); set registry.allow_auto_approve_in_prod: true to allow it",
            )
            for index, pipeline in enumerate(value.pipelines)
            if pipeline.registry is not None
            and pipeline.registry.auto_approve
            and not pipeline.registry.allow_auto_approve_in_prod
        ]
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

    @field_validator("monitoring")
    @classmethod
    def _retraining_pipelines_deployed(
        cls, value: MonitoringConfig, info: ValidationInfo
    ) -> MonitoringConfig:
        # The monitoring layer starts training pipelines by their deterministic names (it never
        # imports the training layer): each must be one the training layer of this stack makes.
        layers = info.data.get("layers") or ()
        retraining = [(i, e) for i, e in enumerate(value.endpoints) if e.retrains]
        if "monitoring" not in layers or not retraining:
            return value
        if "training" not in layers:
            raise PathProblems(
                [
                    (
                        f"endpoints[{index}]",
                        f"retrains with training pipeline '{entry.retrain_pipeline_short_name}', "
                        "but the training layer is not listed in layers",
                    )
                    for index, entry in retraining
                ]
            )
        training = info.data.get("training")
        if training is None:
            return value  # the training section is invalid: its own problems are reported
        known = [pipeline.name for pipeline in training.pipelines]
        problems = [
            (
                f"endpoints[{index}].retrain_pipeline",
                f"'{entry.retrain_pipeline_short_name}' is not a training pipeline "
                f"(training.pipelines: {', '.join(known) or 'none'})",
            )
            for index, entry in retraining
            if entry.retrain_pipeline_short_name not in known
        ]
        if problems:
            raise PathProblems(problems)
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

    @field_validator("optimization")
    @classmethod
    def _optimization_fits_training(
        cls, value: OptimizationConfig, info: ValidationInfo
    ) -> OptimizationConfig:
        # The jobs pull the training layer's images (the layer needs it), and their pipelines share
        # SageMaker's one namespace of pipeline names with the training pipelines.
        training = info.data.get("training")
        if training is None or "optimization" not in (info.data.get("layers") or ()):
            return value  # the training section's own problems are reported
        repositories = [f"ml-platform/{name}" for name in training.repositories.names]
        pipelines = {pipeline.name for pipeline in training.pipelines}
        problems = [
            (
                f"jobs[{index}].image.repository",
                f"'{job.image.repository}' is not a repository of the training layer "
                f"(training.repositories: {', '.join(repositories)})",
            )
            for index, job in enumerate(value.jobs)
            if job.image.repository not in repositories
        ] + [
            (
                f"jobs[{index}].name",
                f"its pipeline would take the name of training pipeline '{NAME_PREFIX}{job.name}'",
            )
            for index, job in enumerate(value.jobs)
            if f"{NAME_PREFIX}{job.name}" in pipelines
        ]
        if problems:
            raise PathProblems(problems)
        return value

    @property
    def retains_data(self) -> bool:
        """Whether stateful resources survive ``pulumi destroy`` (protected, retained)."""
        return self.tier == "production" if self.retain_data is None else self.retain_data


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
            stack, path, None, f"must be a mapping with a 'config:' key, not {kind_of(document)}"
        )
    config = document.get("config")
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise StackFileError(
            stack,
            path,
            None,
            f"'config:' must be a mapping of keys to values, not {kind_of(config)}",
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
