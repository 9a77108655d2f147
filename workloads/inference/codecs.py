"""Request decoding and response encoding: the one place that turns bytes into rows and back.

Decoded bodies:

- ``application/json``: a list of rows (``[[1, 2], [3, 4]]``), one row (``[1, 2]``),
  ``{"instances": [...]}`` holding either, or objects keyed by feature name (``{"a": 1, "b": 2}``
  or a list of them), which are put in the model's feature order;
- ``text/csv``: one row per line, no header, or a header line naming the features (any order);
- ``application/x-npy``: a 1-D or 2-D numeric ``.npy`` array, read with
  ``numpy.load(..., allow_pickle=False)`` after its header has been checked (object arrays, and
  so pickles, are refused; a header that claims more data than the body holds is refused before
  anything is allocated).

Values are numbers, or (JSON and CSV) text for a model's categorical features: a body with any
text cell decodes to an object array whose cells are floats, stripped ``str`` or None (an empty
CSV cell, a JSON ``null``: a missing value); the model checks each value against its feature and
encodes it (``workloads.model_layout.encode_columns``). A CSV body's first line is a header when
none of its fields is a number.

Text bodies (JSON and CSV) are UTF-8, with or without a leading byte order mark (which some
Windows tools write): it is stripped the same way for both. A body that holds no values (``[]``,
``{"instances": []}``, a CSV with no rows, a ``.npy`` array of shape ``(0, n)`` or ``(0,)``) is a
400 naming its shape, never a call to the model.

Answers are ``{"predictions": [...]}`` (JSON) or one prediction per line (CSV). What a prediction
is (a label or a probability) is the model's ``default_output`` unless the Accept header asks
with an ``output`` parameter: ``Accept: application/json; output=probability`` (SageMaker's
InvokeEndpoint passes ``Accept`` through to every container, and the prebuilt containers hand it
to ``output_fn``); see :func:`output_of`. An answer in the other output than the model's default
says so in its Content-Type (:func:`output_parameter`).

Every rejection is an ``InferenceError`` carrying its HTTP status. Imports: standard library and
numpy only (this runs inside AWS's prebuilt containers too).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from workloads.inference.errors import (
    MalformedInput,
    NotAcceptable,
    PayloadTooLarge,
    UnsupportedContentType,
)
from workloads.model_layout import CATEGORICAL, OUTPUTS, FeatureValueError, check_rows

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
SUPPORTED_CONTENT_TYPES = (JSON, CSV, NPY)
SUPPORTED_ACCEPTS = (JSON, CSV)
DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024
"""SageMaker's own limit on an InvokeEndpoint payload."""

# Aliases clients send for the same formats (the SageMaker SDK's NumpySerializer sends x-npy).
_CONTENT_TYPES = {
    "application/json": JSON,
    "text/json": JSON,
    "text/csv": CSV,
    "application/csv": CSV,
    "application/x-npy": NPY,
    "application/npy": NPY,
}
_ACCEPTS = {
    "application/json": JSON,
    "text/json": JSON,
    "application/*": JSON,
    "*/*": JSON,
    "text/csv": CSV,
    "text/*": CSV,
}
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_NUMERIC_KINDS = "biuf"
_NPY_MAGIC = b"\x93NUMPY"
_UTF8_BOM = b"\xef\xbb\xbf"
# Headers repeat from request to request: remember the answer for a bounded number of them.
_CACHE_LIMIT = 256
_content_type_cache: dict[str, str] = {}
_accept_cache: dict[str, str] = {}


@dataclass(frozen=True, slots=True)
class Rows:
    """A decoded body: a 2-D array and, when the body named them, its column names.

    The array is float64, or object when some cell is text (see :func:`_mixed`).
    """

    values: np.ndarray
    columns: tuple[str, ...] | None = None
    source: str = "input"
    """What the rows came from (``JSON``, ``CSV``, ``.npy``), for error messages."""


