"""Fixtures for the shared optimization code's tests: the fake "countdown" kind installed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.workloads.optimization import fake_problem
from workloads.optimization import problems


@pytest.fixture
def countdown() -> Iterator[object]:
    """``problem_module("countdown")`` is the fake kind while the test runs."""
    original = fake_problem.install()
    try:
        yield fake_problem
    finally:
        problems.problem_module = original  # type: ignore[assignment]
