"""Routing benchmark: our portfolio solver against the plain OR-Tools routing baseline.

Run from the repository root with the project's virtualenv (the `optimization` extra):

    .venv/bin/python benchmarks/optimization_routing.py                # 60 s each, ~10 min
    .venv/bin/python benchmarks/optimization_routing.py --seconds 10   # a quicker look

Per shipped CVRPLIB instance (`workloads/optimization/instances/cvrp/*.vrp`, proven optima in
`optima.json`), one after the other in one run:
- ours: `workloads.optimization.routing.solve` with `--workers` processes (2 on this 2-core
  machine) and rounds of `--round-seconds`, the total budget `--seconds`;
- the baseline a user writes first from the OR-Tools tutorial: one process, the routing library's
  default first-solution strategy with guided local search, the same budget; it gets the same
  integer distance matrix (registered as a matrix, as ours) and the same capacity dimension, so
  the difference is the portfolio.
Both clocks start before the model is built (ours also pays its worker processes' start). A
one-second warm-up solve of each on the first instance pays the one-off imports and the
forkserver's start first. The two sides alternate going first from one instance to the next.
Reported per instance: best objective, gap to the optimum, time to the first solution and time to
within 1% of the optimum (`-`: never within the budget).

Floors (exit 1 if one fails): every instance within 2% of its optimum (ours); our time to 1% no
worse than the baseline's on any instance and better on the median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench_support import write_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workloads.optimization import routing  # noqa: E402
from workloads.optimization.limits import TimeLimits  # noqa: E402
from workloads.optimization.routing.model import RoutingProblem  # noqa: E402

INSTANCES = ROOT / "workloads" / "optimization" / "instances" / "cvrp"


def baseline(problem: RoutingProblem, seconds: float) -> tuple[float | None, list[list[float]]]:
    """The plain OR-Tools CVRP: default first solution + guided local search, one process."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    started = time.monotonic()
    vehicles = len(problem.vehicle_types)
    manager = pywrapcp.RoutingIndexManager(len(problem.node_ids), vehicles, 0)
    model = pywrapcp.RoutingModel(manager)
    distance = model.RegisterTransitMatrix([list(row) for row in problem.distances])
    model.SetArcCostEvaluatorOfAllVehicles(distance)
    demands = [problem.demand(n) for n in range(len(problem.node_ids))]
    model.AddDimensionWithVehicleCapacity(
        model.RegisterUnaryTransitVector(demands),
        0,
        [problem.vehicles[t].capacity for t in problem.vehicle_types],
        True,
        "Load",
    )
    history: list[list[float]] = []

    def on_solution() -> None:
        objective = model.CostVar().Value()
        if not history or objective < history[-1][1]:
            history.append([time.monotonic() - started, float(objective)])

    model.AddAtSolutionCallback(on_solution)
    parameters = pywrapcp.DefaultRoutingSearchParameters()
    parameters.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    parameters.time_limit.FromMilliseconds(int(seconds * 1000))
    solution = model.SolveWithParameters(parameters)
    return (None if solution is None else float(solution.ObjectiveValue())), history


def ours(
    problem: RoutingProblem, seconds: float, workers: int, round_seconds: float
) -> tuple[float | None, list[list[float]]]:
    """Our portfolio solve, checked by the independent checker."""
    result = routing.solve(
        problem,
        TimeLimits(total_seconds=seconds, iteration_seconds=min(round_seconds, seconds)),
        workers=workers,
        hint=None,
        on_improvement=lambda _: None,
        stop=threading.Event(),
    )
    problems = routing.check(problem, result.solution)
    if problems:
        raise SystemExit(f"{problem.name}: our solution is infeasible: {problems}")
    return result.objective, [[p.seconds, p.objective] for p in result.history]


def time_to(history: list[list[float]], target: float) -> float | None:
    """When the history first reached ``target`` or better."""
    return next((seconds for seconds, objective in history if objective <= target), None)


