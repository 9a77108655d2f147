"""Reading the ISO-8601 times the monitor meets (capture records, windows, metrics files)."""

from __future__ import annotations

from datetime import datetime, timezone


class NaiveTime(ValueError):
    """An ISO-8601 time without a zone: which instant it means is anyone's guess."""


def utc_time(text: str) -> datetime:
    """``text`` (ISO-8601 with ``Z`` or an offset) as an aware UTC datetime.

    Raises:
        NaiveTime: the time has no zone.
        ValueError: the text is not an ISO-8601 time, or its instant lies outside the years
            1 to 9999 once converted to UTC (``9999-12-31T23:59:59-01:00``).

    """
    # Python 3.10's fromisoformat does not read a trailing Z.
    parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    if parsed.tzinfo is None:
        raise NaiveTime(text)
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        # datetime raises OverflowError, not ValueError, when the offset moves the instant
        # past year 9999 or before year 1: callers only expect ValueError from a bad time.
        raise ValueError(f"{text!r} lies outside the years 1 to 9999 in UTC") from None
