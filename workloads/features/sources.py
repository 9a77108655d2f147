"""Streaming, bounded readers of ingestion input: CSV, JSON Lines and Parquet.

Each reader turns every physical line (Parquet: every row) into exactly one of: part of a record
(:class:`SourceRecord` with values), a rejected item (:class:`SourceRecord` with a ``problem``),
or a skipped line (the CSV header, a blank line). Lines are split from the raw bytes by this
module, not by the csv or json modules, and read in bounded chunks, so a parser quirk cannot hide
a line and no line is held in memory whole past ``max_line_bytes``
(:class:`~workloads.features.limits.InputLimits`). :class:`SourceStats` counts what was consumed;
at the end of the file the reader checks its count against the lines it split.

What stops a run before any record is read (:class:`InputError`): an unknown file type, a file
that cannot be opened, a CSV header that cannot be read or repeats a column, a file that is not
Parquet or whose schema repeats a column. Everything else is per record.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from workloads.closing import Closeable
from workloads.features.limits import DEFAULT_LIMITS, InputLimits

#: The reject kind of an input item that is not a record (bad JSON, ragged CSV row, bad UTF-8).
MALFORMED = "malformed_input"
#: The reject kind of an input item past one of the :class:`InputLimits` bounds.
OVER_LIMIT = "over_limit"

_BOM = b"\xef\xbb\xbf"
# How much of an over-long or over-large item the reject file shows.
_RAW_PREFIX = 1024
# Chunk size when skipping the rest of an over-long line.
_DRAIN_CHUNK = 65_536
_PARQUET_BATCH_ROWS = 1024
# A JSON string (unrolled-loop form: linear time), removed before counting brackets.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


class InputError(ValueError):
    """The input cannot be read at all (or no longer): the run stops; the message says where."""


@dataclass(frozen=True)
class SourceRecord:
    """One item of an input file: its position and its values, or why it is not a record."""

    position: int
    """1-based: the line a record starts on for CSV (the header is line 1) and JSON Lines, the
    row number for Parquet."""
    values: Mapping[str, object] | None
    """The record as read; None when the item is rejected by the reader."""
    problem: str | None = None
    """Why the item is not a record (set exactly when ``values`` is None)."""
    raw: str | None = None
    """The item's text (at most its first 1024 characters when it is over a bound), kept for a
    rejected item so the reject file shows it."""
    lines: int = 1
    """Physical lines (Parquet: rows) the item takes in the file."""
    kind: str | None = None
    """The reject kind, set exactly when ``problem`` is: ``malformed_input`` (the default) or
    ``over_limit``."""

    def __post_init__(self) -> None:
        if self.problem is not None and self.kind is None:
            object.__setattr__(self, "kind", MALFORMED)


@dataclass
class SourceStats:
    """What a reader has consumed so far; ``lines == skipped_lines + record_lines``."""

    path: str
    """The input file."""
    lines: int = 0
    """Physical lines consumed (Parquet: rows), every one part of an item or skipped."""
    bytes: int | None = 0
    """Bytes consumed (None for Parquet, which is not read line by line)."""
    skipped_lines: int = 0
    """Lines that hold no record: the CSV header, blank lines."""
    record_lines: int = 0
    """Lines that belong to the items yielded (records and rejected items)."""
    complete: bool = False
    """True once the whole file was read."""


class RecordSource(Closeable):
    """The items of one input file, read lazily (an iterator; iterate once).

    ``stats`` follows the reading. Use it as a context manager (or call :meth:`close`) to
    release the file when not reading to the end.
    """

    def __init__(
        self, items: Iterator[SourceRecord], stats: SourceStats, resource: Any = None
    ) -> None:
        self._items = items
        self._resource = resource  # the open file, closed here even if reading never started
        self.stats = stats

    def __iter__(self) -> RecordSource:
        return self

    def __next__(self) -> SourceRecord:
        return next(self._items)

    def close(self) -> None:
        """Stop reading and close the file."""
        close = getattr(self._items, "close", None)
        if close is not None:
            close()
        if self._resource is not None:
            self._resource.close()


def read_records(path: str | Path, limits: InputLimits = DEFAULT_LIMITS) -> RecordSource:
    """Stream the records of a ``.csv``, ``.jsonl``/``.ndjson`` or ``.parquet`` file.

    CSV: a header row, then one record per row; values are strings and ``""`` means missing; a
    row with more fields than the header is rejected; a quoted field may span lines (up to
    ``limits.max_record_lines``); a quote that is never closed rejects its first line and
    reading resumes on the next. JSON Lines: one object per line, blank lines skipped; a line
    that is not a JSON object, or repeats a key, is rejected. Parquet: read batch by batch with
    pyarrow. A UTF-8 byte order mark is ignored; a line that is not UTF-8 is rejected. The
    header (CSV) and schema (Parquet) are read here, so :class:`InputError` for them is raised
    before any record is read.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return _open_csv(path, limits)
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _open_json_lines(path, limits)
    if suffix in (".parquet", ".pq"):
        return _open_parquet(path, limits)
    raise InputError(f"cannot read '{path}': expected a .csv, .jsonl/.ndjson or .parquet file")


