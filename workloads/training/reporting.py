"""Metric lines on stdout, in the one format SageMaker's tuning regexes read.

Each report is one flushed line such as::

    step=3 train_loss=0.41 valid_loss=0.45 valid_auc=0.93

``name=value`` pairs come from ``objectives.format_metric`` and are read back with
``objectives.metric_regex``. Training reports once per boosting step or epoch (Hyperband judges a
job by its objective per epoch) and last of all the best model's metrics without a step: SageMaker
takes a job's final objective value from the last line that carries it.

In a log (SageMaker's, a pipe, a file) values are written exactly (``repr``): the tuner compares
jobs by them and a tracker or test reads them back bit for bit. On a terminal, where a person
reads them, they are rounded to :data:`TERMINAL_DIGITS` significant digits (``0.447789``, not
``0.44778909751640006``); the lines keep the same ``name=value`` shape, so the tuning regexes
still read them. Lines go through ``progress.write_line``, so they never share a terminal line
with a progress bar.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, TextIO

from workloads.training.objectives import format_metric
from workloads.training.progress import is_terminal, write_line

if TYPE_CHECKING:
    from workloads.training.tracking import ExperimentTracker


#: Significant digits of the values a report shows on a terminal.
TERMINAL_DIGITS = 6


def rounded(value: float, digits: int) -> float:
    """``value`` to ``digits`` significant digits (nan and inf as they are)."""
    number = float(value)
    return float(f"{number:.{digits}g}") if math.isfinite(number) else number


def format_report(
    metrics: Mapping[str, float], step: int | None = None, digits: int | None = None
) -> str:
    """The text of one report line (without the newline): ``step=<n>`` first when given.

    Values are exact unless ``digits`` asks for that many significant digits.
    """
    parts = [] if step is None else [f"step={int(step)}"]
    parts += [
        format_metric(name, value if digits is None else rounded(value, digits))
        for name, value in metrics.items()
    ]
    return " ".join(parts)


class MetricReporter:
    """Prints metric lines and, when tracking, logs the same metrics to the experiment tracker."""

    def __init__(
        self, stream: TextIO | None = None, tracker: ExperimentTracker | None = None
    ) -> None:
        # sys.stdout as it is now, not as it was at import (tests and tools replace it).
        self.stream: TextIO = sys.stdout if stream is None else stream
        self.tracker = tracker
        self.digits: int | None = TERMINAL_DIGITS if is_terminal(self.stream) else None
        """Significant digits shown (on a terminal), or None for exact values (in a log)."""

    def report(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Print one `step=<n> name=value ...` line (step first when given) and log to the tracker.

        Without a step the tracker records the metrics as the run's final values, always
        exact (rounding is only for the terminal).
        """
        write_line(format_report(metrics, step, self.digits), self.stream)
        if self.tracker is not None:
            self.tracker.log_metrics(metrics, step=step)
