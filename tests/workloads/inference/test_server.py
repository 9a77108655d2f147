"""The standalone server: SageMaker's contract, every bad-input class, batching, shutdown."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.workloads.inference import models
from tests.workloads.inference.conftest import (
    ModelDirs,
    ProcessServer,
    Response,
    ThreadServer,
    invoke,
    request,
)
from workloads.inference.server import build_parser
from workloads.model_layout import LoadedModel, load_model

ROW = [0.5, -1.0, 2.0, 0.25]
StartServer = Callable[..., ThreadServer]


def raw_exchange(port: int, payload: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes, read until the server closes the connection (or the timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as client:
        client.sendall(payload)
        received = b""
        try:
            while chunk := client.recv(65536):
                received += chunk
        except TimeoutError:
            pass
    return received


def split_responses(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Parse back-to-back HTTP responses with Content-Length bodies."""
    responses = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        headers = {name.lower(): value for name, value in headers.items()}
        length = int(headers["content-length"])
        responses.append((int(lines[0].split(" ")[1]), headers, rest[:length]))
        raw = rest[length:]
    return responses


# --- the contract ---------------------------------------------------------------------------


def test_ping_is_503_until_the_model_is_loaded_then_200(
    start_server: StartServer, sklearn_model: LoadedModel
) -> None:
    # given a listening server whose model is still loading
    server = start_server()
    # when /ping and /invocations are called, then both say "not yet", as JSON
    ping = request(server.port, "GET", "/ping")
    assert (ping.status, ping.json()) == (503, {"error": "model is not loaded yet"})
    assert invoke(server.port, json.dumps([ROW])).status == 503
    # when the model arrives, then /ping is 200
    server.call(lambda: server.server.set_model(sklearn_model))
    assert request(server.port, "GET", "/ping").status == 200


def test_json_rows_are_answered_with_the_models_predictions(
    start_server: StartServer, sklearn_model: LoadedModel
) -> None:
    # given a server with the sklearn classifier and three rows
    server = start_server(sklearn_model)
    rows = models.dataset()[0][:3]
    # when they are posted as a list of rows
    answer = invoke(server.port, json.dumps(rows.tolist()))
    # then the answer is the model's own predictions, with the time predict took
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"predictions": sklearn_model.predict(rows).tolist()}
    assert float(answer.headers["x-model-time"]) > 0


def test_csv_and_npy_bodies_and_a_csv_answer(
    start_server: StartServer, sklearn_model: LoadedModel
) -> None:
    # given two rows
    server = start_server(sklearn_model)
    rows = models.dataset()[0][:2]
    expected = sklearn_model.predict(rows).tolist()
    csv_body = "\n".join(",".join(repr(v) for v in row) for row in rows.tolist())
    npy = io.BytesIO()
    np.save(npy, rows)
    # when they are posted as CSV (answer as CSV) and as NPY
    as_csv = invoke(server.port, csv_body, "text/csv", accept="text/csv")
    as_npy = invoke(server.port, npy.getvalue(), "application/x-npy")
    # then both are answered as the model predicts
    assert (as_csv.status, as_csv.headers["content-type"]) == (200, "text/csv")
    assert as_csv.body.decode().splitlines() == expected
    assert as_npy.json() == {"predictions": expected}


def test_objects_keyed_by_feature_name_are_put_in_feature_order(
    start_server: StartServer, sklearn_model: LoadedModel
) -> None:
    # given a row as an object whose keys are in another order
    server = start_server(sklearn_model)
    named = dict(zip(reversed(models.FEATURES), reversed(ROW), strict=True))
    # when it is posted, then it is predicted like the same row as a list
    assert (
        invoke(server.port, json.dumps(named)).json() == invoke(server.port, json.dumps(ROW)).json()
    )


def test_metrics_count_requests_by_status_and_observe_latency_and_batches(
    start_server: StartServer, sklearn_model: LoadedModel
) -> None:
    # given a server that answered one good and one bad request
    server = start_server(sklearn_model)
    invoke(server.port, json.dumps([ROW]))
    invoke(server.port, "nope")
    # when /metrics is read
    metrics = request(server.port, "GET", "/metrics")
    text = metrics.body.decode()
    # then it is Prometheus text with the counts, the latency and batch histograms
    assert metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert 'inference_requests_total{path="/invocations",status="200"} 1' in text
    assert 'inference_requests_total{path="/invocations",status="400"} 1' in text
    assert "inference_request_duration_seconds_count 2" in text
    assert 'inference_batch_rows_bucket{le="1"} 1' in text
    assert "inference_model_loaded 1" in text


def test_execution_parameters_for_batch_transform(
    start_server: StartServer, sklearn_model: LoadedModel
) -> None:
    """Given a 6 MiB limit, when batch transform asks, then it gets matching execution parameters."""
    server = start_server(sklearn_model, max_body_bytes=6 * 1024 * 1024)
    answer = request(server.port, "GET", "/execution-parameters")
    assert answer.json() == {
        "MaxConcurrentTransforms": 1,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 6,
    }


