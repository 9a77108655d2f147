"""The micro-batcher alone: when it runs a batch, and that every request gets its own rows back.

Predict calls run on a real ``PredictWorker`` thread; scenarios wait for answers with a bounded
``wait_for`` and assert on what was called, never on how long it took.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

import numpy as np
import pytest

from workloads.inference.batching import MicroBatcher, PredictWorker
from workloads.inference.metrics import ServerMetrics

ANSWER_TIMEOUT = 10.0  # a bound on a hang, not a timing claim


class Requester:
    def __init__(self, on_ready: Callable[[], None] | None = None) -> None:
        self.answers: list[list[float]] = []
        self.errors: list[str] = []
        self.on_ready = on_ready
        self.threads: list[int] = []
        self.answered = asyncio.Event()

    def prediction_ready(self, predictions: np.ndarray, seconds: float) -> None:
        assert seconds >= 0
        self.threads.append(threading.get_ident())
        self.answers.append(predictions.tolist())
        self.answered.set()
        if self.on_ready:
            self.on_ready()

    def prediction_failed(self, error: Exception) -> None:
        self.errors.append(str(error))
        self.answered.set()


class Model:
    """Doubles the first column; raises on a row starting with -1; records each call's rows.

    With ``gate``, each call waits for it first (on the worker thread), so a test can hold a
    batch in the worker while it submits more.
    """

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls: list[int] = []
        self.gate = gate
        self.threads: list[int] = []

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.calls.append(x.shape[0])
        self.threads.append(threading.get_ident())
        if self.gate is not None:
            assert self.gate.wait(ANSWER_TIMEOUT)
        if (x[:, 0] == -1).any():
            raise ValueError("bad row")
        return x[:, 0] * 2


def batcher(
    model: Callable[[np.ndarray], np.ndarray], open_connections: int = 100, **options: float
) -> MicroBatcher:
    settings = {"max_rows": 8, "max_wait": 10.0, **options}
    return MicroBatcher(
        model,
        max_rows=int(settings["max_rows"]),
        max_wait=settings["max_wait"],
        waiting_limit=lambda: open_connections,
        metrics=ServerMetrics(),
        worker=PredictWorker(),
    )


def rows(*first_values: float) -> np.ndarray:
    return np.array([[value, 0.0] for value in first_values])


async def answered(*requesters: Requester) -> None:
    for requester in requesters:
        await asyncio.wait_for(requester.answered.wait(), ANSWER_TIMEOUT)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    # Not asyncio.run: it leaves the main thread with no current event loop, which breaks the
    # Pulumi mock tests (they ask for one) when they run later in the same session.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(scenario())
    finally:
        loop.close()


def test_a_full_batch_runs_at_once_and_answers_each_request_its_own_rows() -> None:
    model, first, second = Model(), Requester(), Requester()

    async def scenario() -> None:
        # given a batcher of at most 4 rows that would otherwise wait 10 s, when 1 + 3 rows arrive
        merger = batcher(model, max_rows=4)
        merger.submit(rows(1), first)
        merger.submit(rows(2, 3, 4), second)
        # then one predict call ran (it did not wait for the timer), and each got its slice
        assert merger.running
        await answered(first, second)
        assert model.calls == [4]
        assert (first.answers, second.answers) == ([[2.0]], [[4.0, 6.0, 8.0]])

    run(scenario)


def test_predict_runs_on_the_worker_thread_and_answers_come_back_on_the_loop() -> None:
    """Given a request, when it is predicted, then predict ran off the loop and the answer on it."""
    model, requester = Model(), Requester()

    async def scenario() -> None:
        merger = batcher(model, open_connections=1)
        merger.submit(rows(1), requester)
        await answered(requester)
        loop_thread = threading.get_ident()
        assert requester.threads == [loop_thread]
        assert model.threads != [loop_thread]

    run(scenario)


def test_when_every_open_connection_is_waiting_the_batch_runs_without_waiting() -> None:
    """Given 3 open connections, when all 3 have a request queued, then the batch runs without waiting."""
    model, requesters = Model(), [Requester(), Requester(), Requester()]

    async def scenario() -> None:
        merger = batcher(model, open_connections=3, max_wait=10.0)
        for value, requester in enumerate(requesters):
            merger.submit(rows(value), requester)
        assert merger.running
        await answered(*requesters)
        assert model.calls == [3]

    run(scenario)


def test_otherwise_the_batch_runs_after_max_wait() -> None:
    """Given 5 open connections and 1 request queued, when max_wait passes, then it runs alone."""
    model, requester = Model(), Requester()

    async def scenario() -> None:
        merger = batcher(model, open_connections=5, max_wait=0.02)
        merger.submit(rows(1), requester)
        assert (merger.running, merger.pending) == (False, 1)
        await answered(requester)
        assert (model.calls, requester.answers) == ([1], [[2.0]])

    run(scenario)


def test_batches_never_exceed_max_rows_except_a_single_larger_request() -> None:
    """Given a 4-row limit, when blocks of 3, 2, 6 and 1 rows queue, then no call mixes past the limit."""
    model = Model()
    requesters = [Requester() for _ in range(4)]

    async def scenario() -> None:
        merger = batcher(model, max_rows=4, max_wait=10.0, open_connections=4)
        merger.submit(rows(1, 2, 3), requesters[0])
        merger.submit(rows(4, 5), requesters[1])
        merger.submit(rows(*range(6)), requesters[2])
        merger.submit(rows(7), requesters[3])
        merger.flush()
        await answered(*requesters)
        assert model.calls == [3, 2, 6, 1]

    run(scenario)


def test_a_failing_batch_is_retried_request_by_request() -> None:
    """Given a batch with one bad row, when predict raises, then each request is retried alone."""
    model = Model()
    good, bad, other = Requester(), Requester(), Requester()

    async def scenario() -> None:
        merger = batcher(model, open_connections=3)
        merger.submit(rows(1), good)
        merger.submit(rows(-1), bad)
        merger.submit(rows(3), other)
        await answered(good, bad, other)
        assert model.calls == [3, 1, 1, 1]
        assert (good.answers, bad.answers, other.answers) == ([[2.0]], [], [[6.0]])
        assert bad.errors == ["bad row"]

    run(scenario)


def test_a_batch_answered_with_the_wrong_number_of_predictions_is_retried_request_by_request() -> (
    None
):
    """Given a model that returns one prediction per call, when two requests batch, then each is asked alone."""
    calls: list[int] = []

    def first_row_only(x: np.ndarray) -> np.ndarray:
        calls.append(x.shape[0])
        return x[:1, 0] * 2

    one, two = Requester(), Requester()

    async def scenario() -> None:
        merger = batcher(first_row_only, open_connections=2)
        merger.submit(rows(1), one)
        merger.submit(rows(2), two)
        await answered(one, two)
        # then nobody got another request's prediction
        assert calls == [2, 1, 1]
        assert (one.answers, two.answers) == ([[2.0]], [[4.0]])

    run(scenario)


def test_requests_arriving_while_a_batch_computes_form_the_next_batch() -> None:
    """Given a batch held in the worker, when two more requests arrive, then they wait and run together after it."""
    gate = threading.Event()
    model = Model(gate)
    requesters = [Requester() for _ in range(4)]

    async def scenario() -> None:
        # given 2 open connections, both waiting: their batch runs, held in the worker by the gate
        merger = batcher(model, open_connections=2, max_wait=10.0)
        merger.submit(rows(1), requesters[0])
        merger.submit(rows(2), requesters[1])
        assert merger.running
        # when two more requests arrive meanwhile
        merger.submit(rows(3), requesters[2])
        merger.submit(rows(4), requesters[3])
        # then they queue behind the batch rather than run beside it
        assert merger.pending == 2
        gate.set()
        await answered(*requesters)
        # and run as one batch right after it (both connections waiting: no max_wait)
        assert model.calls == [2, 2]
        assert [r.answers for r in requesters] == [[[2.0]], [[4.0]], [[6.0]], [[8.0]]]

    run(scenario)


def test_requests_submitted_while_answering_wait_for_the_next_batch() -> None:
    """Given an answer that submits again, when it is delivered, then the new request is a new batch."""
    model = Model()
    late = Requester()

    async def scenario() -> None:
        merger = batcher(model, open_connections=1)
        # a requester that sends its next request from inside its answer (a pipelined request)
        early = Requester(on_ready=lambda: merger.submit(rows(5), late))
        merger.submit(rows(1), early)
        await answered(early, late)
        assert model.calls == [1, 1]
        assert (early.answers, late.answers) == ([[2.0]], [[10.0]])

    run(scenario)


def test_the_worker_hands_a_jobs_error_to_its_callback() -> None:
    """Given a job that raises, when it runs on the worker, then done() gets the error on the loop."""

    def fail() -> object:
        raise RuntimeError("boom")

    async def scenario() -> None:
        worker = PredictWorker()
        outcome: asyncio.Future[tuple[object, str]] = asyncio.get_running_loop().create_future()
        worker.run(fail, lambda result, error: outcome.set_result((result, str(error))))
        assert await asyncio.wait_for(outcome, ANSWER_TIMEOUT) == (None, "boom")
        worker.close()

    run(scenario)


def test_invalid_settings_are_refused() -> None:
    """Given a 0-row limit, when a batcher is made, then it is refused."""
    with pytest.raises(ValueError, match="max_rows must be >= 1 and max_wait >= 0"):
        batcher(Model(), max_rows=0)
