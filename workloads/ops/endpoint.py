"""A SageMaker endpoint as DescribeEndpoint reports it, and waiting for it to settle."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from workloads.ops.clients import SageMakerClient
from workloads.ops.errors import NotFound, OpsError, error_code, error_message, failed

IN_SERVICE = "InService"
# Statuses an endpoint leaves on its own; everything else (InService, Failed, OutOfService,
# UpdateRollbackFailed) is where it stays until someone acts.
TRANSITIONAL_STATUSES = frozenset(
    {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"}
)


@dataclass(frozen=True)
class WaitPolicy:
    """How long to wait for an endpoint to settle, and how (the clock and sleep are injectable)."""

    timeout_s: float = 1800.0
    """Give up after this many seconds (default 30 minutes, SageMaker's usual update time)."""
    poll_s: float = 15.0
    """Seconds between DescribeEndpoint calls (default 15)."""
    sleep: Callable[[float], None] = time.sleep
    """Called to pause between polls (default ``time.sleep``)."""
    clock: Callable[[], float] = time.monotonic
    """A monotonic clock in seconds (default ``time.monotonic``)."""


def describe_endpoint(client: SageMakerClient, endpoint_name: str) -> dict[str, Any]:
    """DescribeEndpoint, with a missing endpoint reported as ``NotFound`` naming it."""
    try:
        return dict(client.describe_endpoint(EndpointName=endpoint_name))
    except ClientError as error:
        if error_code(error) == "ValidationException" and "Could not find" in error_message(error):
            raise NotFound(
                f"Endpoint '{endpoint_name}' not found", f"endpoint '{endpoint_name}' not found"
            ) from error
        raise failed(f"DescribeEndpoint '{endpoint_name}'", error) from error


def current_weights(description: dict[str, Any]) -> dict[str, float]:
    """Each variant's current weight, in the endpoint's variant order.

    A variant without ``CurrentWeight`` counts as 0: moto drops a weight of 0 it was created with.
    """
    weights: dict[str, float] = {}
    for variant in description.get("ProductionVariants", []):
        weight = variant.get("CurrentWeight", variant.get("DesiredWeight", 0.0))
        weights[variant["VariantName"]] = float(weight)
    return weights


def wait_until_settled(
    client: SageMakerClient, endpoint_name: str, policy: WaitPolicy
) -> dict[str, Any]:
    """Poll DescribeEndpoint until the status is no longer transitional; the last description.

    Raises ``OpsError`` when the endpoint is still transitional after ``policy.timeout_s``.
    """
    deadline = policy.clock() + policy.timeout_s
    while True:
        description = describe_endpoint(client, endpoint_name)
        status = description.get("EndpointStatus")
        if status not in TRANSITIONAL_STATUSES:
            return description
        if policy.clock() >= deadline:
            raise OpsError(
                f"Endpoint '{endpoint_name}' is still {status} after {policy.timeout_s:g} s"
            )
        policy.sleep(policy.poll_s)


def wait_until_in_service(
    client: SageMakerClient, endpoint_name: str, policy: WaitPolicy
) -> dict[str, Any]:
    """Wait until the endpoint settles and insist that it settled InService."""
    description = wait_until_settled(client, endpoint_name, policy)
    status = description.get("EndpointStatus")
    if status != IN_SERVICE:
        reason = description.get("FailureReason")
        raise OpsError(
            f"Endpoint '{endpoint_name}' is {status}, not InService"
            + (f": {reason}" if reason else "")
        )
    return description