# --- every class of bad input ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "error", "allow"),
    [
        (
            "POST",
            "/invocations",
            b"{not json",
            {"Content-Type": "application/json"},
            400,
            "body is not valid JSON",
            None,
        ),
        (
            "POST",
            "/invocations",
            b"[[1, 2]]",
            {"Content-Type": "application/json"},
            400,
            "expected 4 values per row (a, b, c, d), got 2",
            None,
        ),
        (
            "POST",
            "/invocations",
            b'[[1, "x", 3, 4]]',
            {},
            400,
            "JSON: every value must be a number",
            None,
        ),
        (
            "POST",
            "/invocations",
            b"[[1, NaN, 3, 4]]",
            {},
            400,
            "JSON: values must be finite and within float32 range",
            None,
        ),
        (
            "POST",
            "/invocations",
            b'{"a": 1, "b": 2, "c": 3, "e": 4}',
            {},
            400,
            "missing features: d; unknown features: 'e'",
            None,
        ),
        (
            "POST",
            "/invocations",
            b"1,2,3,4",
            {"Content-Type": "text/plain"},
            415,
            "content type 'text/plain' is not supported; use one of application/json, text/csv, application/x-npy",
            None,
        ),
        (
            "POST",
            "/invocations",
            b"[[1, 2, 3, 4]]",
            {"Accept": "application/xml"},
            406,
            "cannot answer in 'application/xml'; use one of application/json, text/csv",
            None,
        ),
        ("GET", "/invocations", None, {}, 405, "/invocations does not take 'GET'", "POST"),
        ("POST", "/ping", b"", {}, 405, "/ping does not take 'POST'", "GET"),
        ("DELETE", "/metrics", None, {}, 405, "/metrics does not take 'DELETE'", "GET"),
        ("GET", "/nope", None, {}, 404, "no such path; use POST /invocations or GET /ping", None),
    ],
)
def test_bad_requests_get_their_status_and_a_short_json_error(
    start_server: StartServer,
    sklearn_model: LoadedModel,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    status: int,
    error: str,
    allow: str | None,
) -> None:
    # given a serving server
    server = start_server(sklearn_model)
    # when a bad request arrives
    answer = request(server.port, method, path, body, headers)
    # then it gets exactly its status and error, as JSON, without a traceback
    assert (answer.status, answer.json()) == (status, {"error": error})
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers.get("allow") == allow
    assert b"Traceback" not in answer.body
    # and the server goes on serving
    assert invoke(server.port, json.dumps([ROW])).status == 200


def test_413_is_decided_from_content_length_before_any_body_arrives(
    start_server: StartServer, sklearn_model: LoadedModel
) -> None:
    # given a server taking at most 1000 bytes
    server = start_server(sklearn_model, max_body_bytes=1000)
    # when a request announces 5000 bytes and sends none of them
    raw = raw_exchange(
        server.port,
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 5000\r\n\r\n",
    )
    # then the 413 comes at once and the connection is closed
    [(status, headers, body)] = split_responses(raw)
    assert status == 413
    assert json.loads(body) == {"error": "body of 5000 bytes is over the limit of 1000 bytes"}
    assert headers["connection"] == "close"


def test_a_client_sending_an_oversized_body_reads_the_413(
    start_server: StartServer, sklearn_model: LoadedModel
) -> None:
    # given a 1000-byte limit and a client that sends a 2 MB body whatever happens
    server = start_server(sklearn_model, max_body_bytes=1000)
    # when it posts, then it reads the 413 rather than a reset connection
    answer = invoke(server.port, b"[" + b"1," * 1_000_000 + b"1]")
    assert (answer.status, answer.json()["error"]) == (
        413,
        "body of 2000003 bytes is over the limit of 1000 bytes",
    )


@pytest.mark.parametrize(
    ("payload", "status", "error"),
    [
        (b"GARBAGE\r\n\r\n", 400, "malformed request line"),
        (b"GET /ping HTTP/2.0\r\n\r\n", 400, "only HTTP/1.0 and HTTP/1.1 are served"),
        (b"GET /ping HTTP/1.1\r\nno-colon\r\n\r\n", 400, "malformed header line"),
        (
            b"POST /invocations HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            400,
            "invalid Content-Length",
        ),
        (
            b"POST /invocations HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            400,
            "conflicting Content-Length headers",
        ),
        (
            b"POST /invocations HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            411,
            "chunked bodies are not accepted; send Content-Length",
        ),
        (b"GET /" + b"x" * 70_000 + b" HTTP/1.1\r\n\r\n", 431, "request head is too large"),
    ],
)
def test_malformed_http_gets_a_4xx_and_a_close(
    start_server: StartServer,
    sklearn_model: LoadedModel,
    payload: bytes,
    status: int,
    error: str,
) -> None:
    # given a serving server, when the request itself is broken
    server = start_server(sklearn_model)
    [(got, headers, body)] = split_responses(raw_exchange(server.port, payload))
    # then it is refused with its status and the connection closed
    assert (got, json.loads(body), headers["connection"]) == (status, {"error": error}, "close")
    assert request(server.port, "GET", "/ping").status == 200


