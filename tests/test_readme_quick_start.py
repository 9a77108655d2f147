"""The README's offline blocks, run as written: the quick start end to end, and the make commands.

The blocks are read from README.md, so the two cannot drift apart. The quick start runs in a fresh
directory whose ``.venv`` is this interpreter's environment and whose ``workloads`` is the
project's (for the shipped sample), with the changes a test needs: free ports instead of 5300 and
8080 (``ML_PLATFORM_LOCAL_PORT_BASE`` for the local platform, ``--port`` for the server, and the
blocks' addresses moved with them), and ``webbrowser`` opening pages with a stand-in browser that
records the address it was given. The README's other blocks
need the network (the install commands) or AWS and the Pulumi CLI (``pulumi``, ``aws``), so they
are not run here; their ``make`` targets are checked with ``make -n``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.ml_platform_cli.local_ports import free_port_base
from tests.workloads.inference.conftest import ProcessServer, free_port
from tests.workloads.training.samples import mlflow_store
from workloads.local_platform.state import pid_alive, read_state
from workloads.samples import churn

README = (ROOT / "README.md").read_text()
QUICK_START = README.split("## Quick start (no AWS account)\n", 1)[1].split("\n## ", 1)[0]
ONE_COMMAND, STEP_BY_STEP = QUICK_START.split("### The whole platform in one command\n", 1)[
    1
].split("### Step by step\n", 1)
LOCAL_BLOCKS = re.findall(r"```(\w+)\n(.*?)```", ONE_COMMAND, flags=re.DOTALL)
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", STEP_BY_STEP, flags=re.DOTALL)
README_PORT_BASE = 5300

# MLflow's own warnings, which it silences itself outside pytest (see test_tracking.py).
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.*"),
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
]


def shell(block: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    """Run one README block with bash, as a reader pasting it would; its stdout."""
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=cwd,
        env={**os.environ, **(env or {}), "PWD": str(cwd)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"{block}\nexit {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout


def expected_output(block: str) -> str:
    """The ``# ...`` line a block shows as its output."""
    return re.search(r"^# (.*)$", block, flags=re.MULTILINE).group(1)  # type: ignore[union-attr]


def project_copy(tmp_path: Path) -> Path:
    """A fresh project directory: the installed environment and the shipped sample, linked."""
    (tmp_path / ".venv").symlink_to(sys.prefix)
    (tmp_path / "workloads").symlink_to(ROOT / "workloads")
    return tmp_path


def recording_browser(directory: Path) -> Path:
    """A stand-in browser (``BROWSER``) that writes the address it was given to opened.txt."""
    browser = directory / "browser.sh"
    browser.write_text('#!/bin/sh\nprintf %s "$1" > opened.txt\n')
    browser.chmod(0o755)
    return browser


def group_members(groups: set[int]) -> set[int]:
    """Running (not zombie) processes whose process group is one of ``groups``."""
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) in groups:
            found.add(int(proc.name))
    return found


def test_the_quick_start_has_the_blocks_this_test_runs() -> None:
    # given the quick start / then its blocks are the ones run below, in this order
    assert [language for language, _ in LOCAL_BLOCKS] == ["sh", "sh", "sh", "sh"]
    assert [language for language, _ in BLOCKS] == ["sh", "sh", "python", "sh", "sh", "sh"]


