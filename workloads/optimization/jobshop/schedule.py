"""Schedules: the solution mapping, its objective, the independent checker and a quick greedy.

A solution (JSON-ready) is::

    {"objective": "makespan", "objective_value": 55, "makespan": 55,
     "jobs": [[{"machine": 2, "start": 0, "end": 1}, ...], ...],        # per job, in order
     "machines": [[{"job": 0, "operation": 0, "start": 0, "end": 1}, ...], ...],  # by start
     # with due dates only:
     "tardiness": [0, 3, ...], "total_tardiness": 3, "weighted_tardiness": 6}

Only the per-job start times carry information; everything else is derived from them by
:func:`solution_from_starts`, and :func:`check` recomputes all of it from the problem.
"""

from __future__ import annotations

from typing import Any

from workloads.optimization.jobshop.model import JobShopProblem

#: Start times: ``starts[j][k]`` is when job j's operation k starts.
Starts = list[list[int]]


def objective_values(problem: JobShopProblem, starts: Starts) -> dict[str, int]:
    """Makespan, and with due dates each job's tardiness summed plain and weighted."""
    ends = [starts[j][-1] + job.operations[-1].duration for j, job in enumerate(problem.jobs)]
    values = {"makespan": max(ends)}
    if problem.has_due_dates:
        tardiness = [
            0 if job.due is None else max(0, end - job.due)
            for job, end in zip(problem.jobs, ends, strict=True)
        ]
        values["total_tardiness"] = sum(tardiness)
        values["weighted_tardiness"] = sum(
            job.weight * late for job, late in zip(problem.jobs, tardiness, strict=True)
        )
    return values


def objective_value(problem: JobShopProblem, starts: Starts) -> int:
    """The value of the problem's objective for ``starts``."""
    return objective_values(problem, starts)[problem.objective.value]


def solution_from_starts(problem: JobShopProblem, starts: Starts) -> dict[str, Any]:
    """The solution mapping (see the module's docstring) of a schedule given by its starts."""
    per_job = [
        [
            {"machine": op.machine, "start": start, "end": start + op.duration}
            for op, start in zip(job.operations, starts[j], strict=True)
        ]
        for j, job in enumerate(problem.jobs)
    ]
    per_machine: list[list[dict[str, int]]] = [[] for _ in range(problem.machines)]
    for j, job in enumerate(problem.jobs):
        for k, op in enumerate(job.operations):
            entry = {
                "job": j,
                "operation": k,
                "start": starts[j][k],
                "end": starts[j][k] + op.duration,
            }
            per_machine[op.machine].append(entry)
    for row in per_machine:
        row.sort(key=lambda entry: (entry["start"], entry["end"], entry["job"]))
    values = objective_values(problem, starts)
    solution: dict[str, Any] = {
        "objective": problem.objective.value,
        "objective_value": values[problem.objective.value],
        "makespan": values["makespan"],
        "jobs": per_job,
        "machines": per_machine,
    }
    if problem.has_due_dates:
        solution["tardiness"] = [
            0 if job.due is None else max(0, entries[-1]["end"] - job.due)
            for job, entries in zip(problem.jobs, per_job, strict=True)
        ]
        solution["total_tardiness"] = values["total_tardiness"]
        solution["weighted_tardiness"] = values["weighted_tardiness"]
    return solution


def starts_of(problem: JobShopProblem, solution: dict[str, Any]) -> Starts | None:
    """The start times in ``solution`` (its ``jobs`` part), None if it does not fit ``problem``."""
    rows = solution.get("jobs") if isinstance(solution, dict) else None
    if not isinstance(rows, list) or len(rows) != len(problem.jobs):
        return None
    starts: Starts = []
    for job, row in zip(problem.jobs, rows, strict=True):
        if not isinstance(row, list) or len(row) != len(job.operations):
            return None
        if not all(isinstance(item, dict) and type(item.get("start")) is int for item in row):
            return None
        starts.append([item["start"] for item in row])
    return starts


def check(problem: JobShopProblem, solution: dict[str, Any]) -> list[str]:
    """Every constraint ``solution`` breaks, one line each (empty: feasible).

    Independent of the solver: each operation appears once per job and once on its machine with
    its duration, operations of a job follow each other, the first starts at or after the
    release date, no machine runs two operations at once, and the reported objective figures
    equal those recomputed from the times.
    """
    if not isinstance(solution, dict):
        return [f"solution: must be a mapping, got {type(solution).__name__}"]
    rows = solution.get("jobs")
    if not isinstance(rows, list) or len(rows) != len(problem.jobs):
        return [f"jobs: expected a list of {len(problem.jobs)} jobs"]
    problems: list[str] = []
    starts: Starts = []
    for j, (job, row) in enumerate(zip(problem.jobs, rows, strict=True)):
        if not isinstance(row, list) or len(row) != len(job.operations):
            problems.append(f"job {j}: expected {len(job.operations)} operations")
            starts.append([])
            continue
        job_starts = []
        for k, (op, item) in enumerate(zip(job.operations, row, strict=True)):
            fields = {
                key: item.get(key) if isinstance(item, dict) else None
                for key in ("machine", "start", "end")
            }
            if not all(type(value) is int for value in fields.values()):
                problems.append(f"job {j} operation {k}: machine, start and end must be integers")
                job_starts.append(0)
                continue
            if fields["machine"] != op.machine:
                problems.append(
                    f"job {j} operation {k}: on machine {fields['machine']}, "
                    f"must be on {op.machine}"
                )
            if fields["end"] - fields["start"] != op.duration:
                problems.append(
                    f"job {j} operation {k}: runs {fields['end'] - fields['start']}, "
                    f"its duration is {op.duration}"
                )
            if fields["start"] < 0:
                problems.append(f"job {j} operation {k}: starts at {fields['start']} < 0")
            job_starts.append(fields["start"])
        starts.append(job_starts)
        if job_starts and job_starts[0] < job.release:
            problems.append(
                f"job {j} operation 0: starts at {job_starts[0]}, before its release {job.release}"
            )
        for k in range(1, len(job_starts)):
            previous_end = job_starts[k - 1] + job.operations[k - 1].duration
            if job_starts[k] < previous_end:
                problems.append(
                    f"job {j} operation {k}: starts at {job_starts[k]}, before operation {k - 1} "
                    f"ends at {previous_end}"
                )
    if problems:
        return problems
    problems += _machine_problems(problem, starts, solution.get("machines"))
    values = objective_values(problem, starts)
    for key, value in values.items():
        if key in solution and solution[key] != value:
            problems.append(f"{key}: reported {solution[key]!r}, recomputed {value}")
    if (
        "objective_value" in solution
        and solution["objective_value"] != values[problem.objective.value]
    ):
        problems.append(
            f"objective_value: reported {solution['objective_value']!r}, recomputed "
            f"{values[problem.objective.value]} ({problem.objective.value})"
        )
    return problems


