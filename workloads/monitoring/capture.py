r"""Reading SageMaker data-capture files into columns, line by line, never failing on bad lines.

A capture file holds JSON Lines, one invocation per line::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                       "data": "1.5,2,a", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "application/json",
                                        "mode": "OUTPUT", "data": "{\\"predictions\\": [0.7]}",
                                        "encoding": "JSON"}},
     "eventMetadata": {"eventId": "...", "inferenceTime": "2026-11-22T10:00:01Z"},
     "eventVersion": "0"}

``encoding`` is CSV or JSON (the capture's content-type lists decode those) or BASE64 (the
payload's bytes, read by its observed content type). Payloads follow the inference server's
formats (``workloads/inference/codecs.py``): CSV rows without a header or with a header line
naming the features; JSON rows as lists or as objects keyed by feature name, alone, in a list,
or under ``"instances"``. Outputs are ``{"predictions": [...]}``, a JSON list or scalar, or one
prediction per CSV line; a prediction is a scalar or a one-element list. An answer whose
``observedContentType`` carries an ``output`` parameter (``application/json; output=probability``)
is in another output than the model's default, which the baseline holds: its request's inputs are
read, its predictions are not (:attr:`CaptureData.other_output` counts them).

Anything unreadable (a line that is not UTF-8 or not JSON, a missing field, an undecodable
payload, a row of the wrong width, a prediction list, or a line past one of the bounds of
:class:`~workloads.monitoring.limits.Limits`: too long, a payload too large, nesting too deep, an
integer with too many digits, a CSV cell too long) is counted as malformed with its file, line
and reason, and reading goes on: no line can stop a check. A line is one record: when its
request or its answer cannot be read, none of it is used. So every non-blank line is counted
exactly once, as a request, outside the window, or malformed::

    requests + outside_window + malformed == capture_lines

Files are read as bytes in bounded pieces (a line past ``max_line_bytes`` is skipped without
being loaded), and :func:`scan_capture` hands each line's rows to a callback instead of keeping
them, so reading a window takes memory for one line, whatever the window's size.
"""

from __future__ import annotations

import base64
import csv
import functools
import io
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from workloads.monitoring.limits import Limits
from workloads.monitoring.times import NaiveTime, utc_time

#: Malformed lines whose details the summary keeps by default (all are counted).
MAX_EXAMPLES = Limits().max_examples

#: The longest reason kept for a malformed line (a hostile value quoted in it is cut).
MAX_REASON = 300

# How much of an over-long line is read at a time while skipping it.
_SKIP_CHUNK = 1024 * 1024

#: Receives the rows and the predictions of one request read inside the window.
RowSink = Callable[[list[list[object]], list[object]], None]


@dataclass(frozen=True)
class Malformed:
    """One capture line (or payload) that could not be read."""

    file: str
    """The capture file, relative to the folder read."""
    line: int
    """The line number in that file (1-based; 0 for a file that cannot be opened)."""
    reason: str
    """What is wrong with it."""


@dataclass
class CaptureData:
    """What reading a window found: counts always; the rows and predictions when kept."""

    feature_names: list[str]
    """The input features, in the order CSV rows list them."""
    rows: list[list[object]] = field(default_factory=list)
    """Each input row's values, in feature order (None where a JSON object lacked a feature);
    empty when :func:`scan_capture` handed them to a callback instead."""
    predictions: list[object] = field(default_factory=list)
    """Every prediction read from the outputs (likewise)."""
    capture_lines: int = 0
    """Non-blank capture lines read (in the window or not); a file that cannot be opened or
    read to its end counts one more."""
    requests: int = 0
    """Lines read as requests inside the window."""
    outside_window: int = 0
    """Invocations skipped because their inference time lies outside the window."""
    malformed: int = 0
    """Lines that could not be read (and files that could not be opened or read to the end)."""
    examples: list[Malformed] = field(default_factory=list)
    """The first ``max_examples`` malformed lines."""
    extra_columns: dict[str, int] = field(default_factory=dict)
    """Keys of JSON rows that name no feature, with how many rows carried each (at most
    ``max_unknown_keys`` keys, each cut to ``max_label_chars``)."""
    extra_untracked: int = 0
    """Rows' unknown keys left out of :attr:`extra_columns` because it was full."""
    other_output: int = 0
    """Requests answered in another output than the model's default (their Content-Type says
    ``; output=...``, ``workloads.inference.codecs.output_parameter``): inputs read, predictions
    not compared."""
    limits: Limits = field(default_factory=Limits)
    """The bounds the window was read with."""

    def reject(self, file: str, line: int, reason: str) -> None:
        """Count one malformed line, keeping the first few as examples."""
        self.malformed += 1
        if len(self.examples) < self.limits.max_examples:
            self.examples.append(Malformed(file, line, _cut(reason, MAX_REASON)))

    def column(self, index: int) -> list[object]:
        """The values of the feature at ``index``, one per kept row."""
        return [row[index] for row in self.rows]

    def count_unknown(self, counts: dict[str, int]) -> None:
        """Add one request's unknown keys (key to rows carrying it), within the bound."""
        for key, count in counts.items():
            label = printable(key, self.limits.max_label_chars)
            if label in self.extra_columns:
                self.extra_columns[label] += count
            elif len(self.extra_columns) < self.limits.max_unknown_keys:
                self.extra_columns[label] = count
            else:
                self.extra_untracked += count


