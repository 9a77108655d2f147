"""Hyperparameters arrive as strings; this turns them into typed, frozen dataclasses.

SageMaker hands every hyperparameter over as a string (``"0.1"``, ``"true"``, ``"64,32"``), and
the SageMaker Python SDK may JSON-encode a value a second time (``'"0.1"'``): both are accepted.
A params class is a frozen dataclass whose field annotations say what each value becomes:

- ``int``, ``float``: numbers (``"1e-3"`` is a float; ``"3.0"`` is an int, ``"3.5"`` is not);
- ``bool``: ``true``/``false``/``1``/``0``, any case;
- ``str``; ``Literal["a", "b"]``: one of the choices;
- ``tuple[int, ...]`` (or of float, str): ``"64,32"`` or a JSON list ``"[64, 32]"``;
- ``X | None``: ``none``, ``null`` or an empty value give ``None``.

Every bad key is reported at once, each naming the key, the value and what was expected. A
params class may define ``problems() -> list[str]`` for checks across fields (ranges,
combinations); those are reported the same way. The trainers' own classes live in ``params.py``,
where each field's bounds are declared next to it and ``problems()`` is derived from them.

Standard library only, and Python 3.10 compatible (AWS's prebuilt training containers).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

T = TypeVar("T")

IGNORED_PREFIX = "sagemaker_"
"""Keys SageMaker and its SDK add for themselves (``sagemaker_program``, ...): never ours."""

TUNING_PREFIX = "_tuning_"
"""Keys a tuning job adds to each of its training jobs (``_tuning_objective_metric``)."""

_TRUE = ("true", "1")
_FALSE = ("false", "0")
_NONE = ("", "none", "null")


class HyperparameterError(ValueError):
    """One or more hyperparameters are missing, unknown or have a bad value."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(f"{source}: " + "; ".join(self.problems))


def unwrap(value: str) -> str:
    """A value the SageMaker SDK JSON-encoded once more (``'"0.1"'``) as the plain string."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        if isinstance(decoded, str):
            return decoded
    return value


def _to_int(value: str) -> int:
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{value!r} is not an integer") from None
    if not math.isfinite(number) or number != int(number):
        raise ValueError(f"{value!r} is not an integer")
    return int(number)


def _to_float(value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _to_bool(value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{value!r} is not a boolean (true, false, 1 or 0)")


def _items(value: str) -> list[str]:
    """The items of ``"a,b"`` or of a JSON list ``"[1, 2]"`` (as strings)."""
    text = value.strip()
    if text.startswith("["):
        try:
            decoded = json.loads(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a JSON list") from None
        if not isinstance(decoded, list) or any(isinstance(item, list | dict) for item in decoded):
            raise ValueError(f"{value!r} is not a flat JSON list")
        return [item if isinstance(item, str) else json.dumps(item) for item in decoded]
    if not text:
        return []
    return [item.strip() for item in text.split(",")]


def _describe(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(repr(choice) for choice in typing.get_args(annotation))
    if origin is tuple:
        return f"a list of {_describe(typing.get_args(annotation)[0])}"
    return getattr(annotation, "__name__", str(annotation))


def convert(value: str, annotation: Any) -> Any:
    """``value`` as the type ``annotation`` names; ``ValueError`` saying why it is not."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        arguments = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(arguments) != len(typing.get_args(annotation)) and value.strip().lower() in _NONE:
            return None
        if len(arguments) != 1:
            raise TypeError(f"unsupported hyperparameter type {annotation!r}")
        return convert(value, arguments[0])
    if origin is Literal:
        choices = typing.get_args(annotation)
        for choice in choices:
            if isinstance(choice, str) and value == choice:
                return choice
        raise ValueError(f"{value!r} is not {_describe(annotation)}")
    if origin is tuple:
        arguments = typing.get_args(annotation)
        if len(arguments) != 2 or arguments[1] is not Ellipsis:
            raise TypeError(f"unsupported hyperparameter type {annotation!r}: use tuple[X, ...]")
        try:
            return tuple(convert(item, arguments[0]) for item in _items(value))
        except ValueError as error:
            raise ValueError(f"{value!r} is not {_describe(annotation)} ({error})") from None
    if annotation is bool:
        return _to_bool(value)
    if annotation is int:
        return _to_int(value)
    if annotation is float:
        return _to_float(value)
    if annotation is str:
        return value
    raise TypeError(f"unsupported hyperparameter type {annotation!r}")


def field_names(params_type: type) -> tuple[str, ...]:
    """The hyperparameter names a params dataclass accepts."""
    return tuple(f.name for f in dataclasses.fields(params_type))


