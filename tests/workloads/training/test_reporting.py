"""Metric lines: one flushed line per report, parseable by the tuning regexes, mirrored to the tracker."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping

from workloads.training.objectives import metric_regex
from workloads.training.reporting import MetricReporter


class RecordingTracker:
    def __init__(self) -> None:
        self.logged: list[tuple[dict[str, float], int | None]] = []

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self.logged.append((dict(metrics), step))


class FlushCountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def test_a_step_report_is_one_line_step_first_and_flushed() -> None:
    # given a reporter on a stream
    stream = FlushCountingStream()
    reporter = MetricReporter(stream)
    # when an epoch is reported
    reporter.report({"train_loss": 0.41, "valid_loss": 0.45, "valid_auc": 0.93}, step=3)
    # then it is one flushed line, step first
    assert stream.getvalue() == "step=3 train_loss=0.41 valid_loss=0.45 valid_auc=0.93\n"
    assert stream.flushes == 1


def test_the_tuning_regexes_read_every_value_back_exactly() -> None:
    # given per-step reports and a final one, as a SageMaker log holds them
    stream = io.StringIO()
    reporter = MetricReporter(stream)
    reporter.report({"valid_loss": 0.1 + 0.2, "valid_r2": -1e-7}, step=1)
    reporter.report({"valid_loss": math.nan, "valid_r2": 0.5}, step=2)
    reporter.report({"valid_loss": 0.25, "valid_r2": 0.5})
    log = stream.getvalue()
    # when SageMaker's metric definitions read the log
    losses = re.findall(metric_regex("valid_loss"), log, flags=re.MULTILINE)
    r2 = re.findall(metric_regex("valid_r2"), log, flags=re.MULTILINE)
    # then every value is read back exactly, and the last one is the best model's
    assert [float(value) for value in losses[::2]] == [0.1 + 0.2, 0.25]
    assert losses[1] == "nan"
    assert [float(value) for value in r2] == [-1e-7, 0.5, 0.5]
    assert log.splitlines()[-1] == "valid_loss=0.25 valid_r2=0.5"


def test_reports_go_to_the_tracker_with_their_step() -> None:
    """Given a tracker, when steps and a final report are made, then the tracker gets each."""
    tracker = RecordingTracker()
    reporter = MetricReporter(io.StringIO(), tracker)  # type: ignore[arg-type]
    reporter.report({"valid_loss": 0.5}, step=1)
    reporter.report({"valid_loss": 0.4})
    assert tracker.logged == [({"valid_loss": 0.5}, 1), ({"valid_loss": 0.4}, None)]
