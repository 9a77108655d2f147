"""The check runs as the processing job runs it: ``python3 -m workloads.monitoring`` from the zip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from components.shared.code_archive import build_monitoring_archive
from tests.workloads.monitoring.samples import sample_baseline, stage_window, window_lines
from workloads.monitoring import contract
from workloads.monitoring.baseline import write_baseline

ROOT = Path(__file__).resolve().parents[3]


def run_from_zip(archive: Path, cwd: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    # Only the zip on PYTHONPATH, run from elsewhere: the job's container has nothing else of ours.
    env = {**os.environ, "PYTHONPATH": str(archive)}
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_check_step_runs_from_the_code_zip(tmp_path: Path) -> None:
    # given the code zip the layer uploads, a baseline and a staged window, as the job sees them
    archive = build_monitoring_archive(ROOT, tmp_path / "code").path
    write_baseline(sample_baseline(), tmp_path / "baseline")
    window = stage_window(tmp_path / "window", window_lines(400, shift=25.0))
    # when the pipeline's CheckDrift command runs
    result = run_from_zip(
        archive,
        tmp_path,
        "-m",
        "workloads.monitoring",
        contract.CHECK_COMMAND,
        "--endpoint",
        "mlp-dev-shop",
        "--baseline",
        str(tmp_path / "baseline"),
        "--window",
        str(window),
        "--out",
        str(tmp_path / "results"),
        "--psi",
        "0.2",
    )
    # then it succeeds, from the zip, and writes every result
    assert result.returncode == 0, result.stderr
    assert "mlp-dev-shop: drift:" in result.stdout
    for name in (
        contract.VIOLATIONS_FILE,
        contract.SUMMARY_FILE,
        contract.METRICS_FILE,
        contract.REPORT_FILE,
    ):
        assert (tmp_path / "results" / name).is_file()
    where = run_from_zip(
        archive, tmp_path, "-c", "import workloads.monitoring.check as m; print(m.__file__)"
    )
    assert where.stdout.strip().startswith(str(archive))
