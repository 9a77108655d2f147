"""The input model: JSON/YAML problems, validation errors naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.workloads.optimization.routing.conftest import eight_customers
from workloads.optimization import routing
from workloads.optimization.errors import ProblemError
from workloads.optimization.routing.model import problem_from_dict, problem_to_dict


def test_a_json_problem_gets_its_distances_rounded_as_cvrplib_does() -> None:
    # given a depot and a customer 3-4-5 apart, and one 1.5 away (rounds half up)
    data = {
        "depots": [{"id": 0, "x": 0, "y": 0}],
        "customers": [{"id": 1, "x": 3, "y": 4, "demand": 1}, {"id": 2, "x": 1.5, "y": 0}],
        "vehicles": [{"capacity": 5}],
    }
    # when
    problem = problem_from_dict(data, "tiny")
    # then
    assert problem.name == "tiny"
    assert problem.distances[0] == (0, 5, 2)
    assert problem.vehicles[0].depot == 0
    assert problem.vehicles[0].count == 1
    assert problem.customers[1].demand == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["vehicles"].append({"capacity": -5, "depot": "D"}),
            "vehicles[1].capacity: must be a positive integer, got -5",
        ),
        (
            lambda d: d["vehicles"][0].update(count=0),
            "vehicles[0].count: must be a positive integer, got 0",
        ),
        (
            lambda d: d["vehicles"][0].update(depot="X"),
            "vehicles[0].depot: must be one of the depots' ids, got 'X'",
        ),
        (
            lambda d: d["customers"][7].update(time_window=[50, 10]),
            "customers[7].time_window: opens after it closes: [50, 10]",
        ),
        (
            lambda d: d["customers"][3].update(time_window=[5]),
            "customers[3].time_window: must be [earliest, latest], two integers >= 0, got [5]",
        ),
        (
            lambda d: d["customers"][2].update(demand=1.5),
            "customers[2].demand: must be an integer >= 0, got 1.5",
        ),
        (
            lambda d: d["customers"][1].update(id="D"),
            "customers[1].id: 'D' is also depots[0]",
        ),
        (
            lambda d: d["customers"][0].pop("x"),
            "customers[0]: needs x and y (or give the problem a matrix)",
        ),
        (
            lambda d: d["customers"][0].update(colour="red"),
            "customers[0].colour: unknown field",
        ),
        (lambda d: d.update(customers=[]), "customers: must be a non-empty list, got []"),
        (
            lambda d: d.update(allow_dropping=True),
            "drop_penalty: must be a positive integer when allow_dropping is true, got None",
        ),
        (
            lambda d: d.update(matrix=[[0, 1]]),
            "matrix: must be a list of 9 rows (depots, then customers), one per node",
        ),
    ],
)
def test_a_bad_field_is_named(change: Any, message: str) -> None:
    # given the eight-customer problem with one field broken
    data = eight_customers()
    change(data)
    # when / then
    with pytest.raises(ProblemError) as caught:
        problem_from_dict(data, "eight")
    assert str(caught.value) == message


def test_every_bad_field_is_reported_at_once() -> None:
    data = eight_customers()
    data["vehicles"][0]["capacity"] = 0
    data["customers"][4]["service_time"] = -1
    with pytest.raises(ProblemError) as caught:
        problem_from_dict(data, "eight")
    assert str(caught.value) == (
        "customers[4].service_time: must be an integer >= 0, got -1; "
        "vehicles[0].capacity: must be a positive integer, got 0"
    )


def test_an_explicit_matrix_replaces_coordinates() -> None:
    data = {
        "depots": [{"id": "D"}],
        "customers": [{"id": "a", "demand": 1}, {"id": "b", "demand": 1}],
        "vehicles": [{"capacity": 2}],
        "matrix": [[0, 4, 6], [4, 0, 3], [6, 3, 0]],
    }
    problem = problem_from_dict(data, "m")
    assert problem.distances[2] == (6, 3, 0)
    assert not problem.has_coordinates


def test_a_matrix_must_be_zero_on_its_diagonal() -> None:
    data = {
        "depots": [{"id": "D"}],
        "customers": [{"id": "a"}],
        "vehicles": [{"capacity": 2}],
        "matrix": [[0, 4], [4, 1]],
    }
    with pytest.raises(ProblemError, match=r"^matrix\[1\]\[1\]: a node's distance to itself"):
        problem_from_dict(data, "m")


def test_yaml_and_json_files_load_and_round_trip(tmp_path: Path, eight: Any) -> None:
    # given the problem written as JSON and as YAML
    import yaml

    (tmp_path / "eight.json").write_text(json.dumps(problem_to_dict(eight)))
    (tmp_path / "eight.yaml").write_text(yaml.safe_dump(problem_to_dict(eight)))
    # when / then
    assert routing.load(tmp_path / "eight.json") == eight
    assert routing.load(tmp_path / "eight.yaml") == eight


def test_a_bad_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("depots: [")
    (tmp_path / "p.txt").write_text("")
    (tmp_path / "q.json").write_text(json.dumps({"depots": []}))
    with pytest.raises(ProblemError, match=r"p\.yaml: not valid YAML"):
        routing.load(tmp_path / "p.yaml")
    with pytest.raises(ProblemError, match=r"p\.txt: a routing problem is a \.vrp, \.json"):
        routing.load(tmp_path / "p.txt")
    with pytest.raises(ProblemError) as caught:
        routing.load(tmp_path / "q.json")
    assert str(caught.value).startswith("q.json: depots: must be a non-empty list, got []")


def test_the_summary_counts_the_instance(eight: Any) -> None:
    assert routing.summary(eight) == {
        "name": "eight",
        "customers": 8,
        "depots": 1,
        "vehicles": 2,
        "vehicle_types": 1,
        "total_demand": 16,
        "time_windows": False,
    }
