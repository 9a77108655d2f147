"""Shared fixtures: the one recording mock runtime, run over the real stack files."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.offline.mock_runtime import PlanRun, RecordedResource, flatten_stack_file, run_offline
from tests.service_models import SKIPPED_PATTERNS, StrictRequests

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "prod")


def stack_file(stack: str) -> dict[str, Any]:
    """The ``config:`` mapping of ``Pulumi.<stack>.yaml`` as written (a fresh copy each call)."""
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


def stack_config(stack: str) -> dict[str, str]:
    """The flat config of ``Pulumi.<stack>.yaml`` as the engine passes it to the program."""
    return flatten_stack_file({"config": stack_file(stack)})


def write_baseline(folder: Path, features: dict[str, str] | None = None) -> Path:
    """A baseline folder in Model Monitor's shape (statistics, constraints) plus a sample file.

    ``features`` maps names to inferred types (default: two inputs and the prediction).
    """
    features = features or {"tenure": "Integral", "plan": "String", "prediction": "Fractional"}
    folder.mkdir(parents=True, exist_ok=True)
    statistics = {
        "version": 0.0,
        "dataset": {"item_count": 100},
        "features": [
            {"name": name, "inferred_type": kind, "numerical_statistics": {"common": {}}}
            for name, kind in features.items()
        ],
    }
    constraints = {
        "version": 0.0,
        "features": [
            {"name": name, "inferred_type": kind, "completeness": 1.0}
            for name, kind in features.items()
        ],
        "monitoring_config": {"evaluate_constraints": "Enabled"},
    }
    (folder / "statistics.json").write_text(json.dumps(statistics))
    (folder / "constraints.json").write_text(json.dumps(constraints))
    (folder / "baseline.npz").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
    return folder


def with_section(flat: dict[str, str], key: str, value: Any) -> dict[str, str]:
    """A copy of a flat config with one ``ml-platform:<key>`` replaced (objects as JSON)."""
    changed = dict(flat)
    changed[f"ml-platform:{key}"] = value if isinstance(value, str) else json.dumps(value)
    return changed


class Plan:
    """Query helpers over one offline run."""

    def __init__(self, run: PlanRun, resources: list[RecordedResource] | None = None) -> None:
        self.run = run
        self.resources = run.resources if resources is None else resources
        self.by_urn = {resource.urn: resource for resource in self.resources}

    def layer(self, name: str) -> Plan:
        """The same run seen through one layer: its component and everything below it."""
        (component,) = [r for r in self.resources if r.parent is None and r.name == name]
        return Plan(self.run, [component, *self.descendants(component)])

    def of_type(self, type_: str) -> list[RecordedResource]:
        """Every resource of one type token."""
        return [resource for resource in self.resources if resource.type == type_]

    def named(self, name: str) -> RecordedResource:
        """The one resource with this logical name."""
        matches = [resource for resource in self.resources if resource.name == name]
        assert len(matches) == 1, f"{len(matches)} resources named {name!r}"
        return matches[0]

    def children(
        self, parent: RecordedResource, type_: str | None = None
    ) -> list[RecordedResource]:
        """Direct children of ``parent``, optionally of one type."""
        return [
            resource
            for resource in self.resources
            if resource.parent == parent.urn and (type_ is None or resource.type == type_)
        ]

    def descendants(self, ancestor: RecordedResource) -> list[RecordedResource]:
        """Everything below ``ancestor`` in the resource tree."""
        found, frontier = [], [ancestor.urn]
        while frontier:
            urn = frontier.pop()
            for resource in self.resources:
                if resource.parent == urn:
                    found.append(resource)
                    frontier.append(resource.urn)
        return found


@pytest.fixture(scope="session")
def plans() -> dict[str, Plan]:
    """The offline plan of every stack file, run once per test session."""
    return {stack: Plan(run_offline(stack, stack_config(stack))) for stack in STACKS}


@pytest.fixture(params=STACKS)
def plan(request: pytest.FixtureRequest, plans: dict[str, Plan]) -> Iterator[Plan]:
    """Each stack's plan in turn (tests using it run for dev and for prod)."""
    yield plans[request.param]


@pytest.fixture
def run_stack() -> Callable[[str, dict[str, str]], Plan]:
    """Run the program for a stack name and an arbitrary flat config."""
    return lambda stack, flat: Plan(run_offline(stack, flat))


@pytest.fixture
def registered_types(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The type of every resource the mock runtime registers during the test, in order."""
    from stacks.offline import mock_runtime

    types: list[str] = []
    original = mock_runtime.RecordingMonitor.RegisterResource

    def spy(self: Any, request: Any) -> Any:
        types.append(request.type)
        return original(self, request)

    monkeypatch.setattr(mock_runtime.RecordingMonitor, "RegisterResource", spy)
    return types


@pytest.fixture(autouse=True)
def strict_requests() -> Iterator[StrictRequests]:
    """Every botocore call of every test (moto, Stubber) checked against its service model.

    The checks botocore skips (max, enums, patterns) run after its own; a refused call fails the
    test even when the code under test caught the error.
    """
    checks = StrictRequests()
    checks.install()
    try:
        yield checks
    finally:
        checks.uninstall()
    if (report := checks.report()) is not None:
        pytest.fail(report, pytrace=False)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Count and list the model patterns the strict checks met but could not check."""
    if SKIPPED_PATTERNS:
        terminalreporter.section("service-model patterns not checked")
        terminalreporter.write_line(f"{len(SKIPPED_PATTERNS)} pattern(s), each with its reason:")
        for pattern, reason in sorted(SKIPPED_PATTERNS.items()):
            terminalreporter.write_line(f"  {pattern[:100]}: {reason}")
