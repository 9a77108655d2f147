"""The supervisor without MLflow: restarts with backoff, giving up, stopping, a taken port."""

from __future__ import annotations

import json
import logging
import socket
import sys
import time
from pathlib import Path

import pytest

from workloads.local_platform.layout import Layout
from workloads.local_platform.specs import ProcessSpec
from workloads.local_platform.state import pid_alive
from workloads.local_platform.supervisor import Backoff, Child, PlatformConfig, Supervisor


def spec(code: str, name: str = "worker") -> ProcessSpec:
    return ProcessSpec(
        name=name, argv=(sys.executable, "-c", code), port=1, health_path="/", stop_seconds=2
    )


def tick_until(child: Child, health: str, probe_answer: bool = False, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while child.health != health:
        assert time.monotonic() < deadline, f"still {child.health}, wanted {health}"
        child.tick(time.monotonic(), lambda url: probe_answer)
        time.sleep(0.02)


def test_the_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(first_seconds=1, cap_seconds=5, max_restarts=5)
    assert [backoff.delay(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]


def test_a_crashing_child_is_restarted_with_backoff_then_given_up(tmp_path: Path) -> None:
    # given: a child that always exits with status 3, two restarts allowed
    backoff = Backoff(first_seconds=0.05, cap_seconds=0.1, max_restarts=2)
    child = Child(spec("raise SystemExit(3)"), tmp_path / "worker.log", backoff)
    child.start()
    # when
    tick_until(child, "failed")
    # then
    assert child.restarts == 2
    assert child.last_exit == 3
    assert len(child.pids) == 3
    assert child.describe()["health"] == "failed"
    assert child.describe()["pid"] is None
    assert (tmp_path / "worker.log").read_text().count("starting:") == 3


def test_a_restart_waits_for_its_backoff(tmp_path: Path) -> None:
    # given: a child that exits at once, with a long first backoff
    backoff = Backoff(first_seconds=60, cap_seconds=60, max_restarts=2)
    child = Child(spec("raise SystemExit(1)"), tmp_path / "worker.log", backoff)
    child.start()
    # when: it exited and a restart is scheduled
    tick_until(child, "restarting")
    child.tick(time.monotonic(), lambda url: False)
    # then: not restarted before the backoff is over
    assert child.restarts == 0
    assert child.restart_at is not None and child.restart_at > time.monotonic() + 50


def test_a_healthy_child_stops_on_sigterm(tmp_path: Path) -> None:
    # given: a long-running child whose health check answers
    child = Child(spec("import time; time.sleep(60)"), tmp_path / "worker.log")
    child.start()
    pid = child.pid
    tick_until(child, "healthy", probe_answer=True)
    # when
    child.stop()
    # then
    assert child.health == "stopped"
    assert not pid_alive(pid)


def test_a_child_that_ignores_sigterm_is_killed_after_its_bound(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ignoring', 'SIGTERM', flush=True); time.sleep(60)"
    )
    log = tmp_path / "stubborn.log"
    child = Child(spec(code, "stubborn"), log)
    child.start()
    pid = child.pid
    deadline = time.monotonic() + 10
    while "\nignoring SIGTERM\n" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    # when
    with caplog.at_level(logging.WARNING):
        child.stop()
    # then
    assert not pid_alive(pid)
    assert caplog.messages == ["stubborn did not stop within 2 s: killed"]


def test_a_taken_port_fails_the_start_with_nothing_left_running(tmp_path: Path) -> None:
    # given: the status page's port is taken
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        base = listener.getsockname()[1]
        config = PlatformConfig(layout=Layout.at(tmp_path / "state"), port_base=base)
        # when
        status = Supervisor(config).run()
    # then
    assert status == 1
    state = json.loads((tmp_path / "state" / "state.json").read_text())
    assert state["phase"] == "failed"
    assert state["message"] == (
        f"port {base} (status page) is already in use on 127.0.0.1; choose other ports with "
        f"--port-base (the platform uses {base}-{base + 2}, from --port-base {base})"
    )
    assert [p["name"] for p in state["processes"]] == ["status"]
    assert not (tmp_path / "state" / "supervisor.pid").exists()