# --- HTTP/1.1 details -----------------------------------------------------------------------


def test_pipelined_requests_are_answered_in_order(
    start_server: StartServer, sklearn_model: LoadedModel
) -> None:
    # given three requests written in one go, the last asking to close
    server = start_server(sklearn_model)
    rows = models.dataset()[0][:2]
    bodies = [json.dumps([row]).encode() for row in rows.tolist()]
    payload = b"".join(
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(b), b)
        for b in bodies
    )
    payload += b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    # when they are sent
    responses = split_responses(raw_exchange(server.port, payload))
    # then each is answered, in order, and the connection closes after the last
    assert [json.loads(body) for _, _, body in responses[:2]] == [
        {"predictions": [label]} for label in sklearn_model.predict(rows).tolist()
    ]
    assert responses[2][0] == 200
    assert responses[2][1]["connection"] == "close"


def test_a_client_that_half_closes_still_gets_every_answer(
    start_server: StartServer, sklearn_model: LoadedModel
) -> None:
    # given two pipelined predictions (batched, so answered later), then the client's FIN
    server = start_server(sklearn_model, max_batch_wait_ms=50.0)
    body = json.dumps([ROW]).encode()
    request_bytes = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as client:
        client.sendall(request_bytes * 2)
        client.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := client.recv(65536):
            received += chunk
    # then both are answered before the server closes
    assert [json.loads(answer) for _, _, answer in split_responses(received)] == [
        {"predictions": ["yes"]}
    ] * 2


def test_keep_alive_serves_many_requests_on_one_connection(
    start_server: StartServer, sklearn_model: LoadedModel
) -> None:
    """Given one keep-alive connection, when 5 requests are sent, then all are answered on it."""
    import http.client

    server = start_server(sklearn_model)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        for _ in range(5):
            connection.request(
                "POST", "/invocations", json.dumps([ROW]), {"Content-Type": "application/json"}
            )
            answer = connection.getresponse()
            assert answer.status == 200
            answer.read()
    finally:
        connection.close()


def test_expect_100_continue_gets_an_interim_answer(
    start_server: StartServer, sklearn_model: LoadedModel
) -> None:
    # given a client that waits for 100 Continue before sending its body (as curl does)
    server = start_server(sklearn_model)
    body = json.dumps([ROW]).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as client:
        client.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
        )
        # then the server says continue, and answers once the body comes
        assert client.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        client.sendall(body)
        received = b""
        while chunk := client.recv(65536):
            received += chunk
    [(status, _, answer)] = split_responses(received)
    assert (status, json.loads(answer)) == (200, {"predictions": ["yes"]})


def test_http_1_0_closes_after_each_answer(
    start_server: StartServer, sklearn_model: LoadedModel
) -> None:
    """Given an HTTP/1.0 request without keep-alive, when answered, then the connection closes."""
    server = start_server(sklearn_model)
    [(status, headers, _)] = split_responses(
        raw_exchange(server.port, b"GET /ping HTTP/1.0\r\n\r\n")
    )
    assert (status, headers["connection"]) == (200, "close")


# --- micro-batching -------------------------------------------------------------------------


class CountingModel(LoadedModel):
    """Wraps a model and records the rows of every predict call."""

    def __init__(self, inner: LoadedModel) -> None:
        super().__init__(inner.metadata)
        self.inner = inner
        self.calls: list[int] = []

    def _predict(self, x: np.ndarray) -> np.ndarray:
        self.calls.append(x.shape[0])
        return self.inner.predict(x)


def post_concurrently(port: int, rows: np.ndarray) -> list[object]:
    """Post each row from its own thread, all released together; answers in row order."""
    answers: list[object] = [None] * len(rows)
    barrier = threading.Barrier(len(rows))

    def post(index: int) -> None:
        body = json.dumps([rows[index].tolist()])
        barrier.wait()
        answers[index] = invoke(port, body).json()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(rows))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return answers


def test_concurrent_requests_are_merged_and_answered_as_if_sequential(
    start_server: StartServer, model_dirs: ModelDirs
) -> None:
    # given a batching server (a long wait, so the threads' requests surely meet)
    model = CountingModel(load_model(model_dirs["sklearn"]))
    server = start_server(model, max_batch_wait_ms=200.0, max_batch_size=64)
    rows = models.dataset(rows=24, seed=3)[0]
    # when 24 single-row requests arrive together
    answers = post_concurrently(server.port, rows)
    # then each gets what it gets alone
    sequential = [invoke(server.port, json.dumps([row])).json() for row in rows.tolist()]
    assert answers == sequential
    assert answers == [{"predictions": [label]} for label in model.inner.predict(rows).tolist()]
    # and they were merged: fewer predict calls than requests, shown in the metrics too
    concurrent_calls = model.calls[: len(model.calls) - len(rows)]
    assert sum(concurrent_calls) == len(rows)
    assert len(concurrent_calls) < len(rows)
    metrics = request(server.port, "GET", "/metrics").body.decode()
    assert f"inference_batch_requests_sum {float(2 * len(rows))}" in metrics
    assert f"inference_batch_requests_count {len(model.calls)}" in metrics


