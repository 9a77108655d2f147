"""Property-based fuzzing of the server: whatever arrives, no 5xx, no traceback, still serving.

The last test checks the server is still healthy after all the others (pytest runs a module's
tests in file order; the property tests come before it).
"""

from __future__ import annotations

import io
import json
import socket
import string
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.workloads.inference.conftest import Response, ThreadServer, invoke, request
from workloads.inference.server import ServerConfig
from workloads.model_layout import LoadedModel

CLIENT_STATUSES = {200, 400, 404, 405, 406, 413, 415}
FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,  # nothing written into the work tree
    suppress_health_check=[HealthCheck.too_slow],
)
HEADER_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " /;=,*.-+_", max_size=40)


@pytest.fixture(scope="module")
def server(sklearn_model: LoadedModel) -> Iterator[ThreadServer]:
    """One batching server for all examples, with a small body limit so 413s happen too."""
    running = ThreadServer(
        ServerConfig(model_dir=Path("unused"), port=0, max_body_bytes=4096, max_batch_wait_ms=1.0),
        sklearn_model,
    )
    yield running
    running.stop()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
json_values = st.recursive(
    st.none() | numbers | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(["a", "b", "c", "d", "instances", "x"]), children, max_size=5
        )
    ),
    max_leaves=30,
)
rows = st.lists(st.lists(numbers, min_size=0, max_size=6), min_size=0, max_size=4)
bodies = st.one_of(
    st.binary(max_size=600),
    st.text(max_size=200).map(str.encode),
    json_values.map(lambda value: json.dumps(value).encode()),
    rows.map(lambda value: json.dumps(value).encode()),
    rows.map(lambda value: "\n".join(",".join(map(str, row)) for row in value).encode()),
    st.sampled_from(
        [
            npy_bytes(np.zeros((2, 4))),
            npy_bytes(np.zeros((2, 4), dtype=np.int8)),
            npy_bytes(np.array([{"x": 1}], dtype=object)),
            npy_bytes(np.zeros((1, 2, 4))),
            npy_bytes(np.array(["a", "b", "c", "d"])),
            npy_bytes(np.zeros((1, 4)))[:-3],
        ]
    ),
    st.binary(min_size=5000, max_size=6000),
)
content_types = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/json",
            "text/csv",
            "application/x-npy",
            "text/plain",
            "application/json; charset=utf-8",
        ]
    ),
    HEADER_TEXT,
)
accepts = st.one_of(
    st.none(),
    st.sampled_from(["application/json", "text/csv", "*/*", "text/html", "text/csv;q=0"]),
    HEADER_TEXT,
)
methods = st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH"])
paths = st.sampled_from(
    ["/invocations", "/invocations", "/invocations", "/ping", "/metrics", "/x", "/invocations?a=1"]
)


def assert_client_answer(status: int, body: bytes) -> None:
    assert status in CLIENT_STATUSES
    if status >= 400:
        error = json.loads(body)
        assert list(error) == ["error"]
        assert isinstance(error["error"], str)
        assert "Traceback" not in error["error"]


@FUZZ
@given(method=methods, path=paths, body=bodies, content_type=content_types, accept=accepts)
def test_any_request_gets_a_client_status_never_a_5xx(
    server: ThreadServer,
    method: str,
    path: str,
    body: bytes,
    content_type: str | None,
    accept: str | None,
) -> None:
    # given any method, path, body, Content-Type and Accept
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if accept is not None:
        headers["Accept"] = accept
    # when sent, then the answer is 200 or a 4xx with a short JSON error
    answer = request(server.port, method, path, body, headers)
    assert_client_answer(answer.status, answer.body)


@FUZZ
@given(payload=st.binary(max_size=300), terminate=st.booleans())
def test_arbitrary_bytes_on_the_socket_never_break_the_server(
    server: ThreadServer, payload: bytes, terminate: bool
) -> None:
    # given a client writing arbitrary bytes (maybe ending a head), then closing its side
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as client:
        client.sendall(payload + (b"\r\n\r\n" if terminate else b""))
        client.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := client.recv(65536):
            received += chunk
    # then whatever came back is HTTP with no 5xx
    for line in received.split(b"\r\n"):
        if line.startswith(b"HTTP/1.1 "):
            assert line[9:10] != b"5", received


# --- hostile bodies of every accepted content type ------------------------------------------

ACCEPTED_CONTENT_TYPES = [
    "application/json",
    "text/json",
    "application/json; charset=utf-8",
    "text/csv",
    "application/csv",
    "application/x-npy",
    "application/npy",
]
BOMS = [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf\xef\xbb\xbf"]
hostile_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.sampled_from(["1e400", "-1e309", "NaN", "Infinity", "-0", "0x10", "1_000", "", " "]),
)
hostile_rows = st.lists(st.lists(hostile_numbers, max_size=6), max_size=4)
shapes = st.lists(st.integers(min_value=0, max_value=4), min_size=0, max_size=3).map(tuple)
dtypes = st.sampled_from(
    ["<f8", ">f8", "<f4", "<f2", "|i1", "<u8", "|b1", "<c8", "<U2", "|S2", "<M8[s]", "|V4"]
)


