"""The local drift check: the monitor's ``check`` over the recent capture, and its summary.

Both the supervisor's schedule and ``ml-platform local drift-check`` call :func:`run_check`; an
exclusive lock on ``drift.lock`` keeps two checks from writing the results at once. The check
itself is the monitor's own command (``python -m workloads.monitoring check``) run as a child
process, exactly as the platform runs it in AWS; this module only reads what it wrote.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from workloads.local_platform.layout import Layout

DEFAULT_WINDOW_SECONDS = 3600
"""How far back the check reads the capture (``--drift-window``): the last hour."""
CHECK_TIMEOUT_SECONDS = 120
"""The longest one check may run before it is stopped and reported as failed."""


class DriftCheckError(RuntimeError):
    """A check that could not run or wrote no results; the message says why in one line."""


@dataclass(frozen=True)
class DriftSummary:
    """What the latest check found, read from its ``summary.json``."""

    checked_at: float
    """When the results were written (seconds since the epoch)."""
    status: str
    """The monitor's status: ``ok``, ``drift``, ``violations``, ``no data``..."""
    message: str
    """The monitor's one-line message."""
    records: int
    """Captured rows checked."""
    drift_detected: bool
    """Whether any feature drifted or a constraint was violated."""
    psi: dict[str, float]
    """PSI of each numeric feature (features without a PSI are left out)."""
    drifted: tuple[str, ...]
    """The features past their drift threshold."""

    def to_dict(self) -> dict[str, Any]:
        """As JSON-ready data."""
        return {
            "checked_at": self.checked_at,
            "status": self.status,
            "message": self.message,
            "records": self.records,
            "drift_detected": self.drift_detected,
            "psi": self.psi,
            "drifted": list(self.drifted),
        }


def read_summary(layout: Layout) -> DriftSummary | None:
    """The latest check's summary (None before the first check or when it is unreadable)."""
    path = layout.drift / "summary.json"
    try:
        checked_at = path.stat().st_mtime
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    features = [f for f in summary.get("features", []) if isinstance(f, dict)]
    psi = {
        str(f["name"]): float(f["psi"])
        for f in features
        if f.get("role", "input") == "input" and isinstance(f.get("psi"), int | float)
    }
    drifted = tuple(str(f["name"]) for f in features if f.get("drifted"))
    status = str(summary.get("status", "unknown"))
    return DriftSummary(
        checked_at=checked_at,
        status=status,
        message=str(summary.get("message", "")),
        records=int(summary.get("records") or 0),
        drift_detected=status in ("drift", "violations") or bool(drifted),
        psi=psi,
        drifted=drifted,
    )


def baseline_features(layout: Layout) -> tuple[str, ...]:
    """The input features of the baseline (empty when there is none): what requests must carry."""
    try:
        statistics = json.loads((layout.baseline / "statistics.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return ()
    return tuple(
        str(feature["name"])
        for feature in statistics.get("features", [])
        if isinstance(feature, dict) and feature.get("name") and feature["name"] != "prediction"
    )


def has_baseline(layout: Layout) -> bool:
    """Whether the state folder holds a baseline to check against."""
    return (layout.baseline / "statistics.json").is_file()


def build_baseline(layout: Layout, data: Path, exclude: Sequence[str], log: Path) -> None:
    """Profile ``data`` (without the ``exclude`` columns) into the state folder's baseline."""
    command = [
        sys.executable,
        "-m",
        "workloads.monitoring",
        "baseline",
        "--data",
        str(data),
        "--out",
        str(layout.baseline),
    ]
    if exclude:
        command += ["--exclude", ",".join(exclude)]
    _run(command, log, what=f"baseline of {data}")


def run_check(
    layout: Layout,
    model: str,
    *,
    window_seconds: float = DEFAULT_WINDOW_SECONDS,
    now: datetime | None = None,
    log: Path | None = None,
) -> DriftSummary:
    """Check the capture of the last ``window_seconds`` against the baseline; the summary.

    Raises:
        DriftCheckError: no baseline, another check still running past the timeout, or the
            monitor failing (its last line says why).

    """
    if not has_baseline(layout):
        raise DriftCheckError(
            f"no baseline in {layout.baseline}: start with the bootstrap or pass "
            "--baseline-data FILE to `ml-platform local up`"
        )
    end = now or datetime.now(UTC)
    start = end - timedelta(seconds=window_seconds)
    capture = layout.capture(model)
    capture.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "workloads.monitoring",
        "check",
        "--baseline",
        str(layout.baseline),
        "--capture",
        str(capture),
        "--endpoint",
        model,
        "--start",
        start.isoformat(timespec="seconds"),
        "--end",
        # The capture's times have whole seconds; one more keeps this second's requests in.
        (end + timedelta(seconds=1)).isoformat(timespec="seconds"),
        "--out",
        str(layout.drift),
    ]
    layout.root.mkdir(parents=True, exist_ok=True)
    with layout.drift_lock.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _run(command, log or layout.log_file("drift"), what="drift check")
    summary = read_summary(layout)
    if summary is None:
        raise DriftCheckError(f"the drift check wrote no readable {layout.drift}/summary.json")
    return summary


def _run(command: list[str], log: Path, *, what: str) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DriftCheckError(f"{what} did not finish within {CHECK_TIMEOUT_SECONDS} s") from None
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(command)}\n{completed.stdout}{completed.stderr}")
    if completed.returncode != 0:
        lines = (completed.stderr or completed.stdout).strip().splitlines()
        reason = lines[-1] if lines else f"exit status {completed.returncode}"
        raise DriftCheckError(f"{what} failed: {reason} (see {log})")
