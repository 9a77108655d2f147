"""The check to run after ``pulumi up``: the endpoint serves what the stack just deployed.

SageMaker rolls a failed endpoint update back on its own and the endpoint returns to InService on
the previous config, so "InService" alone proves nothing: the config name must match too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workloads.ops.clients import SageMakerClient, sagemaker_client
from workloads.ops.endpoint import (
    IN_SERVICE,
    WaitPolicy,
    current_weights,
    describe_endpoint,
    wait_until_settled,
)
from workloads.ops.errors import refuse
from workloads.ops.traffic import weight_problems

if TYPE_CHECKING:
    import boto3

# Shares are compared to 0.01 percentage points: weights are floats, shares are ratios of them.
SHARE_TOLERANCE = 1e-4


@dataclass(frozen=True)
class VerificationResult:
    """What DescribeEndpoint showed, and every way it differs from what was expected."""

    endpoint_name: str
    """The endpoint checked."""
    status: str
    """Its EndpointStatus."""
    endpoint_config_name: str
    """The endpoint config it is serving now."""
    weights: dict[str, float]
    """Each variant's current weight."""
    problems: tuple[str, ...]
    """One sentence per problem; empty when the deployment is as expected."""
    failure_reason: str | None = None
    """The endpoint's FailureReason, when DescribeEndpoint reports one."""

    @property
    def ok(self) -> bool:
        """True when there are no problems."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields and ``ok``."""
        return {
            "endpoint_name": self.endpoint_name,
            "ok": self.ok,
            "status": self.status,
            "endpoint_config_name": self.endpoint_config_name,
            "weights": self.weights,
            "problems": list(self.problems),
        }


def verify_deployment(
    endpoint_name: str,
    expected_config_name: str | None = None,
    expected_weights: Mapping[str, float] | None = None,
    *,
    client: SageMakerClient | None = None,
    session: boto3.Session | None = None,
    wait: WaitPolicy | None = None,
) -> VerificationResult:
    """Check an endpoint after a deployment and list every problem found.

    Checks: status InService; no FailureReason; ``EndpointConfigName`` equal to
    ``expected_config_name`` (when given); each variant's share of traffic (weight / sum) equal to
    its share in ``expected_weights`` (when given; variants left out are expected at 0). With
    ``wait``, first waits for an endpoint that is still Creating/Updating to settle. Raises
    ``OpsError`` for unusable expected weights or an endpoint that does not exist.
    """
    if expected_weights is not None:
        # The expected weights are checked against their own names: any name is "known" here.
        refuse(
            f"Cannot verify endpoint '{endpoint_name}'",
            weight_problems(dict.fromkeys(expected_weights, 0.0), expected_weights, partial=False),
        )
    sagemaker = sagemaker_client(client, session)
    if wait is not None:
        description = wait_until_settled(sagemaker, endpoint_name, wait)
    else:
        description = describe_endpoint(sagemaker, endpoint_name)

    status = str(description.get("EndpointStatus"))
    config_name = str(description.get("EndpointConfigName"))
    weights = current_weights(description)
    problems: list[str] = []
    if status != IN_SERVICE:
        problems.append(f"status is {status}, expected InService")
    if reason := description.get("FailureReason"):
        problems.append(f"failure reason: {reason}")
    if expected_config_name is not None and config_name != expected_config_name:
        problems.append(
            f"endpoint config is '{config_name}', expected '{expected_config_name}'"
            " (SageMaker may have rolled the update back)"
        )
    if expected_weights is not None:
        problems += _share_problems(weights, expected_weights)
    return VerificationResult(
        endpoint_name=endpoint_name,
        status=status,
        endpoint_config_name=config_name,
        weights=weights,
        problems=tuple(problems),
        failure_reason=str(description["FailureReason"])
        if description.get("FailureReason")
        else None,
    )


def _share_problems(actual: Mapping[str, float], expected: Mapping[str, float]) -> list[str]:
    """One sentence per variant whose share of traffic differs from the expected share."""
    problems = [
        f"variant '{name}' is expected but not on the endpoint"
        for name in expected
        if name not in actual
    ]
    actual_total = sum(actual.values())
    if actual_total <= 0:
        return [*problems, "the endpoint reports no positive variant weight"]
    expected_total = sum(expected.values())
    for name, weight in actual.items():
        share = weight / actual_total
        wanted = expected.get(name, 0.0) / expected_total
        if not math.isclose(share, wanted, rel_tol=0.0, abs_tol=SHARE_TOLERANCE):
            problems.append(
                f"variant '{name}' carries {share * 100:.4g}% of traffic,"
                f" expected {wanted * 100:.4g}%"
            )
    return problems
