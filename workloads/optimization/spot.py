"""Spot interruptions: SIGTERM (and Ctrl-C) set the solver's stop event.

SageMaker (and Kubernetes) send SIGTERM and about 120 seconds before SIGKILL. The handler only
sets a :class:`threading.Event`, which every kind's ``solve`` polls (CP-SAT through its stop
flag, the routing portfolio between and inside rounds) and then returns its incumbent within
about a second; the runner writes the final checkpoint and exits 0, and the restarted job resumes
from it.

Python runs signal handlers in the main thread only, between bytecodes: a solver blocked in C++
in the main thread would not see the signal until it returned. So the runner solves in a worker
thread and the main thread waits in short slices (:func:`run_in_thread`), free to run the handler
and the periodic checkpoints. Like the training entry point (``workloads.training.spot``), the
handler stays installed for the rest of the process and the process ignores SIGTERM once its
work is done, so a repeated signal during the last upload or the interpreter's exit cannot turn
a clean stop into a kill.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TypeVar

from workloads.training.spot import ignore_sigterm

__all__ = ["SolveStop", "ignore_sigterm", "run_in_thread"]

T = TypeVar("T")

POLL_SECONDS = 0.2
"""How often the main thread wakes while the solver runs (periodic work, signal handlers)."""


class SolveStop:
    """The stop a signal (or a caller) asks for; ``event`` is what the solver polls."""

    def __init__(self) -> None:
        self.event = threading.Event()
        """Set once a stop is requested: handed to ``solve`` as its ``stop``."""
        self.signal_number: int | None = None
        """The signal that asked first (None when :meth:`request` was called directly)."""
        self._requested_at: float | None = None

    @property
    def requested(self) -> bool:
        """Whether a stop was asked for."""
        return self.event.is_set()

    def request(self, signal_number: int | None = None) -> None:
        """Ask for a stop; the first request's time and signal are kept."""
        if not self.event.is_set():
            self._requested_at = time.monotonic()
            self.signal_number = signal_number
            self.event.set()

    def seconds_since_request(self) -> float | None:
        """Seconds since the first request (how much of the ~120 s notice is used), or None."""
        return None if self._requested_at is None else time.monotonic() - self._requested_at

    def _handle(self, signal_number: int, _frame: FrameType | None) -> None:
        # Only record it; no I/O in a handler (the main thread may hold a lock).
        self.request(signal_number)

    @classmethod
    def for_process(cls) -> SolveStop:
        """A stop that SIGTERM and SIGINT set for the rest of the process (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("SolveStop.for_process() must run in the main thread")
        stop = cls()
        signal.signal(signal.SIGTERM, stop._handle)
        signal.signal(signal.SIGINT, stop._handle)
        return stop


def run_in_thread(
    work: Callable[[], T],
    *,
    stop: SolveStop,
    every_poll: Callable[[], None] = lambda: None,
    grace_seconds: float = 60.0,
) -> tuple[T | None, BaseException | None]:
    """Run ``work`` in a daemon thread while this thread polls; ``(value, error)``.

    ``every_poll`` runs about every :data:`POLL_SECONDS` (periodic checkpoints). After a stop
    request the work gets ``grace_seconds`` to return (solvers return within a second); if it
    has not, ``(None, None)`` comes back and the caller saves what it has, well within the
    two-minute notice.
    """
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # handed to the caller's thread, which decides
            outcome["error"] = error

    thread = threading.Thread(target=target, name="solve", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(POLL_SECONDS)
        every_poll()
        waited = stop.seconds_since_request()
        if waited is not None and waited > grace_seconds and thread.is_alive():
            return None, None
    error = outcome.get("error")
    if error is not None:
        assert isinstance(error, BaseException)
        return None, error
    return outcome.get("value"), None  # type: ignore[return-value]