class PayloadError(ValueError):
    """A payload (or a line) that cannot be read as rows or predictions."""


def printable(text: str, limit: int) -> str:
    """``text`` safe to write as UTF-8 (lone surrogates escaped) and cut to ``limit`` characters.

    JSON may carry lone surrogates (escaped UTF-16 halves) and file names undecodable bytes; either
    would make writing report.html fail.
    """
    text = _cut(text, limit)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut short, for quoting an untrusted value in a reason."""
    return _cut(repr(value), limit)


def capture_files(folder: Path) -> list[Path]:
    """The capture files (``*.jsonl``) under ``folder``, in a stable order."""
    return sorted(path for path in folder.rglob("*.jsonl") if path.is_file())


def read_lines(handle: BinaryIO, max_bytes: int) -> Iterator[bytes | None]:
    """Each non-blank line of ``handle`` (newline kept), or None for one longer than ``max_bytes``.

    Only a line feed ends a line (what ``wc -l`` counts), and a line of ASCII whitespace only is
    blank. An over-long line is read past in pieces of at most 1 MiB and never held whole.
    """
    while True:
        line = handle.readline(max_bytes + 1)
        if not line:
            return
        if len(line) <= max_bytes or line.endswith(b"\n"):
            if line.strip():
                yield line
            continue
        blank = not line.strip()
        while not line.endswith(b"\n"):
            line = handle.readline(_SKIP_CHUNK)
            if not line:
                break
            blank = blank and not line.strip()
        if not blank:
            yield None


def scan_capture(
    files: Iterable[Path],
    feature_names: Sequence[str],
    on_rows: RowSink,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    root: Path | None = None,
    limits: Limits | None = None,
) -> CaptureData:
    """Read capture ``files`` for invocations in [start, end), handing each request to ``on_rows``.

    ``on_rows`` receives one request's rows (values in ``feature_names`` order) and predictions.
    The returned :class:`CaptureData` holds the counts and examples, not the rows. Nothing a
    line holds raises: it is counted as malformed instead.
    """
    bounds = limits or Limits()
    data = CaptureData(feature_names=list(feature_names), limits=bounds)
    positions = {name: index for index, name in enumerate(feature_names)}
    for path in files:
        shown = printable(str(path.relative_to(root)) if root is not None else str(path), 1024)
        try:
            handle = path.open("rb")
        except OSError as error:
            # Counted as one line, so requests + outside + malformed == capture_lines holds.
            data.capture_lines += 1
            data.reject(shown, 0, f"cannot open: {error.strerror or error}")
            continue
        number = 0
        with handle:
            try:
                for number, line in enumerate(read_lines(handle, bounds.max_line_bytes), 1):
                    data.capture_lines += 1
                    _read_line(data, line, shown, number, positions, start, end, on_rows)
            except OSError as error:
                # A read that fails half-way: what was read counts, the rest cannot.
                data.capture_lines += 1
                data.reject(shown, number + 1, f"cannot read: {error.strerror or error}")
    return data


def read_capture(
    files: Iterable[Path],
    feature_names: Sequence[str],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    root: Path | None = None,
    limits: Limits | None = None,
) -> CaptureData:
    """Read capture ``files`` into rows of ``feature_names`` for invocations in [start, end).

    Keeps every row in memory: for small windows and tests. A check streams with
    :func:`scan_capture` instead.
    """
    rows: list[list[object]] = []
    predictions: list[object] = []

    def keep(more_rows: list[list[object]], more_predictions: list[object]) -> None:
        rows.extend(more_rows)
        predictions.extend(more_predictions)

    data = scan_capture(files, feature_names, keep, start=start, end=end, root=root, limits=limits)
    data.rows, data.predictions = rows, predictions
    return data


def _read_line(
    data: CaptureData,
    raw: bytes | None,
    file: str,
    number: int,
    positions: dict[str, int],
    start: datetime | None,
    end: datetime | None,
    on_rows: RowSink,
) -> None:
    limits = data.limits
    if raw is None:
        data.reject(file, number, f"line longer than {limits.max_line_bytes} bytes")
        return
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        data.reject(file, number, f"not UTF-8 text (byte {error.start + 1})")
        return
    try:
        record = load_json(line, limits)
    except json.JSONDecodeError as error:
        data.reject(file, number, f"not JSON: {error.msg} at column {error.colno}")
        return
    except PayloadError as error:
        data.reject(file, number, str(error))
        return
    try:
        captured = record["captureData"]
        request = captured["endpointInput"]
        when = parse_time(record["eventMetadata"]["inferenceTime"])
    except (KeyError, TypeError):
        data.reject(
            file,
            number,
            "not a capture record (needs captureData.endpointInput and "
            "eventMetadata.inferenceTime)",
        )
        return
    except ValueError as error:
        data.reject(file, number, f"eventMetadata.inferenceTime: {error}")
        return
    if (start is not None and when < start) or (end is not None and when >= end):
        data.outside_window += 1
        return
    unknown: dict[str, int] = {}
    try:
        rows = request_rows(request, positions, unknown, limits)
    except PayloadError as error:
        data.reject(file, number, f"endpointInput: {error}")
        return
    response = captured.get("endpointOutput") if isinstance(captured, dict) else None
    predictions: list[object] = []
    if response is not None and asked_output(response) is not None:
        # Not the model's default output (the client asked for another): the baseline holds the
        # default, so these predictions are not compared; the request's inputs are.
        data.other_output += 1
    elif response is not None:
        try:
            predictions = decode_predictions(response, limits)
        except PayloadError as error:
            data.reject(file, number, f"endpointOutput: {error}")
            return
    data.requests += 1
    data.count_unknown(unknown)
    # A large request goes to the sink in chunks, so it is never held as rows all at once.
    pending = iter(rows)
    first = True
    while True:
        chunk = list(itertools.islice(pending, limits.chunk_rows))
        if chunk or first:
            on_rows(chunk, predictions if first else [])
        if len(chunk) < limits.chunk_rows:
            return
        first = False


def load_json(text: str, limits: Limits | None = None) -> object:
    """``text`` parsed as JSON, refused past the nesting and integer-digit bounds.

    Raises:
        json.JSONDecodeError: the text is not JSON.
        PayloadError: nesting deeper than ``max_json_depth`` or an integer longer than
            ``max_number_digits`` digits.

    """
    bounds = limits or Limits()
    try:
        value = _decoder(bounds.max_number_digits).decode(text)
    except RecursionError:
        # The json module recurses once per level and gives up at the interpreter's recursion
        # limit (~1,000), before our bound can look at the value.
        raise PayloadError(f"nested deeper than {bounds.max_json_depth} levels") from None
    # Walking the value costs more than parsing it, and a line with fewer brackets than the
    # bound cannot nest past it (brackets inside strings only make us walk for nothing).
    if text.count("[") + text.count("{") > bounds.max_json_depth:
        check_tree(value, bounds)
    return value


@functools.lru_cache(maxsize=8)
def _decoder(digits: int) -> json.JSONDecoder:
    """A JSON decoder whose ``parse_int`` refuses a literal of more than ``digits`` digits.

    Checking the literal's length first also keeps Python's own refusal of integers over 4,300
    digits (a plain ValueError raised inside the parser, CVE-2020-10735) from being reached.
    One decoder per bound: ``json.loads`` with any option builds a new one on every call.
    """

    def read(literal: str) -> int:
        if len(literal.lstrip("-")) > digits:
            raise PayloadError(f"an integer of more than {digits} digits")
        return int(literal)

    return json.JSONDecoder(parse_int=read)


def check_tree(value: object, limits: Limits) -> None:
    """Refuse a parsed JSON value past the nesting or the integer-digit bound (no recursion).

    :func:`load_json` already refuses long integers while parsing; this also serves values
    parsed elsewhere.

    Raises:
        PayloadError: naming the bound.

    """
    ceiling = 10**limits.max_number_digits
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[object] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            if type(item) is int and not -ceiling < item < ceiling:
                raise PayloadError(f"an integer of more than {limits.max_number_digits} digits")
            continue
        if depth > limits.max_json_depth:
            raise PayloadError(f"nested deeper than {limits.max_json_depth} levels")
        for child in children:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
            elif type(child) is int and not -ceiling < child < ceiling:
                raise PayloadError(f"an integer of more than {limits.max_number_digits} digits")


def parse_time(value: object) -> datetime:
    """An inference time (ISO-8601, ``Z`` or an offset) as an aware UTC datetime."""
    if not isinstance(value, str):
        raise ValueError(f"{_shown(value)} is not a time")
    try:
        return utc_time(value.strip())
    except NaiveTime:
        raise ValueError(f"{_shown(value)} has no time zone") from None
    except ValueError:
        raise ValueError(f"{_shown(value)} is not an ISO-8601 time in years 1 to 9999") from None


def _payload_text(part: object, limits: Limits) -> tuple[str, str]:
    """The payload's text and its format (``csv`` or ``json``)."""
    if not isinstance(part, dict) or not isinstance(part.get("data"), str):
        raise PayloadError("no 'data' string")
    text = part["data"]
    if len(text) > limits.max_payload_bytes:
        raise PayloadError(
            f"data of {len(text)} characters, more than the {limits.max_payload_bytes} allowed"
        )
    raw_encoding = part.get("encoding", "")
    encoding = raw_encoding.upper() if isinstance(raw_encoding, str) else ""
    raw_type = part.get("observedContentType", "")
    content_type = raw_type.split(";")[0].strip().lower() if isinstance(raw_type, str) else ""
    if encoding == "BASE64":
        try:
            text = base64.b64decode(text, validate=True).decode("utf-8")
        except ValueError:
            # binascii.Error (bad BASE64), UnicodeDecodeError (not UTF-8 once decoded), and a
            # plain ValueError from b64decode for data with characters outside ASCII.
            raise PayloadError("BASE64 data that is not UTF-8 text") from None
    elif encoding not in ("CSV", "JSON"):
        raise PayloadError(f"unknown encoding {_shown(raw_encoding)}")
    if encoding == "JSON" or content_type in ("application/json", "application/jsonlines"):
        return text, "json"
    if encoding == "CSV" or content_type in ("text/csv", "application/csv"):
        return text, "csv"
    raise PayloadError(
        f"content type {_shown(content_type) if content_type else repr('(none)')} "
        "is neither CSV nor JSON"
    )


