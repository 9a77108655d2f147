"""XGBoost training: native early stopping on the validation split, checkpoints, spot-safe.

Every round, the training loss and the validation metrics (``evaluation``, the same metrics every
algorithm reports) are computed from XGBoost's cached predictions through ``custom_metric``, and
reported as one line; XGBoost's own ``EarlyStopping`` watches the objective on the validation
split and stops after ``early_stopping_rounds`` rounds without improvement. The saved model is
the booster cut back to its best round.

Spot safety: every ``checkpoint_every`` rounds, and at the round boundary where a stop was
requested (SIGTERM), the booster is saved through ``checkpoints.CheckpointStore`` (atomic, with a
digest) in XGBoost's UBJSON format. The booster's attributes carry the early-stopping state (best
round, best score, the best round's metrics), so a restart continues with the remaining rounds
exactly where the interrupted run left off, early stopping included.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workloads.model_layout import XGBOOST
from workloads.training import objectives
from workloads.training.checkpoints import CheckpointStore
from workloads.training.evaluation import evaluate, loss
from workloads.training.hyperparameters import as_strings
from workloads.training.outcome import TrainedModel, TrainingContext
from workloads.training.params import XGBoostParams
from workloads.training.progress import Progress

if TYPE_CHECKING:
    import xgboost

    from workloads.training.data import TabularData

_BEST_METRICS = "ml_platform_best_metrics"
_FINISHED = "ml_platform_finished"
_SIGNATURE = "ml_platform_signature"


def booster_params(params: XGBoostParams, task: str, n_classes: int) -> dict[str, Any]:
    """XGBoost's parameter dict for ``params`` and the task."""
    values: dict[str, Any] = {
        "eta": params.learning_rate,
        "max_depth": params.max_depth,
        "min_child_weight": params.min_child_weight,
        "subsample": params.subsample,
        "colsample_bytree": params.colsample_bytree,
        "lambda": params.reg_lambda,
        "alpha": params.reg_alpha,
        "gamma": params.gamma,
        "max_bin": params.max_bin,
        "tree_method": params.tree_method,
        "seed": params.seed,
        # Our custom metric computes every metric we report; XGBoost's default one is unused.
        "disable_default_eval_metric": 1,
        "verbosity": 1,
    }
    if params.nthread:
        values["nthread"] = params.nthread
    if task == objectives.REGRESSION:
        values["objective"] = "reg:squarederror"
    elif n_classes == 2:
        values["objective"] = "binary:logistic"
    else:
        values.update(objective="multi:softprob", num_class=n_classes)
    return values


class _Run:
    """One training: the data matrices, the metric callback's latest values, the outcome."""

    def __init__(self, data: TabularData, params: XGBoostParams, context: TrainingContext) -> None:
        import xgboost

        self.data = data
        self.params = params
        self.context = context
        self.dtrain = xgboost.DMatrix(data.x_train, label=data.y_train, missing=np.nan)
        self.dvalid = xgboost.DMatrix(data.x_valid, label=data.y_valid, missing=np.nan)
        self.latest: dict[str, float] = {}
        """The metrics of the round just evaluated (exact; XGBoost's log keeps 6 decimals)."""
        self.interrupted = False
        self.signature = json.dumps(
            {"task": data.task, "classes": data.n_classes, "features": data.x_train.shape[1]}
        )
        self.store = (
            CheckpointStore(Path(context.checkpoint_dir), suffix=".ubj")
            if context.checkpoint_dir is not None
            else None
        )

    def scores(self, predictions: np.ndarray) -> np.ndarray:
        """XGBoost's transformed predictions as ``evaluate`` takes them."""
        if self.data.task == objectives.REGRESSION:
            return predictions
        if self.data.n_classes == 2:
            positive = predictions.reshape(-1).astype(np.float64)
            return np.column_stack([1.0 - positive, positive])
        return predictions.reshape(-1, self.data.n_classes)

    def metric(self, predictions: np.ndarray, matrix: xgboost.DMatrix) -> list[tuple[str, float]]:
        """``custom_metric``: the loss on the training split, every metric on the validation one."""
        scores = self.scores(predictions)
        if matrix is self.dtrain:
            self.latest = {"train_loss": loss(self.data.task, self.data.y_train, scores)}
            return [("loss", self.latest["train_loss"])]
        found = evaluate(self.data.task, self.data.y_valid, scores)
        self.latest.update(found)
        return [(name.split("_", 1)[1], value) for name, value in found.items()]

    def save_checkpoint(self, booster: xgboost.Booster, *, finished: bool = False) -> None:
        """Save the booster (with its early-stopping attributes) as the newest checkpoint."""
        if self.store is None:
            return
        booster.set_attr(**{_SIGNATURE: self.signature, _FINISHED: "1" if finished else None})
        self.store.save(booster.num_boosted_rounds(), lambda path: booster.save_model(str(path)))

    def load_checkpoint(self, path: Path) -> xgboost.Booster:
        """A checkpointed booster; refused (so the store falls back) if it is another run's."""
        import xgboost

        booster = xgboost.Booster(model_file=str(path))
        if booster.attr(_SIGNATURE) != self.signature:
            raise ValueError(
                f"it is from another training ({booster.attr(_SIGNATURE)}, this one is "
                f"{self.signature})"
            )
        return booster


