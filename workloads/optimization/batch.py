"""Batch mode: many instances solved in parallel processes within one time budget.

Each instance runs as its own ``solve`` process (:data:`SOLVE_COMMAND`), so instances share no
solver state and a crash costs one instance. With ``N`` instances, ``P`` at a time and a budget
of ``T`` seconds, the instances run in ``ceil(N / P)`` waves and each gets the fair share
``T / ceil(N / P)`` (never more than what is left of the budget when it starts). The budget
counts solving time; each process adds its start-up (about a second, importing OR-Tools).

Every instance writes ``solution.json``, ``report.html`` and ``solve.log`` (its stdout and
stderr) into ``<out>/<instance>/``; with ``--checkpoint-dir`` each checkpoints into
``<checkpoint dir>/<instance>/``, so a restarted batch resumes every instance. The summary goes
to ``<out>/summary.json`` and to stdout (a table, or JSON with ``--json``).

SIGTERM stops the batch: no new instance starts, every running one gets SIGTERM (and
checkpoints), and the batch exits 0 once they have (a restart resumes them). Exit status
otherwise: 0 when every instance has a solution, 1 when one has not (or failed), 2 for bad input.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workloads.atomic_files import write_atomically
from workloads.optimization.contract import SOLUTION_FILE, positive_seconds, say
from workloads.optimization.errors import ProblemError
from workloads.optimization.limits import TimeLimits
from workloads.optimization.spot import POLL_SECONDS, SolveStop

SOLVE_COMMAND: tuple[str, ...] = (sys.executable, "-m", "workloads.optimization", "solve")
"""How an instance's process starts (its options follow)."""
SUMMARY_FILE = "summary.json"
"""The batch's summary in the output directory."""
LOG_FILE = "solve.log"
"""Each instance's stdout and stderr, in its folder."""
STOP_WAIT_SECONDS = 90.0
"""After SIGTERM, how long the running instances get to checkpoint and exit (< the 120 s notice)."""
OVERRUN_SECONDS = 30.0
"""An instance still running this long after its share is stopped (SIGTERM)."""


@dataclass
class InstanceResult:
    """One instance's line in the summary."""

    name: str
    """The instance's folder name (the file's stem, made unique)."""
    problem: str
    """The problem file."""
    state: str
    """``done`` (the process exited), ``not_started`` (the batch was stopped first)."""
    exit_code: int | None = None
    """The solve process's exit status."""
    share_seconds: float | None = None
    """The time limit it was given."""
    status: str | None = None
    """The solve's status (optimal, feasible, infeasible, no_solution), from solution.json."""
    stop_reason: str | None = None
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    seconds_to_best: float | None = None
    error: str | None = None
    """The last line the process printed when it failed."""


def find_problems(pattern: str) -> list[Path]:
    """The problem files: every visible file of a directory, or a glob's matches, sorted."""
    path = Path(pattern)
    if path.is_dir():
        found = [
            entry for entry in path.iterdir() if entry.is_file() and not entry.name.startswith(".")
        ]
    else:
        found = [Path(match) for match in glob.glob(pattern) if Path(match).is_file()]
    if not found:
        raise ProblemError(f"--problems {pattern}: matches no problem file")
    return sorted(found)


def instance_names(paths: list[Path]) -> list[str]:
    """A unique folder name per problem: its stem, ``-2``, ``-3`` ... on repeats."""
    names: list[str] = []
    for path in paths:
        name, count = path.stem or path.name, 2
        while name in names:
            name, count = f"{path.stem}-{count}", count + 1
        names.append(name)
    return names


def fair_share(total_seconds: float, instances: int, parallel: int) -> float:
    """Each instance's time: the budget over the number of waves."""
    return total_seconds / math.ceil(instances / max(1, parallel))


def _command(
    arguments: argparse.Namespace, problem: Path, out: Path, seconds: float, name: str
) -> list[str]:
    command = [
        *SOLVE_COMMAND,
        *("--kind", arguments.kind, "--problem", str(problem), "--out", str(out)),
        *("--total-seconds", repr(seconds), "--workers", str(arguments.workers or 1)),
        *("--min-improvement", repr(arguments.min_improvement)),
        *("--checkpoint-seconds", repr(arguments.checkpoint_seconds)),
    ]
    if arguments.iteration_seconds is not None:
        command += ["--iteration-seconds", repr(min(arguments.iteration_seconds, seconds))]
    if arguments.no_improvement_seconds is not None:
        command += ["--no-improvement-seconds", repr(arguments.no_improvement_seconds)]
    if arguments.checkpoint_dir is not None:
        command += ["--checkpoint-dir", str(arguments.checkpoint_dir / name)]
    return command