def asked_output(part: object) -> str | None:
    """The ``output`` parameter of a captured answer's Content-Type, or None.

    The inference server marks an answer that is not the model's default output this way
    (``application/json; output=probability``).
    """
    raw_type = part.get("observedContentType") if isinstance(part, dict) else None
    if not isinstance(raw_type, str):
        return None
    for parameter in raw_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "output":
            return value.strip().strip('"').lower()
    return None


def _json_payload(text: str, limits: Limits) -> object:
    try:
        return load_json(text, limits)
    except json.JSONDecodeError as error:
        raise PayloadError(f"JSON payload: {error.msg}") from None
    except PayloadError as error:
        raise PayloadError(f"JSON payload: {error}") from None


def decode_rows(
    part: object,
    positions: dict[str, int],
    extra_columns: dict[str, int],
    limits: Limits | None = None,
) -> list[list[object]]:
    """The input rows of one request, each a list of values in feature order.

    Keys of JSON objects that name no feature are counted into ``extra_columns``.
    """
    return list(request_rows(part, positions, extra_columns, limits))


def request_rows(
    part: object,
    positions: dict[str, int],
    extra_columns: dict[str, int],
    limits: Limits | None = None,
) -> Iterable[list[object]]:
    """The input rows of one request, checked whole first, then given one at a time.

    A CSV payload is read twice: once to check every row (so a bad last row still makes the
    whole request malformed), then lazily, so a request of 300,000 rows is never held as rows
    at once. A JSON payload is parsed whole (the json module has no other way) and its rows
    are the parsed lists and objects.

    Raises:
        PayloadError: the payload cannot be read; raised before any row is given.

    """
    bounds = limits or Limits()
    text, kind = _payload_text(part, bounds)
    width = len(positions)
    if kind == "csv":
        return _csv_rows(text, positions, bounds)
    body = _json_payload(text, bounds)
    if isinstance(body, dict) and "instances" in body:
        body = body["instances"]
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list) or not body:
        raise PayloadError("JSON payload holds no rows")
    if not isinstance(body[0], (list, dict)):
        body = [body]  # one row of scalars
    rows: list[list[object]] = []
    for index, item in enumerate(body):
        if isinstance(item, dict):
            row: list[object] = [None] * width
            for key, value in item.items():
                position = positions.get(key)
                if position is None:
                    extra_columns[key] = extra_columns.get(key, 0) + 1
                else:
                    row[position] = value
            rows.append(row)
        elif isinstance(item, list):
            if len(item) != width:
                raise PayloadError(f"row {index} has {len(item)} values, expected {width}")
            rows.append(item)
        else:
            raise PayloadError(f"row {index} is neither a list nor an object")
    return rows


