"""The local platform's supervisor: starts the children, keeps them up, checks drift on a schedule.

    python -m workloads.local_platform.supervisor --dir .ml-platform [--port-base 5300]
        [--model churn] [--drift-every 300] [--drift-window 3600] [--no-bootstrap]
        [--baseline-data FILE]

(``ml-platform local up`` starts it detached, in a session of its own.) In order: the ports are
checked free, the status page starts, then MLflow; when the model has no champion the bootstrap
trains one (:mod:`~workloads.local_platform.bootstrap`); then the inference server. A child that
exits on its own is restarted after a backoff that doubles up to :attr:`Backoff.cap_seconds`;
after :attr:`Backoff.max_restarts` failures in a row it is given up (its health says so). The
state file is rewritten every tick. SIGTERM or SIGINT: the inference server is stopped first (it
drains its requests), then MLflow, each SIGKILLed after its bound; the state and pid files are
removed and the supervisor exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from workloads.local_platform import bootstrap, drift
from workloads.local_platform.layout import (
    DEFAULT_MODEL,
    DEFAULT_PORT_BASE,
    Layout,
    ports_of,
    url,
)
from workloads.local_platform.specs import (
    PortTaken,
    ProcessSpec,
    argv_text,
    check_ports_free,
    inference_spec,
    mlflow_spec,
)
from workloads.local_platform.state import STATE_VERSION, signal_group, wait_gone, write_state
from workloads.local_platform.status_page import StatusServer

log = logging.getLogger("workloads.local_platform.supervisor")

DEFAULT_DRIFT_EVERY = 300.0
"""Seconds between scheduled drift checks (``--drift-every``)."""
STARTUP_TIMEOUT_SECONDS = 90.0
"""The longest a child may take to answer its health check after it starts."""
TICK_SECONDS = 0.5
"""How often children are polled and the state file rewritten."""
CHAMPION_POLL_SECONDS = 10.0
"""How often the champion's version is read again for the status."""
GRAFANA_DASHBOARD = (
    Path(__file__).resolve().parents[1] / "inference" / "grafana" / "inference-server.json"
)
"""The inference server's Grafana dashboard, copied into the state folder when it exists."""


@dataclass(frozen=True)
class Backoff:
    """When a child that exited is started again, and when it is given up."""

    first_seconds: float = 1.0
    """The wait before the first restart; each further failure in a row doubles it."""
    cap_seconds: float = 30.0
    """The longest wait between restarts."""
    max_restarts: int = 5
    """Failures in a row after which the child is given up."""
    stable_seconds: float = 60.0
    """Healthy this long, a child's failures-in-a-row count starts again from zero."""

    def delay(self, failures: int) -> float:
        """The wait before restarting after ``failures`` failures in a row (1 or more)."""
        return min(self.cap_seconds, self.first_seconds * 2 ** max(0, failures - 1))


@dataclass
class Child:
    """One supervised process: its spec, the running process, its health and restarts."""

    spec: ProcessSpec
    log_file: Path
    backoff: Backoff = field(default_factory=Backoff)
    process: subprocess.Popen[bytes] | None = None
    health: str = "stopped"
    """``starting``, ``healthy``, ``unhealthy``, ``restarting``, ``failed`` or ``stopped``."""
    restarts: int = 0
    """Restarts since the platform started (shown in the status)."""
    failures_in_a_row: int = 0
    restart_at: float | None = None
    healthy_since: float | None = None
    last_exit: int | None = None
    pids: list[int] = field(default_factory=list)
    """Every pid this child has had."""

    @property
    def pid(self) -> int | None:
        """The running process's pid (None when not running)."""
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        """Start the process in a session of its own, its output appended to its log."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        handle: IO[bytes]
        with self.log_file.open("ab") as handle:
            handle.write(f"--- {_now_iso()} starting: {argv_text(self.spec.argv)}\n".encode())
            handle.flush()
            self.process = subprocess.Popen(
                self.spec.argv,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **self.spec.environment},
            )
        self.pids.append(self.process.pid)
        self.health = "starting"
        self.restart_at = None
        self.healthy_since = None

    def tick(self, now: float, probe: Callable[[str], bool]) -> None:
        """Notice an exit (schedule a restart or give up), restart when due, probe health."""
        if self.process is not None:
            code = self.process.poll()
            if code is None:
                healthy = probe(self.spec.health_url)
                if healthy:
                    if self.healthy_since is None:
                        self.healthy_since = now
                    elif now - self.healthy_since >= self.backoff.stable_seconds:
                        self.failures_in_a_row = 0
                    self.health = "healthy"
                elif self.health != "starting":
                    self.health = "unhealthy"
                    self.healthy_since = None
                return
            self.process, self.last_exit = None, code
            self.failures_in_a_row += 1
            if self.failures_in_a_row > self.backoff.max_restarts:
                self.health = "failed"
                log.error(
                    "%s exited (status %s) %d times in a row: given up (see %s)",
                    self.spec.name,
                    code,
                    self.failures_in_a_row,
                    self.log_file,
                )
                return
            delay = self.backoff.delay(self.failures_in_a_row)
            self.health, self.restart_at = "restarting", now + delay
            log.warning("%s exited (status %s): restarting in %.1f s", self.spec.name, code, delay)
            return
        if self.health == "restarting" and self.restart_at is not None and now >= self.restart_at:
            self.restarts += 1
            self.start()

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after the spec's bound; then it is stopped."""
        process, self.process = self.process, None
        self.health, self.restart_at = "stopped", None
        if process is None or process.poll() is not None:
            return
        signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=self.spec.stop_seconds)
        except subprocess.TimeoutExpired:
            log.warning(
                "%s did not stop within %.0f s: killed", self.spec.name, self.spec.stop_seconds
            )
            signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        # Its own children (MLflow's web workers) may outlive it by a moment.
        signal_group(process.pid, signal.SIGKILL)

    def describe(self) -> dict[str, Any]:
        """As the state file lists it."""
        return {
            "name": self.spec.name,
            "pid": self.pid,
            "port": self.spec.port,
            "url": self.spec.url,
            "health": self.health,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "log": str(self.log_file),
        }


