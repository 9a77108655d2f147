"""Training output as a person sees it in a terminal (a pseudo-terminal) and as a log holds it.

A progress bar and the metric lines share the screen: a metric line must never land on the
bar's line, values are rounded for the eye but still read by the tuning regexes, and an early
stop ends the bar with a line that says so.
"""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.workloads.training.samples import make_data, report_lines, write_csv
from workloads.model_layout import ModelMetadata
from workloads.training import contract
from workloads.training.objectives import metric_regex
from workloads.training.progress import Progress, write_line
from workloads.training.reporting import MetricReporter

BAR = re.compile(r"\b(?:rounds|epochs|trees|iterations|trials): ")
EARLY_STOP = re.compile(
    r"rounds: stopped early at (\d+)/500 after \d+:\d\d: no improvement in valid_loss for 5 rounds"
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def screen(raw: str) -> list[str]:
    """The lines a terminal shows for ``raw``: a carriage return goes back over the line."""
    lines: list[str] = []
    row: list[str] = []
    column = 0
    for char in raw:
        if char == "\r":
            column = 0
        elif char == "\n":
            lines.append("".join(row).rstrip())
            row, column = [], 0
        else:
            if column < len(row):
                row[column] = char
            else:
                row.append(char)
            column += 1
    if row:
        lines.append("".join(row).rstrip())
    return lines


def read_all(master: int) -> str:
    """Everything written to a pseudo-terminal whose other end is closed."""
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other end is closed and all is read
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


def assert_no_line_mixes_a_bar_and_a_metric(lines: list[str]) -> None:
    mixed = [line for line in lines if BAR.search(line) and "step=" in line]
    assert mixed == []
    for line in lines:
        if "step=" in line:
            assert line.startswith("step="), line
            assert report_lines(line), line


def test_on_a_terminal_metric_lines_get_their_own_line_and_the_bar_is_redrawn_below() -> None:
    # given a bar and a reporter on the same pseudo-terminal (as stderr and stdout share one)
    master, child = pty.openpty()
    with open(child, "w", closefd=True) as terminal:
        clock = Clock()
        with Progress(500, "rounds", terminal, redraw=0.1, clock=clock) as progress:
            reporter = MetricReporter(terminal)
            # when rounds advance with the bar drawn, each reporting its metrics
            for step in range(1, 4):
                clock.now += 1.0
                progress.advance(1, valid_loss=0.5 + step / 3)
                reporter.report({"train_loss": 0.44778909751640006, "valid_auc": 1 / 3}, step)
            write_line("warning: a message of the trainer's", terminal)
            progress.stop_early("no improvement in valid_auc for 2 rounds")
    lines = screen(read_all(master))
    # then no line holds both, metric lines are rounded yet read by the tuning regexes, the
    # bar is drawn again after each line, and the last line says why it stopped
    assert_no_line_mixes_a_bar_and_a_metric(lines)
    assert lines[0] == "step=1 train_loss=0.447789 valid_auc=0.333333"
    assert [re.findall(metric_regex("valid_auc"), line) for line in lines[:3]] == [["0.333333"]] * 3
    assert lines[3] == "warning: a message of the trainer's"
    assert (
        lines[4]
        == "rounds: stopped early at 3/500 after 0:03: no improvement in valid_auc for 2 rounds"
    )
    assert len(lines) == 5


def test_in_a_log_an_early_stop_gets_its_own_final_line() -> None:
    """Given a log stream, when a bar stops early, then the final line says so."""
    stream, clock = io.StringIO(), Clock()
    with Progress(10, "epochs", stream, interval=1.0, clock=clock) as progress:
        clock.now += 1.0
        progress.advance()
        progress.stop_early("no improvement in valid_loss for 1 epochs")
    assert stream.getvalue().splitlines() == [
        "epochs: 1/10  10% 0:01 <0:09",
        "epochs: stopped early at 1/10 after 0:01: no improvement in valid_loss for 1 epochs",
    ]


Job = tuple[Callable[..., list[str]], dict[str, str]]

XGBOOST_EARLY = ("num_round=500", "early_stopping_rounds=5", "learning_rate=0.5", "nthread=1")


@pytest.fixture
def job(tmp_path: Path) -> Job:
    """A command line for ``algorithm`` and hyperparameters on a noisy problem, and its env."""
    data = make_data(rows=3000, noise=2.0)
    write_csv(tmp_path / "train.csv", data, "train")
    write_csv(tmp_path / "valid.csv", data, "valid")

    def command(algorithm: str, *hyperparameters: str) -> list[str]:
        return [
            sys.executable, "-m", "workloads.training", "--algorithm", algorithm,
            "--task", "classification", "--target", "y",
            "--train", str(tmp_path / "train.csv"), "--validation", str(tmp_path / "valid.csv"),
            "--model-dir", str(tmp_path / "model"),
            *(option for value in hyperparameters for option in ("--hyperparameter", value)),
        ]  # fmt: skip

    environment = {**os.environ, contract.ROOT_ENV: str(tmp_path / "no-job")}
    environment.pop(contract.MLFLOW_TRACKING_URI_ENV, None)
    return command, environment


def test_a_run_in_a_terminal_reads_cleanly_and_says_it_stopped_early(
    job: Job,
) -> None:
    # given an XGBoost run whose stdout and stderr are one pseudo-terminal
    command, environment = job[0]("xgboost", *XGBOOST_EARLY), job[1]
    master, child = pty.openpty()
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=child, stderr=child, env=environment
    )
    os.close(child)
    # when it runs to its early stop
    lines = screen(read_all(master))
    assert process.wait(timeout=300) == 0
    os.close(master)
    # then no line mixes bar and metrics, every step line parses, and the bar's last line
    # names the early stop at the last reported step
    assert_no_line_mixes_a_bar_and_a_metric(lines)
    steps = [line for line in lines if line.startswith("step=")]
    assert steps and all(re.search(metric_regex("valid_loss"), line) for line in steps)
    stops = [match for line in lines if (match := EARLY_STOP.fullmatch(line))]
    assert len(stops) == 1
    assert int(stops[0][1]) == report_lines(steps[-1])[0]["step"] < 500
    # and values are shown to 6 significant digits at most
    values = [float(value) for line in steps for value in re.findall(r"=(\S+)", line)]
    assert values == [float(f"{value:.6g}") for value in values]


