"""The state file: what a running local platform is made of, as the supervisor last wrote it.

The supervisor rewrites ``state.json`` (atomically: write then rename) whenever something
changes and once a second; the CLI only reads it. Whether a pid still runs is judged here too:
a zombie counts as gone, and a pid whose command line no longer names the state folder is a
reused pid, not ours.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

STATE_VERSION = 1
"""The state file's format; a file of another version is treated as unreadable."""
#: The supervisor's phases, in the order they normally come.
PHASES = ("starting", "bootstrapping", "running", "failed", "stopping")


class StateError(ValueError):
    """A state file that cannot be read; the message names the file."""


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` so a reader sees the old or the new file, never half."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(path)


def read_state(path: Path) -> dict[str, Any] | None:
    """The state in ``path`` (None when there is no file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise StateError(f"cannot read {path}: {error.strerror}") from None
    try:
        state = json.loads(text)
    except json.JSONDecodeError as error:
        raise StateError(f"{path} is not valid JSON (line {error.lineno})") from None
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise StateError(f"{path} is not a state file of this version (remove it)")
    return state


def read_pid(path: Path) -> int | None:
    """The pid written in ``path`` (None when missing or not a number)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def pid_alive(pid: int | None, marker: str | None = None) -> bool:
    """Whether ``pid`` runs (a zombie does not), and its command line contains ``marker``.

    The marker guards against a reused pid; where ``/proc`` is missing it cannot be checked and
    the pid is trusted.
    """
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # another user's process: not one we started
    proc = Path("/proc") / str(pid)
    try:
        stat = (proc / "stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True  # no /proc (macOS): kill(0) is all we know
    if stat.rpartition(")")[2].split()[:1] == ["Z"]:
        return False
    if marker is None:
        return True
    try:
        command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    # Empty while the process is still exec-ing its program: too early to tell, so it counts.
    return not command.strip() or marker in command


def signal_group(pid: int, signum: signal.Signals) -> None:
    """Send ``signum`` to the process group ``pid`` leads (each child leads its own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def wait_gone(pids: list[int], seconds: float, marker: str | None = None) -> list[int]:
    """Wait up to ``seconds`` for ``pids`` to end; the ones still running."""
    deadline = time.monotonic() + seconds
    alive = [pid for pid in pids if pid_alive(pid, marker)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in alive if pid_alive(pid, marker)]
    return alive


def recorded_pids(state: dict[str, Any]) -> list[int]:
    """Every process id the state names: the supervisor's and each child's."""
    pids = [state.get("supervisor_pid")]
    pids += [process.get("pid") for process in state.get("processes", [])]
    return [pid for pid in pids if isinstance(pid, int) and pid > 0]


def stop_recorded(state: dict[str, Any], marker: str, seconds: float = 5.0) -> list[int]:
    """SIGTERM then (after ``seconds``) SIGKILL every recorded child group still ours.

    For a supervisor that died without stopping its children. Returns the pids that were found
    running.
    """
    children = [
        pid
        for pid in (process.get("pid") for process in state.get("processes", []))
        if isinstance(pid, int) and pid_alive(pid, marker)
    ]
    for pid in children:
        signal_group(pid, signal.SIGTERM)
    for pid in wait_gone(children, seconds, marker):
        signal_group(pid, signal.SIGKILL)
    wait_gone(children, 2.0, marker)
    return children
