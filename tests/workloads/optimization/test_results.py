"""What a solve returns: gap, times to first and best, metrics."""

from __future__ import annotations

from workloads.optimization.results import Improvement, SolveResult, SolveStatus, StopReason


def result(**fields: object) -> SolveResult:
    defaults: dict = {
        "problem": "jobshop",
        "name": "ft06",
        "status": SolveStatus.FEASIBLE,
        "stop_reason": StopReason.TOTAL_TIME_LIMIT,
    }
    return SolveResult(**(defaults | fields))


def test_the_gap_is_relative_to_the_objective() -> None:
    assert result(objective=60.0, bound=55.0).gap == 5 / 60
    assert result(status=SolveStatus.OPTIMAL, objective=55.0, bound=55.0).gap == 0.0
    assert result(objective=60.0).gap is None  # no bound: unknown
    assert result().gap is None


def test_times_and_metrics_come_from_the_history() -> None:
    # given
    solved = result(
        objective=55.0,
        bound=55.0,
        status=SolveStatus.OPTIMAL,
        elapsed_seconds=2.5,
        history=[Improvement(0.1, 70), Improvement(1.2, 55)],
    )
    # then
    assert (solved.seconds_to_first, solved.seconds_to_best) == (0.1, 1.2)
    assert solved.metrics() == {
        "objective": 55.0,
        "bound": 55.0,
        "gap": 0.0,
        "elapsed_seconds": 2.5,
        "seconds_to_first": 0.1,
        "seconds_to_best": 1.2,
        "improvements": 2.0,
    }
    assert solved.to_dict()["status"] == "optimal"
    assert solved.to_dict()["history"] == [[0.1, 70], [1.2, 55]]


def test_without_a_solution_only_the_time_is_a_metric() -> None:
    empty = result(status=SolveStatus.NO_SOLUTION, elapsed_seconds=1.0)
    assert empty.metrics() == {"elapsed_seconds": 1.0, "improvements": 0.0}
