"""Writing a check's results: the violations, the summary, the metrics and the report."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from workloads.monitoring import contract
from workloads.monitoring.check import CheckResult


def _write_json(path: Path, document: object) -> Path:
    # Write then rename, so a reader never sees half a file.
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def write_results(result: CheckResult, folder: Path, *, timestamp: datetime) -> list[Path]:
    """Write constraint_violations.json, summary.json, metrics.json and report.html to ``folder``.

    ``timestamp`` stamps the metrics (the window's end, so a re-run replaces the same points).
    The JSON files come first: a report that fails to render loses nothing else.
    """
    from workloads.monitoring.report import write_report

    folder.mkdir(parents=True, exist_ok=True)
    summary = result.summary()
    written = [
        _write_json(folder / contract.VIOLATIONS_FILE, {"violations": result.violations}),
        _write_json(folder / contract.SUMMARY_FILE, summary),
        _write_json(folder / contract.METRICS_FILE, result.metrics(timestamp)),
    ]
    written.append(write_report(summary, folder / contract.REPORT_FILE))
    return written