@dataclass
class _Running:
    result: InstanceResult
    process: subprocess.Popen[bytes]
    deadline: float
    log: Any


def _finish(running: _Running, out: Path) -> None:
    running.log.close()
    result = running.result
    result.state = "done"
    result.exit_code = running.process.returncode
    solution = out / result.name / SOLUTION_FILE
    try:
        document = json.loads(solution.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        document = {}
    for key in ("status", "stop_reason", "objective", "bound", "gap", "seconds_to_best"):
        setattr(result, key, document.get(key))
    if result.exit_code not in (0, None):
        lines = (out / result.name / LOG_FILE).read_text(errors="replace").strip().splitlines()
        result.error = lines[-1] if lines else f"exit status {result.exit_code}"


def solve_all(
    arguments: argparse.Namespace, limits: TimeLimits, stop: SolveStop, problems: list[Path]
) -> tuple[list[InstanceResult], float]:
    """Solve every instance of ``problems``; their results in order and the fair share used."""
    names = instance_names(problems)
    share = fair_share(limits.total_seconds, len(problems), arguments.parallel)
    out: Path = arguments.out
    waiting = [
        InstanceResult(name=name, problem=str(path), state="not_started")
        for name, path in zip(names, problems, strict=True)
    ]
    results = list(waiting)
    paths = dict(zip(names, problems, strict=True))
    running: list[_Running] = []
    start = time.monotonic()
    stopping_since: float | None = None
    while waiting or running:
        now = time.monotonic()
        if stop.requested and stopping_since is None:
            stopping_since = now
            waiting.clear()
            for item in running:
                item.process.send_signal(signal.SIGTERM)
        while waiting and len(running) < arguments.parallel:
            left = limits.total_seconds - (now - start)
            seconds = max(0.1, min(share, left))
            result = waiting.pop(0)
            result.share_seconds = seconds
            folder = out / result.name
            folder.mkdir(parents=True, exist_ok=True)
            log = (folder / LOG_FILE).open("wb")
            process = subprocess.Popen(
                _command(arguments, paths[result.name], folder, seconds, result.name),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            running.append(_Running(result, process, now + seconds + OVERRUN_SECONDS, log))
        time.sleep(POLL_SECONDS)
        for item in list(running):
            if item.process.poll() is not None:
                _finish(item, out)
                running.remove(item)
            elif stopping_since is not None and now - stopping_since > STOP_WAIT_SECONDS:
                item.process.kill()
            elif stopping_since is None and now > item.deadline:
                item.process.send_signal(signal.SIGTERM)
                item.deadline = now + OVERRUN_SECONDS
    return results, share


def run_batch(arguments: argparse.Namespace, limits: TimeLimits, stop: SolveStop) -> int:
    """``solve-batch``: solve, write ``summary.json``, print the summary; the exit status."""
    from workloads.optimization import problems as kinds

    found = find_problems(arguments.problems)
    kinds.problem_module(arguments.kind)  # an unknown kind fails before any process starts
    positive_seconds("--checkpoint-seconds", arguments.checkpoint_seconds)
    results, share = solve_all(arguments, limits, stop, found)
    summary = {
        "kind": arguments.kind,
        "total_seconds": limits.total_seconds,
        "parallel": arguments.parallel,
        "share_seconds": share,
        "interrupted": stop.requested,
        "instances": [asdict(result) for result in results],
    }
    text = json.dumps(summary, indent=2) + "\n"
    write_atomically(arguments.out / SUMMARY_FILE, lambda path: path.write_text(text))
    if arguments.json:
        sys.stdout.write(text)
    else:
        sys.stdout.write(table(results))
    sys.stdout.flush()
    say(f"summary in {arguments.out / SUMMARY_FILE}")
    if stop.requested:
        say("stopped on request (SIGTERM): a rerun with the same --checkpoint-dir resumes")
        return 0
    solved = sum(1 for result in results if result.exit_code == 0)
    if solved < len(results):
        say(f"{len(results) - solved} of {len(results)} instances without a solution")
        return 1
    return 0


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() else f"{value:.4g}"
    return str(value)


def table(results: list[InstanceResult]) -> str:
    """The summary as a plain aligned text table (one line per instance)."""
    header = ("instance", "status", "objective", "bound", "gap", "best at (s)", "exit")
    rows = [
        (
            result.name,
            result.status or result.state,
            _cell(result.objective),
            _cell(result.bound),
            "-" if result.gap is None else f"{100 * result.gap:.2f}%",
            _cell(result.seconds_to_best),
            _cell(result.exit_code),
        )
        for result in results
    ]
    widths = [max(len(row[index]) for row in [header, *rows]) for index in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines) + "\n"
