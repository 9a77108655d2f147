"""Hostile input, generated: every line is written or rejected, only valid records are written.

Each CSV / JSON Lines property builds a file from good records and hostile pieces of every class
(unterminated quotes, huge fields, over-long lines, deep nesting, huge numbers, bad UTF-8, BOMs,
overflowing times, repeated keys) and checks, with botocore's Stubber expecting exactly the good
records in order, that the run never raises, each hostile piece is one rejection at its line,
and the report accounts for every physical line and byte. Random-bytes properties check the
accounting alone, against an independent count of the file's lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.workloads.features.samples import CUSTOMERS, GROUP, runtime_client
from workloads.features.ingestion import IngestionReport, InputError, ingest, read_records
from workloads.features.limits import InputLimits
from workloads.features.validation import ValidRecord, validate_record

LIMITS = InputLimits(
    max_line_bytes=200,
    max_record_bytes=300,
    max_record_lines=5,
    max_field_bytes=40,
    max_json_depth=5,
    max_number_digits=30,
)
EPOCH = "1714564800"
STORED_TIME = "2024-05-01T12:00:00.000Z"
# A client per test, a Stubber per example: the client holds no state between examples.
PROPERTY = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@dataclass(frozen=True)
class Piece:
    """Lines of a generated file: a good record (``put`` is its PutRecord) or a hostile item."""

    data: bytes
    lines: int = 1
    put: list[dict[str, str]] | None = None
    hostile: bool = False
    blank: bool = False


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    return runtime_client(monkeypatch, tmp_path, max_workers=1)


def expected_put(record_id: str, orders: int | None) -> list[dict[str, str]]:
    put = [
        {"FeatureName": "customer_id", "ValueAsString": record_id},
        {"FeatureName": "updated_at", "ValueAsString": STORED_TIME},
    ]
    if orders is not None:
        put.append({"FeatureName": "orders", "ValueAsString": str(orders)})
    return put


def run_with_stub(client: Any, path: Path, pieces: list[Piece]) -> IngestionReport:
    """Ingest ``path`` with a Stubber expecting exactly the good pieces' records, in order."""
    with Stubber(client) as stub:
        for piece in pieces:
            if piece.put is not None:
                stub.add_response(
                    "put_record", {}, {"FeatureGroupName": GROUP, "Record": piece.put}
                )
        with read_records(path, LIMITS) as records:
            report = ingest(
                records,
                CUSTOMERS,
                group_name=GROUP,
                client=client,
                max_workers=1,
                reject_file=path.with_suffix(".rejects"),
                max_number_digits=LIMITS.max_number_digits,
            )
        stub.assert_no_pending_responses()
    return report


def assert_accounted(report: IngestionReport, path: Path, pieces: list[Piece], header: int) -> None:
    """Every good piece written, every hostile piece one rejection at its line, every line seen."""
    data = path.read_bytes()
    good = [piece for piece in pieces if piece.put is not None]
    hostile_lines = []
    line = header + 1
    for piece in pieces:
        if piece.hostile:
            hostile_lines.append(line)
        line += piece.lines
    assert report.written == len(good), report.to_dict()
    assert report.rejected_total == len(hostile_lines), report.to_dict()
    # refused by the reader or validation: none reached PutRecord or failed unexpectedly
    assert not [
        kind
        for kind in report.rejected
        if kind.startswith("service:") or kind in ("unexpected_error", "retries_exhausted")
    ]
    assert report.read == report.written + report.rejected_total
    rejects = reject_lines(path.with_suffix(".rejects"))
    assert [reject["position"] for reject in rejects] == hostile_lines
    assert report.input_lines == physical_lines(data)
    assert report.input_bytes == len(data)
    assert report.skipped_lines == header + sum(piece.blank for piece in pieces)
    assert report.input_complete is True
    assert report.stopped is None


def reject_lines(path: Path) -> list[dict[str, Any]]:
    # split("\n"), not splitlines(): a raw value may hold U+0085 or U+2028, which JSON keeps
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.split("\n") if line]


def physical_lines(data: bytes) -> int:
    """Lines as a text editor counts them: one per line feed, plus an unterminated last line."""
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


# ---- CSV -------------------------------------------------------------------------------------

_letters = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)


