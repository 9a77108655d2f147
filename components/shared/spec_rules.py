"""Rules every layer's spec shares.

The base model, the stack's tier and environment during validation, length checks of the names
the program derives, instance and GPU families, and the one error with several paths.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

#: The validation context's key of the validated serving section (monitoring checks against it).
SERVING_CONTEXT = "serving"


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


class Section(BaseModel):
    """Base of every config model: immutable, and unknown keys are errors rather than ignored.

    Numbers must be finite: YAML's ``.inf`` and ``.nan`` never reach a service.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


def is_production(info: ValidationInfo) -> bool:
    """Whether the stack being validated is a production-tier stack."""
    return bool(info.context) and info.context.get("tier") == "production"


def stack_environment(info: ValidationInfo) -> str | None:
    """The stack's environment name when it is valid (names derived from it are checked then)."""
    environment = (info.context or {}).get("environment")
    return environment if isinstance(environment, str) else None


def name_problem(full_name: str, limit: int, what: str, who: str = "AWS") -> str | None:
    """Why ``full_name`` (a name the program derives) is too long for ``what``, or None."""
    if len(full_name) <= limit:
        return None
    return (
        f"makes the {what} '{full_name}', {len(full_name)} characters; {who} allows at most {limit}"
    )


def derived_name_fits(
    value: str,
    info: ValidationInfo,
    derive: Callable[[str], str],
    limit: int,
    what: str,
    who: str = "AWS",
) -> str:
    """``value``, once the name ``derive(environment)`` makes of it fits ``limit`` characters."""
    environment = stack_environment(info)
    if environment is not None and (problem := name_problem(derive(environment), limit, what, who)):
        raise ValueError(problem)
    return value


def platform_name(environment: str, value: str) -> str:
    """The AWS name the program gives a configured ``value``: ``mlp-<environment>-<value>``."""
    return f"mlp-{environment}-{value}"


def name_fits_validator(
    field: str,
    derive: Callable[[str, str], str],
    limit: int,
    what: str,
    who: str = "AWS",
) -> Any:
    """A field validator of ``field``: the name ``derive(environment, value)`` fits ``limit``.

    Assign it in the model's body (``_fits = name_fits_validator(...)``); it checks
    :func:`derived_name_fits` once the stack's environment is known.
    """

    def fits(cls: type, value: str, info: ValidationInfo) -> str:
        return derived_name_fits(
            value, info, lambda environment: derive(environment, value), limit, what, who
        )

    return field_validator(field)(fits)


def repeated_names(what: str, names: Sequence[str]) -> str | None:
    """``"<what> must be unique: a, b repeated"`` when ``names`` repeat one, else ``None``."""
    duplicates = sorted({name for name in names if names.count(name) > 1})
    return f"{what} must be unique: {', '.join(duplicates)} repeated" if duplicates else None


def unique_names_validator(field: str, what: str, name: Callable[[Any], str] = str) -> Any:
    """A field validator of ``field``, a list whose entries' names (``name(entry)``) are unique.

    Assign it in the model's body (``_unique = unique_names_validator(...)``); a repeated name is
    the error :func:`repeated_names` words with ``what``. Without ``name`` the entries are names.
    """

    def unique(cls: type, value: Sequence[Any]) -> Sequence[Any]:
        if repeated := repeated_names(what, [name(entry) for entry in value]):
            raise ValueError(repeated)
        return value

    return field_validator(field)(unique)


def production_minimum_validator(field: str, minimum: int) -> Any:
    """A field validator of ``field``: in a production stack its value is at least ``minimum``.

    Assign it in the model's body (``_redundant = production_minimum_validator(...)``).
    """

    def at_least(cls: type, value: int, info: ValidationInfo) -> int:
        if is_production(info) and value < minimum:
            raise ValueError(f"must be >= {minimum} in a production stack")
        return value

    return field_validator(field)(at_least)


def image_source(image: object, info: ValidationInfo) -> None:
    """Exactly one of a section's ``framework`` (a prebuilt container) and ``image`` is set.

    Called from the ``image`` validator, which runs with its default too (``validate_default``).
    """
    framework = info.data.get("framework")
    if image is not None and framework is not None:
        raise ValueError("set either 'framework' or 'image', not both")
    if image is None and framework is None and "framework" in info.data:
        raise ValueError("set 'framework' (a prebuilt container) or 'image' (our own image)")


def email_addresses(value: tuple[str, ...]) -> tuple[str, ...]:
    """Every entry looks like an e-mail address (an alarm topic's subscriptions)."""
    for address in value:
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
            raise ValueError(f"'{address}' is not an email address")
    return value


def tag_needs_framework(value: str | None, info: ValidationInfo) -> str | None:
    """``framework_image_tag`` only applies with ``framework``."""
    if value is not None and info.data.get("framework") is None:
        raise ValueError("only applies with 'framework'")
    return value


NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"


#: The longest S3 object key (bytes; keys here are ASCII by their patterns).
MAX_S3_KEY = 1024


ARTIFACT_KEY = re.compile(r"^[\w!\-.*'()][\w!\-.*'()/]*\.tar\.gz$")


#: Instance families with NVIDIA GPUs, the same in EC2 (``g5.xlarge``) and SageMaker
#: (``ml.g5.xlarge``); the deep-learning AMIs and the GPU training containers support them all.
GPU_FAMILIES = ("p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "g4dn", "g5", "g6", "g6e")


SAGEMAKER_INSTANCE = r"^ml\.[a-z0-9-]+\.\w+$"


def instance_family(instance_type: str) -> str:
    """``g5`` for ``ml.g5.2xlarge`` and for ``g5.2xlarge``."""
    parts = instance_type.split(".")
    return parts[1] if parts[0] == "ml" else parts[0]


def gpu_instance_types(value: tuple[str, ...]) -> tuple[str, ...]:
    """At least one instance type, all of GPU families, none repeated."""
    if not value:
        raise ValueError("at least one GPU instance type is required")
    not_gpu = [name for name in value if instance_family(name) not in GPU_FAMILIES]
    if not_gpu:
        raise ValueError(
            f"not GPU instance types: {', '.join(not_gpu)} "
            f"(GPU families: {', '.join(GPU_FAMILIES)})"
        )
    if repeated := repeated_names("instance types", value):
        raise ValueError(repeated)
    return value


def at_least_min_size(value: int, info: ValidationInfo) -> int:
    """A group's ``max_size`` is not below its ``min_size``."""
    low = info.data.get("min_size")
    if low is not None and value < low:
        raise ValueError(f"must be >= min_size ({low})")
    return value


def between_min_and_max_size(value: int | None, info: ValidationInfo) -> int | None:
    """A group's starting size lies between its ``min_size`` and ``max_size``."""
    low, high = info.data.get("min_size"), info.data.get("max_size")
    if None not in (low, high, value) and not low <= value <= high:
        raise ValueError(f"must be between min_size ({low}) and max_size ({high})")
    return value


#: The project root (the folder holding Pulumi.yaml): baseline folders are relative to it.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def kind_of(value: Any) -> str:
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


class ImageConfig(Section):
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
