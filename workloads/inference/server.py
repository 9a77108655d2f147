"""A lean HTTP/1.1 inference server implementing SageMaker's container contract.

    python -m workloads.inference.server --model-dir DIR [--host 127.0.0.1] [--port 8080]
        [--max-batch-size 64] [--max-batch-wait-ms 2] [--no-batching] [--max-body-bytes N]
        [--drain-seconds 10] [--drain-idle-seconds 1] [--capture-dir DIR [--capture-percent P]]
    python -m workloads.inference.server --model-uri models:/churn@champion \
        [--tracking-uri sqlite:///build/mlflow.db] [--model-poll-seconds 30] [...]

(also installed as ``ml-platform-serve``; the serving image's ``serve`` runs it on 0.0.0.0:8080).

- ``GET /ping``: 200 once the model is loaded, 503 before (the socket is open at once, so
  SageMaker's 250 ms connect check passes while a large model loads). Answered on the event loop
  while predictions run on a worker thread, so health checks stay fast whatever the load.
- ``POST /invocations``: JSON, CSV or NPY in, JSON or CSV out per ``Accept`` (JSON by default).
  Labels or probabilities per the Accept header's ``output`` parameter, the model's
  ``default_output`` otherwise (``workloads.inference.handlers.predict_output``); an answer in
  the other output says so in its Content-Type (``application/json; output=probability``, which
  data capture records and the monitor reads) and is predicted on its own, not batched.
  Every response carries ``X-Model-Time``, the seconds its batch spent in predict.
- ``GET /metrics``: Prometheus text format. ``GET /execution-parameters``: batch transform hints.
- Bad input is a 4xx with a short JSON ``{"error": ...}``, never a traceback: 400 malformed,
  404 unknown path, 405 wrong method (with ``Allow``), 406 unsupported Accept, 413 body over the
  limit (judged from Content-Length before the body is read), 415 unsupported Content-Type.
  The HTTP/1.1 side (parsing and framing, keep-alive, timeouts, refusals) is
  ``workloads.inference.http``; this module is the application: routes, the model, batching.
- ``--model-uri``: the model comes from MLflow instead of a directory: ``models:/NAME@ALIAS``,
  ``models:/NAME/VERSION`` or ``runs:/RUN_ID/PATH``, resolved on the tracking store
  (``--tracking-uri`` or ``MLFLOW_TRACKING_URI``) and downloaded as the model directory it is
  (``workloads.lifecycle.model_source``; mlflow is imported only then). With an alias the
  registry is read again every ``--model-poll-seconds``: when the alias has moved, the new
  version is downloaded and loaded on a thread of its own and swapped in between two requests;
  if it cannot be loaded, the error is logged and the current model keeps serving.
- ``--capture-dir``: every answered invocation (or ``--capture-percent`` of them) is written in
  SageMaker's data-capture format (``workloads.inference.data_capture``), which
  ``ml-platform-monitor check --capture DIR`` reads.
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
import functools
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from workloads.inference import codecs, contract
from workloads.inference.batching import MicroBatcher, PredictWorker
from workloads.inference.errors import InferenceError
from workloads.inference.handlers import predict_output, requested_output
from workloads.inference.http import MAX_HEAD_BYTES, HttpConnection, RequestHead
from workloads.inference.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from workloads.inference.metrics import ServerMetrics
from workloads.model_layout import LoadedModel, load_model

if TYPE_CHECKING:
    from workloads.inference.data_capture import CaptureWriter
    from workloads.lifecycle.model_source import ModelSource, Resolved

log = logging.getLogger("workloads.inference.server")  # the same name under `python -m`

_MEDIA = {codecs.JSON: b"application/json", codecs.CSV: b"text/csv"}
DEFAULT_MODEL_POLL_SECONDS = 30.0
"""How often a served alias is read again (``--model-poll-seconds``)."""
MODEL_POLL_BOUNDS = (1.0, 3600.0)
"""The shortest and longest poll interval accepted: the registry is not a hot path."""
_T = TypeVar("_T")
_PATHS = {
    b"/invocations": "/invocations",
    b"/ping": "/ping",
    b"/metrics": "/metrics",
    b"/execution-parameters": "/execution-parameters",
}


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
    model_uri: str = ""
    """An MLflow model URI to serve instead of ``model_dir`` (``models:/churn@champion``)."""
    tracking_uri: str = ""
    """The MLflow tracking store ``model_uri`` is resolved on."""
    model_poll_seconds: float = DEFAULT_MODEL_POLL_SECONDS
    """With ``models:/NAME@ALIAS``: how often the alias is read again."""
    capture_dir: Path | None = None
    """Where captured invocations go (None: no capture)."""
    capture_percent: float = 100.0
    """The share of invocations captured, in percent."""


class _Connection(HttpConnection):
    """A client connection of the inference server: routes requests, answers predictions."""

    def __init__(self, server: InferenceServer) -> None:
        super().__init__(server)
        self.server = server
        self.accept = codecs.JSON
        self.started = 0.0
        self.marked_output = b""  # "; output=..." on an answer not in the model's default output
        self.captured: tuple[bytes, str] | None = None

    def handle(self, head: RequestHead, body: bytes) -> None:
        """Route one request: /invocations, /ping, /metrics, /execution-parameters."""
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

    def _invocations(self, head: RequestHead, body: bytes) -> None:
        server = self.server
        model = server.model
        if model is None:
            self._error(503, "model is not loaded yet", "/invocations")
            return
        try:
            content_type = codecs.content_type_of(head.content_type)
            self.accept = codecs.accept_of(head.accept)
            output = requested_output(model, head.accept)
            metadata = model.metadata
            rows = codecs.align(
                codecs.decode(body, content_type), metadata.feature_names, metadata.feature_types
            )
        except InferenceError as error:
            self._error(error.status, error.message, "/invocations")
            return
        default = output == model.metadata.default_output
        self.marked_output = b"" if default else codecs.output_parameter(output).encode()
        if server.capture is not None:
            self.captured = (body, content_type)
        self.busy = True
        if server.batcher is not None and default:
            server.batcher.submit(rows, self)
        else:
            server.worker.run(lambda: _timed_predict(model, rows, output), self._predicted)

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
                media = _MEDIA[self.accept] + self.marked_output
                self._reply(200, body, media, "/invocations", b"X-Model-Time: %.6f\r\n" % seconds)
                if self.captured is not None:
                    # The capture keeps the answer's output mark: the monitor leaves marked
                    # answers (not in the model's default output) out of prediction drift.
                    self.server.capture_invocation(*self.captured, body, media.decode("latin-1"))
        self.captured = None
        self._resume()

    def prediction_failed(self, error: Exception) -> None:
        """Answer the request in flight with a 500 (the model raised; details are in the log)."""
        if not self.closed:
            self._error(500, "prediction failed", "/invocations")
        self._resume()

    def answered(self, path: str, status: int) -> None:
        """Count the answer (and an invocation's latency) in the server's metrics."""
        metrics = self.server.metrics
        metrics.count_request(path, status)
        if path == "/invocations":
            metrics.request_seconds.observe(time.perf_counter() - self.started)


def _timed_predict(model: LoadedModel, rows: np.ndarray, output: str) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    predictions = predict_output(model, rows, output)
    return predictions, time.perf_counter() - started


def _in_daemon_thread(work: Callable[[], _T]) -> asyncio.Future[_T]:
    """Run ``work`` on a thread of its own, neither the predict worker nor the loop's executor.

    A model reload must not hold up predictions, and a SIGTERM must not wait for it: the thread
    is a daemon, and its result is dropped if the loop has closed by then.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[_T] = loop.create_future()

    def settle(result: object, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def target() -> None:
        try:
            result: object = work()
        except Exception as error:
            outcome: tuple[object, BaseException | None] = (None, error)
        else:
            outcome = (result, None)
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=target, name="model-reload", daemon=True).start()
    return future


def _fetch_and_load(source: ModelSource, resolved: Resolved) -> LoadedModel:
    return _load_and_warm(source.fetch(resolved))


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
        self.max_body_bytes = config.max_body_bytes
        self.worker = PredictWorker()
        self.clock = time.monotonic()
        self.date_header = b""
        # A busy connection stops reading once it holds this much unread pipelined input.
        self.max_buffer = 2 * config.max_body_bytes + MAX_HEAD_BYTES
        self._connections: set[_Connection] = set()
        self._open = 0  # connections not yet closing: the most requests that can be in flight
        self._listener: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._follower: asyncio.Task[None] | None = None
        self.model_key = ""
        """What the model came from, when a model source gave it (``churn/3``)."""
        self.capture: CaptureWriter | None = None
        """The data capture while it writes (None when off, or stopped by a write error)."""
        self._capture_counts: CaptureWriter | None = None  # kept after a stop, for /metrics
        if config.capture_dir is not None:
            from workloads.inference.data_capture import CaptureWriter

            self.capture = CaptureWriter(config.capture_dir, config.capture_percent)
            self._capture_counts = self.capture
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
        """Serve ``model`` from now on; /ping answers 200.

        Called on the loop's thread, so the swap falls between two requests: each request is
        decoded and predicted by one model. Requests already queued for the previous model's
        batch are sent to it at once.
        """
        previous = self.batcher
        if self.config.batching:
            output = model.metadata.default_output
            self.batcher = MicroBatcher(
                lambda rows: predict_output(model, rows, output),
                max_rows=self.config.max_batch_size,
                max_wait=self.config.max_batch_wait_ms / 1000.0,
                waiting_limit=lambda: self._open,
                metrics=self.metrics,
                worker=self.worker,
            )
        self.model = model
        if previous is not None:
            previous.flush()

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

    async def load_source(self, source: ModelSource) -> LoadedModel:
        """Resolve, download and load the model a model source names; follow its alias."""
        resolved = await _in_daemon_thread(source.resolve)
        model = await _in_daemon_thread(functools.partial(_fetch_and_load, source, resolved))
        self.set_model(model)
        self.model_key = resolved.key
        log.info("model: %s", resolved.label)
        if source.uri.follows_alias:
            self._follower = asyncio.get_running_loop().create_task(self._follow(source))
        return model

    async def _follow(self, source: ModelSource) -> None:
        """Read the alias every ``model_poll_seconds``; load and swap in a version it moved to.

        A version that cannot be downloaded or loaded is logged once and not tried again until
        the alias moves on; the current model keeps serving meanwhile.
        """
        failed = ""
        while True:
            await asyncio.sleep(self.config.model_poll_seconds)
            try:
                resolved = await _in_daemon_thread(source.resolve)
            except Exception as error:
                log.error(
                    "cannot read %s (still serving %s): %s", source.uri.text, self.model_key, error
                )
                continue
            if resolved.key in (self.model_key, failed):
                continue
            log.info("%s moved: loading %s", source.uri.text, resolved.label)
            try:
                reload = functools.partial(_fetch_and_load, source, resolved)
                model = await _in_daemon_thread(reload)
            except Exception as error:
                failed = resolved.key
                self.metrics.model_reload_failures += 1
                log.error(
                    "cannot load %s, still serving %s: %s", resolved.label, self.model_key, error
                )
                continue
            self.set_model(model)
            self.model_key, failed = resolved.key, ""
            self.metrics.model_reloads += 1
            log.info("model: %s", resolved.label)

    def capture_invocation(
        self, request: bytes, request_type: str, response: bytes, response_type: str
    ) -> None:
        """Write one answered invocation to the data capture; a write error is logged, once."""
        capture = self.capture
        if capture is None:
            return
        try:
            capture.record(request, request_type, response, response_type)
        except OSError as error:
            self._stop_capture(capture, error)

    def flush_capture(self) -> None:
        """Write the captured lines still pending (the sweeper calls it every second)."""
        capture = self.capture
        if capture is None:
            return
        try:
            capture.flush()
        except OSError as error:
            self._stop_capture(capture, error)

    def _stop_capture(self, capture: CaptureWriter, error: OSError) -> None:
        log.error("data capture stopped: cannot write to %s: %s", capture.directory, error)
        with contextlib.suppress(OSError):  # what was pending is counted lost already
            capture.close()
        self.capture = None

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
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
        if self.capture is not None:
            try:
                self.capture.close()
            except OSError as error:
                self._stop_capture(self.capture, error)
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
            self.flush_capture()

    # Bodies of the small endpoints

    def render_metrics(self) -> bytes:
        """The /metrics body."""
        model, counts = self.model, self._capture_counts
        return self.metrics.render(
            model_loaded=model is not None,
            connections=len(self._connections),
            # A busy connection waits for its prediction: at most one invocation each.
            in_flight=sum(1 for connection in self._connections if connection.busy),
            model=None if model is None else model_labels(model, self.model_key),
            capture_enabled=self.capture is not None,
            captured=0 if counts is None else counts.recorded,
            capture_failures=0 if counts is None else counts.lost,
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


def model_labels(model: LoadedModel, key: str) -> dict[str, str]:
    """The labels of ``inference_model_info``: the model's name, framework, task and version.

    ``version`` is the registry key the model came from (``churn/3``), empty for a directory.
    """
    metadata = model.metadata
    return {
        "name": metadata.name,
        "framework": metadata.framework,
        "task": metadata.task,
        "version": key,
    }


def model_source(config: ServerConfig, cache_dir: Path) -> ModelSource:
    """The model source of ``config.model_uri``, downloading into ``cache_dir``.

    Raises ``RegistryError`` (one line) for a URI of no known form.
    """
    from workloads.lifecycle.model_source import ModelSource, parse_model_uri

    return ModelSource(parse_model_uri(config.model_uri), config.tracking_uri, cache_dir)


async def serve(config: ServerConfig) -> int:
    """Listen, load the model, serve until SIGTERM/SIGINT; the process exit status."""
    with contextlib.ExitStack() as cleanup:
        source = None
        if config.model_uri:
            cache = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="ml-platform-serve-"))
            source = model_source(config, Path(cache))
        return await _serve(config, source)


