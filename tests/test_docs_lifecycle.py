"""docs/lifecycle.md's local loop, run as written, from training to a rollback.

Train, evaluate, register, promote, serve from the registry with data capture, check for drift,
promote a new version and roll back.

The blocks are read from the page, so the two cannot drift apart. They run in a fresh directory
whose ``.venv/bin`` holds this interpreter and a launcher for each console script pyproject.toml
declares, importing this checkout's code (``PYTHONPATH``), so the scripts the page names are the
ones this checkout installs. As in the README's quick start, the server gets a free port instead
of 8080, and ``webbrowser`` a stand-in browser. Every wait is bounded; the server is stopped by
its pid.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_readme_quick_start import expected_output, shell
from tests.workloads.inference.conftest import free_port, request
from tests.workloads.training.samples import mlflow_store

PAGE = (ROOT / "docs/lifecycle.md").read_text()
LOCALLY = PAGE.split("## Locally, with MLflow\n", 1)[1].split("\n## ", 1)[0]
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", LOCALLY, flags=re.DOTALL)
RUN_ID = re.compile(r"\b[0-9a-f]{32}\b")
WAIT_SECONDS = 60.0

# MLflow's own warnings when the store is created, which it silences itself outside pytest.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.*")


def test_the_local_loop_has_the_eleven_blocks_this_test_runs() -> None:
    # given the page's local section / then its blocks are the ones run below, in this order
    assert [language for language, _ in BLOCKS] == [
        "python", "sh", "sh", "sh", "sh", "sh", "python", "sh", "sh", "sh", "sh"
    ]  # fmt: skip


def make_project(project: Path) -> dict[str, str]:
    """A ``.venv/bin`` of launchers running this checkout; the environment the blocks run in."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    bin_dir = project / ".venv/bin"
    bin_dir.mkdir(parents=True)
    launchers = {"python": f'exec {shlex.quote(sys.executable)} "$@"\n'}
    for name, target in scripts.items():
        module, function = target.split(":")
        code = f"import sys; from {module} import {function}; sys.exit({function}())"
        launchers[name] = f'exec {shlex.quote(sys.executable)} -c {shlex.quote(code)} "$@"\n'
    for name, body in launchers.items():
        (bin_dir / name).write_text("#!/bin/sh\n" + body)
        (bin_dir / name).chmod(0o755)
    return {"PYTHONPATH": str(ROOT)}


def commands(block: str) -> str:
    """A block without its ``# output`` lines."""
    return "\n".join(line for line in block.splitlines() if not line.startswith("# "))


def outputs(block: str) -> list[str]:
    """The ``# ...`` lines a block shows as its output, with spacing made single."""
    return [" ".join(line[2:].split()) for line in block.splitlines() if line.startswith("# ")]


def printed_lines(text: str) -> list[str]:
    """What a command printed, run ids as ``<run id>`` and spacing made single."""
    return [" ".join(RUN_ID.sub("<run id>", line).split()) for line in text.splitlines()]


def wait_for(condition: object, what: str) -> None:
    """Poll ``condition()`` until it is true, at most ``WAIT_SECONDS``."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {WAIT_SECONDS} s: {what}")


class Server:
    """The page's server command as its own process, its log in a file."""

    def __init__(self, block: str, project: Path, env: dict[str, str]) -> None:
        words = shlex.split(commands(block).replace("\\\n", " "))
        self.port = free_port()
        words = [str(project / word) if word.startswith(".venv/") else word for word in words]
        self.log = project / "server.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [*words, "--port", str(self.port)],
                cwd=project,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **env},
                start_new_session=True,
            )

    def ready(self) -> bool:
        """Whether /ping answers 200 (an exited server fails the test)."""
        assert self.process.poll() is None, self.log.read_text()
        try:
            return request(self.port, "GET", "/ping", timeout=1.0).status == 200
        except OSError:
            return False

    def said(self, line: str) -> int:
        """How many log lines end with ``line``."""
        return sum(entry.endswith(line) for entry in self.log.read_text().splitlines())

    def stop(self) -> int:
        """SIGTERM by pid, then the exit status (killed if it does not exit in time)."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            raise


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh project directory with MLflow's store already created (that takes seconds)."""
    mlflow_store(tmp_path / "build/mlflow.db", tmp_path_factory)
    yield tmp_path


def test_the_local_loop_trains_registers_promotes_serves_captures_checks_and_rolls_back(
    project: Path,
) -> None:
    data, train, evaluate, register, promote, serve, send, check, report, renew, roll_back = (
        body for _, body in BLOCKS
    )
    env = make_project(project)

    def python(script: str) -> str:
        done = subprocess.run(
            [str(project / ".venv/bin/python"), "-c", script],
            cwd=project,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    # given the data, a trained model and its evaluation
    python(data)
    shell(train, project, env)
    model_dir = project / "build/models/churn-linear"
    assert sorted(path.name for path in model_dir.iterdir()) == ["metadata.json", "model.joblib"]
    shell(evaluate, project, env)
    assert (project / "build/evaluation/churn-linear/evaluation.json").is_file()
    # when it is registered and promoted / then the commands say what the page shows
    assert printed_lines(shell(register, project, env)) == outputs(register)
    assert printed_lines(shell(promote, project, env)) == outputs(promote)
    # when the champion is served
    server = Server(serve, project, env)
    try:
        wait_for(server.ready, "the server answers /ping")
        # then its log names the version, as the page shows
        serving = outputs(serve)[0].removeprefix("... ")
        assert server.said(serving) == 1
        # when the traffic is sent / then every request is answered and captured
        sent = python(send.replace("localhost:8080", f"localhost:{server.port}"))
        assert sent == "300 customers scored in 30 requests\n"

        def captured_lines() -> int:
            captured = (project / "build/capture/churn").rglob("*.jsonl")
            return sum(len(path.read_text().splitlines()) for path in captured)

        # (the server writes captured lines in batches, each within about a second)
        wait_for(lambda: captured_lines() >= 30, "the 30 requests' capture is on disk")
        assert captured_lines() == 30
        # when the baseline is made and the check runs / then it finds the drift the page shows
        assert expected_output(check) in shell(check, project, env).splitlines()
        # when the report is opened / then the browser is handed the report's page
        browser = project / "browser.sh"
        browser.write_text('#!/bin/sh\nprintf %s "$1" > opened.txt\n')
        browser.chmod(0o755)
        shell(report, project, {**env, "BROWSER": str(browser)})
        opened = (project / "opened.txt").read_text()
        assert opened == f"file://{project}/build/drift/churn/report.html"
        assert "support_calls" in (project / "build/drift/churn/report.html").read_text()
        # when a new version is trained, registered and promoted
        assert printed_lines(shell(renew, project, env))[-2:] == outputs(renew)
        # then the running server swaps it in
        version_2 = serving.replace("(version 1)", "(version 2)")
        wait_for(lambda: server.said(version_2) == 1, f"the server logs {version_2!r}")
        # when version 1 is promoted again / then the server follows, and versions shows it
        listed = printed_lines(shell(roll_back, project, env))
        wait_for(lambda: server.said(serving) == 2, f"the server logs {serving!r} again")
        assert listed[-len(outputs(roll_back)) :] == outputs(roll_back)
    finally:
        status = server.stop()
    assert status == 0, server.log.read_text()
