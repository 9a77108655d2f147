"""Event times: ISO-8601 with offsets and epoch seconds in, SageMaker's String and Fractional out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from workloads.features.event_time import (
    EventTimeError,
    format_event_time,
    parse_event_time,
    to_sagemaker,
)

MAY_FIRST = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-01T12:00:00Z",
        "2024-05-01T14:00:00+02:00",
        "2024-05-01T07:00:00-05:00",
        "2024-05-01 12:00:00+00:00",
        1714564800,
        1714564800.0,
        "1714564800",
        " 1714564800.0 ",
        Decimal("1714564800"),
        datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_every_accepted_form_is_the_same_utc_moment(value: object) -> None:
    # given / when
    moment = parse_event_time(value)
    # then
    assert moment == MAY_FIRST
    assert moment.tzinfo is UTC


def test_a_string_event_time_is_utc_with_milliseconds() -> None:
    # given an offset and microseconds
    # when
    text = to_sagemaker("2024-05-01T14:00:00.123987+02:00", "String")
    # then the offset is applied and milliseconds are truncated, never rounded into the next second
    assert text == "2024-05-01T12:00:00.123Z"
    assert to_sagemaker("2024-05-01T23:59:59.9999+00:00", "String") == "2024-05-01T23:59:59.999Z"


def test_a_fractional_event_time_is_epoch_seconds_as_a_decimal_string() -> None:
    # given / when / then
    assert to_sagemaker("2024-05-01T12:00:00Z", "Fractional") == "1714564800.0"
    assert to_sagemaker("1714564800.25", "Fractional") == "1714564800.25"
    assert to_sagemaker("2024-05-01T12:00:00.000001Z", "Fractional") == "1714564800.000001"


def test_a_naive_iso_string_is_refused_as_ambiguous() -> None:
    # given / when / then
    with pytest.raises(EventTimeError, match=r"has no UTC offset, which is ambiguous"):
        parse_event_time("2024-05-01T12:00:00")


def test_a_naive_datetime_is_refused_as_ambiguous() -> None:
    with pytest.raises(EventTimeError, match=r"has no UTC offset"):
        parse_event_time(datetime(2024, 5, 1, 12, 0))


def test_epoch_milliseconds_are_refused_with_a_hint() -> None:
    # given / when / then
    with pytest.raises(EventTimeError) as raised:
        parse_event_time(1714564800000)
    assert str(raised.value) == (
        "event time 1714564800000 is outside 1970..2100 as epoch seconds "
        "(it looks like epoch milliseconds; divide by 1000 for seconds)"
    )


def test_epoch_milliseconds_from_csv_get_the_hint_too() -> None:
    with pytest.raises(EventTimeError, match=r"looks like epoch milliseconds"):
        parse_event_time("1714564800000")


@pytest.mark.parametrize("value", [-1, "-1", "1969-12-31T23:59:59Z", "2101-01-01T00:00:00Z"])
def test_times_outside_1970_to_2100_are_refused(value: object) -> None:
    with pytest.raises(EventTimeError, match=r"outside 1970..2100"):
        parse_event_time(value)


def test_a_far_future_epoch_is_not_mistaken_for_milliseconds() -> None:
    with pytest.raises(EventTimeError) as raised:
        parse_event_time(10**17)
    assert "milliseconds" not in str(raised.value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday", "is neither ISO-8601"),
        ("", "event time is empty"),
        (True, "is not a time"),
        (None, "is not a time"),
        (float("nan"), "is not a finite number"),
        (float("inf"), "is not a finite number"),
        ([1], "is a list"),
    ],
)
def test_unparseable_event_times_are_refused(value: object, message: str) -> None:
    with pytest.raises(EventTimeError, match=message):
        parse_event_time(value)


def test_an_unknown_event_time_type_is_refused() -> None:
    with pytest.raises(EventTimeError, match=r"event time type 'Integral' is not one of"):
        format_event_time(MAY_FIRST, "Integral")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "0001-01-01T00:00:00+01:00",
            "event time '0001-01-01T00:00:00+01:00' is outside 1970..2100",
        ),
        (
            "9999-12-31T23:59:59-01:00",
            "event time '9999-12-31T23:59:59-01:00' is outside 1970..2100",
        ),
        (Decimal("NaN"), "event time Decimal('NaN') is not a finite number"),
        (Decimal("sNaN"), "event time Decimal('sNaN') is not a finite number"),
        (Decimal("-Infinity"), "event time Decimal('-Infinity') is not a finite number"),
        ("1e999999999", "event time '1e999999999' is outside 1970..2100 as epoch seconds"),
    ],
)
def test_event_times_that_overflow_are_refused_not_raised(value: object, message: str) -> None:
    # when / then: an EventTimeError with the value shown, never OverflowError or the like
    with pytest.raises(EventTimeError) as raised:
        parse_event_time(value)
    assert str(raised.value) == message


def test_a_long_event_time_is_cut_short_in_the_message() -> None:
    with pytest.raises(EventTimeError) as raised:
        parse_event_time("x" * 10_000)
    assert str(raised.value) == (
        f"event time '{'x' * 99}... is neither ISO-8601 (e.g. 2024-05-01T12:00:00Z) nor epoch seconds"
    )


def test_an_int_too_long_to_print_is_described_by_its_size() -> None:
    with pytest.raises(EventTimeError) as raised:
        parse_event_time(10**5000)
    assert str(raised.value) == (
        "event time <an integer of about 5001 digits> is outside 1970..2100 as epoch seconds"
    )
