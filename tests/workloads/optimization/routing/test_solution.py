"""The feasibility checker (independent of the solver) and the route map."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.workloads.optimization.routing.conftest import eight_customers
from workloads.optimization import routing
from workloads.optimization.routing.model import RoutingProblem, problem_from_dict
from workloads.optimization.routing.solution import solution_from_routes

# Node numbers: 0 is the depot, 1-4 the north-east cluster, 5-8 the south-west one.
TWO_CLUSTERS = [[1, 2, 3, 4], [5, 6, 7, 8]]


def test_a_feasible_solution_has_nothing_to_report(eight: RoutingProblem) -> None:
    # given
    solution = solution_from_routes(eight, TWO_CLUSTERS)
    # then
    assert routing.check(eight, solution) == []
    assert (
        solution["objective"]
        == solution["distance"]
        == sum(r["distance"] for r in solution["routes"])
    )
    assert [s["load"] for s in solution["routes"][0]["stops"]] == [0, 2, 4, 6, 8, 8]
    assert solution["routes"][0]["stops"][0]["node"] == "D"


def test_an_overloaded_route_is_reported(eight: RoutingProblem) -> None:
    # given all eight customers (demand 16) on one truck of capacity 10
    solution = solution_from_routes(eight, [[1, 2, 3, 4, 5, 6, 7, 8], []])
    # then
    assert routing.check(eight, solution) == ["routes[0]: load 16 is over vehicle 0's capacity 10"]


def test_a_missing_or_repeated_customer_is_reported(eight: RoutingProblem) -> None:
    solution = solution_from_routes(eight, [[1, 2, 3, 4], [5, 6, 7, 8]])
    broken = copy.deepcopy(solution)
    # customer 8 is replaced by customer 1 on the second route
    broken["routes"][1]["stops"][4]["node"] = 1
    problems = routing.check(eight, broken)
    assert "customer 1: served 2 times, not once" in problems
    assert "customer 8: served 0 times, not once" in problems


def test_a_wrong_objective_and_a_wrong_depot_are_reported(eight: RoutingProblem) -> None:
    solution = solution_from_routes(eight, TWO_CLUSTERS)
    wrong_objective = copy.deepcopy(solution)
    wrong_objective["objective"] -= 1
    wrong_depot = copy.deepcopy(solution)
    wrong_depot["routes"][0]["stops"][-1]["node"] = 4
    assert routing.check(eight, wrong_objective) == [
        f"objective: {solution['objective'] - 1}, recomputed {solution['objective']}"
    ]
    assert routing.check(eight, wrong_depot)[0] == (
        "routes[0]: must start and end at depot 'D', goes 'D' .. 4"
    )


def test_using_more_vehicles_than_the_fleet_has_is_reported(eight: RoutingProblem) -> None:
    solution = solution_from_routes(eight, TWO_CLUSTERS)
    solution["routes"][1]["vehicle"] = 2
    assert routing.check(eight, solution) == ["routes[1]: vehicle 2 does not exist"] + [
        f"customer {c}: served 0 times, not once" for c in (5, 6, 7, 8)
    ] + [
        f"distance: {solution['distance']}, recomputed {solution['routes'][0]['distance']}",
        f"objective: {solution['objective']}, recomputed {solution['routes'][0]['distance']}",
    ]


def windowed() -> RoutingProblem:
    data: dict[str, Any] = eight_customers()
    data["depots"][0]["time_window"] = [0, 200]
    for customer in data["customers"]:
        customer["service_time"] = 5
    data["customers"][3]["time_window"] = [0, 20]
    data["customers"][0]["time_window"] = [60, 80]
    return problem_from_dict(data, "windowed")


def test_a_missed_time_window_is_reported_and_waiting_is_not() -> None:
    # given customer 1 opening at 60 and customer 4 closing at 20
    problem = windowed()
    # when 1 is served before 4, 4 is late; when 4 comes first, the truck waits for 1
    late = solution_from_routes(problem, [[1, 2, 3, 4], [5, 6, 7, 8]])
    waits = solution_from_routes(problem, [[4, 3, 2, 1], [5, 6, 7, 8]])
    # then
    assert routing.check(problem, late) == [
        "routes[0].stops[4]: service at 81, after the window [0, 20] closes"
    ]
    assert routing.check(problem, waits) == []
    first = waits["routes"][0]["stops"][4]
    assert (first["node"], first["departure"]) == (1, 65)
    assert first["arrival"] < 60


def test_times_that_skip_the_travel_are_reported() -> None:
    problem = windowed()
    solution = solution_from_routes(problem, [[4, 3, 2, 1], [5, 6, 7, 8]])
    solution["routes"][1]["stops"][2]["arrival"] = 0
    assert routing.check(problem, solution)[0].startswith("routes[1].stops[2]: arrives at 0")


def test_dropping_needs_permission_and_costs_the_penalty() -> None:
    data = eight_customers()
    strict = problem_from_dict(data, "strict")
    data.update(allow_dropping=True, drop_penalty=1000)
    lenient = problem_from_dict(data, "lenient")
    routes = [[1, 2, 3, 4], [5, 6, 7]]
    assert routing.check(lenient, solution_from_routes(lenient, routes)) == []
    assert solution_from_routes(lenient, routes)["drop_penalty"] == 1000
    assert routing.check(strict, solution_from_routes(strict, routes)) == [
        "dropped: [8], but the problem does not allow dropping customers"
    ]


def test_a_malformed_solution_is_reported_not_raised(eight: RoutingProblem) -> None:
    assert routing.check(eight, {"routes": [{}]}) == [
        "the solution is malformed: KeyError: 'vehicle'"
    ]


@pytest.mark.parametrize("with_coordinates", [True, False])
def test_the_route_map_draws_every_route_and_node(with_coordinates: bool) -> None:
    # given the problem with coordinates, or the same distances as a bare matrix
    problem = problem_from_dict(eight_customers(), "eight")
    if not with_coordinates:
        data = {
            "depots": [{"id": "D"}],
            "customers": [{"id": i, "demand": 2} for i in range(1, 9)],
            "vehicles": [{"capacity": 10, "count": 2}],
            "matrix": [list(row) for row in problem.distances],
        }
        problem = problem_from_dict(data, "matrix")
    solution = solution_from_routes(problem, TWO_CLUSTERS)
    # when
    svg = routing.figure_svg(problem, solution)
    # then
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<polyline") == 2
    assert svg.count("<circle") == 8
    assert svg.count("<rect") == 2  # the background and the depot
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
