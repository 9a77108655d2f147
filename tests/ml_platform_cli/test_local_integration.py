"""The local platform for real, once: up, drifted traffic, a drift check, status, down.

Starts MLflow, trains the bootstrap model, serves it, and stops everything; bounded by the
commands' own timeouts (``up`` waits at most 120 s). Afterwards no process the state recorded,
nor any process in their process groups (MLflow's web workers), is left.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ml_platform_cli.cli_runner import run_cli
from tests.ml_platform_cli.local_ports import free_port_base
from workloads.local_platform.state import pid_alive, read_state, stop_recorded
from workloads.samples import churn


def group_members(groups: set[int]) -> set[int]:
    """Running (not zombie) processes whose process group is one of ``groups``."""
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) in groups:
            found.add(int(proc.name))
    return found


@pytest.fixture
def platform_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "mlp"
    yield folder
    # Whatever happened, leave nothing running.
    state = read_state(folder / "state.json") if (folder / "state.json").exists() else None
    run_cli("local", "down", "--dir", str(folder), cwd=tmp_path, timeout=90)
    if state:
        stop_recorded(state, str(folder.resolve()))


def test_up_traffic_drift_check_status_down(platform_dir: Path, tmp_path: Path) -> None:
    # given
    base = free_port_base()
    folder = str(platform_dir)
    # when: the platform starts (bootstrapping a champion from the sample)
    up = run_cli(
        "local",
        "up",
        "--dir",
        folder,
        "--port-base",
        str(base),
        # Past the default 120 s only on a loaded machine (the suite runs in parallel).
        "--timeout",
        "170",
        cwd=tmp_path,
        timeout=200,
    )
    # then
    assert up.exit_code == 0, up.stderr
    assert f"status: http://127.0.0.1:{base}/" in up.stdout
    state = json.loads((platform_dir / "state.json").read_text())
    assert [(p["name"], p["health"]) for p in state["processes"]] == [
        ("status", "healthy"),
        ("mlflow", "healthy"),
        ("inference", "healthy"),
    ]
    assert state["champion_version"] == 1
    assert state["features"] == list(churn.FEATURES)  # the text columns too
    pids = {state["supervisor_pid"], *state["pids_seen"]}
    groups = {p["pid"] for p in state["processes"] if p["pid"]} | pids
    assert (platform_dir / "prometheus.yml").is_file()

    # when: shifted traffic, then a drift check now
    traffic = run_cli(
        "local", "traffic", "--dir", folder, "--drift", "--count", "150", cwd=tmp_path
    )
    check = run_cli("local", "drift-check", "--dir", folder, "--json", cwd=tmp_path)
    # then
    assert traffic.exit_code == 0, traffic.stderr
    assert traffic.stdout.startswith("150 of 150 requests answered")
    assert check.exit_code == 0, check.stderr
    result = check.json()
    assert result["drift_detected"] is True
    assert result["records"] == 150
    assert "monthly_charges" in result["drifted"]
    assert (platform_dir / "drift" / "report.html").is_file()

    # when: the status and the status page's metrics are read (the supervisor notices the
    # check's results within a tick)
    status = run_cli("local", "status", "--dir", folder, "--json", cwd=tmp_path)
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{base}/metrics", timeout=10).read()
    # then
    assert status.exit_code == 0
    assert status.json()["drift"]["drift_detected"] is True
    assert b"ml_platform_local_drift_detected 1" in metrics
    assert b'ml_platform_local_feature_psi{feature="monthly_charges"}' in metrics

    # when: it is stopped
    down = run_cli("local", "down", "--dir", folder, cwd=tmp_path, timeout=90)
    # then: nothing it started is left
    assert down.exit_code == 0, down.stderr
    assert down.stdout == f"stopped the local platform in {platform_dir}\n"
    assert [pid for pid in pids if pid_alive(pid)] == []
    assert group_members(groups) == set()
    assert not (platform_dir / "state.json").exists()
    assert not (platform_dir / "supervisor.pid").exists()
    assert run_cli("local", "status", "--dir", folder, cwd=tmp_path).exit_code == 1