@st.composite
def csv_pieces(draw: st.DrawFn, number: int) -> Piece:
    kind = draw(
        st.sampled_from(
            [
                "good",
                "multiline_bad_value",
                "unterminated_quote",
                "huge_field",
                "long_line",
                "bad_utf8",
                "huge_number",
                "overflowing_time",
                "ragged",
                "text_after_quote",
                "blank",
                "random_bytes",
            ]
        )
    )
    record_id = f"c-{number}"
    if kind == "good":
        orders = draw(st.none() | st.integers(-(2**63), 2**63 - 1))
        text = f"{record_id},{EPOCH},{'' if orders is None else orders}\n"
        return Piece(text.encode(), put=expected_put(record_id, orders))
    if kind == "multiline_bad_value":
        # a quoted field with a line break: one record over two lines (an Integral cannot be
        # "1\n2"; a valid value with a line break fails the model's ValueAsString pattern '.*')
        return Piece(f'{record_id},{EPOCH},"1\n2"\n'.encode(), lines=2, hostile=True)
    if kind == "blank":
        return Piece(b"\n", blank=True)
    data = {
        # opens a quote never closed; a letter follows, so another piece's quote cannot close it
        "unterminated_quote": lambda: f'"{draw(_letters)},{EPOCH},1\n'.encode(),
        "huge_field": lambda: f"{record_id},{EPOCH},{'x' * draw(st.integers(41, 150))}\n".encode(),
        "long_line": lambda: b"y" * draw(st.integers(201, 5000)) + b"\n",
        "bad_utf8": lambda: (
            f"{record_id},{EPOCH},".encode()
            + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"]))
            + b"\n"
        ),
        "huge_number": lambda: f"{record_id},{EPOCH},{'7' * draw(st.integers(31, 39))}\n".encode(),
        "overflowing_time": lambda: f"{record_id},0001-01-01T00:00:00+01:00,1\n".encode(),
        "ragged": lambda: f"{record_id},{EPOCH},1,2\n".encode(),
        "text_after_quote": lambda: f'"{record_id}"x,{EPOCH},1\n'.encode(),
        # starts with a comma: an empty identifier, so never a valid record; no quote, no newline
        "random_bytes": lambda: (
            b"," + draw(st.binary(max_size=60)).replace(b'"', b"").replace(b"\n", b"") + b"\n"
        ),
    }[kind]()
    return Piece(data, hostile=True)


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, list[Piece]]:
    count = draw(st.integers(0, 14))
    pieces = [draw(csv_pieces(number)) for number in range(1, count + 1)]
    bom = draw(st.sampled_from([b"", b"\xef\xbb\xbf"]))
    body = b"".join(piece.data for piece in pieces)
    if draw(st.booleans()) and body.endswith(b"\n") and not pieces[-1].blank:
        body = body[:-1]  # no line feed after the last line
    return bom + b"customer_id,updated_at,orders\n" + body, pieces


@PROPERTY
@given(generated=csv_files())
def test_csv_every_line_is_written_or_rejected(
    client: Any, tmp_path: Path, generated: tuple[bytes, list[Piece]]
) -> None:
    # given
    data, pieces = generated
    path = tmp_path / "data.csv"
    path.write_bytes(data)
    # when
    report = run_with_stub(client, path, pieces)
    # then
    assert_accounted(report, path, pieces, header=1)


# ---- JSON Lines ------------------------------------------------------------------------------