async def _serve(config: ServerConfig, source: ModelSource | None) -> int:
    if source is None and not config.model_dir.is_dir():
        log.error(
            "cannot load the model: %s is not a directory (pass --model-dir, or set %s)",
            config.model_dir,
            contract.MODEL_DIR_ENV,
        )
        return 1
    server = InferenceServer(config)
    try:
        await server.start()
    except OSError as error:
        # Most often the port is taken (EADDRINUSE); the message names the address either way.
        log.error(
            "cannot listen on %s:%d: %s; pass --port (or set %s) to use another",
            config.host,
            config.port,
            error.strerror or error,
            contract.PORT_ENV,
        )
        return 1
    log.info("listening on http://%s:%d", config.host, server.port)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    where = config.model_uri or str(config.model_dir)
    loading = server.load(config.model_dir) if source is None else server.load_source(source)
    loader = asyncio.create_task(loading)
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({loader, stopper}, return_when=asyncio.FIRST_COMPLETED)
    status = 0
    if loader.done():
        error = loader.exception()
        if error is not None:
            log.error("cannot load the model from %s: %s", where, error)
            stop.set()
            status = 1
        else:
            metadata = loader.result().metadata
            log.info(
                "serving %s %s model from %s (batching %s)",
                metadata.framework,
                metadata.task,
                where,
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


def _float_in(low: float, high: float, *, low_allowed: bool = True) -> Callable[[str], float]:
    """An argparse type: a number from ``low`` (or above it) up to ``high``."""

    def parse(text: str) -> float:
        value = float(text)
        if not ((low <= value) if low_allowed else (low < value)) or not value <= high:
            bound = "at least" if low_allowed else "above"
            raise argparse.ArgumentTypeError(
                f"must be {bound} {low:g} and at most {high:g}, not {text}"
            )
        return value

    return parse


_SERVE_EXAMPLES = """\
examples:
  ml-platform serve --model-dir build/model --port 8080
  ml-platform serve --model-uri models:/churn@champion --tracking-uri sqlite:///build/mlflow.db
  ml-platform serve --model-dir build/model --capture-dir build/capture/churn --capture-percent 50
  curl -s localhost:8080/invocations -H 'Content-Type: text/csv' --data-binary @rows.csv
"""


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m workloads.inference.server`` and ``ml-platform-serve``."""
    parser = argparse.ArgumentParser(
        prog="ml-platform-serve",
        description="Serve a model directory (workloads.model_layout) over SageMaker's\n"
        "container contract: GET /ping, POST /invocations, GET /metrics.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_SERVE_EXAMPLES,
    )
    model = parser.add_mutually_exclusive_group()
    model.add_argument(
        "--model-dir",
        type=Path,
        default=Path(os.environ.get(contract.MODEL_DIR_ENV, contract.DEFAULT_MODEL_DIR)),
        help=f"model directory (default: ${contract.MODEL_DIR_ENV} or "
        f"{contract.DEFAULT_MODEL_DIR})",
    )
    model.add_argument(
        "--model-uri",
        default="",
        help="serve a model from MLflow instead: models:/NAME@ALIAS (followed when the alias "
        "moves), models:/NAME/VERSION or runs:/RUN_ID/PATH",
    )
    parser.add_argument(
        "--tracking-uri",
        default="",
        help="the MLflow store of --model-uri (default: $MLFLOW_TRACKING_URI)",
    )
    parser.add_argument(
        "--model-poll-seconds",
        type=_float_in(*MODEL_POLL_BOUNDS),
        default=DEFAULT_MODEL_POLL_SECONDS,
        help="with models:/NAME@ALIAS, how often the alias is read again "
        f"(default {DEFAULT_MODEL_POLL_SECONDS:g}, {MODEL_POLL_BOUNDS[0]:g} to "
        f"{MODEL_POLL_BOUNDS[1]:g})",
    )
    parser.add_argument(
        "--capture-dir",
        type=Path,
        help="write each answered invocation there in SageMaker's data-capture format",
    )
    parser.add_argument(
        "--capture-percent",
        type=_float_in(0, 100, low_allowed=False),
        default=100.0,
        help="the share of invocations captured, above 0 and up to 100 (default 100)",
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


def _model_uri_problem(model_uri: str, tracking_uri: str, parser: argparse.ArgumentParser) -> str:
    """The tracking URI for ``--model-uri``; a usage error (exit 2) when either is unusable."""
    from workloads.lifecycle.model_source import parse_model_uri
    from workloads.lifecycle.registry import RegistryError, tracking_uri_or_fail

    try:
        parse_model_uri(model_uri)
        return tracking_uri_or_fail(tracking_uri)
    except RegistryError as error:
        parser.error(str(error))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server until SIGTERM/SIGINT; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.model_uri:
        args.tracking_uri = _model_uri_problem(args.model_uri, args.tracking_uri, parser)
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
        model_uri=args.model_uri,
        tracking_uri=args.tracking_uri,
        model_poll_seconds=args.model_poll_seconds,
        capture_dir=args.capture_dir,
        capture_percent=args.capture_percent,
    )
    with asyncio.Runner(loop_factory=_event_loop_factory()) as runner:  # type: ignore[arg-type]
        return runner.run(serve(config))


if __name__ == "__main__":
    sys.exit(main())
