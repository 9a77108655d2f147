"""The state file and the pid checks the CLI relies on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workloads.local_platform.state import (
    STATE_VERSION,
    StateError,
    pid_alive,
    read_pid,
    read_state,
    recorded_pids,
    stop_recorded,
    write_state,
)


def test_a_written_state_reads_back_and_leaves_no_partial_file(tmp_path: Path) -> None:
    # given
    path = tmp_path / "state.json"
    state = {"version": STATE_VERSION, "phase": "running", "processes": []}
    # when
    write_state(path, state)
    # then
    assert read_state(path) == state
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_no_state_file_reads_as_none(tmp_path: Path) -> None:
    assert read_state(tmp_path / "state.json") is None


def test_a_broken_state_file_is_one_line_naming_it(tmp_path: Path) -> None:
    # given
    path = tmp_path / "state.json"
    path.write_text("{not json")
    # when / then
    with pytest.raises(StateError) as raised:
        read_state(path)
    assert str(raised.value) == f"{path} is not valid JSON (line 1)"


def test_a_state_file_of_another_version_is_refused(tmp_path: Path) -> None:
    # given
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"version": 99}))
    # when / then
    with pytest.raises(StateError) as raised:
        read_state(path)
    assert str(raised.value) == f"{path} is not a state file of this version (remove it)"


def test_read_pid_takes_digits_only(tmp_path: Path) -> None:
    # given
    good, bad = tmp_path / "good.pid", tmp_path / "bad.pid"
    good.write_text("1234\n")
    bad.write_text("12x")
    # then
    assert read_pid(good) == 1234
    assert read_pid(bad) is None
    assert read_pid(tmp_path / "missing.pid") is None


def test_this_process_is_alive_and_a_reused_pid_is_not_ours() -> None:
    assert pid_alive(os.getpid())
    assert pid_alive(os.getpid(), marker="python")
    assert not pid_alive(os.getpid(), marker="no-such-marker-in-the-command-line")
    assert not pid_alive(None)
    assert not pid_alive(0)


def test_an_ended_process_is_not_alive_even_as_a_zombie() -> None:
    # given: a child that exits and is not reaped yet (a zombie)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stat = Path(f"/proc/{child.pid}/stat")
        if not stat.exists() or stat.read_text().rpartition(")")[2].split()[0] == "Z":
            break
        time.sleep(0.05)
    # when / then
    assert not pid_alive(child.pid)
    child.wait()
    assert not pid_alive(child.pid)


def test_recorded_pids_are_the_supervisor_and_its_children() -> None:
    state = {"supervisor_pid": 10, "processes": [{"pid": 11}, {"pid": None}, {"pid": 12}]}
    assert recorded_pids(state) == [10, 11, 12]


def test_stop_recorded_stops_the_children_a_dead_supervisor_left(tmp_path: Path) -> None:
    # given: a child in a session of its own whose command line names the state folder
    marker = str(tmp_path)
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", marker], start_new_session=True
    )
    state = {"supervisor_pid": None, "processes": [{"name": "x", "pid": child.pid}]}
    # when
    stopped = stop_recorded(state, marker, seconds=5)
    # then
    assert stopped == [child.pid]
    assert child.wait(timeout=5) == -15
