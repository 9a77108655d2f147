"""The CP-SAT solve: optimality, release and due dates, hints, stop and every limit.

Solves are small and short (the machine is shared): ft06 is proven optimal in well under a
second; la21 (15x10) is not, so the limits are what ends its solves.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from ortools.sat.python import cp_model

from workloads.optimization.errors import ProblemError
from workloads.optimization.jobshop import check, from_dict, load, solve
from workloads.optimization.jobshop.schedule import greedy_starts, solution_from_starts
from workloads.optimization.jobshop.solver import MIN_ROUND_SECONDS
from workloads.optimization.limits import TimeLimits
from workloads.optimization.problems import problem_module
from workloads.optimization.results import SolveResult, SolveStatus, StopReason

INSTANCES = Path(__file__).resolve().parents[4] / "workloads/optimization/instances/jobshop"
FT06 = load(INSTANCES / "ft06.txt")
LA21 = load(INSTANCES / "la21.txt")


def run(problem, limits: TimeLimits, *, hint=None, stop=None, on_improvement=None, **kw):
    """Solve, checking every incumbent reported and the result with the independent checker."""
    seen: list[SolveResult] = []

    def record(result: SolveResult) -> None:
        assert check(problem, result.solution) == []
        assert result.objective == result.solution["objective_value"]
        seen.append(result)
        if on_improvement is not None:
            on_improvement(result)

    result = solve(
        problem,
        limits,
        workers=kw.pop("workers", 2),
        hint=hint,
        on_improvement=record,
        stop=stop or threading.Event(),
        **kw,
    )
    assert check(problem, result.solution) == []
    assert result.objective == result.solution["objective_value"]
    return result, seen


def test_the_module_provides_the_problem_interface() -> None:
    module = problem_module("jobshop")
    assert module.KIND == "jobshop"
    for name in ("load", "from_dict", "solve", "check", "figure_svg", "summary"):
        assert callable(getattr(module, name))
    assert module.summary(FT06) == {
        "name": "ft06",
        "kind": "jobshop",
        "jobs": 6,
        "machines": 6,
        "operations": 36,
        "objective": "makespan",
        "release_dates": False,
        "due_dates": False,
    }


def test_ft06_is_solved_to_its_proven_optimum() -> None:
    # when
    result, seen = run(FT06, TimeLimits(total_seconds=2))
    # then
    assert result.status is SolveStatus.OPTIMAL
    assert result.stop_reason is StopReason.SOLVED
    assert result.objective == 55 and result.bound == 55 and result.gap == 0
    assert result.solution["makespan"] == 55
    # every improvement was reported, strictly better each time, the last one returned
    assert [point.objective for point in result.history] == [r.objective for r in seen]
    assert all(
        a.objective > b.objective for a, b in zip(result.history, result.history[1:], strict=False)
    )
    assert all(r.bound is None or r.bound <= 55 for r in seen)


@pytest.mark.parametrize(
    ("objective", "optimum", "order"),
    [
        # job 2 first, then 0 (1 late), then 1 (3 late): 4
        ("total_tardiness", 4, [2, 0, 1]),
        # job 1 weighs 5: it goes at its release date, job 0 last (5 late): 5
        ("weighted_tardiness", 5, [2, 1, 0]),
    ],
)
def test_release_dates_hold_and_tardiness_is_minimised(
    objective: str, optimum: int, order: list[int]
) -> None:
    # given one machine, job 1 released at 2, every job due
    problem = from_dict(
        {
            "objective": objective,
            "jobs": [
                {"operations": [[0, 4]], "due": 4},
                {"operations": [[0, 3]], "release": 2, "due": 5, "weight": 5},
                {"operations": [[0, 1]], "due": 1},
            ],
        },
        "released",
    )
    # when
    result, _ = run(problem, TimeLimits(total_seconds=2))
    # then
    assert result.status is SolveStatus.OPTIMAL
    assert result.objective == optimum
    assert [entry["job"] for entry in result.solution["machines"][0]] == order
    assert result.solution["jobs"][1][0]["start"] >= 2
    assert result.solution[objective] == optimum


def test_a_hint_is_never_beaten_by_the_result_and_starts_the_history() -> None:
    # given a checkpointed solution of la21 (the greedy schedule) and a run clock at 5 s
    hint = solution_from_starts(LA21, greedy_starts(LA21))
    # when resuming for a very short round
    result, _ = run(LA21, TimeLimits(total_seconds=5.3), hint=hint, clock_offset=5.0)
    # then
    assert result.objective <= hint["makespan"]
    assert result.history[0].objective == hint["makespan"]
    assert all(point.seconds >= 5.0 for point in result.history)
    assert result.elapsed_seconds >= 5.0


def test_a_hint_that_breaks_a_constraint_is_refused() -> None:
    hint = solution_from_starts(FT06, greedy_starts(FT06))
    hint["jobs"][0][1]["start"] -= 1
    with pytest.raises(ProblemError, match=r"^hint: job 0 operation 1: "):
        run(FT06, TimeLimits(total_seconds=1), hint=hint)
    with pytest.raises(ProblemError, match=r"^hint: does not fit the problem$"):
        run(FT06, TimeLimits(total_seconds=1), hint=solution_from_starts(LA21, greedy_starts(LA21)))


def test_stop_ends_the_solve_with_the_incumbent() -> None:
    # given a stop event set by the second improvement, and a total limit far away
    stop = threading.Event()

    def second(result: SolveResult) -> None:
        if len(result.history) >= 2:
            stop.set()

    # when
    result, seen = run(LA21, TimeLimits(total_seconds=60), stop=stop, on_improvement=second)
    # then
    assert result.status is SolveStatus.FEASIBLE
    assert result.stop_reason is StopReason.INTERRUPTED
    assert result.objective == seen[-1].objective
    assert result.elapsed_seconds < 30  # nowhere near the total limit


def test_stop_set_from_outside_during_the_search_is_honoured() -> None:
    stop = threading.Event()
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    try:
        result, _ = run(LA21, TimeLimits(total_seconds=60), stop=stop)
    finally:
        timer.cancel()
    assert result.stop_reason is StopReason.INTERRUPTED
    assert result.elapsed_seconds < 30


def test_stop_already_set_returns_the_first_incumbent() -> None:
    stop = threading.Event()
    stop.set()
    result, seen = run(LA21, TimeLimits(total_seconds=60), stop=stop)
    assert result.stop_reason is StopReason.INTERRUPTED
    assert len(seen) == 1 and result.objective == seen[0].objective


def test_the_total_limit_ends_the_solve_counting_the_clock_offset() -> None:
    # when 9.5 of 10 seconds were spent by an earlier run
    result, _ = run(LA21, TimeLimits(total_seconds=10), clock_offset=9.5)
    # then
    assert result.status is SolveStatus.FEASIBLE
    assert result.stop_reason is StopReason.TOTAL_TIME_LIMIT
    assert result.elapsed_seconds >= 10 - MIN_ROUND_SECONDS
    assert result.bound is not None and result.bound <= result.objective
    assert result.gap is not None and result.gap >= 0


def test_iteration_rounds_go_on_until_the_total_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a count of the CP-SAT calls
    calls: list[float] = []
    real_solve = cp_model.CpSolver.solve

    def counted(self: cp_model.CpSolver, *args: object, **kwargs: object) -> object:
        calls.append(self.parameters.max_time_in_seconds)
        return real_solve(self, *args, **kwargs)

    monkeypatch.setattr(cp_model.CpSolver, "solve", counted)
    # when each CP-SAT call may take 0.2 s of a 0.8 s total
    result, _ = run(LA21, TimeLimits(total_seconds=0.8, iteration_seconds=0.2))
    # then the rounds went on to the total limit, none longer than the iteration limit
    assert result.stop_reason is StopReason.TOTAL_TIME_LIMIT
    assert result.elapsed_seconds >= 0.8 - MIN_ROUND_SECONDS
    assert len(calls) >= 3
    assert all(seconds <= 0.2 for seconds in calls)


def test_the_no_improvement_window_ends_the_solve() -> None:
    # given a window of 0.5 s needing a 50% improvement (never happens on la21)
    limits = TimeLimits(total_seconds=60, no_improvement_seconds=0.5, min_relative_improvement=0.5)
    # when
    result, _ = run(LA21, limits)
    # then
    assert result.stop_reason is StopReason.NO_IMPROVEMENT
    assert result.elapsed_seconds < 30


def test_an_error_in_the_improvement_callback_reaches_the_caller() -> None:
    def fail(result: SolveResult) -> None:
        if len(result.history) > 1:
            raise OSError("checkpoint disk full")

    with pytest.raises(OSError, match="checkpoint disk full"):
        run(LA21, TimeLimits(total_seconds=5), on_improvement=fail)


def test_workers_must_be_positive() -> None:
    with pytest.raises(ProblemError, match=r"^workers: must be a positive integer, got 0$"):
        run(FT06, TimeLimits(total_seconds=1), workers=0)
