"""What several benchmarks do alike: write their results, install a rival's virtualenv, find a port.

The benchmarks run as scripts (``python benchmarks/<name>.py``), so this folder is on their path
and they import this module by its bare name. Standard library only: the rivals' virtualenvs run
the benchmark scripts too.
"""

from __future__ import annotations

import argparse
import json
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any


def write_results(path: Path, results: dict[str, Any]) -> None:
    """Write a benchmark's results to ``path`` as indented JSON, creating its folder.

    Values JSON cannot hold (paths, dates) are written as their text.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")


def add_problem_arguments(parser: argparse.ArgumentParser) -> None:
    """The size of the synthetic classification problem (``training_loop_overhead.synthetic_data``).

    ``--rows``, ``--valid-rows``, ``--features`` and ``--classes``, with the training benchmarks'
    defaults: 200,000 x 32 training rows, 20,000 validation rows, 4 classes.
    """
    parser.add_argument("--rows", type=int, default=200_000, help="training rows")
    parser.add_argument("--valid-rows", type=int, default=20_000)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--classes", type=int, default=4)


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file, or ``(no log)`` when it cannot be read."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def pip_install(python: Path, venv: Path, specs: list[str] | tuple[str, ...]) -> None:
    """Install ``specs`` with the virtualenv's pip, quietly; its output goes to a log beside it.

    The command and the log's path are printed first; when pip fails, the benchmark exits with
    the log's last lines.
    """
    log = venv.parent / f"{venv.name}-install.log"
    command = [str(python), "-m", "pip", "install", "--quiet", *specs]
    print(f"  $ {shlex.join(command)}  (log: {log})", flush=True)
    with log.open("w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        sys.exit(f"pip install into {venv} failed; see {log}:\n{tail(log)}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a server the benchmark starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
