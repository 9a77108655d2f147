"""The rollout gate: fail a deployment whose endpoint update SageMaker did not keep.

When SageMaker rolls an endpoint update back (a blue/green canary whose alarm fired, or an update
that failed), the Terraform-bridged provider still reports success
(hashicorp/terraform-provider-aws#48997), so ``pulumi up`` "succeeds" while the endpoint runs the
old config. :func:`check_rollout` is the check the stack's ``RolloutGate`` runs after each
Endpoint: it waits for the endpoint to settle, verifies it with
:func:`~workloads.ops.verify.verify_deployment` and raises ``OpsError`` with one line naming the
endpoint, the config it kept, the reason and the rollout alarms in ALARM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from workloads.ops.endpoint import WaitPolicy
from workloads.ops.errors import OpsError
from workloads.ops.verify import VerificationResult, verify_deployment

#: DescribeAlarms takes at most 100 alarm names (and returns at most 100 records) per call.
ALARM_NAMES_PER_CALL = 100
ROLLED_BACK = "rolled back"


@dataclass(frozen=True)
class RolloutOutcome:
    """A verified rollout: the endpoint is InService on the config the update set."""

    endpoint_name: str
    """The endpoint checked."""
    endpoint_config_name: str
    """The config it runs (the expected one)."""
    status: str
    """Its EndpointStatus (InService)."""


def check_rollout(
    endpoint_name: str,
    expected_config_name: str,
    alarm_names: Sequence[str],
    *,
    sagemaker: Any,
    cloudwatch: Any,
    wait: WaitPolicy,
) -> RolloutOutcome:
    """Wait for ``endpoint_name`` to settle and insist it runs ``expected_config_name``.

    Raises ``OpsError`` when the endpoint is not InService, has a FailureReason or runs another
    config (SageMaker rolled the update back); the message names the endpoint, the config it kept,
    the reason and which of ``alarm_names`` are in ALARM. Also raises when the endpoint is still
    transitional after ``wait.timeout_s`` (naming its status and the timeout) or does not exist.
    """
    result = verify_deployment(endpoint_name, expected_config_name, client=sagemaker, wait=wait)
    if result.ok:
        return RolloutOutcome(endpoint_name, result.endpoint_config_name, result.status)
    raise OpsError(
        f"Rollout of endpoint '{endpoint_name}' not verified: it is {result.status} on config "
        f"'{result.endpoint_config_name}' (this update set '{expected_config_name}'); "
        f"reason: {_reason(result, expected_config_name)}; "
        f"{_alarms_in_alarm(cloudwatch, alarm_names)}"
    )


def _reason(result: VerificationResult, expected_config_name: str) -> str:
    """The FailureReason (on one line), else "rolled back", else the unexpected status."""
    if result.failure_reason:
        return " ".join(result.failure_reason.split())
    if result.endpoint_config_name != expected_config_name:
        return ROLLED_BACK
    return f"status is {result.status}, expected InService"


def _alarms_in_alarm(cloudwatch: Any, alarm_names: Sequence[str]) -> str:
    """Which rollout alarms are in ALARM, as the message's last clause."""
    if not alarm_names:
        return "no rollout alarms are configured"
    try:
        firing = firing_alarms(cloudwatch, alarm_names)
    except (ClientError, BotoCoreError) as error:
        return f"rollout alarms unknown (DescribeAlarms failed: {error})"
    if not firing:
        return "no rollout alarm fired"
    return f"rollout alarms in ALARM: {', '.join(firing)}"


def firing_alarms(cloudwatch: Any, alarm_names: Sequence[str]) -> list[str]:
    """The names among ``alarm_names`` that CloudWatch reports in ALARM, in the given order."""
    names = list(dict.fromkeys(alarm_names))
    firing: set[str] = set()
    for start in range(0, len(names), ALARM_NAMES_PER_CALL):
        response = cloudwatch.describe_alarms(
            AlarmNames=names[start : start + ALARM_NAMES_PER_CALL],
            AlarmTypes=["MetricAlarm", "CompositeAlarm"],
            StateValue="ALARM",
            MaxRecords=ALARM_NAMES_PER_CALL,
        )
        for kind in ("MetricAlarms", "CompositeAlarms"):
            firing.update(alarm["AlarmName"] for alarm in response.get(kind, []))
    return [name for name in names if name in firing]