def test_batches_hold_at_most_max_batch_size_rows(
    start_server: StartServer, model_dirs: ModelDirs
) -> None:
    """Given a 4-row batch limit, when 12 requests arrive together, then no call has more than 4 rows."""
    model = CountingModel(load_model(model_dirs["sklearn"]))
    server = start_server(model, max_batch_wait_ms=200.0, max_batch_size=4)
    post_concurrently(server.port, models.dataset(rows=12, seed=4)[0])
    assert max(model.calls) <= 4
    assert sum(model.calls) == 12


def test_without_batching_each_request_is_its_own_predict_call(
    start_server: StartServer, model_dirs: ModelDirs
) -> None:
    """Given batching off, when 8 requests arrive together, then 8 one-row predict calls answer them."""
    model = CountingModel(load_model(model_dirs["sklearn"]))
    server = start_server(model, batching=False)
    rows = models.dataset(rows=8, seed=5)[0]
    answers = post_concurrently(server.port, rows)
    assert answers == [{"predictions": [label]} for label in model.inner.predict(rows).tolist()]
    assert model.calls == [1] * 8


def test_a_failing_predict_is_a_500_for_that_request_only(
    start_server: StartServer, sklearn_model: LoadedModel
) -> None:
    # given a model that raises on one particular row
    class Picky(CountingModel):
        def _predict(self, x: np.ndarray) -> np.ndarray:
            if (x[:, 0] == 99.0).any():
                raise RuntimeError("secret internals")
            return self.inner.predict(x)

    server = start_server(Picky(sklearn_model), max_batch_wait_ms=200.0)
    rows = np.array([ROW, [99.0, 0.0, 0.0, 0.0], ROW])
    # when it comes with others, then only it fails, with no internals shown
    answers = post_concurrently(server.port, rows)
    assert answers[1] == {"error": "prediction failed"}
    assert (
        answers[0] == answers[2] == {"predictions": sklearn_model.predict(np.array([ROW])).tolist()}
    )


# --- as a process: the CLI, SIGTERM ---------------------------------------------------------


def test_sigterm_finishes_the_request_in_flight_and_exits_0(
    start_process: Callable[..., ProcessServer], tmp_path: Path
) -> None:
    # given a server process whose model takes 1.5 s on a marked row
    models.save_slow(tmp_path / "slow", delay=1.5)
    server = start_process("--model-dir", str(tmp_path / "slow"))
    server.wait_ready()
    slow_row = json.dumps([[models.SLOW_MARKER, 0, 0, 0]])
    answers: list[object] = []
    client = threading.Thread(target=lambda: answers.append(invoke(server.port, slow_row)))
    client.start()
    time.sleep(0.4)
    # when SIGTERM arrives while that request is being predicted
    server.terminate()
    client.join(30)
    # then the request is answered, and the process exits 0
    assert [(a.status, a.json()) for a in answers] == [(200, {"predictions": ["yes"]})]  # type: ignore[attr-defined]
    assert server.process.wait(30) == 0, server.output()
    # and it no longer accepts connections
    with pytest.raises(OSError):
        request(server.port, "GET", "/ping", timeout=1.0)


def test_cli_flags_reach_the_server(
    start_process: Callable[..., ProcessServer], model_dirs: ModelDirs
) -> None:
    # given the server started with every flag
    server = start_process(
        "--model-dir",
        str(model_dirs["sklearn"]),
        "--host",
        "127.0.0.1",
        "--max-batch-size",
        "8",
        "--max-batch-wait-ms",
        "1",
        "--no-batching",
        "--max-body-bytes",
        "100",
    )
    server.wait_ready()
    # then the body limit and the batching switch are in force
    assert invoke(server.port, json.dumps([ROW] * 10)).status == 413
    assert invoke(server.port, json.dumps([ROW])).status == 200
    metrics = request(server.port, "GET", "/metrics").body.decode()
    assert "inference_batch_requests_count 0" in metrics
    server.terminate()
    assert server.process.wait(30) == 0


def test_a_model_that_cannot_load_exits_1(
    start_process: Callable[..., ProcessServer], tmp_path: Path
) -> None:
    """Given a directory without a model, when the server starts, then it exits 1 naming the file."""
    server = start_process("--model-dir", str(tmp_path))
    assert server.process.wait(30) == 1
    assert f"{tmp_path}/metadata.json: missing" in server.output()


