"""The micro-batcher alone: when it runs a batch, and that every request gets its own rows back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import pytest

from workloads.inference.batching import MicroBatcher
from workloads.inference.metrics import ServerMetrics


class Requester:
    def __init__(self, on_ready: Callable[[], None] | None = None) -> None:
        self.answers: list[list[float]] = []
        self.errors: list[str] = []
        self.on_ready = on_ready

    def prediction_ready(self, predictions: np.ndarray, seconds: float) -> None:
        assert seconds >= 0
        self.answers.append(predictions.tolist())
        if self.on_ready:
            self.on_ready()

    def prediction_failed(self, error: Exception) -> None:
        self.errors.append(str(error))


class Model:
    """Doubles the first column; raises on a row starting with -1; records each call's rows."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.calls.append(x.shape[0])
        if (x[:, 0] == -1).any():
            raise ValueError("bad row")
        return x[:, 0] * 2


def batcher(model: Model, open_connections: int = 100, **options: float) -> MicroBatcher:
    settings = {"max_rows": 8, "max_wait": 0.05, **options}
    return MicroBatcher(
        model,
        max_rows=int(settings["max_rows"]),
        max_wait=settings["max_wait"],
        waiting_limit=lambda: open_connections,
        metrics=ServerMetrics(),
    )


def rows(*first_values: float) -> np.ndarray:
    return np.array([[value, 0.0] for value in first_values])


def run(scenario: Callable[[], object]) -> None:
    async def main() -> None:
        result = scenario()
        if asyncio.iscoroutine(result):
            await result

    asyncio.run(main())


def test_a_full_batch_runs_at_once_and_answers_each_request_its_own_rows() -> None:
    model, first, second = Model(), Requester(), Requester()

    def scenario() -> None:
        # given a batcher of at most 4 rows, when 1 + 3 rows arrive
        merger = batcher(model, max_rows=4)
        merger.submit(rows(1), first)
        merger.submit(rows(2, 3, 4), second)
        # then one predict call ran, without waiting, and each got its slice
        assert model.calls == [4]
        assert (first.answers, second.answers) == ([[2.0]], [[4.0, 6.0, 8.0]])

    run(scenario)


def test_when_every_open_connection_is_waiting_the_batch_runs_without_waiting() -> None:
    """Given 3 open connections, when all 3 have a request queued, then the batch runs without waiting."""
    model, requesters = Model(), [Requester(), Requester(), Requester()]

    def scenario() -> None:
        merger = batcher(model, open_connections=3, max_wait=10.0)
        for value, requester in enumerate(requesters):
            merger.submit(rows(value), requester)
        assert model.calls == [3]

    run(scenario)


def test_otherwise_the_batch_runs_after_max_wait() -> None:
    """Given 5 open connections and 1 request queued, when max_wait passes, then it runs alone."""
    model, requester = Model(), Requester()

    async def scenario() -> None:
        merger = batcher(model, open_connections=5, max_wait=0.02)
        merger.submit(rows(1), requester)
        assert model.calls == []
        await asyncio.sleep(0.1)
        assert (model.calls, requester.answers) == ([1], [[2.0]])

    run(scenario)


def test_batches_never_exceed_max_rows_except_a_single_larger_request() -> None:
    """Given a 4-row limit, when blocks of 3, 2, 6 and 1 rows queue, then no call mixes past the limit."""
    model = Model()
    requesters = [Requester() for _ in range(4)]

    def scenario() -> None:
        merger = batcher(model, max_rows=4, max_wait=10.0, open_connections=4)
        merger.submit(rows(1, 2, 3), requesters[0])
        merger.submit(rows(4, 5), requesters[1])
        merger.submit(rows(*range(6)), requesters[2])
        merger.submit(rows(7), requesters[3])
        merger.flush()
        assert model.calls == [3, 2, 6, 1]

    run(scenario)


def test_a_failing_batch_is_retried_request_by_request() -> None:
    """Given a batch with one bad row, when predict raises, then each request is retried alone."""
    model = Model()
    good, bad, other = Requester(), Requester(), Requester()

    def scenario() -> None:
        merger = batcher(model, open_connections=3)
        merger.submit(rows(1), good)
        merger.submit(rows(-1), bad)
        merger.submit(rows(3), other)
        assert model.calls == [3, 1, 1, 1]
        assert (good.answers, bad.answers, other.answers) == ([[2.0]], [], [[6.0]])
        assert bad.errors == ["bad row"]

    run(scenario)


def test_requests_submitted_while_answering_wait_for_the_next_batch() -> None:
    """Given an answer that submits again, when it is delivered, then the new request is a new batch."""
    model = Model()
    late = Requester()

    def scenario() -> None:
        merger = batcher(model, open_connections=1)
        # a requester that sends its next request from inside its answer (a pipelined request)
        early = Requester(on_ready=lambda: merger.submit(rows(5), late))
        merger.submit(rows(1), early)
        assert model.calls == [1, 1]
        assert (early.answers, late.answers) == ([[2.0]], [[10.0]])

    run(scenario)


def test_invalid_settings_are_refused() -> None:
    """Given a 0-row limit, when a batcher is made, then it is refused."""
    with pytest.raises(ValueError, match="max_rows must be >= 1 and max_wait >= 0"):
        batcher(Model(), max_rows=0)