def _csv_reader(text: str) -> Iterator[list[str]]:
    """The payload's non-empty CSV lines."""
    return (cells for cells in csv.reader(io.StringIO(text)) if cells)


def _csv_lines(text: str, limits: Limits) -> list[list[str]]:
    """The payload's CSV lines, refused past the cell bound or when csv cannot read them."""
    return [cells for _, cells in _checked_csv(text, limits)]


def _checked_csv(text: str, limits: Limits) -> Iterator[tuple[int, list[str]]]:
    """Each non-empty CSV line with its index, refused past the cell bound or unreadable."""
    try:
        for number, cells in enumerate(_csv_reader(text)):
            for cell in cells:
                if len(cell) > limits.max_csv_cell:
                    raise PayloadError(
                        f"CSV line {number} has a cell of {len(cell)} characters, more than the "
                        f"{limits.max_csv_cell} allowed"
                    )
            yield number, cells
    except csv.Error as error:
        # csv.Error is no ValueError: a field past csv's own limit or a NUL byte (Python 3.10).
        raise PayloadError(f"CSV payload: {error}") from None


def _csv_rows(text: str, positions: dict[str, int], limits: Limits) -> Iterator[list[object]]:
    """Check every CSV line of a request, then give its rows lazily (a second reading)."""
    width = len(positions)
    order: list[int] | None = None
    first = True
    for index, cells in _checked_csv(text, limits):
        if first:
            first = False
            header = [cell.strip() for cell in cells]
            if set(header) <= set(positions) and len(set(header)) == len(header):
                order = [positions[name] for name in header]
                continue
        row = index - (order is not None)
        expected = len(order) if order is not None else width
        if len(cells) != expected:
            kind = "header" if order is not None else "expected"
            raise PayloadError(f"row {row} has {len(cells)} values, {kind} {expected}")
    if first:
        raise PayloadError("CSV payload holds no rows")
    return _csv_values(text, width, order)


