"""Event times: parsed from what data files hold, written in the form SageMaker stores.

A feature group's event time is either a ``String`` or a ``Fractional`` feature (see
:data:`workloads.features.definitions.EVENT_TIME_TYPES`). SageMaker accepts, for String,
``yyyy-MM-dd'T'HH:mm:ssZ`` and ``yyyy-MM-dd'T'HH:mm:ss.SSSZ`` (CreateFeatureGroup,
EventTimeFeatureName) and, for Fractional, Unix epoch seconds. Input may be an ISO-8601 string with
an offset or ``Z``, an aware ``datetime``, or epoch seconds (a number, or a numeric string as CSV
gives it). Every event time is stored in UTC with millisecond precision (String) or microsecond
precision (Fractional).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from workloads.features.definitions import FRACTIONAL, STRING

#: The earliest and (exclusive) latest event times accepted: years 1970 to 2100.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2101, 1, 1, tzinfo=UTC)
_EPOCH = EARLIEST
_LATEST_SECONDS = (LATEST - _EPOCH).total_seconds()
# A plain decimal number (no '_' separators, 'nan' or 'inf', which float() would also take).
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


# Python refuses str() of an int past 4300 digits (sys.int_info.str_digits_check_threshold);
# below this many bits an int always has fewer digits than that.
_PRINTABLE_INT_BITS = 14_000


class EventTimeError(ValueError):
    """An event time that cannot be parsed or is out of range; the message says why."""


def shown(value: Any, width: int = 100) -> str:
    """``repr(value)`` cut to ``width`` characters, for messages; never raises.

    An int too long for ``repr`` (Python's 4300-digit limit) is described by its size instead.
    """
    if isinstance(value, int) and value.bit_length() > _PRINTABLE_INT_BITS:
        return f"<an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits>"
    try:
        text = repr(value)
    except Exception:
        return f"<a {type(value).__name__}>"
    return text if len(text) <= width else text[:width] + "..."


def parse_event_time(value: object) -> datetime:
    """The UTC ``datetime`` of an event time given as ISO-8601 text, epoch seconds or a datetime.

    Naive values (no offset) are refused: whether they are UTC or local time is a guess.
    Values outside 1970..2100 are refused; epoch milliseconds get a hint saying so.
    """
    if isinstance(value, bool) or value is None:
        raise EventTimeError(f"event time {shown(value)} is not a time")
    if isinstance(value, datetime):
        return _in_range(_aware(value, shown(value)), value)
    if isinstance(value, int | float | Decimal):
        return _from_epoch(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise EventTimeError("event time is empty")
        if _NUMBER.fullmatch(text):
            return _from_epoch(Decimal(text), given=value)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise EventTimeError(
                f"event time {shown(value)} is neither ISO-8601 (e.g. 2024-05-01T12:00:00Z) "
                "nor epoch seconds"
            ) from None
        return _in_range(_aware(moment, shown(value)), value)
    raise EventTimeError(
        f"event time {shown(value)} is a {type(value).__name__}; expected ISO-8601 text, "
        "epoch seconds or a datetime"
    )


def format_event_time(moment: datetime, event_time_type: str) -> str:
    """``moment`` as SageMaker stores an event time of ``event_time_type``.

    String: ``YYYY-MM-DDTHH:MM:SS.sssZ`` in UTC (milliseconds truncated, never rounded up, so a
    time never moves into the next second). Fractional: epoch seconds as a decimal string with
    at least one decimal, e.g. ``1714564800.0``.
    """
    utc = _aware(moment, shown(moment)).astimezone(UTC)
    if event_time_type == STRING:
        return utc.strftime("%Y-%m-%dT%H:%M:%S") + f".{utc.microsecond // 1000:03d}Z"
    if event_time_type == FRACTIONAL:
        # Integer arithmetic: a float timestamp would print 1714564800.1234560013 and the like.
        micros = (utc - _EPOCH) // timedelta(microseconds=1)
        seconds, fraction = divmod(micros, 1_000_000)
        return f"{seconds}.{f'{fraction:06d}'.rstrip('0') or '0'}"
    raise EventTimeError(
        f"event time type '{event_time_type}' is not one of {STRING}, {FRACTIONAL}"
    )


def to_sagemaker(value: object, event_time_type: str) -> str:
    """Parse ``value`` (see :func:`parse_event_time`) and format it for ``event_time_type``."""
    return format_event_time(parse_event_time(value), event_time_type)


def _aware(moment: datetime, text: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise EventTimeError(
            f"event time {text} has no UTC offset, which is ambiguous (UTC or local time?); "
            "add one, e.g. 'Z' or '+02:00'"
        )
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is in year 0 in UTC
        raise EventTimeError(f"event time {text} is outside 1970..2100") from None


def _from_epoch(seconds: int | float | Decimal, given: object = None) -> datetime:
    text = shown(seconds if given is None else given)
    if isinstance(seconds, float) and not math.isfinite(seconds):
        raise EventTimeError(f"event time {text} is not a finite number")
    try:
        exact = Decimal(seconds)
    except InvalidOperation:
        raise EventTimeError(f"event time {text} is not a number") from None
    if not exact.is_finite():  # Decimal('NaN') would raise on comparison
        raise EventTimeError(f"event time {text} is not a finite number")
    latest = Decimal(_LATEST_SECONDS)
    if not 0 <= exact < latest:
        hint = ""
        # Compare, never divide: 1e999999999 / 1000 overflows the decimal context.
        if latest <= exact < latest * 1000:
            hint = " (it looks like epoch milliseconds; divide by 1000 for seconds)"
        raise EventTimeError(f"event time {text} is outside 1970..2100 as epoch seconds{hint}")
    micros = int((exact * 1_000_000).to_integral_value(rounding="ROUND_FLOOR"))
    return _EPOCH + timedelta(microseconds=micros)


def _in_range(moment: datetime, shown_value: object) -> datetime:
    if not EARLIEST <= moment < LATEST:
        raise EventTimeError(f"event time {shown(shown_value)} is outside 1970..2100")
    return moment
