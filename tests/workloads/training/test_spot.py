"""StopRequest: SIGTERM becomes a flag the loop polls; the previous handler comes back."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from workloads.training.spot import StopRequest


def test_sigterm_sets_the_request_instead_of_ending_the_process() -> None:
    # given a SIGTERM handler installed for the block
    with StopRequest.on_sigterm() as stop:
        assert not stop.requested
        assert stop.seconds_since_request() is None
        # when the process receives SIGTERM
        os.kill(os.getpid(), signal.SIGTERM)
        # then the process is alive and the request is set, naming the signal
        assert stop.requested
        assert stop.signal_number == signal.SIGTERM
        elapsed = stop.seconds_since_request()
        assert elapsed is not None
        assert 0.0 <= elapsed < 5.0


def test_the_previous_handler_is_restored_even_when_the_block_raises() -> None:
    # given a handler of our own for SIGTERM
    received: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda number, _frame: received.append(number))
    try:
        # when a block with on_sigterm raises
        with pytest.raises(RuntimeError, match="boom"), StopRequest.on_sigterm():
            raise RuntimeError("boom")
        # then SIGTERM reaches our handler again
        os.kill(os.getpid(), signal.SIGTERM)
        assert received == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_request_sets_it_once_and_keeps_the_first() -> None:
    # given a request nobody signalled
    stop = StopRequest()
    # when requested directly, then again with a signal
    stop.request()
    stop.request(signal.SIGTERM)
    # then it is requested, and the first request's details are kept
    assert stop.requested
    assert stop.signal_number is None


def test_on_sigterm_outside_the_main_thread_fails_clearly() -> None:
    # given a worker thread
    errors: list[BaseException] = []

    def install() -> None:
        try:
            with StopRequest.on_sigterm():
                pass
        except RuntimeError as error:
            errors.append(error)

    # when it tries to install the handler
    thread = threading.Thread(target=install)
    thread.start()
    thread.join()
    # then it is told why that cannot work
    assert [str(error) for error in errors] == [
        "StopRequest.on_sigterm() must run in the main thread: only it can install signal handlers"
    ]