@dataclass(frozen=True, slots=True)
class _Line:
    """One physical line: its bytes with its ending (the first bytes only when too long)."""

    number: int
    data: bytes
    size: int
    """Bytes the line takes in the file, ending (and a leading BOM) included."""
    too_long: bool = False


def _physical_lines(handle: IO[bytes], max_line_bytes: int) -> Iterator[_Line]:
    """Split ``handle`` at line feeds, reading at most ``max_line_bytes + 2`` bytes at a time."""
    number = 0
    while True:
        chunk = handle.readline(max_line_bytes + 2)  # room for "\r\n" after a full line
        if not chunk:
            return
        number += 1
        data = chunk[len(_BOM) :] if number == 1 and chunk.startswith(_BOM) else chunk
        if chunk.endswith(b"\n") or len(chunk) < max_line_bytes + 2:
            if len(_without_ending(data)) <= max_line_bytes:
                yield _Line(number, data, len(chunk))
            else:
                yield _Line(number, data[:_RAW_PREFIX], len(chunk), too_long=True)
            continue
        size = len(chunk)
        while True:  # skip the rest of the line, never holding it
            more = handle.readline(_DRAIN_CHUNK)
            size += len(more)
            if not more or more.endswith(b"\n"):
                break
        yield _Line(number, data[:_RAW_PREFIX], size, too_long=True)


def _guarded(
    build: Callable[..., SourceRecord], position: int, raw: str | None, *args: Any
) -> SourceRecord:
    """``build(*args)``, or a rejection of that one item if it fails in a way no rule foresaw."""
    try:
        return build(*args)
    except Exception as error:
        problem = f"cannot read item {position}: {type(error).__name__}: {error}"
        return SourceRecord(position, None, problem, raw=raw)


def _without_ending(data: bytes) -> bytes:
    if data.endswith(b"\n"):
        data = data[:-1]
        if data.endswith(b"\r"):
            data = data[:-1]
    return data


class _BadLine(Exception):
    """A line that cannot be part of a record (too long, not UTF-8)."""

    def __init__(self, kind: str, problem: str) -> None:
        super().__init__(problem)
        self.kind = kind
        self.problem = problem


def _decode(line: _Line, limits: InputLimits) -> str:
    if line.too_long:
        raise _BadLine(
            OVER_LIMIT,
            f"line {line.number} is longer than max_line_bytes ({limits.max_line_bytes} bytes)",
        )
    try:
        return line.data.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = line.data[error.start]
        raise _BadLine(
            MALFORMED,
            f"line {line.number} is not valid UTF-8 (byte 0x{bad:02x} at byte {error.start + 1})",
        ) from None


def _raw(line: _Line) -> str:
    text = _without_ending(line.data).decode("utf-8", errors="replace")
    return text + " ..." if line.too_long else text


