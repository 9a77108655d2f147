"""Micro-batching: concurrent small requests merged into one predict call, answers split back.

Most models cost far more per call than per row (scikit-learn validates its input on every call;
a random forest walks 100 trees per call), so one call on 32 rows costs little more than one call
on one. The batcher lives on the event loop thread and is driven by callbacks, not tasks; the
predict calls themselves run on a ``PredictWorker`` thread, so the loop keeps answering ``/ping``
and reading requests while a model computes. One batch is in the worker at a time: requests that
arrive meanwhile queue here and form the next batch.

When to run a batch (once the previous one is answered):

- as soon as it holds ``max_rows`` rows;
- as soon as every open connection is waiting in it: HTTP/1.1 connections send one request at a
  time (we answer pipelined requests in order), so no further request can join and waiting
  would only add latency. A single client therefore never waits;
- otherwise after ``max_wait`` seconds from the first request queued: the bound on the latency
  batching adds (a batch still computing delays the next one past it, never the other way).

Predictions are the model's, row for row: a batch is the requests' rows stacked in arrival order,
and each request gets back exactly its slice. If a batch fails (or returns the wrong number of
predictions), each request is retried alone so one request's failure is never another's.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from workloads.inference.metrics import ServerMetrics

log = logging.getLogger(__name__)

Job = Callable[[], object]
Done = Callable[[object, Exception | None], None]


class PredictWorker:
    """One daemon thread that runs jobs (predict calls) in order, off the event loop.

    ``run(job, done)`` queues ``job``; ``done(result, error)`` is then called on the submitting
    loop's thread. One thread, not a pool: predict calls stay serialized as they were on the loop
    (models are not all thread-safe, and with the GIL a second thread computes nothing more).
    Not a ``ThreadPoolExecutor``: its threads are joined at interpreter exit ("All threads
    enqueued to ThreadPoolExecutor will be joined before the interpreter can exit", Python's
    concurrent.futures docs), so a predict stuck past the drain bound would hold the process.
    """

    def __init__(self, name: str = "predict") -> None:
        self._jobs: queue.SimpleQueue[tuple[Job, Done, asyncio.AbstractEventLoop] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def run(self, job: Job, done: Done) -> None:
        """Run ``job`` on the worker thread; call ``done(result, error)`` on this loop after."""
        self._jobs.put((job, done, asyncio.get_running_loop()))

    def close(self) -> None:
        """Let the thread end after the jobs already queued (returns at once)."""
        self._jobs.put(None)

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, done, loop = item
            result: object = None
            error: Exception | None = None
            try:
                result = job()
            except Exception as raised:  # handed to done(): the caller decides what it means
                error = raised
            try:
                loop.call_soon_threadsafe(done, result, error)
            except RuntimeError:  # the loop is closed: nobody waits for this answer any more
                return


class Requester(Protocol):
    """The side waiting for a prediction (a connection)."""

    def prediction_ready(self, predictions: np.ndarray, seconds: float) -> None:
        """Receive this request's predictions and the seconds its batch spent in predict."""

    def prediction_failed(self, error: Exception) -> None:
        """Receive the error the model raised on this request's rows."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    """One request's share of a finished batch: its predictions or the error its rows raised."""

    predictions: np.ndarray | None
    error: Exception | None
    seconds: float


@dataclass(frozen=True, slots=True)
class _Finished:
    """What the worker thread hands back: one outcome per request, one observation per call."""

    outcomes: list[_Outcome]
    calls: list[tuple[int, int, float]]
    """(requests, rows, seconds) of each successful predict call, for the metrics."""


