"""scikit-learn training with early stopping on our own validation split.

Three estimators, chosen by the ``estimator`` hyperparameter:

- ``hist_gradient_boosting`` (default): ``HistGradientBoosting{Classifier,Regressor}``; handles
  missing values natively;
- ``random_forest``: ``RandomForest{Classifier,Regressor}``; handles missing values too;
- ``linear``: standardised features into ``LogisticRegression`` / ``Ridge``; no missing values.

The iterative estimators grow ``step`` boosting iterations or trees at a time (``warm_start``);
after each step the validation metrics are reported and, after ``patience`` steps without
improvement of the objective, training stops and the best model is kept. scikit-learn's own
early stopping is off: it would hold out part of the training data instead of using the
validation split every algorithm is judged on. A stop request (SIGTERM) is honoured between
steps; nothing is checkpointed (a restart trains again from scratch).

Classifiers are fitted on the original labels (sorted, as ``TabularData.classes``), so the saved
estimator's ``predict`` returns labels and its ``predict_proba`` columns follow ``classes``.
"""

from __future__ import annotations

import copy
import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from workloads.model_layout import SKLEARN
from workloads.training import objectives
from workloads.training.data import require_complete
from workloads.training.evaluation import evaluate, is_better, loss
from workloads.training.hyperparameters import as_strings
from workloads.training.outcome import TrainedModel, TrainingContext
from workloads.training.params import SklearnParams
from workloads.training.progress import Progress, write_line

if TYPE_CHECKING:
    from workloads.training.data import TabularData

ESTIMATORS = ("hist_gradient_boosting", "random_forest", "linear")
"""The values of the ``estimator`` hyperparameter."""
TRAIN_LOSS_ROWS = 10_000
"""``train_loss`` is measured on at most this many training rows (a fixed sample), so that
reporting every step stays cheap on large data."""


def build_estimator(params: SklearnParams, task: str) -> Any:
    """An unfitted estimator for ``params``; iterative ones with ``warm_start`` and 0 steps."""
    classification = task == objectives.CLASSIFICATION
    if params.estimator == "hist_gradient_boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        kind = HistGradientBoostingClassifier if classification else HistGradientBoostingRegressor
        return kind(
            learning_rate=params.learning_rate,
            max_iter=0,
            max_leaf_nodes=params.max_leaf_nodes,
            max_depth=params.max_depth,
            min_samples_leaf=params.min_samples_leaf or 20,
            l2_regularization=params.l2_regularization,
            max_features=params.max_features,
            early_stopping=False,
            warm_start=True,
            random_state=params.seed,
        )
    if params.estimator == "random_forest":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        kind = RandomForestClassifier if classification else RandomForestRegressor
        # max_features 1.0 means every feature: scikit-learn's regressor default; the
        # classifier's own default (sqrt) is the usual choice there.
        max_features: Any = params.max_features
        if classification and params.max_features == 1.0:
            max_features = "sqrt"
        return kind(
            n_estimators=0,
            max_depth=params.max_depth,
            min_samples_leaf=params.min_samples_leaf or 1,
            max_features=max_features,
            warm_start=True,
            n_jobs=params.n_jobs,
            random_state=params.seed,
        )
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if classification:
        linear: Any = LogisticRegression(
            C=1.0 / params.alpha, max_iter=params.max_iter, random_state=params.seed
        )
    else:
        linear = Ridge(alpha=params.alpha)
    return make_pipeline(StandardScaler(), linear)


def _scores(estimator: Any, x: np.ndarray, task: str) -> np.ndarray:
    if task == objectives.CLASSIFICATION:
        return estimator.predict_proba(x)
    return estimator.predict(x)


