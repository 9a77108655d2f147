"""What one solve needs, and how SageMaker's training contract describes it.

A SageMaker training job (``hyperparameters.json`` exists under ``/opt/ml``, see
:mod:`workloads.training.contract`, whose paths this reuses) gives:

- the hyperparameters ``kind`` (``routing`` or ``jobshop``), ``total_seconds``,
  ``iteration_seconds``, ``no_improvement_seconds``, ``min_improvement``, ``workers`` and
  ``checkpoint_seconds``; SageMaker's own ``sagemaker_*`` keys are ignored, any other key is an
  error naming it;
- the problem as the ``problem`` input channel: a directory holding exactly one file;
- ``/opt/ml/model`` and ``/opt/ml/output/data``, which both get ``solution.json`` and
  ``report.html``;
- ``/opt/ml/checkpoints/<job name>``, synced with S3, for the incumbent's checkpoints;
- ``MLFLOW_TRACKING_URI`` and ``MLFLOW_EXPERIMENT_NAME`` from the job's environment.

``ML_PLATFORM_SAGEMAKER_ROOT`` moves ``/opt/ml`` (tests point it at a scratch tree).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from workloads.optimization.checkpoints import DEFAULT_INTERVAL_SECONDS
from workloads.optimization.errors import ProblemError
from workloads.optimization.limits import LimitsError, TimeLimits
from workloads.training import contract as training_contract
from workloads.training.contract import SageMakerEnvironment
from workloads.training.hyperparameters import HyperparameterError, unwrap

PROBLEM_CHANNEL = "problem"
"""The input channel holding the problem file."""
HYPERPARAMETERS = (
    "kind",
    "total_seconds",
    "iteration_seconds",
    "no_improvement_seconds",
    "min_improvement",
    "workers",
    "checkpoint_seconds",
)
"""Every hyperparameter a solve job reads (others but SageMaker's own are refused)."""
DEFAULT_TOTAL_SECONDS = 60.0
"""The total time limit when none is given."""
DEFAULT_MIN_IMPROVEMENT = 0.001
"""What counts as an improvement in the no-improvement window: 0.1 % of the objective."""


def default_workers() -> int:
    """The solver's parallel workers when none are given: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class SolveJob:
    """Everything one solve needs, from the contract or the command line."""

    kind: str
    """The problem kind (``routing``, ``jobshop``)."""
    problem: Path
    """The problem file (the kind's standard format, JSON or YAML)."""
    limits: TimeLimits
    """When the solve stops."""
    workers: int
    """The solver's parallel workers."""
    out_dirs: tuple[Path, ...] = ()
    """Where ``solution.json`` and ``report.html`` go (each gets both)."""
    checkpoint_dir: Path | None = None
    """Where the incumbent is checkpointed and resumed from; None turns checkpoints off."""
    checkpoint_seconds: float = DEFAULT_INTERVAL_SECONDS
    """At most one checkpoint per this many seconds (the last one on exit excepted)."""
    tracking_uri: str = ""
    """MLflow's tracking URI; empty turns tracking off."""
    experiment: str = ""
    """The MLflow experiment (empty: ``MLFLOW_EXPERIMENT_NAME`` or the default)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Extra MLflow run tags (the SageMaker job's name)."""


def positive_seconds(name: str, value: float | None) -> float | None:
    """``value`` when it is a positive finite number (or None), else a ProblemError naming it."""
    if value is not None and (not math.isfinite(value) or value <= 0):
        raise ProblemError(f"{name}: must be a positive number of seconds, got {value!r}")
    return value


def make_limits(
    total_seconds: float,
    iteration_seconds: float | None,
    no_improvement_seconds: float | None,
    min_improvement: float,
    *,
    names: Mapping[str, str] | None = None,
) -> TimeLimits:
    """The :class:`TimeLimits`, any problem a :class:`ProblemError` naming the setting.

    ``names`` maps TimeLimits' field names to what the user typed (``--total-seconds``).
    """
    try:
        return TimeLimits(
            total_seconds=total_seconds,
            iteration_seconds=iteration_seconds,
            no_improvement_seconds=no_improvement_seconds,
            min_relative_improvement=min_improvement,
        )
    except LimitsError as error:
        message = str(error)
        for field_name, shown in (names or {}).items():
            message = message.replace(field_name, shown)
        raise ProblemError(message) from None


def _number(source: str, name: str, raw: str, *, integer: bool = False) -> float:
    text = unwrap(raw).strip()
    try:
        value = float(int(text)) if integer else float(text)
    except ValueError:
        wanted = "an integer" if integer else "a number"
        raise ProblemError(f"{source}: {name}: must be {wanted}, got {text!r}") from None
    return value


def problem_file(channel: Path) -> Path:
    """The one problem file of the channel (a file, or a directory holding exactly one)."""
    if channel.is_file():
        return channel
    files = sorted(
        entry
        for entry in (channel.iterdir() if channel.is_dir() else [])
        if entry.is_file() and not entry.name.startswith(".")
    )
    if len(files) != 1:
        found = ", ".join(entry.name for entry in files) or "nothing"
        raise ProblemError(
            f"the {PROBLEM_CHANNEL!r} input channel must hold exactly one problem file, "
            f"it holds {found}"
        )
    return files[0]


def job_from_sagemaker(
    environment: SageMakerEnvironment, environ: Mapping[str, str] | None = None
) -> SolveJob:
    """The solve a SageMaker training container describes (errors name the setting)."""
    environ = os.environ if environ is None else environ
    source = environment.hyperparameters_file.name
    try:
        raw = environment.read_hyperparameters()
    except HyperparameterError as error:
        raise ProblemError(str(error)) from None
    unknown = sorted(
        key for key in raw if key not in HYPERPARAMETERS and not key.startswith("sagemaker_")
    )
    if unknown:
        raise ProblemError(
            f"{source}: unknown hyperparameter(s) {', '.join(unknown)} (known: "
            f"{', '.join(HYPERPARAMETERS)})"
        )
    kind = unwrap(raw.get("kind", "")).strip()
    if not kind:
        raise ProblemError(f"{source}: kind: missing (routing or jobshop)")

    def optional(name: str) -> float | None:
        text = unwrap(raw.get(name, "")).strip()
        return None if text.lower() in ("", "none", "null") else _number(source, name, text)

    total = optional("total_seconds")
    min_improvement = optional("min_improvement")
    limits = make_limits(
        DEFAULT_TOTAL_SECONDS if total is None else total,
        optional("iteration_seconds"),
        optional("no_improvement_seconds"),
        DEFAULT_MIN_IMPROVEMENT if min_improvement is None else min_improvement,
        names={name: f"{source}: {name}" for name in ("total_seconds", "iteration_seconds")}
        | {
            "no_improvement_seconds": f"{source}: no_improvement_seconds",
            "min_relative_improvement": f"{source}: min_improvement",
        },
    )
    workers_text = unwrap(raw.get("workers", "")).strip()
    workers = (
        int(_number(source, "workers", workers_text, integer=True))
        if workers_text
        else default_workers()
    )
    if workers < 1:
        raise ProblemError(f"{source}: workers: must be at least 1, got {workers}")
    interval = optional("checkpoint_seconds")
    positive_seconds(f"{source}: checkpoint_seconds", interval)
    channels = environment.channels
    if PROBLEM_CHANNEL not in channels:
        found = ", ".join(sorted(channels)) or "none"
        raise ProblemError(
            f"no {PROBLEM_CHANNEL!r} input channel (the job has: {found}); give the problem "
            f"file as the {PROBLEM_CHANNEL!r} channel"
        )
    tags = {}
    if environment.training_job_name:
        tags["sagemaker.training_job_name"] = environment.training_job_name
    return SolveJob(
        kind=kind,
        problem=problem_file(channels[PROBLEM_CHANNEL]),
        limits=limits,
        workers=workers,
        out_dirs=(environment.model_dir, environment.output_data_dir),
        checkpoint_dir=environment.checkpoint_dir,
        checkpoint_seconds=DEFAULT_INTERVAL_SECONDS if interval is None else interval,
        tracking_uri=environ.get(training_contract.MLFLOW_TRACKING_URI_ENV, ""),
        experiment=environ.get(training_contract.MLFLOW_EXPERIMENT_NAME_ENV, ""),
        tags=tags,
    )


SOLUTION_FILE = "solution.json"
"""The solution file in each output directory."""


def say(message: str) -> None:
    """One note line on stderr (stdout carries only the metric lines)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