def probe_http(address: str, timeout: float = 1.0) -> bool:
    """Whether GET ``address`` answers 200."""
    try:
        with urllib.request.urlopen(address, timeout=timeout) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError, ValueError):
        return False


@dataclass(frozen=True)
class PlatformConfig:
    """What ``ml-platform local up`` asked for."""

    layout: Layout
    port_base: int = DEFAULT_PORT_BASE
    model: str = DEFAULT_MODEL
    drift_every: float = DEFAULT_DRIFT_EVERY
    """Seconds between scheduled drift checks."""
    drift_window: float = drift.DEFAULT_WINDOW_SECONDS
    """Seconds of capture each check reads."""
    bootstrap: bool = True
    """Train and promote a model on the sample when the model has no champion."""
    baseline_data: Path | None = None
    """A table to profile as the drift baseline (instead of the bootstrap's sample)."""
    startup_timeout: float = STARTUP_TIMEOUT_SECONDS
    backoff: Backoff = field(default_factory=Backoff)


class StartupFailed(RuntimeError):
    """The platform could not start; the message says why in one line."""


class Supervisor:
    """Runs one local platform until it is told to stop."""

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config
        self.layout = config.layout
        self.ports = ports_of(config.port_base)
        self.tracking_url = url(self.ports["mlflow"])
        self.children: list[Child] = []
        self.stopping = threading.Event()
        self.phase = "starting"
        self.message = "checking ports"
        self.champion: int | None = None
        self.drift_error: str | None = None
        self.next_drift_at: float | None = None
        self.started_at = time.time()
        self.status_server: StatusServer | None = None
        self._lock = threading.Lock()
        self._drift_thread: threading.Thread | None = None

    # The state, as the status page and the CLI read it.

    def state(self) -> dict[str, Any]:
        """What runs where now (the state file's content)."""
        with self._lock:
            # Read from the results each time: a manual check (`local drift-check`) writes them
            # too, and the page must not lag behind the command that just said "drift".
            found = drift.read_summary(self.layout)
            summary = found.to_dict() if found else None
            if summary is not None:
                summary["checked_at_iso"] = _iso(summary["checked_at"])
            return {
                "version": STATE_VERSION,
                "dir": str(self.layout.root),
                "supervisor_pid": os.getpid(),
                "phase": self.phase,
                "message": self.message,
                "started_at": _iso(self.started_at),
                "updated_at": _now_iso(),
                "model": self.config.model,
                "port_base": self.config.port_base,
                "ports": self.ports,
                "processes": [
                    {
                        "name": "status",
                        "pid": os.getpid(),
                        "port": self.ports["status"],
                        "url": url(self.ports["status"]),
                        "health": self._status_health(),
                        "restarts": 0,
                        "last_exit": None,
                        "log": None,
                    },
                    *(child.describe() for child in self.children),
                ],
                "pids_seen": [os.getpid(), *(p for c in self.children for p in c.pids)],
                "urls": {
                    "status": url(self.ports["status"]),
                    "mlflow": self.tracking_url,
                    "inference": url(self.ports["inference"], "/invocations"),
                    "inference_metrics": url(self.ports["inference"], "/metrics"),
                    "drift_report": url(self.ports["status"], "/drift/report.html"),
                    "metrics": url(self.ports["status"], "/metrics"),
                },
                "champion_version": self.champion,
                "features": list(drift.baseline_features(self.layout)),
                "drift": summary,
                "drift_error": self.drift_error,
                "drift_every_seconds": self.config.drift_every,
                "drift_window_seconds": self.config.drift_window,
                "next_drift_check_at": (
                    _iso(self.next_drift_at) if self.next_drift_at is not None else None
                ),
            }

    def _status_health(self) -> str:
        return "healthy" if self.status_server is not None else "stopped"

    def _set(self, phase: str, message: str) -> None:
        with self._lock:
            self.phase, self.message = phase, message
        log.info("%s: %s", phase, message)
        self._write_state()

    def _write_state(self) -> None:
        write_state(self.layout.state_file, self.state())

    # Running.

    def run(self, on_ready: Callable[[dict[str, Any]], None] | None = None) -> int:
        """Start everything, supervise until SIGTERM/SIGINT, stop everything; the exit status."""
        layout = self.layout
        layout.root.mkdir(parents=True, exist_ok=True)
        layout.pid_file.write_text(f"{os.getpid()}\n", encoding="ascii")
        status = 0
        try:
            self._start()
            if not self.stopping.is_set():
                self._set("running", "every process is healthy")
                if on_ready is not None:
                    on_ready(self.state())
                self._supervise()
        except (StartupFailed, PortTaken, bootstrap.BootstrapError, drift.DriftCheckError) as e:
            self._set("failed", str(e))
            status = 1
        except Exception as error:  # anything else still stops the children, and says why
            log.exception("the supervisor failed")
            self._set("failed", f"the supervisor failed: {error} (see logs/supervisor.log)")
            status = 1
        finally:
            with self._lock:
                if self.phase != "failed":
                    self.phase, self.message = "stopping", "stopping"
            self._stop_all()
            if status == 0:
                layout.state_file.unlink(missing_ok=True)
            else:
                self._write_state()  # the failure stays readable for `up`, which removes it
            layout.pid_file.unlink(missing_ok=True)
        return status

    def _start(self) -> None:
        config, layout = self.config, self.layout
        check_ports_free(self.ports, config.port_base)
        self.status_server = StatusServer(self.ports["status"], layout, self.state)
        self.status_server.start()
        self._write_extras()
        self._set("starting", "starting MLflow")
        mlflow = self._child(mlflow_spec(layout, self.ports["mlflow"]))
        self._wait_healthy(mlflow)
        if self.stopping.is_set():
            return
        self.champion = bootstrap.champion_version(self.tracking_url, config.model)
        if self.champion is None:
            if not config.bootstrap:
                raise StartupFailed(
                    f"model '{config.model}' has no champion in {self.tracking_url}: register "
                    "and promote a version (ml-platform-lifecycle), or start without "
                    "--no-bootstrap to train one on the sample"
                )
            self._set("bootstrapping", f"training '{config.model}' on the churn sample")
            self.champion = bootstrap.bootstrap(
                layout, config.model, self.tracking_url, baseline=config.baseline_data is None
            )
        if self.stopping.is_set():  # told to stop while the bootstrap ran
            return
        if config.baseline_data is not None:
            self._set("bootstrapping", f"profiling {config.baseline_data} as the drift baseline")
            data = config.baseline_data
            drift.build_baseline(
                layout, data, bootstrap.baseline_exclusions(data), layout.log_file("bootstrap")
            )
        self._set("starting", f"starting the inference server for {config.model}@champion")
        server = self._child(
            inference_spec(layout, config.model, self.ports["inference"], self.tracking_url)
        )
        self._wait_healthy(server)
        self.next_drift_at = time.time() + config.drift_every

    def _child(self, spec: ProcessSpec) -> Child:
        child = Child(spec, self.layout.log_file(spec.name), self.config.backoff)
        self.children.append(child)
        child.start()
        self._write_state()
        return child

    def _wait_healthy(self, child: Child) -> None:
        deadline = time.monotonic() + self.config.startup_timeout
        while not self.stopping.is_set():
            child.tick(time.monotonic(), probe_http)
            if child.health == "healthy":
                return
            if child.health == "failed":
                raise StartupFailed(
                    f"{child.spec.name} exited at start (status {child.last_exit}) "
                    f"{child.failures_in_a_row} times; see {child.log_file}"
                )
            if time.monotonic() > deadline:
                raise StartupFailed(
                    f"{child.spec.name} was not healthy within {self.config.startup_timeout:.0f} "
                    f"s; see {child.log_file}"
                )
            self._write_state()
            self.stopping.wait(TICK_SECONDS)

    def _supervise(self) -> None:
        next_champion_poll = time.monotonic() + CHAMPION_POLL_SECONDS
        while not self.stopping.wait(TICK_SECONDS):
            now = time.monotonic()
            for child in self.children:
                child.tick(now, probe_http)
            given_up = [c.spec.name for c in self.children if c.health == "failed"]
            with self._lock:
                if given_up:
                    self.message = f"given up after repeated exits: {', '.join(given_up)}"
                elif self.phase == "running":
                    self.message = "every process is healthy"
            if now >= next_champion_poll:
                next_champion_poll = now + CHAMPION_POLL_SECONDS
                # MLflow restarting: keep the last known version.
                with contextlib.suppress(OSError):
                    self.champion = bootstrap.champion_version(self.tracking_url, self.config.model)
            if self.next_drift_at is not None and time.time() >= self.next_drift_at:
                self.next_drift_at = time.time() + self.config.drift_every
                self._start_drift_check()
            self._write_state()

    def _start_drift_check(self) -> None:
        if self._drift_thread is not None and self._drift_thread.is_alive():
            return
        if not drift.has_baseline(self.layout):
            with self._lock:
                self.drift_error = "no baseline: drift checks are off"
            return
        self._drift_thread = threading.Thread(target=self._drift_check, daemon=True)
        self._drift_thread.start()

    def _drift_check(self) -> None:
        try:
            summary = drift.run_check(
                self.layout, self.config.model, window_seconds=self.config.drift_window
            )
        except drift.DriftCheckError as error:
            log.error("scheduled drift check: %s", error)
            with self._lock:
                self.drift_error = str(error)
            return
        log.info("scheduled drift check: %s: %s", summary.status, summary.message)
        with self._lock:
            self.drift_error = None

    def _write_extras(self) -> None:
        from workloads.inference.prometheus import scrape_config

        layout = self.layout
        config = scrape_config(
            {
                "ml-platform-local": [f"127.0.0.1:{self.ports['status']}"],
                "inference-server": [f"127.0.0.1:{self.ports['inference']}"],
            }
        )
        layout.prometheus_config.write_text(config, encoding="utf-8")
        if GRAFANA_DASHBOARD.is_file():
            layout.grafana.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(GRAFANA_DASHBOARD, layout.grafana / GRAFANA_DASHBOARD.name)

    def _stop_all(self) -> None:
        # The inference server first, so it drains while MLflow still answers its alias polls.
        for child in reversed(self.children):
            child.stop()
        if self.status_server is not None:
            self.status_server.stop()
            self.status_server = None
        for child in self.children:
            wait_gone(child.pids, 2.0)
        if self._drift_thread is not None:
            self._drift_thread.join(timeout=drift.CHECK_TIMEOUT_SECONDS)

    def request_stop(self, signum: int = signal.SIGTERM, frame: object = None) -> None:
        """Ask :meth:`run` to stop (the signal handler)."""
        self.stopping.set()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def _now_iso() -> str:
    return _iso(time.time())