class _LineFeed:
    """Physical lines with push-back (lines re-read after an unterminated quote is given up)."""

    def __init__(self, lines: Iterator[_Line]) -> None:
        self._lines = lines
        self._back: deque[_Line] = deque()
        self.split_lines = 0
        self.split_bytes = 0

    def pull(self) -> _Line | None:
        if self._back:
            return self._back.popleft()
        line = next(self._lines, None)
        if line is not None:
            self.split_lines += 1
            self.split_bytes += line.size
        return line

    def push_back(self, lines: list[_Line]) -> None:
        self._back.extendleft(reversed(lines))


def _account(stats: SourceStats, lines: list[_Line], *, skipped: bool) -> None:
    stats.lines += len(lines)
    stats.bytes = (stats.bytes or 0) + sum(line.size for line in lines)
    if skipped:
        stats.skipped_lines += len(lines)
    else:
        stats.record_lines += len(lines)


def _finish(stats: SourceStats, feed: _LineFeed) -> None:
    # The independent count: the lines and bytes split from the file must all be accounted for.
    if (stats.lines, stats.bytes) != (feed.split_lines, feed.split_bytes):
        raise InputError(
            f"{stats.path}: {feed.split_lines} lines ({feed.split_bytes} bytes) read but "
            f"{stats.lines} lines ({stats.bytes} bytes) accounted for"
        )
    stats.complete = True


def _open_binary(path: str | Path) -> IO[bytes]:
    try:
        return open(path, "rb")
    except OSError as error:
        raise InputError(f"cannot read '{path}': {error.strerror or error}") from None


# ---- CSV -----------------------------------------------------------------------------------


class _Unterminated(Exception):
    """The file ended inside a quoted field."""


@dataclass
class _CsvRecord:
    lines: list[_Line]
    row: list[str] | None = None
    kind: str = MALFORMED
    problem: str | None = None
    texts: list[str] = field(default_factory=list)


@contextmanager
def _csv_field_limit(limit: int) -> Iterator[None]:
    """The csv module's field limit lifted to ``limit`` while one record is parsed.

    The csv module refuses fields over its own limit (131072 characters by default: "field
    larger than field limit", e.g. TabViewer/tabview#150). This reader bounds records (so
    fields) itself and checks max_field_bytes after parsing, so it lifts that limit to the
    record bound; but the limit is process-wide and other readers in the process (the drift
    monitor's) rely on it, so it is put back after each parse.
    """
    previous = csv.field_size_limit(max(limit, csv.field_size_limit()))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _next_csv_record(feed: _LineFeed, limits: InputLimits) -> _CsvRecord | None:
    """The next record's lines and fields, or why its first line is rejected; None at the end.

    The csv module reads only as many lines as the record needs (it asks for another line only
    inside a quoted field), so the lines it pulled are exactly the record's. Past a bound, or
    at the end of the file inside a quote, only the first line is rejected; the others are
    pushed back to be read again as records of their own.
    """
    record = _CsvRecord(lines=[])
    size = 0

    def span() -> Iterator[str]:
        nonlocal size
        while True:
            line = feed.pull()
            if line is None:
                if record.lines:
                    raise _Unterminated
                return
            record.lines.append(line)
            text = _decode(line, limits)
            size += line.size
            if len(record.lines) > limits.max_record_lines:
                raise _BadLine(
                    OVER_LIMIT,
                    f"a quoted field is still open after max_record_lines "
                    f"({limits.max_record_lines}) lines",
                )
            if size > limits.max_record_bytes:
                raise _BadLine(
                    OVER_LIMIT,
                    f"the record is larger than max_record_bytes ({limits.max_record_bytes} bytes)",
                )
            record.texts.append(text)
            yield text

    # strict: '"a"b' is an error rather than silently read as 'ab'.
    reader = csv.reader(span(), strict=True)
    try:
        with _csv_field_limit(limits.max_record_bytes):
            row = next(reader, None)
    except _BadLine as bad:
        record.kind, record.problem = bad.kind, bad.problem
    except _Unterminated:
        record.problem = "a quoted field is not closed before the end of the file"
    except csv.Error as error:
        record.problem = f"not valid CSV: {error}"
    except Exception as error:  # a csv module failure we do not know: reject, never stop
        record.problem = f"cannot parse as CSV: {type(error).__name__}: {error}"
    else:
        if row is None:
            return None
        record.row = row
        return record
    first = record.lines[0]
    if len(record.lines) > 1:
        # Give up the quoted field: reject its first line, read the rest again.
        feed.push_back(record.lines[1:])
        record.problem = (
            f"line {first.number}: a quoted field opened here is not closed "
            f"(given up at line {record.lines[-1].number}: {record.problem})"
        )
        record.lines = [first]
    elif not record.problem.startswith("line "):
        record.problem = f"line {first.number}: {record.problem}"
    return record


