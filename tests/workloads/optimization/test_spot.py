"""SIGTERM mid-run: a final checkpoint and exit 0; a restart resumes and is never worse."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import ROOT
from tests.workloads.optimization import fake_problem
from workloads.optimization.spot import SolveStop, run_in_thread

LAUNCHER = Path(__file__).with_name("fake_launcher.py")
#: Longest wait for the first checkpoint of the slow problem (a bound, not a timing claim).
WAIT_SECONDS = 60


def _environment(tmp_path: Path) -> dict[str, str]:
    environment = dict(os.environ)
    environment.update(
        PYTHONPATH=str(ROOT), ML_PLATFORM_SAGEMAKER_ROOT=str(tmp_path / "no-sagemaker")
    )
    environment.pop("MLFLOW_TRACKING_URI", None)
    return environment


def _solve_command(problem: Path, tmp_path: Path, out: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(LAUNCHER),
        "solve",
        *("--kind", "countdown", "--problem", str(problem), "--out", str(tmp_path / out)),
        *("--checkpoint-dir", str(tmp_path / "ckpt"), "--checkpoint-seconds", "0.1"),
        *("--workers", "1", *extra),
    ]


def _wait_for_checkpoint(folder: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not list(folder.glob("checkpoint-*.json")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)


def test_sigterm_checkpoints_and_exits_0_and_a_restart_is_never_worse(tmp_path: Path) -> None:
    # given a slow problem being solved with a 60 s budget
    problem = fake_problem.write(tmp_path / "slow.json", start=1000, floor=0, step_seconds=0.05)
    environment = _environment(tmp_path)
    process = subprocess.Popen(
        _solve_command(problem, tmp_path, "one", "--total-seconds", "60"),
        env=environment,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_checkpoint(tmp_path / "ckpt", process)
    # when the spot notice comes
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)
    # then the run stops cleanly with its incumbent saved and written
    assert process.returncode == 0, stderr
    assert "a rerun resumes from it" in stderr
    first = json.loads((tmp_path / "one" / "solution.json").read_text())
    assert first["stop_reason"] == "interrupted" and first["objective"] < 1000
    assert f"objective={first['objective']:.0f}\n" in stdout
    # when the job restarts with a little time left
    rerun = subprocess.run(
        _solve_command(
            problem, tmp_path, "two", "--total-seconds", str(first["elapsed_seconds"] + 0.5)
        ),
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # then it resumed from the checkpoint and is no worse
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming from checkpoint checkpoint-" in rerun.stderr
    second = json.loads((tmp_path / "two" / "solution.json").read_text())
    assert second["objective"] <= first["objective"]
    assert second["history"][: len(first["history"])] == first["history"]
    assert second["elapsed_seconds"] > first["elapsed_seconds"]


def test_a_solver_that_ignores_the_stop_is_left_after_the_grace() -> None:
    # given work that does not return until released, and a stop already requested
    stop = SolveStop()
    stop.request()
    release = threading.Event()
    # when
    value, error = run_in_thread(lambda: release.wait(60), stop=stop, grace_seconds=0.1)
    release.set()
    # then the caller gets control back to save what it has
    assert (value, error) == (None, None)


def test_an_error_in_the_solver_reaches_the_caller() -> None:
    # given
    def broken() -> None:
        raise RuntimeError("solver crashed")

    # when
    value, error = run_in_thread(broken, stop=SolveStop())
    # then
    assert value is None and isinstance(error, RuntimeError)


def test_the_process_stop_must_be_installed_from_the_main_thread() -> None:
    # given / when / then
    failures: list[BaseException] = []

    def install() -> None:
        try:
            SolveStop.for_process()
        except RuntimeError as error:
            failures.append(error)

    thread = threading.Thread(target=install)
    thread.start()
    thread.join()
    assert [str(error) for error in failures] == [
        "SolveStop.for_process() must run in the main thread"
    ]
