"""Metric lines on stdout, in the one format SageMaker's tuning regexes read.

Each report is one flushed line such as::

    step=3 train_loss=0.41 valid_loss=0.45 valid_auc=0.93

``name=value`` pairs come from ``objectives.format_metric`` and are read back with
``objectives.metric_regex``. Training reports once per boosting step or epoch (Hyperband judges a
job by its objective per epoch) and last of all the best model's metrics without a step: SageMaker
takes a job's final objective value from the last line that carries it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, TextIO

from workloads.training.objectives import format_metric

if TYPE_CHECKING:
    from workloads.training.tracking import ExperimentTracker


def format_report(metrics: Mapping[str, float], step: int | None = None) -> str:
    """The text of one report line (without the newline): ``step=<n>`` first when given."""
    parts = [] if step is None else [f"step={int(step)}"]
    parts += [format_metric(name, value) for name, value in metrics.items()]
    return " ".join(parts)


class MetricReporter:
    """Prints metric lines and, when tracking, logs the same metrics to the experiment tracker."""

    def __init__(
        self, stream: TextIO | None = None, tracker: ExperimentTracker | None = None
    ) -> None:
        # sys.stdout as it is now, not as it was at import (tests and tools replace it).
        self.stream: TextIO = sys.stdout if stream is None else stream
        self.tracker = tracker

    def report(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Print one `step=<n> name=value ...` line (step first when given) and log to the tracker.

        Without a step the tracker records the metrics as the run's final values.
        """
        self.stream.write(format_report(metrics, step) + "\n")
        self.stream.flush()
        if self.tracker is not None:
            self.tracker.log_metrics(metrics, step=step)
