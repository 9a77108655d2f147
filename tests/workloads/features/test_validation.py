"""One record checked against its definition: the PutRecord record, or every problem named."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.workloads.features.samples import CUSTOMERS
from workloads.features.definitions import Feature, FeatureGroupDefinition
from workloads.features.validation import (
    BAD_EVENT_TIME,
    BAD_VALUE,
    MISSING_EVENT_TIME,
    MISSING_RECORD_IDENTIFIER,
    NOT_A_RECORD,
    UNEXPECTED_ERROR,
    UNKNOWN_FEATURE,
    Rejection,
    ValidRecord,
    validate_record,
)


def valid(record: dict[str, object], definition: FeatureGroupDefinition = CUSTOMERS) -> ValidRecord:
    result = validate_record(record, definition)
    assert isinstance(result, ValidRecord), result
    return result


def rejected(
    record: dict[str, object], definition: FeatureGroupDefinition = CUSTOMERS
) -> Rejection:
    result = validate_record(record, definition)
    assert isinstance(result, Rejection), result
    return result


def test_a_complete_record_becomes_the_putrecord_record_in_definition_order() -> None:
    # given
    record = {
        "segment": "gold",
        "spend": 12.5,
        "orders": 3,
        "updated_at": "2024-05-01T14:00:00+02:00",
        "customer_id": "c-1",
    }
    # when
    result = valid(record)
    # then
    assert result.record_id == "c-1"
    assert result.event_time == "2024-05-01T12:00:00.000Z"
    assert result.record == [
        {"FeatureName": "customer_id", "ValueAsString": "c-1"},
        {"FeatureName": "updated_at", "ValueAsString": "2024-05-01T12:00:00.000Z"},
        {"FeatureName": "orders", "ValueAsString": "3"},
        {"FeatureName": "spend", "ValueAsString": "12.5"},
        {"FeatureName": "segment", "ValueAsString": "gold"},
    ]


def test_csv_strings_are_checked_and_normalised() -> None:
    # given a CSV row: every value a string, "" for missing
    row = {
        "customer_id": "c-1",
        "updated_at": "1714564800",
        "orders": " 42 ",
        "spend": "1e3",
        "segment": "",
    }
    # when
    result = valid(row)
    # then
    assert result.record == [
        {"FeatureName": "customer_id", "ValueAsString": "c-1"},
        {"FeatureName": "updated_at", "ValueAsString": "2024-05-01T12:00:00.000Z"},
        {"FeatureName": "orders", "ValueAsString": "42"},
        {"FeatureName": "spend", "ValueAsString": "1000.0"},
    ]


def test_missing_value_features_are_left_out() -> None:
    # given None and "" for the value features
    # when
    result = valid(
        {"customer_id": "c-1", "updated_at": "2024-05-01T12:00:00Z", "orders": None, "spend": ""}
    )
    # then
    assert [item["FeatureName"] for item in result.record] == ["customer_id", "updated_at"]


def test_a_fractional_event_time_is_epoch_seconds() -> None:
    # given
    definition = FeatureGroupDefinition(
        name="clicks",
        record_identifier="user",
        event_time="ts",
        features=(Feature("user", "Integral"), Feature("ts", "Fractional")),
    )
    # when
    result = valid({"user": "7", "ts": "2024-05-01T12:00:00.5Z"}, definition)
    # then
    assert result.record_id == "7"
    assert result.record == [
        {"FeatureName": "user", "ValueAsString": "7"},
        {"FeatureName": "ts", "ValueAsString": "1714564800.5"},
    ]


def test_an_unknown_feature_is_refused() -> None:
    # when
    rejection = rejected({"customer_id": "c-1", "updated_at": "1714564800", "colour": "red"})
    # then
    assert rejection.kind == UNKNOWN_FEATURE
    assert rejection.reason == "feature group 'customers' has no feature 'colour'"


@pytest.mark.parametrize("identifier", [None, "", "   "])
def test_a_missing_or_empty_record_identifier_is_refused(identifier: object) -> None:
    rejection = rejected({"customer_id": identifier, "updated_at": "1714564800"})
    assert rejection.kind == MISSING_RECORD_IDENTIFIER
    assert rejection.reason == "record identifier 'customer_id' is missing or empty"


def test_an_absent_record_identifier_is_refused() -> None:
    assert rejected({"updated_at": "1714564800"}).kind == MISSING_RECORD_IDENTIFIER


@pytest.mark.parametrize("event_time", [None, ""])
def test_a_missing_event_time_is_refused(event_time: object) -> None:
    rejection = rejected({"customer_id": "c-1", "updated_at": event_time})
    assert rejection.kind == MISSING_EVENT_TIME
    assert rejection.reason == "event time 'updated_at' is missing"


def test_an_unparseable_event_time_is_refused_naming_the_feature() -> None:
    rejection = rejected({"customer_id": "c-1", "updated_at": "2024-05-01T12:00:00"})
    assert rejection.kind == BAD_EVENT_TIME
    assert rejection.reason.startswith(
        "'updated_at': event time '2024-05-01T12:00:00' has no UTC offset"
    )


def test_an_event_time_in_milliseconds_is_refused_with_the_hint() -> None:
    rejection = rejected({"customer_id": "c-1", "updated_at": "1714564800000"})
    assert rejection.kind == BAD_EVENT_TIME
    assert "looks like epoch milliseconds" in rejection.reason


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "feature 'orders': True is a bool, not an Integral"),
        (3.5, "feature 'orders': 3.5 is not a whole number (Integral)"),
        ("3.5", "feature 'orders': '3.5' is not a whole number (Integral)"),
        ("forty", "feature 'orders': 'forty' is not a whole number (Integral)"),
        (2**63, f"feature 'orders': {2**63} is outside the signed 64-bit range of an Integral"),
        (
            str(-(2**63) - 1),
            f"feature 'orders': {-(2**63) - 1} is outside the signed 64-bit range of an Integral",
        ),
        ([1], "feature 'orders': [1] is a list, not an Integral"),
    ],
)
def test_bad_integral_values_are_refused(value: object, message: str) -> None:
    rejection = rejected({"customer_id": "c-1", "updated_at": "1714564800", "orders": value})
    assert (rejection.kind, rejection.reason) == (BAD_VALUE, message)


@pytest.mark.parametrize(
    ("value", "text"), [(42, "42"), ("-7", "-7"), (3.0, "3"), (2**63 - 1, str(2**63 - 1))]
)
def test_integral_values_are_accepted(value: object, text: str) -> None:
    result = valid({"customer_id": "c-1", "updated_at": "1714564800", "orders": value})
    assert result.record[2] == {"FeatureName": "orders", "ValueAsString": text}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            math.nan,
            "feature 'spend': nan is not a finite number (for a missing value give None or leave it empty)",
        ),
        (
            math.inf,
            "feature 'spend': inf is not a finite number (for a missing value give None or leave it empty)",
        ),
        ("nan", "feature 'spend': 'nan' is not a number (Fractional)"),
        ("1_000", "feature 'spend': '1_000' is not a number (Fractional)"),
        (
            "1e999",
            "feature 'spend': inf is not a finite number (for a missing value give None or leave it empty)",
        ),
        (False, "feature 'spend': False is a bool, not a Fractional"),
    ],
)
def test_bad_fractional_values_are_refused(value: object, message: str) -> None:
    rejection = rejected({"customer_id": "c-1", "updated_at": "1714564800", "spend": value})
    assert (rejection.kind, rejection.reason) == (BAD_VALUE, message)


@pytest.mark.parametrize(
    ("value", "text"), [(2, "2"), (0.1, "0.1"), ("-1.5", "-1.5"), (".5", "0.5")]
)
def test_fractional_values_are_accepted(value: object, text: str) -> None:
    result = valid({"customer_id": "c-1", "updated_at": "1714564800", "spend": value})
    assert result.record[2] == {"FeatureName": "spend", "ValueAsString": text}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "feature 'segment': 1.5 is a float; a String feature takes text (or an int)"),
        (True, "feature 'segment': True is a bool; a String feature takes text (or an int)"),
    ],
)
def test_a_string_feature_refuses_floats_and_bools(value: object, message: str) -> None:
    rejection = rejected({"customer_id": "c-1", "updated_at": "1714564800", "segment": value})
    assert (rejection.kind, rejection.reason) == (BAD_VALUE, message)


def test_a_string_feature_takes_an_int_as_its_text() -> None:
    result = valid({"customer_id": 12, "updated_at": "1714564800", "segment": 7})
    assert result.record_id == "12"
    assert result.record[-1] == {"FeatureName": "segment", "ValueAsString": "7"}


def test_every_problem_of_a_record_is_reported_under_the_first_kind() -> None:
    # given three problems
    record = {"customer_id": "", "updated_at": "later", "orders": "x", "colour": "red"}
    # when
    rejection = rejected(record)
    # then
    assert rejection.kind == UNKNOWN_FEATURE
    assert [problem.kind for problem in rejection.problems] == [
        UNKNOWN_FEATURE,
        MISSING_RECORD_IDENTIFIER,
        BAD_EVENT_TIME,
        BAD_VALUE,
    ]
    assert "feature 'orders': 'x' is not a whole number (Integral)" in rejection.reason


# ---- validate_record never raises ---------------------------------------------------------


def test_an_integral_with_thousands_of_digits_is_refused_by_the_digit_bound() -> None:
    # given a 5000-digit int as CSV text and as a Python int (past Python's 4300-digit limit)
    for value, shown in (
        ("9" * 5000, "'" + "9" * 39 + "..."),
        (10**5000, "<an integer of about 5001 digits>"),
    ):
        # when
        rejection = rejected({"customer_id": "c-1", "updated_at": "1714564800", "orders": value})
        # then
        assert (rejection.kind, rejection.reason) == (
            BAD_VALUE,
            f"feature 'orders': {shown} has {5000 if isinstance(value, str) else 5001} digits, more than max_number_digits (100)",
        )


def test_the_digit_bound_is_a_parameter() -> None:
    record = {"customer_id": "c-1", "updated_at": "1714564800", "spend": "1.2345678901234"}
    assert isinstance(validate_record(record, CUSTOMERS, max_number_digits=14), ValidRecord)
    rejection = validate_record(record, CUSTOMERS, max_number_digits=13)
    assert isinstance(rejection, Rejection)
    assert (
        rejection.reason
        == "feature 'spend': '1.2345678901234' has 14 digits, more than max_number_digits (13)"
    )


def test_an_int_past_the_double_range_is_refused_as_a_fractional() -> None:
    record = {"customer_id": "c-1", "updated_at": "1714564800", "spend": 2**1030}
    rejection = validate_record(record, CUSTOMERS, max_number_digits=400)
    assert isinstance(rejection, Rejection)
    assert rejection.reason == (
        f"feature 'spend': {repr(2**1030)[:100]}... is too large for a Fractional (a double)"
    )


@pytest.mark.parametrize(
    ("feature", "value", "message"),
    [
        ("orders", math.nan, "feature 'orders': nan is not a whole number (Integral)"),
        ("orders", -math.inf, "feature 'orders': -inf is not a whole number (Integral)"),
        (
            "orders",
            1e300,
            f"feature 'orders': {str(int(1e300))[:100]}... is outside the signed 64-bit range of an Integral",
        ),
        ("spend", Decimal("sNaN"), "feature 'spend': Decimal('sNaN') is not a finite number"),
        (
            "spend",
            Decimal("NaN"),
            "feature 'spend': nan is not a finite number (for a missing value give None or leave it empty)",
        ),
        (
            "spend",
            2**1100,
            "feature 'spend': "
            + repr(2**1100)[:40]
            + "... has 332 digits, more than max_number_digits (100)",
        ),
        ("spend", object, "feature 'spend': <class 'object'> is a type, not a Fractional"),
        (
            "updated_at",
            "0001-01-01T00:00:00+01:00",
            "'updated_at': event time '0001-01-01T00:00:00+01:00' is outside 1970..2100",
        ),
        (
            "updated_at",
            10**200,
            "'updated_at': "
            + repr(10**200)[:40]
            + "... has 201 digits, more than max_number_digits (100)",
        ),
    ],
)
def test_odd_values_are_refused_with_a_reason(feature: str, value: object, message: str) -> None:
    record = {"customer_id": "c-1", "updated_at": "1714564800", feature: value}
    rejection = rejected(record)
    assert rejection.reason == message


class Exploding:
    def __str__(self) -> str:
        raise RuntimeError("no text")

    __repr__ = __str__


def test_a_value_that_fails_when_shown_is_a_rejection_not_an_exception() -> None:
    rejection = rejected({"customer_id": "c-1", "updated_at": "1714564800", "segment": Exploding()})
    assert (rejection.kind, rejection.reason) == (
        BAD_VALUE,
        "feature 'segment': <a Exploding> is a Exploding; a String feature takes text (or an int)",
    )


def test_a_mapping_that_fails_while_read_is_an_unexpected_error_rejection() -> None:
    class Broken(dict):  # type: ignore[type-arg]
        def get(self, key: object, default: object = None) -> object:
            raise KeyError("disk gone")

    rejection = rejected(Broken(customer_id="c-1"))
    assert (rejection.kind, rejection.reason) == (
        UNEXPECTED_ERROR,
        "cannot check the record: KeyError: \"'disk gone'\"",
    )


def test_something_that_is_not_a_mapping_is_refused() -> None:
    rejection = validate_record(["c-1"], CUSTOMERS)  # type: ignore[arg-type]
    assert isinstance(rejection, Rejection)
    assert (rejection.kind, rejection.reason) == (NOT_A_RECORD, "a list, not a mapping of features")


_ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**90, max_value=10**6000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(max_size=300),
    st.from_regex(r"[+-]?\d{0,400}(\.\d{0,300})?([eE][+-]?\d{1,12})?", fullmatch=True),
    st.datetimes(timezones=st.timezones()),
    st.sampled_from(
        ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00", "1e999999999", "nan", "-0"]
    ),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.binary(max_size=10),
)


@settings(max_examples=300, deadline=None)
@given(
    record=st.dictionaries(
        st.sampled_from(["customer_id", "updated_at", "orders", "spend", "segment", "colour"]),
        _ODD_VALUES,
    )
)
def test_validate_record_never_raises(record: dict[str, object]) -> None:
    # when
    result = validate_record(record, CUSTOMERS)
    # then a valid record holds only text, or a rejection says why
    if isinstance(result, ValidRecord):
        assert all(isinstance(value["ValueAsString"], str) for value in result.record)
    else:
        assert result.problems and result.reason
        assert result.kind != UNEXPECTED_ERROR, result.reason
