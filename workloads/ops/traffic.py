"""Canary traffic on a live endpoint: shift variant weights, promote a canary, roll it back.

All three use UpdateEndpointWeightsAndCapacities, which changes weights in place without a new
endpoint config (so a later ``pulumi up`` restores the weights the stack declares). Weights are
relative: a variant's share of traffic is its weight divided by the sum of all weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from workloads.ops.clients import SageMakerClient, sagemaker_client
from workloads.ops.endpoint import (
    IN_SERVICE,
    WaitPolicy,
    current_weights,
    describe_endpoint,
    wait_until_in_service,
)
from workloads.ops.errors import aws_errors, refuse

if TYPE_CHECKING:
    import boto3

# The weight a promoted canary gets; any positive number gives it all traffic.
PROMOTED_WEIGHT = 1.0
# The weight each remaining variant gets on rollback when the endpoint config gives them none.
EVEN_WEIGHT = 1.0


@dataclass(frozen=True)
class TrafficShift:
    """What a traffic operation changed on one endpoint."""

    endpoint_name: str
    """The endpoint whose weights changed."""
    previous_weights: dict[str, float]
    """Every variant's weight before the change."""
    new_weights: dict[str, float]
    """Every variant's weight as requested."""
    status: str | None
    """``InService`` when the operation waited for the update to finish, else None."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        return asdict(self)


def shift_traffic(
    endpoint_name: str,
    weights: Mapping[str, float],
    *,
    client: SageMakerClient | None = None,
    session: boto3.Session | None = None,
    wait: WaitPolicy | None = None,
) -> TrafficShift:
    """Set the weights of the named variants; variants not named keep their current weight.

    Refuses (``OpsError``, nothing changed) when the endpoint is not InService, a variant is not on
    the endpoint, a weight is negative or not a number, or the resulting weights sum to 0. With
    ``wait``, returns only once the endpoint is InService again.
    """
    sagemaker = sagemaker_client(client, session)
    description = describe_endpoint(sagemaker, endpoint_name)
    return _update_weights(
        sagemaker, endpoint_name, description, dict(weights), "shift traffic", wait
    )


def promote_canary(
    endpoint_name: str,
    canary_variant: str,
    *,
    client: SageMakerClient | None = None,
    session: boto3.Session | None = None,
    wait: WaitPolicy | None = None,
) -> TrafficShift:
    """Send all traffic to ``canary_variant``: its weight becomes positive, every other one 0."""
    sagemaker = sagemaker_client(client, session)
    description = describe_endpoint(sagemaker, endpoint_name)
    weights = {name: 0.0 for name in current_weights(description)}
    weights[canary_variant] = PROMOTED_WEIGHT
    return _update_weights(
        sagemaker,
        endpoint_name,
        description,
        weights,
        f"promote canary '{canary_variant}'",
        wait,
    )


def rollback_canary(
    endpoint_name: str,
    canary_variant: str,
    *,
    client: SageMakerClient | None = None,
    session: boto3.Session | None = None,
    wait: WaitPolicy | None = None,
) -> TrafficShift:
    """Take all traffic off ``canary_variant`` and give it back to the other variants.

    The other variants get the initial weights of the endpoint's current config (what the stack
    declared; SageMaker's default is 1), or equal weights when those are all 0.
    """
    sagemaker = sagemaker_client(client, session)
    description = describe_endpoint(sagemaker, endpoint_name)
    others = [name for name in current_weights(description) if name != canary_variant]
    declared = _declared_weights(sagemaker, description)
    weights = {name: declared.get(name, 0.0) for name in others}
    if sum(weights.values()) <= 0:
        weights = dict.fromkeys(others, EVEN_WEIGHT)
    weights[canary_variant] = 0.0
    return _update_weights(
        sagemaker,
        endpoint_name,
        description,
        weights,
        f"roll back canary '{canary_variant}'",
        wait,
    )


def weight_problems(
    known: Mapping[str, float], requested: Mapping[str, Any], *, partial: bool
) -> list[str]:
    """Every reason ``requested`` weights are unusable for variants ``known`` (name -> weight).

    With ``partial``, variants not requested keep their ``known`` weight when checking the sum;
    otherwise they count as 0.
    """
    problems: list[str] = []
    if not requested:
        return ["no weights given"]
    names = ", ".join(f"'{name}'" for name in known)
    resulting = dict(known) if partial else dict.fromkeys(known, 0.0)
    for name, weight in requested.items():
        if name not in known:
            problems.append(f"unknown variant '{name}' (the endpoint has {names})")
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            problems.append(f"the weight of '{name}' is not a number ({weight!r})")
        elif not math.isfinite(weight):
            problems.append(f"the weight of '{name}' is not a finite number ({weight!r})")
        elif weight < 0:
            problems.append(f"the weight of '{name}' is negative ({weight:g})")
        elif name in known:
            resulting[name] = float(weight)
    positive = [w for w in resulting.values() if math.isfinite(w) and w > 0]
    if not problems and not positive:
        problems.append("the weights sum to 0: at least one variant needs a positive weight")
    return problems


def _declared_weights(sagemaker: SageMakerClient, description: dict[str, Any]) -> dict[str, float]:
    """Each variant's InitialVariantWeight in the endpoint's current config (default 1)."""
    config_name = description["EndpointConfigName"]
    with aws_errors(f"DescribeEndpointConfig '{config_name}'"):
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    return {
        variant["VariantName"]: float(variant.get("InitialVariantWeight", 1.0))
        for variant in config.get("ProductionVariants", [])
    }


def _update_weights(
    sagemaker: SageMakerClient,
    endpoint_name: str,
    description: dict[str, Any],
    weights: dict[str, float],
    action: str,
    wait: WaitPolicy | None,
) -> TrafficShift:
    """Validate ``weights`` against the described endpoint, apply them, optionally wait."""
    previous = current_weights(description)
    problems = []
    status = description.get("EndpointStatus")
    if status != IN_SERVICE:
        problems.append(f"its status is {status}, not InService")
    problems += weight_problems(previous, weights, partial=True)
    refuse(f"Cannot {action} on endpoint '{endpoint_name}'", problems)

    # Only the named variants go in the request: SageMaker leaves the others (and every instance
    # count, which autoscaling may own) as they are.
    with aws_errors(f"UpdateEndpointWeightsAndCapacities on '{endpoint_name}'"):
        sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=endpoint_name,
            DesiredWeightsAndCapacities=[
                {"VariantName": name, "DesiredWeight": float(weight)}
                for name, weight in weights.items()
            ],
        )
    settled = None
    if wait is not None:
        settled = wait_until_in_service(sagemaker, endpoint_name, wait)["EndpointStatus"]
    return TrafficShift(
        endpoint_name=endpoint_name,
        previous_weights=previous,
        new_weights={**previous, **{name: float(w) for name, w in weights.items()}},
        status=settled,
    )
