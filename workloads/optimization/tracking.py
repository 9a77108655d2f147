"""MLflow tracking of a solve: its settings as params, the metrics, the solution and report.

On when a tracking URI is given (``--tracking-uri`` or ``MLFLOW_TRACKING_URI``). It goes through
the training code's :class:`~workloads.training.tracking.ExperimentTracker`, so mlflow is imported
only then, a local SQLite store keeps its artifacts beside the database, and a container without
mlflow fails with one line saying what to install. The incumbent's history is logged as the
``objective`` metric, one step per improvement, and the final figures last.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workloads.optimization.results import SolveResult, StopReason
from workloads.training.tracking import ExperimentTracker, experiment_from


class SolveTracker:
    """One MLflow run for one solve; started before solving so a bad URI fails fast."""

    def __init__(self, tracker: ExperimentTracker) -> None:
        self.tracker = tracker

    @property
    def run_id(self) -> str:
        """The MLflow run's id."""
        return self.tracker.run_id

    @classmethod
    def start(
        cls,
        tracking_uri: str,
        experiment: str,
        *,
        run_name: str,
        params: Mapping[str, object],
        tags: Mapping[str, str] | None = None,
    ) -> SolveTracker:
        """Start a run (``TrackingUnavailable`` when mlflow or its plugin is missing)."""
        tracker = ExperimentTracker.start(
            tracking_uri, experiment_from(experiment or None), run_name=run_name, tags=tags
        )
        tracker.log_params(params)
        return cls(tracker)

    def log_result(self, result: SolveResult, files: Sequence[Path]) -> None:
        """Log the history, the final metrics, the status as tags and ``files`` as artifacts."""
        for step, point in enumerate(result.history):
            self.tracker.log_metrics({"objective": point.objective}, step=step)
        self.tracker.log_metrics(result.metrics())
        self.tracker.set_tags(
            {
                "ml_platform.status": result.status.value,
                "ml_platform.stop_reason": result.stop_reason.value,
            }
        )
        self.tracker.flush()
        for path in files:
            self.tracker.log_artifact(path)

    def finish(self, result: SolveResult | None) -> None:
        """End the run: KILLED when interrupted, FAILED without a result, else FINISHED."""
        if result is None:
            status = "FAILED"
        elif result.stop_reason is StopReason.INTERRUPTED:
            status = "KILLED"
        else:
            status = "FINISHED"
        self.tracker.finish(status)


def params_of(settings: Mapping[str, Any]) -> dict[str, str]:
    """The settings as MLflow params: None left out, the rest as strings."""
    return {key: str(value) for key, value in settings.items() if value is not None}
