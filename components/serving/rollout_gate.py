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

After a verified rollout the gate reaps: :func:`workloads.ops.reaper.reap_retired` deletes the
endpoint's retired configurations (named ``<config_prefix>-<hex>``) but the newest
``keep_retired_configs``, and the models only they referenced. The stack retains configurations
and models (``retain_on_delete``) so that Pulumi never deletes what a rolled-back endpoint runs
on; the reaper is what deletes them, only once no endpoint uses them. A failed check never reaps.
The reaper's own failure does not fail ``pulumi up`` (the rollout it follows was verified): its
one-line message becomes the gate's ``reap_warning`` output and is written to the provider's
stderr (``pulumi.log`` is not available in a dynamic provider's process).

It needs boto3 and the deployer's AWS credentials at deploy time (DescribeEndpoint and
DescribeAlarms; ListEndpoints, ListEndpointConfigs, DescribeEndpointConfig, DeleteEndpointConfig
and DeleteModel to reap), like pulumi-aws itself; under the offline mock runtime it is only
recorded.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from components.serving.deploy_check import DeployCheck
from components.serving.spec import RolloutConfig, ServingEndpointConfig
from workloads.ops.endpoint import WaitPolicy
from workloads.ops.errors import OpsError
from workloads.ops.reaper import reap_retired
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
    "config_prefix",
    "keep_retired_configs",
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


def verify(props: Mapping[str, Any]) -> dict[str, Any]:
    """Run the rollout check for the gate's inputs, then reap; the gate's outputs (not inputs).

    Raises the check's ``OpsError`` when the rollout is not verified (nothing is reaped then).
    """
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
    return {"verified_config_name": outcome.endpoint_config_name, **reap(props, sagemaker)}


def reap(props: Mapping[str, Any], sagemaker: Any) -> dict[str, Any]:
    """Reap the endpoint's retired configurations and models; the gate's reaping outputs.

    Nothing (and no outputs) when the gate has no ``config_prefix``. A failure of the reaper is
    not raised: it becomes ``reap_warning`` and a line on stderr, and nothing is reported deleted
    (its message names what was deleted before the failure).
    """
    prefix = props.get("config_prefix")
    if not prefix:
        return {}
    endpoint = props["endpoint_name"]
    try:
        result = reap_retired(
            endpoint, prefix, int(props["keep_retired_configs"]), sagemaker=sagemaker
        )
    except Exception as error:  # a failed reaping must not fail the verified rollout
        warning = str(error) if isinstance(error, OpsError) else f"{type(error).__name__}: {error}"
        warning = " ".join(warning.split())
        print(f"warning: {warning}", file=sys.stderr, flush=True)
        return {"reaped_configs": [], "reaped_models": [], "reap_warning": warning}
    warning = None
    if result.models_skipped:
        warning = f"Reaping retired configs of endpoint '{endpoint}': {result.models_skipped}"
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    return {
        "reaped_configs": list(result.deleted_configs),
        "reaped_models": list(result.deleted_models),
        "reap_warning": warning,
    }


class RolloutGateProvider(DeployCheck):
    """The dynamic provider behind :class:`RolloutGate` (see the module docstring).

    On create it checks the endpoint's first rollout (and reaps what earlier stacks left); on
    every change of the expected config or another input, the rollout that update started.
    """

    INPUTS = INPUTS
    ID_INPUT = "endpoint_name"

    def check(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """Verify the rollout, then reap the configurations it retired (:func:`verify`)."""
        return verify(props)


class RolloutGate(pulumi.dynamic.Resource, module="serving", name="RolloutGate"):
    """Fails the deployment unless the endpoint kept the configuration this update set."""

    verified_config_name: pulumi.Output[str]
    """The configuration the endpoint was verified to run."""
    reaped_configs: pulumi.Output[list[str]]
    """The retired configurations the last verified rollout's reaping deleted."""
    reaped_models: pulumi.Output[list[str]]
    """The models it deleted (only deleted configurations referenced them)."""
    reap_warning: pulumi.Output[str | None]
    """Why that reaping failed or deleted no model, or None."""

    def __init__(
        self,
        name: str,
        *,
        endpoint_name: pulumi.Input[str],
        expected_config_name: pulumi.Input[str],
        region: str,
        alarm_names: Sequence[pulumi.Input[str]],
        timeout_seconds: int,
        config_prefix: str,
        keep_retired_configs: int,
        poll_seconds: int = POLL_SECONDS,
        opts: pulumi.ResourceOptions,
    ) -> None:
        """Gate the endpoint ``endpoint_name``; ``opts`` should depend on its Endpoint.

        ``config_prefix`` is the name its configurations are auto-named from; after a verified
        rollout the newest ``keep_retired_configs`` retired ones are kept, older ones reaped.
        """
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
                "config_prefix": config_prefix,
                "keep_retired_configs": keep_retired_configs,
                "verified_config_name": None,
                "reaped_configs": None,
                "reaped_models": None,
                "reap_warning": None,
            },
            opts,
        )
