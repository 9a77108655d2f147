"""The server's model from MLflow (``--model-uri``), following an alias, and its data capture."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.workloads.inference import models
from tests.workloads.inference.conftest import ThreadServer, invoke, request
from tests.workloads.lifecycle import conftest as lifecycle
from workloads.inference.server import main
from workloads.lifecycle.model_source import ModelSource, parse_model_uri
from workloads.lifecycle.registry import promote, register
from workloads.model_layout import LoadedModel, load_model
from workloads.monitoring.capture import capture_files, read_capture

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.*")

# The lifecycle tests' fixtures: a fresh MLflow store, its client, two model directories.
store, client = lifecycle.store, lifecycle.client
model_dir, other_model_dir = lifecycle.model_dir, lifecycle.other_model_dir

ROW = "0.5,1.0,-0.2,0.3"
POLL = 0.05


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.02)


def serve_champion(
    start_server: Callable[..., ThreadServer], tracking_uri: str, cache: Path
) -> ThreadServer:
    """A server loading ``models:/churn@champion``, polling the alias every ``POLL`` seconds."""
    server = start_server(model_poll_seconds=POLL)
    source = ModelSource(parse_model_uri("models:/churn@champion"), tracking_uri, cache)
    server.run(server.server.load_source(source))
    return server


def test_a_served_alias_is_followed_when_it_moves(
    client: Any,
    store: str,
    model_dir: Path,
    other_model_dir: Path,
    tmp_path: Path,
    start_server: Callable[..., ThreadServer],
) -> None:
    # given the classifier as champion, served from the registry
    register(client, "churn", model_dir)
    register(client, "churn", other_model_dir)
    promote(client, "churn", 1, "champion", "first")
    server = serve_champion(start_server, store, tmp_path / "cache")
    assert server.server.model_key == "churn/1"
    [label] = invoke(server.port, ROW, "text/csv").json()["predictions"]  # type: ignore[index]
    assert label in ("no", "yes", "maybe")
    # when the alias moves to the regressor
    promote(client, "churn", 2, "champion", "second")
    # then the server swaps it in and answers with it
    wait_until(lambda: server.server.model_key == "churn/2", "the server serves version 2")
    [value] = invoke(server.port, ROW, "text/csv").json()["predictions"]  # type: ignore[index]
    assert isinstance(value, float)
    # and /metrics counts the reload and names the version served
    metrics = request(server.port, "GET", "/metrics").body.decode()
    assert "inference_model_reloads_total 1\n" in metrics
    assert 'task="regression",version="churn/2"} 1\n' in metrics


def test_a_version_that_cannot_load_is_logged_once_and_the_old_one_keeps_serving(
    client: Any,
    store: str,
    model_dir: Path,
    tmp_path: Path,
    start_server: Callable[..., ThreadServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given a served champion and a second version whose model file is garbage
    caplog.set_level(logging.INFO, logger="workloads.inference.server")
    register(client, "churn", model_dir)
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "model.joblib").write_bytes(b"not a model")
    register(client, "churn", broken)
    promote(client, "churn", 1, "champion", "first")
    server = serve_champion(start_server, store, tmp_path / "cache")
    served: LoadedModel | None = server.server.model
    # when the alias moves to the broken version

    def errors() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]

    promote(client, "churn", 2, "champion", "broken")
    wait_until(lambda: bool(errors()), "the load error is logged")
    time.sleep(10 * POLL)  # more polls of the same alias
    # then the error was logged once, naming the version and what still serves
    [error] = errors()
    assert error.startswith(
        "cannot load models:/churn@champion (version 2), still serving churn/1: "
    )
    assert "model.joblib: cannot be loaded as a sklearn model" in error
    # and the first version still answers
    assert server.server.model is served
    assert invoke(server.port, ROW, "text/csv").status == 200
    # when the alias moves back and on again / then the server is still on version 1
    promote(client, "churn", 1, "champion", "back")
    time.sleep(10 * POLL)
    assert server.server.model_key == "churn/1"
    # and /metrics counted the one failed version and no reload
    metrics = request(server.port, "GET", "/metrics").body.decode()
    assert "inference_model_reload_failures_total 1\n" in metrics
    assert "inference_model_reloads_total 0\n" in metrics


def test_answered_invocations_are_captured_and_refused_ones_are_not(
    sklearn_model: LoadedModel, tmp_path: Path, start_server: Callable[..., ThreadServer]
) -> None:
    # given a server capturing into a folder
    server = start_server(sklearn_model, capture_dir=tmp_path / "capture")
    # when one request is answered and one refused (415)
    assert invoke(server.port, ROW + "\n" + ROW, "text/csv").status == 200
    assert invoke(server.port, b"x", "application/xml").status == 415
    # then /metrics counts one captured record
    metrics = request(server.port, "GET", "/metrics").body.decode()
    assert "inference_capture_records_total 1\n" in metrics
    assert "inference_capture_enabled 1\n" in metrics
    server.stop()
    # then the monitor reads the one answered request, its two rows and predictions
    data = read_capture(capture_files(tmp_path / "capture"), ["a", "b", "c", "d"])
    assert (data.requests, data.malformed, len(data.rows), len(data.predictions)) == (1, 0, 2, 2)
    server.stop = lambda: None  # type: ignore[method-assign]  # already stopped


def test_an_answer_in_another_output_is_captured_with_its_mark(
    sklearn_model: LoadedModel, tmp_path: Path, start_server: Callable[..., ThreadServer]
) -> None:
    # given a server capturing into a folder, its model answering labels by default
    server = start_server(sklearn_model, capture_dir=tmp_path / "capture")
    # when one request asks for labels and one for probabilities
    assert invoke(server.port, ROW, "text/csv").status == 200
    assert (
        invoke(server.port, ROW, "text/csv", "application/json; output=probability").status == 200
    )
    server.stop()
    # then the monitor reads both requests' inputs but only the default answer's predictions
    data = read_capture(capture_files(tmp_path / "capture"), ["a", "b", "c", "d"])
    assert (data.requests, data.malformed, data.other_output) == (2, 0, 1)
    assert (len(data.rows), len(data.predictions)) == (2, 1)
    server.stop = lambda: None  # type: ignore[method-assign]  # already stopped


def test_metrics_count_an_invocation_in_flight_until_it_is_answered(
    tmp_path: Path, start_server: Callable[..., ThreadServer]
) -> None:
    # given a server whose model takes 1 s on a marked row, and that row being predicted
    models.save_slow(tmp_path / "slow", delay=1.0)
    server = start_server(load_model(tmp_path / "slow"))
    slow_row = json.dumps([[models.SLOW_MARKER, 0, 0, 0]])
    answers: list[int] = []
    client = threading.Thread(target=lambda: answers.append(invoke(server.port, slow_row).status))
    client.start()

    def in_flight() -> str:
        text = request(server.port, "GET", "/metrics").body.decode()
        return next(line for line in text.splitlines() if line.startswith("inference_requests_in"))

    # when /metrics is read meanwhile / then it counts one invocation in flight
    wait_until(lambda: in_flight() == "inference_requests_in_flight 1", "one in flight", 5.0)
    # and none once it is answered
    client.join(10)
    assert answers == [200]
    assert in_flight() == "inference_requests_in_flight 0"


def test_a_quiet_servers_captured_lines_reach_the_disk_while_it_runs(
    sklearn_model: LoadedModel, tmp_path: Path, start_server: Callable[..., ThreadServer]
) -> None:
    # given a capturing server that answers one request and then none
    server = start_server(sklearn_model, capture_dir=tmp_path / "capture")
    assert invoke(server.port, ROW, "text/csv").status == 200

    # when the monitor reads the folder while the server still runs
    def on_disk() -> int:
        return read_capture(capture_files(tmp_path / "capture"), ["a", "b", "c", "d"]).requests

    # then the line lands within the server's once-a-second flush
    wait_until(lambda: on_disk() == 1, "the captured line is on disk", seconds=5.0)


def test_a_capture_that_cannot_write_is_counted_and_shown_off(
    sklearn_model: LoadedModel, tmp_path: Path, start_server: Callable[..., ThreadServer]
) -> None:
    # given a server capturing into a path that is a file, so no hour folder can be made
    (tmp_path / "capture").write_text("not a folder")
    server = start_server(sklearn_model, capture_dir=tmp_path / "capture")
    # when two requests are answered
    assert invoke(server.port, ROW, "text/csv").status == 200
    assert invoke(server.port, ROW, "text/csv").status == 200
    # then the first failed write is counted and the capture shows off (it stopped)
    metrics = request(server.port, "GET", "/metrics").body.decode()
    assert "inference_capture_failures_total 1\n" in metrics
    assert "inference_capture_records_total 0\n" in metrics
    assert "inference_capture_enabled 0\n" in metrics


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--model-uri", "s3://bucket/model", "--tracking-uri", "sqlite:///m.db"],
            "--model-uri 's3://bucket/model': expected models:/NAME@ALIAS, models:/NAME/VERSION "
            "or runs:/RUN_ID/PATH",
        ),
        (
            ["--model-uri", "models:/churn@champion"],
            "no tracking URI: pass --tracking-uri (e.g. sqlite:///build/mlflow.db) or set "
            "MLFLOW_TRACKING_URI",
        ),
        (
            ["--model-uri", "models:/churn/1", "--model-dir", "m"],
            "argument --model-dir: not allowed with argument --model-uri",
        ),
        (
            ["--model-poll-seconds", "0.5"],
            "argument --model-poll-seconds: must be at least 1 and at most 3600, not 0.5",
        ),
        (
            ["--capture-percent", "0"],
            "argument --capture-percent: must be above 0 and at most 100, not 0",
        ),
    ],
)
def test_unusable_model_source_options_are_usage_errors(
    argv: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given no tracking URI in the environment
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    # when the server is started with such options / then it exits 2 naming the problem
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"ml-platform-serve: error: {message}"


def test_serving_a_directory_never_imports_mlflow() -> None:
    # given the server module with a model directory and capture / when its command line is read
    script = (
        "import sys\n"
        "from workloads.inference.server import InferenceServer, ServerConfig, build_parser\n"
        "args = build_parser().parse_args(['--model-dir', 'm', '--capture-dir', 'c'])\n"
        "InferenceServer(ServerConfig(model_dir=args.model_dir, capture_dir=args.capture_dir))\n"
        "print(sorted(m for m in sys.modules if m.startswith(('mlflow', 'workloads.lifecycle'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    # then neither mlflow nor the registry code is imported
    assert (done.returncode, done.stdout) == (0, "[]\n"), done.stderr
