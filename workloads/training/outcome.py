"""What every trainer takes besides data and its own hyperparameters, and what it gives back.

Kept apart from ``algorithms`` (the dispatch from a name to a trainer) so that the trainers can
import these types without importing the module that dispatches to them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workloads.training.data import TabularData
    from workloads.training.reporting import MetricReporter
    from workloads.training.spot import StopRequest
    from workloads.training.tracking import ExperimentTracker


@dataclass
class TrainedModel:
    """The outcome of one training run."""

    framework: str
    """``sklearn``, ``xgboost`` or ``pytorch``: how the model is saved (``model_layout``)."""
    model: Any
    """The best model (estimator, booster or ``TabularNet``); None when interrupted."""
    metrics: dict[str, float]
    """``train_loss`` and the validation metrics of the best model."""
    framework_version: str
    """The installed version of the framework that trained the model."""
    best_step: int = 0
    """The step (boosting iterations, trees, epoch) the best model comes from."""
    steps_run: int = 0
    """Steps trained in all, counting those before a resume."""
    stopped_early: bool = False
    """Whether early stopping ended the run."""
    interrupted: bool = False
    """A stop was requested (SIGTERM): no model; the job exits 0 and a restart resumes."""
    is_primary: bool = True
    """Rank 0 or not distributed: only the primary writes the model and metrics."""
    params: dict[str, str] = field(default_factory=dict)
    """The algorithm's hyperparameters, as strings (what MLflow records)."""

    @classmethod
    def begin(cls, framework: str, framework_version: str, params: dict[str, str]) -> TrainedModel:
        """The outcome before training: no model or metrics yet, which the trainer fills in."""
        return cls(
            framework=framework,
            model=None,
            metrics={},
            framework_version=framework_version,
            params=params,
        )


@dataclass(frozen=True)
class TrainingContext:
    """What a trainer needs besides data and its own hyperparameters."""

    objective: str
    """The metric that picks the best model (``objectives.METRICS[task]``)."""
    checkpoint_dir: Path | None = None
    """Where checkpoints are written and resumed from; None turns them off."""
    reporter: MetricReporter | None = None
    """Receives every step's metrics."""
    stop: StopRequest | None = None
    """Polled between steps: when requested, the trainer stops and returns ``interrupted``."""
    show_progress: bool = True
    """Whether to draw a progress display on stderr (AutoML turns it off for its trials)."""
    tracker: ExperimentTracker | None = None
    """The run's experiment tracker (AutoML records each trial as a nested run)."""
    output_dir: Path | None = None
    """Where output files go (AutoML's ``trials.json``); None writes none."""


Trainer = Callable[["TabularData", Any, TrainingContext], TrainedModel]
"""A trainer: data, the algorithm's parsed params and the context in, the trained model out."""
