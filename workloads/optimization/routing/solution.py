"""Routes as a solution mapping, and the feasibility checker that trusts none of the solver.

A solution (JSON-ready, a :class:`~workloads.optimization.results.SolveResult`'s ``solution``)::

    {"routes": [{"vehicle": 0, "type": "truck", "depot": 1, "distance": 118, "load": 95,
                 "stops": [{"node": 1, "load": 0, "arrival": 0, "departure": 0},
                           {"node": 7, "load": 12, "arrival": 34, "departure": 34}, ...,
                           {"node": 1, "load": 95, "arrival": 118, "departure": 118}]}, ...],
     "dropped": [], "distance": 784, "fixed_cost": 0, "drop_penalty": 0, "objective": 784}

Only used vehicles have a route. A stop's ``load`` is the demand served on the route so far,
including that stop; ``arrival`` is when the vehicle gets there, ``departure`` when it leaves
(service starts at the later of arrival and the window's opening). The objective is the total
distance plus the fixed cost of every used vehicle plus the penalty of every dropped customer.
"""

from __future__ import annotations

import itertools
from typing import Any

from workloads.optimization.routing.model import RoutingProblem

#: Routes by vehicle number: the customers' node numbers in visiting order (depots left out).
Routes = list[list[int]]


def route_distance(problem: RoutingProblem, vehicle: int, customers: list[int]) -> int:
    """The distance of ``vehicle`` serving ``customers`` (node numbers) from its depot and back."""
    depot = problem.depot_number(vehicle)
    path = [depot, *customers, depot]
    return sum(problem.distances[a][b] for a, b in itertools.pairwise(path))


def objective_of(problem: RoutingProblem, routes: Routes) -> int:
    """The objective of ``routes``: distance, fixed costs of used vehicles, drop penalties."""
    total = 0
    served = 0
    for vehicle, customers in enumerate(routes):
        if customers:
            total += route_distance(problem, vehicle, customers)
            total += problem.vehicles[problem.vehicle_types[vehicle]].fixed_cost
            served += len(customers)
    return total + (len(problem.customers) - served) * problem.drop_penalty


def solution_from_routes(problem: RoutingProblem, routes: Routes) -> dict[str, Any]:
    """The solution mapping of ``routes``, with loads and the earliest feasible schedule."""
    ids = problem.node_ids
    result_routes = []
    distance = fixed = 0
    served: set[int] = set()
    for vehicle, customers in enumerate(routes):
        if not customers:
            continue
        kind = problem.vehicles[problem.vehicle_types[vehicle]]
        depot = problem.depot_number(vehicle)
        window = problem.window(depot)
        time = window[0] if window else 0
        load = 0
        stops = [{"node": ids[depot], "load": 0, "arrival": time, "departure": time}]
        previous = depot
        for node in customers:
            arrival = time + problem.distances[previous][node]
            node_window = problem.window(node)
            start = max(arrival, node_window[0]) if node_window else arrival
            time = start + problem.service(node)
            load += problem.demand(node)
            stops.append({"node": ids[node], "load": load, "arrival": arrival, "departure": time})
            previous = node
            served.add(node)
        arrival = time + problem.distances[previous][depot]
        stops.append({"node": ids[depot], "load": load, "arrival": arrival, "departure": arrival})
        route_length = route_distance(problem, vehicle, customers)
        distance += route_length
        fixed += kind.fixed_cost
        result_routes.append(
            {
                "vehicle": vehicle,
                "type": kind.name,
                "depot": ids[depot],
                "distance": route_length,
                "load": load,
                "stops": stops,
            }
        )
    first_customer = len(problem.depots)
    dropped = [
        ids[n]
        for n in range(first_customer, first_customer + len(problem.customers))
        if n not in served
    ]
    penalty = len(dropped) * problem.drop_penalty
    return {
        "routes": result_routes,
        "dropped": dropped,
        "distance": distance,
        "fixed_cost": fixed,
        "drop_penalty": penalty,
        "objective": distance + fixed + penalty,
    }


def routes_from_solution(problem: RoutingProblem, solution: dict[str, Any]) -> Routes:
    """The routes by vehicle number of a solution mapping (a checkpoint's hint).

    Assumes :func:`check_solution` found nothing wrong with it.
    """
    routes: Routes = [[] for _ in problem.vehicle_types]
    for route in solution["routes"]:
        routes[route["vehicle"]] = [problem.node_number[s["node"]] for s in route["stops"][1:-1]]
    return routes


def check_solution(problem: RoutingProblem, solution: dict[str, Any]) -> list[str]:
    """Every constraint ``solution`` breaks, one line each; empty when it is feasible.

    Recomputes from the problem alone: each customer served once (or dropped where allowed),
    routes starting and ending at their vehicle's depot, vehicles used at most once and within
    their type's count, capacities, time windows with travel and service times, and every
    reported distance, load and the objective.
    """
    try:
        return _check(problem, solution)
    except (KeyError, TypeError, IndexError, AttributeError) as error:
        return [f"the solution is malformed: {type(error).__name__}: {error}"]


