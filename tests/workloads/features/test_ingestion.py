"""Ingestion: PutRecord request shapes, retries, rejects, stopping, the concurrency bound, readers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.stub import Stubber

from tests.workloads.features.samples import CUSTOMERS, GROUP, runtime_client
from workloads.features.ingestion import (
    IngestionReport,
    IngestionStopped,
    RetryPolicy,
    SourceRecord,
    ingest,
    is_fatal,
    is_retryable,
    read_records,
)


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """A runtime client with one connection (Stubber answers in order)."""
    return runtime_client(monkeypatch, tmp_path, max_workers=1)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def retry(sleeps: list[float]) -> RetryPolicy:
    """Three attempts; sleeping records the delay (the upper bound: jitter picks the maximum)."""
    return RetryPolicy(max_attempts=3, sleep=sleeps.append, uniform=lambda low, high: high)


def record(number: int, **values: object) -> dict[str, object]:
    return {"customer_id": f"c-{number}", "updated_at": "2024-05-01T12:00:00Z", **values}


def put_request(number: int, *extra: dict[str, str]) -> dict[str, Any]:
    return {
        "FeatureGroupName": GROUP,
        "Record": [
            {"FeatureName": "customer_id", "ValueAsString": f"c-{number}"},
            {"FeatureName": "updated_at", "ValueAsString": "2024-05-01T12:00:00.000Z"},
            *extra,
        ],
    }


def reject_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run(records: Any, client: Any, tmp_path: Path, **options: Any) -> IngestionReport:
    options.setdefault("max_workers", 1)
    return ingest(
        records,
        CUSTOMERS,
        group_name=GROUP,
        client=client,
        reject_file=tmp_path / "rejects.jsonl",
        **options,
    )


def test_each_record_is_one_putrecord_with_the_group_and_record(
    client: Any, tmp_path: Path
) -> None:
    # given
    records = [record(1, orders="3", spend="12.5"), record(2)]
    with Stubber(client) as stub:
        stub.add_response(
            "put_record",
            {},
            put_request(
                1,
                {"FeatureName": "orders", "ValueAsString": "3"},
                {"FeatureName": "spend", "ValueAsString": "12.5"},
            ),
        )
        stub.add_response("put_record", {}, put_request(2))
        # when
        report = run(records, client, tmp_path)
        # then
        stub.assert_no_pending_responses()
    assert (report.read, report.written, report.rejected, report.retries) == (2, 2, {}, 0)
    assert report.group_name == GROUP
    assert (tmp_path / "rejects.jsonl").read_text() == ""


def test_throttling_is_retried_with_backoff_then_written(
    client: Any, tmp_path: Path, retry: RetryPolicy, sleeps: list[float]
) -> None:
    # given one throttled attempt, then success
    with Stubber(client) as stub:
        stub.add_client_error(
            "put_record",
            "ThrottlingException",
            "Rate exceeded",
            400,
            expected_params=put_request(1),
        )
        stub.add_client_error(
            "put_record", "ServiceUnavailable", "try later", 503, expected_params=put_request(1)
        )
        stub.add_response("put_record", {}, put_request(1))
        # when
        report = run([record(1)], client, tmp_path, retry=retry)
        stub.assert_no_pending_responses()
    # then two retries, counted once each, with exponential ceilings
    assert (report.written, report.retries, report.rejected) == (1, 2, {})
    assert sleeps == [0.1, 0.2]


def test_a_record_still_failing_after_every_attempt_is_rejected(
    client: Any, tmp_path: Path, retry: RetryPolicy
) -> None:
    # given three 500s for a three-attempt policy
    with Stubber(client) as stub:
        for _ in range(3):
            stub.add_client_error("put_record", "InternalFailure", "boom", 500)
        # when
        report = run([record(1)], client, tmp_path, retry=retry)
    # then
    assert (report.written, report.retries, report.rejected) == (0, 2, {"retries_exhausted": 1})
    assert reject_lines(tmp_path / "rejects.jsonl") == [
        {
            "position": 1,
            "record": record(1),
            "kind": "retries_exhausted",
            "reason": "InternalFailure: boom",
        }
    ]


def test_a_validation_error_from_the_service_rejects_that_record_only(
    client: Any, tmp_path: Path
) -> None:
    # given the service refuses the second record
    with Stubber(client) as stub:
        stub.add_response("put_record", {}, put_request(1))
        stub.add_client_error(
            "put_record", "ValidationError", "Value too long", 400, expected_params=put_request(2)
        )
        stub.add_response("put_record", {}, put_request(3))
        # when
        report = run([record(1), record(2), record(3)], client, tmp_path)
    # then
    assert (report.read, report.written, report.retries) == (3, 2, 0)
    assert report.rejected == {"service:ValidationError": 1}
    assert reject_lines(tmp_path / "rejects.jsonl") == [
        {
            "position": 2,
            "record": record(2),
            "kind": "service:ValidationError",
            "reason": "ValidationError: Value too long",
        }
    ]


def test_a_missing_group_stops_the_run_naming_the_group(client: Any, tmp_path: Path) -> None:
    # given a long input and a group that does not exist
    pulled = []

    def records() -> Iterator[dict[str, object]]:
        for number in range(1, 1_000_001):
            pulled.append(number)
            yield record(number)

    with Stubber(client) as stub:
        stub.add_client_error(
            "put_record",
            "ResourceNotFound",
            f"Feature group {GROUP} not found",
            404,
            expected_params=put_request(1),
        )
        # when
        with pytest.raises(IngestionStopped) as raised:
            run(records(), client, tmp_path, max_in_flight=1)
    # then the run stops at once: one record read, accounted for, not a million rejected
    assert pulled == [1]
    assert str(raised.value) == (
        f"feature group '{GROUP}' does not exist (or is not in this region): "
        f"ResourceNotFound: Feature group {GROUP} not found. Stopped after reading 1 records: "
        f"0 written, 1 rejected (in-flight ones with kind 'stopped' in {tmp_path / 'rejects.jsonl'})"
    )
    report = raised.value.report
    assert (report.read, report.written, report.rejected) == (1, 0, {"stopped": 1})
    assert [line["position"] for line in reject_lines(tmp_path / "rejects.jsonl")] == [1]


def test_access_denied_stops_the_run_after_what_is_in_flight(client: Any, tmp_path: Path) -> None:
    # given the first call is written and the second refused, with two in flight
    with Stubber(client) as stub:
        stub.add_response("put_record", {}, put_request(1))
        stub.add_client_error(
            "put_record", "AccessForbidden", "not allowed", 403, expected_params=put_request(2)
        )
        stub.add_client_error(
            "put_record", "AccessForbidden", "not allowed", 403, expected_params=put_request(3)
        )
        # when
        with pytest.raises(
            IngestionStopped, match=f"access to feature group '{GROUP}' is denied"
        ) as raised:
            run((record(number) for number in range(1, 100)), client, tmp_path, max_in_flight=2)
    # then the written record counts, and the refused ones in flight are in the reject file
    report = raised.value.report
    assert report.written == 1
    assert report.rejected == {"stopped": report.read - 1}
    assert report.read in (2, 3)  # the third is read only when the second was not done yet


def test_invalid_and_malformed_records_go_to_the_reject_file_line_by_line(
    client: Any, tmp_path: Path
) -> None:
    # given a malformed item, a record with a bad value, an unknown feature, and a good record
    items = [
        SourceRecord(1, None, "not valid JSON: Expecting value", raw="{oops"),
        SourceRecord(2, record(2, orders="3.5")),
        SourceRecord(3, record(3, colour="red")),
        SourceRecord(4, record(4)),
    ]
    with Stubber(client) as stub:
        stub.add_response("put_record", {}, put_request(4))
        # when
        report = run(items, client, tmp_path)
    # then
    assert (report.read, report.written) == (4, 1)
    assert report.rejected == {"malformed_input": 1, "bad_value": 1, "unknown_feature": 1}
    assert reject_lines(tmp_path / "rejects.jsonl") == [
        {
            "position": 1,
            "raw": "{oops",
            "kind": "malformed_input",
            "reason": "not valid JSON: Expecting value",
        },
        {
            "position": 2,
            "record": record(2, orders="3.5"),
            "kind": "bad_value",
            "reason": "feature 'orders': '3.5' is not a whole number (Integral)",
        },
        {
            "position": 3,
            "record": record(3, colour="red"),
            "kind": "unknown_feature",
            "reason": "feature group 'customers' has no feature 'colour'",
        },
    ]
    assert report.to_dict()["rejected"] == 3


class FakeClient:
    """put_record that takes a little time and records how many calls run at once."""

    def __init__(self, failures: list[BaseException] | None = None) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        self.completed = 0
        self.calls = 0
        self.failures = list(failures or [])

    def put_record(self, **request: Any) -> dict[str, Any]:
        with self.lock:
            self.calls += 1
            failure = self.failures.pop(0) if self.failures else None
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(0.002)
            if failure is not None:
                raise failure
            return {}
        finally:
            with self.lock:
                self.in_flight -= 1
                self.completed += 1


def test_concurrency_is_bounded_and_the_input_is_read_lazily(tmp_path: Path) -> None:
    # given 200 records pulled from a generator that notes how far ahead of the writes it is
    fake = FakeClient()
    ahead: list[int] = []

    def records() -> Iterator[dict[str, object]]:
        for number in range(1, 201):
            ahead.append(number - fake.completed)
            yield record(number)

    # when
    report = run(records(), fake, tmp_path, max_workers=4, max_in_flight=8)
    # then no more than 4 calls ran at once, and the input never ran more than the window ahead
    assert (report.read, report.written) == (200, 200)
    assert 1 < fake.most_in_flight <= 4
    assert max(ahead) <= 8 + 1
    assert fake.calls == 200


def test_connection_errors_and_timeouts_are_retried(tmp_path: Path, retry: RetryPolicy) -> None:
    # given
    fake = FakeClient(
        [
            EndpointConnectionError(endpoint_url="https://x"),
            ReadTimeoutError(endpoint_url="https://x"),
        ]
    )
    # when
    report = run([record(1)], fake, tmp_path, retry=retry)
    # then
    assert (report.written, report.retries) == (1, 2)


def test_no_credentials_stops_the_run(tmp_path: Path) -> None:
    fake = FakeClient([NoCredentialsError(), NoCredentialsError()])
    with pytest.raises(
        IngestionStopped, match=f"cannot write to feature group '{GROUP}': NoCredentialsError"
    ):
        run([record(1), record(2)], fake, tmp_path)


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": ""}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutRecord",
    )


@pytest.mark.parametrize(
    ("error", "retryable", "fatal"),
    [
        (client_error("ThrottlingException"), True, False),
        (client_error("ServiceUnavailable", 503), True, False),
        (client_error("InternalFailure", 500), True, False),
        (client_error("SomethingNew", 502), True, False),
        (client_error("TooManyRequests", 429), True, False),
        (client_error("ValidationError"), False, False),
        (client_error("ResourceNotFound", 404), False, True),
        (client_error("AccessForbidden", 403), False, True),
        (EndpointConnectionError(endpoint_url="https://x"), True, False),
        (ValueError("x"), False, False),
    ],
)
def test_errors_are_classified(error: BaseException, retryable: bool, fatal: bool) -> None:
    assert (is_retryable(error), is_fatal(error)) == (retryable, fatal)


def test_full_jitter_draws_below_a_capped_exponential_ceiling() -> None:
    # given
    policy = RetryPolicy(base_seconds=1.0, cap_seconds=5.0, uniform=lambda low, high: high)
    # when / then
    assert [policy.delay(retry) for retry in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_the_report_refuses_records_unaccounted_for() -> None:
    report = IngestionReport(group_name=GROUP, read=3, written=1, rejected={"bad_value": 1})
    with pytest.raises(
        AssertionError, match="3 records read but 1 written and 1 rejected: 1 unaccounted for"
    ):
        report.check()


def test_csv_values_are_strings_with_line_numbers(tmp_path: Path) -> None:
    # given a header, a normal row, a quoted field over two lines, a blank line and a ragged row
    path = tmp_path / "data.csv"
    path.write_text(
        'customer_id,updated_at,orders\nc-1,1714564800,\n"c-\n2",1714564800,4\n\nc-3,1,2,3\nc-4,1714564800\n',
        encoding="utf-8",
    )
    # when
    items = list(read_records(path))
    # then
    assert items == [
        SourceRecord(2, {"customer_id": "c-1", "updated_at": "1714564800", "orders": ""}),
        SourceRecord(
            3, {"customer_id": "c-\n2", "updated_at": "1714564800", "orders": "4"}, lines=2
        ),
        SourceRecord(6, None, "row has 4 fields but the header has 3", raw="c-3,1,2,3"),
        SourceRecord(7, {"customer_id": "c-4", "updated_at": "1714564800", "orders": ""}),
    ]


def test_a_malformed_json_line_is_a_rejection_with_its_line_number(tmp_path: Path) -> None:
    # given
    path = tmp_path / "data.jsonl"
    path.write_text(
        '{"customer_id": "c-1"}\n{oops\n\n[1, 2]\n{"customer_id": "c-5"}\n', encoding="utf-8"
    )
    # when
    items = list(read_records(path))
    # then
    assert [item.position for item in items] == [1, 2, 4, 5]
    assert items[0].values == {"customer_id": "c-1"}
    assert (items[1].values, items[1].raw) == (None, "{oops")
    assert items[1].problem is not None and items[1].problem.startswith("not valid JSON: ")
    assert items[2].problem == "a list, not a JSON object"
    assert items[3].values == {"customer_id": "c-5"}


def test_parquet_rows_are_streamed_with_row_numbers(tmp_path: Path) -> None:
    # given
    path = tmp_path / "data.parquet"
    table = pa.table({"customer_id": ["c-1", "c-2"], "orders": [3, None], "spend": [1.5, 2.0]})
    pq.write_table(table, path)
    # when
    items = read_records(path)
    # then a lazy iterator of rows
    assert iter(items) is items
    assert list(items) == [
        SourceRecord(1, {"customer_id": "c-1", "orders": 3, "spend": 1.5}),
        SourceRecord(2, {"customer_id": "c-2", "orders": None, "spend": 2.0}),
    ]


def test_an_unknown_file_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"expected a .csv, .jsonl/.ndjson or .parquet file"):
        read_records(tmp_path / "data.xlsx")


def test_a_csv_file_ingests_end_to_end(client: Any, tmp_path: Path) -> None:
    # given
    path = tmp_path / "data.csv"
    path.write_text(
        "customer_id,updated_at,orders\nc-1,2024-05-01T12:00:00Z,3\nc-2,1714564800000,\n",
        encoding="utf-8",
    )
    with Stubber(client) as stub:
        stub.add_response(
            "put_record", {}, put_request(1, {"FeatureName": "orders", "ValueAsString": "3"})
        )
        # when
        report = run(read_records(path), client, tmp_path)
    # then
    assert (report.read, report.written, report.rejected) == (2, 1, {"bad_event_time": 1})
    (line,) = reject_lines(tmp_path / "rejects.jsonl")
    assert line["position"] == 3
    assert "looks like epoch milliseconds" in line["reason"]


def test_the_unterminated_quote_file_is_accounted_record_by_record(
    client: Any, tmp_path: Path
) -> None:
    # given the file of nine records whose third opens a quote it never closes
    rows = [f"c-{number},2024-05-01T12:00:00Z,\n" for number in range(1, 10)]
    rows[2] = '"c-3,2024-05-01T12:00:00Z,\n'
    path = tmp_path / "data.csv"
    path.write_text("customer_id,updated_at,orders\n" + "".join(rows), encoding="utf-8")
    with Stubber(client) as stub:
        for number in (1, 2, 4, 5, 6, 7, 8, 9):
            stub.add_response("put_record", {}, put_request(number))
        # when
        with read_records(path) as records:
            report = run(records, client, tmp_path)
        stub.assert_no_pending_responses()
    # then nine read, eight written, the broken line rejected; ten lines, every byte
    assert (report.read, report.written, report.rejected) == (9, 8, {"malformed_input": 1})
    assert (report.input_lines, report.skipped_lines, report.record_lines) == (10, 1, 9)
    assert (report.input_bytes, report.input_complete) == (path.stat().st_size, True)
    (line,) = reject_lines(tmp_path / "rejects.jsonl")
    assert line == {
        "position": 4,
        "raw": '"c-3,2024-05-01T12:00:00Z,',
        "kind": "malformed_input",
        "reason": "line 4: a quoted field opened here is not closed (given up at line 10: a quoted field is not closed before the end of the file)",
    }


def test_a_record_whose_check_fails_unexpectedly_is_rejected_not_raised(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given validation that blows up on the first record (a bug no rule foresaw)
    from workloads.features import ingestion

    real = ingestion.validate_record

    def flaky(record: Any, definition: Any, **options: Any) -> Any:
        if record["customer_id"] == "c-1":
            raise MemoryError("no room")
        return real(record, definition, **options)

    monkeypatch.setattr(ingestion, "validate_record", flaky)
    with Stubber(client) as stub:
        stub.add_response("put_record", {}, put_request(2))
        # when
        report = run([record(1), record(2)], client, tmp_path)
    # then
    assert (report.read, report.written, report.rejected) == (2, 1, {"unexpected_error": 1})
    assert reject_lines(tmp_path / "rejects.jsonl")[0]["reason"] == "MemoryError: no room"


def test_a_record_json_cannot_hold_is_still_in_the_reject_file(client: Any, tmp_path: Path) -> None:
    # given an int past Python's 4300-digit str() limit, handed over by a caller
    with Stubber(client):
        report = run([record(1, orders=10**5000)], client, tmp_path)
    (line,) = reject_lines(tmp_path / "rejects.jsonl")
    assert report.rejected == {"bad_value": 1}
    assert line["record"] == "<a dict>"
    assert line["reason"] == (
        "feature 'orders': <an integer of about 5001 digits> has 5001 digits, "
        "more than max_number_digits (100)"
    )


def test_an_input_that_fails_mid_way_stops_the_run_with_its_report(
    client: Any, tmp_path: Path
) -> None:
    # given a source that breaks after two records
    def records() -> Iterator[dict[str, object]]:
        yield record(1)
        yield record(2)
        raise OSError(5, "Input/output error")

    with Stubber(client) as stub:
        stub.add_response("put_record", {}, put_request(1))
        stub.add_response("put_record", {}, put_request(2))
        # when
        with pytest.raises(IngestionStopped) as raised:
            run(records(), client, tmp_path)
    # then what was read is written and accounted for, and the message says why it stopped
    report = raised.value.report
    assert (report.read, report.written, report.rejected_total) == (2, 2, 0)
    assert str(raised.value) == (
        "cannot read the input: OSError: [Errno 5] Input/output error. Stopped after reading "
        f"2 records: 2 written, 0 rejected (see {tmp_path / 'rejects.jsonl'})"
    )
    assert report.stopped == str(raised.value)


def test_a_corrupt_parquet_row_group_costs_its_own_rows(client: Any, tmp_path: Path) -> None:
    # given three row groups, the second one's data page overwritten with garbage
    path = tmp_path / "data.parquet"
    table = pa.table(
        {"customer_id": ["c-1", "c-2", "c-3"], "updated_at": ["2024-05-01T12:00:00Z"] * 3}
    )
    pq.write_table(table, path, row_group_size=1, compression="none")
    start = pq.ParquetFile(path).metadata.row_group(1).column(0).data_page_offset
    data = bytearray(path.read_bytes())
    data[start : start + 20] = b"\xff" * 20
    path.write_bytes(bytes(data))
    with Stubber(client) as stub:
        stub.add_response("put_record", {}, put_request(1))
        stub.add_response("put_record", {}, put_request(3))
        # when
        with read_records(path) as records:
            report = run(records, client, tmp_path)
    # then
    assert (report.read, report.written, report.input_lines, report.input_complete) == (
        3,
        2,
        3,
        True,
    )
    (line,) = reject_lines(tmp_path / "rejects.jsonl")
    assert (line["position"], line["kind"]) == (2, "malformed_input")
    assert line["reason"].startswith("row 2 is in row group 2, which cannot be read: ")


def test_a_record_with_a_lone_surrogate_is_written_to_the_reject_file_escaped(
    client: Any, tmp_path: Path
) -> None:
    # given a caller's record that UTF-8 cannot encode, with a bad value
    with Stubber(client):
        report = run([record(1, segment="\ud800", orders="x")], client, tmp_path)
    # then
    assert report.rejected == {"bad_value": 1}
    text = (tmp_path / "rejects.jsonl").read_text(encoding="utf-8")
    assert '"segment": "\\ud800"' in text
    assert json.loads(text)["record"]["segment"] == "\ud800"
