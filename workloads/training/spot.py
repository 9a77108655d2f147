"""Managed spot training: turn SIGTERM into a request that the training loop polls.

When SageMaker reclaims a spot instance (or a job is stopped) the container gets SIGTERM and about
120 seconds before SIGKILL. Raising an exception from the signal handler would unwind the loop at
an arbitrary bytecode, possibly in the middle of an optimizer step or a checkpoint write; instead
the handler only records the request, and the loop checks ``stop.requested`` at its own safe
points (a batch boundary, a boosting round), writes a final checkpoint there and returns, so the
process exits 0 and the restarted job resumes from that checkpoint.

Under ``torchrun`` the launcher receives the signal, forwards SIGTERM to every worker and sends
SIGKILL after its shutdown timeout (``--shutdown-timeout`` or ``TORCH_ELASTIC_SHUTDOWN_TIMEOUT``,
30 s by default), so each worker sees the request through its own handler. Standard library only.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class StopRequest:
    """A stop that someone asked for and the training loop honours at its next safe point.

    ``with StopRequest.on_sigterm() as stop:`` makes SIGTERM set it; ``request()`` sets it
    directly (tests, or a caller with its own reason to stop).
    """

    def __init__(self) -> None:
        # An Event rather than a bool: readable from any thread, set from the signal handler.
        self._event = threading.Event()
        self._requested_at: float | None = None
        self.signal_number: int | None = None
        """The signal that asked for the stop (``None`` when ``request`` was called directly)."""

    @property
    def requested(self) -> bool:
        """Whether a stop was asked for."""
        return self._event.is_set()

    def request(self, signal_number: int | None = None) -> None:
        """Ask for a stop; the first request's time and signal are kept."""
        if not self._event.is_set():
            self._requested_at = time.monotonic()
            self.signal_number = signal_number
            self._event.set()

    def seconds_since_request(self) -> float | None:
        """Seconds since the first request (how much of SageMaker's ~120 s is used), or None."""
        if self._requested_at is None:
            return None
        return time.monotonic() - self._requested_at

    @classmethod
    def for_process(cls) -> StopRequest:
        """A request that SIGTERM sets for the rest of this process's life: never uninstalled.

        For a process's entry point only (``entrypoint.command``). A job that stopped on SIGTERM
        still has work before it exits (the last checkpoint upload, the tracker, interpreter
        teardown), and SageMaker or ``torchrun`` may repeat the signal meanwhile: with the default
        handler back, that second SIGTERM would kill the process with -15 and turn a clean stop
        into a failed job. Must run in the main thread, like :meth:`on_sigterm`.
        """
        _require_main_thread("StopRequest.for_process()")
        stop = cls()
        signal.signal(signal.SIGTERM, stop._handle)
        return stop

    def _handle(self, signal_number: int, _frame: FrameType | None) -> None:
        # Only record it: the loop decides where stopping is safe. No logging here, since a
        # handler may run while the main thread holds a logging lock.
        self.request(signal_number)

    @classmethod
    @contextmanager
    def on_sigterm(cls) -> Iterator[StopRequest]:
        """A new request that SIGTERM sets while the block runs; the previous handler after it.

        Only the main thread can install signal handlers (a Python rule); elsewhere this raises
        ``RuntimeError``.
        """
        _require_main_thread("StopRequest.on_sigterm()")
        stop = cls()
        previous = signal.signal(signal.SIGTERM, stop._handle)
        try:
            yield stop
        finally:
            signal.signal(signal.SIGTERM, previous)


def _require_main_thread(caller: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(
            f"{caller} must run in the main thread: only it can install signal handlers"
        )


def ignore_sigterm() -> None:
    """Ignore SIGTERM for the rest of the process: for an entry point whose work is done.

    Interpreter shutdown puts the default action back for every signal that has a Python handler
    (CPython's ``_PySignal_Fini``), so a SIGTERM during teardown would still end the process with
    -15; an ignored signal stays ignored through it.
    """
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
