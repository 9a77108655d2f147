"""``ml-platform train`` and ``serve``: every argument passes through, exit codes too."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.ml_platform_cli.cli_runner import ROOT, run_cli

#: Longest wait for the server to listen and to load its model (a bound, not a timing claim).
SERVER_WAIT_SECONDS = 60


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A linear model of iris trained through ``ml-platform train`` (a few seconds)."""
    folder = tmp_path_factory.mktemp("model") / "model"
    run = run_cli(
        "train",
        *("--algorithm", "sklearn", "--hyperparameter", "estimator=linear"),
        *("--dataset", "iris", "--model-dir", str(folder)),
    )
    assert run.exit_code == 0, run.stderr
    return folder


def test_train_writes_a_model_directory(model_dir: Path) -> None:
    # given / when: the fixture trained through `ml-platform train`
    # then
    assert (model_dir / "metadata.json").is_file()


def test_train_help_is_the_trainers_own_with_examples() -> None:
    # when
    run = run_cli("train", "--help")
    # then
    assert run.exit_code == 0
    assert run.stdout.startswith("usage: ml-platform-train ")
    assert "--hyperparameters-file" in run.stdout
    assert "\nexamples:\n  ml-platform train --algorithm xgboost --dataset iris" in run.stdout


def test_a_train_usage_error_keeps_the_trainers_message_and_exit_2() -> None:
    # when
    run = run_cli("train", "--dataset", "iris")
    # then
    assert run.exit_code == 2
    assert run.stderr.endswith(
        "ml-platform-train: error: the following arguments are required: --model-dir\n"
    )


def test_serve_help_is_the_servers_own_with_examples() -> None:
    # when
    run = run_cli("serve", "--help")
    # then
    assert run.exit_code == 0
    assert run.stdout.startswith("usage: ml-platform-serve ")
    assert "--model-uri" in run.stdout
    assert "\nexamples:\n  ml-platform serve --model-dir build/model --port 8080" in run.stdout


def test_serve_without_a_model_exits_1_naming_the_folder(tmp_path: Path) -> None:
    # when
    run = run_cli("serve", "--model-dir", str(tmp_path / "none"), "--port", "0")
    # then
    assert run.exit_code == 1
    assert (
        f"cannot load the model: {tmp_path / 'none'} is not a directory (pass --model-dir"
        in run.stderr
    )


def test_serve_answers_and_stops_cleanly_on_sigterm(model_dir: Path) -> None:
    # given a server on a free port of 127.0.0.1
    environment = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "ml_platform_cli", "serve", "--model-dir", str(model_dir)),
            *("--host", "127.0.0.1", "--port", "0"),
        ],
        cwd=ROOT,
        env=environment,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{listening_port(server)}"
        wait_until_ready(f"{base}/ping")
        # when
        request = urllib.request.Request(
            f"{base}/invocations",
            data=b"5.1,3.5,1.4,0.2\n",
            headers={"Content-Type": "text/csv"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            status, body = response.status, response.read()
        server.send_signal(signal.SIGTERM)
        exit_code = server.wait(timeout=SERVER_WAIT_SECONDS)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
        for _ in range(100):  # the reader closes stderr at end of file, just after the exit
            if server.stderr is None or server.stderr.closed:
                break
            time.sleep(0.05)
    # then
    assert status == 200
    assert body.strip()
    assert exit_code == 0


def listening_port(server: subprocess.Popen[str]) -> int:
    """The port the server logs ``listening on http://host:port`` with (bounded wait)."""
    lines: queue.Queue[str] = queue.Queue()
    assert server.stderr is not None
    stream = server.stderr

    def pump() -> None:
        with stream:  # closed by this reader once the server has exited
            for line in stream:
                lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + SERVER_WAIT_SECONDS
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            if server.poll() is not None:
                break
            continue
        seen.append(line)
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if match:
            return int(match[1])
    raise AssertionError(f"the server did not report its port: {''.join(seen)!r}")


def wait_until_ready(url: str) -> None:
    """Poll ``/ping`` until 200 (the model is loaded), within the bounded wait."""
    deadline = time.monotonic() + SERVER_WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer 200")