def _open_csv(path: str | Path, limits: InputLimits) -> RecordSource:
    handle = _open_binary(path)
    try:
        stats = SourceStats(str(path))
        feed = _LineFeed(_physical_lines(handle, limits.max_line_bytes))
        header = _csv_header(path, feed, stats, limits)
    except BaseException:
        handle.close()
        raise
    return RecordSource(_csv_items(handle, feed, header, stats, limits), stats, handle)


def _csv_header(
    path: str | Path, feed: _LineFeed, stats: SourceStats, limits: InputLimits
) -> list[str] | None:
    while True:
        record = _next_csv_record(feed, limits)
        if record is None:
            return None  # an empty file: no records
        if record.row is None:
            raise InputError(f"{path}: cannot read the header: {record.problem}")
        _account(stats, record.lines, skipped=True)
        if record.row:
            break  # blank lines before the header are skipped
    header = record.row
    for number, name in enumerate(header, start=1):
        if not name.strip():
            raise InputError(f"{path}: header column {number} has no name")
    repeated = [name for name, count in Counter(header).items() if count > 1]
    if repeated:
        columns = [str(number) for number, name in enumerate(header, 1) if name == repeated[0]]
        raise InputError(
            f"{path}: header column '{repeated[0]}' is repeated (columns {', '.join(columns)})"
        )
    return header


def _csv_items(
    handle: IO[bytes],
    feed: _LineFeed,
    header: list[str] | None,
    stats: SourceStats,
    limits: InputLimits,
) -> Iterator[SourceRecord]:
    with handle:
        if header is not None:
            while (record := _next_csv_record(feed, limits)) is not None:
                if record.row == []:  # a blank line is no record
                    _account(stats, record.lines, skipped=True)
                    continue
                _account(stats, record.lines, skipped=False)
                first = record.lines[0]
                yield _guarded(_csv_item, first.number, _raw(first), header, record, limits)
        _finish(stats, feed)


def _csv_item(header: list[str], record: _CsvRecord, limits: InputLimits) -> SourceRecord:
    first = record.lines[0]
    count = len(record.lines)
    if record.row is None:
        raw = _raw(first)
        if record.kind == OVER_LIMIT and len(raw) > _RAW_PREFIX:
            raw = raw[:_RAW_PREFIX] + " ..."
        return SourceRecord(first.number, None, record.problem, raw=raw, kind=record.kind)
    text = "".join(record.texts)
    raw = text[:-1] if text.endswith("\n") else text
    raw = raw[:-1] if raw.endswith("\r") else raw
    row = record.row
    if len(row) > len(header):
        problem = f"row has {len(row)} fields but the header has {len(header)}"
        return SourceRecord(first.number, None, problem, raw=raw, lines=count)
    for name, value in zip(header, row, strict=False):
        if _larger_than(value, limits.max_field_bytes):
            problem = (
                f"line {first.number}: field '{name}' is larger than max_field_bytes "
                f"({limits.max_field_bytes} bytes)"
            )
            return SourceRecord(
                first.number, None, problem, raw=raw[:_RAW_PREFIX], lines=count, kind=OVER_LIMIT
            )
    # A short row's trailing fields are missing, as an empty cell would be.
    padded = row + [""] * (len(header) - len(row))
    return SourceRecord(first.number, dict(zip(header, padded, strict=True)), lines=count)


def _utf8_size(text: str) -> int:
    # surrogatepass: a JSON string may hold a lone surrogate ("\ud800"), which strict UTF-8 refuses.
    return len(text.encode("utf-8", "surrogatepass"))


