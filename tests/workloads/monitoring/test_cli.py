"""``ml-platform-monitor``: baseline and check from the command line, errors as one line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tests.workloads.monitoring.samples import (
    run_check,
    stage_window,
    training_table,
    window_lines,
    write_capture,
)
from workloads.monitoring import contract
from workloads.monitoring.cli import EXIT_DRIFT, main


def write_training_csv(path: Path, rows: int = 2_000) -> Path:
    table = training_table(rows)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(table)
        for row in zip(*table.values(), strict=True):
            writer.writerow(["" if isinstance(v, float) and np.isnan(v) else v for v in row])
    return path


@pytest.fixture
def baseline_folder(tmp_path: Path) -> Path:
    data = write_training_csv(tmp_path / "train.csv")
    folder = tmp_path / "baseline"
    status = main(
        [
            "baseline",
            "--data",
            str(data),
            "--exclude",
            "label",
            "--prediction-column",
            "score",
            "--out",
            str(folder),
        ]
    )
    assert status == 0
    return folder


def test_baseline_writes_the_three_files(capsys, baseline_folder: Path) -> None:
    # given / when: the fixture ran the command
    # then
    assert sorted(p.name for p in baseline_folder.iterdir()) == sorted(contract.BASELINE_FILES)
    out = capsys.readouterr().out
    assert "amount (Fractional), items (Integral), channel (String)" in out


def test_check_of_a_staged_window_writes_results_and_exits_0_even_on_drift(
    baseline_folder: Path, tmp_path: Path, capsys
) -> None:
    # given a window staged as select-window leaves it, with amount shifted
    window = stage_window(tmp_path / "window", window_lines(500, shift=30.0))
    out = tmp_path / "results"
    # when
    status = main(
        [
            "check",
            "--baseline",
            str(baseline_folder),
            "--window",
            str(window),
            "--out",
            str(out),
            "--psi",
            "0.3",
        ]
    )
    # then
    assert status == 0
    summary = json.loads((out / contract.SUMMARY_FILE).read_text())
    assert summary["endpoint"] == "mlp-dev-shop" and summary["status"] == "drift"
    assert summary["thresholds"]["psi"] == 0.3
    assert summary["window"]["end"] == "2026-11-22T11:00:00+00:00"
    assert "mlp-dev-shop: drift:" in capsys.readouterr().out
    for name in (contract.VIOLATIONS_FILE, contract.METRICS_FILE, contract.REPORT_FILE):
        assert (out / name).is_file()


def test_fail_on_drift_exits_3(baseline_folder: Path, tmp_path: Path) -> None:
    # given a capture folder with drift
    write_capture(tmp_path / "capture", window_lines(300, shift=30.0))
    # when
    status = run_check(baseline_folder, tmp_path / "capture", tmp_path / "o", "--fail-on-drift")
    # then
    assert status == EXIT_DRIFT


def test_an_empty_window_succeeds_with_a_clear_message(
    baseline_folder: Path, tmp_path: Path, capsys
) -> None:
    # given an empty capture folder
    (tmp_path / "capture").mkdir()
    # when
    status = run_check(baseline_folder, tmp_path / "capture", tmp_path / "o")
    # then
    assert status == 0
    assert "e: empty: no captured requests in this window: nothing to compare" in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            [
                "check",
                "--baseline",
                "{tmp}/nowhere",
                "--capture",
                "{tmp}",
                "--endpoint",
                "e",
                "--out",
                "{tmp}/o",
            ],
            "nowhere is not a folder",
        ),
        (
            ["check", "--baseline", "{baseline}", "--window", "{tmp}", "--out", "{tmp}/o"],
            "window.json: no such file (stage it with select-window)",
        ),
        (
            ["check", "--baseline", "{baseline}", "--out", "{tmp}/o"],
            "give --window (a staged window) or --capture (a capture folder)",
        ),
        (
            [
                "check",
                "--baseline",
                "{baseline}",
                "--capture",
                "{tmp}",
                "--endpoint",
                "e",
                "--start",
                "monday",
                "--out",
                "{tmp}/o",
            ],
            "--start: 'monday' is not an ISO-8601 time",
        ),
        (["baseline", "--data", "{tmp}/train.txt", "--out", "{tmp}/b"], "no such file"),
        (
            ["baseline", "--data", "{tmp}/train.csv", "--exclude", "nope", "--out", "{tmp}/b"],
            "no column named 'nope' in the data",
        ),
    ],
)
def test_errors_are_one_line_and_exit_1(
    arguments: list[str], message: str, baseline_folder: Path, tmp_path: Path, capsys
) -> None:
    # given
    filled = [a.format(tmp=tmp_path, baseline=baseline_folder) for a in arguments]
    # when
    status = main(filled)
    # then
    assert status == 1
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
