"""The shared metrics agree with scikit-learn's, cover objectives.METRICS and fail clearly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as sk

from workloads.training import objectives
from workloads.training.evaluation import evaluate, is_better, loss


def probabilities(rng: np.random.Generator, rows: int, k: int) -> np.ndarray:
    raw = rng.random((rows, k)) ** 3  # skewed, with near-ties
    return raw / raw.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_classification_metrics_match_scikit_learn(k: int) -> None:
    # given labels and class probabilities (rounded, so some scores tie)
    rng = np.random.default_rng(k)
    y = rng.integers(0, k, 300)
    scores = np.round(probabilities(rng, 300, k), 2)
    scores = scores / scores.sum(axis=1, keepdims=True)
    # when evaluated
    found = evaluate(objectives.CLASSIFICATION, y, scores)
    # then the metrics are objectives.METRICS' validation ones, equal to scikit-learn's
    assert set(found) == set(objectives.METRICS["classification"]) - {"train_loss"}
    expected_auc = (
        sk.roc_auc_score(y, scores[:, 1])
        if k == 2
        else sk.roc_auc_score(y, scores, multi_class="ovr", average="macro")
    )
    assert found["valid_loss"] == pytest.approx(sk.log_loss(y, scores, labels=range(k)), rel=1e-9)
    assert found["valid_accuracy"] == pytest.approx(sk.accuracy_score(y, scores.argmax(1)))
    assert found["valid_auc"] == pytest.approx(expected_auc, rel=1e-12)
    assert found["valid_f1"] == pytest.approx(sk.f1_score(y, scores.argmax(1), average="macro"))
    assert loss(objectives.CLASSIFICATION, y, scores) == found["valid_loss"]
    assert all(type(value) is float for value in found.values())


def test_regression_metrics_match_scikit_learn() -> None:
    # given targets and predictions
    rng = np.random.default_rng(0)
    y = rng.normal(size=200).astype(np.float32)
    predictions = (y + rng.normal(scale=0.3, size=200)).astype(np.float32)
    # when evaluated
    found = evaluate(objectives.REGRESSION, y, predictions)
    # then they match scikit-learn (in float64)
    y64, p64 = y.astype(np.float64), predictions.astype(np.float64)
    assert set(found) == set(objectives.METRICS["regression"]) - {"train_loss"}
    assert found["valid_loss"] == pytest.approx(sk.mean_squared_error(y64, p64))
    assert found["valid_rmse"] == pytest.approx(math.sqrt(sk.mean_squared_error(y64, p64)))
    assert found["valid_mae"] == pytest.approx(sk.mean_absolute_error(y64, p64))
    assert found["valid_r2"] == pytest.approx(sk.r2_score(y64, p64))


def test_a_class_missing_from_the_labels_does_not_stop_training() -> None:
    # given validation labels of one class only, and of two of three classes
    one = evaluate(objectives.CLASSIFICATION, np.zeros(4, int), np.full((4, 2), 0.5))
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 50)
    scores = probabilities(rng, 50, 3)
    two = evaluate(objectives.CLASSIFICATION, y, scores)
    # then AUC is NaN where undefined and averaged over the classes present otherwise
    assert math.isnan(one["valid_auc"])
    assert one["valid_accuracy"] == 1.0
    expected = np.mean([sk.roc_auc_score(y == c, scores[:, c]) for c in (0, 1)])
    assert two["valid_auc"] == pytest.approx(expected)


def test_a_constant_regression_target_follows_scikit_learns_r2_convention() -> None:
    """Given a constant target, then R² is 1 for exact predictions and 0 otherwise, never NaN."""
    y = np.ones(5, dtype=np.float32)
    assert evaluate(objectives.REGRESSION, y, y)["valid_r2"] == 1.0
    assert evaluate(objectives.REGRESSION, y, y * 2)["valid_r2"] == 0.0


@pytest.mark.parametrize(
    ("task", "y", "scores", "message"),
    [
        (
            "classification",
            [0, 1],
            [0.2, 0.7],
            "classification scores must be class probabilities of shape (n, k >= 2), not (2,)",
        ),
        (
            "classification",
            [0, 3],
            [[0.5, 0.5]] * 2,
            "y_true holds class indices outside 0..1 (scores have 2 columns)",
        ),
        (
            "regression",
            [1.0],
            [[1.0]],
            "regression scores must be predictions of shape (n,), not (1, 1)",
        ),
        ("regression", [1.0, 2.0], [1.0], "2 labels but 1 rows of scores"),
        ("regression", [], [], "no rows to evaluate"),
        ("ranking", [1.0], [1.0], "task must be 'classification' or 'regression', not 'ranking'"),
    ],
)
def test_bad_inputs_are_clear_errors(task: str, y: list, scores: list, message: str) -> None:
    """Given mis-shaped inputs, when evaluated, then the error says what is wrong."""
    with pytest.raises(ValueError) as raised:
        evaluate(task, np.asarray(y), np.asarray(scores))
    assert str(raised.value) == message


def test_better_follows_the_metrics_direction_and_nan_never_wins() -> None:
    """Given each direction, then improvement is judged by it and NaN is never better."""
    assert is_better("classification", "valid_auc", 0.9, 0.8)
    assert not is_better("classification", "valid_loss", 0.9, 0.8)
    assert is_better("regression", "valid_r2", 0.5, None)
    assert is_better("regression", "valid_rmse", 1.0, math.nan)
    assert not is_better("regression", "valid_rmse", math.nan, 1.0)