def test_a_missing_model_directory_is_named_and_exits_1(
    start_process: Callable[..., ProcessServer], tmp_path: Path
) -> None:
    """Given a --model-dir that does not exist, then the server exits 1 naming the directory."""
    missing = tmp_path / "no-such-model"
    server = start_process("--model-dir", str(missing))
    assert server.process.wait(30) == 1
    assert (
        f"cannot load the model: {missing} is not a directory (pass --model-dir, or set "
        "SM_MODEL_DIR)" in server.output()
    )
    assert "Traceback" not in server.output()


def test_a_port_already_taken_is_named_and_exits_1(model_dirs: ModelDirs, tmp_path: Path) -> None:
    """Given a port another socket listens on, then the server exits 1 naming it, no traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "workloads.inference.server"]
        server = ProcessServer(
            [*command, "--model-dir", str(model_dirs["sklearn"]), "--port", str(port)], port
        )
        try:
            status = server.process.wait(30)
            output = server.output()
        finally:
            server.kill()
    assert status == 1
    assert f"cannot listen on 127.0.0.1:{port}: " in output
    assert "; pass --port (or set SAGEMAKER_BIND_TO_PORT) to use another" in output
    assert "Traceback" not in output


def test_cli_defaults_follow_sagemaker(monkeypatch: pytest.MonkeyPatch) -> None:
    # given SageMaker's port variable, when the CLI is parsed without flags
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", "9090")
    monkeypatch.delenv("SM_MODEL_DIR", raising=False)
    args = build_parser().parse_args([])
    # then it serves /opt/ml/model on that port, batching 64 rows for at most 2 ms
    assert (args.model_dir, args.port, args.host) == (Path("/opt/ml/model"), 9090, "127.0.0.1")
    assert (args.max_batch_size, args.max_batch_wait_ms, args.batching) == (64, 2.0, True)
    assert args.max_body_bytes == 6 * 1024 * 1024


# --- health checks while a prediction computes ----------------------------------------------


class GatedModel(CountingModel):
    """Predicts like ``inner``, but each call first waits for ``gate`` (set by the test)."""

    def __init__(self, inner: LoadedModel) -> None:
        super().__init__(inner)
        self.gate = threading.Event()
        self.entered = threading.Event()

    def _predict(self, x: np.ndarray) -> np.ndarray:
        self.entered.set()
        assert self.gate.wait(30), "the test never released the gate"
        return super()._predict(x)


@pytest.mark.parametrize("batching", [True, False])
def test_ping_answers_while_a_prediction_is_still_computing(
    start_server: StartServer, sklearn_model: LoadedModel, batching: bool
) -> None:
    # given a model whose predict blocks until the test releases it
    model = GatedModel(sklearn_model)
    server = start_server(model, batching=batching)
    answers: list[Response] = []
    client = threading.Thread(target=lambda: answers.append(invoke(server.port, json.dumps([ROW]))))
    client.start()
    try:
        assert model.entered.wait(10)
        # when /ping (and /metrics) are asked while that predict is blocked
        ping = request(server.port, "GET", "/ping", timeout=5.0)
        metrics = request(server.port, "GET", "/metrics", timeout=5.0)
        # then they are answered at once, and the prediction is still pending
        assert (ping.status, ping.json()) == (200, {"status": "ok"})
        assert metrics.status == 200
        assert answers == []
    finally:
        model.gate.set()
        client.join(30)
    # and once released, the prediction completes with the model's answer
    assert [(a.status, a.json()) for a in answers] == [
        (200, {"predictions": sklearn_model.predict(np.array([ROW])).tolist()})
    ]


# --- bodies with no values, byte order marks ------------------------------------------------


def npy_body(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


EMPTY_BODIES = [
    (
        npy_body(np.zeros((0, 4))),
        "application/x-npy",
        ".npy: no values to predict on (shape (0, 4))",
    ),
    (npy_body(np.zeros((0,))), "application/x-npy", ".npy: no values to predict on (shape (0,))"),
    (b"[[]]", "application/json", "JSON: no values to predict on (shape (1, 0))"),
    (
        b'{"instances": []}',
        "application/json",
        'JSON: expected a row, a list of rows, or {"instances": [...]}, with at least one row',
    ),
    (b"a,b,c,d\r\n", "text/csv", "CSV body has a header but no rows"),
    (b"\xef\xbb\xbf\n", "text/csv", "CSV body has no rows"),
]


@pytest.mark.parametrize(("body", "content_type", "error"), EMPTY_BODIES)
def test_a_body_with_no_values_is_a_400_naming_its_shape(
    start_server: StartServer,
    sklearn_model: LoadedModel,
    body: bytes,
    content_type: str,
    error: str,
) -> None:
    """Given a serving server, when a body holds no values, then it is a 400 saying so (never a 500 or an empty 200)."""
    server = start_server(sklearn_model)
    answer = invoke(server.port, body, content_type)
    assert (answer.status, answer.json()) == (400, {"error": error})


def test_bodies_with_no_values_batched_with_others_leave_the_others_their_answers(
    start_server: StartServer, model_dirs: ModelDirs
) -> None:
    # given a batching server that waits long enough for concurrent requests to meet
    model = CountingModel(load_model(model_dirs["sklearn"]))
    server = start_server(model, max_batch_wait_ms=200.0)
    rows = models.dataset(rows=4, seed=6)[0]
    requests = [(json.dumps([row]).encode(), "application/json", None) for row in rows.tolist()]
    requests += [(body, content_type, error) for body, content_type, error in EMPTY_BODIES]
    answers: list[Response | None] = [None] * len(requests)
    barrier = threading.Barrier(len(requests))

    def post(index: int) -> None:
        body, content_type, _ = requests[index]
        barrier.wait()
        answers[index] = invoke(server.port, body, content_type)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(requests))]
    # when the rows and the empty bodies arrive together
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # then each row gets its own prediction and each empty body its own 400
    expected_rows = [{"predictions": [label]} for label in model.inner.predict(rows).tolist()]
    assert [a.json() for a in answers[: len(rows)]] == expected_rows  # type: ignore[union-attr]
    assert [(a.status, a.json()) for a in answers[len(rows) :]] == [  # type: ignore[union-attr]
        (400, {"error": error}) for _, _, error in EMPTY_BODIES
    ]
    assert sum(model.calls) == len(rows)  # the model never saw an empty block


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\xef\xbb\xbf" + json.dumps([ROW]).encode(), "application/json"),
        (b"\xef\xbb\xbf" + ",".join(map(str, ROW)).encode(), "text/csv"),
        (b"\xef\xbb\xbfa,b,c,d\r\n" + ",".join(map(str, ROW)).encode(), "text/csv"),
    ],
)
def test_a_utf8_bom_is_accepted_for_json_and_csv_alike(
    start_server: StartServer, sklearn_model: LoadedModel, body: bytes, content_type: str
) -> None:
    """Given a JSON or CSV body starting with a UTF-8 BOM, when posted, then it is predicted as without one."""
    server = start_server(sklearn_model)
    answer = invoke(server.port, body, content_type)
    assert (answer.status, answer.json()) == (200, invoke(server.port, json.dumps([ROW])).json())


# --- framing: bare LF, garbage, incomplete heads ---------------------------------------------


def read_answer(client: socket.socket) -> bytes:
    """Read until the server closes (the socket's own timeout bounds a hang)."""
    received = b""
    while chunk := client.recv(65536):
        received += chunk
    return received


def test_bare_lf_line_endings_are_served_like_crlf(
    start_server: StartServer, sklearn_model: LoadedModel
) -> None:
    # given a request whose lines end in a bare LF (RFC 9112 section 2.2 allows accepting one)
    server = start_server(sklearn_model)
    body = json.dumps([ROW]).encode()
    payload = b"POST /invocations HTTP/1.1\nHost: x\nContent-Length: %d\n\n%s" % (len(body), body)
    payload += b"GET /ping HTTP/1.1\nConnection: close\n\n"
    # when it is sent (without closing our side), then both requests are answered
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall(payload)
        responses = split_responses(read_answer(client))
    assert [(status, json.loads(answer)) for status, _, answer in responses] == [
        (200, {"predictions": sklearn_model.predict(np.array([ROW])).tolist()}),
        (200, {"status": "ok"}),
    ]


@pytest.mark.parametrize(
    ("payload", "status", "error"),
    [
        # none of these ends its head: the server must not wait for the rest
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, "malformed request line"),  # TLS
        (b"GET /ping HTTP/1.1 extra\n", 400, "malformed request line"),
        (b"GET /pi ng", 400, "malformed request line"),
        (b"GET /ping FTP/1", 400, "malformed request line"),
        (b"GET /ping HTTP/1.1\r\nHost: x\rInjected: y\r\n", 400, "malformed header line"),
        (b"GET /ping HTTP/1.1\r\nBad Name: x\r\n", 400, "malformed header line"),
        (b"GET /ping HTTP/1.1\r\n folded: x", 400, "malformed header line"),
        (b"GET /ping HTTP/1.1\r\nX: " + b"y" * 70_000, 431, "request head is too large"),
    ],
)
def test_broken_framing_is_refused_before_the_head_ends(
    start_server: StartServer, sklearn_model: LoadedModel, payload: bytes, status: int, error: str
) -> None:
    # given a client that sends a broken start of a request and keeps its side open
    server = start_server(sklearn_model)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall(payload)
        # when the server reads it, then the refusal comes without waiting for more (or a 408)
        [(got, headers, body)] = split_responses(read_answer(client))
    assert (got, json.loads(body), headers["connection"]) == (status, {"error": error}, "close")