def _larger_than(text: str, limit: int) -> bool:
    """True when ``text`` takes more than ``limit`` bytes in UTF-8 (1 to 4 bytes a character)."""
    return len(text) > limit or (len(text) * 4 > limit and _utf8_size(text) > limit)


# ---- JSON Lines ----------------------------------------------------------------------------


class _JsonBound(Exception):
    """A JSON line past a bound (raised from the parser's hooks)."""


class _RepeatedKey(Exception):
    """A JSON object naming a key twice (json keeps the last value silently)."""


def _open_json_lines(path: str | Path, limits: InputLimits) -> RecordSource:
    handle = _open_binary(path)
    stats = SourceStats(str(path))
    return RecordSource(_json_items(handle, stats, limits), stats, handle)


def _json_items(
    handle: IO[bytes], stats: SourceStats, limits: InputLimits
) -> Iterator[SourceRecord]:
    with handle:
        feed = _LineFeed(_physical_lines(handle, limits.max_line_bytes))
        while (line := feed.pull()) is not None:
            try:
                text = _decode(line, limits).rstrip("\r\n")
            except _BadLine as bad:
                _account(stats, [line], skipped=False)
                yield SourceRecord(line.number, None, bad.problem, raw=_raw(line), kind=bad.kind)
                continue
            if not text.strip():
                _account(stats, [line], skipped=True)
                continue
            _account(stats, [line], skipped=False)
            yield _guarded(_json_item, line.number, text, line, text, limits)
        _finish(stats, feed)


def _json_item(line: _Line, text: str, limits: InputLimits) -> SourceRecord:
    number = line.number

    def rejected(problem: str, kind: str = MALFORMED) -> SourceRecord:
        raw = text if kind == MALFORMED else text[:_RAW_PREFIX] + " ..."
        return SourceRecord(number, None, problem, raw=raw, kind=kind)

    if line.size > limits.max_record_bytes:
        return rejected(
            f"line {number} is larger than max_record_bytes ({limits.max_record_bytes} bytes)",
            OVER_LIMIT,
        )
    if _json_too_deep(text, limits.max_json_depth):
        return rejected(
            f"line {number} nests arrays/objects deeper than max_json_depth "
            f"({limits.max_json_depth})",
            OVER_LIMIT,
        )
    # The hooks bound numbers before int() sees them: json raises a bare ValueError, not
    # JSONDecodeError, past Python's 4300-digit limit (docs.python.org/3/library/stdtypes.html
    # #int-max-str-digits; Liquid4All/ifstruct#3), and int() of long text is quadratic.
    try:
        value = json.loads(
            text,
            parse_int=lambda digits: int(_bounded_number(digits, limits)),
            parse_float=lambda digits: float(_bounded_number(digits, limits)),
            object_pairs_hook=_unique_keys,
        )
    except _JsonBound as bound:
        return rejected(f"line {number}: {bound}", OVER_LIMIT)
    except _RepeatedKey as repeated:
        return rejected(f"line {number}: {repeated}")
    except json.JSONDecodeError as error:
        return rejected(f"not valid JSON: {error}")
    except Exception as error:  # RecursionError and the like: this line only
        return rejected(f"not valid JSON: {type(error).__name__}: {error}")
    if not isinstance(value, dict):
        return rejected(f"a {type(value).__name__}, not a JSON object")
    if "\\u" in text and not _encodable(value):
        return rejected(f"line {number} holds a lone surrogate escape (e.g. \\ud800): not text")
    for name, item in value.items():
        if isinstance(item, str) and _larger_than(item, limits.max_field_bytes):
            return rejected(
                f"line {number}: field '{name}' is larger than max_field_bytes "
                f"({limits.max_field_bytes} bytes)",
                OVER_LIMIT,
            )
    return SourceRecord(number, value)


def _encodable(value: dict[str, Any]) -> bool:
    """True unless a key or text value holds a lone surrogate, which UTF-8 cannot encode."""
    try:
        for name, item in value.items():
            name.encode("utf-8")
            if isinstance(item, str):
                item.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_too_deep(text: str, max_depth: int) -> bool:
    if text.count("[") + text.count("{") <= max_depth:
        return False  # cannot nest deeper than it has brackets
    depth = 0
    for bracket in _JSON_BRACKET.finditer(_JSON_STRING.sub("", text)):
        if bracket.group() in "[{":
            depth += 1
            if depth > max_depth:
                return True
        else:
            depth -= 1
    return False