def test_the_local_platform_starts_detects_drift_shows_it_and_stops(tmp_path: Path) -> None:
    up, traffic_and_check, look, down = (body for _, body in LOCAL_BLOCKS)
    # given a fresh project directory; the README's commands run as written, with the state
    # folder and the ports moved by the options' environment variables (a test needs free ports)
    project = project_copy(tmp_path)
    base = free_port_base()
    env = {
        "ML_PLATFORM_LOCAL_PORT_BASE": str(base),
        "NO_COLOR": "1",
        "BROWSER": str(recording_browser(project)),
    }
    try:
        # when it is started / then every process is healthy and the status page answers
        printed = shell(up, project, env, timeout=200)
        assert f"status: http://127.0.0.1:{base}/" in printed
        state = read_state(project / ".ml-platform" / "state.json")
        assert [(p["name"], p["health"]) for p in state["processes"]] == [
            ("status", "healthy"),
            ("mlflow", "healthy"),
            ("inference", "healthy"),
        ]
        assert state["champion_version"] == 1
        assert state["features"] == list(churn.FEATURES)  # the text columns too
        pids = {state["supervisor_pid"], *state["pids_seen"]}
        groups = {p["pid"] for p in state["processes"] if p["pid"]} | pids
        # when drifted traffic is sent and checked / then the check finds what the README shows
        printed = shell(traffic_and_check, project, env).splitlines()
        assert printed[0].startswith("200 of 200 requests answered")
        assert printed[1] == expected_output(traffic_and_check)
        assert (project / ".ml-platform" / "drift" / "report.html").is_file()
        # when the status page is opened / then the browser gets its address, and it shows the
        # drift and serves the platform's metrics
        shell(look.replace(f":{README_PORT_BASE}/", f":{base}/"), project, env)
        assert (project / "opened.txt").read_text() == f"http://127.0.0.1:{base}/"
        page = urllib.request.urlopen(f"http://127.0.0.1:{base}/", timeout=10).read().decode()
        assert "<strong>drift</strong>" in page
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{base}/metrics", timeout=10).read()
        assert b"ml_platform_local_drift_detected 1" in metrics
        assert b'ml_platform_local_feature_psi{feature="monthly_charges"}' in metrics
        status = json.loads(shell(".venv/bin/ml-platform local status --json", project, env))
        assert (status["drift"]["drift_detected"], status["drift"]["records"]) == (True, 200)
        assert (project / ".ml-platform" / "prometheus.yml").is_file()
        # when it is stopped / then nothing it started is left
        assert (
            shell(down, project, env) == f"stopped the local platform in {project}/.ml-platform\n"
        )
        assert [pid for pid in pids if pid_alive(pid)] == []
        assert group_members(groups) == set()
        assert not (project / ".ml-platform" / "state.json").exists()
        status_after = subprocess.run(
            [".venv/bin/ml-platform", "local", "status"], cwd=project, capture_output=True
        )
        assert status_after.returncode == 1
    finally:
        # Whatever happened, leave nothing running.
        subprocess.run(
            [sys.executable, "-m", "ml_platform_cli", "local", "down"],
            cwd=project,
            env={**os.environ, **env},
            capture_output=True,
            timeout=90,
            check=False,
        )


def test_the_quick_start_trains_serves_captures_baselines_checks_and_opens_the_report(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    train, serve, send, baseline, check, report = (body for _, body in BLOCKS)
    # given a fresh project directory with the installed environment and the sample, and
    # MLflow's store with its schema already in it (creating it takes seconds; the command then
    # uses it as is)
    project = project_copy(tmp_path)
    mlflow_store(project / "build/mlflow.db", tmp_path_factory)
    # when the training command runs / then it leaves the model directory step 2 serves
    shell(train, project)
    model_dir = project / "build/models/churn"
    assert sorted(path.name for path in model_dir.iterdir()) == ["metadata.json", "model.ubj"]
    # when the server starts as step 2 says (on a free port) and the README's curl asks it
    server_line, *asks = serve.strip().splitlines()
    port = free_port()
    words = [
        str(project / word) if word.startswith(".venv/") else word
        for word in shlex.split(server_line)
    ]
    server = ProcessServer([*words, "--port", str(port)], port, cwd=project)
    try:
        server.wait_ready()
        on_port = "\n".join(asks).replace("localhost:8080", f"localhost:{port}")
        # then it answers what the README shows
        assert shell(on_port, project).strip() == expected_output(serve)
        # when step 3 sends the traffic and the server is stopped (Ctrl-C: it drains)
        script = send.replace("localhost:8080", f"localhost:{port}")
        printed = subprocess.run(
            [sys.executable, "-c", script],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert printed.returncode == 0, printed.stderr
        assert printed.stdout == "300 shifted requests answered\n"
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(30) == 0
    finally:
        server.kill()
    # then every request was captured: the README's one and the 300
    captured = list((project / "build/capture/churn").rglob("*.jsonl"))
    assert sum(len(path.read_text().splitlines()) for path in captured) == 301
    # when the baseline is made and the check runs
    shell(baseline, project)
    assert sorted(path.name for path in (project / "build/baselines/churn").iterdir()) == [
        "baseline.npz",
        "constraints.json",
        "statistics.json",
    ]
    printed_check = shell(check, project)
    # then it finds the drift the README shows
    assert printed_check.splitlines()[0] == expected_output(check)
    # when the report is opened / then the browser is handed the report's page
    shell(report, project, env={"BROWSER": str(recording_browser(project))})
    page = project / "build/drift/report.html"
    assert (project / "opened.txt").read_text() == f"file://{project}/build/drift/report.html"
    assert "monthly_charges" in page.read_text()


@pytest.mark.parametrize(
    "command",
    sorted(set(re.findall(r"^(make [^#\n]*?)\s*(?:#.*)?$", README, flags=re.MULTILINE))),
)
def test_every_make_command_of_the_readme_is_a_target_make_knows(command: str) -> None:
    # given a make command the README shows / when make plans it without running it
    done = subprocess.run(
        [*shlex.split(command)[:1], "-n", *shlex.split(command)[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # then make knows the target
    assert done.returncode == 0, done.stderr