class MicroBatcher:
    """Merges submitted row blocks into predict calls; see the module docstring for when."""

    def __init__(
        self,
        predict: Callable[[np.ndarray], np.ndarray],
        *,
        max_rows: int,
        max_wait: float,
        waiting_limit: Callable[[], int],
        metrics: ServerMetrics,
        worker: PredictWorker,
    ) -> None:
        if max_rows < 1 or max_wait < 0:
            raise ValueError("max_rows must be >= 1 and max_wait >= 0")
        self._predict = predict
        self._max_rows = max_rows
        self._max_wait = max_wait
        self._waiting_limit = waiting_limit
        self._metrics = metrics
        self._worker = worker
        self._queue: list[tuple[np.ndarray, Requester]] = []
        self._rows = 0
        self._timer: asyncio.TimerHandle | None = None
        self._due = False  # max_wait passed while a batch was computing: run as soon as it ends
        self._flushing = False
        self._running = False

    @property
    def pending(self) -> int:
        """Requests queued and not yet in a predict call."""
        return len(self._queue)

    @property
    def running(self) -> bool:
        """Whether a batch is in the worker now."""
        return self._running

    def submit(self, rows: np.ndarray, requester: Requester) -> None:
        """Queue one request's rows; ``requester`` is called back on this loop's thread."""
        self._queue.append((rows, requester))
        self._rows += rows.shape[0]
        self._consider()

    def flush(self) -> None:
        """From now on run whatever is queued without waiting (used when the server drains)."""
        self._flushing = True
        self._consider()

    def _consider(self) -> None:
        if not self._queue:
            return
        if not self._running and (
            self._due
            or self._flushing
            or self._rows >= self._max_rows
            or len(self._queue) >= self._waiting_limit()
        ):
            self._run_batch()
        elif self._timer is None and not self._due:
            self._timer = asyncio.get_running_loop().call_later(self._max_wait, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._due = True
        self._consider()

    def _take(self) -> list[tuple[np.ndarray, Requester]]:
        taken, rows = 0, 0
        for block, _ in self._queue:
            if taken and rows + block.shape[0] > self._max_rows:
                break
            taken += 1
            rows += block.shape[0]
        batch = self._queue[:taken]
        del self._queue[:taken]
        self._rows -= rows
        return batch

    def _run_batch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch = self._take()
        # What is left over waited as long as what was taken: it runs right after.
        self._due = bool(self._queue)
        self._running = True
        blocks = [block for block, _ in batch]
        self._worker.run(
            lambda: self._compute(blocks),
            lambda finished, error: self._deliver(batch, finished, error),  # type: ignore[arg-type]
        )

    def _compute(self, blocks: list[np.ndarray]) -> _Finished:
        """On the worker thread: the batch in one call, or each block alone if that fails."""
        if len(blocks) > 1:
            rows = np.concatenate(blocks)
            started = time.perf_counter()
            try:
                predictions = self._predict(rows)
                if len(predictions) != rows.shape[0]:
                    count = len(predictions)
                    raise ValueError(f"the model returned {count} predictions for {len(rows)} rows")
            except Exception:
                log.exception(
                    "predict failed on a batch of %d requests; retrying each", len(blocks)
                )
            else:
                seconds = time.perf_counter() - started
                outcomes, offset = [], 0
                for block in blocks:
                    end = offset + block.shape[0]
                    outcomes.append(_Outcome(predictions[offset:end], None, seconds))
                    offset = end
                return _Finished(outcomes, [(len(blocks), rows.shape[0], seconds)])
        outcomes, calls = [], []
        for block in blocks:
            started = time.perf_counter()
            try:
                predictions = self._predict(block)
            except Exception as error:
                log.exception("predict failed")
                outcomes.append(_Outcome(None, error, 0.0))
                continue
            seconds = time.perf_counter() - started
            calls.append((1, block.shape[0], seconds))
            outcomes.append(_Outcome(predictions, None, seconds))
        return _Finished(outcomes, calls)

    def _deliver(
        self,
        batch: list[tuple[np.ndarray, Requester]],
        finished: _Finished | None,
        error: Exception | None,
    ) -> None:
        """Back on the loop: answer each request of the batch, then consider the next one."""
        try:
            if finished is None:  # _compute itself failed (it catches the model's errors)
                failure = error or RuntimeError("no outcome")
                for _, requester in batch:
                    requester.prediction_failed(failure)
                return
            for requests, rows, seconds in finished.calls:
                self._metrics.observe_batch(requests, rows, seconds)
            for (_, requester), outcome in zip(batch, finished.outcomes, strict=True):
                if outcome.predictions is not None:
                    requester.prediction_ready(outcome.predictions, outcome.seconds)
                else:
                    assert outcome.error is not None
                    requester.prediction_failed(outcome.error)
        finally:
            # Requests submitted while answering (pipelined ones) queued above: they are next.
            self._running = False
            self._consider()
