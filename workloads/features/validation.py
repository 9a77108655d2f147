"""One input record checked against its feature group's definition, as PutRecord will see it.

:func:`validate_record` returns either a :class:`ValidRecord` (the PutRecord ``Record`` list) or a
:class:`Rejection` listing every problem found; it never raises for bad data, so one bad row costs
one line in a reject file rather than the run.

Rules, per feature type (values from CSV are always strings, so every numeric rule also takes the
string form):

- Unknown feature names are refused: SageMaker refuses a record that names a feature the group
  does not have.
- The record identifier must be present and non-empty; the event time must be present and
  parse (:mod:`workloads.features.event_time`).
- Integral: an ``int`` or an integral string such as ``"42"`` or ``"-7"``, in the signed 64-bit
  range. A ``float`` with a whole value (``3.0``, what pandas makes of an integer column with
  gaps) is taken; ``3.5``, ``"3.5"`` and ``bool`` are refused.
- Fractional: a finite ``int``/``float`` or a numeric string; NaN, infinity and ``bool`` are
  refused.
- String: a ``str``, or an ``int`` (converted with ``str()``: one obvious text form). A ``float``
  or ``bool`` is refused: ``1.0`` and ``True`` have no one obvious text form.
- A value feature that is ``None`` or blank (``""``) is missing and left out of the record, as
  SageMaker allows; consequently an empty string cannot be stored as a String value.
- Numbers and numeric text with more than ``max_number_digits`` digits (default 100, see
  :class:`~workloads.features.limits.InputLimits`) are refused before any conversion, so a
  thousand-digit value costs nothing and never meets Python's 4300-digit int limit.
- Anything else that goes wrong while checking a record (a value whose ``__str__`` raises, a
  mapping that fails while iterated) rejects it with kind ``unexpected_error``: this function
  never raises.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from workloads.features.definitions import (
    FRACTIONAL,
    INTEGRAL,
    STRING,
    FeatureGroupDefinition,
)
from workloads.features.event_time import EventTimeError, shown, to_sagemaker
from workloads.features.limits import DEFAULT_LIMITS

#: Rejection kinds (the reject file's ``kind`` and the report's counts use these).
UNKNOWN_FEATURE = "unknown_feature"
MISSING_RECORD_IDENTIFIER = "missing_record_identifier"
MISSING_EVENT_TIME = "missing_event_time"
BAD_EVENT_TIME = "bad_event_time"
BAD_VALUE = "bad_value"
#: A record that is not a mapping of feature names to values.
NOT_A_RECORD = "not_a_record"
#: A record whose checking failed in a way no rule foresaw (see the module docstring).
UNEXPECTED_ERROR = "unexpected_error"
_DEFAULT_DIGITS = DEFAULT_LIMITS.max_number_digits

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_DOUBLE_MAX = int(float.fromhex("0x1.fffffffffffffp+1023"))
_INTEGRAL = re.compile(r"[+-]?\d+")
# float() also takes '1_000', 'nan' and 'inf'; a data file's number never looks like those.
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class FeatureValueError(ValueError):
    """A value that its feature's type does not allow; the message names the value."""


@dataclass(frozen=True)
class Problem:
    """One reason a record cannot be written."""

    kind: str
    """One of the rejection kinds, e.g. ``bad_value``."""
    message: str
    """What is wrong, naming the feature and the value."""


@dataclass(frozen=True)
class Rejection:
    """A record that cannot be written, with every problem found."""

    problems: tuple[Problem, ...]
    """At least one problem, in feature order."""

    @property
    def kind(self) -> str:
        """The first problem's kind (a record is counted once, under this kind)."""
        return self.problems[0].kind

    @property
    def reason(self) -> str:
        """Every problem's message, joined with '; '."""
        return "; ".join(problem.message for problem in self.problems)


@dataclass(frozen=True)
class ValidRecord:
    """A record ready for PutRecord."""

    record_id: str
    """The record identifier's value as a string."""
    event_time: str
    """The event time as SageMaker stores it."""
    record: list[dict[str, str]]
    """PutRecord's ``Record``: ``[{"FeatureName": ..., "ValueAsString": ...}]`` in definition
    order, missing values left out."""


def validate_record(
    record: Mapping[str, object],
    definition: FeatureGroupDefinition,
    *,
    max_number_digits: int = _DEFAULT_DIGITS,
) -> ValidRecord | Rejection:
    """Check ``record`` against ``definition``; the PutRecord record or every problem found.

    Never raises, whatever ``record`` holds. ``max_number_digits`` bounds numbers and numeric
    text (see the module docstring).
    """
    if not isinstance(record, Mapping):
        return Rejection(
            (Problem(NOT_A_RECORD, f"a {type(record).__name__}, not a mapping of features"),)
        )
    try:
        return _validate(record, definition, max_number_digits)
    except Exception as error:
        reason = f"cannot check the record: {type(error).__name__}: {shown(str(error))}"
        return Rejection((Problem(UNEXPECTED_ERROR, reason),))