def _machine_problems(problem: JobShopProblem, starts: Starts, rows: Any) -> list[str]:
    """Overlaps on each machine (from the per-job times), and the per-machine lists' agreement."""
    problems: list[str] = []
    expected: list[list[tuple[int, int, int, int]]] = [[] for _ in range(problem.machines)]
    for j, job in enumerate(problem.jobs):
        for k, op in enumerate(job.operations):
            expected[op.machine].append((starts[j][k], starts[j][k] + op.duration, j, k))
    for machine, entries in enumerate(expected):
        entries.sort()
        # Sorted by start, an operation overlaps an earlier one iff it starts before the latest
        # end so far; zero-length operations occupy no time and overlap nothing.
        latest: tuple[int, int, int, int] | None = None
        for entry in entries:
            start, end, job, op = entry
            if start == end:
                continue
            if latest is not None and start < latest[1]:
                problems.append(
                    f"machine {machine}: job {latest[2]} operation {latest[3]} "
                    f"({latest[0]}-{latest[1]}) overlaps job {job} operation {op} ({start}-{end})"
                )
            if latest is None or end > latest[1]:
                latest = entry
    if rows is None:
        return problems
    if not isinstance(rows, list) or len(rows) != problem.machines:
        return [*problems, f"machines: expected a list of {problem.machines} machines"]
    for machine, (row, entries) in enumerate(zip(rows, expected, strict=True)):
        try:
            listed = sorted(
                (item["start"], item["end"], item["job"], item["operation"]) for item in row
            )
        except (TypeError, KeyError):
            problems.append(f"machine {machine}: entries need job, operation, start and end")
            continue
        if listed != entries:
            problems.append(
                f"machine {machine}: its list does not match the jobs' operations on it "
                "(each operation once, same times)"
            )
    return problems


def greedy_starts(problem: JobShopProblem) -> Starts:
    """A good schedule in milliseconds: Giffler-Thompson active schedules, best of a few rules.

    Each rule picks, among the operations that could start before the earliest possible
    completion on the critical machine, the one with the most work remaining, the shortest
    duration, or the earliest due date; the schedule with the best objective wins.
    """
    remaining = [
        [sum(op.duration for op in job.operations[k:]) for k in range(len(job.operations))]
        for job in problem.jobs
    ]
    rules = {
        "most_work_remaining": lambda j, k: (-remaining[j][k], j),
        "shortest_operation": lambda j, k: (problem.jobs[j].operations[k].duration, j),
        "earliest_due": lambda j, k: (
            problem.jobs[j].due if problem.jobs[j].due is not None else 1 << 60,
            -remaining[j][k],
            j,
        ),
    }
    best: tuple[int, Starts] | None = None
    for priority in rules.values():
        starts = _active_schedule(problem, priority)
        value = objective_value(problem, starts)
        if best is None or value < best[0]:
            best = (value, starts)
    assert best is not None
    return best[1]


def _active_schedule(problem: JobShopProblem, priority: Any) -> Starts:
    jobs = problem.jobs
    next_op = [0] * len(jobs)
    job_ready = [job.release for job in jobs]
    machine_ready = [0] * problem.machines
    starts: Starts = [[0] * len(job.operations) for job in jobs]
    for _ in range(problem.operation_count):
        candidates = [j for j in range(len(jobs)) if next_op[j] < len(jobs[j].operations)]

        def earliest(j: int) -> int:
            return max(job_ready[j], machine_ready[jobs[j].operations[next_op[j]].machine])

        critical = min(
            candidates, key=lambda j: earliest(j) + jobs[j].operations[next_op[j]].duration
        )
        machine = jobs[critical].operations[next_op[critical]].machine
        completion = earliest(critical) + jobs[critical].operations[next_op[critical]].duration
        conflict = [
            j
            for j in candidates
            if jobs[j].operations[next_op[j]].machine == machine and earliest(j) < completion
        ] or [critical]
        chosen = min(conflict, key=lambda j: priority(j, next_op[j]))
        k = next_op[chosen]
        start = earliest(chosen)
        end = start + jobs[chosen].operations[k].duration
        starts[chosen][k] = start
        job_ready[chosen] = end
        machine_ready[machine] = end
        next_op[chosen] += 1
    return starts
