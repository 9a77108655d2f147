"""Capacitated vehicle routing with time windows, several depots and a fleet of vehicle types.

The :class:`~workloads.optimization.problems.ProblemModule` of kind ``routing``: problems from
CVRPLIB ``.vrp`` files or JSON/YAML (:mod:`.model` documents the fields), solved by a parallel
portfolio of OR-Tools routing searches (:mod:`.portfolio`), checked by :func:`check`, which trusts
nothing the solver says, and drawn as a route map by :func:`figure_svg`. OR-Tools is imported only
by the worker processes, so reading and checking problems does not need it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workloads.optimization.errors import ProblemError
from workloads.optimization.limits import TimeLimits
from workloads.optimization.results import SolveResult
from workloads.optimization.routing.figure import route_map_svg
from workloads.optimization.routing.model import RoutingProblem, problem_from_dict
from workloads.optimization.routing.portfolio import solve_portfolio
from workloads.optimization.routing.solution import check_solution
from workloads.optimization.routing.vrp_format import read_vrp

KIND = "routing"

__all__ = [
    "KIND",
    "RoutingProblem",
    "check",
    "figure_svg",
    "from_dict",
    "load",
    "solve",
    "summary",
]


def load(path: Path) -> RoutingProblem:
    """The problem in ``path``: a CVRPLIB ``.vrp`` file, or ``.json``/``.yaml``/``.yml``.

    Raises :class:`ProblemError` naming the file and the line (``.vrp``) or field (JSON/YAML).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".vrp":
        return read_vrp(path)
    if suffix not in (".json", ".yaml", ".yml"):
        raise ProblemError(f"{path}: a routing problem is a .vrp, .json, .yaml or .yml file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ProblemError(f"{path}: cannot be read: {error}") from error
    import yaml

    try:
        data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        kind = "JSON" if suffix == ".json" else "YAML"
        raise ProblemError(f"{path}: not valid {kind}: {error}") from error
    if not isinstance(data, dict):
        raise ProblemError(f"{path}: must be a mapping of depots, customers and vehicles")
    try:
        return problem_from_dict(data, path.stem)
    except ProblemError as error:
        raise ProblemError(f"{path.name}: {error}") from None


def from_dict(data: dict[str, Any], name: str) -> RoutingProblem:
    """The problem from parsed JSON/YAML; :class:`ProblemError` naming every bad field."""
    return problem_from_dict(data, name)


def solve(
    problem: RoutingProblem,
    limits: TimeLimits,
    *,
    workers: int,
    hint: dict[str, Any] | None,
    on_improvement: Callable[[SolveResult], None],
    stop: threading.Event,
    clock_offset: float = 0.0,
) -> SolveResult:
    """Solve with a portfolio of ``workers`` processes sharing the incumbent each round.

    Status FEASIBLE with the best routes (the routing library proves no bound: ``bound`` and
    ``gap`` are None), NO_SOLUTION when stopped before any, INFEASIBLE when demand cannot fit the
    fleet or OR-Tools proves there is no solution. A ``hint`` that is not a feasible solution of
    ``problem`` is a :class:`ProblemError`.
    """
    return solve_portfolio(
        problem,
        limits,
        workers=workers,
        hint=hint,
        on_improvement=on_improvement,
        stop=stop,
        clock_offset=clock_offset,
    )


def check(problem: RoutingProblem, solution: dict[str, Any]) -> list[str]:
    """Every constraint ``solution`` breaks, one line each (empty: feasible)."""
    return check_solution(problem, solution)


def figure_svg(problem: RoutingProblem, solution: dict[str, Any]) -> str:
    """The route map of ``solution``: depots, customers, one colour per route."""
    return route_map_svg(problem, solution)


def summary(problem: RoutingProblem) -> dict[str, Any]:
    """The instance's name and size for reports and metrics."""
    return {
        "name": problem.name,
        "customers": len(problem.customers),
        "depots": len(problem.depots),
        "vehicles": len(problem.vehicle_types),
        "vehicle_types": len(problem.vehicles),
        "total_demand": sum(c.demand for c in problem.customers),
        "time_windows": problem.has_time_windows,
    }
