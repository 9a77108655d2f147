"""The multi-level time limits every solve obeys, and the no-improvement window.

``total_seconds`` bounds the whole run (a resumed run counts the time already spent),
``iteration_seconds`` one round (a routing portfolio round, one CP-SAT call), and the window
stops a run whose objective has not improved by more than ``min_relative_improvement`` within
``no_improvement_seconds``. Every stop returns the incumbent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from workloads.optimization.results import Improvement, StopReason


class LimitsError(ValueError):
    """A limit that cannot be honoured; the message names the setting."""


@dataclass(frozen=True)
class TimeLimits:
    """When a solve must stop."""

    total_seconds: float = 60.0
    """The whole run, all rounds and restarts together."""
    iteration_seconds: float | None = None
    """One round; None: a round may take all the time left."""
    no_improvement_seconds: float | None = None
    """Stop when the objective has not improved enough within this window; None: never."""
    min_relative_improvement: float = 0.0
    """What counts as an improvement in the window: more than this share of the objective."""

    def __post_init__(self) -> None:
        checks = [
            ("total_seconds", self.total_seconds, False),
            ("iteration_seconds", self.iteration_seconds, True),
            ("no_improvement_seconds", self.no_improvement_seconds, True),
        ]
        for name, value, optional in checks:
            if value is None and optional:
                continue
            if value is None or not math.isfinite(value) or value <= 0:
                raise LimitsError(f"{name}: must be a positive number of seconds, got {value!r}")
        if not 0 <= self.min_relative_improvement < 1:
            raise LimitsError(
                "min_relative_improvement: must be in [0, 1), got "
                f"{self.min_relative_improvement!r}"
            )
        if self.iteration_seconds is not None and self.iteration_seconds > self.total_seconds:
            raise LimitsError(
                f"iteration_seconds ({self.iteration_seconds}) is more than total_seconds "
                f"({self.total_seconds})"
            )

    def round_seconds(self, elapsed: float) -> float:
        """How long the next round may run, ``elapsed`` seconds into the run (0: no time left)."""
        left = max(0.0, self.total_seconds - elapsed)
        return left if self.iteration_seconds is None else min(left, self.iteration_seconds)

    def stop_reason(self, elapsed: float, history: list[Improvement]) -> StopReason | None:
        """Why the run must stop now (None: it may go on).

        From the clock and the incumbent's history (:class:`Improvement` points, oldest first).
        """
        if elapsed >= self.total_seconds:
            return StopReason.TOTAL_TIME_LIMIT
        window = self.no_improvement_seconds
        if window is None or not history or elapsed - history[0].seconds < window:
            return None
        # The objective as it stood ``window`` seconds ago, against the incumbent's now.
        before = history[0].objective
        for point in history:
            if point.seconds > elapsed - window:
                break
            before = point.objective
        now = history[-1].objective
        threshold = self.min_relative_improvement * abs(before)
        return StopReason.NO_IMPROVEMENT if before - now <= threshold else None