@st.composite
def npy_arrays(draw: st.DrawFn) -> bytes:
    """A .npy body of any shape (zero-sized included) and dtype, with hostile values in floats."""
    shape, dtype = draw(shapes), np.dtype(draw(dtypes))
    array = np.zeros(shape, dtype=dtype)
    if dtype.kind == "f" and array.size:
        fill = draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e38, 7.0]))
        with np.errstate(over="ignore"):  # 1e38 overflows float16 to inf: hostile on purpose
            array.flat[draw(st.integers(min_value=0, max_value=array.size - 1))] = fill
    return npy_bytes(array)


def as_csv(rows: list[list[object]]) -> bytes:
    return "\n".join(",".join(map(str, row)) for row in rows).encode()


def as_json(rows: list[list[object]]) -> bytes:
    # json.dumps writes NaN/Infinity and big integers: hostile, but what clients really send
    return json.dumps(rows).encode()


hostile_bodies = st.one_of(
    st.tuples(st.sampled_from(BOMS), hostile_rows.map(as_json)).map(b"".join),
    st.tuples(st.sampled_from(BOMS), hostile_rows.map(as_csv)).map(b"".join),
    st.tuples(st.sampled_from(BOMS), json_values.map(lambda value: json.dumps(value).encode())).map(
        b"".join
    ),
    st.integers(min_value=1, max_value=3000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(min_value=1, max_value=1500).map(
        lambda depth: b'{"instances": ' * depth + b"1" + b"}" * depth
    ),
    npy_arrays(),
    npy_arrays().map(lambda body: body[: len(body) // 2]),
    st.binary(max_size=300),
)


@FUZZ
@given(body=hostile_bodies, content_type=st.sampled_from(ACCEPTED_CONTENT_TYPES), accept=accepts)
def test_hostile_bodies_of_every_accepted_type_get_a_client_status(
    server: ThreadServer, body: bytes, content_type: str, accept: str | None
) -> None:
    # given a body with empty shapes, BOMs, NaN/inf, huge numbers, deep nesting or random bytes,
    # sent as each content type the server accepts
    headers = {"Content-Type": content_type}
    if accept is not None:
        headers["Accept"] = accept
    # when posted, then the answer is a 2xx or a 4xx with a short JSON error, never a 5xx
    answer = invoke_with(server.port, body, headers)
    assert_client_answer(answer.status, answer.body)


def invoke_with(port: int, body: bytes, headers: dict[str, str]) -> Response:
    return request(port, "POST", "/invocations", body, headers)


# --- hostile framing ------------------------------------------------------------------------

line_ends = st.sampled_from([b"\r\n", b"\n", b"\r", b"\r\r\n", b""])
tokens = st.sampled_from([b"GET", b"POST", b"PUT", b"get", b"G=T", b"", b"\x00", b"\xff"])
targets = st.sampled_from([b"/ping", b"/invocations", b"/metrics", b"/x y", b"", b"/\x7f", b"*"])
versions = st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2", b"http/1.1", b"HTTP/1.1 ", b""])
header_names = st.sampled_from([b"Host", b"Accept", b"X-A", b"Bad Name", b"", b" Host", b"H\x00"])
header_values = st.binary(max_size=12).filter(lambda value: b"\n" not in value)


@st.composite
def heads(draw: st.DrawFn) -> bytes:
    """A request head built from odd parts and odd line ends, ended by a blank bare-LF line."""
    line = b" ".join([draw(tokens), draw(targets), draw(versions)]) + draw(line_ends)
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        line += draw(header_names) + b":" + draw(header_values) + draw(line_ends)
    return line + b"\n\n"


@FUZZ
@given(head=heads())
def test_any_head_that_ends_is_answered_at_once_with_no_5xx(
    server: ThreadServer, head: bytes
) -> None:
    # given a head of odd parts (bare CR/LF, bad tokens, controls) that does end (LF LF),
    # sent on a connection the client keeps open
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall(head)
        # when the server reads it, then an answer comes without waiting for more (no 408)
        status_line = b""
        while b"\r\n" not in status_line:
            chunk = client.recv(65536)
            if not chunk:
                break
            status_line += chunk
    assert status_line.startswith(b"HTTP/1.1 "), (head, status_line)
    status = int(status_line[9:12])
    assert status in CLIENT_STATUSES | {411, 431}, (head, status_line)


def test_the_server_still_serves_after_the_fuzzing(server: ThreadServer) -> None:
    """Given the fuzzed server, then it still answers, and never counted a 5xx."""
    assert request(server.port, "GET", "/ping").status == 200
    assert invoke(server.port, "[[0.5, -1, 2, 0.25]]").json() == {"predictions": ["yes"]}
    metrics = request(server.port, "GET", "/metrics").body.decode()
    assert 'status="5' not in metrics
