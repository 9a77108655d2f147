"""Readers: every line accounted for, hostile input rejected line by line, bad headers stop early."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workloads.features.limits import InputLimits
from workloads.features.sources import (
    MALFORMED,
    OVER_LIMIT,
    InputError,
    SourceRecord,
    read_records,
)

HEADER = "customer_id,updated_at,orders\n"


def write(path: Path, data: str | bytes) -> Path:
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def rejected(items: list[SourceRecord]) -> list[tuple[int, str, str | None]]:
    return [(item.position, item.kind, item.problem) for item in items if item.values is None]


def ids(items: list[SourceRecord]) -> list[object]:
    return [item.values["customer_id"] for item in items if item.values is not None]


def test_an_unterminated_quote_costs_its_own_line_not_the_rest_of_the_file(
    tmp_path: Path,
) -> None:
    # given nine records, the third with a quote that is never closed
    rows = [f"c-{number},1714564800,{number}\n" for number in range(1, 10)]
    rows[2] = '"c-3,1714564800,3\n'
    path = write(tmp_path / "data.csv", HEADER + "".join(rows))
    # when
    with read_records(path) as source:
        items = list(source)
    # then nine items: the broken line rejected, the eight after and before it read as records
    assert len(items) == 9
    assert rejected(items) == [
        (
            4,
            MALFORMED,
            "line 4: a quoted field opened here is not closed (given up at line 10: a quoted "
            "field is not closed before the end of the file)",
        )
    ]
    assert items[2].raw == '"c-3,1714564800,3'
    assert ids(items) == [f"c-{number}" for number in (1, 2, 4, 5, 6, 7, 8, 9)]
    stats = source.stats
    assert (stats.lines, stats.skipped_lines, stats.record_lines, stats.complete) == (
        10,
        1,
        9,
        True,
    )
    assert stats.bytes == path.stat().st_size


def test_a_quote_left_open_is_given_up_after_max_record_lines(tmp_path: Path) -> None:
    # given a quote left open and more lines after it than a record may span
    body = '"c-0,1\n' + "".join(f"c-{number},1\n" for number in range(1, 6))
    path = write(tmp_path / "data.csv", "customer_id,updated_at\n" + body)
    # when
    items = list(read_records(path, InputLimits(max_record_lines=3)))
    # then
    assert rejected(items) == [
        (
            2,
            OVER_LIMIT,
            "line 2: a quoted field opened here is not closed (given up at line 5: a quoted "
            "field is still open after max_record_lines (3) lines)",
        )
    ]
    assert ids(items) == ["c-1", "c-2", "c-3", "c-4", "c-5"]


def test_a_quoted_field_may_span_lines_within_the_bound(tmp_path: Path) -> None:
    path = write(tmp_path / "data.csv", 'customer_id,updated_at\n"c-\n1\n",1\nc-2,1\n')
    items = list(read_records(path, InputLimits(max_record_lines=3)))
    assert items == [
        SourceRecord(2, {"customer_id": "c-\n1\n", "updated_at": "1"}, lines=3),
        SourceRecord(5, {"customer_id": "c-2", "updated_at": "1"}),
    ]


def test_text_after_a_closing_quote_is_rejected_not_glued_on(tmp_path: Path) -> None:
    path = write(tmp_path / "data.csv", 'customer_id,updated_at\n"c-1"x,1\nc-2,1\n')
    items = list(read_records(path))
    assert rejected(items) == [(2, MALFORMED, "line 2: not valid CSV: ',' expected after '\"'")]
    assert ids(items) == ["c-2"]


def test_a_field_over_the_csv_modules_128_kib_limit_is_read(tmp_path: Path) -> None:
    # given a 200 KB value (the csv module's own limit is 131072 characters)
    path = write(tmp_path / "data.csv", f"customer_id,segment\nc-1,{'x' * 200_000}\nc-2,y\n")
    module_limit = csv.field_size_limit()
    # when
    items = list(read_records(path))
    # then it is read, and the csv module's process-wide limit is as it was (the drift monitor's
    # reader, in the same process, relies on it)
    assert [len(str(item.values["segment"])) for item in items if item.values] == [200_000, 1]
    assert csv.field_size_limit() == module_limit


def test_a_field_over_max_field_bytes_is_rejected_naming_the_bound(tmp_path: Path) -> None:
    path = write(tmp_path / "data.csv", f"customer_id,segment\nc-1,{'é' * 30}\nc-2,y\n")
    items = list(read_records(path, InputLimits(max_field_bytes=50)))
    assert rejected(items) == [
        (2, OVER_LIMIT, "line 2: field 'segment' is larger than max_field_bytes (50 bytes)")
    ]
    assert ids(items) == ["c-2"]


def test_an_over_long_line_is_skipped_in_chunks_and_rejected(tmp_path: Path) -> None:
    # given a 3 MB line between two records
    path = write(tmp_path / "data.csv", f"customer_id,segment\nc-1,a\nc-2,{'x' * 3_000_000}\nc-3,b")
    # when
    with read_records(path, InputLimits(max_line_bytes=1000)) as source:
        items = list(source)
    # then the line is rejected with the start of its text; the last line (no newline) is read
    assert rejected(items) == [(3, OVER_LIMIT, "line 3 is longer than max_line_bytes (1000 bytes)")]
    assert items[1].raw is not None and items[1].raw.endswith(" ...")
    assert len(items[1].raw) < 1100
    assert ids(items) == ["c-1", "c-3"]
    assert (source.stats.lines, source.stats.bytes) == (4, path.stat().st_size)


def test_a_line_at_exactly_max_line_bytes_is_read(tmp_path: Path) -> None:
    # given 11-byte lines with "\r\n" and "\n" endings, and a 12-byte one
    path = write(tmp_path / "data.csv", "customer_id\r\nc-123456789\r\nc-234567890\nc-3456789012\n")
    items = list(read_records(path, InputLimits(max_line_bytes=12)))
    assert ids(items) == ["c-123456789", "c-234567890", "c-3456789012"]
    items = list(read_records(path, InputLimits(max_line_bytes=11)))
    assert rejected(items) == [(4, OVER_LIMIT, "line 4 is longer than max_line_bytes (11 bytes)")]


def test_invalid_utf8_rejects_that_line_with_its_number(tmp_path: Path) -> None:
    path = write(tmp_path / "data.csv", b"customer_id,segment\nc-1,a\nc-2,\xffb\nc-3,c\n")
    items = list(read_records(path))
    assert rejected(items) == [(3, MALFORMED, "line 3 is not valid UTF-8 (byte 0xff at byte 5)")]
    assert items[1].raw == "c-2,\ufffdb"
    assert ids(items) == ["c-1", "c-3"]


def test_a_byte_order_mark_is_stripped(tmp_path: Path) -> None:
    path = write(tmp_path / "data.csv", b"\xef\xbb\xbfcustomer_id,segment\nc-1,a\n")
    with read_records(path) as source:
        items = list(source)
    assert items == [SourceRecord(2, {"customer_id": "c-1", "segment": "a"})]
    assert source.stats.bytes == path.stat().st_size


def test_a_repeated_header_column_stops_before_any_record_naming_it(tmp_path: Path) -> None:
    path = write(tmp_path / "data.csv", "customer_id,segment,orders,segment\nc-1,a,1,b\n")
    with pytest.raises(InputError) as raised:
        read_records(path)
    assert str(raised.value) == f"{path}: header column 'segment' is repeated (columns 2, 4)"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"customer_id,,orders\n", "header column 2 has no name"),
        (
            b"customer_id,\xff\n",
            "cannot read the header: line 1 is not valid UTF-8 (byte 0xff at byte 13)",
        ),
        (
            b'"customer_id\nc-1\n',
            "cannot read the header: line 1: a quoted field opened here is not closed (given up at line 2: a quoted field is not closed before the end of the file)",
        ),
        (
            b"x" * 50 + b"\n",
            "cannot read the header: line 1 is longer than max_line_bytes (20 bytes)",
        ),
    ],
)
def test_an_unreadable_header_stops_before_any_record(
    tmp_path: Path, data: bytes, message: str
) -> None:
    path = write(tmp_path / "data.csv", data)
    with pytest.raises(InputError) as raised:
        read_records(path, InputLimits(max_line_bytes=20))
    assert str(raised.value) == f"{path}: {message}"


def test_blank_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    path = write(tmp_path / "data.csv", "\ncustomer_id\n\nc-1\n\n")
    with read_records(path) as source:
        items = list(source)
    assert items == [SourceRecord(4, {"customer_id": "c-1"})]
    assert (source.stats.lines, source.stats.skipped_lines, source.stats.record_lines) == (5, 4, 1)


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"cannot read '.*nope\.csv': No such file or directory"):
        read_records(tmp_path / "nope.csv")


def test_json_lines_past_each_bound_are_rejected_naming_it(tmp_path: Path) -> None:
    # given a good line, then one per bound, a repeated key and bad UTF-8
    lines = [
        b'{"customer_id": "c-1"}',
        b'{"orders": ' + b"[" * 3000 + b"]" * 3000 + b"}",
        b'{"orders": ' + b"9" * 5000 + b"}",
        b'{"orders": 1.' + b"5" * 40 + b"}",
        b'{"segment": "' + b"x" * 60 + b'"}',
        b'{"customer_id": "c-2", "customer_id": "c-3"}',
        b'{"customer_id": "\xff"}',
        b'{"customer_id": "' + b"x" * 20000 + b'"}',
        b'{"customer_id": "c-4"}',
    ]
    path = write(tmp_path / "data.jsonl", b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n")
    limits = InputLimits(
        max_json_depth=5, max_number_digits=30, max_field_bytes=50, max_line_bytes=10000
    )
    # when
    with read_records(path, limits) as source:
        items = list(source)
    # then
    assert rejected(items) == [
        (2, OVER_LIMIT, "line 2 nests arrays/objects deeper than max_json_depth (5)"),
        (
            3,
            OVER_LIMIT,
            "line 3: a number has 5000 digits, more than max_number_digits (30)",
        ),
        (4, OVER_LIMIT, "line 4: a number has 41 digits, more than max_number_digits (30)"),
        (5, OVER_LIMIT, "line 5: field 'segment' is larger than max_field_bytes (50 bytes)"),
        (6, MALFORMED, "line 6: key 'customer_id' is repeated"),
        (7, MALFORMED, "line 7 is not valid UTF-8 (byte 0xff at byte 18)"),
        (8, OVER_LIMIT, "line 8 is longer than max_line_bytes (10000 bytes)"),
    ]
    assert ids(items) == ["c-1", "c-4"]
    assert (source.stats.lines, source.stats.bytes) == (9, path.stat().st_size)


def test_brackets_inside_json_strings_do_not_count_as_nesting(tmp_path: Path) -> None:
    path = write(tmp_path / "data.jsonl", json.dumps({"segment": "[[[[[[{{{{{{"}) + "\n")
    items = list(read_records(path, InputLimits(max_json_depth=2)))
    assert items == [SourceRecord(1, {"segment": "[[[[[[{{{{{{"})]


def test_parquet_values_past_a_bound_and_unreadable_rows_are_rejected(tmp_path: Path) -> None:
    # given a long string and a timestamp past year 9999 (Python cannot hold it)
    path = tmp_path / "data.parquet"
    table = pa.table(
        {
            "customer_id": ["c-1", "x" * 100, "c-3"],
            "updated_at": pa.array([0, 0, 2**62], type=pa.timestamp("us", tz="UTC")),
        }
    )
    pq.write_table(table, path)
    # when
    with read_records(path, InputLimits(max_field_bytes=50)) as source:
        items = list(source)
    # then
    assert rejected(items) == [
        (2, OVER_LIMIT, "row 2: field 'customer_id' is larger than max_field_bytes (50 bytes)"),
        (3, MALFORMED, "row 3 cannot be read: OverflowError: date value out of range"),
    ]
    assert ids(items) == ["c-1"]
    assert (source.stats.lines, source.stats.bytes, source.stats.complete) == (3, None, True)


def test_a_file_that_is_not_parquet_stops_before_any_record(tmp_path: Path) -> None:
    path = write(tmp_path / "data.parquet", "customer_id\nc-1\n")
    with pytest.raises(InputError, match=rf"^'{path}' is not a Parquet file: "):
        read_records(path)


def test_a_repeated_parquet_column_stops_before_any_record(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table([pa.array(["c-1"]), pa.array(["c-2"])], names=["id", "id"]), path)
    with pytest.raises(InputError) as raised:
        read_records(path)
    assert str(raised.value) == f"{path}: column 'id' is repeated in the Parquet schema"


def test_limits_must_be_positive_whole_numbers() -> None:
    with pytest.raises(
        ValueError, match=r"^max_json_depth must be a whole number of at least 1, not 0$"
    ):
        InputLimits(max_json_depth=0)


@pytest.mark.parametrize(
    ("name", "before", "after", "quote"),
    [
        ("data.csv", b"customer_id,segment\nc-1,", b"\nc-2,b\n", False),
        (
            "data.jsonl",
            b'{"customer_id": "c-1", "segment": "',
            b'"}\n{"customer_id": "c-2"}\n',
            False,
        ),
        # an unterminated quote followed by many short lines: bounded by max_record_bytes
        ("data.csv", b'customer_id,segment\n"c-1,', b"\nc-2,b\n", True),
    ],
)
def test_memory_stays_bounded_whatever_the_line_length(
    tmp_path: Path, name: str, before: bytes, after: bytes, quote: bool
) -> None:
    # given 20 MB in one line (or, for the quote, in 2 KB lines after it)
    import tracemalloc

    path = tmp_path / name
    filler = b"y" * 20_000_000 if not quote else (b"y" * 1_999 + b"\n") * 10_000
    path.write_bytes(before + filler + after)
    limits = InputLimits(max_line_bytes=65_536, max_record_bytes=65_536, max_record_lines=10_000)
    # when
    tracemalloc.start()
    try:
        with read_records(path, limits) as source:
            first = next(source)
            rest = sum(1 for _ in source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # then the file was read through and never held: peak well under a megabyte
    assert (first.kind, first.values) == (OVER_LIMIT, None)
    # (the quote's line is rejected, the 9999 other lines re-read, the blank line skipped)
    assert rest == (10_000 if quote else 1)
    assert source.stats.bytes == path.stat().st_size
    assert peak < 1_000_000, peak


def test_an_unforeseen_failure_on_one_item_rejects_that_item_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a bug that fails the reader on the second line only
    from workloads.features import sources

    real = sources._json_item

    def flaky(line: Any, text: str, limits: InputLimits) -> SourceRecord:
        if line.number == 2:
            raise RecursionError("too deep somewhere")
        return real(line, text, limits)

    monkeypatch.setattr(sources, "_json_item", flaky)
    path = write(
        tmp_path / "data.jsonl", '{"customer_id": "c-1"}\n{"x": 1}\n{"customer_id": "c-3"}\n'
    )
    # when
    items = list(read_records(path))
    # then
    assert rejected(items) == [
        (2, MALFORMED, "cannot read item 2: RecursionError: too deep somewhere")
    ]
    assert items[1].raw == '{"x": 1}'
    assert ids(items) == ["c-1", "c-3"]


def test_a_json_lone_surrogate_is_rejected_as_not_text(tmp_path: Path) -> None:
    path = write(
        tmp_path / "data.jsonl", '{"customer_id": "c-1\\ud800"}\n{"customer_id": "c-\\u00e9"}\n'
    )
    items = list(read_records(path))
    assert rejected(items) == [
        (1, MALFORMED, "line 1 holds a lone surrogate escape (e.g. \\ud800): not text")
    ]
    assert ids(items) == ["c-\u00e9"]
