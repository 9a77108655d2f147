"""A lean HTTP/1.1 inference server implementing SageMaker's container contract.

    python -m workloads.inference.server --model-dir DIR [--host 127.0.0.1] [--port 8080]
        [--max-batch-size 64] [--max-batch-wait-ms 2] [--no-batching] [--max-body-bytes N]
        [--drain-seconds 10] [--drain-idle-seconds 1]

(also installed as ``ml-platform-serve``; the serving image's ``serve`` runs it on 0.0.0.0:8080).

- ``GET /ping``: 200 once the model is loaded, 503 before (the socket is open at once, so
  SageMaker's 250 ms connect check passes while a large model loads). Answered on the event loop
  while predictions run on a worker thread, so health checks stay fast whatever the load.
- ``POST /invocations``: JSON, CSV or NPY in, JSON or CSV out per ``Accept`` (JSON by default).
  Every response carries ``X-Model-Time``, the seconds its batch spent in predict.
- ``GET /metrics``: Prometheus text format. ``GET /execution-parameters``: batch transform hints.
- Bad input is a 4xx with a short JSON ``{"error": ...}``, never a traceback: 400 malformed,
  404 unknown path, 405 wrong method (with ``Allow``), 406 unsupported Accept, 413 body over the
  limit (judged from Content-Length before the body is read), 415 unsupported Content-Type.
  Broken framing is refused as soon as it shows: a request line or header that cannot be HTTP
  is a 400 before the head is even complete, a head over ``MAX_HEAD_BYTES`` a 431. Lines may end
  in a bare LF (RFC 9112 section 2.2 lets a recipient accept one); a bare CR is a 400.
- SIGTERM or SIGINT: stop accepting; answer the requests in flight and those already received
  (the last answer on each connection says ``Connection: close``); keep idle keep-alive
  connections open ``--drain-idle-seconds`` so a request racing the signal is answered, then
  close them; after ``--drain-seconds`` at most, answer what is still owed (including half-sent
  requests) with a 503 and exit 0. ``workloads.inference.contract`` holds the defaults.

Why hand-written on asyncio.Protocol rather than a framework: the request path is one callback
per read, one header scan and one ``write`` per response, with concurrent requests micro-batched
into one predict call (``workloads.inference.batching``). Predict runs on one worker thread
(``batching.PredictWorker``): on the loop thread, a 1.5 s random forest batch held ``/ping``
for 1.5 s, which a liveness probe reads as a dead server. The hand-off costs throughput on tiny
models (benchmarks/serving_health_under_load.py measures both); requests that arrive during a
predict are still read at once and merged into the next batch. uvloop is used when installed;
the stdlib loop is the fallback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workloads.inference import codecs, contract
from workloads.inference.batching import MicroBatcher, PredictWorker
from workloads.inference.errors import InferenceError
from workloads.inference.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from workloads.inference.metrics import ServerMetrics
from workloads.model_layout import LoadedModel, load_model

log = logging.getLogger("workloads.inference.server")  # the same name under `python -m`

MAX_HEAD_BYTES = 64 * 1024
"""Request line plus headers; more is a 431."""
_PARTIAL_CHECK_BYTES = 1024
"""How much of an unfinished request line is checked on each read (bounded: a client sending one
byte at a time must not make each read cost the whole line)."""
KEEP_ALIVE_SECONDS = 75.0
"""An idle keep-alive connection is closed after this long."""
REQUEST_SECONDS = 30.0
"""A request whose head or body stops arriving for this long gets a 408 (a well-formed prefix
that stalls; a malformed one is refused at once)."""
LINGER_SECONDS = 2.0
"""After refusing a request we close our side and read (and drop) the rest for this long, so the
client sees our answer rather than a reset."""

_REASONS = {
    200: b"OK",
    400: b"Bad Request",
    404: b"Not Found",
    405: b"Method Not Allowed",
    406: b"Not Acceptable",
    408: b"Request Timeout",
    411: b"Length Required",
    413: b"Content Too Large",
    415: b"Unsupported Media Type",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
}
_STATUS_LINES = {code: b"HTTP/1.1 %d %s\r\n" % (code, reason) for code, reason in _REASONS.items()}
_MEDIA = {codecs.JSON: b"application/json", codecs.CSV: b"text/csv"}
_PATHS = {
    b"/invocations": "/invocations",
    b"/ping": "/ping",
    b"/metrics": "/metrics",
    b"/execution-parameters": "/execution-parameters",
}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# RFC 9110 section 5.6.2: a token (method, field name) is one or more tchars.
_TCHARS = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_VISIBLE = bytes(range(0x21, 0x7F))  # a request-target has no spaces, controls or non-ASCII
_VERSIONS = (b"HTTP/1.1", b"HTTP/1.0")
_MALFORMED_LINE = "malformed request line"
_MALFORMED_HEADER = "malformed header line"
_SHUTTING_DOWN = "server is shutting down"


@dataclass(frozen=True)
class ServerConfig:
    """How to serve: where the model is, where to listen, how to batch, what to accept."""

    model_dir: Path
    host: str = "127.0.0.1"
    port: int = contract.DEFAULT_PORT
    max_batch_size: int = 64
    """Most rows in one predict call."""
    max_batch_wait_ms: float = 2.0
    """Longest a request waits for others to join its batch."""
    batching: bool = True
    max_body_bytes: int = codecs.DEFAULT_MAX_BODY_BYTES
    """Largest request body; a bigger Content-Length is a 413 before the body is read."""
    drain_seconds: float = contract.DEFAULT_DRAIN_SECONDS
    """After SIGTERM, the longest wait for answers still owed (see ``contract``)."""
    drain_idle_seconds: float = contract.DEFAULT_DRAIN_IDLE_SECONDS
    """After SIGTERM, how long idle keep-alive connections may still bring a request."""


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _request_line_problem(line: bytes, complete: bool) -> str | None:
    """What is wrong with a request line (or, not ``complete``, with its beginning), if anything."""
    parts = line.split(b" ")
    if len(parts) > 3 or (complete and len(parts) != 3):
        return _MALFORMED_LINE
    method = parts[0]
    if method.translate(None, _TCHARS) or ((complete or len(parts) > 1) and not method):
        return _MALFORMED_LINE
    if len(parts) > 1:
        target = parts[1]
        if target.translate(None, _VISIBLE) or ((complete or len(parts) > 2) and not target):
            return _MALFORMED_LINE
    if len(parts) > 2:
        version = parts[2]
        if complete and version not in _VERSIONS:
            # A 400 rather than 505: bad input is never answered with a 5xx.
            if version.startswith(b"HTTP/") and not version[5:].translate(None, b"0123456789."):
                return "only HTTP/1.0 and HTTP/1.1 are served"
            return _MALFORMED_LINE
        if not complete and not version.startswith(b"HTTP/"[: len(version)]):
            return _MALFORMED_LINE
    return None


def _header_name_problem(name: bytes) -> str | None:
    # No space before the colon (RFC 9112 section 5.1), and no obsolete line folding either.
    return _MALFORMED_HEADER if not name or name.translate(None, _TCHARS) else None


def _header_line_problem(line: bytes) -> str | None:
    """What is wrong with one header line (its CR already stripped), if anything."""
    name, colon, value = line.partition(b":")
    # RFC 9110 section 5.5: CR and NUL in a field value must be refused (or replaced).
    if not colon or _header_name_problem(name) or b"\r" in value or b"\0" in value:
        return _MALFORMED_HEADER
    return None


def _head_end(buffer: bytearray) -> tuple[int, int]:
    """Where the head ends (its blank line) and the body starts; (-1, -1) if not yet received.

    Lines end in CRLF or a bare LF (RFC 9112 section 2.2), so the blank line is LF CR LF or
    LF LF. Only the first ``MAX_HEAD_BYTES`` are searched.
    """
    limit = MAX_HEAD_BYTES + 3
    crlf = buffer.find(b"\n\r\n", 0, limit)
    lf = buffer.find(b"\n\n", 0, crlf + 1 if crlf >= 0 else limit)
    if lf >= 0:
        return lf, lf + 2
    if crlf >= 0:
        return crlf, crlf + 3
    return -1, -1


class _Head:
    """A parsed request line and the headers the server acts on."""

    __slots__ = (
        "accept",
        "body_start",
        "content_type",
        "expect_continue",
        "keep_alive",
        "length",
        "method",
        "target",
        "total",
    )

    def __init__(self, head: bytes, body_start: int) -> None:
        lines = head.split(b"\n")
        request_line = lines[0].removesuffix(b"\r")
        problem = _request_line_problem(request_line, complete=True)
        if problem:
            raise _BadRequest(400, problem)
        self.method, self.target, version = request_line.split(b" ")
        length: int | None = None
        content_type = accept = None
        connection = expect = b""
        for raw in lines[1:]:
            line = raw.removesuffix(b"\r")
            problem = _header_line_problem(line)
            if problem:
                raise _BadRequest(400, problem)
            name, _, value = line.partition(b":")
            name = name.lower()
            value = value.strip(b" \t")
            if name == b"content-length":
                # Refuse what int() would take but HTTP does not (signs, spaces, huge strings).
                if not value.isdigit():
                    raise _BadRequest(400, "invalid Content-Length")
                given = int(value) if len(value) < 19 else sys.maxsize
                if length is not None and given != length:
                    raise _BadRequest(400, "conflicting Content-Length headers")
                length = given
            elif name == b"content-type":
                content_type = value
            elif name == b"accept":
                accept = value if accept is None else accept + b", " + value
            elif name == b"connection":
                connection = value.lower()
            elif name == b"expect":
                expect = value.lower()
            elif name == b"transfer-encoding":
                raise _BadRequest(411, "chunked bodies are not accepted; send Content-Length")
        self.content_type = content_type.decode("latin-1") if content_type else None
        self.accept = accept.decode("latin-1") if accept else None
        if version == b"HTTP/1.1":
            self.keep_alive = b"close" not in connection
        else:
            self.keep_alive = b"keep-alive" in connection
        self.expect_continue = expect == b"100-continue"
        self.length = length or 0
        self.body_start = body_start
        self.total = self.body_start + self.length


def _parse_head(buffer: bytearray) -> _Head | None:
    """The head at the start of ``buffer`` if it is all there (raises ``_BadRequest``)."""
    end, body_start = _head_end(buffer)
    if end < 0:
        return None
    if end > MAX_HEAD_BYTES:
        raise _BadRequest(431, "request head is too large")
    return _Head(bytes(buffer[:end]), body_start)


def _drop_leading_blank_lines(buffer: bytearray) -> None:
    # RFC 9112 section 2.2: a server should ignore at least one empty line before a request.
    if buffer[:1] in (b"\r", b"\n"):
        kept = len(buffer.lstrip(b"\r\n"))
        del buffer[: len(buffer) - kept]


class _Connection(asyncio.Protocol):
    """One client connection: parses requests in order, answers each with one write."""

    def __init__(self, server: InferenceServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.head: _Head | None = None
        self.busy = False  # waiting for a prediction: later pipelined requests wait in buffer
        self.processing = False
        self.closed = False
        self.closed_at = 0.0
        self.paused = False
        self.keep_alive = True
        self.peer_done = False  # the client half-closed: close after the answers owed
        self.linger = False  # close by half-closing first (after a refusal)
        self.accept = codecs.JSON
        self.started = 0.0
        self.last_seen = server.clock
        self.scanned = 0  # the unfinished head's complete lines up to here are checked

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Register with the server."""
        self.transport = transport  # type: ignore[assignment]
        self.server.connection_opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget this connection; a prediction still coming for it is dropped."""
        self._mark_closed()
        self.server.connection_lost(self)

    def eof_received(self) -> bool | None:
        """The client sent everything it will: answer what is complete, then close."""
        self.peer_done = True
        if self.busy and not self.closed:
            return True  # keep our side open for the answer being predicted; _resume closes
        if not self.closed and self._holds_partial_request():
            self._refuse(400, "the connection ended before the request was complete")
        # Idle, or lingering after a refusal: every answer owed is written; let asyncio close.
        self._mark_closed()
        return None

    def data_received(self, data: bytes) -> None:
        """Buffer bytes and answer every complete request, in order."""
        if self.closed:
            return  # lingering after a refusal: drop what the client still sends
        self.last_seen = self.server.clock
        self.buffer += data
        if not self.busy:
            self._process()
        elif len(self.buffer) > self.server.max_buffer and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    # Parsing

    def _process(self) -> None:
        if self.processing:
            return  # a reply made inside the loop below; the loop picks up the next request
        self.processing = True
        try:
            buffer = self.buffer
            while buffer and not self.busy and not self.closed:
                head = self.head
                if head is None:
                    _drop_leading_blank_lines(buffer)
                    try:
                        head = _parse_head(buffer)
                        if head is None:
                            self._check_partial_head()
                            return
                    except _BadRequest as error:
                        self._refuse(error.status, error.message)
                        return
                    self.scanned = 0
                    limit = self.server.config.max_body_bytes
                    if head.length > limit:
                        self._refuse(
                            413, f"body of {head.length} bytes is over the limit of {limit} bytes"
                        )
                        return
                    if head.expect_continue and len(buffer) < head.total:
                        self.transport.write(_CONTINUE)
                    self.head = head
                if len(buffer) < head.total:
                    return
                body = bytes(buffer[head.body_start : head.total])
                del buffer[: head.total]
                self.head = None
                self._dispatch(head, body)
        finally:
            self.processing = False

    def _check_partial_head(self) -> None:
        """Refuse an unfinished head as soon as what has arrived cannot be HTTP (raises).

        Each complete line is checked once; of the line still arriving, only the first
        ``_PARTIAL_CHECK_BYTES``. A well-formed prefix waits (``REQUEST_SECONDS`` at most).
        """
        buffer = self.buffer
        if len(buffer) > MAX_HEAD_BYTES:
            raise _BadRequest(431, "request head is too large")
        while (newline := buffer.find(b"\n", self.scanned)) >= 0:
            line = bytes(buffer[self.scanned : newline]).removesuffix(b"\r")
            if self.scanned == 0:
                problem = _request_line_problem(line, complete=True)
            else:
                problem = _header_line_problem(line)
            if problem:
                raise _BadRequest(400, problem)
            self.scanned = newline + 1
        tail = bytes(buffer[self.scanned : self.scanned + _PARTIAL_CHECK_BYTES])
        tail = tail.removesuffix(b"\r")
        if self.scanned == 0:
            problem = _request_line_problem(tail, complete=False)
        else:
            name, colon, _ = tail.partition(b":")
            problem = _header_name_problem(name) if colon or name.translate(None, _TCHARS) else None
        if problem:
            raise _BadRequest(400, problem)

    def _holds_partial_request(self) -> bool:
        """Whether part of a request has arrived and is not answered (blank lines aside)."""
        return self.head is not None or bool(self.buffer.strip(b"\r\n"))

    def _next_request_received(self) -> bool:
        """Whether the buffer holds another whole request (or a broken one, owed its 400)."""
        buffer = self.buffer.lstrip(b"\r\n")
        try:
            head = _parse_head(buffer)
        except _BadRequest:
            return True
        return head is not None and len(buffer) >= head.total

    def _dispatch(self, head: _Head, body: bytes) -> None:
        self.keep_alive = head.keep_alive
        self.started = time.perf_counter()
        target = head.target
        if b"?" in target:
            target = target.partition(b"?")[0]
        path = _PATHS.get(target)
        method = head.method
        if path == "/invocations":
            if method == b"POST":
                self._invocations(head, body)
                return
            allow = b"POST"
        elif path == "/ping":
            if method == b"GET":
                if self.server.model is None:
                    self._error(503, "model is not loaded yet", path)
                else:
                    self._reply(200, b'{"status": "ok"}', _MEDIA[codecs.JSON], path)
                return
            allow = b"GET"
        elif path == "/metrics":
            if method == b"GET":
                self._reply(200, self.server.render_metrics(), METRICS_CONTENT_TYPE.encode(), path)
                return
            allow = b"GET"
        elif path == "/execution-parameters":
            if method == b"GET":
                self._reply(200, self.server.execution_parameters(), _MEDIA[codecs.JSON], path)
                return
            allow = b"GET"
        else:
            self._error(404, "no such path; use POST /invocations or GET /ping", "other")
            return
        shown = method.decode("latin-1")[:20]
        self._error(405, f"{path} does not take {shown!r}", path, b"Allow: %s\r\n" % allow)

    # Answers

    def _invocations(self, head: _Head, body: bytes) -> None:
        server = self.server
        model = server.model
        if model is None:
            self._error(503, "model is not loaded yet", "/invocations")
            return
        try:
            content_type = codecs.content_type_of(head.content_type)
            self.accept = codecs.accept_of(head.accept)
            rows = codecs.align(codecs.decode(body, content_type), model.metadata.feature_names)
        except InferenceError as error:
            self._error(error.status, error.message, "/invocations")
            return
        self.busy = True
        if server.batcher is not None:
            server.batcher.submit(rows, self)
        else:
            server.worker.run(lambda: _timed_predict(model, rows), self._predicted)

    def _predicted(self, result: object, error: Exception | None) -> None:
        """Back from the worker (no batching): answer with ``(predictions, seconds)`` or a 500."""
        if error is not None:
            log.error("predict failed", exc_info=error)
            self.prediction_failed(error)
            return
        predictions, seconds = result  # type: ignore[misc]
        self.prediction_ready(predictions, seconds)

    def prediction_ready(self, predictions: np.ndarray, seconds: float) -> None:
        """Answer the request in flight with its predictions."""
        if not self.closed:
            try:
                body = codecs.encode(predictions, self.accept)
            except Exception:
                log.exception("cannot encode predictions")
                self._error(500, "cannot encode the predictions", "/invocations")
            else:
                self._reply(
                    200,
                    body,
                    _MEDIA[self.accept],
                    "/invocations",
                    b"X-Model-Time: %.6f\r\n" % seconds,
                )
        self._resume()

    def prediction_failed(self, error: Exception) -> None:
        """Answer the request in flight with a 500 (the model raised; details are in the log)."""
        if not self.closed:
            self._error(500, "prediction failed", "/invocations")
        self._resume()

    def _resume(self) -> None:
        self.busy = False
        if self.closed:
            return
        if self.paused:
            self.paused = False
            self.transport.resume_reading()
        if self.buffer and not self.processing:
            self._process()
        if self.peer_done and not self.busy and not self.closed:
            if self._holds_partial_request():
                self._refuse(400, "the connection ended before the request was complete")
            else:
                self.close()

    def _error(self, status: int, message: str, path: str, extra: bytes = b"") -> None:
        body = json.dumps({"error": message}).encode()
        self._reply(status, body, _MEDIA[codecs.JSON], path, extra)

    def _reply(
        self, status: int, body: bytes, content_type: bytes, path: str, extra: bytes = b""
    ) -> None:
        server = self.server
        # Draining: answer what was already received, and say close on the last answer.
        keep_alive = self.keep_alive and not (server.draining and not self._next_request_received())
        self.transport.write(
            b"%s%sContent-Type: %s\r\nContent-Length: %d\r\n%s%s\r\n%s"
            % (
                _STATUS_LINES[status],
                server.date_header,
                content_type,
                len(body),
                extra or b"X-Model-Time: 0\r\n",
                b"" if keep_alive else b"Connection: close\r\n",
                body,
            )
        )
        metrics = server.metrics
        metrics.count_request(path, status)
        if path == "/invocations":
            metrics.request_seconds.observe(time.perf_counter() - self.started)
        if not keep_alive:
            self.close(linger=self.linger)

    def _refuse(self, status: int, message: str) -> None:
        """Answer a request we will not read to its end, then close."""
        self.keep_alive = False
        self.linger = True
        self._error(status, message, "other")

    # Closing

    def _mark_closed(self) -> None:
        if not self.closed:
            self.closed = True
            self.closed_at = self.server.clock
            self.server.connection_closing(self)

    def close(self, linger: bool = False) -> None:
        """Close after what was written; with ``linger``, half-close and drain the client first."""
        if self.closed or self.transport is None:
            return
        self._mark_closed()
        self.buffer.clear()
        transport = self.transport
        if linger and transport.can_write_eof():
            transport.write_eof()  # the sweep closes it after LINGER_SECONDS at the latest
        else:
            transport.close()

    def check_timeouts(self, now: float) -> None:
        """Close this connection if it idled, stalled or lingered too long (called each second)."""
        if self.closed:
            if now - self.closed_at > LINGER_SECONDS and self.transport is not None:
                self.transport.close()
        elif self.busy:
            return
        elif self.buffer or self.head is not None:
            if now - self.last_seen > REQUEST_SECONDS:
                self.keep_alive = False
                self._refuse(408, "request did not arrive in time")
        elif now - self.last_seen > KEEP_ALIVE_SECONDS:
            self.close()

    @property
    def idle(self) -> bool:
        """Open, between requests: nothing in flight, nothing received."""
        return not (self.closed or self.busy or self._holds_partial_request())

    def abandon(self) -> None:
        """The drain bound passed: a 503 to the request still owed an answer, then close."""
        if not self.closed and (self.busy or self._holds_partial_request()):
            self.keep_alive = False
            self._error(503, _SHUTTING_DOWN, "other")  # closes; a late prediction is dropped
        if self.transport is not None:
            self.transport.close()


def _timed_predict(model: LoadedModel, rows: np.ndarray) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    predictions = model.predict(rows)
    return predictions, time.perf_counter() - started


def _load_and_warm(model_dir: Path) -> LoadedModel:
    model = load_model(model_dir)
    # The first call pays for lazy imports and allocations: pay it before /ping says 200.
    try:
        model.predict(np.zeros((1, len(model.metadata.feature_names))))
    except Exception:
        log.warning("warm-up prediction on a row of zeros failed", exc_info=True)
    return model


class InferenceServer:
    """Listens, tracks connections, owns the model, the batcher and the metrics."""

    def __init__(self, config: ServerConfig, model: LoadedModel | None = None) -> None:
        self.config = config
        self.metrics = ServerMetrics()
        self.model: LoadedModel | None = None
        self.batcher: MicroBatcher | None = None
        self.draining = False
        self.worker = PredictWorker()
        self.clock = time.monotonic()
        self.date_header = b""
        # A busy connection stops reading once it holds this much unread pipelined input.
        self.max_buffer = 2 * config.max_body_bytes + MAX_HEAD_BYTES
        self._connections: set[_Connection] = set()
        self._open = 0  # connections not yet closing: the most requests that can be in flight
        self._listener: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._tick()
        if model is not None:
            self.set_model(model)

    # Lifecycle

    async def start(self) -> None:
        """Open the listening socket (answers /ping with 503 until a model is set)."""
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(
            lambda: _Connection(self),
            self.config.host,
            self.config.port,
            reuse_address=True,
            backlog=1024,
        )
        self._sweeper = loop.create_task(self._sweep())

    @property
    def port(self) -> int:
        """The port listened on (useful with port 0)."""
        assert self._listener is not None
        return int(self._listener.sockets[0].getsockname()[1])

    def set_model(self, model: LoadedModel) -> None:
        """Serve ``model`` from now on; /ping answers 200."""
        if self.config.batching:
            self.batcher = MicroBatcher(
                model.predict,
                max_rows=self.config.max_batch_size,
                max_wait=self.config.max_batch_wait_ms / 1000.0,
                waiting_limit=lambda: self._open,
                metrics=self.metrics,
                worker=self.worker,
            )
        self.model = model

    async def load(self, model_dir: Path) -> LoadedModel:
        """Load (and warm up) the model on the worker thread, so the loop keeps answering /ping.

        Not the loop's default executor: that is joined when the loop closes, so a SIGTERM
        during a long load would wait for the load; the worker's thread is a daemon.
        """
        loaded: asyncio.Future[LoadedModel] = asyncio.get_running_loop().create_future()

        def done(model: object, error: Exception | None) -> None:
            if loaded.done():
                return  # the load was given up (SIGTERM)
            if error is not None:
                loaded.set_exception(error)
            else:
                loaded.set_result(model)  # type: ignore[arg-type]

        self.worker.run(lambda: _load_and_warm(model_dir), done)
        model = await loaded
        self.set_model(model)
        return model

    async def drain(self, timeout: float | None = None) -> None:
        """Stop accepting, answer what is owed, close every connection; ``timeout`` bounds it.

        Requests in flight and those already received are answered (the last answer on each
        connection says ``Connection: close``). Idle keep-alive connections stay open for
        ``drain_idle_seconds``, so a request sent as the signal came is answered, then close.
        At ``timeout`` (default ``config.drain_seconds``) whatever is still owed, half-sent
        requests included, gets a 503 and every connection is closed.
        """
        config = self.config
        started = time.monotonic()
        deadline = started + (config.drain_seconds if timeout is None else timeout)
        idle_until = min(started + config.drain_idle_seconds, deadline)
        self.draining = True
        if self._listener is not None:
            self._listener.close()
        if self.batcher is not None:
            self.batcher.flush()
        while True:
            now = time.monotonic()
            open_connections = [c for c in self._connections if not c.closed]
            if not open_connections or now >= deadline:
                break
            if now >= idle_until:
                for connection in open_connections:
                    if connection.idle:
                        connection.close()
            await asyncio.sleep(0.01)
        for connection in list(self._connections):
            connection.abandon()
        self.worker.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    # Connections

    def connection_opened(self, connection: _Connection) -> None:
        """A client connected."""
        self._connections.add(connection)
        self._open += 1

    def connection_closing(self, connection: _Connection) -> None:
        """A connection will take no more requests."""
        self._open -= 1

    def connection_lost(self, connection: _Connection) -> None:
        """A connection is gone."""
        self._connections.discard(connection)

    def _tick(self) -> None:
        self.clock = time.monotonic()
        self.date_header = b"Date: %s\r\n" % email.utils.formatdate(usegmt=True).encode()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self._tick()
            for connection in list(self._connections):
                connection.check_timeouts(self.clock)

    # Bodies of the small endpoints

    def render_metrics(self) -> bytes:
        """The /metrics body."""
        return self.metrics.render(
            model_loaded=self.model is not None, connections=len(self._connections)
        )

    def execution_parameters(self) -> bytes:
        """The /execution-parameters body SageMaker batch transform asks for."""
        megabytes = max(1, self.config.max_body_bytes // (1024 * 1024))
        parameters = {
            "MaxConcurrentTransforms": 1,
            "BatchStrategy": "MULTI_RECORD",
            "MaxPayloadInMB": megabytes,
        }
        return json.dumps(parameters).encode()


async def serve(config: ServerConfig) -> int:
    """Listen, load the model, serve until SIGTERM/SIGINT; the process exit status."""
    server = InferenceServer(config)
    await server.start()
    log.info("listening on http://%s:%d", config.host, server.port)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loader = asyncio.create_task(server.load(config.model_dir))
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({loader, stopper}, return_when=asyncio.FIRST_COMPLETED)
    status = 0
    if loader.done():
        error = loader.exception()
        if error is not None:
            log.error("cannot load the model from %s: %s", config.model_dir, error)
            stop.set()
            status = 1
        else:
            metadata = loader.result().metadata
            log.info(
                "serving %s %s model from %s (batching %s)",
                metadata.framework,
                metadata.task,
                config.model_dir,
                "on" if config.batching else "off",
            )
        await stopper
    log.info("stopping: answering requests in flight, then exiting")
    await server.drain()
    if not loader.done():
        loader.cancel()
    return status


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {value}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m workloads.inference.server`` and ``ml-platform-serve``."""
    parser = argparse.ArgumentParser(
        prog="ml-platform-serve",
        description="Serve a model directory (workloads.model_layout) over SageMaker's "
        "container contract: GET /ping, POST /invocations, GET /metrics.",
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=Path(os.environ.get(contract.MODEL_DIR_ENV, contract.DEFAULT_MODEL_DIR)),
        help=f"model directory (default: ${contract.MODEL_DIR_ENV} or "
        f"{contract.DEFAULT_MODEL_DIR})",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get(contract.PORT_ENV) or contract.DEFAULT_PORT),
        help=f"port (default: ${contract.PORT_ENV} or {contract.DEFAULT_PORT})",
    )
    parser.add_argument(
        "--max-batch-size",
        type=_positive_int,
        default=64,
        help="most rows merged into one predict call (default 64)",
    )
    parser.add_argument(
        "--max-batch-wait-ms",
        type=_non_negative_float,
        default=2.0,
        help="longest a request waits for others to join its batch (default 2)",
    )
    parser.add_argument(
        "--no-batching",
        dest="batching",
        action="store_false",
        help="predict each request on its own",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=_positive_int,
        default=codecs.DEFAULT_MAX_BODY_BYTES,
        help=f"largest request body; more is a 413 (default {codecs.DEFAULT_MAX_BODY_BYTES})",
    )
    parser.add_argument(
        "--drain-seconds",
        type=_non_negative_float,
        default=_drain_seconds_default(),
        help="after SIGTERM, longest wait for answers still owed before a 503 and exit "
        f"(default: ${contract.DRAIN_SECONDS_ENV} or {contract.DEFAULT_DRAIN_SECONDS:g})",
    )
    parser.add_argument(
        "--drain-idle-seconds",
        type=_non_negative_float,
        default=contract.DEFAULT_DRAIN_IDLE_SECONDS,
        help="after SIGTERM, how long idle keep-alive connections may still bring a request "
        f"(default {contract.DEFAULT_DRAIN_IDLE_SECONDS:g})",
    )
    return parser


def _drain_seconds_default() -> float:
    text = os.environ.get(contract.DRAIN_SECONDS_ENV)
    if not text:
        return contract.DEFAULT_DRAIN_SECONDS
    try:
        return _non_negative_float(text)
    except (ValueError, argparse.ArgumentTypeError):
        raise SystemExit(
            f"ml-platform-serve: ${contract.DRAIN_SECONDS_ENV}: {text!r} is not a number >= 0"
        ) from None


def _event_loop_factory() -> object | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server until SIGTERM/SIGINT; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = ServerConfig(
        model_dir=args.model_dir,
        host=args.host,
        port=args.port,
        max_batch_size=args.max_batch_size,
        max_batch_wait_ms=args.max_batch_wait_ms,
        batching=args.batching,
        max_body_bytes=args.max_body_bytes,
        drain_seconds=args.drain_seconds,
        drain_idle_seconds=args.drain_idle_seconds,
    )
    with asyncio.Runner(loop_factory=_event_loop_factory()) as runner:  # type: ignore[arg-type]
        return runner.run(serve(config))


if __name__ == "__main__":
    sys.exit(main())
