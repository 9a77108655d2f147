"""``solve``: load, resume, solve, write, print the metrics; exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.workloads.optimization import fake_problem
from workloads.optimization.checkpoints import CheckpointFolder, fingerprint
from workloads.optimization.entrypoint import main, merge
from workloads.optimization.results import Improvement, SolveResult, SolveStatus, StopReason


@pytest.fixture(autouse=True)
def _not_in_a_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No hyperparameters.json under this root: a local run whatever the machine has in /opt/ml.
    monkeypatch.setenv("ML_PLATFORM_SAGEMAKER_ROOT", str(tmp_path / "no-sagemaker"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def _solve(problem: Path, out: Path, *extra: str) -> int:
    args = ["solve", "--kind", "countdown", "--problem", str(problem), "--out", str(out)]
    return main([*args, "--workers", "1", "--total-seconds", "2", *extra])


def test_a_solve_writes_the_solution_and_report_and_prints_the_metrics(
    countdown: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given
    problem = fake_problem.write(tmp_path / "a.json")
    # when
    status = _solve(problem, tmp_path / "out")
    # then
    captured = capsys.readouterr()
    assert status == 0
    names = [line.split("=")[0] for line in captured.out.splitlines()]
    assert names == [
        "objective",
        "bound",
        "gap",
        "elapsed_seconds",
        "seconds_to_first",
        "seconds_to_best",
        "improvements",
    ]
    assert captured.out.startswith("objective=90\nbound=90\ngap=0\n")
    assert captured.err.endswith("optimal solution, objective 90, gap 0.00 % (solved)\n")
    document = json.loads((tmp_path / "out" / "solution.json").read_text())
    assert (document["status"], document["solution"]) == ("optimal", {"value": 90})
    assert document["summary"] == {"name": "a", "start": 100, "floor": 90}
    assert document["check"] == {"feasible": True, "violations": []}
    assert (tmp_path / "out" / "report.html").is_file()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--kind", "knapsack", "--problem", "x.json"],
            "problem kind 'knapsack': must be one of routing, jobshop",
        ),
        (
            ["--kind", "countdown", "--problem", "missing.json"],
            "missing.json: no such problem file",
        ),
        (
            ["--kind", "countdown", "--problem", "{bad}", "--total-seconds", "-1"],
            "--total-seconds: must be a positive number of seconds, got -1.0",
        ),
        (
            ["--kind", "countdown", "--problem", "{bad}", "--iteration-seconds", "9"],
            "--iteration-seconds (9.0) is more than --total-seconds (2.0)",
        ),
        (
            ["--kind", "countdown", "--problem", "{bad}"],
            "bad.json: floor: must be an integer, got None",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    countdown: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    # given a problem file missing its floor
    bad = tmp_path / "bad.json"
    bad.write_text('{"start": 3}')
    arguments = [argument.replace("{bad}", str(bad)) for argument in arguments]
    # when
    status = main(["solve", "--total-seconds", "2", *arguments])
    # then
    captured = capsys.readouterr()
    assert (status, captured.out) == (2, "")
    assert captured.err == f"ml-platform-optimize: error: {message}\n"


def test_an_infeasible_problem_exits_1_saying_so(
    countdown: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given
    problem = fake_problem.write(tmp_path / "a.json", infeasible=True)
    # when
    status = _solve(problem, tmp_path / "out")
    # then
    assert status == 1
    assert capsys.readouterr().err.endswith("infeasible: countdown a has no solution (proven)\n")
    assert json.loads((tmp_path / "out" / "solution.json").read_text())["check"] is None


def test_no_solution_within_the_limit_exits_1(
    countdown: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a problem whose first solution comes after the limit
    problem = fake_problem.write(tmp_path / "a.json", first_after=5)
    # when
    status = _solve(problem, tmp_path / "out", "--total-seconds", "0.3")
    # then
    captured = capsys.readouterr()
    assert status == 1
    assert [line.split("=")[0] for line in captured.out.splitlines()] == [
        "bound",
        "elapsed_seconds",
        "improvements",
    ]
    assert captured.err.endswith("no solution found (total_time_limit)\n")


def test_a_resumed_run_starts_from_the_checkpoint_and_is_never_worse(
    countdown: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given an interrupted run's checkpoint at 93 after 1.5 s, and a solver that ignores hints
    problem_path = fake_problem.write(tmp_path / "a.json", ignore_hint=True, step_seconds=0.05)
    problem = fake_problem.load(problem_path)
    folder = CheckpointFolder(tmp_path / "ckpt", "countdown", fingerprint(problem))
    prior = SolveResult(
        "countdown",
        "a",
        SolveStatus.FEASIBLE,
        StopReason.INTERRUPTED,
        objective=93.0,
        bound=90.0,
        elapsed_seconds=1.5,
        history=[Improvement(0.2, 100.0), Improvement(1.4, 93.0)],
        solution={"value": 93},
    )
    saved = folder.save(prior, 1.5)
    # when the run resumes with 0.3 s left (too little to count down past 93 from 100)
    status = _solve(
        problem_path,
        tmp_path / "out",
        "--checkpoint-dir",
        str(tmp_path / "ckpt"),
        "--total-seconds",
        "1.8",
    )
    # then it keeps the checkpoint's incumbent and its history, and continues its clock
    captured = capsys.readouterr()
    assert status == 0
    assert f"resuming from checkpoint {saved.name}: objective 93 after 1.5 s" in captured.err
    document = json.loads((tmp_path / "out" / "solution.json").read_text())
    assert document["objective"] == 93.0 and document["solution"] == {"value": 93}
    assert document["history"] == [[0.2, 100.0], [1.4, 93.0]]
    assert document["elapsed_seconds"] >= 1.8
    # and its own final checkpoint holds the same incumbent
    found = folder.newest(lambda note: None)
    assert found is not None and found.result.objective == 93.0


def test_a_corrupt_checkpoint_is_skipped_with_one_note(
    countdown: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a checkpoint damaged after its save
    problem_path = fake_problem.write(tmp_path / "a.json")
    folder = CheckpointFolder(
        tmp_path / "ckpt", "countdown", fingerprint(fake_problem.load(problem_path))
    )
    bad = folder.save(
        SolveResult("countdown", "a", SolveStatus.NO_SOLUTION, StopReason.INTERRUPTED), 1.0
    )
    bad.write_bytes(bad.read_bytes()[:-10])
    # when
    status = _solve(problem_path, tmp_path / "out", "--checkpoint-dir", str(tmp_path / "ckpt"))
    # then the run starts afresh and solves
    captured = capsys.readouterr()
    assert status == 0
    assert f"skipping checkpoint {bad.name}: its bytes do not match its sha256\n" in captured.err
    assert "resuming" not in captured.err


def test_a_proven_optimal_checkpoint_is_not_solved_again(
    countdown: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a finished run
    problem = fake_problem.write(tmp_path / "a.json")
    assert _solve(problem, tmp_path / "one", "--checkpoint-dir", str(tmp_path / "ckpt")) == 0
    first = json.loads((tmp_path / "one" / "solution.json").read_text())
    capsys.readouterr()
    # when it runs again
    assert _solve(problem, tmp_path / "two", "--checkpoint-dir", str(tmp_path / "ckpt")) == 0
    # then the result is the same, and it says why
    second = json.loads((tmp_path / "two" / "solution.json").read_text())
    assert second["history"] == first["history"] and second["status"] == "optimal"
    assert "proven optimal: nothing left to solve" in capsys.readouterr().err


def test_merge_keeps_a_better_prior_incumbent_with_the_new_bound() -> None:
    # given a prior at 93 and a new run that only reached 95 but proved the bound 93
    prior = SolveResult(
        "countdown",
        "a",
        SolveStatus.FEASIBLE,
        StopReason.INTERRUPTED,
        93.0,
        80.0,
        1.0,
        [Improvement(1.0, 93.0)],
        {"value": 93},
    )
    new = SolveResult(
        "countdown",
        "a",
        SolveStatus.FEASIBLE,
        StopReason.TOTAL_TIME_LIMIT,
        95.0,
        93.0,
        3.0,
        [Improvement(2.0, 95.0)],
        {"value": 95},
    )
    # when
    merged = merge(prior, new)
    # then
    assert (merged.objective, merged.bound, merged.status) == (93.0, 93.0, SolveStatus.OPTIMAL)
    assert (merged.stop_reason, merged.elapsed_seconds) == (StopReason.TOTAL_TIME_LIMIT, 3.0)
    assert merged.history == [Improvement(1.0, 93.0)]


class _FakeTracker:
    """Records what the solve logs (MLflow itself is exercised by the training tests)."""

    calls: ClassVar[list[tuple[str, Any]]] = []

    def __init__(self) -> None:
        self.run_id = "run-1"

    @classmethod
    def start(cls, uri: str, experiment: str, **kwargs: Any) -> _FakeTracker:
        cls.calls.append(("start", (uri, experiment, kwargs["run_name"], kwargs["tags"])))
        return cls()

    def log_params(self, params: dict[str, str]) -> None:
        self.calls.append(("params", params))

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.calls.append(("metrics", (dict(metrics), step)))

    def set_tags(self, tags: dict[str, str]) -> None:
        self.calls.append(("tags", tags))

    def flush(self) -> None:
        pass

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        self.calls.append(("artifact", path.name))

    def finish(self, status: str = "FINISHED") -> None:
        self.calls.append(("finish", status))


def test_with_a_tracking_uri_params_metrics_and_files_are_logged(
    countdown: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a tracker standing in for MLflow
    from workloads.optimization import tracking

    monkeypatch.setattr(tracking, "ExperimentTracker", _FakeTracker)
    _FakeTracker.calls = []
    problem = fake_problem.write(tmp_path / "a.json", start=92)
    # when
    status = _solve(
        problem, tmp_path / "out", "--tracking-uri", "sqlite:///x.db", "--experiment", "opt"
    )
    # then
    assert status == 0
    calls = _FakeTracker.calls
    assert calls[0] == (
        "start",
        ("sqlite:///x.db", "opt", "countdown-a", {"ml_platform.problem_kind": "countdown"}),
    )
    assert (
        calls[1][0] == "params"
        and calls[1][1]["kind"] == "countdown"
        and calls[1][1]["workers"] == "1"
    )
    assert [call[1] for call in calls if call[0] == "metrics"][:3] == [
        ({"objective": 92.0}, 0),
        ({"objective": 91.0}, 1),
        ({"objective": 90.0}, 2),
    ]
    assert [call[1] for call in calls if call[0] == "artifact"] == ["solution.json", "report.html"]
    assert calls[-1] == ("finish", "FINISHED")
