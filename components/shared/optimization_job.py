"""What every optimization job's config shares, on SageMaker and on Kubernetes.

The problem kinds, the multi-level time limits the solver obeys
(:class:`workloads.optimization.limits.TimeLimits`) and the hyperparameters the workload reads
(``python -m workloads.optimization`` in SageMaker's training contract): the optimization layer's
jobs (:mod:`components.optimization.spec`) and the Kubernetes layer's
(:mod:`components.kubernetes.spec`) configure them alike.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from components.shared.spec_rules import PathProblems, Section

#: A problem kind the workload solves (``workloads/optimization/<kind>``).
ProblemKind = Literal["routing", "jobshop"]

#: The longest a solve may be configured to run (SageMaker's longest training job: 28 days).
MAX_SOLVE_SECONDS = 2_419_200

#: Seconds a job keeps after the solver's total time limit: the final checkpoint, the solution
#: and its report written and uploaded (the job is stopped at its runtime limit).
SHUTDOWN_MARGIN_SECONDS = 300

#: The most parallel workers a job may ask for (CP-SAT workers or routing portfolio processes).
MAX_WORKERS = 64


class TimeLimitsConfig(Section):
    """When the solver stops (each stop keeps the best solution found so far)."""

    total_seconds: int = Field(default=3600, ge=1, le=MAX_SOLVE_SECONDS)
    """The whole solve, restarts after interruptions included."""
    iteration_seconds: int | None = Field(default=None, ge=1, le=MAX_SOLVE_SECONDS)
    """One round (a routing portfolio round, one CP-SAT call); unset: a round may take all the
    time left."""
    no_improvement_seconds: int | None = Field(default=None, ge=1, le=MAX_SOLVE_SECONDS)
    """Stop when the objective has not improved within this window; unset: never."""
    min_improvement: float | None = Field(default=None, ge=0, lt=1)
    """What counts as an improvement within the window: more than this share of the objective
    (0 <= x < 1); unset: the workload's default (0.001)."""

    @model_validator(mode="after")
    def _within_total(self) -> TimeLimitsConfig:
        problems = [
            (field, f"({value}) is more than total_seconds ({self.total_seconds})")
            for field, value in (
                ("iteration_seconds", self.iteration_seconds),
                ("no_improvement_seconds", self.no_improvement_seconds),
            )
            if value is not None and value > self.total_seconds
        ]
        if problems:
            raise PathProblems(problems)
        return self


def solver_hyperparameters(kind: str, limits: TimeLimitsConfig, workers: int) -> dict[str, str]:
    """The workload's hyperparameters, as SageMaker passes them (strings; unset limits left out).

    ``kind``, ``total_seconds``, ``iteration_seconds``, ``no_improvement_seconds``,
    ``min_improvement``, ``workers`` (``checkpoint_seconds`` keeps the workload's default).
    """
    values = {
        "kind": kind,
        "total_seconds": limits.total_seconds,
        "iteration_seconds": limits.iteration_seconds,
        "no_improvement_seconds": limits.no_improvement_seconds,
        "min_improvement": limits.min_improvement,
        "workers": workers,
    }
    return {name: str(value) for name, value in sorted(values.items()) if value is not None}


def room_after_the_solve(limit: int, limits: TimeLimitsConfig | None, what: str) -> None:
    """Raise ValueError unless ``limit`` (the job's ``what``) leaves the shutdown margin."""
    if limits is not None and limit < limits.total_seconds + SHUTDOWN_MARGIN_SECONDS:
        raise ValueError(
            f"({limit}) must be >= time_limits.total_seconds ({limits.total_seconds}) + "
            f"{SHUTDOWN_MARGIN_SECONDS}: the job writes its last checkpoint and the solution "
            f"after the solver stops, within its {what}"
        )
