"""Job-shop scheduling on CP-SAT: the :class:`~workloads.optimization.problems.ProblemModule`.

Jobs of ordered operations on machines, optional release dates and due dates; the objective is
the makespan, or the (weighted) total tardiness. ``load`` reads the standard text format or
JSON/YAML, ``solve`` runs the CP-SAT interval model within the limits, ``check`` verifies a
schedule independently of the solver, ``figure_svg`` draws its Gantt chart.
"""

from __future__ import annotations

from typing import Any

from workloads.optimization.jobshop.gantt import figure_svg
from workloads.optimization.jobshop.model import Job, JobShopProblem, Objective, Operation
from workloads.optimization.jobshop.reader import from_dict, load, parse_text
from workloads.optimization.jobshop.schedule import check
from workloads.optimization.jobshop.solver import KIND, solve

__all__ = [
    "KIND",
    "Job",
    "JobShopProblem",
    "Objective",
    "Operation",
    "check",
    "figure_svg",
    "from_dict",
    "load",
    "parse_text",
    "solve",
    "summary",
]


def summary(problem: JobShopProblem) -> dict[str, Any]:
    """The instance's name and size for reports and metrics (JSON-ready)."""
    return {
        "name": problem.name,
        "kind": KIND,
        "jobs": len(problem.jobs),
        "machines": problem.machines,
        "operations": problem.operation_count,
        "objective": problem.objective.value,
        "release_dates": any(job.release for job in problem.jobs),
        "due_dates": problem.has_due_dates,
    }
