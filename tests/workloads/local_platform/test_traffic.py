"""Sample traffic: CSV bodies of the sample, posted one row a request."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workloads.local_platform.traffic import request_bodies, send
from workloads.samples import churn


def test_each_body_is_a_header_and_one_row_of_the_given_features() -> None:
    # when
    bodies = request_bodies(3, 1, drift=False, features=("tenure_months", "contract"))
    # then
    rows = churn.rows(3, 1)
    assert (
        bodies[0]
        == f"tenure_months,contract\n{rows[0]['tenure_months']},{rows[0]['contract']}\n".encode()
    )
    assert len(bodies) == 3


def test_drifted_bodies_differ_from_plain_ones() -> None:
    assert request_bodies(5, 1, drift=True) != request_bodies(5, 1, drift=False)


@pytest.fixture
def endpoint() -> Iterator[tuple[int, list[bytes]]]:
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(body)
            status = 400 if b"bad" in body else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], received
    server.shutdown()
    server.server_close()


def test_send_counts_the_answers_and_names_the_failures(
    endpoint: tuple[int, list[bytes]],
) -> None:
    # given
    port, received = endpoint
    # when
    result = send("127.0.0.1", port, [b"a,b\n1,2\n", b"bad\n", b"a,b\n3,4\n"])
    # then
    assert result.to_dict() == {"sent": 3, "answered": 2, "errors": {"HTTP 400": 1}}
    assert received == [b"a,b\n1,2\n", b"bad\n", b"a,b\n3,4\n"]


def test_a_server_that_is_not_there_answers_nothing() -> None:
    # given: a port nothing listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # when
    result = send("127.0.0.1", port, [b"x"])
    # then
    assert result.answered == 0
    assert result.errors == {"connection refused": 1}
