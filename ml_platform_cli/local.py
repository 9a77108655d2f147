"""``ml-platform local``: the whole platform on this machine, without Docker or an AWS account.

``up`` starts the supervisor (``workloads.local_platform.supervisor``) detached in a session of
its own and waits until every process is healthy; ``status``, ``traffic`` and ``drift-check``
read the state file it keeps; ``down`` stops it. All state lives under ``--dir``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from ml_platform_cli.errors import FAILED, FOUND, USAGE, CliError
from ml_platform_cli.output import emit, stderr, table
from ml_platform_cli.stack import json_option

#: How long ``up`` waits for every process to be healthy (bootstrap included) by default.
UP_TIMEOUT_SECONDS = 120.0
#: How long ``down`` waits for the supervisor to stop its children before killing everything.
DOWN_TIMEOUT_SECONDS = 45.0
#: Part of the supervisor's command line: tells it from a process that reused its pid.
SUPERVISOR_MARKER = "workloads.local_platform.supervisor"


def dir_option(function: Any) -> Any:
    """``--dir``: the state folder (default ``.ml-platform`` in the current directory)."""
    return click.option(
        "--dir",
        "directory",
        type=click.Path(path_type=Path, file_okay=False),
        default=".ml-platform",
        show_default=True,
        envvar="ML_PLATFORM_LOCAL_DIR",
        show_envvar=True,
        help="the folder all of the local platform's state lives in",
    )(function)


def register(cli: click.Group) -> None:
    """Add the ``local`` group."""
    cli.add_command(local)


@click.group("local")
def local() -> None:
    r"""Run the whole platform on this machine: MLflow, serving, drift checks, a status page.

    No Docker and no AWS account: MLflow's tracking server (SQLite, local artifacts), the
    inference server following the registry's champion with data capture, a drift check on a
    schedule, and one status page with Prometheus metrics, all as local processes whose state
    lives under --dir.

    \b
    Examples:
      ml-platform local up
      ml-platform local traffic --drift
      ml-platform local drift-check
      ml-platform local status
      ml-platform local down
    """


# Reading the state.


def _layout(directory: Path) -> Any:
    from workloads.local_platform.layout import Layout

    return Layout.at(directory)


def _read(layout: Any) -> dict[str, Any] | None:
    from workloads.local_platform.state import StateError, read_state

    try:
        return read_state(layout.state_file)
    except StateError as error:
        raise CliError(str(error), FAILED) from error


def _running_state(layout: Any) -> dict[str, Any] | None:
    """The state of the supervisor running from ``layout`` (None when none runs)."""
    from workloads.local_platform.state import pid_alive, read_pid

    state = _read(layout)
    pid = read_pid(layout.pid_file) or (state or {}).get("supervisor_pid")
    if state is None or not pid_alive(pid, SUPERVISOR_MARKER):
        return None
    return state


def _not_running(layout: Any) -> CliError:
    return CliError(
        f"no local platform runs from {layout.root} (start it with `ml-platform local up`)",
        FAILED,
    )


def _clean_stale(layout: Any) -> int:
    """Stop the children of a supervisor that died and remove its files; how many were running."""
    from workloads.local_platform.state import StateError, read_state, stop_recorded

    try:
        state = read_state(layout.state_file)
    except StateError:
        state = None
    stopped = stop_recorded(state, str(layout.root)) if state else []
    layout.state_file.unlink(missing_ok=True)
    layout.pid_file.unlink(missing_ok=True)
    return len(stopped)


# up


@local.command("up")
@dir_option
@click.option(
    "--port-base",
    type=click.IntRange(1, 65533),
    default=5300,
    show_default=True,
    envvar="ML_PLATFORM_LOCAL_PORT_BASE",
    show_envvar=True,
    help="the status page's port; MLflow gets the next, the inference server the one after",
)
@click.option("--model", default="churn", show_default=True, help="the registered model served")
@click.option(
    "--drift-every",
    type=click.FloatRange(min=1),
    default=300,
    show_default=True,
    help="seconds between scheduled drift checks",
)
@click.option(
    "--drift-window",
    type=click.FloatRange(min=1),
    default=3600,
    show_default=True,
    help="seconds of captured requests each drift check reads",
)
@click.option(
    "--no-bootstrap",
    is_flag=True,
    help="do not train a model on the sample when the model has no champion (fail instead)",
)
@click.option(
    "--baseline-data",
    type=click.Path(path_type=Path, dir_okay=False),
    help="the champion's training table, profiled as the drift baseline (default: the "
    "bootstrap's sample)",
)
@click.option(
    "--foreground", is_flag=True, help="run the supervisor in this terminal; Ctrl-C stops it"
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=UP_TIMEOUT_SECONDS,
    show_default=True,
    help="seconds to wait for every process to be healthy",
)
@json_option
def up(
    directory: Path,
    port_base: int,
    model: str,
    drift_every: float,
    drift_window: float,
    no_bootstrap: bool,
    baseline_data: Path | None,
    foreground: bool,
    timeout: float,
    as_json: bool,
) -> None:
    r"""Start the local platform and wait until every process is healthy; print its URLs.

    Ports: --port-base N is the status page, N+1 MLflow, N+2 the inference server (all on
    127.0.0.1). When the model has no champion, it is trained on the churn sample, registered
    and promoted first (unless --no-bootstrap). Run again while it runs: prints the status.

    \b
    Examples:
      ml-platform local up
      ml-platform local up --dir /tmp/mlp --port-base 6300 --drift-every 60
      ml-platform local up --no-bootstrap --baseline-data data/train.csv
      ml-platform local up --foreground
    """
    from workloads.local_platform.layout import ports_of
    from workloads.local_platform.specs import PortTaken, check_ports_free
    from workloads.local_platform.supervisor import PlatformConfig

    layout = _layout(directory)
    state = _running_state(layout)
    if state is not None:
        if state.get("phase") == "running":
            _emit_status(state, layout, as_json, note="already running")
            return
        raise CliError(
            f"a local platform is already {state.get('phase')} from {layout.root} (pid "
            f"{state.get('supervisor_pid')}); wait for it, or stop it with "
            f"`ml-platform local down --dir {directory}`",
            FAILED,
        )
    _clean_stale(layout)
    if baseline_data is not None and not baseline_data.is_file():
        raise CliError(f"--baseline-data {baseline_data}: no such file", USAGE)
    if port_base + 2 > 65535:
        raise CliError(f"--port-base {port_base}: needs {port_base}-{port_base + 2}", USAGE)
    try:
        check_ports_free(ports_of(port_base), port_base)
    except PortTaken as error:
        other = _platform_on(port_base)
        if other is not None and other != str(layout.root):
            raise CliError(
                f"a local platform from {other} already runs on ports {port_base}-"
                f"{port_base + 2}; stop it with `ml-platform local down --dir {other}`, or "
                "choose other ports with --port-base",
                FAILED,
            ) from error
        raise CliError(str(error), FAILED) from error
    config = PlatformConfig(
        layout=layout,
        port_base=port_base,
        model=model,
        drift_every=drift_every,
        drift_window=drift_window,
        bootstrap=not no_bootstrap,
        baseline_data=baseline_data.resolve() if baseline_data else None,
    )
    if foreground:
        _run_foreground(config, timeout, as_json)
        return
    state = _wait_running(layout, _start_supervisor(config, foreground=False), timeout)
    _emit_status(state, layout, as_json)


def _platform_on(port: int) -> str | None:
    """The state folder of the local platform whose status page answers on ``port`` (or None)."""
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status.json", timeout=2) as answer:
            state = json.loads(answer.read())
    except (OSError, ValueError):
        return None
    folder = state.get("dir") if isinstance(state, dict) else None
    return folder if isinstance(folder, str) else None


def _run_foreground(config: Any, timeout: float, as_json: bool) -> None:
    """Run the supervisor as a child in this terminal's process group until Ctrl-C."""
    process = _start_supervisor(config, foreground=True)
    try:
        state = _wait_running(config.layout, process, timeout)
        _emit_status(state, config.layout, as_json, note="Ctrl-C stops it")
        sys.stdout.flush()
        status = process.wait()
    except KeyboardInterrupt:
        # The terminal sent SIGINT to the supervisor too: it is stopping everything.
        status = process.wait()
    if status != 0:
        state = _read(config.layout) or {}
        _clean_stale(config.layout)
        raise CliError(str(state.get("message") or f"the supervisor exited ({status})"), FAILED)


