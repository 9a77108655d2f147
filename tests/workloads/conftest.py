"""Fixtures the workload tests share."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def usual_umask() -> Iterator[int]:
    """The process runs under umask 022 (a login shell's and a container's usual one)."""
    previous = os.umask(0o022)
    try:
        yield 0o022
    finally:
        os.umask(previous)


def mode_of(path: Path) -> int:
    """A file's permission bits (``0o644``)."""
    return stat.S_IMODE(path.stat().st_mode)
