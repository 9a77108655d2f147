"""Reading what a Kubernetes component recorded under the mocks: its resources of one type."""

from __future__ import annotations

from stacks.offline.mock_runtime import PlanRun, RecordedResource


def of_type(run: PlanRun, type_: str) -> list[RecordedResource]:
    """Every resource of ``type_`` in ``run``, in the order they were registered."""
    return [resource for resource in run.resources if resource.type == type_]


def one(run: PlanRun, type_: str) -> RecordedResource:
    """The one resource of ``type_`` in ``run`` (fails when there are none or several)."""
    (resource,) = of_type(run, type_)
    return resource
