r"""Strict checks of a request against botocore's service models.

botocore's own ``ParamValidator`` checks required and unknown members, types and a shape's ``min``
but not ``max``, enums or ``pattern``, so a request that AWS refuses (a 70-character job name, a
bad ARN) passes every offline test. :func:`request_problems` checks all of them.

The models' patterns are Java regular expressions. Smithy's ``pattern`` trait is not anchored,
but AWS's services refuse a value unless the *whole* value matches (Java's ``matches()``):
DynamoDB refused '"smart-dcb-messages"' for ``[a-zA-Z0-9_.-]+`` (aws/aws-cli#790) and
CloudFormation 'serverlessTest.-dev' for ``[a-zA-Z][-a-zA-Z0-9]*|arn:...``
(serverless/serverless#2036), so the checks use ``fullmatch``. :func:`python_pattern` translates the Java constructs Python's
``re`` lacks (``\p{...}`` classes, UTF-16 surrogate pairs, ``\z``, a literal ``-`` after a class
escape); a pattern it cannot translate is skipped with its reason in :data:`SKIPPED_PATTERNS`,
never silently.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import warnings
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import botocore.session
from botocore.exceptions import ParamValidationError
from botocore.model import OperationModel, Shape
from botocore.validate import ParamValidationDecorator

#: Every model pattern that could not be checked, with the reason (pattern -> reason).
SKIPPED_PATTERNS: dict[str, str] = {}

#: What a resolver returns for a value it has already reported as wrong: nothing more to check.
UNRESOLVED = object()

#: Resolves a value a request holds in place of a literal (a pipeline expression) at a path: the
#: literal the checks should see instead, ``None`` when the value is an ordinary one, or
#: :data:`UNRESOLVED` when the resolver has reported it as wrong itself.
Resolver = Callable[[Any, Shape, str], Any]


class RequestError(ValueError):
    """A request AWS would refuse: one line naming the operation and every problem's path."""


@functools.cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.cache
def operation(service: str, name: str) -> OperationModel:
    """The botocore model of one operation (``operation("sagemaker", "CreateTrainingJob")``)."""
    return _session().get_service_model(service).operation_model(name)


# --------------------------------------------------------------------------------------------
# Java patterns in Python
# --------------------------------------------------------------------------------------------

# Java's POSIX classes are ASCII-only unless UNICODE_CHARACTER_CLASS is set
# (https://docs.oracle.com/javase/8/docs/api/java/util/regex/Pattern.html).
_PUNCT = "\\x21-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x7e"
_POSIX = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7f",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": _PUNCT,
    "Graph": "a-zA-Z0-9" + _PUNCT,
    "Print": "\\x20a-zA-Z0-9" + _PUNCT,
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1f\\x7f",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0b\\f\\r",
}
_CLASS_ESCAPES = set("wWdDsS")
_UNSUPPORTED_ESCAPES = {
    "h": "horizontal whitespace \\h",
    "H": "\\H",
    "v": "vertical whitespace \\v",
    "V": "\\V",
    "R": "linebreak \\R",
    "X": "grapheme \\X",
    "Q": "quoting \\Q...\\E",
    "G": "\\G",
    "k": "named back reference \\k",
}


