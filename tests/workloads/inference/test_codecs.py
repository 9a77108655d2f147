"""Decoding bodies into rows and encoding predictions: every accepted shape, every refusal."""

from __future__ import annotations

import io

import numpy as np
import pytest

from workloads.inference import codecs
from workloads.inference.errors import InferenceError

NAMES = ("a", "b", "c")


def npy(array: np.ndarray, **options: object) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, **options)  # type: ignore[arg-type]
    return buffer.getvalue()


def decoded(body: bytes | str, content_type: str = codecs.JSON) -> np.ndarray:
    return codecs.align(codecs.decode(body, content_type), NAMES)


def refusal(body: bytes | str, content_type: str = codecs.JSON) -> tuple[int, str]:
    with pytest.raises(InferenceError) as refused:
        decoded(body, content_type)
    return refused.value.status, refused.value.message


@pytest.mark.parametrize(
    "body",
    [
        "[[1, 2, 3], [4, 5, 6]]",
        '{"instances": [[1, 2, 3], [4, 5, 6]]}',
        '[{"a": 1, "b": 2, "c": 3}, {"c": 6, "a": 4, "b": 5}]',
        '{"instances": [{"c": 3, "b": 2, "a": 1}, {"a": 4, "b": 5, "c": 6}]}',
    ],
)
def test_json_shapes_all_give_the_same_rows(body: str) -> None:
    """Given each accepted JSON shape, when decoded, then the rows come out in feature order."""
    assert decoded(body).tolist() == [[1, 2, 3], [4, 5, 6]]


@pytest.mark.parametrize("body", ["[1, 2.5, 3]", '{"c": 3, "a": 1, "b": 2.5}', b"[[1, 2.5, 3]]"])
def test_a_single_json_row(body: str | bytes) -> None:
    """Given one flat row or one object, when decoded, then it is a 1-row matrix."""
    assert decoded(body).tolist() == [[1, 2.5, 3]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "body is not valid JSON"),
        ("[[1, 2, 3]", "body is not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "body is not valid JSON"),
        (b"\xff\xfe\x00", "JSON body is not UTF-8 text"),
        ("[[]]", "JSON: no values to predict on (shape (1, 0))"),
        ('{"instances": [[], []]}', "JSON: no values to predict on (shape (2, 0))"),
        ("{}", "JSON: no values to predict on (shape (1, 0))"),
        (
            "[]",
            'JSON: expected a row, a list of rows, or {"instances": [...]}, with at least one row',
        ),
        (
            '"text"',
            'JSON: expected a row, a list of rows, or {"instances": [...]}, with at least one row',
        ),
        (
            '{"instances": [[1, 2, 3]], "extra": 1}',
            'JSON: an object with "instances" must hold nothing else',
        ),
        ("[[1, 2, 3], [4, 5]]", "JSON: every row must have the same number of values"),
        ("[[1, [2], 3]]", "JSON: every row must have the same number of values"),
        ('[[1, {"b": 2}, 3]]', "JSON: every value must be a number or text"),
        ('[[1, "x", 1e39]]', "JSON: values must be finite and within float32 range"),
        ("[[[1, 2, 3]]]", "JSON: expected rows of numbers (a 2-D array), got 3-D"),
        ("[[1, 2, 1e39]]", "JSON: values must be finite and within float32 range"),
        ("[[1, 2, Infinity]]", "JSON: values must be finite and within float32 range"),
        # Integers past int64 are Python objects to numpy: past float32's range, so refused.
        (
            "[[1, 2, 100000000000000000000000000000000000000000000]]",
            "JSON: values must be finite and within float32 range",
        ),
        (
            '[{"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 2}]',
            "JSON row 1: its keys differ from row 0's",
        ),
        ('[{"a": 1, "b": 2, "c": 3}, [1, 2, 3]]', "JSON row 1: expected an object like row 0"),
        ('{"a": 1, "b": 2}', "missing features: c"),
        ('{"a": 1, "b": 2, "c": 3, "zz": 4}', "unknown features: 'zz'"),
        ("[[1, 2]]", "expected 3 values per row (a, b, c), got 2"),
    ],
)
def test_bad_json_is_a_400_saying_why(body: str | bytes, message: str) -> None:
    """Given malformed JSON, when decoded, then a 400 names the problem."""
    assert refusal(body) == (400, message)