def _shown(text: str, limit: int = 60) -> str:
    """A client-supplied string as it may appear in an error: quoted and cut short."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _names(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def content_type_of(header: str | None) -> str:
    """The canonical media type of a Content-Type header (JSON when absent)."""
    if not header:
        return JSON
    known = _content_type_cache.get(header)
    if known is not None:
        return known
    media = header.partition(";")[0].strip().lower()
    canonical = _CONTENT_TYPES.get(media)
    if canonical is None:
        raise UnsupportedContentType(
            f"content type {_shown(media)} is not supported; "
            f"use one of {', '.join(SUPPORTED_CONTENT_TYPES)}"
        )
    if len(_content_type_cache) >= _CACHE_LIMIT:
        _content_type_cache.clear()
    _content_type_cache[header] = canonical
    return canonical


def accept_of(header: str | None) -> str:
    """The answer format for an Accept header.

    The supported type with the highest q wins, the first listed on a tie; JSON when the header is
    absent or ``*/*``.
    """
    if not header:
        return JSON
    known = _accept_cache.get(header)
    if known is not None:
        return known
    best, best_q = None, 0.0
    for part in header.split(","):
        media, _, parameters = part.partition(";")
        candidate = _ACCEPTS.get(media.strip().lower())
        if candidate is None:
            continue
        q = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > best_q:  # ties keep the first listed
            best, best_q = candidate, q
    if best is None:
        raise NotAcceptable(
            f"cannot answer in {_shown(header)}; use one of {', '.join(SUPPORTED_ACCEPTS)}"
        )
    if len(_accept_cache) >= _CACHE_LIMIT:
        _accept_cache.clear()
    _accept_cache[header] = best
    return best


def output_of(header: str | None) -> str | None:
    """The ``output`` an Accept header asks for (``label`` or ``probability``), None if none.

    The parameter may follow any media range (``text/csv; output=probability``); the first one
    found decides. Any other value is a 406.
    """
    if not header or "output" not in header.lower():
        return None
    for media_range in header.split(","):
        for parameter in media_range.split(";")[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() != "output":
                continue
            chosen = value.strip().strip('"').lower()
            if chosen not in OUTPUTS:
                raise NotAcceptable(
                    f"output {_shown(chosen)} is not one of {', '.join(OUTPUTS)} "
                    "(Accept: application/json; output=probability)"
                )
            return chosen
    return None


def output_parameter(output: str) -> str:
    """The Content-Type parameter marking an answer that is not the model's default output.

    Data capture records the response's Content-Type, so the monitor can tell these answers from
    the default ones its baseline holds (``workloads.monitoring.capture``).
    """
    return f"; output={output}"


def _cell(value: object, what: str) -> float | str | None:
    """One decoded value: a float, stripped text (not a number), or None when missing."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            return text
        return _checked_number(number, what)
    if value is None:
        return None
    if isinstance(value, bool | int | float | np.number):
        try:
            return _checked_number(float(value), what)
        except OverflowError:
            raise MalformedInput(
                f"{what}: values must be finite and within float32 range"
            ) from None
    raise MalformedInput(f"{what}: every value must be a number or text")


def _checked_number(number: float, what: str) -> float:
    if not abs(number) <= _FLOAT32_MAX:
        raise MalformedInput(f"{what}: values must be finite and within float32 range")
    return number


def _mixed(rows: Sequence[Sequence[object]], what: str) -> np.ndarray:
    """Rows with text cells as a 2-D object array of :func:`_cell` values (float64 if none is)."""
    cells = [[_cell(value, what) for value in row] for row in rows]
    if all(isinstance(value, float) for row in cells for value in row):
        return np.array(cells, dtype=np.float64).reshape(len(cells), -1)
    array = np.empty((len(cells), len(cells[0]) if cells else 0), dtype=object)
    for index, row in enumerate(cells):
        array[index, :] = row
    return array


def as_matrix(rows: object, what: str = "input") -> np.ndarray:
    """Rows of values (or one flat row) as a 2-D array; anything else is a 400.

    float64 when every value is a number, else object (:func:`_mixed`).
    """
    try:
        array = np.asarray(rows)
    except (ValueError, TypeError, OverflowError):
        raise MalformedInput(f"{what}: every row must have the same number of values") from None
    if array.dtype.kind not in _NUMERIC_KINDS:
        if array.dtype.kind not in "USO" or array.ndim not in (1, 2):
            raise MalformedInput(f"{what}: every value must be a number or text")
        table = array.reshape(1, -1) if array.ndim == 1 else array
        return _non_empty(_mixed(table.tolist(), what), what)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise MalformedInput(f"{what}: expected rows of numbers (a 2-D array), got {array.ndim}-D")
    return _in_range(_non_empty(array.astype(np.float64, copy=False), what), what)


def _non_empty(values: np.ndarray, what: str) -> np.ndarray:
    # Zero rows would reach the model (scikit-learn raises on them: a 500) or, merged into a
    # batch, come back as an empty 200; zero columns cannot match any model's features.
    if values.size == 0:
        raise MalformedInput(f"{what}: no values to predict on (shape {values.shape})")
    return values


def _text(body: bytes | str, what: str) -> str:
    """A text body as ``str``: UTF-8 with a leading byte order mark dropped (bytes or str)."""
    if isinstance(body, str):
        return body[1:] if body.startswith("\ufeff") else body
    data = bytes(body)
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedInput(f"{what} body is not UTF-8 text") from None


def _in_range(values: np.ndarray, what: str) -> np.ndarray:
    # Non-finite or huge values break models in ways that look like server errors (scikit-learn's
    # trees refuse values beyond float32): refuse them here, as the client's mistake.
    if values.size and not (np.abs(values) <= _FLOAT32_MAX).all():
        raise MalformedInput(f"{what}: values must be finite and within float32 range")
    return values


def _named_rows(objects: list[object]) -> Rows:
    first = objects[0]
    assert isinstance(first, dict)
    columns = tuple(first)
    keys = first.keys()
    table = []
    for index, row in enumerate(objects):
        if not isinstance(row, dict):
            raise MalformedInput(f"JSON row {index}: expected an object like row 0")
        if row.keys() != keys:
            raise MalformedInput(f"JSON row {index}: its keys differ from row 0's")
        table.append([row[column] for column in columns])
    return Rows(as_matrix(table, "JSON"), columns, "JSON")


def _decode_json(body: bytes | str) -> Rows:
    # Decoded here rather than by json.loads: it takes a BOM (and UTF-16/32) in bytes but refuses
    # one in str, and CSV must be read the same way.
    text = _text(body, "JSON")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):  # deep nesting raises RecursionError
        raise MalformedInput("body is not valid JSON") from None
    if isinstance(document, dict):
        if "instances" not in document:
            return _named_rows([document])
        if len(document) != 1:
            raise MalformedInput('JSON: an object with "instances" must hold nothing else')
        document = document["instances"]
    if not isinstance(document, list) or not document:
        raise MalformedInput(
            'JSON: expected a row, a list of rows, or {"instances": [...]}, with at least one row'
        )
    first = document[0]
    if isinstance(first, dict):
        return _named_rows(document)
    if not isinstance(first, list):
        document = [document]  # a single flat row
    return Rows(as_matrix(document, "JSON"), source="JSON")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _decode_csv(body: bytes | str) -> Rows:
    text = _text(body, "CSV")
    if '"' in text:
        try:
            lines = [row for row in csv.reader(io.StringIO(text)) if row]
        except csv.Error:
            raise MalformedInput("CSV body cannot be parsed") from None
    else:
        lines = [line.split(",") for line in text.splitlines() if line.strip()]
    if not lines:
        raise MalformedInput("CSV body has no rows")
    columns = None
    if not any(_is_number(field) for field in lines[0]):
        columns = tuple(field.strip() for field in lines[0])
        lines = lines[1:]
        if not lines:
            raise MalformedInput("CSV body has a header but no rows")
    try:
        values = np.array(lines, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        width = len(lines[0])
        for number, line in enumerate(lines, start=2 if columns else 1):
            if len(line) != width:
                raise MalformedInput(
                    f"CSV line {number} has {len(line)} values, the first row has {width}"
                ) from None
        # Text cells (a categorical feature's values, or empty ones): the model checks them.
        return Rows(_non_empty(_mixed(lines, "CSV"), "CSV"), columns, "CSV")
    if values.ndim != 2:
        raise MalformedInput("CSV body has no values")
    return Rows(_in_range(_non_empty(values, "CSV"), "CSV"), columns, "CSV")


def _decode_npy(body: bytes | str) -> Rows:
    if isinstance(body, str):
        raise MalformedInput(".npy body must be binary, not text")
    data = bytes(body)
    stream = io.BytesIO(data)
    if not data.startswith(_NPY_MAGIC):
        raise MalformedInput("body is not a .npy array")
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise MalformedInput(f".npy format version {version} is not supported")
    except MalformedInput:
        raise
    except Exception:  # any header the reader refuses is the client's
        raise MalformedInput("body is not a .npy array (bad header)") from None
    if dtype.hasobject or dtype.kind not in _NUMERIC_KINDS:
        raise MalformedInput(f".npy array must hold numbers; dtype {dtype} is refused")
    if len(shape) not in (1, 2):
        raise MalformedInput(f".npy array must be 1-D or 2-D, got {len(shape)}-D")
    # Check the size the header claims against the bytes we hold before numpy allocates it.
    if len(data) - stream.tell() != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
        raise MalformedInput(".npy body size does not match its header")
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception:
        raise MalformedInput("body is not a .npy array") from None
    if array.size == 0:  # before the reshape, so the error shows the shape that was sent
        raise MalformedInput(f".npy: no values to predict on (shape {array.shape})")
    if array.ndim == 1:
        array = array.reshape(1, -1)
    return Rows(_in_range(array.astype(np.float64), ".npy"), source=".npy")


_DECODERS = {JSON: _decode_json, CSV: _decode_csv, NPY: _decode_npy}


def check_size(size: int, max_bytes: int) -> None:
    """Refuse a body of ``size`` bytes over ``max_bytes`` (413)."""
    if size > max_bytes:
        raise PayloadTooLarge(f"body of {size} bytes is over the limit of {max_bytes} bytes")


def decode(body: bytes | str, content_type: str) -> Rows:
    """Decode a body of a canonical ``content_type`` (see ``content_type_of``) into rows."""
    return _DECODERS[content_type](body)


def align(
    rows: Rows, feature_names: tuple[str, ...], inputs: Sequence[Mapping[str, Any]] = ()
) -> np.ndarray:
    """The rows as the model's input: one column per feature, in ``feature_names`` order.

    With ``inputs``, the model's input schema (``metadata.feature_types``), text and missing
    cells are checked against it: in a numeric feature they are a 400 naming the feature (for a
    model without text features, the 400 numbers-only bodies always got). The server checks
    here, before it batches requests, so a bad value is that client's 400 and never fails the
    batch it would join.
    """
    aligned = _aligned(rows, feature_names)
    if aligned.dtype.kind in _NUMERIC_KINDS or not inputs:
        return aligned
    if not any(spec["type"] == CATEGORICAL for spec in inputs):
        raise MalformedInput(
            "CSV values must be numbers"
            if rows.source == "CSV"
            else f"{rows.source}: every value must be a number"
        )
    try:
        check_rows(inputs, aligned)
    except FeatureValueError as error:
        raise MalformedInput(str(error)) from None
    return aligned


def _aligned(rows: Rows, feature_names: tuple[str, ...]) -> np.ndarray:
    values = rows.values
    if rows.columns is None or rows.columns == feature_names:
        if values.shape[1] != len(feature_names):
            raise MalformedInput(
                f"expected {len(feature_names)} values per row ({_names(feature_names)}), "
                f"got {values.shape[1]}"
            )
        return values
    given = set(rows.columns)
    missing = [name for name in feature_names if name not in given]
    expected = set(feature_names)
    unknown = [name for name in rows.columns if name not in expected]
    if missing or unknown or len(given) != len(rows.columns):
        problems = []
        if missing:
            problems.append(f"missing features: {_names(missing)}")
        if unknown:
            problems.append(f"unknown features: {_names([_shown(name) for name in unknown])}")
        if not problems:
            problems.append("a feature is named twice")
        raise MalformedInput("; ".join(problems))
    index = [rows.columns.index(name) for name in feature_names]
    return values[:, index]


def _csv_field(value: object) -> str:
    text = str(value)
    if isinstance(value, str) and any(char in text for char in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def encode(predictions: np.ndarray, media: str) -> bytes:
    """Predictions as a response body in ``media`` (a value of ``accept_of``)."""
    values = predictions.tolist()
    if media == JSON:
        return json.dumps({"predictions": values}).encode()
    if predictions.ndim == 1:
        lines = [_csv_field(value) for value in values]
    else:
        lines = [",".join(_csv_field(value) for value in row) for row in values]
    return ("\n".join(lines) + "\n").encode()
