"""The job-shop problem: jobs of ordered operations on machines, release and due dates.

Every input path (the text format, JSON/YAML, direct construction) ends in
:class:`JobShopProblem`, which validates itself: a bad value is a
:class:`~workloads.optimization.errors.ProblemError` naming its field, e.g.
``jobs[2].operations[1].machine: must be in 0..5, got 7``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from workloads.optimization.errors import ProblemError


class Objective(enum.StrEnum):
    """What the solver minimises."""

    MAKESPAN = "makespan"
    """The end of the last operation (the default)."""
    TOTAL_TARDINESS = "total_tardiness"
    """The sum over jobs with a due date of ``max(0, end - due)``."""
    WEIGHTED_TARDINESS = "weighted_tardiness"
    """The same, each job's tardiness times its ``weight``."""


@dataclass(frozen=True)
class Operation:
    """One step of a job: ``duration`` time units on ``machine``, without interruption."""

    machine: int
    """The machine's index, from 0."""
    duration: int
    """Time units, a non-negative integer (0 is allowed: some instances have empty steps)."""


@dataclass(frozen=True)
class Job:
    """Operations run in the given order, each after the previous one has ended."""

    operations: tuple[Operation, ...]
    release: int = 0
    """The first operation starts at or after this time (default 0)."""
    due: int | None = None
    """Ending later is tardiness (only counted by the tardiness objectives); None: no due date."""
    weight: int = 1
    """The tardiness weight for ``weighted_tardiness`` (default 1)."""


@dataclass(frozen=True)
class JobShopProblem:
    """A validated job-shop instance."""

    name: str
    machines: int
    """How many machines; operations name them 0..machines-1."""
    jobs: tuple[Job, ...]
    objective: Objective = Objective.MAKESPAN

    def __post_init__(self) -> None:
        errors = validation_errors(self)
        if errors:
            raise ProblemError(f"{self.name}: {errors[0]}")

    @property
    def has_due_dates(self) -> bool:
        """Whether any job has a due date (the solution then reports tardiness)."""
        return any(job.due is not None for job in self.jobs)

    @property
    def operation_count(self) -> int:
        """Operations over all jobs."""
        return sum(len(job.operations) for job in self.jobs)

    @property
    def total_duration(self) -> int:
        """The sum of every operation's duration: no schedule without idle time is longer."""
        return sum(op.duration for job in self.jobs for op in job.operations)


def is_int(value: object) -> bool:
    """Whether ``value`` is an integer and not a bool (``True`` is not a duration)."""
    return isinstance(value, int) and not isinstance(value, bool)


def validation_errors(problem: JobShopProblem) -> list[str]:
    """What is wrong with ``problem``, one message per bad field (empty: valid)."""
    errors: list[str] = []
    if not is_int(problem.machines) or problem.machines < 1:
        errors.append(f"machines: must be a positive integer, got {problem.machines!r}")
        return errors
    if not isinstance(problem.objective, Objective):
        errors.append(f"objective: must be an Objective, got {problem.objective!r}")
    if not problem.jobs:
        errors.append("jobs: must hold at least one job")
    for j, job in enumerate(problem.jobs):
        where = f"jobs[{j}]"
        if not job.operations:
            errors.append(f"{where}.operations: must hold at least one operation")
        for k, op in enumerate(job.operations):
            if not is_int(op.machine) or not 0 <= op.machine < problem.machines:
                errors.append(
                    f"{where}.operations[{k}].machine: must be in 0..{problem.machines - 1}, "
                    f"got {op.machine!r}"
                )
            if not is_int(op.duration) or op.duration < 0:
                errors.append(
                    f"{where}.operations[{k}].duration: must be a non-negative integer, "
                    f"got {op.duration!r}"
                )
        if not is_int(job.release) or job.release < 0:
            errors.append(f"{where}.release: must be a non-negative integer, got {job.release!r}")
        if job.due is not None and (not is_int(job.due) or job.due < 0):
            errors.append(f"{where}.due: must be a non-negative integer, got {job.due!r}")
        if not is_int(job.weight) or job.weight < 1:
            errors.append(f"{where}.weight: must be a positive integer, got {job.weight!r}")
    if problem.objective is not Objective.MAKESPAN and not any(
        job.due is not None for job in problem.jobs
    ):
        errors.append(f"objective: {problem.objective.value} needs a due date on some job")
    return errors