def test_a_request_cut_short_by_the_client_gets_a_400(
    start_server: StartServer, sklearn_model: LoadedModel
) -> None:
    """Given half a head then the client's FIN, when the server sees the end, then it answers 400."""
    server = start_server(sklearn_model)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall(b"POST /invocations HTTP/1.1\r\nContent-Le")
        client.shutdown(socket.SHUT_WR)
        [(status, _, body)] = split_responses(read_answer(client))
    assert (status, json.loads(body)) == (
        400,
        {"error": "the connection ended before the request was complete"},
    )


# --- graceful shutdown ------------------------------------------------------------------------


def posted(body: bytes, *, close: bool = False) -> bytes:
    """One raw POST /invocations."""
    return b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n%s" % (
        len(body),
        b"Connection: close\r\n" if close else b"",
        body,
    )


def test_a_drain_answers_the_request_in_flight_and_those_already_received(
    start_server: StartServer, sklearn_model: LoadedModel
) -> None:
    # given two pipelined requests on one connection, the first held in predict
    model = GatedModel(sklearn_model)
    server = start_server(model, batching=False, drain_idle_seconds=0.0)
    body = json.dumps([ROW]).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall(posted(body) * 2)
        assert model.entered.wait(10)
        # when the server starts draining, and then the prediction completes
        draining = asyncio.run_coroutine_threadsafe(server.server.drain(), server.loop)
        server.call(lambda: None)  # the drain has begun: the loop ran its first step
        assert server.server.draining
        model.gate.set()
        responses = split_responses(read_answer(client))
        draining.result(30)
    # then both are answered, and only the last says the connection closes
    expected = {"predictions": sklearn_model.predict(np.array([ROW])).tolist()}
    assert [(status, json.loads(answer)) for status, _, answer in responses] == [
        (200, expected)
    ] * 2
    assert [headers.get("connection") for _, headers, _ in responses] == [None, "close"]


