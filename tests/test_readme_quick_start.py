"""The README's offline blocks, run as written: the quick start end to end, and the make commands.

The blocks are read from README.md, so the two cannot drift apart. The quick start runs in a fresh
directory whose ``.venv`` is this interpreter's environment, with two changes a test needs: the
server gets a free port instead of 8080 (which the blocks then use), and ``webbrowser`` opens the
report with a stand-in browser that records the address it was given. The README's other blocks
need the network (the install commands) or AWS and the Pulumi CLI (``pulumi``, ``aws``), so they
are not run here; their ``make`` targets are checked with ``make -n``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.workloads.inference.conftest import ProcessServer, free_port
from tests.workloads.training.samples import mlflow_store

README = (ROOT / "README.md").read_text()
QUICK_START = README.split("## Quick start (no AWS account)\n", 1)[1].split("\n## ", 1)[0]
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", QUICK_START, flags=re.DOTALL)

# MLflow's own warnings, which it silences itself outside pytest (see test_tracking.py).
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.*"),
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
]


def shell(block: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run one README block with bash, as a reader pasting it would; its stdout."""
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=cwd,
        env={**os.environ, **(env or {}), "PWD": str(cwd)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{block}\nexit {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout


def expected_output(block: str) -> str:
    """The ``# ...`` line a block shows as its output."""
    return re.search(r"^# (.*)$", block, flags=re.MULTILINE).group(1)  # type: ignore[union-attr]


def test_the_quick_start_has_the_six_blocks_this_test_runs() -> None:
    # given the quick start / then its blocks are the ones run below, in this order
    assert [language for language, _ in BLOCKS] == ["sh", "sh", "python", "sh", "sh", "sh"]


def test_the_quick_start_trains_serves_captures_baselines_checks_and_opens_the_report(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    train, serve, send, baseline, check, report = (body for _, body in BLOCKS)
    # given a fresh project directory with the installed environment, and MLflow's store with
    # its schema already in it (creating it takes seconds; the command then uses it as is)
    (tmp_path / ".venv").symlink_to(sys.prefix)
    mlflow_store(tmp_path / "build/mlflow.db", tmp_path_factory)
    # when the training command runs / then it leaves the model directory step 2 serves
    shell(train, tmp_path)
    model_dir = tmp_path / "build/models/iris-xgboost"
    assert sorted(path.name for path in model_dir.iterdir()) == ["metadata.json", "model.ubj"]
    # when the server starts as step 2 says (on a free port) and the README's curl asks it
    server_line, *asks = serve.strip().splitlines()
    port = free_port()
    words = [
        str(tmp_path / word) if word.startswith(".venv/") else word
        for word in shlex.split(server_line)
    ]
    server = ProcessServer([*words, "--port", str(port)], port, cwd=tmp_path)
    try:
        server.wait_ready()
        on_port = "\n".join(asks).replace("localhost:8080", f"localhost:{port}")
        # then it answers what the README shows
        assert shell(on_port, tmp_path).strip() == expected_output(serve)
        # when step 3 sends the traffic / then every request was answered and captured
        script = send.replace("localhost:8080", f"localhost:{port}")
        printed = subprocess.run(
            [sys.executable, "-c", script],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert printed.returncode == 0, printed.stderr
        assert printed.stdout == "150 requests answered and captured in build/capture/iris.jsonl\n"
    finally:
        server.kill()
    assert len((tmp_path / "build/capture/iris.jsonl").read_text().splitlines()) == 150
    # when the baseline is made and the check runs
    shell(baseline, tmp_path)
    assert sorted(path.name for path in (tmp_path / "build/baselines/iris").iterdir()) == [
        "baseline.npz",
        "constraints.json",
        "statistics.json",
    ]
    printed_check = shell(check, tmp_path)
    # then it finds the drift the README shows
    assert printed_check.splitlines()[0] == expected_output(check)
    # when the report is opened / then the browser is handed the report's page
    browser = tmp_path / "browser.sh"
    browser.write_text('#!/bin/sh\nprintf %s "$1" > opened.txt\n')
    browser.chmod(0o755)
    shell(report, tmp_path, env={"BROWSER": str(browser)})
    page = tmp_path / "build/drift/report.html"
    assert (tmp_path / "opened.txt").read_text() == f"file://{tmp_path}/build/drift/report.html"
    assert "petal length (cm)" in page.read_text()


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