def _csv_values(text: str, width: int, order: list[int] | None) -> Iterator[list[object]]:
    lines = _csv_reader(text)
    if order is None:
        yield from lines
        return
    next(lines)  # the header
    for cells in lines:
        row: list[object] = [None] * width
        for position, cell in zip(order, cells, strict=True):
            row[position] = cell
        yield row


def decode_predictions(part: object, limits: Limits | None = None) -> list[object]:
    """The predictions of one response, one scalar per input row."""
    bounds = limits or Limits()
    text, kind = _payload_text(part, bounds)
    if kind == "csv":
        values: list[object] = []
        for cells in _csv_lines(text, bounds):
            if len(cells) != 1:
                raise PayloadError(f"a CSV prediction line has {len(cells)} values, expected 1")
            values.append(cells[0])
        return values
    body = _json_payload(text, bounds)
    if isinstance(body, dict):
        if "predictions" not in body:
            raise PayloadError("JSON answer has no 'predictions'")
        body = body["predictions"]
    if not isinstance(body, list):
        body = [body]
    predictions = []
    for item in body:
        if isinstance(item, list):
            if len(item) != 1:
                raise PayloadError(
                    f"a prediction is a list of {len(item)} values; only scalars or "
                    "one-element lists are monitored"
                )
            item = item[0]
        if isinstance(item, (dict, list)):
            raise PayloadError("a prediction is not a scalar")
        predictions.append(item)
    return predictions
