"""RolloutGate: fail ``pulumi up`` when SageMaker did not keep an endpoint update.

SageMaker rolls an endpoint update back on its own (a blue/green canary whose alarm fired, or an
update that failed), and the Terraform-bridged ``aws.sagemaker.Endpoint`` then still reports
success (hashicorp/terraform-provider-aws#48997): ``pulumi up`` would finish while the endpoint
runs the old configuration. The :class:`~components.serving.endpoint.ServingEndpoint` therefore
puts this resource (a Pulumi dynamic provider) after each Endpoint. Whenever the configuration the
update set changes, it runs :func:`workloads.ops.rollout_gate.check_rollout`: it waits until the
endpoint is no longer transitional and fails the deployment, naming the endpoint, the config it
kept, the reason and the rollout alarms in ALARM, unless the endpoint is InService on the expected
config with no FailureReason. A failed check leaves the gate's recorded inputs as they were, so
the next ``pulumi up`` checks again.

It needs boto3 and the deployer's AWS credentials at deploy time (DescribeEndpoint and
DescribeAlarms), like pulumi-aws itself; under the offline mock runtime it is only recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from components.serving.spec import RolloutConfig, ServingEndpointConfig
from workloads.ops.endpoint import WaitPolicy
from workloads.ops.rollout_gate import check_rollout

#: How long the gate waits for an endpoint without a bounded blue/green rollout.
DEFAULT_TIMEOUT_SECONDS = 3600
#: Added to a rollout's own duration for provisioning the new fleet and the final checks.
TIMEOUT_MARGIN_SECONDS = 900
POLL_SECONDS = 15

#: The gate's inputs; everything else in its state is the provider's or an output.
INPUTS = (
    "endpoint_name",
    "expected_config_name",
    "region",
    "alarm_names",
    "timeout_seconds",
    "poll_seconds",
)


def gate_timeout_seconds(spec: ServingEndpointConfig) -> int:
    """How long the gate waits for ``spec``'s endpoint to settle.

    A blue/green rollout with ``maximum_execution_timeout_seconds`` gets that bound plus
    :data:`TIMEOUT_MARGIN_SECONDS`; other endpoints :data:`DEFAULT_TIMEOUT_SECONDS`, or longer
    when their rollout's traffic shifts and baking period take longer than that.
    """
    if spec.is_serverless:
        return DEFAULT_TIMEOUT_SECONDS
    rollout = spec.rollout
    if rollout.maximum_execution_timeout_seconds is not None:
        return rollout.maximum_execution_timeout_seconds + TIMEOUT_MARGIN_SECONDS
    return max(DEFAULT_TIMEOUT_SECONDS, _rollout_seconds(rollout) + TIMEOUT_MARGIN_SECONDS)


def _rollout_seconds(rollout: RolloutConfig) -> int:
    """The waits of a blue/green rollout: one per traffic shift, then the baking period."""
    shifts = {"ALL_AT_ONCE": 0, "CANARY": 1, "LINEAR": -(-100 // rollout.step_percent)}
    return shifts[rollout.strategy] * rollout.wait_interval_seconds + rollout.baking_period_seconds


def aws_clients(region: str) -> tuple[Any, Any]:
    """SageMaker and CloudWatch clients for ``region`` with the deployer's credentials.

    boto3 is imported here, lazily: only deploys that run a gate need it.
    """
    import boto3

    return boto3.client("sagemaker", region_name=region), boto3.client(
        "cloudwatch", region_name=region
    )


def verify(props: Mapping[str, Any]) -> str:
    """Run the rollout check for the gate's inputs; the verified config name."""
    sagemaker, cloudwatch = aws_clients(props["region"])
    outcome = check_rollout(
        props["endpoint_name"],
        props["expected_config_name"],
        list(props.get("alarm_names") or []),
        sagemaker=sagemaker,
        cloudwatch=cloudwatch,
        wait=WaitPolicy(
            timeout_s=float(props["timeout_seconds"]), poll_s=float(props["poll_seconds"])
        ),
    )
    return outcome.endpoint_config_name


def _inputs(props: Mapping[str, Any]) -> dict[str, Any]:
    return {key: props.get(key) for key in INPUTS}


class RolloutGateProvider(ResourceProvider):
    """The dynamic provider behind :class:`RolloutGate` (see the module docstring)."""

    # Nothing secret is captured, so the serialized provider need not be stored as a secret.
    serialize_as_secret_always = False

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Check the endpoint's first rollout."""
        verified = verify(props)
        return CreateResult(
            id_=props["endpoint_name"], outs={**_inputs(props), "verified_config_name": verified}
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """A change (so a new check) whenever the expected config or another input changes."""
        return DiffResult(
            changes=_inputs(olds) != _inputs(news), replaces=[], delete_before_replace=False
        )

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Check the rollout this update started."""
        verified = verify(news)
        return UpdateResult(outs={**_inputs(news), "verified_config_name": verified})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to do: the gate owns nothing in AWS."""


class RolloutGate(pulumi.dynamic.Resource, module="serving", name="RolloutGate"):
    """Fails the deployment unless the endpoint kept the configuration this update set."""

    verified_config_name: pulumi.Output[str]
    """The configuration the endpoint was verified to run."""

    def __init__(
        self,
        name: str,
        *,
        endpoint_name: pulumi.Input[str],
        expected_config_name: pulumi.Input[str],
        region: str,
        alarm_names: Sequence[pulumi.Input[str]],
        timeout_seconds: int,
        poll_seconds: int = POLL_SECONDS,
        opts: pulumi.ResourceOptions,
    ) -> None:
        """Gate the endpoint ``endpoint_name``; ``opts`` should depend on its Endpoint."""
        super().__init__(
            RolloutGateProvider(),
            name,
            {
                "endpoint_name": endpoint_name,
                "expected_config_name": expected_config_name,
                "region": region,
                "alarm_names": list(alarm_names),
                "timeout_seconds": timeout_seconds,
                "poll_seconds": poll_seconds,
                "verified_config_name": None,
            },
            opts,
        )