def _validate(
    record: Mapping[str, object], definition: FeatureGroupDefinition, max_digits: int
) -> ValidRecord | Rejection:
    problems: list[Problem] = []
    known = set(definition.feature_names)
    unknown = [name for name in record if name not in known]
    if unknown:
        problems.append(
            Problem(
                UNKNOWN_FEATURE,
                f"feature group '{definition.name}' has no feature "
                + ", ".join(f"'{_name(name)}'" for name in unknown),
            )
        )
    values: list[dict[str, str]] = []
    record_id = event_time = ""
    for feature in definition.features:
        value = record.get(feature.name)
        if feature.name == definition.event_time:
            if _is_missing(value):
                problems.append(
                    Problem(MISSING_EVENT_TIME, f"event time '{feature.name}' is missing")
                )
                continue
            try:
                _check_digits(value, max_digits)
                event_time = to_sagemaker(value, feature.type)
            except (EventTimeError, FeatureValueError) as error:
                problems.append(Problem(BAD_EVENT_TIME, f"'{feature.name}': {error}"))
                continue
            values.append({"FeatureName": feature.name, "ValueAsString": event_time})
            continue
        if _is_missing(value):
            if feature.name == definition.record_identifier:
                problems.append(
                    Problem(
                        MISSING_RECORD_IDENTIFIER,
                        f"record identifier '{feature.name}' is missing or empty",
                    )
                )
            continue
        try:
            text = value_as_string(value, feature.type, max_digits)
        except FeatureValueError as error:
            problems.append(Problem(BAD_VALUE, f"feature '{feature.name}': {error}"))
            continue
        if feature.name == definition.record_identifier:
            record_id = text
        values.append({"FeatureName": feature.name, "ValueAsString": text})
    if problems:
        return Rejection(tuple(problems))
    return ValidRecord(record_id=record_id, event_time=event_time, record=values)


def value_as_string(
    value: object, feature_type: str, max_number_digits: int = _DEFAULT_DIGITS
) -> str:
    """``value`` as the ``ValueAsString`` of a ``feature_type`` feature.

    Raises :class:`FeatureValueError` (the message names the value and what was expected) when
    the type does not allow it; the rules are in this module's docstring.
    """
    if feature_type in (INTEGRAL, FRACTIONAL):
        _check_digits(value, max_number_digits)
    if feature_type == INTEGRAL:
        return _integral(value)
    if feature_type == FRACTIONAL:
        return _fractional(value)
    if feature_type == STRING:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            _check_digits(value, max_number_digits)
        return _string(value)
    raise FeatureValueError(f"unknown feature type '{feature_type}'")


def _check_digits(value: object, max_digits: int) -> None:
    """Refuse an int or numeric text with more than ``max_digits`` digits, before converting."""
    if isinstance(value, str):
        if len(value) <= max_digits:
            return  # cannot hold more digits than characters
        digits = sum(character.isdigit() for character in value)
    elif isinstance(value, int) and not isinstance(value, bool):
        # bit_length() * log10(2) under-counts by at most one digit: exact only when close.
        estimate = int(value.bit_length() * math.log10(2)) + 1
        if estimate <= max_digits:
            return
        digits = estimate if estimate > max_digits + 1 else len(str(abs(value)))
    else:
        return
    if digits > max_digits:
        raise FeatureValueError(
            f"{shown(value, 40)} has {digits} digits, more than max_number_digits ({max_digits})"
        )


def _name(name: object) -> str:
    return name if isinstance(name, str) and len(name) <= 100 else shown(name)


def _is_missing(value: object) -> bool:
    # Blank counts as missing too: an identifier or event time of "  " is a data error, and
    # CSV writers pad empty cells.
    return value is None or (isinstance(value, str) and value.strip() == "")


def _integral(value: object) -> str:
    if isinstance(value, bool):
        raise FeatureValueError(f"{value!r} is a bool, not an Integral")
    if isinstance(value, float) and not math.isfinite(value):
        raise FeatureValueError(f"{value!r} is not a whole number (Integral)")
    if isinstance(value, numbers.Integral) and not isinstance(value, int):
        value = int(value)  # numpy.int64 and friends, as pandas rows hold them
    if isinstance(value, float):
        if not value.is_integer():
            raise FeatureValueError(f"{value!r} is not a whole number (Integral)")
        value = int(value)
    elif isinstance(value, str):
        if not _INTEGRAL.fullmatch(value.strip()):
            raise FeatureValueError(f"{shown(value)} is not a whole number (Integral)")
        value = int(value.strip())
    if not isinstance(value, int):
        raise FeatureValueError(f"{shown(value)} is a {type(value).__name__}, not an Integral")
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise FeatureValueError(f"{shown(value)} is outside the signed 64-bit range of an Integral")
    return str(value)


def _fractional(value: object) -> str:
    if isinstance(value, bool):
        raise FeatureValueError(f"{value!r} is a bool, not a Fractional")
    if isinstance(value, str):
        if not _NUMBER.fullmatch(value.strip()):
            raise FeatureValueError(f"{shown(value)} is not a number (Fractional)")
        value = float(value.strip())
    if isinstance(value, Decimal):
        if value.is_snan():  # float() refuses a signalling NaN
            raise FeatureValueError(f"{value!r} is not a finite number")
        value = float(value)  # Parquet decimal columns
    if isinstance(value, numbers.Integral):
        value = int(value)
        if abs(value) > _DOUBLE_MAX:
            raise FeatureValueError(f"{shown(value)} is too large for a Fractional (a double)")
        # str() keeps a large int exact; SageMaker parses it as a double either way.
        return str(value)
    if not isinstance(value, numbers.Real):
        raise FeatureValueError(f"{shown(value)} is a {type(value).__name__}, not a Fractional")
    value = float(value)
    if not math.isfinite(value):
        raise FeatureValueError(
            f"{value!r} is not a finite number (for a missing value give None or leave it empty)"
        )
    return repr(value)


def _string(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    raise FeatureValueError(
        f"{shown(value)} is a {type(value).__name__}; a String feature takes text (or an int)"
    )
