"""Property-based fuzzing of the server: whatever arrives, no 5xx, no traceback, still serving."""

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

from tests.workloads.inference.conftest import ThreadServer, invoke, request
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


def test_the_server_still_serves_after_the_fuzzing(server: ThreadServer) -> None:
    """Given the fuzzed server, then it still answers, and never counted a 5xx."""
    assert request(server.port, "GET", "/ping").status == 200
    assert invoke(server.port, "[[0.5, -1, 2, 0.25]]").json() == {"predictions": ["yes"]}
    metrics = request(server.port, "GET", "/metrics").body.decode()
    assert 'status="5' not in metrics
