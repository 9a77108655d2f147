"""The problem kinds, and what each kind's module provides to the shared code.

Each kind is a package ``workloads.optimization.<kind>`` (``routing``, ``jobshop``) exposing the
functions of :class:`ProblemModule`. The shared code (command line, SageMaker contract,
checkpoints, spot handling, batch mode, report) only goes through them.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from workloads.optimization.errors import ProblemError
from workloads.optimization.limits import TimeLimits
from workloads.optimization.results import SolveResult

#: The kinds there are, by the name the command line and the config use.
KINDS = ("routing", "jobshop")


class ProblemModule(Protocol):
    """What ``workloads.optimization.<kind>`` provides."""

    KIND: str

    def load(self, path: Path) -> Any:
        """The problem in ``path`` (the kind's standard text format, or JSON/YAML).

        Raises :class:`ProblemError` naming the file, the line or field, and what is wrong.
        """

    def from_dict(self, data: dict[str, Any], name: str) -> Any:
        """The problem from parsed JSON/YAML; :class:`ProblemError` naming the bad field."""

    def solve(
        self,
        problem: Any,
        limits: TimeLimits,
        *,
        workers: int,
        hint: dict[str, Any] | None,
        on_improvement: Callable[[SolveResult], None],
        stop: threading.Event,
        clock_offset: float = 0.0,
    ) -> SolveResult:
        """Solve within ``limits`` with ``workers`` parallel workers; return the incumbent.

        ``hint`` is the ``solution`` of an earlier result (a checkpoint): the search starts from
        it and never returns worse. ``on_improvement`` gets a result each time the incumbent
        improves. ``stop`` set (SIGTERM) ends the solve within about a second with
        ``StopReason.INTERRUPTED``. ``clock_offset`` is the time earlier runs spent: the total
        limit and the history's seconds count from the first run's start.
        """

    def check(self, problem: Any, solution: dict[str, Any]) -> list[str]:
        """Every constraint ``solution`` breaks, one line each (empty: feasible).

        Independent of the solver: recomputes loads, times, precedences and overlaps.
        """

    def figure_svg(self, problem: Any, solution: dict[str, Any]) -> str:
        """An inline SVG picture of ``solution`` (a route map; a Gantt chart)."""

    def summary(self, problem: Any) -> dict[str, Any]:
        """The instance's size and name for reports and metrics (JSON-ready)."""


def problem_module(kind: str) -> ProblemModule:
    """The module of ``kind``; an unknown kind is a :class:`ProblemError` naming the known."""
    if kind not in KINDS:
        raise ProblemError(f"problem kind {kind!r}: must be one of {', '.join(KINDS)}")
    module: ProblemModule = importlib.import_module(f"workloads.optimization.{kind}")  # type: ignore[assignment]
    return module
