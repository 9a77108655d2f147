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
prediction per CSV line; a prediction is a scalar or a one-element list.

Anything unreadable (a line that is not JSON, a missing field, an undecodable payload, a row of
the wrong width, a prediction list) is counted as malformed with its file, line and reason, and
reading goes on. Invocations outside the window are skipped and counted.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from workloads.monitoring.times import NaiveTime, utc_time

#: Malformed lines whose details the summary keeps (all are counted).
MAX_EXAMPLES = 20


@dataclass(frozen=True)
class Malformed:
    """One capture line (or payload) that could not be read."""

    file: str
    """The capture file, relative to the folder read."""
    line: int
    """The line number in that file (1-based)."""
    reason: str
    """What is wrong with it."""


@dataclass
class CaptureData:
    """The rows and predictions captured in a window, as read."""

    feature_names: list[str]
    """The input features, in the order CSV rows list them."""
    rows: list[list[object]] = field(default_factory=list)
    """Each input row's values, in feature order (None where a JSON object lacked a feature)."""
    predictions: list[object] = field(default_factory=list)
    """Every prediction read from the outputs."""
    capture_lines: int = 0
    """Capture lines read (in the window or not)."""
    outside_window: int = 0
    """Invocations skipped because their inference time lies outside the window."""
    malformed: int = 0
    """Lines or payloads that could not be read."""
    examples: list[Malformed] = field(default_factory=list)
    """The first :data:`MAX_EXAMPLES` malformed lines."""
    extra_columns: dict[str, int] = field(default_factory=dict)
    """Keys of JSON rows that name no feature, with how many rows carried each."""

    def reject(self, file: str, line: int, reason: str) -> None:
        """Count one malformed line or payload, keeping the first few as examples."""
        self.malformed += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(Malformed(file, line, reason))

    def column(self, index: int) -> list[object]:
        """The values of the feature at ``index``, one per row."""
        return [row[index] for row in self.rows]


class PayloadError(ValueError):
    """A payload that cannot be read as rows or predictions."""


def capture_files(folder: Path) -> list[Path]:
    """The capture files (``*.jsonl``) under ``folder``, in a stable order."""
    return sorted(path for path in folder.rglob("*.jsonl") if path.is_file())


def read_capture(
    files: Iterable[Path],
    feature_names: Sequence[str],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    root: Path | None = None,
) -> CaptureData:
    """Read capture ``files`` into rows of ``feature_names`` for invocations in [start, end)."""
    data = CaptureData(feature_names=list(feature_names))
    positions = {name: index for index, name in enumerate(feature_names)}
    for path in files:
        shown = str(path.relative_to(root)) if root is not None else str(path)
        try:
            handle = path.open("r", encoding="utf-8", errors="replace")
        except OSError as error:
            data.reject(shown, 0, f"cannot open: {error.strerror or error}")
            continue
        with handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                data.capture_lines += 1
                _read_line(data, line, shown, number, positions, start, end)
    return data


def _read_line(
    data: CaptureData,
    line: str,
    file: str,
    number: int,
    positions: dict[str, int],
    start: datetime | None,
    end: datetime | None,
) -> None:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        data.reject(file, number, f"not JSON: {error.msg} at column {error.colno}")
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
    try:
        rows = decode_rows(request, positions, data.extra_columns)
    except PayloadError as error:
        data.reject(file, number, f"endpointInput: {error}")
        return
    response = captured.get("endpointOutput") if isinstance(captured, dict) else None
    predictions: list[object] = []
    if response is not None:
        try:
            predictions = decode_predictions(response)
        except PayloadError as error:
            data.reject(file, number, f"endpointOutput: {error}")
    data.rows.extend(rows)
    data.predictions.extend(predictions)


def parse_time(value: object) -> datetime:
    """An inference time (ISO-8601, ``Z`` or an offset) as an aware UTC datetime."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a time")
    try:
        return utc_time(value.strip())
    except NaiveTime:
        raise ValueError(f"{value!r} has no time zone") from None
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO-8601 time") from None


def _payload_text(part: object) -> tuple[str, str]:
    """The payload's text and its format (``csv`` or ``json``)."""
    if not isinstance(part, dict) or not isinstance(part.get("data"), str):
        raise PayloadError("no 'data' string")
    encoding = str(part.get("encoding", "")).upper()
    content_type = str(part.get("observedContentType", "")).split(";")[0].strip().lower()
    text = part["data"]
    if encoding == "BASE64":
        try:
            text = base64.b64decode(text, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise PayloadError("BASE64 data that is not UTF-8 text") from None
    elif encoding not in ("CSV", "JSON"):
        raise PayloadError(f"unknown encoding {part.get('encoding')!r}")
    if encoding == "JSON" or content_type in ("application/json", "application/jsonlines"):
        return text, "json"
    if encoding == "CSV" or content_type in ("text/csv", "application/csv"):
        return text, "csv"
    raise PayloadError(f"content type {content_type or '(none)'!r} is neither CSV nor JSON")


def decode_rows(
    part: object, positions: dict[str, int], extra_columns: dict[str, int]
) -> list[list[object]]:
    """The input rows of one request, each a list of values in feature order."""
    text, kind = _payload_text(part)
    width = len(positions)
    if kind == "csv":
        return _csv_rows(text, positions)
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        raise PayloadError(f"JSON payload: {error.msg}") from None
    if isinstance(body, dict) and "instances" in body:
        body = body["instances"]
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list) or not body:
        raise PayloadError("JSON payload holds no rows")
    if not isinstance(body[0], (list, dict)):
        body = [body]  # one row of scalars
    rows = []
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
            rows.append(list(item))
        else:
            raise PayloadError(f"row {index} is neither a list nor an object")
    return rows


def _csv_rows(text: str, positions: dict[str, int]) -> list[list[object]]:
    lines = [line for line in csv.reader(io.StringIO(text)) if line]
    if not lines:
        raise PayloadError("CSV payload holds no rows")
    width = len(positions)
    order = None
    header = [cell.strip() for cell in lines[0]]
    if set(header) <= set(positions) and len(set(header)) == len(header):
        order = [positions[name] for name in header]
        lines = lines[1:]
    rows = []
    for index, cells in enumerate(lines):
        if order is not None:
            if len(cells) != len(order):
                raise PayloadError(f"row {index} has {len(cells)} values, header {len(order)}")
            row: list[object] = [None] * width
            for position, cell in zip(order, cells, strict=True):
                row[position] = cell
            rows.append(row)
        else:
            if len(cells) != width:
                raise PayloadError(f"row {index} has {len(cells)} values, expected {width}")
            rows.append(list(cells))
    return rows


def decode_predictions(part: object) -> list[object]:
    """The predictions of one response, one scalar per input row."""
    text, kind = _payload_text(part)
    if kind == "csv":
        values: list[object] = []
        for cells in csv.reader(io.StringIO(text)):
            if not cells:
                continue
            if len(cells) != 1:
                raise PayloadError(f"a CSV prediction line has {len(cells)} values, expected 1")
            values.append(cells[0])
        return values
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        raise PayloadError(f"JSON payload: {error.msg}") from None
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