def test_csv_without_and_with_a_header_in_any_order() -> None:
    """Given CSV with no header, or a header in any order (quoted too), when decoded, then rows are in feature order."""
    assert decoded("1,2,3\n4,5,6\n", codecs.CSV).tolist() == [[1, 2, 3], [4, 5, 6]]
    assert decoded("c,a,b\r\n3,1,2\r\n\r\n", codecs.CSV).tolist() == [[1, 2, 3]]
    assert decoded(b'"b","a","c"\n"2",1, 3\n', codecs.CSV).tolist() == [[1, 2, 3]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "CSV body has no rows"),
        ("a,b,c\n", "CSV body has a header but no rows"),
        ("1,2,3\n4,5\n", "CSV line 2 has 2 values, the first row has 3"),
        ("a,b,c\n1,2,3\n4,5\n", "CSV line 3 has 2 values, the first row has 3"),
        ("1,x,3\n4,y,nan\n", "CSV: values must be finite and within float32 range"),
        ("1,2,nan\n", "CSV: values must be finite and within float32 range"),
        (b"1,2,\xff\n", "CSV body is not UTF-8 text"),
        ("a,b,d\n1,2,3\n", "missing features: c; unknown features: 'd'"),
        ("a,a,b\n1,2,3\n", "missing features: c"),
        ("1,2\n", "expected 3 values per row (a, b, c), got 2"),
        ("\ufeff\n\n", "CSV body has no rows"),
    ],
)
def test_bad_csv_is_a_400_saying_why(body: str | bytes, message: str) -> None:
    """Given malformed CSV, when decoded, then a 400 names the problem (and the line)."""
    assert refusal(body, codecs.CSV) == (400, message)


def test_text_cells_decode_to_an_object_array_of_floats_text_and_missing() -> None:
    """Given rows with text (a categorical feature's values) in JSON and CSV, when decoded, then numbers are floats, text is stripped and empty or null cells are None."""
    expected = [[1.0, "month-to-month", None], [2.5, "card", 3.0]]
    for body, content_type in [
        ('[[1, " month-to-month ", null], [2.5, "card", "3"]]', codecs.JSON),
        (
            '[{"c": null, "b": "month-to-month", "a": 1}, {"a": 2.5, "b": "card", "c": 3}]',
            codecs.JSON,
        ),
        ("1, month-to-month ,\n2.5,card,3\n", codecs.CSV),
        ('c,a,b\n,1,"month-to-month"\n3,2.5,card\n', codecs.CSV),
    ]:
        rows = decoded(body, content_type)
        assert rows.dtype == object
        assert rows.tolist() == expected


def test_number_strings_alone_decode_to_floats() -> None:
    """Given JSON numbers sent as strings, when decoded, then the rows are plain floats."""
    rows = decoded('[["1", "2", "3"]]')
    assert rows.dtype == np.float64
    assert rows.tolist() == [[1, 2, 3]]


@pytest.mark.parametrize(
    "array",
    [
        np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32),
        np.array([[1, 2, 3], [4, 5, 6]], dtype=">i8"),
        np.asfortranarray(np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float64)),
    ],
)
def test_npy_numeric_arrays_of_any_dtype_and_order(array: np.ndarray) -> None:
    """Given numeric .npy arrays of other dtypes, byte orders and layouts, when decoded, then they are float rows."""
    assert decoded(npy(array), codecs.NPY).tolist() == [[1, 2, 3], [4, 5, 6]]


def test_a_1d_npy_array_is_one_row() -> None:
    """Given a 1-D .npy array, when decoded, then it is one row."""
    assert decoded(npy(np.array([1.0, 2.0, 3.0])), codecs.NPY).tolist() == [[1, 2, 3]]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\xef\xbb\xbf[[1, 2, 3]]", codecs.JSON),
        ("\ufeff[[1, 2, 3]]", codecs.JSON),  # as AWS's containers pass JSON: already decoded
        (b"\xef\xbb\xbf1,2,3\n", codecs.CSV),
        ("\ufeff1,2,3\n", codecs.CSV),
        (b"\xef\xbb\xbfa,b,c\r\n1,2,3\r\n", codecs.CSV),  # the BOM must not stick to "a"
    ],
)
def test_a_utf8_byte_order_mark_is_dropped_for_every_text_type(
    body: bytes | str, content_type: str
) -> None:
    """Given JSON or CSV starting with a UTF-8 BOM (bytes or text), when decoded, then it is read as without one."""
    assert decoded(body, content_type).tolist() == [[1, 2, 3]]


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((0, 3), ".npy: no values to predict on (shape (0, 3))"),
        ((0,), ".npy: no values to predict on (shape (0,))"),
        ((2, 0), ".npy: no values to predict on (shape (2, 0))"),
        ((0, 0), ".npy: no values to predict on (shape (0, 0))"),
    ],
)
def test_an_empty_npy_array_of_any_shape_is_a_400_naming_its_shape(
    shape: tuple[int, ...], message: str
) -> None:
    """Given a .npy array with no values, when decoded, then a 400 names its shape (the model is never called)."""
    assert refusal(npy(np.zeros(shape)), codecs.NPY) == (400, message)


