"""AutoML: the best trial wins (checked against trials.json), budgets hold, failures are recorded."""

from __future__ import annotations

import json
import math
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
from workloads.training import automl
from workloads.training.automl import AutoMLParams, run_automl
from workloads.training.evaluation import evaluate

FAST = ("linear", "xgboost", "hist_gradient_boosting")


def search(tmp_path: Path, params: AutoMLParams, data=None, objective="valid_loss", stop=None):  # type: ignore[no-untyped-def]
    context, stream = reporting_context(objective, stop, output_dir=tmp_path)
    result = run_automl(data or make_data(noise=1.0), params, context)
    record = json.loads((tmp_path / "trials.json").read_text())
    return result, record, report_lines(stream.getvalue())


def test_the_best_trial_by_the_objective_is_the_model(tmp_path: Path) -> None:
    # given a search over three families, four trials, judged by AUC
    params = AutoMLParams(max_trials=4, families=FAST, seed=1)
    # when it runs
    result, record, lines = search(tmp_path, params, objective="valid_auc")
    # then every trial is recorded, the families come in order first, and the model is the
    # trial with the highest AUC in trials.json
    trials = record["trials"]
    assert [t["trial"] for t in trials] == [1, 2, 3, 4]
    assert [t["family"] for t in trials[:3]] == list(FAST)
    assert all(t["status"] == "ok" and t["seconds"] > 0 for t in trials)
    best = max(trials, key=lambda t: t["metrics"]["valid_auc"])
    assert record["best_trial"] == best["trial"]
    assert (record["objective"], record["direction"]) == ("valid_auc", "Maximize")
    assert result.metrics == best["metrics"]
    assert result.best_step == best["trial"] and result.steps_run == 4
    assert result.params["family"] == best["family"]
    # the chosen model really has those metrics, and each trial reported one line
    data = make_data(noise=1.0)
    model = result.model
    scores = (
        model.predict_proba(data.x_valid)
        if result.framework == "sklearn"
        else np.column_stack(
            [1 - model.inplace_predict(data.x_valid), model.inplace_predict(data.x_valid)]
        )
    )
    assert evaluate("classification", data.y_valid, scores)["valid_auc"] == pytest.approx(
        best["metrics"]["valid_auc"]
    )
    assert [line["step"] for line in lines] == [1, 2, 3, 4]


def test_the_time_budget_stops_new_trials_but_the_first_always_runs(tmp_path: Path) -> None:
    """Given a budget already spent, when searching, then only the first trial runs."""
    result, record, _ = search(
        tmp_path, AutoMLParams(max_trials=10, max_seconds=1e-9, families=FAST)
    )
    assert len(record["trials"]) == 1
    assert result.steps_run == 1


def test_a_failed_trial_is_recorded_and_the_search_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a family whose sampler draws an impossible value
    monkeypatch.setitem(
        automl.SPACES, "linear", ("sklearn", lambda rng: {"estimator": "linear", "alpha": "-1"})
    )
    # when the search runs
    result, record, _ = search(tmp_path, AutoMLParams(max_trials=2, families=("linear", "xgboost")))
    # then the failure is recorded with its error and the other trial is the model
    failed, ok = record["trials"]
    assert failed["status"] == "failed" and failed["metrics"] is None
    assert failed["error"] == "HyperparameterError: automl linear: alpha: must be > 0, not -1.0"
    assert ok["status"] == "ok" and record["best_trial"] == 2
    assert result.framework == "xgboost"


def test_families_that_cannot_use_missing_values_are_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a feature with missing values, then linear and pytorch are not tried."""
    data = make_data()
    data.x_train[::5, 0] = math.nan
    _, record, _ = search(
        tmp_path, AutoMLParams(max_trials=2, families=("linear", "pytorch", "xgboost")), data=data
    )
    assert {t["family"] for t in record["trials"]} == {"xgboost"}
    assert "leaving out linear, pytorch" in capsys.readouterr().err


def test_a_stop_request_ends_the_search_without_a_model(tmp_path: Path) -> None:
    """Given a stop after the first trial, then the search returns interrupted, trials recorded."""
    result, record, _ = search(
        tmp_path, AutoMLParams(max_trials=5, families=FAST), stop=StopAfter(1)
    )
    assert result.interrupted and result.model is None
    assert len(record["trials"]) == 1


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"max_trials": 0}, "max_trials: must be >= 1, not 0"),
        ({"max_seconds": 0.0}, "max_seconds: must be > 0, not 0.0"),
        (
            {"families": ("xgboost", "catboost")},
            "families: 'catboost'; choose from hist_gradient_boosting, random_forest, linear, xgboost, pytorch",
        ),
        ({"families": ("xgboost", "xgboost")}, "families: 'xgboost' is listed twice"),
    ],
)
def test_bad_search_settings_name_their_hyperparameter(values: dict, problem: str) -> None:
    """Given a bad setting, then its problem names it."""
    assert AutoMLParams(**values).problems() == [problem]
