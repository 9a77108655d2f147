"""The serving image's Dockerfile (no Docker engine here: its properties are checked as text)."""

from __future__ import annotations

import re

import pytest

from tests.dockerfiles import instructions


def arguments_of(keyword: str) -> list[str]:
    return [arguments for found, arguments in instructions("serving") if found == keyword]


def test_base_image_is_python_slim_pinned_to_a_version() -> None:
    """Given the Dockerfile, when its FROM is read, then it is python slim pinned to a patch version."""
    [image] = arguments_of("FROM")
    name, _, tag = image.partition(":")
    assert name == "python"
    assert re.fullmatch(r"3\.\d+\.\d+-slim(-\w+)?", tag), tag
    assert "latest" not in image


def test_it_runs_as_a_non_root_user() -> None:
    """Given the Dockerfile, when its USER lines are read, then the server runs as uid 10001."""
    users = arguments_of("USER")
    assert users[-1].split(":")[0] == "10001"
    assert not any(user.split(":")[0] in ("0", "root") for user in users)
    assert any("useradd --uid 10001" in run for run in arguments_of("RUN"))


def test_torch_cpu_is_pinned_and_installed_before_the_project() -> None:
    """Given the Dockerfile, when its RUN lines are read, then CPU torch 2.13.0 comes before the project."""
    runs = arguments_of("RUN")
    torch = next(i for i, run in enumerate(runs) if "torch==2.13.0" in run)
    project = next(i for i, run in enumerate(runs) if "[workloads]" in run)
    assert torch < project
    assert "/whl/cpu" in runs[torch]


def test_serve_is_on_path_and_runs_the_server_on_8080() -> None:
    """Given the Dockerfile, then `serve` on PATH runs the server on 0.0.0.0:8080 with /opt/ml/model."""
    assert arguments_of("EXPOSE") == ["8080"]
    assert arguments_of("CMD") == ['["serve"]']
    assert any(
        "/usr/local/bin/serve" in run and "exec ml-platform-serve --host 0.0.0.0" in run
        for run in arguments_of("RUN")
    )
    assert "SM_MODEL_DIR=/opt/ml/model" in arguments_of("ENV")


@pytest.mark.parametrize(
    "word", ["SECRET", "PASSWORD", "TOKEN", "ACCESS_KEY", "CREDENTIAL", "PRIVATE"]
)
def test_no_secrets_are_baked_in(word: str) -> None:
    """Given the Dockerfile, then no ENV, ARG or LABEL carries a secret and nothing is fetched by ADD."""
    for keyword in ("ENV", "ARG", "LABEL"):
        for arguments in arguments_of(keyword):
            assert word not in arguments.upper()
    assert not arguments_of("ADD")  # COPY only: nothing fetched from URLs at build time
