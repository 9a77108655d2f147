"""Fixtures shared by the monitor's tests that call AWS (through moto)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from tests.workloads.dummy_credentials import use_dummy_credentials

#: The region the mocked clients use.
REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Dummy credentials and region in the environment (nothing from ~/.aws) and moto's mock."""
    use_dummy_credentials(monkeypatch, tmp_path, REGION)
    with mock_aws():
        yield
