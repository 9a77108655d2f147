"""The parallel portfolio: worker processes with different strategies sharing one incumbent.

``workers`` processes each search with their own first-solution strategy and local-search
metaheuristic (:data:`PORTFOLIO`, in that order). The run goes in rounds of
``limits.round_seconds``; every improvement a worker finds is streamed to this process, which
keeps the incumbent (the best routes, recomputed here, never the worker's word) and its history.
After each round the incumbent becomes every worker's starting routes for the next, so a good
find of one strategy feeds all of them. A ``hint`` (a checkpoint's routes) is the incumbent from
the start, so a resumed run never returns worse.

The total limit, the no-improvement window and ``stop`` are checked ten times a second, mid-round
too: the workers are then terminated and the incumbent returned, within a fraction of a second.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from workloads.optimization.errors import ProblemError
from workloads.optimization.limits import TimeLimits
from workloads.optimization.results import Improvement, SolveResult, SolveStatus, StopReason
from workloads.optimization.routing.model import RoutingProblem
from workloads.optimization.routing.solution import (
    Routes,
    check_solution,
    objective_of,
    routes_from_solution,
    solution_from_routes,
)
from workloads.optimization.routing.worker import INFEASIBLE_STATUSES, Strategy

#: The workers' strategies, worker ``i`` taking entry ``i`` (modulo the length). Worker 0 is the
#: routing library's default first solution with guided local search (its strongest single
#: setting on CVRPLIB), worker 1 starts from Clarke-Wright savings, which often reaches 1% of the
#: optimum first; the rest differ in both parts so that more workers explore differently.
PORTFOLIO: tuple[Strategy, ...] = (
    Strategy("AUTOMATIC", "GUIDED_LOCAL_SEARCH"),
    Strategy("SAVINGS", "GUIDED_LOCAL_SEARCH"),
    Strategy("PARALLEL_CHEAPEST_INSERTION", "GUIDED_LOCAL_SEARCH"),
    Strategy("CHRISTOFIDES", "GUIDED_LOCAL_SEARCH"),
    Strategy("PATH_CHEAPEST_ARC", "GUIDED_LOCAL_SEARCH", guided_lambda=0.2),
    Strategy("PATH_CHEAPEST_ARC", "SIMULATED_ANNEALING"),
    Strategy("PATH_CHEAPEST_ARC", "TABU_SEARCH"),
)

#: How often the clock, the window and ``stop`` are looked at while workers search.
_POLL_SECONDS = 0.1
#: How long past a round's time limit its workers may take to report its end.
_ROUND_GRACE_SECONDS = 1.0


def infeasibility(problem: RoutingProblem) -> list[str]:
    """Why ``problem`` has no solution, for the cases provable before searching (else empty)."""
    if problem.allow_dropping:
        return []
    reasons = []
    largest = max(kind.capacity for kind in problem.vehicles)
    for c, customer in enumerate(problem.customers):
        if customer.demand > largest:
            reasons.append(
                f"customers[{c}]: demand {customer.demand} is more than any vehicle's capacity "
                f"({largest})"
            )
    demand = sum(c.demand for c in problem.customers)
    capacity = sum(kind.capacity * kind.count for kind in problem.vehicles)
    if demand > capacity:
        reasons.append(f"the total demand {demand} is more than the fleet's capacity {capacity}")
    depots = {problem.node_number[kind.depot] for kind in problem.vehicles}
    for c, customer in enumerate(problem.customers):
        if customer.time_window and not any(
            _reachable(problem, depot, len(problem.depots) + c) for depot in depots
        ):
            reasons.append(
                f"customers[{c}]: cannot be served within its time window "
                f"{list(customer.time_window)} from any vehicle's depot and back in time"
            )
    return reasons


def _reachable(problem: RoutingProblem, depot: int, node: int) -> bool:
    """Whether a vehicle of ``depot`` can serve ``node`` alone within every window."""
    opens, closes = problem.window(depot) or (0, None)
    window = problem.window(node)
    assert window is not None
    arrival = opens + problem.distances[depot][node]
    if arrival > window[1]:
        return False
    back = max(arrival, window[0]) + problem.service(node) + problem.distances[node][depot]
    return closes is None or back <= closes


class _Incumbent:
    """The best routes so far, their objective and history, and who is told of improvements."""

    def __init__(
        self,
        problem: RoutingProblem,
        clock: Callable[[], float],
        on_improvement: Callable[[SolveResult], None],
    ) -> None:
        self.problem = problem
        self.clock = clock
        self.on_improvement = on_improvement
        self.routes: Routes | None = None
        self.objective: int | None = None
        self.history: list[Improvement] = []

    def offer(self, routes: Routes, *, notify: bool = True) -> bool:
        """Keep ``routes`` if they beat the incumbent; whether they did."""
        objective = objective_of(self.problem, routes)
        if self.objective is not None and objective >= self.objective:
            return False
        self.routes, self.objective = routes, objective
        self.history.append(Improvement(self.clock(), float(objective)))
        if notify:
            self.on_improvement(self.result(StopReason.SOLVED))
        return True

    def result(self, stop_reason: StopReason, status: SolveStatus | None = None) -> SolveResult:
        """The incumbent as a :class:`SolveResult` (stop reason given by the caller)."""
        if status is None:
            status = SolveStatus.NO_SOLUTION if self.routes is None else SolveStatus.FEASIBLE
        return SolveResult(
            problem="routing",
            name=self.problem.name,
            status=status,
            stop_reason=stop_reason,
            objective=None if self.objective is None else float(self.objective),
            bound=None,
            elapsed_seconds=self.clock(),
            history=list(self.history),
            solution={} if self.routes is None else solution_from_routes(self.problem, self.routes),
        )


def solve_portfolio(
    problem: RoutingProblem,
    limits: TimeLimits,
    *,
    workers: int,
    hint: dict[str, Any] | None,
    on_improvement: Callable[[SolveResult], None],
    stop: threading.Event,
    clock_offset: float = 0.0,
    portfolio: tuple[Strategy, ...] = PORTFOLIO,
) -> SolveResult:
    """Solve ``problem`` with ``workers`` processes (see the module's description)."""
    if workers < 1:
        raise ProblemError(f"workers: must be a positive integer, got {workers!r}")
    started = time.monotonic() - clock_offset

    def clock() -> float:
        return time.monotonic() - started

    incumbent = _Incumbent(problem, clock, on_improvement)
    if hint:
        problems = check_solution(problem, hint)
        if problems:
            raise ProblemError(f"hint: not a solution of {problem.name}: {problems[0]}")
        incumbent.offer(routes_from_solution(problem, hint), notify=False)
    reasons = infeasibility(problem)
    if reasons:
        result = incumbent.result(StopReason.SOLVED, SolveStatus.INFEASIBLE)
        result.solution = {"infeasible": reasons}
        return result
    reason = _stop_reason(limits, incumbent, stop, clock)
    if reason is not None:
        return incumbent.result(reason)
    return _Run(problem, limits, incumbent, stop, clock, workers, portfolio).go()


def _stop_reason(
    limits: TimeLimits, incumbent: _Incumbent, stop: threading.Event, clock: Callable[[], float]
) -> StopReason | None:
    if stop.is_set():
        return StopReason.INTERRUPTED
    return limits.stop_reason(clock(), incumbent.history)


class _Run:
    """The worker processes of one solve and its rounds."""

    def __init__(
        self,
        problem: RoutingProblem,
        limits: TimeLimits,
        incumbent: _Incumbent,
        stop: threading.Event,
        clock: Callable[[], float],
        workers: int,
        portfolio: tuple[Strategy, ...],
    ) -> None:
        self.problem, self.limits, self.incumbent = problem, limits, incumbent
        self.stop, self.clock = stop, clock
        # forkserver: children fork from a clean server process (no threads of ours, OR-Tools
        # imported once there), quicker than spawn and safe where fork from here is not.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["workloads.optimization.routing.worker"])
        from workloads.optimization.routing import worker

        self.results: Any = context.Queue()
        self.commands: list[Any] = [context.Queue() for _ in range(workers)]
        self.processes = [
            context.Process(
                target=worker.run,
                args=(i, problem, portfolio[i % len(portfolio)], self.commands[i], self.results),
                name=f"routing-worker-{i}",
                daemon=True,
            )
            for i in range(workers)
        ]

    def go(self) -> SolveResult:
        """Run rounds until a limit or ``stop``; the incumbent with its status."""
        try:
            for process in self.processes:
                process.start()
            return self._rounds()
        finally:
            self._end_workers()

    def _rounds(self) -> SolveResult:
        round_number = 0
        while True:
            seconds = self.limits.round_seconds(self.clock())
            if seconds <= 0:
                return self.incumbent.result(StopReason.TOTAL_TIME_LIMIT)
            round_number += 1
            for commands in self.commands:
                commands.put((round_number, seconds, self.incumbent.routes))
            deadline = self.clock() + seconds + _ROUND_GRACE_SECONDS
            statuses: dict[int, str] = {}
            while len(statuses) < len(self.processes):
                reason = _stop_reason(self.limits, self.incumbent, self.stop, self.clock)
                if reason is not None:
                    return self.incumbent.result(reason)
                if self.clock() > deadline:
                    break  # a worker overran its limit: go on without waiting for it
                if not all(p.is_alive() for p in self.processes):
                    raise RuntimeError("a routing worker process died; see its output above")
                try:
                    message = self.results.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    continue
                if message[0] == "improved":
                    self.incumbent.offer(message[4])
                elif message[0] == "done" and message[2] == round_number:
                    statuses[message[1]] = message[3]
            if self.incumbent.routes is None and len(statuses) == len(self.processes):
                if all(s in INFEASIBLE_STATUSES for s in statuses.values()):
                    return self.incumbent.result(StopReason.SOLVED, SolveStatus.INFEASIBLE)
                if self.clock() < deadline - _ROUND_GRACE_SECONDS:
                    # Every search gave up early without a solution; the next round would
                    # start from the same nothing and give up alike.
                    return self.incumbent.result(StopReason.SOLVED)
            reason = _stop_reason(self.limits, self.incumbent, self.stop, self.clock)
            if reason is not None:
                return self.incumbent.result(reason)

    def _end_workers(self) -> None:
        # Workers mid-search do not read their commands: terminate them; the incumbent is here.
        started = [p for p in self.processes if p.pid is not None]
        for process in started:
            if process.is_alive():
                process.terminate()
        for process in started:
            process.join(timeout=2)
            if process.is_alive():
                process.kill()
                process.join(timeout=2)
        for q in (self.results, *self.commands):
            q.close()
            q.cancel_join_thread()
