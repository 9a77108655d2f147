"""The local drift check: the monitor's check over the capture, summarised for the status."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from workloads.local_platform.drift import (
    DriftCheckError,
    baseline_features,
    build_baseline,
    read_summary,
    run_check,
)
from workloads.local_platform.layout import Layout
from workloads.samples import churn

NUMERIC = ("tenure_months", "monthly_charges", "support_calls")


def write_capture(folder: Path, rows: list[dict[str, object]], when: datetime) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    header = ",".join(NUMERIC)
    lines = []
    for row in rows:
        record = {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": f"{header}\n{','.join(str(row[n]) for n in NUMERIC)}\n",
                    "encoding": "CSV",
                },
                "endpointOutput": {
                    "observedContentType": "application/json",
                    "mode": "OUTPUT",
                    "data": '{"predictions": [1]}',
                    "encoding": "JSON",
                },
            },
            "eventMetadata": {
                "eventId": "x",
                "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "eventVersion": "0",
        }
        lines.append(json.dumps(record))
    (folder / "capture.jsonl").write_text("\n".join(lines) + "\n")


def test_a_check_without_a_baseline_says_how_to_get_one(tmp_path: Path) -> None:
    layout = Layout.at(tmp_path)
    with pytest.raises(DriftCheckError) as raised:
        run_check(layout, "churn")
    assert str(raised.value) == (
        f"no baseline in {tmp_path}/baseline: start with the bootstrap or pass --baseline-data "
        "FILE to `ml-platform local up`"
    )


def test_a_shifted_capture_is_reported_as_drift(tmp_path: Path) -> None:
    # given: a baseline of the sample's numeric columns, and drifted requests captured now
    layout = Layout.at(tmp_path)
    excluded = [churn.LABEL, *churn.CATEGORICAL]
    build_baseline(layout, churn.TRAIN_FILE, excluded, tmp_path / "baseline.log")
    now = datetime.now(UTC)
    write_capture(layout.capture("churn"), churn.rows(300, 5, drift=True), now)
    # when
    summary = run_check(layout, "churn", now=now)
    # then
    assert baseline_features(layout) == NUMERIC
    assert summary.status == "drift"
    assert summary.drift_detected
    assert summary.records == 300
    assert "monthly_charges" in summary.drifted
    assert summary.psi["monthly_charges"] > 0.2
    assert (layout.drift / "report.html").is_file()
    assert read_summary(layout) == summary


def test_requests_older_than_the_window_are_not_checked(tmp_path: Path) -> None:
    # given: drifted requests captured two hours ago
    layout = Layout.at(tmp_path)
    build_baseline(layout, churn.TRAIN_FILE, [churn.LABEL, *churn.CATEGORICAL], tmp_path / "b.log")
    now = datetime.now(UTC)
    old = now.replace(microsecond=0).timestamp() - 7200
    write_capture(
        layout.capture("churn"), churn.rows(50, 5, drift=True), datetime.fromtimestamp(old, UTC)
    )
    # when
    summary = run_check(layout, "churn", window_seconds=3600, now=now)
    # then
    assert summary.records == 0
    assert not summary.drift_detected


def test_no_summary_reads_as_none(tmp_path: Path) -> None:
    assert read_summary(Layout.at(tmp_path)) is None