def _make_callback(run: _Run, resumed: int, progress: Progress | None) -> Any:
    """XGBoost's ``EarlyStopping`` that also reports, checkpoints and honours stop requests.

    One callback rather than several: XGBoost stops calling the others as soon as one asks to
    stop, and the report and checkpoint of the last round must still happen.
    """
    from xgboost.callback import EarlyStopping

    params, context = run.params, run.context
    data_name, metric_name = context.objective.split("_", 1)
    data_name = "valid" if data_name == "valid" else "train"
    maximize = objectives.direction(run.data.task, context.objective) == objectives.MAXIMIZE
    # 0 turns early stopping off: a patience longer than the run never triggers.
    rounds = params.early_stopping_rounds or params.num_round + 1

    class RoundCallback(EarlyStopping):
        def before_training(self, model: Any) -> Any:
            model = super().before_training(model)
            best = model.attr("best_iteration")
            if resumed and best is not None:
                # Continue the interrupted run's early stopping, not a fresh one.
                score = float(model.attr("best_score"))
                self.stopping_history = {data_name: {metric_name: [score]}}
                self.best_scores = {data_name: {metric_name: [score]}}
                self.current_rounds = resumed - 1 - int(best)
            return model

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            stop = super().after_iteration(model, epoch, evals_log)
            done = model.num_boosted_rounds()
            metrics = dict(run.latest)
            if context.reporter is not None:
                context.reporter.report(metrics, step=done)
            if int(model.attr("best_iteration")) == done - 1:
                model.set_attr(**{_BEST_METRICS: json.dumps(metrics)})
            if progress is not None:
                progress.advance(1, **{context.objective: metrics[context.objective]})
            requested = context.stop is not None and context.stop.requested
            if requested:
                run.interrupted = True
                run.save_checkpoint(model)
                return True
            if stop and progress is not None:
                progress.stop_early(f"no improvement in {context.objective} for {rounds} rounds")
            if not stop and done % params.checkpoint_every == 0:
                run.save_checkpoint(model)
            return stop

    return RoundCallback(
        rounds=rounds, metric_name=metric_name, data_name=data_name, maximize=maximize
    )


def train_xgboost(
    data: TabularData, params: XGBoostParams, context: TrainingContext
) -> TrainedModel:
    """Train a booster with early stopping on ``data``'s validation split (resuming if it can)."""
    import xgboost

    run = _Run(data, params, context)
    result = TrainedModel.begin(XGBOOST, xgboost.__version__, as_strings(params))
    checkpoint = run.store.load_latest(run.load_checkpoint) if run.store is not None else None
    booster: Any = None
    done = 0
    if checkpoint is not None:
        booster = checkpoint[1]
        done = booster.num_boosted_rounds()
        print(f"resuming from the checkpoint of round {done}", file=sys.stderr, flush=True)
    finished = booster is not None and (booster.attr(_FINISHED) == "1" or done >= params.num_round)
    if not finished:
        progress = Progress(params.num_round - done, "rounds") if context.show_progress else None
        try:
            booster = xgboost.train(
                booster_params(params, data.task, data.n_classes),
                run.dtrain,
                num_boost_round=params.num_round - done,
                evals=[(run.dtrain, "train"), (run.dvalid, "valid")],
                custom_metric=run.metric,
                xgb_model=booster,
                callbacks=[_make_callback(run, done, progress)],
                verbose_eval=False,
            )
        finally:
            if progress is not None:
                progress.close()
        if run.interrupted:
            result.interrupted = True
            result.steps_run = booster.num_boosted_rounds()
            return result
        run.save_checkpoint(booster, finished=True)
    best_round = int(booster.attr("best_iteration")) + 1
    result.metrics = {
        name: float(value) for name, value in json.loads(booster.attr(_BEST_METRICS)).items()
    }
    result.best_step = best_round
    result.steps_run = booster.num_boosted_rounds()
    # Not interrupted and fewer rounds than asked for: early stopping ended it (maybe before a
    # restart that then found the finished checkpoint).
    result.stopped_early = result.steps_run < params.num_round
    model = booster[:best_round] if best_round < booster.num_boosted_rounds() else booster
    # The checkpoint bookkeeping means nothing to whoever loads the model.
    model.set_attr(**{_SIGNATURE: None, _FINISHED: None, _BEST_METRICS: None})
    result.model = model
    return result