def _check(problem: RoutingProblem, solution: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    number = problem.node_number
    first_customer = len(problem.depots)
    visits: dict[int, int] = {}
    used: set[int] = set()
    distance_total = fixed_total = 0
    for r, route in enumerate(solution["routes"]):
        where = f"routes[{r}]"
        vehicle = route["vehicle"]
        if not isinstance(vehicle, int) or not 0 <= vehicle < len(problem.vehicle_types):
            errors.append(f"{where}: vehicle {vehicle!r} does not exist")
            continue
        if vehicle in used:
            errors.append(f"{where}: vehicle {vehicle} has more than one route")
        used.add(vehicle)
        kind = problem.vehicles[problem.vehicle_types[vehicle]]
        if route["type"] != kind.name:
            errors.append(f"{where}: vehicle {vehicle} is a {kind.name!r}, not {route['type']!r}")
        stops = route["stops"]
        if len(stops) < 3:
            errors.append(f"{where}: a route needs its depot, at least one customer, its depot")
            continue
        unknown = [s["node"] for s in stops if s["node"] not in number]
        if unknown:
            errors.append(f"{where}: unknown nodes {unknown}")
            continue
        nodes = [number[s["node"]] for s in stops]
        depot = problem.depot_number(vehicle)
        if nodes[0] != depot or nodes[-1] != depot:
            errors.append(
                f"{where}: must start and end at depot {kind.depot!r}, "
                f"goes {stops[0]['node']!r} .. {stops[-1]['node']!r}"
            )
        for s, node in enumerate(nodes[1:-1], start=1):
            if node < first_customer:
                errors.append(f"{where}.stops[{s}]: depot {stops[s]['node']!r} mid-route")
            else:
                visits[node] = visits.get(node, 0) + 1
        load = 0
        for s, node in enumerate(nodes):
            load += problem.demand(node) if 0 < s < len(nodes) - 1 else 0
            if stops[s]["load"] != load:
                errors.append(f"{where}.stops[{s}]: load {stops[s]['load']}, recomputed {load}")
        if load > kind.capacity:
            errors.append(
                f"{where}: load {load} is over vehicle {vehicle}'s capacity {kind.capacity}"
            )
        if route["load"] != load:
            errors.append(f"{where}: load {route['load']}, recomputed {load}")
        distance = sum(problem.distances[a][b] for a, b in itertools.pairwise(nodes))
        if route["distance"] != distance:
            errors.append(f"{where}: distance {route['distance']}, recomputed {distance}")
        distance_total += distance
        fixed_total += kind.fixed_cost
        errors.extend(_check_times(problem, where, nodes, stops))
    counts: dict[str, int] = {}
    for vehicle in used:
        kind = problem.vehicles[problem.vehicle_types[vehicle]]
        counts[kind.name] = counts.get(kind.name, 0) + 1
    for kind in problem.vehicles:
        if counts.get(kind.name, 0) > kind.count:
            errors.append(f"{counts[kind.name]} vehicles of type {kind.name!r}, only {kind.count}")
    dropped = solution["dropped"]
    unknown_dropped = [n for n in dropped if n not in number or number[n] < first_customer]
    if unknown_dropped:
        errors.append(f"dropped: {unknown_dropped} are not customers")
    dropped_numbers = {number[n] for n in dropped if n in number}
    if dropped and not problem.allow_dropping:
        errors.append(f"dropped: {dropped}, but the problem does not allow dropping customers")
    for node in range(first_customer, first_customer + len(problem.customers)):
        times = visits.get(node, 0) + (node in dropped_numbers)
        if times != 1:
            errors.append(f"customer {problem.node_ids[node]!r}: served {times} times, not once")
    penalty = len(dropped_numbers) * problem.drop_penalty
    for key, value in (
        ("distance", distance_total),
        ("fixed_cost", fixed_total),
        ("drop_penalty", penalty),
        ("objective", distance_total + fixed_total + penalty),
    ):
        if solution[key] != value:
            errors.append(f"{key}: {solution[key]}, recomputed {value}")
    return errors


def _check_times(
    problem: RoutingProblem, where: str, nodes: list[int], stops: list[dict[str, Any]]
) -> list[str]:
    errors = []
    for s, node in enumerate(nodes):
        arrival, departure = stops[s]["arrival"], stops[s]["departure"]
        window = problem.window(node)
        last = s == len(nodes) - 1
        if s > 0:
            earliest = stops[s - 1]["departure"] + problem.distances[nodes[s - 1]][node]
            if arrival < earliest:
                errors.append(f"{where}.stops[{s}]: arrives at {arrival}, cannot before {earliest}")
        # Service starts when the vehicle is there and the window has opened.
        start = max(arrival, window[0]) if window and s > 0 else arrival
        if s == 0 and window and departure < window[0]:
            errors.append(f"{where}.stops[0]: leaves the depot at {departure}, before {window[0]}")
        if window and (start if not last else arrival) > window[1]:
            errors.append(
                f"{where}.stops[{s}]: service at {start}, after the window {list(window)} closes"
            )
        service = 0 if last or s == 0 else problem.service(node)
        if not last and departure < start + service:
            errors.append(
                f"{where}.stops[{s}]: leaves at {departure}, before service ends at "
                f"{start + service}"
            )
    return errors