def test_sigterm_answers_a_request_sent_on_a_kept_alive_connection_after_it(
    start_process: Callable[..., ProcessServer], model_dirs: ModelDirs
) -> None:
    import http.client

    # given a server that keeps idle connections 30 s into a drain, and a kept-alive connection
    server = start_process(
        "--model-dir",
        str(model_dirs["sklearn"]),
        "--drain-idle-seconds",
        "30",
        "--drain-seconds",
        "60",
    )
    server.wait_ready()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", "/ping")
        first = connection.getresponse()
        assert (first.status, first.getheader("Connection")) == (200, None)
        first.read()
        # when SIGTERM has stopped the listener (new connections are refused)
        server.terminate()
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
            except OSError:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the server kept accepting after SIGTERM")
        # and a request comes on the kept-alive connection
        connection.request(
            "POST", "/invocations", json.dumps([ROW]), {"Content-Type": "application/json"}
        )
        answer = connection.getresponse()
        # then it is answered, saying the connection closes
        assert (answer.status, answer.getheader("Connection")) == (200, "close")
        assert json.loads(answer.read()) == {"predictions": ["yes"]}
    finally:
        connection.close()
    # and with no connection left, the server exits 0 (long before its 30 s idle allowance)
    assert server.process.wait(20) == 0, server.output()


def test_sigterm_closes_idle_kept_alive_connections_cleanly(
    start_process: Callable[..., ProcessServer], model_dirs: ModelDirs
) -> None:
    """Given an idle kept-alive connection, when SIGTERM comes, then it is closed (EOF) and the server exits 0."""
    server = start_process("--model-dir", str(model_dirs["sklearn"]), "--drain-idle-seconds", "0")
    server.wait_ready()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
        server.terminate()
        assert client.recv(65536) == b""
    assert server.process.wait(20) == 0, server.output()


