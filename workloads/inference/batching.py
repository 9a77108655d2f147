"""Micro-batching: concurrent small requests merged into one predict call, answers split back.

Most models cost far more per call than per row (scikit-learn validates its input on every call;
a random forest walks 100 trees per call), so one call on 32 rows costs little more than one call
on one. The batcher runs on the event loop thread and is driven by callbacks, not tasks, so a
request costs one list append on the way in and one slice on the way out.

When to run a batch:

- as soon as it holds ``max_rows`` rows;
- as soon as every open connection is waiting in it: HTTP/1.1 connections send one request at a
  time (we answer pipelined requests in order), so no further request can join and waiting
  would only add latency. A single client therefore never waits;
- otherwise after ``max_wait`` seconds from the first request queued: the bound on the latency
  batching adds.

Predictions are the model's, row for row: a batch is the requests' rows stacked in arrival order,
and each request gets back exactly its slice. If a batch fails, each request is retried alone so
one request's failure is never another's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

import numpy as np

from workloads.inference.metrics import ServerMetrics

log = logging.getLogger(__name__)


class Requester(Protocol):
    """The side waiting for a prediction (a connection)."""

    def prediction_ready(self, predictions: np.ndarray, seconds: float) -> None:
        """Receive this request's predictions and the seconds its batch spent in predict."""

    def prediction_failed(self, error: Exception) -> None:
        """Receive the error the model raised on this request's rows."""


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
    ) -> None:
        if max_rows < 1 or max_wait < 0:
            raise ValueError("max_rows must be >= 1 and max_wait >= 0")
        self._predict = predict
        self._max_rows = max_rows
        self._max_wait = max_wait
        self._waiting_limit = waiting_limit
        self._metrics = metrics
        self._queue: list[tuple[np.ndarray, Requester]] = []
        self._rows = 0
        self._timer: asyncio.TimerHandle | None = None
        self._running = False

    @property
    def pending(self) -> int:
        """Requests queued and not yet in a predict call."""
        return len(self._queue)

    def submit(self, rows: np.ndarray, requester: Requester) -> None:
        """Queue one request's rows; ``requester`` is called back on this loop's thread."""
        self._queue.append((rows, requester))
        self._rows += rows.shape[0]
        if not self._running:  # while a batch is being answered, it looks at the queue after
            self._consider()

    def flush(self) -> None:
        """Run everything queued now (used when the server drains)."""
        while self._queue and not self._running:
            self._run_batch()

    def _consider(self) -> None:
        while self._queue and (
            self._rows >= self._max_rows or len(self._queue) >= self._waiting_limit()
        ):
            self._run_batch()
        if self._queue and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._max_wait, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._queue and not self._running:
            self._run_batch()
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
        self._running = True
        try:
            if len(batch) == 1:
                self._run_each(batch)
                return
            rows = np.concatenate([block for block, _ in batch])
            started = time.perf_counter()
            try:
                predictions = self._predict(rows)
            except Exception:
                log.exception("predict failed on a batch of %d requests; retrying each", len(batch))
                self._run_each(batch)
                return
            seconds = time.perf_counter() - started
            self._metrics.observe_batch(len(batch), rows.shape[0], seconds)
            offset = 0
            for block, requester in batch:
                end = offset + block.shape[0]
                requester.prediction_ready(predictions[offset:end], seconds)
                offset = end
        finally:
            self._running = False

    def _run_each(self, batch: list[tuple[np.ndarray, Requester]]) -> None:
        for block, requester in batch:
            started = time.perf_counter()
            try:
                predictions = self._predict(block)
            except Exception as error:
                log.exception("predict failed")
                requester.prediction_failed(error)
                continue
            seconds = time.perf_counter() - started
            self._metrics.observe_batch(1, block.shape[0], seconds)
            requester.prediction_ready(predictions, seconds)