def test_a_run_in_a_log_keeps_exact_values_and_the_early_stop_line(
    job: Job, tmp_path: Path
) -> None:
    # given the same run writing to pipes (SageMaker's log, a CI job)
    command, environment = job[0]("xgboost", *XGBOOST_EARLY), job[1]
    # when it runs
    run = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
    # then nothing is redrawn, the final metric line holds the saved metrics exactly (what the
    # tuner reads), and the bar's last line names the early stop
    assert run.returncode == 0, run.stderr
    assert "\r" not in run.stdout + run.stderr
    final = run.stdout.splitlines()[-1]
    assert report_lines(final)[0] == ModelMetadata.read(tmp_path / "model").metrics
    assert any(EARLY_STOP.fullmatch(line) for line in run.stderr.splitlines())


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            ["sklearn", "max_iter=500", "patience=2"],
            r"iterations: stopped early at \d+/500 after \d+:\d\d: "
            r"no improvement in valid_loss over the last 20 iterations",
        ),
        (
            ["pytorch", "epochs=200", "patience=2", "num_threads=1"],
            r"epochs: stopped early at \d+/200 after \d+:\d\d: "
            r"no improvement in valid_loss for 2 epochs \(best: epoch \d+\)",
        ),
    ],
)
def test_every_trainer_says_when_early_stopping_ended_it(
    job: Job, options: list[str], expected: str
) -> None:
    """Given scikit-learn or PyTorch with a short patience, when run, then the bar says so."""
    command, environment = job[0](*options, "learning_rate=0.5"), job[1]
    run = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
    assert run.returncode == 0, run.stderr
    assert [line for line in run.stderr.splitlines() if re.fullmatch(expected, line)]
