"""The XGBoost path: native early stopping, the best round kept, checkpoints and exact resumption."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from tests.workloads.training.samples import (  # noqa: F401  (one_thread: an autouse fixture)
    StopAfter,
    make_data,
    one_thread,
    report_lines,
    reporting_context,
)
from workloads.training.checkpoints import CheckpointStore
from workloads.training.evaluation import evaluate
from workloads.training.xgboost_trainer import XGBoostParams, train_xgboost

PARAMS = XGBoostParams(num_round=40, learning_rate=0.3, max_depth=3, nthread=1)


def run(data, params=PARAMS, objective="valid_loss", stop=None, checkpoint_dir=None):  # type: ignore[no-untyped-def]
    context, stream = reporting_context(objective, stop, checkpoint_dir=checkpoint_dir)
    return train_xgboost(data, params, context), report_lines(stream.getvalue())


def scores(booster, data):  # type: ignore[no-untyped-def]
    predictions = booster.inplace_predict(data.x_valid)
    if data.task == "classification" and predictions.ndim == 1:
        return np.column_stack([1 - predictions, predictions])
    return predictions


@pytest.mark.parametrize(
    ("task", "n_classes", "metric", "floor"),
    [
        ("classification", 2, "valid_auc", 0.8),
        ("classification", 3, "valid_accuracy", 0.6),
        ("regression", 0, "valid_r2", 0.6),
    ],
)
def test_it_learns_each_task_and_keeps_the_best_round(
    task: str, n_classes: int, metric: str, floor: float
) -> None:
    # given a learnable problem
    data = make_data(task, n_classes=n_classes or 2)
    # when trained
    result, lines = run(data)
    # then it learns, reports every round, and keeps the best round's booster and metrics
    assert result.metrics[metric] > floor
    assert [int(line["step"]) for line in lines] == list(range(1, result.steps_run + 1))
    assert result.model.num_boosted_rounds() == result.best_step
    assert result.metrics["valid_loss"] == min(line["valid_loss"] for line in lines)
    again = evaluate(task, data.y_valid, scores(result.model, data))
    assert again["valid_loss"] == pytest.approx(result.metrics["valid_loss"], rel=1e-5)
    assert result.model.attributes().keys() <= {"best_iteration", "best_score"}


def test_native_early_stopping_watches_the_objective_in_its_direction() -> None:
    # given noisy data, AUC as the objective and 3 rounds of patience
    data = make_data(noise=2.0)
    params = XGBoostParams(num_round=300, learning_rate=0.5, max_depth=4, early_stopping_rounds=3)
    # when trained
    result, lines = run(data, params, objective="valid_auc")
    # then it stopped 3 rounds after the highest AUC
    assert result.stopped_early
    assert result.steps_run == result.best_step + 3
    best = max(lines, key=lambda line: line["valid_auc"])
    assert best["step"] == result.best_step


def test_a_stopped_run_resumes_from_its_checkpoint_and_ends_as_if_never_stopped(
    tmp_path: Path,
) -> None:
    # given an uninterrupted run and a run stopped after 7 rounds, with checkpoints every 5
    data = make_data(noise=1.0)
    params = XGBoostParams(
        num_round=60, learning_rate=0.3, max_depth=3, early_stopping_rounds=5, checkpoint_every=5
    )
    whole, whole_lines = run(data, params)
    stopped, _ = run(data, params, stop=StopAfter(7), checkpoint_dir=tmp_path)
    saved = [c.step for c in CheckpointStore(tmp_path, suffix=".ubj").checkpoints()]
    # when it is run again on the same checkpoint directory
    resumed, resumed_lines = run(data, params, checkpoint_dir=tmp_path)
    # then the stop wrote a checkpoint at round 8 (beside the periodic one of round 5), and the
    # rerun continued from round 9 to the same end, early stopping included
    assert stopped.interrupted and stopped.model is None and stopped.steps_run == 8
    assert saved == [5, 8]
    assert resumed_lines[0]["step"] == 9
    assert resumed_lines == whole_lines[8:]
    assert (resumed.best_step, resumed.steps_run) == (whole.best_step, whole.steps_run)
    assert resumed.metrics == whole.metrics
    assert resumed.model.save_raw("json") == whole.model.save_raw("json")


def test_a_finished_run_is_not_trained_again(tmp_path: Path) -> None:
    """Given a finished run's checkpoint, when run again, then it reports nothing and returns it."""
    data = make_data()
    first, _ = run(data, checkpoint_dir=tmp_path)
    again, lines = run(data, checkpoint_dir=tmp_path)
    assert lines == []
    assert again.metrics == first.metrics and again.best_step == first.best_step


def test_another_trainings_checkpoint_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # given a checkpoint of a 3-class training in the directory
    run(make_data(n_classes=3), XGBoostParams(num_round=5), checkpoint_dir=tmp_path)
    # when a binary training uses the same directory
    with caplog.at_level(logging.WARNING):
        result, lines = run(make_data(), XGBoostParams(num_round=5), checkpoint_dir=tmp_path)
    # then it trains from scratch and says why the checkpoint was skipped
    assert lines[0]["step"] == 1
    assert result.steps_run == 5
    assert "it is from another training" in caplog.text


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"num_round": 0}, "num_round: must be > 0, not 0"),
        ({"subsample": 0.0}, "subsample: must be in (0, 1], not 0.0"),
        ({"reg_alpha": -1.0}, "reg_alpha: must be >= 0, not -1.0"),
    ],
)
def test_out_of_range_values_name_their_hyperparameter(values: dict, problem: str) -> None:
    """Given an out-of-range value, then its problem names it."""
    assert XGBoostParams(**values).problems() == [problem]
