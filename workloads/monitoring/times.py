"""Reading the ISO-8601 times the monitor meets (capture records, windows, metrics files)."""

from __future__ import annotations

from datetime import datetime, timezone


class NaiveTime(ValueError):
    """An ISO-8601 time without a zone: which instant it means is anyone's guess."""


def utc_time(text: str) -> datetime:
    """``text`` (ISO-8601 with ``Z`` or an offset) as an aware UTC datetime.

    Raises:
        NaiveTime: the time has no zone.
        ValueError: the text is not an ISO-8601 time.

    """
    # Python 3.10's fromisoformat does not read a trailing Z.
    parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    if parsed.tzinfo is None:
        raise NaiveTime(text)
    return parsed.astimezone(timezone.utc)