def _bounded_number(digits: str, limits: InputLimits) -> str:
    if len(digits) > limits.max_number_digits:
        count = sum(character.isdigit() for character in digits)
        if count > limits.max_number_digits:
            raise _JsonBound(
                f"a number has {count} digits, more than max_number_digits "
                f"({limits.max_number_digits})"
            )
    return digits


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        repeated = next(name for name, count in Counter(k for k, _ in pairs).items() if count > 1)
        raise _RepeatedKey(f"key '{repeated}' is repeated")
    return value


# ---- Parquet -------------------------------------------------------------------------------


def _open_parquet(path: str | Path, limits: InputLimits) -> RecordSource:
    import pyarrow as pa  # deferred: only Parquet input needs pyarrow
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except OSError as error:
        raise InputError(f"cannot read '{path}': {error}") from None
    except (pa.ArrowException, ValueError) as error:
        raise InputError(f"'{path}' is not a Parquet file: {error}") from None
    try:
        names = parquet.schema_arrow.names
        repeated = [name for name, count in Counter(names).items() if count > 1]
        if repeated:
            raise InputError(f"{path}: column '{repeated[0]}' is repeated in the Parquet schema")
    except BaseException:
        parquet.close()
        raise
    stats = SourceStats(str(path), bytes=None)
    return RecordSource(_parquet_items(parquet, stats, limits), stats, parquet)


def _parquet_items(parquet: Any, stats: SourceStats, limits: InputLimits) -> Iterator[SourceRecord]:
    position = 0
    with parquet:
        # One row group at a time: a corrupt one costs its own rows (the footer says how many),
        # and memory stays within one batch.
        for group in range(parquet.num_row_groups):
            rows = parquet.metadata.row_group(group).num_rows
            done = 0
            try:
                for batch in parquet.iter_batches(
                    batch_size=_PARQUET_BATCH_ROWS, row_groups=[group]
                ):
                    for row in _parquet_rows(batch):
                        done += 1
                        position += 1
                        _count_row(stats)
                        yield _guarded(_parquet_item, position, None, position, row, limits)
            except Exception as error:
                reason = " ".join(f"{type(error).__name__}: {error}".split())[:300]
                for _ in range(rows - done):
                    position += 1
                    _count_row(stats)
                    problem = f"row {position} is in row group {group + 1}, which cannot be read: "
                    yield SourceRecord(position, None, problem + reason)
    stats.complete = True


def _count_row(stats: SourceStats) -> None:
    stats.lines += 1
    stats.record_lines += 1


def _parquet_rows(batch: Any) -> Iterator[dict[str, Any] | Exception]:
    try:
        rows = batch.to_pylist()
    except Exception:
        # One value Python cannot hold (e.g. a timestamp past year 9999): find the row.
        for index in range(batch.num_rows):
            try:
                yield batch.slice(index, 1).to_pylist()[0]
            except Exception as error:
                yield error
        return
    yield from rows


def _parquet_item(
    position: int, row: dict[str, Any] | Exception, limits: InputLimits
) -> SourceRecord:
    if isinstance(row, Exception):
        problem = f"row {position} cannot be read: {type(row).__name__}: {row}"
        return SourceRecord(position, None, problem)
    total = 0
    for name, value in row.items():
        size = _utf8_size(value) if isinstance(value, str) else None
        size = len(value) if isinstance(value, bytes) else size
        if size is None:
            continue
        if size > limits.max_field_bytes:
            problem = (
                f"row {position}: field '{name}' is larger than max_field_bytes "
                f"({limits.max_field_bytes} bytes)"
            )
            return SourceRecord(position, None, problem, kind=OVER_LIMIT)
        total += size
    if total > limits.max_record_bytes:
        problem = (
            f"row {position} is larger than max_record_bytes ({limits.max_record_bytes} bytes)"
        )
        return SourceRecord(position, None, problem, kind=OVER_LIMIT)
    return SourceRecord(position, row)
