"""One portfolio worker: the problem as an OR-Tools routing model, solved round by round.

The worker runs in its own process (:mod:`workloads.optimization.routing.portfolio` starts it).
It builds the model once, then for each round it is sent (round number, seconds, starting routes
or None) it searches with its own first-solution strategy and metaheuristic, reporting every
improvement of its own best as ``("improved", worker, round, objective, routes)`` and the round's
end as ``("done", worker, round, status)`` on the results queue. ``None`` ends it.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from multiprocessing.queues import Queue
from typing import Any

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from workloads.optimization.routing.model import RoutingProblem
from workloads.optimization.routing.solution import Routes, objective_of


@dataclass(frozen=True)
class Strategy:
    """What one worker searches with."""

    first_solution: str
    """An OR-Tools ``FirstSolutionStrategy`` name (``SAVINGS``, ``PATH_CHEAPEST_ARC``...)."""
    metaheuristic: str
    """An OR-Tools ``LocalSearchMetaheuristic`` name (``GUIDED_LOCAL_SEARCH``...)."""
    guided_lambda: float = 0.1
    """Guided local search's penalty coefficient (OR-Tools' default is 0.1)."""

    def label(self) -> str:
        """``SAVINGS+GUIDED_LOCAL_SEARCH`` for logs and the docs."""
        return f"{self.first_solution}+{self.metaheuristic}"


#: OR-Tools' routing statuses that mean no solution exists.
INFEASIBLE_STATUSES = frozenset({"ROUTING_INFEASIBLE"})


class RoutingModel:
    """``problem`` as an OR-Tools routing model (distance arc costs, load and time dimensions)."""

    def __init__(self, problem: RoutingProblem) -> None:
        self.problem = problem
        vehicles = len(problem.vehicle_types)
        depots = [problem.depot_number(v) for v in range(vehicles)]
        self.manager = pywrapcp.RoutingIndexManager(len(problem.node_ids), vehicles, depots, depots)
        self.routing = pywrapcp.RoutingModel(self.manager)
        routing, manager = self.routing, self.manager
        # A matrix (not a Python callback) keeps the local search in C++: several times faster.
        distance = routing.RegisterTransitMatrix([list(row) for row in problem.distances])
        routing.SetArcCostEvaluatorOfAllVehicles(distance)
        demands = [problem.demand(n) for n in range(len(problem.node_ids))]
        routing.AddDimensionWithVehicleCapacity(
            routing.RegisterUnaryTransitVector(demands),
            0,
            [problem.vehicles[t].capacity for t in problem.vehicle_types],
            True,
            "Load",
        )
        for vehicle, kind in enumerate(problem.vehicle_types):
            routing.SetFixedCostOfVehicle(problem.vehicles[kind].fixed_cost, vehicle)
        if problem.has_time_windows:
            self._add_time(vehicles)
        for c in range(len(problem.customers)):
            node = len(problem.depots) + c
            if problem.allow_dropping:
                routing.AddDisjunction([manager.NodeToIndex(node)], problem.drop_penalty)

    def _add_time(self, vehicles: int) -> None:
        problem, routing, manager = self.problem, self.routing, self.manager
        size = len(problem.node_ids)
        # Travel time is the distance; a stop's service time is spent before leaving it.
        times = [
            [problem.distances[a][b] + problem.service(a) for b in range(size)] for a in range(size)
        ]
        windows = [problem.window(n) for n in range(size)]
        horizon = max(w[1] for w in windows if w) + max(max(row) for row in times)
        routing.AddDimension(routing.RegisterTransitMatrix(times), horizon, horizon, False, "Time")
        time = routing.GetDimensionOrDie("Time")
        for node in range(len(problem.depots), size):
            if windows[node]:
                time.CumulVar(manager.NodeToIndex(node)).SetRange(*windows[node])
        for vehicle in range(vehicles):
            window = windows[problem.depot_number(vehicle)]
            if window:
                time.CumulVar(routing.Start(vehicle)).SetRange(*window)
                time.CumulVar(routing.End(vehicle)).SetRange(*window)
            routing.AddVariableMinimizedByFinalizer(time.CumulVar(routing.End(vehicle)))

    def current_routes(self) -> Routes:
        """The routes of the solution the search is at (inside a solution callback)."""
        routing, manager = self.routing, self.manager
        routes = []
        for vehicle in range(routing.vehicles()):
            index = routing.NextVar(routing.Start(vehicle)).Value()
            route = []
            while not routing.IsEnd(index):
                route.append(manager.IndexToNode(index))
                index = routing.NextVar(index).Value()
            routes.append(route)
        return routes

    def parameters(self, strategy: Strategy, seconds: float) -> Any:
        """The search parameters of ``strategy`` for a round of ``seconds``."""
        parameters = pywrapcp.DefaultRoutingSearchParameters()
        parameters.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.Value.Value(
            strategy.first_solution
        )
        parameters.local_search_metaheuristic = (
            routing_enums_pb2.LocalSearchMetaheuristic.Value.Value(strategy.metaheuristic)
        )
        parameters.guided_local_search_lambda_coefficient = strategy.guided_lambda
        parameters.time_limit.FromMilliseconds(max(1, int(seconds * 1000)))
        return parameters


SUPPORT_NICENESS = 10
"""How much lower the supporting workers' CPU priority is than the lead's (``nice``)."""


def run(
    worker: int,
    problem: RoutingProblem,
    strategy: Strategy,
    commands: Queue[Any],
    results: Queue[Any],
) -> None:
    """The worker process's body: rounds until ``None`` arrives on ``commands``."""
    # Ctrl-C reaches the whole process group; the parent decides what stops (and stops us).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if worker > 0:
        # Worker 0 runs the lead search (the library's default start with guided local search);
        # the others take only the CPU it leaves, so on a busy or small machine the portfolio
        # never runs its lead slower than that search alone would run.
        os.nice(SUPPORT_NICENESS)
    state = {"round": 0, "best": None}
    while True:
        command = commands.get()
        if command is None:
            return
        round_number, seconds, start = command
        state["round"], state["best"] = round_number, None
        # A fresh model each round: once a model has searched (guided local search leaves its
        # penalties and limits in the solver), ReadAssignmentFromRoutes on it returns None and
        # the round would silently start from scratch instead of from the incumbent.
        model = RoutingModel(problem)
        routing = model.routing
        parameters = model.parameters(strategy, seconds)
        routing.CloseModelWithParameters(parameters)
        routing.AddAtSolutionCallback(_reporter(model, worker, state, results))
        assignment = None
        if start is not None:
            assignment = routing.ReadAssignmentFromRoutes(start, True)
        if assignment is not None:
            # The round's start is its first solution: the search reports only what it finds
            # from there, and (depending on timing) may not report the start itself.
            state["best"] = objective_of(problem, start)
            results.put(("improved", worker, round_number, state["best"], start))
            routing.SolveFromAssignmentWithParameters(assignment, parameters)
        else:
            routing.SolveWithParameters(parameters)
        status = routing_enums_pb2.RoutingSearchStatus.Value.Name(routing.status())
        results.put(("done", worker, round_number, status))


def _reporter(model: RoutingModel, worker: int, state: dict[str, Any], results: Queue[Any]) -> Any:
    """The at-solution callback: report each solution better than the round's best so far."""
    routing = model.routing

    def on_solution() -> None:
        objective = routing.CostVar().Value()
        if state["best"] is None or objective < state["best"]:
            state["best"] = objective
            results.put(("improved", worker, state["round"], objective, model.current_routes()))

    return on_solution