def _parse_fields(raw: Mapping[str, str], params_type: type[T]) -> tuple[dict[str, Any], list[str]]:
    hints = typing.get_type_hints(params_type)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for spec in dataclasses.fields(params_type):
        if not spec.init:
            continue
        if spec.name not in raw:
            required = (
                spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
            )
            if required:
                problems.append(f"{spec.name}: missing ({_describe(hints[spec.name])})")
            continue
        try:
            values[spec.name] = convert(unwrap(raw[spec.name]), hints[spec.name])
        except ValueError as error:
            problems.append(f"{spec.name}: {error}")
    return values, problems


def parse_many(
    raw: Mapping[str, str],
    params_types: Sequence[type],
    *,
    source: str = "hyperparameters",
    ignore_prefixes: Iterable[str] = (IGNORED_PREFIX, TUNING_PREFIX),
    context: Mapping[str, Any] | None = None,
) -> tuple[Any, ...]:
    """Parse one set of raw values into several params dataclasses at once.

    A key goes to every class that has a field of that name (``seed`` may belong to two). A key
    no class knows is an error naming the allowed keys, unless it starts with one of
    ``ignore_prefixes`` (SageMaker's own ``sagemaker_*`` and ``_tuning_*`` keys). A class's
    ``problems`` method gets the entries of ``context`` it names as parameters (e.g.
    ``problems(self, task)``); it is skipped when the context lacks one of them.
    Every problem across all the classes is collected and raised as one
    :class:`HyperparameterError`.
    """
    prefixes = tuple(ignore_prefixes)
    allowed: list[str] = []
    for params_type in params_types:
        allowed += [name for name in field_names(params_type) if name not in allowed]
    problems = []
    unknown = [key for key in raw if key not in allowed and not key.startswith(prefixes)]
    if unknown:
        problems.append(
            f"unknown hyperparameter{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(key) for key in sorted(unknown))}; allowed: {', '.join(allowed)}"
        )
    parsed: list[Any] = []
    for params_type in params_types:
        values, found = _parse_fields(raw, params_type)
        problems += found
        try:
            # Bad values are left at their defaults here, so the checks across fields still
            # report what is wrong with the good ones.
            instance = params_type(**values)
        except TypeError:  # a required field is missing: already reported
            parsed.append(None)
            continue
        except ValueError as error:
            problems.append(str(error))
            parsed.append(None)
            continue
        checked = _check(instance, context or {})
        problems += checked
        parsed.append(None if found or checked else instance)
    if problems:
        raise HyperparameterError(source, problems)
    return tuple(parsed)


def _check(instance: Any, context: Mapping[str, Any]) -> list[str]:
    check = getattr(instance, "problems", None)
    if not callable(check):
        return []
    wanted = inspect.signature(check).parameters
    if any(name not in context for name in wanted):
        # What it checks against is unknown (e.g. the task is itself invalid and reported).
        return []
    return list(check(**{name: context[name] for name in wanted}))


def parse(
    raw: Mapping[str, str],
    params_type: type[T],
    *,
    source: str = "hyperparameters",
    ignore_prefixes: Iterable[str] = (IGNORED_PREFIX, TUNING_PREFIX),
    context: Mapping[str, Any] | None = None,
) -> T:
    """Parse raw string values into ``params_type`` (a dataclass); see :func:`parse_many`."""
    (params,) = parse_many(
        raw, [params_type], source=source, ignore_prefixes=ignore_prefixes, context=context
    )
    return typing.cast(T, params)


def read_json(path: Path) -> dict[str, str]:
    """A JSON object of hyperparameters (``hyperparameters.json``) as strings.

    SageMaker writes every value as a string; numbers, booleans and lists written by other
    launchers become the strings SageMaker would have sent. Errors name the file.
    """
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HyperparameterError(path.name, [f"{path} does not exist"]) from None
    except ValueError as error:
        raise HyperparameterError(path.name, [f"not valid JSON ({error})"]) from None
    if not isinstance(values, dict):
        raise HyperparameterError(
            path.name, [f"must hold a JSON object, not {type(values).__name__}"]
        )
    return {
        str(key): value if isinstance(value, str) else json.dumps(value)
        for key, value in values.items()
    }


def as_strings(params: Any) -> dict[str, str]:
    """A params dataclass as the strings it parses back from (for logging and AutoML trials)."""
    values = {}
    for spec in dataclasses.fields(params):
        value = getattr(params, spec.name)
        if isinstance(value, tuple):
            values[spec.name] = ",".join(str(item) for item in value)
        elif isinstance(value, bool):
            values[spec.name] = "true" if value else "false"
        elif value is None:
            values[spec.name] = "none"
        else:
            values[spec.name] = str(value)
    return values
