"""A tiny problem kind for the shared code's tests: "countdown", solved one unit at a time.

The problem file is JSON: ``{"name": ..., "start": 100, "floor": 90, "step_seconds": 0.01}``.
Its solver starts at ``start`` (or the hint's ``value``), improves by one every
``step_seconds`` until it reaches ``floor`` (optimal: ``floor`` is the bound), and honours the
limits, the stop event and the clock offset as the real kinds do. ``"infeasible": true`` makes
it prove infeasibility at once, ``"ignore_hint": true`` makes it start over at ``start``, and
``"first_after": S`` finds its first solution only after S seconds. It imports no solver library.
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workloads.optimization import problems
from workloads.optimization.errors import ProblemError
from workloads.optimization.limits import TimeLimits
from workloads.optimization.results import Improvement, SolveResult, SolveStatus, StopReason

KIND = "countdown"


@dataclass(frozen=True)
class Countdown:
    """The fake problem."""

    name: str
    start: int
    floor: int
    step_seconds: float = 0.01
    infeasible: bool = False
    ignore_hint: bool = False
    first_after: float = 0.0


def from_dict(data: dict[str, Any], name: str) -> Countdown:
    """The problem from parsed JSON; a ProblemError naming the bad field."""
    for field in ("start", "floor"):
        if not isinstance(data.get(field), int):
            raise ProblemError(f"{name}: {field}: must be an integer, got {data.get(field)!r}")
    if data["floor"] > data["start"]:
        raise ProblemError(f"{name}: floor: must be at most start ({data['start']})")
    return Countdown(
        name=str(data.get("name", name)),
        start=data["start"],
        floor=data["floor"],
        step_seconds=float(data.get("step_seconds", 0.01)),
        infeasible=bool(data.get("infeasible", False)),
        ignore_hint=bool(data.get("ignore_hint", False)),
        first_after=float(data.get("first_after", 0.0)),
    )


def load(path: Path) -> Countdown:
    """The problem in a JSON file."""
    try:
        data = json.loads(path.read_text())
    except ValueError as error:
        raise ProblemError(f"{path.name}: not JSON ({error})") from None
    return from_dict(data, path.name)


def solve(
    problem: Countdown,
    limits: TimeLimits,
    *,
    workers: int,
    hint: dict[str, Any] | None,
    on_improvement: Callable[[SolveResult], None],
    stop: threading.Event,
    clock_offset: float = 0.0,
) -> SolveResult:
    """Count down from the start (or the hint) to the floor within the limits."""
    started = time.monotonic()

    def clock() -> float:
        return clock_offset + time.monotonic() - started

    def result(value: int | None, status: SolveStatus, reason: StopReason) -> SolveResult:
        return SolveResult(
            problem=KIND,
            name=problem.name,
            status=status,
            stop_reason=reason,
            objective=None if value is None else float(value),
            bound=float(problem.floor),
            elapsed_seconds=clock(),
            history=list(history),
            solution={} if value is None else {"value": value},
        )

    history: list[Improvement] = []
    if problem.infeasible:
        return result(None, SolveStatus.INFEASIBLE, StopReason.SOLVED)
    value: int | None = None
    next_value = problem.start
    if hint is not None and not problem.ignore_hint:
        next_value = int(hint["value"])
    wait_until = time.monotonic() + problem.first_after
    while True:
        reason = limits.stop_reason(clock(), history)
        if stop.is_set():
            reason = StopReason.INTERRUPTED
        if reason is not None:
            status = SolveStatus.NO_SOLUTION if value is None else SolveStatus.FEASIBLE
            return result(value, status, reason)
        if time.monotonic() >= wait_until:
            value = next_value
            history.append(Improvement(clock(), float(value)))
            on_improvement(result(value, SolveStatus.FEASIBLE, StopReason.SOLVED))
            if value <= problem.floor:
                return result(value, SolveStatus.OPTIMAL, StopReason.SOLVED)
            next_value = value - 1
        stop.wait(problem.step_seconds)


def check(problem: Countdown, solution: dict[str, Any]) -> list[str]:
    """The solution's value must be an integer at least the floor."""
    value = solution.get("value")
    if not isinstance(value, int):
        return [f"value: must be an integer, got {value!r}"]
    return [] if value >= problem.floor else [f"value {value} is below the floor {problem.floor}"]


def figure_svg(problem: Countdown, solution: dict[str, Any]) -> str:
    """A bar as long as the value."""
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="30">'
        f'<rect width="{solution["value"]}" height="20"/>'
        f'<text y="28">{html.escape(problem.name)}</text></svg>'
    )


def summary(problem: Countdown) -> dict[str, Any]:
    """The instance's name and size."""
    return {"name": problem.name, "start": problem.start, "floor": problem.floor}


def write(path: Path, **fields: Any) -> Path:
    """Write a problem file (tests)."""
    data = {"name": path.stem, "start": 100, "floor": 90, "step_seconds": 0.01, **fields}
    path.write_text(json.dumps(data))
    return path


def install() -> Callable[[str], Any]:
    """Make ``problems.problem_module("countdown")`` this module; returns the original lookup."""
    import sys

    original = problems.problem_module
    this = sys.modules[__name__]

    def lookup(kind: str) -> Any:
        return this if kind == KIND else original(kind)

    problems.problem_module = lookup  # type: ignore[assignment]
    return original
