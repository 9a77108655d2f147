"""The scikit-learn path: real short trainings, early stopping on the validation split, stopping."""

from __future__ import annotations

import numpy as np
import pytest

from tests.workloads.training.samples import (  # noqa: F401  (one_thread: an autouse fixture)
    StopAfter,
    make_data,
    one_thread,
    report_lines,
    reporting_context,
)
from workloads.training.data import DataError
from workloads.training.evaluation import evaluate
from workloads.training.sklearn_trainer import SklearnParams, train_sklearn


def run(data, params, objective="valid_loss", stop=None):  # type: ignore[no-untyped-def]
    context, stream = reporting_context(objective, stop)
    return train_sklearn(data, params, context), report_lines(stream.getvalue())


@pytest.mark.parametrize("estimator", ["hist_gradient_boosting", "random_forest", "linear"])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_each_estimator_learns_each_task(estimator: str, task: str) -> None:
    # given a learnable problem
    data = make_data(task, n_classes=3)
    params = SklearnParams(estimator=estimator, max_iter=60, n_estimators=30, n_jobs=1)  # type: ignore[arg-type]
    # when trained
    result, lines = run(data, params)
    # then it beats chance, and its metrics are those of the step it kept
    good = {"classification": ("valid_accuracy", 0.6), "regression": ("valid_r2", 0.6)}[task]
    assert result.metrics[good[0]] > good[1]
    assert not result.interrupted and result.model is not None
    assert result.framework == "sklearn"
    kept = next(line for line in lines if line["step"] == result.best_step)
    assert {key: kept[key] for key in result.metrics} == result.metrics


def test_classifiers_learn_the_original_labels_in_classes_order() -> None:
    # given text labels
    data = make_data(n_classes=3, labels=("high", "low", "mid"))
    # when trained
    result, _ = run(data, SklearnParams(max_iter=20))
    # then the model predicts labels, with probability columns in classes order
    model = result.model
    assert list(model.classes_) == ["high", "low", "mid"]
    assert set(model.predict(data.x_valid)) <= {"high", "low", "mid"}
    again = evaluate("classification", data.y_valid, model.predict_proba(data.x_valid))
    assert again["valid_loss"] == pytest.approx(result.metrics["valid_loss"])


def test_boosting_stops_early_and_keeps_the_best_iteration() -> None:
    # given noisy data, a high learning rate and little patience
    data = make_data(noise=2.0, rows=400)
    params = SklearnParams(learning_rate=0.5, max_iter=400, step=5, patience=2)
    # when trained
    result, lines = run(data, params)
    # then it stopped after `patience` steps without improvement and kept the best step
    steps = [int(line["step"]) for line in lines]
    assert result.stopped_early
    assert steps == list(range(5, result.steps_run + 1, 5))
    assert result.steps_run == result.best_step + 2 * 5
    assert result.metrics["valid_loss"] == min(line["valid_loss"] for line in lines)
    # the kept model is the one of the best step, not the last
    assert result.model.n_iter_ == result.best_step


def test_a_forest_is_cut_back_to_its_best_number_of_trees() -> None:
    """Given a forest judged by AUC, then the kept forest has its best step's trees and score."""
    data = make_data(noise=1.5)
    params = SklearnParams(
        estimator="random_forest", n_estimators=60, step=10, patience=2, n_jobs=1
    )
    result, lines = run(data, params, objective="valid_auc")
    assert len(result.model.estimators_) == result.best_step
    assert result.metrics["valid_auc"] == max(line["valid_auc"] for line in lines)
    scores = result.model.predict_proba(data.x_valid)
    assert evaluate("classification", data.y_valid, scores)["valid_auc"] == pytest.approx(
        result.metrics["valid_auc"]
    )


def test_missing_values_go_to_boosting_but_not_to_the_linear_model() -> None:
    # given data with missing values
    data = make_data()
    data.x_train[::7, 1] = np.nan
    # when each estimator trains
    boosted, _ = run(data, SklearnParams(max_iter=20))
    with pytest.raises(DataError) as raised:
        run(data, SklearnParams(estimator="linear"))
    # then boosting uses them and the linear model says what to do
    assert boosted.metrics["valid_accuracy"] > 0.6
    assert str(raised.value).startswith("feature column 'b' has missing values, which the linear")


def test_a_stop_request_ends_training_between_steps_without_a_model() -> None:
    """Given a stop requested after two steps, then training returns interrupted, with no model."""
    result, lines = run(make_data(), SklearnParams(max_iter=100, step=5), stop=StopAfter(2))
    assert result.interrupted and result.model is None
    assert [line["step"] for line in lines] == [5, 10]


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"learning_rate": 0.0}, "learning_rate: must be > 0, not 0.0"),
        ({"max_depth": 0}, "max_depth: must be >= 1 or none, not 0"),
        ({"max_features": 1.5}, "max_features: must be in (0, 1], not 1.5"),
        ({"n_jobs": 0}, "n_jobs: must be other than 0, not 0"),
    ],
)
def test_out_of_range_values_name_their_hyperparameter(values: dict, problem: str) -> None:
    """Given an out-of-range value, then its problem names it."""
    assert SklearnParams(**values).problems() == [problem]
