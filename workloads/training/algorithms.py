"""What every training algorithm takes and gives back, and the dispatch from a name to a trainer.

The algorithms are ``sklearn`` (``sklearn_trainer``), ``xgboost`` (``xgboost_trainer``),
``pytorch`` (``torch_trainer``) and ``automl`` (``automl``, which searches over the other
three). Each module is imported only when its algorithm runs, so an XGBoost job never pays for
importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workloads.model_layout import PYTORCH, SKLEARN, XGBOOST

if TYPE_CHECKING:
    from workloads.training.data import TabularData
    from workloads.training.reporting import MetricReporter
    from workloads.training.spot import StopRequest
    from workloads.training.tracking import ExperimentTracker

ALGORITHMS = (SKLEARN, XGBOOST, PYTORCH, "automl")
"""Every value the ``algorithm`` hyperparameter takes."""


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


def params_type(algorithm: str) -> type:
    """The hyperparameters dataclass of an algorithm (imports only that algorithm's module)."""
    if algorithm == SKLEARN:
        from workloads.training.sklearn_trainer import SklearnParams

        return SklearnParams
    if algorithm == XGBOOST:
        from workloads.training.xgboost_trainer import XGBoostParams

        return XGBoostParams
    if algorithm == PYTORCH:
        from workloads.training.torch_trainer import TorchParams

        return TorchParams
    if algorithm == "automl":
        from workloads.training.automl import AutoMLParams

        return AutoMLParams
    raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}, not {algorithm!r}")


def train(algorithm: str, data: TabularData, params: Any, context: TrainingContext) -> TrainedModel:
    """Train ``algorithm`` with its parsed ``params`` on ``data``."""
    if algorithm == SKLEARN:
        from workloads.training.sklearn_trainer import train_sklearn

        return train_sklearn(data, params, context)
    if algorithm == XGBOOST:
        from workloads.training.xgboost_trainer import train_xgboost

        return train_xgboost(data, params, context)
    if algorithm == PYTORCH:
        return train_pytorch(data, params, context)
    if algorithm == "automl":
        from workloads.training.automl import run_automl

        return run_automl(data, params, context)
    raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}, not {algorithm!r}")


def train_pytorch(data: TabularData, params: Any, context: TrainingContext) -> TrainedModel:
    """The PyTorch path: ``torch_trainer.train_tabular_net`` as a :class:`TrainedModel`."""
    import torch

    from workloads.training.data import require_complete
    from workloads.training.hyperparameters import as_strings
    from workloads.training.torch_trainer import train_tabular_net

    # A NaN input poisons every weight it reaches: refuse it with the column names up front.
    require_complete(data, "pytorch")
    outcome = train_tabular_net(
        data,
        params,
        checkpoint_dir=context.checkpoint_dir,
        reporter=context.reporter,
        stop=context.stop,
    )
    return TrainedModel(
        framework=PYTORCH,
        model=outcome.model,
        metrics=dict(outcome.metrics),
        framework_version=torch.__version__.split("+")[0],
        best_step=outcome.best_epoch,
        steps_run=outcome.epochs_run,
        stopped_early=outcome.stopped_early,
        interrupted=outcome.interrupted,
        is_primary=outcome.is_primary,
        params=as_strings(params),
    )
