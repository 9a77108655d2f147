"""Solving with the portfolio: feasible answers, limits, stop, hints (tiny instances, <= 1 s each)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.workloads.optimization.routing.conftest import eight_customers
from tests.workloads.optimization.routing.test_solution import windowed
from workloads.optimization import routing
from workloads.optimization.errors import ProblemError
from workloads.optimization.limits import TimeLimits
from workloads.optimization.results import SolveResult, SolveStatus, StopReason
from workloads.optimization.routing.model import RoutingProblem, problem_from_dict
from workloads.optimization.routing.solution import solution_from_routes


def solve(
    problem: RoutingProblem,
    limits: TimeLimits,
    *,
    workers: int = 1,
    hint: dict[str, Any] | None = None,
    stop: threading.Event | None = None,
    on_improvement: Any = None,
    clock_offset: float = 0.0,
) -> SolveResult:
    """Solve and check the answer with the independent checker."""
    result = routing.solve(
        problem,
        limits,
        workers=workers,
        hint=hint,
        on_improvement=on_improvement or (lambda _: None),
        stop=stop or threading.Event(),
        clock_offset=clock_offset,
    )
    if result.solution.get("routes") is not None:
        assert routing.check(problem, result.solution) == []
        assert result.objective == result.solution["objective"]
    return result


def test_a_tiny_instance_is_solved_by_two_workers(eight: RoutingProblem) -> None:
    # given
    improvements: list[SolveResult] = []
    # when
    result = solve(
        eight, TimeLimits(total_seconds=1.0), workers=2, on_improvement=improvements.append
    )
    # then one route per cluster, the best there is
    assert result.status is SolveStatus.FEASIBLE
    assert result.stop_reason is StopReason.TOTAL_TIME_LIMIT
    in_index_order = solution_from_routes(eight, [[1, 2, 3, 4], [5, 6, 7, 8]])["objective"]
    assert result.objective is not None and result.objective <= in_index_order
    assert {
        frozenset(r["stops"][i]["node"] for i in range(1, 5)) for r in result.solution["routes"]
    } == {
        frozenset({1, 2, 3, 4}),
        frozenset({5, 6, 7, 8}),
    }
    assert (result.bound, result.gap) == (None, None)
    assert result.elapsed_seconds >= 1.0
    assert improvements and improvements[-1].objective == result.objective
    assert [p.objective for p in result.history] == sorted(
        (p.objective for p in result.history), reverse=True
    )


def test_time_windows_are_respected() -> None:
    # given customer 4 closing at 20 and customer 1 opening at 60
    problem = windowed()
    # when
    result = solve(problem, TimeLimits(total_seconds=1.0))
    # then (solve() checked every window); customer 4 is served before customer 1
    route = next(r for r in result.solution["routes"] if 1 in [s["node"] for s in r["stops"]])
    nodes = [s["node"] for s in route["stops"]]
    assert nodes.index(4) < nodes.index(1)
    assert route["stops"][nodes.index(1)]["departure"] >= 65


def test_several_depots_vehicle_types_fixed_costs_and_dropping() -> None:
    # given a depot by each cluster, a cheap small van at one and a costly truck at the other,
    # and a far customer whose penalty is less than the detour
    data = eight_customers()
    data["depots"] = [{"id": "NE", "x": 11, "y": 11}, {"id": "SW", "x": -11, "y": -11}]
    data["vehicles"] = [
        {"name": "van", "capacity": 8, "count": 1, "depot": "NE", "fixed_cost": 5},
        {"name": "truck", "capacity": 8, "count": 1, "depot": "SW", "fixed_cost": 50},
    ]
    data["customers"].append({"id": 9, "x": 300, "y": 300, "demand": 1})
    data.update(allow_dropping=True, drop_penalty=100)
    problem = problem_from_dict(data, "depots")
    # when
    result = solve(problem, TimeLimits(total_seconds=1.0), workers=2)
    # then each cluster is served from its own depot and the far customer is dropped
    assert result.solution["dropped"] == [9]
    depots = {r["depot"]: r["type"] for r in result.solution["routes"]}
    assert depots == {"NE": "van", "SW": "truck"}
    assert result.solution["fixed_cost"] == 55
    assert result.objective == result.solution["distance"] + 55 + 100


def test_a_hint_is_never_returned_worse() -> None:
    # given a poor but feasible hint zig-zagging between the clusters
    problem = problem_from_dict(eight_customers(), "eight")
    hint = solution_from_routes(problem, [[1, 5, 2, 6], [3, 7, 4, 8]])
    # when the run is stopped before it starts, and when it runs for a short while
    stopped = threading.Event()
    stopped.set()
    at_once = solve(problem, TimeLimits(total_seconds=1.0), hint=hint, stop=stopped)
    briefly = solve(problem, TimeLimits(total_seconds=0.5), hint=hint)
    # then
    assert at_once.status is SolveStatus.FEASIBLE
    assert at_once.stop_reason is StopReason.INTERRUPTED
    assert at_once.objective == hint["objective"]
    assert briefly.objective is not None and briefly.objective < hint["objective"]
    assert briefly.history[0].objective == hint["objective"]


def test_an_infeasible_hint_is_refused(eight: RoutingProblem) -> None:
    hint = solution_from_routes(eight, [[1, 2, 3, 4, 5, 6, 7, 8], []])
    with pytest.raises(ProblemError) as caught:
        solve(eight, TimeLimits(total_seconds=1.0), hint=hint)
    assert str(caught.value) == (
        "hint: not a solution of eight: routes[0]: load 16 is over vehicle 0's capacity 10"
    )


def test_the_stop_event_ends_the_run_with_the_incumbent(eight: RoutingProblem) -> None:
    # given a 60 s budget, and a stop (SIGTERM) at the first improvement
    stop = threading.Event()
    # when
    result = solve(
        eight,
        TimeLimits(total_seconds=60),
        workers=2,
        stop=stop,
        on_improvement=lambda _: stop.set(),
    )
    # then it returns the incumbent long before the budget is spent
    assert result.stop_reason is StopReason.INTERRUPTED
    assert result.status is SolveStatus.FEASIBLE
    assert result.elapsed_seconds < 30


def test_the_no_improvement_window_ends_the_run(eight: RoutingProblem) -> None:
    # given a 60 s budget and a 0.5 s window (the optimum of 8 customers comes at once)
    limits = TimeLimits(total_seconds=60, iteration_seconds=0.3, no_improvement_seconds=0.5)
    # when
    result = solve(eight, limits)
    # then
    assert result.stop_reason is StopReason.NO_IMPROVEMENT
    assert result.status is SolveStatus.FEASIBLE
    assert result.elapsed_seconds < 30


def test_time_spent_by_earlier_runs_counts_against_the_total(eight: RoutingProblem) -> None:
    # given a resumed run whose earlier runs used up the budget
    hint = solution_from_routes(eight, [[1, 2, 3, 4], [5, 6, 7, 8]])
    # when
    result = solve(eight, TimeLimits(total_seconds=10), hint=hint, clock_offset=12.0)
    # then it stops at once with the hint
    assert result.stop_reason is StopReason.TOTAL_TIME_LIMIT
    assert result.objective == hint["objective"]
    assert result.elapsed_seconds >= 12.0


def test_demand_beyond_the_fleet_is_infeasible() -> None:
    data = eight_customers()
    data["customers"][0]["demand"] = 11
    problem = problem_from_dict(data, "heavy")
    result = solve(problem, TimeLimits(total_seconds=1.0))
    assert (result.status, result.stop_reason) == (SolveStatus.INFEASIBLE, StopReason.SOLVED)
    assert result.solution == {
        "infeasible": [
            "customers[0]: demand 11 is more than any vehicle's capacity (10)",
            "the total demand 25 is more than the fleet's capacity 20",
        ]
    }


def test_workers_must_be_positive(eight: RoutingProblem) -> None:
    with pytest.raises(ProblemError, match=r"^workers: must be a positive integer, got 0$"):
        solve(eight, TimeLimits(total_seconds=1.0), workers=0)


def test_a_customer_no_vehicle_can_reach_in_time_is_infeasible() -> None:
    # given a depot open until 100 and a customer 300 away
    data = eight_customers()
    data["depots"][0]["time_window"] = [0, 100]
    data["customers"].append({"id": 9, "x": 300, "y": 0, "demand": 1, "time_window": [0, 400]})
    problem = problem_from_dict(data, "far")
    # when
    result = solve(problem, TimeLimits(total_seconds=1.0))
    # then
    assert result.status is SolveStatus.INFEASIBLE
    assert result.solution == {
        "infeasible": [
            "customers[8]: cannot be served within its time window [0, 400] from any vehicle's "
            "depot and back in time"
        ]
    }
