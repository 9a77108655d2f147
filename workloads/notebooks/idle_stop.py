"""Stop this notebook instance once Jupyter has been idle too long (cron runs it every 5 minutes).

It runs on the notebook instance itself, under the system ``python3`` (3.9 on Amazon Linux 2023)
with the standard library only, and needs no internet: it asks the local Jupyter server for its
sessions and, when no kernel is busy and the newest kernel activity (with no kernel at all: the
instance's start) is older than the limit, stops the instance with the AWS CLI, which reaches
SageMaker through the VPC's ``sagemaker.api`` endpoint. The instance role may stop this instance
and no other.

Python 3.9 compatible on purpose (``timezone.utc``, no ``match``): annotations stay unevaluated.
"""

from __future__ import annotations

import argparse
import datetime
import json
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

#: The local Jupyter server of a notebook instance (HTTPS with a self-signed certificate).
JUPYTER_SESSIONS_URL = "https://localhost:8443/api/sessions"

#: UTC; ``datetime.UTC`` only exists from Python 3.11 on.
UTC = datetime.timezone.utc  # noqa: UP017

#: Written by the start-up script at every start: the idle clock of an instance with no kernel.
STARTED_MARKER = Path("/var/lib/ml-platform/started")


def parse_time(text: str) -> datetime.datetime:
    """Parse Jupyter's ISO 8601 times (``2026-01-02T03:04:05.678901Z``) as aware datetimes."""
    value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def idle_since(
    sessions: list[dict[str, Any]], started: datetime.datetime
) -> datetime.datetime | None:
    """When Jupyter last did anything; None while a kernel is busy."""
    kernels = [session.get("kernel") or {} for session in sessions]
    if any(kernel.get("execution_state") == "busy" for kernel in kernels):
        return None
    activity = [parse_time(k["last_activity"]) for k in kernels if k.get("last_activity")]
    return max([started, *activity])


def should_stop(
    sessions: list[dict[str, Any]],
    started: datetime.datetime,
    now: datetime.datetime,
    idle_minutes: int,
) -> bool:
    """Whether the instance has been idle for at least ``idle_minutes``."""
    since = idle_since(sessions, started)
    return since is not None and now - since >= datetime.timedelta(minutes=idle_minutes)


def read_sessions(url: str = JUPYTER_SESSIONS_URL) -> list[dict[str, Any]]:
    """The Jupyter server's sessions (each with its kernel's state and last activity)."""
    context = ssl.create_default_context()
    # The server is this machine's own, on localhost, with a self-signed certificate.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(url, context=context, timeout=30) as response:
        return json.load(response)


def started_at(marker: Path = STARTED_MARKER) -> datetime.datetime:
    """When the instance last started (the marker's modification time)."""
    return datetime.datetime.fromtimestamp(marker.stat().st_mtime, tz=UTC)


def stop_instance(name: str, region: str) -> None:
    """Stop the notebook instance ``name`` (its volume and files stay)."""
    subprocess.run(
        [
            "aws", "sagemaker", "stop-notebook-instance",
            "--notebook-instance-name", name, "--region", region,
        ],
        check=True,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Check once; stop the instance when it has been idle long enough."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notebook-name", required=True, help="this notebook instance's name")
    parser.add_argument("--region", required=True, help="the instance's region")
    parser.add_argument("--idle-minutes", type=int, required=True, help="idle time before stopping")
    args = parser.parse_args(argv)
    now = datetime.datetime.now(UTC)
    try:
        sessions = read_sessions()
    except OSError as error:  # Jupyter is (re)starting: never stop on a failed look
        print(f"{now.isoformat()} Jupyter not reachable ({error}); not stopping", file=sys.stderr)
        return 0
    if not should_stop(sessions, started_at(), now, args.idle_minutes):
        return 0
    print(f"{now.isoformat()} idle for {args.idle_minutes}+ minutes: stopping {args.notebook_name}")
    stop_instance(args.notebook_name, args.region)
    return 0


if __name__ == "__main__":
    sys.exit(main())