@st.composite
def json_pieces(draw: st.DrawFn, number: int) -> Piece:
    kind = draw(
        st.sampled_from(
            [
                "good",
                "deep",
                "huge_number",
                "int64_overflow",
                "huge_string",
                "long_line",
                "bad_utf8",
                "repeated_key",
                "lone_surrogate",
                "nan",
                "overflowing_time",
                "not_an_object",
                "broken",
                "blank",
            ]
        )
    )
    record_id = f"c-{number}"
    base = {"customer_id": record_id, "updated_at": int(EPOCH)}
    if kind == "good":
        orders = draw(st.none() | st.integers(-(2**63), 2**63 - 1))
        text = json.dumps({**base, "orders": orders})
        return Piece(text.encode() + b"\n", put=expected_put(record_id, orders))
    if kind == "blank":
        return Piece(draw(st.sampled_from([b"\n", b"   \n", b"\r\n"])), blank=True)
    prefix = json.dumps(base)[:-1].encode()  # without the closing brace
    data = {
        "deep": lambda: (
            prefix
            + b', "orders": '
            + b"[" * (depth := draw(st.integers(5, 3000)))
            + b"]" * depth
            + b"}"
        ),
        "huge_number": lambda: prefix + b', "orders": ' + b"9" * draw(st.integers(31, 5000)) + b"}",
        "int64_overflow": lambda: prefix + b', "orders": ' + str(2**63).encode() + b"}",
        "huge_string": lambda: (
            prefix + b', "segment": "' + b"s" * draw(st.integers(41, 120)) + b'"}'
        ),
        "long_line": lambda: b'{"segment": "' + b"z" * draw(st.integers(200, 3000)) + b'"}',
        "bad_utf8": lambda: prefix + b', "segment": "\xff"}',
        "repeated_key": lambda: prefix + f', "customer_id": "{record_id}"}}'.encode(),
        "lone_surrogate": lambda: prefix + b', "segment": "\\udc00"}',
        "nan": lambda: prefix + b', "spend": NaN}',
        "overflowing_time": lambda: json.dumps(
            {**base, "updated_at": "0001-01-01T00:00:00+01:00"}
        ).encode(),
        "not_an_object": lambda: draw(st.sampled_from([b"[1, 2]", b'"text"', b"5", b"null"])),
        # "!" first: never JSON; no line feed inside
        "broken": lambda: b"!" + draw(st.binary(max_size=80)).replace(b"\n", b""),
    }[kind]()
    return Piece(data + b"\n", hostile=True)


@st.composite
def json_files(draw: st.DrawFn) -> tuple[bytes, list[Piece]]:
    count = draw(st.integers(0, 14))
    pieces = [draw(json_pieces(number)) for number in range(1, count + 1)]
    # (a BOM alone would be a line of its own)
    bom = draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) if pieces else b""
    return bom + b"".join(piece.data for piece in pieces), pieces


@PROPERTY
@given(generated=json_files())
def test_json_lines_every_line_is_written_or_rejected(
    client: Any, tmp_path: Path, generated: tuple[bytes, list[Piece]]
) -> None:
    data, pieces = generated
    path = tmp_path / "data.jsonl"
    path.write_bytes(data)
    report = run_with_stub(client, path, pieces)
    assert_accounted(report, path, pieces, header=0)


# ---- Parquet ---------------------------------------------------------------------------------

_parquet_rows = st.lists(
    st.tuples(
        st.sampled_from(["good", "huge_string", "nan", "inf", "overflowing_time"]),
        st.none() | st.integers(-(2**63), 2**63 - 1),
    ),
    max_size=12,
)


@PROPERTY
@given(rows=_parquet_rows)
def test_parquet_every_row_is_written_or_rejected(
    client: Any, tmp_path: Path, rows: list[tuple[str, int | None]]
) -> None:
    # given one row per kind; only the good ones are valid
    ids, times, orders, spends, pieces = [], [], [], [], []
    for number, (kind, order) in enumerate(rows, start=1):
        record_id = f"c-{number}" if kind != "huge_string" else "h" * 41
        ids.append(record_id)
        times.append(EPOCH if kind != "overflowing_time" else "0001-01-01T00:00:00+01:00")
        orders.append(order)
        spends.append({"nan": float("nan"), "inf": float("-inf")}.get(kind))
        put = expected_put(record_id, order) if kind == "good" else None
        pieces.append(Piece(b"", put=put, hostile=kind != "good"))
    path = tmp_path / "data.parquet"
    table = pa.table(
        {
            "customer_id": pa.array(ids, pa.string()),
            "updated_at": pa.array(times, pa.string()),
            "orders": pa.array(orders, pa.int64()),
            "spend": pa.array(spends, pa.float64()),
        }
    )
    pq.write_table(table, path)
    # when
    report = run_with_stub(client, path, pieces)
    # then
    assert report.written == sum(piece.put is not None for piece in pieces)
    assert report.rejected_total == sum(piece.hostile for piece in pieces)
    assert (report.input_lines, report.record_lines, report.input_complete) == (
        len(rows),
        len(rows),
        True,
    )
    rejects = reject_lines(path.with_suffix(".rejects"))
    assert [reject["position"] for reject in rejects] == [
        number for number, piece in enumerate(pieces, start=1) if piece.hostile
    ]


# ---- Random bytes ----------------------------------------------------------------------------

