"""The check: injected drift is found, an unchanged sample raises nothing, edge cases hold."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import ks_2samp

from tests.workloads.monitoring.samples import (
    FEATURES,
    capture_line,
    sample_baseline,
    training_table,
    window_lines,
    write_capture,
)
from workloads.monitoring import contract
from workloads.monitoring.baseline import Baseline, numeric_baseline
from workloads.monitoring.capture import CaptureData, capture_files, read_capture
from workloads.monitoring.check import (
    CheckResult,
    Thresholds,
    check_capture,
    compare_columns,
)
from workloads.monitoring.results import write_results


def check(tmp_path: Path, lines: list[str], **kwargs: object) -> CheckResult:
    write_capture(tmp_path, lines)
    data = read_capture(capture_files(tmp_path), FEATURES, root=tmp_path)
    return check_capture(sample_baseline(), data, endpoint="mlp-dev-shop", **kwargs)  # type: ignore[arg-type]


def by_name(result: CheckResult) -> dict[str, object]:
    return {feature.name: feature for feature in result.features}


def test_a_sample_from_the_same_distribution_raises_no_alarm(tmp_path: Path) -> None:
    # given 2,000 requests drawn like the training data
    # when
    result = check(tmp_path, window_lines(2_000, seed=11))
    # then
    assert result.status == "ok", result.violations
    assert result.violations == []
    assert not any(feature.drifted for feature in result.features)


def test_an_injected_shift_is_found_in_that_feature_only(tmp_path: Path) -> None:
    # given amount shifted by one standard deviation
    # when
    result = check(tmp_path, window_lines(2_000, seed=11, shift=15.0))
    # then
    features = by_name(result)
    assert features["amount"].drifted
    assert features["amount"].psi > 0.2 and features["amount"].ks_statistic > 0.1
    assert not features["items"].drifted and not features["channel"].drifted
    assert result.status == "drift"
    assert [
        v["feature_name"]
        for v in result.violations
        if v["constraint_check_type"] == "baseline_drift_check"
    ] == ["amount"]


def test_numeric_figures_are_scipys(tmp_path: Path) -> None:
    # given
    baseline = sample_baseline()
    lines = window_lines(500, seed=5, shift=3.0)
    # when
    result = check(tmp_path, lines)
    # then
    window = [
        float(json.loads(line)["captureData"]["endpointInput"]["data"].split(",")[0])
        for line in lines
    ]
    base = baseline.feature("amount").values  # type: ignore[union-attr]
    assert by_name(result)["amount"].ks_statistic == pytest.approx(
        ks_2samp(base, window).statistic, abs=1e-12
    )


def test_prediction_drift_is_checked_against_the_baseline_predictions(tmp_path: Path) -> None:
    # given predictions far above the baseline's beta(2, 5) scores
    lines = [capture_line("100,3,web", 0.95) for _ in range(300)]
    # when
    result = check(tmp_path, lines)
    # then
    prediction = by_name(result)["prediction"]
    assert prediction.role == "prediction" and prediction.drifted
    assert "prediction" in [v["feature_name"] for v in result.violations]


def test_unseen_categories_and_missing_values_are_violations(tmp_path: Path) -> None:
    # given a quarter of requests in a new channel and a third without an amount
    lines = []
    for index in range(600):
        amount = "" if index % 3 == 0 else "100"
        channel = "kiosk" if index % 4 == 0 else "web"
        lines.append(capture_line(f"{amount},3,{channel}"))
    # when
    result = check(tmp_path, lines)
    # then
    channel = by_name(result)["channel"]
    assert channel.unseen_categories == ["kiosk"]
    assert channel.unseen_rate == pytest.approx(0.25)
    checks = {(v["feature_name"], v["constraint_check_type"]) for v in result.violations}
    assert ("channel", "categorical_values_check") in checks
    assert ("amount", "completeness_check") in checks
    assert by_name(result)["amount"].missing_rate == pytest.approx(1 / 3)


def test_type_and_range_violations(tmp_path: Path) -> None:
    # given text in a numeric column, fractions in an integral one, amounts far out of range
    lines = [capture_line("abc,3,web") for _ in range(50)]
    lines += [capture_line("100000,2.5,web") for _ in range(50)]
    lines += [capture_line("100,3,web") for _ in range(100)]
    # when
    result = check(tmp_path, lines)
    # then
    features = by_name(result)
    assert features["amount"].type_violation_rate == pytest.approx(0.25)
    assert features["amount"].range_violation_rate == pytest.approx(50 / 150)
    assert features["items"].type_violation_rate == pytest.approx(0.25)
    checks = {(v["feature_name"], v["constraint_check_type"]) for v in result.violations}
    assert {
        ("amount", "data_type_check"),
        ("items", "data_type_check"),
        ("amount", "range_check"),
    } <= checks


def test_an_all_missing_column_is_reported_without_figures(tmp_path: Path) -> None:
    # given requests that never carry an amount
    lines = [capture_line({"items": 3, "channel": "web"}) for _ in range(200)]
    # when
    result = check(tmp_path, lines)
    # then
    amount = by_name(result)["amount"]
    assert amount.count == 0 and amount.missing_rate == 1.0
    assert amount.ks_statistic is None and amount.psi is None
    assert amount.note == "no value present in the window: no drift figures"
    assert {
        "feature_name": "amount",
        "constraint_check_type": "missing_column_check",
        "description": "no value of 'amount' in 200 rows",
    } in result.violations


def test_an_empty_window_is_a_clear_result_not_an_error(tmp_path: Path) -> None:
    # given no capture at all
    # when
    result = check_capture(sample_baseline(), CaptureData(list(FEATURES)), endpoint="e")
    # then
    assert result.status == "empty"
    assert result.message == "no captured requests in this window: nothing to compare"
    assert result.features == [] and result.violations == []


def test_a_window_of_only_malformed_lines_says_so(tmp_path: Path) -> None:
    # given
    result = check(tmp_path, ["{oops", "also not json"])
    # when / then
    assert result.status == "empty"
    assert result.message == "all 2 capture lines were malformed: nothing to compare"


def test_a_baseline_without_predictions_notes_that_prediction_drift_is_skipped(
    tmp_path: Path,
) -> None:
    # given a baseline profiled without a prediction column
    table = training_table()
    baseline = Baseline(features=sample_baseline().features)
    write_capture(tmp_path, window_lines(50))
    data = read_capture(capture_files(tmp_path), FEATURES)
    # when
    result = check_capture(baseline, data, endpoint="e")
    # then
    assert "prediction" not in by_name(result)
    assert result.notes == ["the baseline has no predictions: prediction drift is not checked"]
    assert table  # the table the baseline came from


def test_results_files_and_metrics(tmp_path: Path) -> None:
    # given a drifted window
    result = check(tmp_path / "capture", window_lines(300, shift=20.0))
    # when
    from datetime import datetime

    written = write_results(
        result, tmp_path / "out", timestamp=datetime(2026, 11, 22, 11, tzinfo=UTC)
    )
    # then
    assert [p.name for p in written] == [
        contract.VIOLATIONS_FILE,
        contract.SUMMARY_FILE,
        contract.METRICS_FILE,
        contract.REPORT_FILE,
    ]
    violations = json.loads((tmp_path / "out" / contract.VIOLATIONS_FILE).read_text())
    assert set(violations) == {"violations"}
    assert set(violations["violations"][0]) == {
        "feature_name",
        "constraint_check_type",
        "description",
    }
    metrics = json.loads((tmp_path / "out" / contract.METRICS_FILE).read_text())
    assert metrics["namespace"] == contract.METRIC_NAMESPACE
    assert metrics["timestamp"] == "2026-11-22T11:00:00+00:00"
    named = {(m["name"], m["dimensions"].get("Feature")): m["value"] for m in metrics["metrics"]}
    assert named[(contract.RECORDS_CHECKED, None)] == 300
    assert named[(contract.CHECKS_COMPLETED, None)] == 1
    assert named[(contract.FEATURES_DRIFTED, None)] == 1
    assert named[(contract.PSI, "amount")] == pytest.approx(by_name(result)["amount"].psi)
    assert named[(contract.JS_DISTANCE, "channel")] >= 0
    assert (contract.PREDICTION_PSI, None) in named
    assert all(m["dimensions"]["Endpoint"] == "mlp-dev-shop" for m in metrics["metrics"])
    assert "<svg" in (tmp_path / "out" / contract.REPORT_FILE).read_text()


def test_compare_columns_runs_on_threads_and_gives_the_same_figures() -> None:
    # given prepared baselines of four columns and a window
    rng = np.random.default_rng(0)
    names = [f"x{i}" for i in range(4)]
    baseline = Baseline(tuple(numeric_baseline(n, rng.normal(size=20_000)) for n in names))
    window = {n: rng.normal(0.1 * i, 1, 2_000) for i, n in enumerate(names)}
    # when
    serial = compare_columns(baseline, window, rows=2_000, workers=1)
    parallel = compare_columns(baseline, window, rows=2_000, workers=4)
    # then
    assert [(r.name, r.ks_statistic, r.psi) for r in serial] == [
        (r.name, r.ks_statistic, r.psi) for r in parallel
    ]


def test_thresholds_must_be_non_negative_numbers() -> None:
    # given / when / then
    with pytest.raises(ValueError, match="threshold psi must be a number >= 0"):
        Thresholds(psi=-1)