@functools.cache
def _category_ranges() -> dict[str, list[tuple[int, int]]]:
    """Every Unicode general category's code point ranges (one pass over all code points)."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    previous, start = None, 0
    for point in range(0x110000 + 1):
        category = unicodedata.category(chr(point)) if point <= 0x10FFFF else None
        if category != previous:
            if previous is not None:
                ranges.setdefault(previous, []).append((start, point - 1))
            previous, start = category, point
    return ranges


def _property_class(name: str) -> str | None:
    r"""The character-class body of ``\p{name}``, or ``None`` for a property we do not know."""
    bare = name.removeprefix("Is")  # Java accepts \p{IsL} for \p{L}
    if bare in _POSIX:
        return _POSIX[bare]
    categories = _category_ranges()
    chosen = sorted(cat for cat in categories if cat == bare or (len(bare) == 1 and cat[0] == bare))
    if not chosen:
        return None
    return "".join(
        f"\\U{low:08x}" if low == high else f"\\U{low:08x}-\\U{high:08x}"
        for cat in chosen
        for low, high in categories[cat]
    )


_SURROGATE_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)


def _join_surrogates(pattern: str) -> str:
    """Java patterns spell astral characters as UTF-16 pairs; Python wants the code point."""

    def code_point(match: re.Match[str]) -> str:
        high, low = int(match[1], 16), int(match[2], 16)
        return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"

    return _SURROGATE_PAIR.sub(code_point, pattern)


def _translate(java: str) -> str:
    """Java regex syntax as Python ``re`` syntax; raises ``ValueError`` naming what it cannot."""
    text = _join_surrogates(java)
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            escape = text[i + 1]
            if escape in "pP" and i + 2 < len(text) and text[i + 2] == "{":
                end = text.index("}", i)
                name = text[i + 3 : end]
                body = _property_class(name)
                if body is None:
                    raise ValueError(f"unknown property \\{escape}{{{name}}}")
                if in_class:
                    if escape == "P":
                        raise ValueError(f"negated property \\P{{{name}}} inside a class")
                    out.append(body)
                else:
                    out.append(f"[{'^' if escape == 'P' else ''}{body}]")
                i = end + 1
                continue
            if escape in _UNSUPPORTED_ESCAPES:
                raise ValueError(f"Java construct {_UNSUPPORTED_ESCAPES[escape]}")
            if escape == "z":
                out.append("\\Z")  # Java's \z is Python's \Z: the very end
            elif escape == "Z" and not in_class:
                out.append("(?=\\n?\\Z)")  # Java's \Z allows one final line terminator
            else:
                out.append(text[i : i + 2])
            i += 2
            # Java reads [\w-_] as \w, '-', '_'; Python refuses the range.
            if (
                in_class
                and escape in _CLASS_ESCAPES
                and text[i : i + 1] == "-"
                and text[i + 1 : i + 2] != "]"
            ):
                out.append("\\-")
                i += 1
            continue
        if in_class:
            if char == "[":
                raise ValueError("nested character class")
            if text.startswith("&&", i):
                raise ValueError("character class intersection &&")
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            out.append(char)
            i += 1
            if text[i : i + 1] == "^":
                out.append("^")
                i += 1
            continue
        out.append(char)
        i += 1
    return "".join(out)


@functools.cache
def python_pattern(java: str) -> re.Pattern[str] | None:
    r"""A model's Java pattern compiled for Python, or ``None`` (recorded in SKIPPED_PATTERNS).

    ASCII mode: Java's ``\w``, ``\d``, ``\s`` and ``\b`` are ASCII-only by default.
    """
    try:
        translated = _translate(java)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a FutureWarning means Python would read it otherwise
            return re.compile(translated, re.ASCII)
    except re.error as error:
        SKIPPED_PATTERNS[java] = f"Python's re refuses it: {error.msg}"
        return None
    except (ValueError, FutureWarning) as error:
        SKIPPED_PATTERNS[java] = str(error)
        return None


# --------------------------------------------------------------------------------------------
# the checks
# --------------------------------------------------------------------------------------------


def _member_path(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: float) -> str:
    """A bound or size as written: ``1048576`` and ``0.5``, never ``1.04858e+06``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _bounds(shape: Shape, size: float, path: str, what: str) -> Iterator[str]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        yield f"{path}: {what} {_number(size)}, less than the minimum {_number(low)}"
    if high is not None and size > high:
        yield f"{path}: {what} {_number(size)}, more than the maximum {_number(high)}"


def _string_problems(shape: Shape, value: Any, path: str) -> Iterator[str]:
    if shape.serialization.get("jsonvalue"):
        return  # botocore serialises any JSON value given here
    if not isinstance(value, str):
        yield f"{path}: expected a string, got {type(value).__name__} {_show(value)}"
        return
    if shape.enum and value not in shape.enum:
        yield f"{path}: {_show(value)} is not one of {', '.join(shape.enum)}"
    yield from _bounds(shape, len(value), path, f"{_show(value)} has length")
    pattern = shape.metadata.get("pattern")
    if pattern is not None:
        compiled = python_pattern(pattern)
        if compiled is not None and compiled.fullmatch(value) is None:
            yield f"{path}: {_show(value)} does not match the pattern {pattern}"


def request_problems(
    shape: Shape | None, value: Any, path: str = "", resolve: Resolver | None = None
) -> list[str]:
    """Every way ``value`` breaks ``shape`` (one ``"<member path>: <what>"`` per problem).

    ``resolve`` replaces values that stand for a literal (pipeline expressions) before the checks.
    """
    return list(_problems(shape, value, path, resolve))