class _Evaluator:
    """The step's metrics: ``train_loss`` on a fixed training sample, then the validation ones."""

    def __init__(self, data: TabularData) -> None:
        self.data = data
        rows = len(data.x_train)
        if rows > TRAIN_LOSS_ROWS:
            sample = np.sort(np.random.default_rng(0).choice(rows, TRAIN_LOSS_ROWS, replace=False))
            self.x_sample, self.y_sample = data.x_train[sample], data.y_train[sample]
        else:
            self.x_sample, self.y_sample = data.x_train, data.y_train

    def __call__(self, estimator: Any) -> dict[str, float]:
        task = self.data.task
        return {
            "train_loss": loss(task, self.y_sample, _scores(estimator, self.x_sample, task)),
            **evaluate(task, self.data.y_valid, _scores(estimator, self.data.x_valid, task)),
        }


def _fit(estimator: Any, x: np.ndarray, y: np.ndarray) -> None:
    # Convergence and similar warnings go to the log as one line each, not as a traceback.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(x, y)
    for warning in {str(w.message): w for w in caught}.values():
        write_line(f"warning: {warning.category.__name__}: {warning.message}")


def train_sklearn(
    data: TabularData, params: SklearnParams, context: TrainingContext
) -> TrainedModel:
    """Train the chosen estimator with early stopping on ``data``'s validation split."""
    import sklearn

    if params.estimator == "linear":
        require_complete(data, "the linear estimator")
    # Classifiers learn the original labels, so predict() on the saved model returns them.
    y_train = data.labels(data.y_train) if data.task == objectives.CLASSIFICATION else data.y_train
    if data.task == objectives.CLASSIFICATION:
        y_train = _uniform_labels(y_train)
    estimator = build_estimator(params, data.task)
    evaluator = _Evaluator(data)
    result = TrainedModel.begin(SKLEARN, sklearn.__version__, as_strings(params))
    if params.estimator == "linear":
        _fit(estimator, data.x_train, y_train)
        metrics = evaluator(estimator)
        if context.reporter is not None:
            context.reporter.report(metrics, step=1)
        result.model, result.metrics, result.best_step, result.steps_run = estimator, metrics, 1, 1
        return result

    boosting = params.estimator == "hist_gradient_boosting"
    size_name = "max_iter" if boosting else "n_estimators"
    limit = params.max_iter if boosting else params.n_estimators
    best_value: float | None = None
    best: Any = None
    stale = 0
    size = 0
    progress = (
        Progress(limit, "iterations" if boosting else "trees") if context.show_progress else None
    )
    try:
        while size < limit:
            if context.stop is not None and context.stop.requested:
                result.interrupted = True
                result.steps_run = size
                return result
            grown = min(size + params.step, limit)
            estimator.set_params(**{size_name: grown})
            _fit(estimator, data.x_train, y_train)
            metrics = evaluator(estimator)
            if context.reporter is not None:
                context.reporter.report(metrics, step=grown)
            if progress is not None:
                progress.advance(grown - size, **{context.objective: metrics[context.objective]})
            size = grown
            value = metrics[context.objective]
            if best is None or is_better(data.task, context.objective, value, best_value):
                # Boosting iterations cannot be cut off later: keep a copy. A forest is cut
                # back to its best number of trees at the end instead.
                best = copy.deepcopy(estimator) if boosting else size
                best_value = value if not math.isnan(value) else best_value
                result.best_step, result.metrics = size, metrics
                stale = 0
            else:
                stale += 1
                if stale >= params.patience:
                    result.stopped_early = True
                    if progress is not None:
                        unit = "iterations" if boosting else "trees"
                        progress.stop_early(
                            f"no improvement in {context.objective} "
                            f"over the last {params.patience * params.step} {unit}"
                        )
                    break
    finally:
        if progress is not None:
            progress.close()
    result.steps_run = size
    if boosting:
        result.model = best
    else:
        estimator.estimators_ = estimator.estimators_[: result.best_step]
        estimator.set_params(n_estimators=result.best_step)
        result.model = estimator
    return result


def _uniform_labels(labels: np.ndarray) -> np.ndarray:
    """Labels as a typed array scikit-learn sorts the same way as ``TabularData.classes``."""
    values = labels.tolist()
    if all(isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=bool)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.int64)
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.float64)
    return np.asarray([str(v) for v in values], dtype=object)