_hostile_bytes = st.lists(
    st.sampled_from(
        [
            b'"',
            b",",
            b"\n",
            b"\r\n",
            b"\r",
            b"c-1",
            b"1714564800",
            b"\xff",
            b"\xef\xbb\xbf",
            b"{",
            b"}",
            b"[",
            b"]",
            b":",
            b" ",
            b'"customer_id"',
            b"customer_id",
            b"updated_at",
            b"0001-01-01T00:00:00+01:00",
            b"9" * 40,
            b"\x00",
        ]
    )
    | st.binary(max_size=20),
    max_size=60,
).map(b"".join)


class RecordingClient:
    """PutRecord that keeps every record it is given (random input: the writes are not known)."""

    def __init__(self) -> None:
        self.records: list[list[dict[str, str]]] = []

    def put_record(self, **request: Any) -> dict[str, Any]:
        self.records.append(request["Record"])
        return {}


@settings(max_examples=150, deadline=None)
@given(data=_hostile_bytes, suffix=st.sampled_from([".csv", ".jsonl"]))
def test_random_bytes_never_escape_and_every_line_is_accounted(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, suffix: str
) -> None:
    # given
    folder = tmp_path_factory.mktemp("random")
    path = folder / f"data{suffix}"
    path.write_bytes(data)
    fake = RecordingClient()
    # when
    try:
        records = read_records(path, LIMITS)
    except InputError:
        # then a header that cannot be used stops the run before anything is written
        assert suffix == ".csv"
        return
    with records:
        report = ingest(
            records,
            CUSTOMERS,
            group_name=GROUP,
            client=fake,
            max_workers=1,
            reject_file=folder / "rejects.jsonl",
        )
    # then every line and byte is accounted for, and the writes are exactly the valid records
    assert report.read == report.written + report.rejected_total
    assert report.input_lines == physical_lines(data)
    assert report.input_bytes == len(data)
    assert report.input_lines == report.skipped_lines + report.record_lines
    rejects = reject_lines(folder / "rejects.jsonl")
    assert len(rejects) == report.rejected_total
    with read_records(path, LIMITS) as again:
        checked = [validate_record(item.values, CUSTOMERS) for item in again if item.values]
    assert fake.records == [check.record for check in checked if isinstance(check, ValidRecord)]


@settings(max_examples=100, deadline=None)
@given(data=st.tuples(st.sampled_from([b"", b"PAR1"]), st.binary(max_size=300), st.just(b"PAR1")))
def test_random_bytes_as_parquet_stop_before_any_record(
    tmp_path_factory: pytest.TempPathFactory, data: tuple[bytes, bytes, bytes]
) -> None:
    # given bytes that are not a Parquet file (with or without its magic number around them)
    path = tmp_path_factory.mktemp("random") / "data.parquet"
    path.write_bytes(b"".join(data))
    # when / then: refused at open, naming the file, or read without an exception escaping
    try:
        records = read_records(path, LIMITS)
    except InputError as error:
        assert str(path) in str(error)
        return
    with records:
        items = list(records)
    assert records.stats.lines == len(items)


@settings(max_examples=60, deadline=None)
@given(
    columns=st.lists(
        st.sampled_from(["customer_id", "updated_at", "orders", "spend", "segment"]),
        min_size=1,
        max_size=7,
    ),
    suffix=st.sampled_from([".csv", ".parquet"]),
)
def test_a_repeated_column_stops_the_run_before_any_write(
    tmp_path_factory: pytest.TempPathFactory, columns: list[str], suffix: str
) -> None:
    # given a header (or Parquet schema) that may name a column twice, and one good-looking row
    path = tmp_path_factory.mktemp("columns") / f"data{suffix}"
    values = {"customer_id": "c-1", "updated_at": EPOCH, "orders": "1", "spend": "1.5"}
    row = [values.get(name, "x") for name in columns]
    if suffix == ".csv":
        path.write_text(",".join(columns) + "\n" + ",".join(row) + "\n", encoding="utf-8")
    else:
        arrays = [pa.array([value]) for value in row]
        pq.write_table(pa.table(arrays, names=columns), path)
    repeated = next((name for name in columns if columns.count(name) > 1), None)
    # when
    try:
        records = read_records(path, LIMITS)
    except InputError as error:
        # then a repeated column is named by read_records itself: ingest never starts
        assert repeated is not None
        assert f"'{repeated}' is repeated" in str(error)
        return
    records.close()
    assert repeated is None
