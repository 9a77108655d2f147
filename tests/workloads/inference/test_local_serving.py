"""The README's "serve a model locally" flow, end to end: a few lines of sklearn, save, serve, curl."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.workloads.inference.conftest import ProcessServer, free_port

ROOT = Path(__file__).resolve().parents[3]


def readme_block(language: str) -> str:
    """The first ``language`` code block of docs/serving.md's "Serve a model locally" section."""
    section = (ROOT / "docs/serving.md").read_text().split("## Serve a model locally", 1)[1]
    return section.split(f"```{language}\n", 1)[1].split("```", 1)[0]


# The page's snippet, read from the page so the two cannot drift apart.
TRAIN_AND_SAVE = readme_block("python")


def test_the_readme_serves_with_the_console_script_this_test_runs() -> None:
    commands = readme_block("sh")
    assert ".venv/bin/ml-platform-serve --model-dir models/iris" in commands
    assert "-d '[[5.1, 3.5, 1.4, 0.2]]'" in commands
    assert '# {"predictions": [0]}' in commands


def post(port: int, body: bytes, content_type: str, accept: str = "*/*") -> tuple[int, str, bytes]:
    """What the README's curl does."""
    call = urllib.request.Request(
        f"http://localhost:{port}/invocations",
        data=body,
        headers={"Content-Type": content_type, "Accept": accept},
    )
    with urllib.request.urlopen(call, timeout=10) as answer:
        return answer.status, answer.headers["Content-Type"], answer.read()


def test_a_few_lines_of_sklearn_served_with_the_console_script(tmp_path: Path) -> None:
    # given the README's training snippet, run in a fresh directory
    subprocess.run([sys.executable, "-c", TRAIN_AND_SAVE], cwd=tmp_path, check=True)
    assert sorted(p.name for p in (tmp_path / "models/iris").iterdir()) == [
        "metadata.json",
        "model.joblib",
    ]
    # when the model is served with the console script
    script = Path(sys.executable).parent / "ml-platform-serve"
    assert script.exists(), (
        "the ml-platform-serve console script is installed by `make` (pip install -e)"
    )
    port = free_port()
    server = ProcessServer(
        [str(script), "--model-dir", "models/iris", "--port", str(port)], port, cwd=tmp_path
    )
    try:
        server.wait_ready()
        # then the README's curl gets the prediction, in JSON and in CSV
        status, content_type, body = post(port, b"[[5.1, 3.5, 1.4, 0.2]]", "application/json")
        assert (status, content_type, json.loads(body)) == (
            200,
            "application/json",
            {"predictions": [0]},
        )
        status, content_type, body = post(
            port, b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3", "text/csv", "text/csv"
        )
        assert (status, content_type, body) == (200, "text/csv", b"0\n2\n")
        # and Ctrl-C stops it cleanly
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(30) == 0
    finally:
        server.kill()
