"""``ml-platform optimize solve|solve-batch``: every argument passes through, exit codes too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ml_platform_cli.main import main
from tests.ml_platform_cli.cli_runner import ROOT, run_cli
from tests.workloads.optimization import fake_problem
from workloads.optimization import entrypoint, problems
from workloads.optimization.spot import SolveStop


def test_optimize_help_has_examples() -> None:
    # when
    run = run_cli("optimize", "--help")
    # then
    assert run.exit_code == 0
    assert (
        "Examples:\n    ml-platform optimize solve --kind jobshop --problem ft06.txt" in run.stdout
    )
    assert "solve-batch  Solve many problems in parallel within one budget." in run.stdout


@pytest.mark.parametrize("command", ["solve", "solve-batch"])
def test_the_subcommand_help_is_the_entry_points_own(command: str) -> None:
    # when
    run = run_cli("optimize", command, "--help")
    # then
    assert run.exit_code == 0
    assert run.stdout.startswith(f"usage: ml-platform optimize {command} [-h] --kind KIND")
    assert (
        "\nexamples:\n  ml-platform optimize solve --kind jobshop --problem ft06.txt" in run.stdout
    )


def test_solve_with_an_unknown_kind_is_one_line_and_exit_2(tmp_path: Path) -> None:
    # when
    run = run_cli("optimize", "solve", "--kind", "knapsack", "--problem", "p.json", cwd=tmp_path)
    # then
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr == (
        "ml-platform optimize: error: problem kind 'knapsack': must be one of routing, jobshop\n"
    )


def test_solve_batch_without_problems_is_one_line_and_exit_2(tmp_path: Path) -> None:
    # when
    run = run_cli(
        "optimize", "solve-batch", "--kind", "jobshop", "--problems", "none/*.txt", cwd=tmp_path
    )
    # then
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr == (
        "ml-platform optimize: error: --problems none/*.txt: matches no problem file\n"
    )


def test_a_usage_error_is_argparses_with_exit_2() -> None:
    # when
    run = run_cli("optimize", "solve", "--kind", "jobshop")
    # then
    assert run.exit_code == 2
    assert run.stderr.endswith(
        "ml-platform optimize solve: error: the following arguments are required: --problem\n"
    )


def test_solve_through_the_one_command_writes_the_solution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given the fake kind, and the process's signal handling left alone (in-process test)
    monkeypatch.setattr(problems, "problem_module", problems.problem_module)  # undone after
    fake_problem.install()
    monkeypatch.setattr(SolveStop, "for_process", classmethod(lambda cls: cls()))
    monkeypatch.setattr(entrypoint, "ignore_sigterm", lambda: None)
    monkeypatch.setenv("ML_PLATFORM_SAGEMAKER_ROOT", str(tmp_path / "no-sagemaker"))
    problem = fake_problem.write(tmp_path / "a.json")
    # when
    status = main(
        [
            "optimize",
            "solve",
            *("--kind", "countdown", "--problem", str(problem)),
            *("--out", str(tmp_path / "out"), "--total-seconds", "2", "--workers", "1"),
        ]
    )
    # then
    assert status == 0
    assert capsys.readouterr().out.startswith("objective=90\n")
    assert json.loads((tmp_path / "out" / "solution.json").read_text())["status"] == "optimal"


def test_the_ml_platform_optimize_alias_runs_the_same_entry_point() -> None:
    # when the console script's launcher runs with --help
    code = "import sys; sys.argv = ['ml-platform-optimize', '--help']\n"
    code += "from workloads.console import optimize\nsys.exit(optimize())\n"
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    # then
    assert run.returncode == 0
    assert run.stdout.startswith("usage: ml-platform-optimize [-h] {solve,solve-batch}")
