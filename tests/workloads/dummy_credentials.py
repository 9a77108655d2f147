"""Dummy AWS credentials for tests: nothing is read from ~/.aws and nothing reaches AWS."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def use_dummy_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, region: str | None = None
) -> None:
    """Set dummy keys (and ``region`` as the default), hiding profiles, tokens and endpoints."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    if region is not None:
        monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


def use_no_aws_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No region and no credentials anywhere boto looks (environment, files, instance metadata)."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def run_without_aws(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run ``python argv...`` as a child process with no AWS region or credentials (text out)."""
    return subprocess.run(
        [sys.executable, *argv],
        capture_output=True,
        text=True,
        env=environment_without_aws(tmp_path),
        check=False,
        timeout=120,
    )


def environment_without_aws(tmp_path: Path) -> dict[str, str]:
    """The environment for a child process: this one's, with no AWS region or credentials."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    return environment | {
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
