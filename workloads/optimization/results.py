"""What every solve returns, whatever the problem: the incumbent, its status, bound and gap.

A solver fills a :class:`SolveResult`; the problem-specific part (routes, a schedule) is the
``solution`` mapping, JSON-ready, which the problem's own module defines and checks.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any


class SolveStatus(enum.StrEnum):
    """How good the returned solution is known to be."""

    OPTIMAL = "optimal"
    """Proven optimal (objective equals the bound)."""
    FEASIBLE = "feasible"
    """A solution that satisfies every constraint, not proven optimal."""
    INFEASIBLE = "infeasible"
    """Proven to have no solution."""
    NO_SOLUTION = "no_solution"
    """Stopped before any solution was found (nothing proven)."""


class StopReason(enum.StrEnum):
    """Why the solve ended."""

    SOLVED = "solved"
    """The solver finished on its own: optimal, or proven infeasible."""
    TOTAL_TIME_LIMIT = "total_time_limit"
    ITERATION_TIME_LIMIT = "iteration_time_limit"
    """A single round hit its limit and no round budget was left."""
    NO_IMPROVEMENT = "no_improvement"
    """The objective improved by less than the threshold within the window."""
    INTERRUPTED = "interrupted"
    """SIGTERM (a spot interruption) or Ctrl-C: the incumbent was checkpointed."""


@dataclass(frozen=True)
class Improvement:
    """One point of the incumbent's history."""

    seconds: float
    """Since the solve started (a resumed run continues the interrupted run's clock)."""
    objective: float


@dataclass
class SolveResult:
    """The best solution a solve found, and what is known about it."""

    problem: str
    """The problem kind: ``routing`` or ``jobshop``."""
    name: str
    """The instance's name (from the file or the input)."""
    status: SolveStatus
    stop_reason: StopReason
    objective: float | None = None
    """The incumbent's objective (minimised), None without a solution."""
    bound: float | None = None
    """The best proven lower bound where the solver has one (CP-SAT), else None."""
    elapsed_seconds: float = 0.0
    history: list[Improvement] = field(default_factory=list)
    """Every improvement of the incumbent, in time order."""
    solution: dict[str, Any] = field(default_factory=dict)
    """The problem's own solution (routes with loads and times; the schedule per machine)."""

    @property
    def gap(self) -> float | None:
        """The relative gap ``(objective - bound) / objective``; 0 when optimal; None if unknown."""
        if self.status is SolveStatus.OPTIMAL:
            return 0.0
        if self.objective is None or self.bound is None or not math.isfinite(self.bound):
            return None
        if self.objective == 0:
            return 0.0 if self.bound >= 0 else None
        return max(0.0, (self.objective - self.bound) / abs(self.objective))

    @property
    def seconds_to_first(self) -> float | None:
        """When the first solution was found."""
        return self.history[0].seconds if self.history else None

    @property
    def seconds_to_best(self) -> float | None:
        """When the returned solution was found."""
        return self.history[-1].seconds if self.history else None

    def metrics(self) -> dict[str, float]:
        """The numeric figures as ``name: value`` (printed ``name=value``, logged to MLflow)."""
        figures = {
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "elapsed_seconds": self.elapsed_seconds,
            "seconds_to_first": self.seconds_to_first,
            "seconds_to_best": self.seconds_to_best,
            "improvements": float(len(self.history)),
        }
        return {name: float(value) for name, value in figures.items() if value is not None}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every field, the derived figures, enums as their values."""
        return {
            "problem": self.problem,
            "name": self.name,
            "status": self.status.value,
            "stop_reason": self.stop_reason.value,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "elapsed_seconds": self.elapsed_seconds,
            "seconds_to_first": self.seconds_to_first,
            "seconds_to_best": self.seconds_to_best,
            "history": [[point.seconds, point.objective] for point in self.history],
            "solution": self.solution,
        }