def build_parser() -> argparse.ArgumentParser:
    """The supervisor's command line (``ml-platform local up`` passes its options through)."""
    parser = argparse.ArgumentParser(prog="python -m workloads.local_platform.supervisor")
    parser.add_argument("--dir", default=".ml-platform")
    parser.add_argument("--port-base", type=int, default=DEFAULT_PORT_BASE)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--drift-every", type=float, default=DEFAULT_DRIFT_EVERY)
    parser.add_argument("--drift-window", type=float, default=drift.DEFAULT_WINDOW_SECONDS)
    parser.add_argument("--no-bootstrap", dest="bootstrap", action="store_false")
    parser.add_argument("--baseline-data", type=Path)
    parser.add_argument("--startup-timeout", type=float, default=STARTUP_TIMEOUT_SECONDS)
    return parser


def config_from(argv: Sequence[str] | None) -> PlatformConfig:
    """The configuration the command line asks for."""
    args = build_parser().parse_args(argv)
    return PlatformConfig(
        layout=Layout.at(args.dir),
        port_base=args.port_base,
        model=args.model,
        drift_every=args.drift_every,
        drift_window=args.drift_window,
        bootstrap=args.bootstrap,
        baseline_data=args.baseline_data.resolve() if args.baseline_data else None,
        startup_timeout=args.startup_timeout,
    )


def run_supervisor(
    config: PlatformConfig, on_ready: Callable[[dict[str, Any]], None] | None = None
) -> int:
    """Run a supervisor in this process, stopping on SIGTERM or SIGINT; the exit status."""
    supervisor = Supervisor(config)
    previous = {
        signum: signal.signal(signum, supervisor.request_stop)
        for signum in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        return supervisor.run(on_ready)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the supervisor until SIGTERM/SIGINT (logs to stderr); the exit status."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return run_supervisor(config_from(argv))


if __name__ == "__main__":
    sys.exit(main())
