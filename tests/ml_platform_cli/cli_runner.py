"""Running ``ml-platform`` as a subprocess, the way a user does, for the CLI's tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CliRun:
    """One finished run: exit code, stdout and stderr as text."""

    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The stdout parsed as JSON (the test fails with the output shown if it is not)."""
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError as error:
            raise AssertionError(f"not JSON: {self.stdout!r} (stderr {self.stderr!r})") from error


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    input_text: str | None = None,
) -> CliRun:
    """``python -m ml_platform_cli ARGS`` in ``cwd`` (default: the project root).

    ``env`` replaces the environment (default: this process's, with NO_COLOR so output is plain).
    """
    environment = dict(os.environ if env is None else env)
    environment.setdefault("NO_COLOR", "1")
    environment.setdefault("PYTHONPATH", str(ROOT))
    completed = subprocess.run(
        [sys.executable, "-m", "ml_platform_cli", *args],
        cwd=cwd or ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input_text,
        check=False,
    )
    return CliRun(completed.returncode, completed.stdout, completed.stderr)
