"""The optimization layer's input model: the ``optimization`` section of a stack.

Each entry of ``jobs`` is one OR-Tools solve (``python -m workloads.optimization``, issue 21) run
as a SageMaker training job by a one-step SageMaker Pipeline, optionally on a schedule: the
problem's location in the processed bucket, the compute, spot with ``max_wait >= max_run``, and the
multi-level time limits the solver obeys (:class:`workloads.optimization.limits.TimeLimits`).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from components.shared.instance_storage import has_instance_storage
from components.shared.optimization_job import (
    MAX_SOLVE_SECONDS,
    MAX_WORKERS,
    ProblemKind,
    TimeLimitsConfig,
    room_after_the_solve,
    solver_hyperparameters,
)
from components.shared.spec_rules import (
    MAX_S3_KEY,
    SAGEMAKER_INSTANCE,
    ImageConfig,
    PathProblems,
    Section,
    email_addresses,
    unique_names_validator,
)

#: The key prefix of a problem location in the processed bucket (ends in ``/``).
PROBLEM_PREFIX = r"^[\w!\-.*'()][\w!\-.*'()/]*/$"

#: What prefixes every optimization pipeline's name, after ``mlp-<env>-``: no training pipeline
#: (``mlp-<env>-<name>``) may then take its name by accident of configuration.
NAME_PREFIX = "opt-"

#: SageMaker's limit on a training job's name, which the pipeline's name prefixes
#: (CreateTrainingJob ``TrainingJobName``).
MAX_JOB_NAME = 63

#: SageMaker's longest training job (``MaxRuntimeInSeconds``: 28 days).
MAX_RUNTIME_SECONDS = MAX_SOLVE_SECONDS

# EventBridge Scheduler expressions (https://docs.aws.amazon.com/scheduler/latest/UserGuide/
# schedule-types.html): rate(value unit), a singular unit for 1; or a six-field cron.
_RATE = re.compile(r"^rate\((?P<value>[1-9]\d{0,5}) (?P<unit>minutes?|hours?|days?)\)$")
_CRON = re.compile(r"^cron\(\S+( \S+){5}\)$")


def optimization_name(environment: str, name: str) -> str:
    """The AWS name of a job's pipeline, job prefix and schedule: ``mlp-<env>-opt-<name>``."""
    return f"mlp-{environment}-{NAME_PREFIX}{name}"


def _schedule_expression(value: str) -> str:
    """A rate or six-field cron expression EventBridge Scheduler accepts."""
    rate = _RATE.match(value)
    if rate is not None:
        singular = rate["value"] == "1"
        if singular != (not rate["unit"].endswith("s")):
            raise ValueError(
                f"'{value}': the unit is singular exactly for 1 (rate(1 day), rate(2 days))"
            )
        return value
    if _CRON.match(value) is None:
        raise ValueError(
            f"'{value}' is neither rate(<n> minutes|hours|days) nor a six-field cron(...) "
            "(EventBridge Scheduler, UTC)"
        )
    return value


#: An EventBridge Scheduler expression (UTC).
ScheduleExpression = Annotated[str, AfterValidator(_schedule_expression)]


class OptimizationSpotConfig(Section):
    """Managed spot: cheaper capacity; an interrupted solve resumes from its checkpoint."""

    enabled: bool = True
    """Run on spot capacity (the solver checkpoints its incumbent and resumes from it)."""
    max_wait_seconds: int = Field(default=14400, ge=1, le=MAX_RUNTIME_SECONDS)
    """Longest the job may take including waiting for capacity (>= max_runtime_seconds)."""


class OptimizationJobConfig(Section):
    """One optimization job: a SageMaker Pipeline whose one step solves the problem."""

    # At most 40 characters: with the longest environment (12) the pipeline's name is 61, within
    # a training job name's 63 (MAX_JOB_NAME).
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")
    """Short name; the pipeline is ``mlp-<environment>-opt-<name>``, which prefixes its jobs."""
    kind: ProblemKind
    """The problem: ``routing`` (vehicle routing) or ``jobshop`` (job-shop scheduling)."""
    problem: str = Field(pattern=PROBLEM_PREFIX, max_length=MAX_S3_KEY)
    """Key prefix (ending in ``/``) of the problem file in the processed bucket: the ``problem``
    channel. An execution may name another prefix below it (pipeline parameter ``Problem``)."""
    image: ImageConfig
    """Our training image (docker/training.Dockerfile, which has OR-Tools and the workload)."""
    instance_type: str = Field(default="ml.c5.2xlarge", pattern=SAGEMAKER_INSTANCE)
    """The instance type (CPU: OR-Tools uses no GPU)."""
    volume_size_gb: int = Field(default=30, ge=1, le=16384)
    """Storage for the problem, checkpoints and the solution, GB."""
    workers: int = Field(default=8, ge=1, le=MAX_WORKERS)
    """Parallel workers: CP-SAT's search workers, or routing's portfolio processes (at most the
    instance's vCPUs to be useful)."""
    time_limits: TimeLimitsConfig = TimeLimitsConfig()
    """The total, per-iteration and no-improvement limits."""
    max_runtime_seconds: int = Field(default=7200, ge=60, le=MAX_RUNTIME_SECONDS)
    """Longest the job may run (SageMaker stops it then): at least ``time_limits.total_seconds``
    plus 300 s to write the last checkpoint and the solution."""
    spot: OptimizationSpotConfig = Field(default=OptimizationSpotConfig(), validate_default=True)
    """Managed spot."""
    schedule: ScheduleExpression | None = None
    """Start the pipeline on this EventBridge Scheduler expression (UTC): ``rate(1 day)``,
    ``cron(0 2 * * ? *)``; unset: executions are started by hand."""

    @field_validator("max_runtime_seconds")
    @classmethod
    def _room_after_the_solve(cls, value: int, info: ValidationInfo) -> int:
        room_after_the_solve(value, info.data.get("time_limits"), "runtime")
        return value

    @field_validator("spot")
    @classmethod
    def _spot_wait(
        cls, value: OptimizationSpotConfig, info: ValidationInfo
    ) -> OptimizationSpotConfig:
        max_runtime = info.data.get("max_runtime_seconds")
        if value.enabled and max_runtime is not None and value.max_wait_seconds < max_runtime:
            raise PathProblems(
                [
                    (
                        "max_wait_seconds",
                        f"({value.max_wait_seconds}) must be >= max_runtime_seconds "
                        f"({max_runtime}): it includes the run itself",
                    )
                ]
            )
        return value

    @property
    def encrypts_volume(self) -> bool:
        """Whether the job's volume gets the platform key (not on NVMe instance-store types)."""
        return not has_instance_storage(self.instance_type)

    @property
    def hyperparameters(self) -> dict[str, str]:
        """The job's hyperparameters as SageMaker passes them (strings), the workload's contract."""
        return solver_hyperparameters(self.kind, self.time_limits, self.workers)


class OptimizationConfig(Section):
    """Optimization jobs (the optimization layer)."""

    alarm_emails: Annotated[tuple[str, ...], AfterValidator(email_addresses)] = ()
    """Addresses subscribed to the layer's alarm topic (a failed execution notifies it)."""
    jobs: tuple[OptimizationJobConfig, ...] = ()
    """The optimization jobs."""

    _unique_jobs = unique_names_validator("jobs", "job names", lambda job: job.name)

    @property
    def scheduled(self) -> tuple[OptimizationJobConfig, ...]:
        """The jobs started on a schedule."""
        return tuple(job for job in self.jobs if job.schedule is not None)
