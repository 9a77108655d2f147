"""Fixtures for the inference tests: trained model directories and servers to talk to."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.workloads.inference import models
from workloads.inference.server import InferenceServer, ServerConfig
from workloads.model_layout import LoadedModel, load_model

ROOT = Path(__file__).resolve().parents[3]


TRAINERS: dict[str, Callable[[Path], object]] = {
    "sklearn": models.train_sklearn,
    "sklearn-regressor": models.train_sklearn_regressor,
    "xgboost": models.train_xgboost,
    "pytorch": models.train_pytorch,
}


class ModelDirs:
    """Saved model directories by name, each trained on first use (once per session)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.trained: dict[str, Path] = {}

    def __getitem__(self, name: str) -> Path:
        if name not in self.trained:
            TRAINERS[name](self.base / name)
            self.trained[name] = self.base / name
        return self.trained[name]


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> ModelDirs:
    """Saved model directories: sklearn, sklearn-regressor, xgboost, pytorch."""
    return ModelDirs(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def sklearn_model(model_dirs: ModelDirs) -> LoadedModel:
    """The sklearn classifier, loaded."""
    return load_model(model_dirs["sklearn"])


@dataclass
class Response:
    """What a test sees of an HTTP answer."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        """The body parsed as JSON."""
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Response:
    """One request on a fresh connection (http.client adds only Host and Content-Length)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        return Response(
            answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
        )
    finally:
        connection.close()


def invoke(
    port: int, body: bytes | str, content_type: str = "application/json", accept: str | None = None
) -> Response:
    """POST /invocations."""
    headers = {"Content-Type": content_type}
    if accept is not None:
        headers["Accept"] = accept
    data = body.encode() if isinstance(body, str) else body
    return request(port, "POST", "/invocations", data, headers)


class ThreadServer:
    """An ``InferenceServer`` on its own event loop in a background thread."""

    def __init__(self, config: ServerConfig, model: LoadedModel | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = self.run(self._make(config, model))
        self.run(self.server.start())
        self.port = self.server.port

    @staticmethod
    async def _make(config: ServerConfig, model: LoadedModel | None) -> InferenceServer:
        return InferenceServer(config, model)

    def run(self, coroutine: object, timeout: float = 30.0) -> object:
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)  # type: ignore[arg-type]

    def call(self, function: Callable[[], object]) -> object:
        """Call a plain function on the server's loop thread."""

        async def call() -> object:
            return function()

        return self.run(call())

    def stop(self) -> None:
        """Drain, stop the loop, join the thread."""
        self.run(self.server.drain(timeout=5.0))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def start_server() -> Iterator[Callable[..., ThreadServer]]:
    """Start in-process servers (model optional; config overrides as keywords); all stopped after."""
    started: list[ThreadServer] = []

    def start(model: LoadedModel | None = None, **overrides: object) -> ThreadServer:
        config = ServerConfig(model_dir=Path("unused"), host="127.0.0.1", port=0, **overrides)  # type: ignore[arg-type]
        server = ThreadServer(config, model)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ProcessServer:
    """The server as its own process, as SageMaker and the benchmark run it."""

    def __init__(self, command: list[str], port: int, cwd: Path = ROOT) -> None:
        self.port = port
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until /ping answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"server exited with {self.process.returncode}: {self.output()}"
                )
            with contextlib.suppress(OSError):
                if request(self.port, "GET", "/ping", timeout=1.0).status == 200:
                    return
            time.sleep(0.05)
        raise AssertionError(f"server not ready in {timeout} s")

    def terminate(self) -> None:
        """SIGTERM the server."""
        self.process.send_signal(signal.SIGTERM)

    def output(self) -> str:
        """Everything the server printed (after it exited)."""
        if self.process.poll() is None:
            return "(still running)"
        assert self.process.stdout is not None
        return self.process.stdout.read().decode(errors="replace")

    def kill(self) -> None:
        """Make sure the process is gone."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def start_process() -> Iterator[Callable[..., ProcessServer]]:
    """Start server processes (``python -m workloads.inference.server ARGS --port <free>``)."""
    started: list[ProcessServer] = []

    def start(*args: str, command: list[str] | None = None) -> ProcessServer:
        port = free_port()
        base = command or [sys.executable, "-m", "workloads.inference.server"]
        server = ProcessServer([*base, *args, "--port", str(port)], port)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()
