"""``ml-platform local``, run as a subprocess, without MLflow: help, errors, a fake supervisor.

A "running" platform is faked with a state file and a sleeping process whose command line names
the supervisor's module (the CLI's check against reused pids), so ``status``, ``up``, ``down``
and ``traffic`` are exercised without starting MLflow; ``test_local_integration.py`` runs the
real thing once.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.ml_platform_cli.cli_runner import run_cli
from tests.ml_platform_cli.local_ports import free_port_base
from workloads.local_platform.layout import Layout
from workloads.local_platform.status_page import StatusServer

SUBCOMMANDS = ("up", "status", "down", "traffic", "drift-check")


@pytest.mark.parametrize("command", [(), *((name,) for name in SUBCOMMANDS)])
def test_every_help_has_examples(command: tuple[str, ...]) -> None:
    # when
    run = run_cli("local", *command, "--help")
    # then
    assert run.exit_code == 0
    # then: the examples keep their lines (click's no-rewrap marker works)
    assert "\n  Examples:\n" in run.stdout
    assert f"\n    ml-platform local {command[0] if command else 'up'}" in run.stdout


def test_status_when_nothing_runs_is_exit_1(tmp_path: Path) -> None:
    # when
    run = run_cli("local", "status", "--dir", str(tmp_path / "mlp"))
    # then
    assert run.exit_code == 1
    assert run.stderr == (
        f"ml-platform: error: no local platform runs from {tmp_path}/mlp "
        "(start it with `ml-platform local up`)\n"
    )


def test_status_json_when_nothing_runs_says_so_and_exits_1(tmp_path: Path) -> None:
    # when
    run = run_cli("local", "status", "--dir", str(tmp_path), "--json")
    # then
    assert run.exit_code == 1
    assert run.json() == {"running": False, "dir": str(tmp_path)}


def test_down_when_nothing_runs_says_so_and_exits_0(tmp_path: Path) -> None:
    # when
    run = run_cli("local", "down", "--dir", str(tmp_path))
    # then
    assert run.exit_code == 0
    assert run.stdout == f"no local platform runs from {tmp_path}; nothing to stop\n"


@pytest.mark.parametrize("command", ["traffic", "drift-check"])
def test_traffic_and_drift_check_need_a_running_platform(tmp_path: Path, command: str) -> None:
    # when
    run = run_cli("local", command, "--dir", str(tmp_path))
    # then
    assert run.exit_code == 1
    assert run.stderr == (
        f"ml-platform: error: no local platform runs from {tmp_path} "
        "(start it with `ml-platform local up`)\n"
    )


def test_up_on_a_taken_port_names_it_and_leaves_nothing(tmp_path: Path) -> None:
    # given: something listens where MLflow would go
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        base = taken - 1
        # when
        run = run_cli("local", "up", "--dir", str(tmp_path / "mlp"), "--port-base", str(base))
    # then
    assert run.exit_code == 1
    assert run.stderr == (
        f"ml-platform: error: port {taken} (MLflow) is already in use on 127.0.0.1; choose "
        f"other ports with --port-base (the platform uses {base}-{base + 2}, from --port-base "
        f"{base})\n"
    )
    assert not (tmp_path / "mlp" / "state.json").exists()
    assert not (tmp_path / "mlp" / "supervisor.pid").exists()


def test_up_with_missing_baseline_data_is_a_usage_error(tmp_path: Path) -> None:
    # when
    run = run_cli(
        "local", "up", "--dir", str(tmp_path), "--baseline-data", str(tmp_path / "no.csv")
    )
    # then
    assert run.exit_code == 2
    assert run.stderr == f"ml-platform: error: --baseline-data {tmp_path}/no.csv: no such file\n"


def test_a_bad_port_base_is_a_usage_error(tmp_path: Path) -> None:
    run = run_cli("local", "up", "--dir", str(tmp_path), "--port-base", "70000")
    assert run.exit_code == 2
    assert "--port-base" in run.stderr and run.stderr.count("\n") == 1


# A fake running platform.


@pytest.fixture
def fake_supervisor(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A sleeping process whose command line names the supervisor's module and the folder."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; time.sleep(60)",
            "workloads.local_platform.supervisor",
            str(tmp_path),
        ],
        start_new_session=True,
    )
    yield process
    process.kill()
    process.wait()


def write_state(folder: Path, pid: int, phase: str, inference_port: int = 1) -> dict[str, Any]:
    state = {
        "version": 1,
        "dir": str(folder),
        "supervisor_pid": pid,
        "phase": phase,
        "message": "every process is healthy",
        "model": "churn",
        "ports": {"status": 5300, "mlflow": 5301, "inference": inference_port},
        "processes": [
            {"name": "status", "pid": pid, "port": 5300, "url": "http://127.0.0.1:5300/",
             "health": "healthy", "restarts": 0},
            {"name": "inference", "pid": None, "port": inference_port,
             "url": f"http://127.0.0.1:{inference_port}/", "health": "healthy", "restarts": 2},
        ],
        "urls": {"status": "http://127.0.0.1:5300/",
                 "inference": f"http://127.0.0.1:{inference_port}/invocations"},
        "champion_version": 4,
        "features": ["tenure_months", "monthly_charges"],
        "drift": None,
        "next_drift_check_at": "2026-12-08T03:00:00+00:00",
    }  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "state.json").write_text(json.dumps(state))
    (folder / "supervisor.pid").write_text(f"{pid}\n")
    return state


def test_status_shows_what_runs_where(tmp_path: Path, fake_supervisor: Any) -> None:
    # given
    write_state(tmp_path, fake_supervisor.pid, "running")
    # when
    run = run_cli("local", "status", "--dir", str(tmp_path))
    as_json = run_cli("local", "status", "--dir", str(tmp_path), "--json")
    # then
    assert run.exit_code == 0
    assert "model churn: champion version 4" in run.stdout
    assert "inference" in run.stdout and "last drift check: none yet" in run.stdout
    assert as_json.exit_code == 0
    data = as_json.json()
    assert data["running"] is True
    assert [(p["name"], p["restarts"]) for p in data["processes"]] == [
        ("status", 0),
        ("inference", 2),
    ]


def test_up_while_running_and_healthy_prints_the_status(
    tmp_path: Path, fake_supervisor: Any
) -> None:
    # given
    write_state(tmp_path, fake_supervisor.pid, "running")
    # when
    run = run_cli("local", "up", "--dir", str(tmp_path))
    # then
    assert run.exit_code == 0
    assert f"local platform running (already running): {tmp_path}" in run.stdout


def test_up_while_starting_says_so_and_exits_1(tmp_path: Path, fake_supervisor: Any) -> None:
    # given
    write_state(tmp_path, fake_supervisor.pid, "bootstrapping")
    # when
    run = run_cli("local", "up", "--dir", str(tmp_path))
    # then
    assert run.exit_code == 1
    assert run.stderr == (
        f"ml-platform: error: a local platform is already bootstrapping from {tmp_path} (pid "
        f"{fake_supervisor.pid}); wait for it, or stop it with `ml-platform local down --dir "
        f"{tmp_path}`\n"
    )


def test_down_stops_the_supervisor_and_removes_its_files(
    tmp_path: Path, fake_supervisor: Any
) -> None:
    # given
    write_state(tmp_path, fake_supervisor.pid, "running")
    # when
    run = run_cli("local", "down", "--dir", str(tmp_path))
    # then
    assert run.exit_code == 0
    assert run.stdout == f"stopped the local platform in {tmp_path}\n"
    assert fake_supervisor.wait(timeout=5) == -15
    assert not (tmp_path / "state.json").exists()
    assert not (tmp_path / "supervisor.pid").exists()


def test_a_stale_state_is_not_running_and_down_cleans_it(tmp_path: Path) -> None:
    # given: the state of a supervisor that is gone
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    write_state(tmp_path, ended.pid, "running")
    # when
    status = run_cli("local", "status", "--dir", str(tmp_path))
    down = run_cli("local", "down", "--dir", str(tmp_path))
    # then
    assert status.exit_code == 1
    assert down.exit_code == 0
    assert down.stdout == f"no local platform runs from {tmp_path}; nothing to stop\n"
    assert not (tmp_path / "state.json").exists()


@pytest.fixture
def endpoint() -> Iterator[tuple[int, list[bytes]]]:
    """A stand-in inference server answering 200 to every POST."""
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], received
    server.shutdown()
    server.server_close()


def test_traffic_sends_the_state_s_features_and_counts_answers(
    tmp_path: Path, fake_supervisor: Any, endpoint: tuple[int, list[bytes]]
) -> None:
    # given
    port, received = endpoint
    write_state(tmp_path, fake_supervisor.pid, "running", inference_port=port)
    # when
    run = run_cli("local", "traffic", "--dir", str(tmp_path), "--count", "5", "--drift")
    as_json = run_cli("local", "traffic", "--dir", str(tmp_path), "--count", "3", "--json")
    # then
    assert run.exit_code == 0
    assert run.stdout == (
        f"5 of 5 requests answered by http://127.0.0.1:{port}/invocations (shifted (drift) "
        "sample, seed 1)\n"
    )
    assert len(received) == 8
    assert all(body.startswith(b"tenure_months,monthly_charges\n") for body in received)
    assert as_json.json() == {
        "sent": 3,
        "answered": 3,
        "errors": {},
        "url": f"http://127.0.0.1:{port}/invocations",
        "drift": False,
        "seed": 1,
    }


def test_traffic_to_a_server_that_is_gone_is_exit_1(tmp_path: Path, fake_supervisor: Any) -> None:
    # given: the state names a port nothing listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    write_state(tmp_path, fake_supervisor.pid, "running", inference_port=port)
    # when
    run = run_cli("local", "traffic", "--dir", str(tmp_path), "--count", "2")
    # then
    assert run.exit_code == 1
    assert run.stderr == ("ml-platform: error: 2 requests not answered (connection refused: 2)\n")


def test_up_where_another_platform_runs_names_its_folder(tmp_path: Path) -> None:
    # given: another platform's status page answers on the port base
    other = tmp_path / "other"
    page = StatusServer(0, Layout.at(other), lambda: {"dir": str(other), "processes": []})
    page.start()
    try:
        # when
        run = run_cli("local", "up", "--dir", str(tmp_path / "mine"), "--port-base", str(page.port))
    finally:
        page.stop()
    # then
    assert run.exit_code == 1
    assert run.stderr == (
        f"ml-platform: error: a local platform from {other} already runs on ports {page.port}-"
        f"{page.port + 2}; stop it with `ml-platform local down --dir {other}`, or choose other "
        "ports with --port-base\n"
    )
    assert not (tmp_path / "mine" / "state.json").exists()


def running_with(marker: str) -> list[int]:
    """Running (not zombie) processes whose command line contains ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            stat = (proc / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if marker in command and stat[0] != "Z":
            found.append(int(proc.name))
    return found


def test_up_past_its_timeout_stops_everything_it_started(tmp_path: Path) -> None:
    # given: ports nobody holds, and far too short a wait for MLflow to start
    base = free_port_base()
    folder = tmp_path / "mlp"
    # when
    run = run_cli("local", "up", "--dir", str(folder), "--port-base", str(base), "--timeout", "1")
    # then
    assert run.exit_code == 1
    last = run.stderr.splitlines()[-1]
    assert last.startswith("ml-platform: error: the local platform was not healthy within 1 s (")
    assert last.endswith(f"; see {folder}/logs; everything was stopped")
    assert running_with(str(folder)) == []
    assert not (folder / "state.json").exists()
    assert not (folder / "supervisor.pid").exists()
