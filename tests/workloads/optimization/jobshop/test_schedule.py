"""The independent checker, the solution mapping and the greedy schedule."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from workloads.optimization.jobshop import check, from_dict, load
from workloads.optimization.jobshop.schedule import (
    greedy_starts,
    objective_value,
    solution_from_starts,
)

INSTANCES = Path(__file__).resolve().parents[4] / "workloads/optimization/instances/jobshop"

#: Two jobs on two machines; job 1 released at 2, due dates 5 and 6.
TWO_JOBS = from_dict(
    {
        "objective": "weighted_tardiness",
        "jobs": [
            {"operations": [[0, 3], [1, 2]], "due": 5, "weight": 3},
            {"operations": [[1, 2], [0, 2]], "release": 2, "due": 6},
        ],
    },
    "two-jobs",
)
#: A feasible schedule of TWO_JOBS: job 0 at 0-3 on M0, 4-6 on M1; job 1 at 2-4 on M1, 4-6 on M0.
GOOD = solution_from_starts(TWO_JOBS, [[0, 4], [2, 4]])


def test_a_feasible_schedule_has_its_figures_recomputed() -> None:
    assert check(TWO_JOBS, GOOD) == []
    assert GOOD["makespan"] == 6
    assert GOOD["tardiness"] == [1, 0]
    assert GOOD["total_tardiness"] == 1
    assert GOOD["weighted_tardiness"] == 3
    assert GOOD["objective"] == "weighted_tardiness" and GOOD["objective_value"] == 3
    assert GOOD["machines"][1] == [
        {"job": 1, "operation": 0, "start": 2, "end": 4},
        {"job": 0, "operation": 1, "start": 4, "end": 6},
    ]


def broken(change: str) -> dict:
    solution = copy.deepcopy(GOOD)
    jobs = solution["jobs"]
    if change == "overlap":  # job 1 one later: its first operation runs into job 0's on M1
        solution = solution_from_starts(TWO_JOBS, [[0, 4], [3, 5]])
    elif change == "precedence":
        jobs[0][1].update(start=2, end=4)
    elif change == "release":
        jobs[1][0].update(start=1, end=3)
    elif change == "duration":
        jobs[0][0]["end"] = 2
    elif change == "machine":
        jobs[0][0]["machine"] = 1
    elif change == "makespan":
        solution["makespan"] = 5
    elif change == "machines list":
        solution["machines"][0].pop()
    elif change == "missing operation":
        jobs[1].pop()
    return solution


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("overlap", ["machine 1: job 1 operation 0 (3-5) overlaps job 0 operation 1 (4-6)"]),
        ("precedence", ["job 0 operation 1: starts at 2, before operation 0 ends at 3"]),
        ("release", ["job 1 operation 0: starts at 1, before its release 2"]),
        ("duration", ["job 0 operation 0: runs 2, its duration is 3"]),
        ("machine", ["job 0 operation 0: on machine 1, must be on 0"]),
        ("makespan", ["makespan: reported 5, recomputed 6"]),
        (
            "machines list",
            [
                "machine 0: its list does not match the jobs' operations on it "
                "(each operation once, same times)"
            ],
        ),
        ("missing operation", ["job 1: expected 2 operations"]),
    ],
)
def test_the_checker_names_each_broken_constraint(change: str, expected: list[str]) -> None:
    assert check(TWO_JOBS, broken(change)) == expected


def test_the_checker_rejects_what_is_not_a_schedule() -> None:
    assert check(TWO_JOBS, {}) == ["jobs: expected a list of 2 jobs"]
    assert check(TWO_JOBS, []) == ["solution: must be a mapping, got list"]  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["ft06", "la01", "ft10", "la21"])
def test_the_greedy_schedule_is_feasible(name: str) -> None:
    problem = load(INSTANCES / f"{name}.txt")
    starts = greedy_starts(problem)
    solution = solution_from_starts(problem, starts)
    assert check(problem, solution) == []
    assert solution["makespan"] == objective_value(problem, starts)


def test_the_greedy_schedule_respects_release_dates() -> None:
    starts = greedy_starts(TWO_JOBS)
    assert starts[1][0] >= 2
    assert check(TWO_JOBS, solution_from_starts(TWO_JOBS, starts)) == []