def test_a_half_sent_request_cannot_hold_the_drain_past_its_bound(
    start_process: Callable[..., ProcessServer], model_dirs: ModelDirs
) -> None:
    # given a 1 s drain bound and a client holding a request whose body never finishes
    server = start_process("--model-dir", str(model_dirs["sklearn"]), "--drain-seconds", "1")
    server.wait_ready()
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as client:
        client.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[[0.5")
        # when SIGTERM comes
        server.terminate()
        # then at the bound the client is told the server is going (a 503, not the 30 s 408)
        [(status, headers, body)] = split_responses(read_answer(client))
    assert (status, json.loads(body), headers["connection"]) == (
        503,
        {"error": "server is shutting down"},
        "close",
    )
    assert server.process.wait(20) == 0, server.output()


def test_the_drain_bounds_come_from_flags_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given no flags and no variable, then the contract's defaults
    monkeypatch.delenv("ML_PLATFORM_DRAIN_SECONDS", raising=False)
    args = build_parser().parse_args([])
    assert (args.drain_seconds, args.drain_idle_seconds) == (10.0, 1.0)
    # given the variable, then it sets the drain bound; a flag still wins
    monkeypatch.setenv("ML_PLATFORM_DRAIN_SECONDS", "4.5")
    assert build_parser().parse_args([]).drain_seconds == 4.5
    assert build_parser().parse_args(["--drain-seconds", "2"]).drain_seconds == 2.0


def test_a_drain_bound_that_is_not_a_number_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a variable that is not a number
    monkeypatch.setenv("ML_PLATFORM_DRAIN_SECONDS", "soon")
    # when the CLI is built, then it stops with one line naming the variable and the value
    with pytest.raises(SystemExit) as stopped:
        build_parser()
    assert str(stopped.value) == (
        "ml-platform-serve: $ML_PLATFORM_DRAIN_SECONDS: 'soon' is not a number >= 0"
    )
    # and a negative flag is refused by argparse, naming the flag
    monkeypatch.delenv("ML_PLATFORM_DRAIN_SECONDS")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--drain-seconds", "-1"])
    assert "argument --drain-seconds: must be >= 0, not -1" in capsys.readouterr().err


# --- labels or probabilities ------------------------------------------------------------------


def test_a_request_gets_labels_by_default_and_probabilities_when_it_asks(
    start_server: StartServer, sklearn_model: LoadedModel
) -> None:
    # given a server with the sklearn classifier (its metadata's default output: labels)
    server = start_server(sklearn_model)
    rows = models.dataset(rows=3, seed=6)[0]
    body = json.dumps(rows.tolist())
    # when a request asks for nothing / then labels, in plain JSON
    labels = invoke(server.port, body)
    assert labels.json() == {"predictions": sklearn_model.predict(rows).tolist()}
    assert labels.headers["content-type"] == "application/json"
    # when it asks for probabilities (JSON or CSV) / then one per class, and the type says so
    probabilities = invoke(server.port, body, accept="application/json; output=probability")
    assert probabilities.status == 200
    assert probabilities.json() == {"predictions": sklearn_model.predict_proba(rows).tolist()}
    assert probabilities.headers["content-type"] == "application/json; output=probability"
    as_csv = invoke(server.port, body, accept="text/csv; output=probability")
    assert as_csv.headers["content-type"] == "text/csv; output=probability"
    assert [
        [float(value) for value in line.split(",")] for line in as_csv.body.decode().split()
    ] == sklearn_model.predict_proba(rows).tolist()


class CountingProbabilities(CountingModel):
    """Also records the rows of every predict_proba call."""

    def __init__(self, inner: LoadedModel) -> None:
        super().__init__(inner)
        self.probability_calls: list[int] = []

    @property
    def has_predict_proba(self) -> bool:
        return True

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        self.probability_calls.append(x.shape[0])
        return self.inner.predict_proba(x)


def test_the_other_output_is_predicted_alone_and_the_default_is_batched(
    start_server: StartServer, model_dirs: ModelDirs
) -> None:
    # given a batching server with the labels-by-default classifier
    model = CountingProbabilities(load_model(model_dirs["sklearn"]))
    server = start_server(model, max_batch_wait_ms=200.0)
    rows = models.dataset(rows=2, seed=7)[0]
    # when each row asks for probabilities
    for row in rows:
        answer = invoke(server.port, json.dumps([row.tolist()]), accept="*/*; output=probability")
        assert answer.json() == {"predictions": model.inner.predict_proba(row[None, :]).tolist()}
    # then each was one predict_proba call of its own, and labels were never predicted
    assert (model.probability_calls, model.calls) == ([1, 1], [])
    # while requests for the default output still go through the batcher's predict
    post_concurrently(server.port, rows)
    assert sum(model.calls) == 2


def test_a_model_whose_default_is_probability_answers_probabilities(
    start_server: StartServer, model_dirs: ModelDirs, tmp_path: Path
) -> None:
    # given the sklearn classifier saved with default_output probability
    from workloads.model_layout import ModelMetadata, save_model

    source = load_model(model_dirs["sklearn"])
    metadata = ModelMetadata(**{**source.metadata.to_dict(), "default_output": "probability"})
    save_model(tmp_path, source.estimator, metadata)  # type: ignore[attr-defined]
    server = start_server(load_model(tmp_path))
    rows = models.dataset(rows=2, seed=8)[0]
    # then a plain request gets probabilities, unmarked; asking for labels gets them, marked
    plain = invoke(server.port, json.dumps(rows.tolist()))
    assert plain.json() == {"predictions": source.predict_proba(rows).tolist()}
    assert plain.headers["content-type"] == "application/json"
    labels = invoke(server.port, json.dumps(rows.tolist()), accept="application/json;output=label")
    assert labels.json() == {"predictions": source.predict(rows).tolist()}
    assert labels.headers["content-type"] == "application/json; output=label"


@pytest.mark.parametrize(
    ("model_name", "accept", "error"),
    [
        ("sklearn-regressor", "application/json; output=probability", "this regression model gives no probabilities; ask for output=label"),
        ("sklearn", "application/json; output=margin", "output 'margin' is not one of label, probability (Accept: application/json; output=probability)"),
    ],
)  # fmt: skip
def test_an_output_the_model_cannot_give_is_a_406(
    start_server: StartServer, model_dirs: ModelDirs, model_name: str, accept: str, error: str
) -> None:
    server = start_server(load_model(model_dirs[model_name]))
    answer = invoke(server.port, json.dumps([ROW]), accept=accept)
    assert (answer.status, answer.json()) == (406, {"error": error})