def _supervisor_command(config: Any) -> list[str]:
    command = [
        sys.executable,
        "-m",
        SUPERVISOR_MARKER,
        "--dir",
        str(config.layout.root),
        "--port-base",
        str(config.port_base),
        "--model",
        config.model,
        "--drift-every",
        str(config.drift_every),
        "--drift-window",
        str(config.drift_window),
    ]
    if not config.bootstrap:
        command.append("--no-bootstrap")
    if config.baseline_data is not None:
        command += ["--baseline-data", str(config.baseline_data)]
    return command


def _start_supervisor(config: Any, *, foreground: bool) -> subprocess.Popen[bytes]:
    """Start the supervisor: detached in its own session logging to a file, or in this terminal."""
    layout = config.layout
    layout.logs.mkdir(parents=True, exist_ok=True)
    if foreground:
        return subprocess.Popen(_supervisor_command(config), stdin=subprocess.DEVNULL)
    with layout.log_file("supervisor").open("ab") as handle:
        return subprocess.Popen(
            _supervisor_command(config),
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )


def _wait_running(layout: Any, process: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    """The supervisor's state once every process is healthy; a one-line error otherwise.

    On failure or timeout, everything it started is stopped before the error is raised.
    """
    console = stderr()
    deadline = time.monotonic() + timeout
    shown = ""
    while True:
        state = _read(layout)
        phase = (state or {}).get("phase", "starting")
        message = (state or {}).get("message", "")
        if state is not None and phase != "failed" and f"{phase}: {message}" != shown:
            shown = f"{phase}: {message}"
            console.print(f"local platform {shown}")
        if phase == "running" and state is not None:
            return state
        if phase == "failed":
            try:
                process.wait(timeout=60)  # it is stopping what it started
            except subprocess.TimeoutExpired:
                _stop_supervisor(layout, process.pid, seconds=0)
            _clean_stale(layout)
            raise CliError(str(message), FAILED)
        if process.poll() is not None:
            _clean_stale(layout)
            raise CliError(
                f"the supervisor exited at start (status {process.returncode}); see "
                f"{layout.log_file('supervisor')}",
                FAILED,
            )
        if time.monotonic() > deadline:
            _stop_supervisor(layout, process.pid)
            raise CliError(
                f"the local platform was not healthy within {timeout:.0f} s ({phase}: "
                f"{message}); see {layout.logs}; everything was stopped",
                FAILED,
            )
        time.sleep(0.25)


def _stop_supervisor(layout: Any, pid: int, seconds: float = DOWN_TIMEOUT_SECONDS) -> None:
    """SIGTERM the supervisor; after ``seconds``, SIGKILL it and whatever it left."""
    from workloads.local_platform.state import signal_group, wait_gone

    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if wait_gone([pid], seconds, SUPERVISOR_MARKER):
        signal_group(pid, signal.SIGKILL)
        wait_gone([pid], 5.0, SUPERVISOR_MARKER)
    _clean_stale(layout)


# status


def _iso(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def _emit_status(
    state: dict[str, Any], layout: Any, as_json: bool, note: str | None = None
) -> None:
    from workloads.local_platform.drift import read_summary

    # The results on disk are newer than the state file's copy when a check just finished.
    found = read_summary(layout)
    if found is not None:
        state = {**state, "drift": {**found.to_dict(), "checked_at_iso": _iso(found.checked_at)}}
    data = {"running": True, **state}

    def render(console: Console) -> None:
        processes = state.get("processes", [])
        console.print(
            table(
                None,
                ("process", "pid", "port", "health", "restarts", "URL"),
                (
                    (p["name"], p.get("pid"), p["port"], p["health"], p["restarts"], p["url"])
                    for p in processes
                ),
            )
        )
        urls = state.get("urls", {})
        champion = state.get("champion_version")
        heading = f"local platform {state.get('phase')}" + (f" ({note})" if note else "")
        console.print(f"{heading}: {layout.root}")
        console.print(
            f"model {state.get('model')}: champion version "
            f"{champion if champion is not None else 'none'}"
        )
        drift = state.get("drift")
        if drift:
            drifted = ", ".join(drift.get("drifted", [])) or "none"
            console.print(
                f"last drift check {drift.get('checked_at_iso')}: {drift['status']} "
                f"(drifted: {drifted})"
            )
        else:
            console.print(f"last drift check: none yet (next {state.get('next_drift_check_at')})")
        if state.get("drift_error"):
            console.print(f"drift check problem: {state['drift_error']}")
        for name in ("status", "mlflow", "inference", "metrics", "drift_report"):
            if name in urls:
                console.print(f"{name.replace('_', ' ')}: {urls[name]}")

    emit(data, as_json, render)


@local.command("status")
@dir_option
@json_option
def status(directory: Path, as_json: bool) -> None:
    r"""Show what runs where: processes, pids, ports, health, restarts, champion, last drift check.

    Exit status 1 when no local platform runs from --dir.

    \b
    Examples:
      ml-platform local status
      ml-platform local status --json | jq '.processes[] | {name, health, restarts}'
    """
    layout = _layout(directory)
    state = _running_state(layout)
    if state is None:
        if as_json:
            emit({"running": False, "dir": str(layout.root)}, True, lambda console: None)
            raise click.exceptions.Exit(FAILED)
        raise _not_running(layout)
    _emit_status(state, layout, as_json)


# down


@local.command("down")
@dir_option
def down(directory: Path) -> None:
    r"""Stop the local platform: SIGTERM, the inference server drains, stragglers are killed.

    Does nothing (exit 0) when nothing runs; stops what a crashed supervisor left behind.

    \b
    Examples:
      ml-platform local down
      ml-platform local down --dir /tmp/mlp
    """
    from workloads.local_platform.state import pid_alive, read_pid

    layout = _layout(directory)
    state = _read(layout)
    pid = read_pid(layout.pid_file) or (state or {}).get("supervisor_pid")
    if pid_alive(pid, SUPERVISOR_MARKER):
        assert pid is not None
        _stop_supervisor(layout, pid)
        click.echo(f"stopped the local platform in {layout.root}")
        return
    leftovers = _clean_stale(layout)
    if leftovers:
        click.echo(f"stopped {leftovers} process(es) a stopped supervisor left in {layout.root}")
    else:
        click.echo(f"no local platform runs from {layout.root}; nothing to stop")


# traffic


@local.command("traffic")
@dir_option
@click.option(
    "--count", type=click.IntRange(1, 100_000), default=200, show_default=True, help="requests"
)
@click.option("--drift", is_flag=True, help="send a shifted population the drift check flags")
@click.option("--seed", type=int, default=1, show_default=True, help="seeds the sample rows")
@json_option
def traffic(directory: Path, count: int, drift: bool, seed: int, as_json: bool) -> None:
    r"""Send sample rows (shifted with --drift) to the inference server, one CSV row a request.

    Prints how many were answered; exit 1 when any was not.

    \b
    Examples:
      ml-platform local traffic
      ml-platform local traffic --drift --count 500 --seed 7
    """
    from workloads.local_platform.layout import HOST
    from workloads.local_platform.traffic import request_bodies, send
    from workloads.samples import churn

    layout = _layout(directory)
    state = _running_state(layout)
    if state is None:
        raise _not_running(layout)
    features = state.get("features") or list(churn.FEATURES)
    port = int(state["ports"]["inference"])
    result = send(HOST, port, request_bodies(count, seed, drift=drift, features=features))
    sample = "shifted (drift) sample" if drift else "sample"
    data = {**result.to_dict(), "url": state["urls"]["inference"], "drift": drift, "seed": seed}
    emit(
        data,
        as_json,
        lambda console: console.print(
            f"{result.answered} of {result.sent} requests answered by {data['url']} "
            f"({sample}, seed {seed})"
        ),
    )
    if result.answered < result.sent:
        problems = ", ".join(f"{name}: {n}" for name, n in sorted(result.errors.items()))
        raise CliError(f"{result.sent - result.answered} requests not answered ({problems})")


# drift-check


@local.command("drift-check")
@dir_option
@click.option(
    "--window",
    type=click.FloatRange(min=1),
    help="seconds of captured requests to read (default: the platform's --drift-window)",
)
@click.option("--fail-on-drift", is_flag=True, help="exit 3 when drift or violations are found")
@json_option
def drift_check(directory: Path, window: float | None, fail_on_drift: bool, as_json: bool) -> None:
    r"""Run the drift check now over the recent capture; write the report the status page links.

    \b
    Examples:
      ml-platform local drift-check
      ml-platform local drift-check --window 600 --json
      ml-platform local drift-check --fail-on-drift || echo "drift"
    """
    from workloads.local_platform import drift

    layout = _layout(directory)
    state = _running_state(layout)
    if state is None:
        raise _not_running(layout)
    seconds = window or float(state.get("drift_window_seconds") or drift.DEFAULT_WINDOW_SECONDS)
    try:
        summary = drift.run_check(layout, str(state["model"]), window_seconds=seconds)
    except drift.DriftCheckError as error:
        raise CliError(str(error), FAILED) from error
    report = layout.drift / "report.html"
    data = {**summary.to_dict(), "report": str(report)}
    emit(
        data,
        as_json,
        lambda console: console.print(
            f"{state['model']}: {summary.status}: {summary.message}\nreport: {report}"
        ),
    )
    if fail_on_drift and summary.drift_detected:
        raise click.exceptions.Exit(FOUND)
