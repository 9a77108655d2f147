"""The validation metrics every algorithm reports, computed one way for all of them.

``evaluate(task, y_true, scores)`` gives the metrics of ``objectives.METRICS[task]`` (except
``train_loss``, which :func:`loss` gives on the training split):

- classification (``scores`` are class probabilities, shape ``(n, k)``, ``y_true`` class
  indices): ``valid_loss`` (log loss), ``valid_accuracy``, ``valid_auc`` (ROC AUC; one-vs-rest
  macro average for more than two classes), ``valid_f1`` (macro F1);
- regression (``scores`` are predictions, shape ``(n,)``): ``valid_loss`` (mean squared error),
  ``valid_rmse``, ``valid_mae``, ``valid_r2``.

They agree with scikit-learn's ``log_loss``, ``accuracy_score``, ``roc_auc_score``,
``f1_score(average="macro")``, ``mean_squared_error``, ``mean_absolute_error`` and ``r2_score``
(the tests check it), but are plain numpy: they run after every boosting round and epoch, where
scikit-learn's input validation would cost more than the metric. Where scikit-learn raises (an
AUC with one class present) the metric is NaN instead, so a small validation split never stops a
training run; NaN never counts as an improvement.
"""

from __future__ import annotations

import math

import numpy as np

from workloads.training import objectives

CLASSIFICATION, REGRESSION = objectives.CLASSIFICATION, objectives.REGRESSION


def _check(task: str, y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true)
    scores = np.asarray(scores)
    if task not in (CLASSIFICATION, REGRESSION):
        raise ValueError(f"task must be {CLASSIFICATION!r} or {REGRESSION!r}, not {task!r}")
    if y_true.ndim != 1:
        raise ValueError(f"y_true must be 1-D, not of shape {y_true.shape}")
    if task == CLASSIFICATION:
        if scores.ndim != 2 or scores.shape[1] < 2:
            raise ValueError(
                f"classification scores must be class probabilities of shape (n, k >= 2), "
                f"not {scores.shape}"
            )
        if len(y_true) and (y_true.min() < 0 or y_true.max() >= scores.shape[1]):
            raise ValueError(
                f"y_true holds class indices outside 0..{scores.shape[1] - 1} "
                f"(scores have {scores.shape[1]} columns)"
            )
    elif scores.ndim != 1:
        raise ValueError(f"regression scores must be predictions of shape (n,), not {scores.shape}")
    if len(scores) != len(y_true):
        raise ValueError(f"{len(y_true)} labels but {len(scores)} rows of scores")
    if not len(y_true):
        raise ValueError("no rows to evaluate")
    return y_true, scores


def _log_loss(y_true: np.ndarray, probabilities: np.ndarray) -> float:
    # As scikit-learn: rows normalised to sum 1, then clipped at the dtype's epsilon.
    dtype = probabilities.dtype if np.issubdtype(probabilities.dtype, np.floating) else np.float64
    epsilon = np.finfo(dtype).eps
    rows = probabilities / probabilities.sum(axis=1, keepdims=True)
    picked = np.clip(rows[np.arange(len(y_true)), y_true], epsilon, 1.0)
    return float(-np.mean(np.log(picked.astype(np.float64))))


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties share their average rank)."""
    n_positive = int(positive.sum())
    n_negative = len(positive) - n_positive
    if n_positive == 0 or n_negative == 0:
        return math.nan
    order = np.argsort(score, kind="mergesort")
    sorted_scores = score[order]
    ranks = np.empty(len(score), dtype=np.float64)
    # Average rank of each run of equal scores (1-based).
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(score)]))
    average = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(average, ends - starts)
    rank_sum = ranks[positive].sum()
    return float((rank_sum - n_positive * (n_positive + 1) / 2.0) / (n_positive * n_negative))


def _auc(y_true: np.ndarray, probabilities: np.ndarray) -> float:
    k = probabilities.shape[1]
    if k == 2:
        return _binary_auc(y_true == 1, probabilities[:, 1].astype(np.float64))
    # One-vs-rest, macro average over the classes that have both positives and negatives.
    values = [_binary_auc(y_true == c, probabilities[:, c].astype(np.float64)) for c in range(k)]
    present = [value for value in values if not math.isnan(value)]
    return float(np.mean(present)) if present else math.nan


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> float:
    # Over the labels that occur in y_true or y_pred, as scikit-learn; 0 where undefined.
    true_counts = np.bincount(y_true, minlength=k)
    pred_counts = np.bincount(y_pred, minlength=k)
    hits = np.bincount(y_true[y_true == y_pred], minlength=k)
    labels = (true_counts + pred_counts) > 0
    denominator = true_counts + pred_counts
    f1 = np.divide(
        2.0 * hits, denominator, out=np.zeros(k, dtype=np.float64), where=denominator > 0
    )
    return float(f1[labels].mean())


def loss(task: str, y_true: np.ndarray, scores: np.ndarray) -> float:
    """The training loss: log loss (classification) or mean squared error (regression)."""
    y_true, scores = _check(task, y_true, scores)
    if task == CLASSIFICATION:
        return _log_loss(y_true.astype(np.intp), scores)
    errors = scores.astype(np.float64) - y_true.astype(np.float64)
    return float(np.mean(errors**2))


def evaluate(task: str, y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """The ``valid_*`` metrics of ``objectives.METRICS[task]`` for one split.

    ``scores`` are class probabilities ``(n, k)`` for classification (``y_true`` holds class
    indices) or predictions ``(n,)`` for regression. Returns plain floats.
    """
    y_true, scores = _check(task, y_true, scores)
    if task == CLASSIFICATION:
        y = y_true.astype(np.intp)
        k = scores.shape[1]
        predicted = np.argmax(scores, axis=1)
        return {
            "valid_loss": _log_loss(y, scores),
            "valid_accuracy": float(np.mean(predicted == y)),
            "valid_auc": _auc(y, scores),
            "valid_f1": _macro_f1(y, predicted, k),
        }
    truth = y_true.astype(np.float64)
    errors = scores.astype(np.float64) - truth
    mse = float(np.mean(errors**2))
    total = float(np.sum((truth - truth.mean()) ** 2))
    residual = float(np.sum(errors**2))
    # A constant target has no variance to explain: scikit-learn's convention then.
    r2 = 1.0 - residual / total if total > 0 else float(residual == 0)
    return {
        "valid_loss": mse,
        "valid_rmse": math.sqrt(mse),
        "valid_mae": float(np.mean(np.abs(errors))),
        "valid_r2": r2,
    }


def is_better(task: str, objective: str, candidate: float, best: float | None) -> bool:
    """Whether ``candidate`` improves on ``best`` for ``objective`` (NaN never does)."""
    if math.isnan(candidate):
        return False
    if best is None or math.isnan(best):
        return True
    if objectives.direction(task, objective) == objectives.MAXIMIZE:
        return candidate > best
    return candidate < best