def figures(objective: float | None, history: list[list[float]], optimum: float) -> dict[str, Any]:
    """Best objective, gap to the optimum, time to first, time to within 1%."""
    return {
        "objective": objective,
        "gap": None if objective is None else (objective - optimum) / optimum,
        "first": history[0][0] if history else None,
        "to_1pct": time_to(history, optimum * 1.01),
        "history": history,
    }


def _cell(value: float | None, pattern: str) -> str:
    return "-" if value is None else format(value, pattern)


def main() -> int:
    """Run both on every instance, print the table, check the floors."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="budget per instance and side")
    parser.add_argument("--workers", type=int, default=2, help="our worker processes")
    parser.add_argument("--round-seconds", type=float, default=10.0, help="our portfolio round")
    parser.add_argument("--instances", nargs="*", help="instance names (default: all shipped)")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "build" / "bench" / "optimization_routing.json"
    )
    args = parser.parse_args()
    optima = json.loads((INSTANCES / "optima.json").read_text())
    names = args.instances or sorted(optima)
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores", flush=True)
    warm = routing.load(INSTANCES / f"{names[0]}.vrp")
    ours(warm, 1.0, args.workers, 1.0)
    baseline(warm, 1.0)
    rows = []
    for name in names:
        problem = routing.load(INSTANCES / f"{name}.vrp")
        optimum = float(optima[name]["optimum"])
        row = {"instance": name, "optimum": optimum}
        # Alternate who goes first: the machine's other load drifts over minutes.
        sides = ["ours", "baseline"] if len(rows) % 2 == 0 else ["baseline", "ours"]
        for side in sides:
            if side == "ours":
                run = ours(problem, args.seconds, args.workers, args.round_seconds)
            else:
                run = baseline(problem, args.seconds)
            row[side] = figures(*run, optimum)
        row["load_average"] = os.getloadavg()[0]
        rows.append(row)
        print(
            f"{name}: ours {row['ours']['objective']} (1% at {row['ours']['to_1pct']}), "
            f"baseline {row['baseline']['objective']} (1% at {row['baseline']['to_1pct']})",
            flush=True,
        )
    print()
    print(
        "| instance | optimum | ours: best | gap | first (s) | to 1% (s) "
        "| baseline: best | gap | first (s) | to 1% (s) | load average |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        cells = [row["instance"], f"{row['optimum']:.0f}"]
        for side in ("ours", "baseline"):
            data = row[side]
            cells += [
                _cell(data["objective"], ".0f"),
                "-" if data["gap"] is None else f"{data['gap']:.2%}",
                _cell(data["first"], ".2f"),
                _cell(data["to_1pct"], ".2f"),
            ]
        cells.append(f"{row['load_average']:.1f}")
        print("| " + " | ".join(cells) + " |")
    failures = []
    never = args.seconds * 10  # a side that never got within 1% ranks after any that did
    ours_times, base_times = [], []
    for row in rows:
        gap = row["ours"]["gap"]
        if gap is None or gap > 0.02:
            failures.append(f"{row['instance']}: ours is not within 2% of the optimum ({gap})")
        mine = row["ours"]["to_1pct"] if row["ours"]["to_1pct"] is not None else never
        theirs = row["baseline"]["to_1pct"] if row["baseline"]["to_1pct"] is not None else never
        ours_times.append(mine)
        base_times.append(theirs)
        if mine > theirs:
            failures.append(
                f"{row['instance']}: ours took {mine:.2f} s to 1%, baseline {theirs:.2f}"
            )
    median_ours, median_base = statistics.median(ours_times), statistics.median(base_times)
    if not median_ours < median_base:
        failures.append(f"median time to 1%: ours {median_ours:.2f} s, baseline {median_base:.2f}")
    print(f"\nmedian time to 1%: ours {median_ours:.2f} s, baseline {median_base:.2f} s")
    write_results(
        args.out,
        {
            "seconds": args.seconds,
            "workers": args.workers,
            "round_seconds": args.round_seconds,
            "rows": rows,
            "failures": failures,
        },
    )
    print(f"results: {args.out}")
    for failure in failures:
        print(f"FLOOR FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
