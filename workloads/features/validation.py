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
from workloads.features.event_time import EventTimeError, to_sagemaker

#: Rejection kinds (the reject file's ``kind`` and the report's counts use these).
UNKNOWN_FEATURE = "unknown_feature"
MISSING_RECORD_IDENTIFIER = "missing_record_identifier"
MISSING_EVENT_TIME = "missing_event_time"
BAD_EVENT_TIME = "bad_event_time"
BAD_VALUE = "bad_value"

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
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
    record: Mapping[str, object], definition: FeatureGroupDefinition
) -> ValidRecord | Rejection:
    """Check ``record`` against ``definition``; the PutRecord record or every problem found."""
    problems: list[Problem] = []
    known = set(definition.feature_names)
    unknown = [name for name in record if name not in known]
    if unknown:
        problems.append(
            Problem(
                UNKNOWN_FEATURE,
                f"feature group '{definition.name}' has no feature "
                + ", ".join(f"'{name}'" for name in unknown),
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
                event_time = to_sagemaker(value, feature.type)
            except EventTimeError as error:
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
            text = value_as_string(value, feature.type)
        except FeatureValueError as error:
            problems.append(Problem(BAD_VALUE, f"feature '{feature.name}': {error}"))
            continue
        if feature.name == definition.record_identifier:
            record_id = text
        values.append({"FeatureName": feature.name, "ValueAsString": text})
    if problems:
        return Rejection(tuple(problems))
    return ValidRecord(record_id=record_id, event_time=event_time, record=values)


def value_as_string(value: object, feature_type: str) -> str:
    """``value`` as the ``ValueAsString`` of a ``feature_type`` feature.

    Raises ``ValueError`` (the message names the value and what was expected) when the type does
    not allow it; the rules are in this module's docstring.
    """
    if feature_type == INTEGRAL:
        return _integral(value)
    if feature_type == FRACTIONAL:
        return _fractional(value)
    if feature_type == STRING:
        return _string(value)
    raise FeatureValueError(f"unknown feature type '{feature_type}'")


def _is_missing(value: object) -> bool:
    # Blank counts as missing too: an identifier or event time of "  " is a data error, and
    # CSV writers pad empty cells.
    return value is None or (isinstance(value, str) and value.strip() == "")


def _integral(value: object) -> str:
    if isinstance(value, bool):
        raise FeatureValueError(f"{value!r} is a bool, not an Integral")
    if isinstance(value, numbers.Integral) and not isinstance(value, int):
        value = int(value)  # numpy.int64 and friends, as pandas rows hold them
    if isinstance(value, float):
        if not value.is_integer():
            raise FeatureValueError(f"{value!r} is not a whole number (Integral)")
        value = int(value)
    elif isinstance(value, str):
        if not _INTEGRAL.fullmatch(value.strip()):
            raise FeatureValueError(f"{value!r} is not a whole number (Integral)")
        value = int(value.strip())
    if not isinstance(value, int):
        raise FeatureValueError(f"{value!r} is a {type(value).__name__}, not an Integral")
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise FeatureValueError(f"{value} is outside the signed 64-bit range of an Integral")
    return str(value)


def _fractional(value: object) -> str:
    if isinstance(value, bool):
        raise FeatureValueError(f"{value!r} is a bool, not a Fractional")
    if isinstance(value, str):
        if not _NUMBER.fullmatch(value.strip()):
            raise FeatureValueError(f"{value!r} is not a number (Fractional)")
        value = float(value.strip())
    if isinstance(value, Decimal):
        value = float(value)  # Parquet decimal columns
    if isinstance(value, numbers.Integral):
        value = int(value)
        # str() keeps a large int exact; SageMaker parses it as a double either way.
        return str(value)
    if not isinstance(value, numbers.Real):
        raise FeatureValueError(f"{value!r} is a {type(value).__name__}, not a Fractional")
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
        f"{value!r} is a {type(value).__name__}; a String feature takes text (or an int)"
    )