def lying_header(body: bytes) -> bytes:
    return body.replace(b"(1, 3)", b"(100000000000, 3)")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            npy(np.array([{"x": 1}], dtype=object), allow_pickle=True),
            ".npy array must hold numbers; dtype object is refused",
        ),
        (npy(np.array([["a", "b", "c"]])), ".npy array must hold numbers; dtype <U1 is refused"),
        (npy(np.zeros((1, 1, 3))), ".npy array must be 1-D or 2-D, got 3-D"),
        (npy(np.zeros((1, 3)))[:-5], ".npy body size does not match its header"),
        (lying_header(npy(np.zeros((1, 3)))), ".npy body size does not match its header"),
        (b"\x93NUMPY\x01\x00garbage", "body is not a .npy array (bad header)"),
        (b"\x80\x04\x95pickle", "body is not a .npy array"),
        ("text is not binary", ".npy body must be binary, not text"),
        (
            npy(np.array([[1.0, np.inf, 3.0]])),
            ".npy: values must be finite and within float32 range",
        ),
    ],
)
def test_bad_npy_is_a_400_and_never_unpickled(body: bytes | str, message: str) -> None:
    """Given pickles, strings, bad shapes and lying headers, when decoded, then a 400 and nothing unpickled or allocated."""
    assert refusal(body, codecs.NPY) == (400, message)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, codecs.JSON),
        ("application/json; charset=utf-8", codecs.JSON),
        ("TEXT/CSV", codecs.CSV),
        ("application/x-npy", codecs.NPY),
        ("application/npy", codecs.NPY),
    ],
)
def test_content_types_and_their_aliases(header: str | None, expected: str) -> None:
    """Given a Content-Type with parameters, case or an alias, when parsed, then it is the canonical type."""
    assert codecs.content_type_of(header) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, codecs.JSON),
        ("", codecs.JSON),
        ("*/*", codecs.JSON),
        ("text/csv", codecs.CSV),
        ("text/html, text/*;q=0.5", codecs.CSV),
        ("application/json;q=0.5, text/csv", codecs.CSV),
        ("text/csv;q=0.2, application/json;q=0.9", codecs.JSON),
        ("image/png, */*;q=0.1", codecs.JSON),
    ],
)
def test_accept_picks_the_best_supported_format(header: str | None, expected: str) -> None:
    """Given an Accept header with q-values and wildcards, when negotiated, then the best supported format wins."""
    assert codecs.accept_of(header) == expected


@pytest.mark.parametrize("header", ["image/png", "text/csv;q=0", "application/json;q=bad"])
def test_accept_with_nothing_supported_is_a_406(header: str) -> None:
    """Given an Accept header with nothing we can send, when negotiated, then a 406."""
    with pytest.raises(InferenceError) as refused:
        codecs.accept_of(header)
    assert refused.value.status == 406


def test_errors_quote_client_text_cut_short() -> None:
    """Given a huge client-supplied header, when refused, then the message quotes it cut short."""
    with pytest.raises(InferenceError) as refused:
        codecs.content_type_of("x/" + "y" * 500)
    assert len(refused.value.message) < 200


def test_encoding_json_and_csv() -> None:
    """Given labels and values, when encoded, then JSON and CSV (quoted where needed) come out."""
    labels = np.array(["yes", "no, really", 'say "hi"'])
    assert (
        codecs.encode(labels, codecs.JSON)
        == b'{"predictions": ["yes", "no, really", "say \\"hi\\""]}'
    )
    assert codecs.encode(labels, codecs.CSV) == b'yes\n"no, really"\n"say ""hi"""\n'
    assert codecs.encode(np.array([[1.5, 2.0], [3.0, 4.25]]), codecs.CSV) == b"1.5,2.0\n3.0,4.25\n"
    assert codecs.encode(np.array([1, 2]), codecs.JSON) == b'{"predictions": [1, 2]}'


def test_size_check() -> None:
    """Given a 10-byte limit, when 10 and 11 bytes are checked, then only 11 is a 413."""
    codecs.check_size(10, 10)
    with pytest.raises(InferenceError) as refused:
        codecs.check_size(11, 10)
    assert (refused.value.status, refused.value.message) == (
        413,
        "body of 11 bytes is over the limit of 10 bytes",
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("application/json", None),
        ("application/json; output=probability", "probability"),
        ("text/csv;q=0.9;OUTPUT=Label", "label"),
        ('application/json; output="probability", text/csv; output=label', "probability"),
    ],
)
def test_the_accept_headers_output_parameter_chooses_labels_or_probabilities(
    header: str | None, expected: str | None
) -> None:
    """Given an Accept header, when its output is read, then the first output parameter wins."""
    assert codecs.output_of(header) == expected


def test_an_unknown_output_is_a_406() -> None:
    """Given an output that is neither label nor probability, then a 406 naming both."""
    with pytest.raises(InferenceError) as refused:
        codecs.output_of("application/json; output=scores")
    assert refused.value.status == 406
    assert refused.value.message == (
        "output 'scores' is not one of label, probability "
        "(Accept: application/json; output=probability)"
    )