def _problems(
    shape: Shape | None, value: Any, path: str, resolve: Resolver | None
) -> Iterator[str]:
    if shape is None:
        return
    if resolve is not None:
        resolved = resolve(value, shape, path)
        if resolved is UNRESOLVED:
            return
        if resolved is not None:
            value = resolved
    kind = shape.type_name
    if kind == "structure":
        yield from _structure_problems(shape, value, path, resolve)
    elif kind == "list":
        if not isinstance(value, list | tuple):
            yield f"{path}: expected a list, got {type(value).__name__} {_show(value)}"
            return
        yield from _bounds(shape, len(value), path, "list has length")
        for index, item in enumerate(value):
            yield from _problems(shape.member, item, f"{path}[{index}]", resolve)
    elif kind == "map":
        if not isinstance(value, Mapping):
            yield f"{path}: expected a map, got {type(value).__name__} {_show(value)}"
            return
        yield from _bounds(shape, len(value), path, "map has size")
        for key, item in value.items():
            yield from _problems(shape.key, key, f"{path} key {key!r}", resolve)
            yield from _problems(shape.value, item, f"{path}[{key!r}]", resolve)
    elif kind == "string":
        yield from _string_problems(shape, value, path)
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            yield f"{path}: expected an integer, got {type(value).__name__} {_show(value)}"
            return
        yield from _bounds(shape, value, path, "value")
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            yield f"{path}: expected a number, got {type(value).__name__} {_show(value)}"
            return
        yield from _bounds(shape, float(value), path, "value")
    elif kind == "boolean":
        if not isinstance(value, bool):
            yield f"{path}: expected a boolean, got {type(value).__name__} {_show(value)}"
    elif kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, datetime | date | str | int | float):
            yield f"{path}: expected a timestamp, got {type(value).__name__} {_show(value)}"
    elif kind == "blob":
        if not isinstance(value, bytes | bytearray | str) and not hasattr(value, "read"):
            yield f"{path}: expected bytes or a file, got {type(value).__name__}"
        elif isinstance(value, bytes | bytearray | str):
            yield from _bounds(shape, len(value), path, "blob has length")


def _structure_problems(
    shape: Shape, value: Any, path: str, resolve: Resolver | None
) -> Iterator[str]:
    if not isinstance(value, Mapping):
        yield f"{path or '<request>'}: expected a structure, got {type(value).__name__}"
        return
    members = shape.members
    for name in shape.required_members:
        # botocore and AWS's own callers fill idempotency tokens themselves when absent.
        if name not in value and not members[name].metadata.get("idempotencyToken"):
            yield f"{_member_path(path, name)}: missing required member"
    for name in value:
        if name not in members:
            yield f"{_member_path(path, name)}: unknown member"
    if shape.metadata.get("union") and len(value) != 1:
        yield f"{path or '<request>'}: a union takes exactly one member, got {len(value)}"
    for name, item in value.items():
        if name in members:
            yield from _problems(members[name], item, _member_path(path, name), resolve)


def check_request(
    service: str, operation_name: str, params: Mapping[str, Any], resolve: Resolver | None = None
) -> None:
    """Raise :class:`RequestError` (one line) unless ``params`` is a valid request of the operation."""
    problems = request_problems(operation(service, operation_name).input_shape, params, "", resolve)
    if problems:
        raise RequestError(f"{operation_name}: " + "; ".join(problems))


# --------------------------------------------------------------------------------------------
# every boto3 call of a test
# --------------------------------------------------------------------------------------------


class StrictParamValidationError(ParamValidationError):
    """A call botocore's default validation let through and the strict checks refuse."""

    fmt = "Strict parameter validation failed: {report}"


class StrictRequests:
    """Runs the strict checks on every botocore call after botocore's own validation.

    Patches ``ParamValidationDecorator.serialize_to_request`` (where botocore validates a
    client's parameters, before moto or a Stubber sees the request) while installed. Failures
    raise :class:`StrictParamValidationError` and are kept in :attr:`failures` too, so code
    that catches botocore errors cannot hide them from the test.
    """

    def __init__(self) -> None:
        self.failures: list[str] = []
        """Every refused call, ``"<service>.<Operation>: <path>: <what>; ..."``."""
        self.checked: list[str] = []
        """Every call checked, ``"<service>.<Operation>"``, in order."""
        self._original: Any = None

    def install(self) -> None:
        """Start checking every call (botocore's default validation still runs first)."""
        original = self._original = ParamValidationDecorator.serialize_to_request
        failures, checked = self.failures, self.checked

        def serialize_to_request(
            decorator: ParamValidationDecorator, parameters: Any, model: OperationModel
        ) -> Any:
            request = original(decorator, parameters, model)
            checked.append(f"{model.service_model.service_name}.{model.name}")
            problems = request_problems(model.input_shape, parameters)
            if problems:
                report = f"{model.service_model.service_name}.{model.name}: " + "; ".join(problems)
                failures.append(report)
                raise StrictParamValidationError(report=report)
            return request

        ParamValidationDecorator.serialize_to_request = serialize_to_request  # type: ignore[method-assign]

    def uninstall(self) -> None:
        """Restore botocore's own validation."""
        if self._original is not None:
            ParamValidationDecorator.serialize_to_request = self._original  # type: ignore[method-assign]
            self._original = None

    def report(self) -> str | None:
        """One line naming every refused call, or ``None`` when there was none."""
        if not self.failures:
            return None
        return "requests AWS would refuse: " + " | ".join(self.failures)
