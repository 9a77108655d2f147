"""What the supervisor runs: one :class:`ProcessSpec` per child, and the check that ports are free.

Each child is a plain local process started in a session of its own, so stopping it signals its
whole process group (``mlflow server`` runs its web workers as children of its own).
"""

from __future__ import annotations

import errno
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from workloads.local_platform.layout import CHAMPION_ALIAS, HOST, PORT_ROLES, Layout, url

MODEL_POLL_SECONDS = 5
"""How often the inference server reads the champion alias again (the server's default is 30)."""
DRAIN_SECONDS = 5.0
"""The inference server's drain bound after SIGTERM: the local platform stops quickly."""


@dataclass(frozen=True)
class ProcessSpec:
    """One supervised child: how to start it and how to tell it is healthy."""

    name: str
    """The process's name in the status, the logs and the metrics (``mlflow``, ``inference``)."""
    argv: tuple[str, ...]
    """The command line (the first item is the program)."""
    port: int
    """The port it listens on (checked free before it starts)."""
    health_path: str
    """The path that answers 200 once it is ready (``/health``, ``/ping``)."""
    stop_seconds: float = 10.0
    """How long it may take to stop after SIGTERM before it is killed."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """Variables added to the supervisor's environment."""

    @property
    def url(self) -> str:
        """Its base URL."""
        return url(self.port)

    @property
    def health_url(self) -> str:
        """The URL polled for health."""
        return url(self.port, self.health_path)


def mlflow_spec(layout: Layout, port: int) -> ProcessSpec:
    """``mlflow server`` on ``port``: SQLite store and local artifacts in the state folder."""
    return ProcessSpec(
        name="mlflow",
        argv=(
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{layout.mlflow_database}",
            "--artifacts-destination",
            str(layout.mlflow_artifacts),
            "--host",
            HOST,
            "--port",
            str(port),
            # One web worker: the default four take ~15 s to start on a small machine.
            "--workers",
            "1",
        ),
        port=port,
        health_path="/health",
        # MLflow 3's server job runner (prompt optimization, trace rollups) starts half a dozen
        # huey consumers of ~235 MB each; nothing the local platform does uses them.
        environment={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        # Nothing to drain (SQLite commits each write); its workers may linger past SIGTERM.
        stop_seconds=5.0,
    )


def inference_spec(layout: Layout, model: str, port: int, tracking_uri: str) -> ProcessSpec:
    """The inference server following ``models:/<model>@champion``, capturing every request."""
    return ProcessSpec(
        name="inference",
        argv=(
            sys.executable,
            "-m",
            "workloads.inference.server",
            "--model-uri",
            f"models:/{model}@{CHAMPION_ALIAS}",
            "--tracking-uri",
            tracking_uri,
            "--capture-dir",
            str(layout.capture(model)),
            "--host",
            HOST,
            "--port",
            str(port),
            "--model-poll-seconds",
            str(MODEL_POLL_SECONDS),
            "--drain-seconds",
            str(DRAIN_SECONDS),
        ),
        port=port,
        health_path="/ping",
        stop_seconds=DRAIN_SECONDS + 5.0,
    )


class PortTaken(OSError):
    """A port the platform needs is in use; the message names it and ``--port-base``."""


def check_ports_free(ports: Mapping[str, int], port_base: int) -> None:
    """Raise :class:`PortTaken` for the first of ``ports`` (name -> port) that cannot be bound."""
    for name, port in ports.items():
        if not port_available(port):
            role = PORT_ROLES.get(name, name)
            span = f"{min(ports.values())}-{max(ports.values())}"
            raise PortTaken(
                f"port {port} ({role}) is already in use on {HOST}; choose other ports with "
                f"--port-base (the platform uses {span}, from --port-base {port_base})"
            )


def port_available(port: int, host: str = HOST) -> bool:
    """Whether ``host:port`` can be bound now (a listener or a bound socket makes it taken)."""
    if not 0 < port < 65536:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Without SO_REUSEADDR a port in TIME_WAIT reads as taken, which the servers (all of
        # which set it) would still bind.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def argv_text(argv: Sequence[str]) -> str:
    """A command line as one readable string (for logs)."""
    return " ".join(argv)
