"""``solve-batch``: many instances in parallel processes within one budget, and a summary."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.workloads.optimization import fake_problem
from workloads.optimization.batch import fair_share, instance_names
from workloads.optimization.entrypoint import main

LAUNCHER = Path(__file__).with_name("fake_launcher.py")
#: Longest wait for the batch's first checkpoint (a bound, not a timing claim).
WAIT_SECONDS = 60


def _environment(tmp_path: Path) -> dict[str, str]:
    environment = dict(os.environ)
    environment.update(
        PYTHONPATH=str(ROOT), ML_PLATFORM_SAGEMAKER_ROOT=str(tmp_path / "no-sagemaker")
    )
    environment.pop("MLFLOW_TRACKING_URI", None)
    return environment


def _batch(tmp_path: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(LAUNCHER),
        "solve-batch",
        *("--kind", "countdown", "--problems", str(tmp_path / "problems")),
        *("--out", str(tmp_path / "out"), *extra),
    ]


def test_each_instance_gets_a_fair_share_of_the_budget() -> None:
    # 5 instances, 2 at a time: 3 waves of 20 s in a minute; fewer instances than slots: all of it
    assert fair_share(60, 5, 2) == 20
    assert fair_share(60, 2, 4) == 60


def test_repeated_file_stems_get_unique_folders() -> None:
    assert instance_names([Path("a/x.txt"), Path("b/x.txt"), Path("c/y.txt")]) == [
        "x",
        "x-2",
        "y",
    ]


def test_a_batch_solves_every_instance_and_summarises_them(tmp_path: Path) -> None:
    # given two good instances and one bad one
    folder = tmp_path / "problems"
    folder.mkdir()
    fake_problem.write(folder / "a.json")
    fake_problem.write(folder / "b.json", start=95)
    (folder / "c.json").write_text('{"start": 3}')
    # when they are solved two at a time within 4 s
    run = subprocess.run(
        _batch(tmp_path, "--total-seconds", "4", "--parallel", "2", "--json"),
        env=_environment(tmp_path),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then the bad one fails the batch (exit 1), the good ones are solved, each has its folder
    assert run.returncode == 1, run.stderr
    assert run.stderr.endswith("1 of 3 instances without a solution\n")
    summary = json.loads(run.stdout)
    assert summary == json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (summary["share_seconds"], summary["parallel"], summary["interrupted"]) == (
        2.0,
        2,
        False,
    )
    rows = {row["name"]: row for row in summary["instances"]}
    assert [(rows[name]["status"], rows[name]["objective"]) for name in ("a", "b")] == [
        ("optimal", 90.0),
        ("optimal", 90.0),
    ]
    assert rows["c"]["exit_code"] == 2
    assert rows["c"]["error"] == (
        "ml-platform-optimize: error: c.json: floor: must be an integer, got None"
    )
    assert (tmp_path / "out" / "a" / "report.html").is_file()


def test_a_table_is_printed_without_json(tmp_path: Path) -> None:
    # given
    folder = tmp_path / "problems"
    folder.mkdir()
    fake_problem.write(folder / "a.json", start=91)
    # when
    run = subprocess.run(
        _batch(tmp_path, "--total-seconds", "2"),
        env=_environment(tmp_path),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then
    assert run.returncode == 0, run.stderr
    header, row = run.stdout.splitlines()
    assert header == "instance  status   objective  bound  gap    best at (s)  exit"
    cells = row.split()
    assert (cells[:5], cells[6:]) == (["a", "optimal", "90", "90", "0.00%"], ["0"])
    assert float(cells[5]) >= 0


def test_sigterm_stops_the_batch_after_its_instances_checkpoint(tmp_path: Path) -> None:
    # given two slow instances solving with checkpoints
    folder = tmp_path / "problems"
    folder.mkdir()
    for name in ("a", "b"):
        fake_problem.write(folder / f"{name}.json", start=1000, floor=0, step_seconds=0.05)
    process = subprocess.Popen(
        _batch(
            tmp_path,
            *("--total-seconds", "120", "--parallel", "2", "--checkpoint-seconds", "0.1"),
            *("--checkpoint-dir", str(tmp_path / "ckpt"), "--json"),
        ),
        env=_environment(tmp_path),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + WAIT_SECONDS
    while len(list((tmp_path / "ckpt").glob("*/checkpoint-*.json"))) < 2:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no checkpoints appeared"
        time.sleep(0.05)
    # when
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    # then every instance stopped with its incumbent and the batch exits 0
    assert process.returncode == 0, stderr
    summary = json.loads(stdout)
    assert summary["interrupted"] is True
    assert [(row["exit_code"], row["stop_reason"]) for row in summary["instances"]] == [
        (0, "interrupted"),
        (0, "interrupted"),
    ]


def test_a_pattern_matching_nothing_is_exit_2(
    countdown: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # when
    pattern = str(tmp_path / "*.vrp")
    status = main(["solve-batch", "--kind", "countdown", "--problems", pattern])
    # then
    captured = capsys.readouterr()
    assert (status, captured.out) == (2, "")
    assert (
        captured.err
        == f"ml-platform-optimize: error: --problems {pattern}: matches no problem file\n"
    )
