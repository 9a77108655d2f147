"""check_rollout: the rollout gate passes only an endpoint that kept the update.

given DescribeEndpoint and DescribeAlarms answers stubbed with botocore's Stubber (every request
and response validated against botocore's service models) / when the gate checks the rollout /
then a settled endpoint on the expected config passes, and a rollback, a failed update or an
endpoint still updating at the timeout fails with one line naming the endpoint, the config it
kept, the reason and the rollout alarms in ALARM.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.workloads.dummy_credentials import use_dummy_credentials
from tests.workloads.ops.conftest import ACCOUNT, REGION, FakeClock
from workloads.ops.endpoint import WaitPolicy
from workloads.ops.errors import OpsError
from workloads.ops.rollout_gate import RolloutOutcome, check_rollout

ENDPOINT = "mlp-prod-churn"
NEW_CONFIG = "mlp-prod-churn-config-b2c3d4e"
OLD_CONFIG = "mlp-prod-churn-config-a1b2c3d"
ALARMS = ["mlp-prod-churn-blue-5xx", "mlp-prod-churn-blue-latency-p99"]
ALARM_TYPES = ["MetricAlarm", "CompositeAlarm"]


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """SageMaker and CloudWatch clients whose every call must be stubbed (and is validated)."""
    use_dummy_credentials(monkeypatch, tmp_path, REGION)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    with Stubber(sagemaker) as sagemaker_stub, Stubber(cloudwatch) as cloudwatch_stub:
        yield sagemaker_stub, cloudwatch_stub
        sagemaker_stub.assert_no_pending_responses()
        cloudwatch_stub.assert_no_pending_responses()


def described(status: str, config: str, failure_reason: str | None = None) -> dict[str, Any]:
    """A DescribeEndpoint response."""
    response: dict[str, Any] = {
        "EndpointName": ENDPOINT,
        "EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT}",
        "EndpointConfigName": config,
        "EndpointStatus": status,
        "CreationTime": datetime(2026, 12, 1, tzinfo=UTC),
        "LastModifiedTime": datetime(2026, 12, 7, tzinfo=UTC),
    }
    if failure_reason:
        response["FailureReason"] = failure_reason
    return response


def expect_describe(stub: Stubber, *responses: dict[str, Any]) -> None:
    for response in responses:
        stub.add_response("describe_endpoint", response, {"EndpointName": ENDPOINT})


def expect_alarms(stub: Stubber, firing: list[str]) -> None:
    stub.add_response(
        "describe_alarms",
        {
            "MetricAlarms": [
                {"AlarmName": name, "StateValue": "ALARM", "StateReason": "Threshold Crossed"}
                for name in firing
            ],
            "CompositeAlarms": [],
        },
        {
            "AlarmNames": ALARMS,
            "AlarmTypes": ALARM_TYPES,
            "StateValue": "ALARM",
            "MaxRecords": 100,
        },
    )


def check(clients: tuple[Stubber, Stubber], clock: FakeClock | None = None) -> RolloutOutcome:
    clock = clock or FakeClock()
    sagemaker_stub, cloudwatch_stub = clients
    return check_rollout(
        ENDPOINT,
        NEW_CONFIG,
        ALARMS,
        sagemaker=sagemaker_stub.client,
        cloudwatch=cloudwatch_stub.client,
        wait=WaitPolicy(timeout_s=600, poll_s=15, sleep=clock.sleep, clock=clock),
    )


def test_an_update_that_finished_on_the_new_config_passes(clients: tuple[Stubber, Stubber]) -> None:
    # given an endpoint still updating, then in service on the config this update set
    expect_describe(
        clients[0], described("Updating", OLD_CONFIG), described("InService", NEW_CONFIG)
    )
    clock = FakeClock()
    # when the gate checks it
    outcome = check(clients, clock)
    # then it waited one poll, passed and asked CloudWatch nothing
    assert outcome == RolloutOutcome(ENDPOINT, NEW_CONFIG, "InService")
    assert clock.sleeps == [15]


def test_an_alarm_rollback_fails_naming_the_kept_config_and_the_alarm(
    clients: tuple[Stubber, Stubber],
) -> None:
    # given a canary rolled back by its 5XX alarm: back in service on the old config
    expect_describe(
        clients[0], described("RollingBack", NEW_CONFIG), described("InService", OLD_CONFIG)
    )
    expect_alarms(clients[1], firing=[ALARMS[0]])
    # when the gate checks it / then it fails, in one line, with everything the operator needs
    with pytest.raises(OpsError) as failure:
        check(clients)
    message = str(failure.value)
    assert message == (
        f"Rollout of endpoint '{ENDPOINT}' not verified: it is InService on config "
        f"'{OLD_CONFIG}' (this update set '{NEW_CONFIG}'); reason: rolled back; "
        f"rollout alarms in ALARM: {ALARMS[0]}"
    )
    assert "\n" not in message


def test_a_failed_update_fails_with_the_failure_reason(clients: tuple[Stubber, Stubber]) -> None:
    # given an update that failed: SageMaker keeps the old config and reports why
    reason = "The primary container for production variant blue did not pass the ping health check."
    expect_describe(clients[0], described("InService", OLD_CONFIG, failure_reason=reason))
    expect_alarms(clients[1], firing=[])
    # when the gate checks it / then the reason is AWS's, and no alarm fired
    with pytest.raises(OpsError) as failure:
        check(clients)
    assert str(failure.value) == (
        f"Rollout of endpoint '{ENDPOINT}' not verified: it is InService on config "
        f"'{OLD_CONFIG}' (this update set '{NEW_CONFIG}'); reason: {reason}; "
        "no rollout alarm fired"
    )


def test_a_failed_endpoint_on_the_new_config_fails(clients: tuple[Stubber, Stubber]) -> None:
    # given an endpoint that ended Failed on the new config
    expect_describe(clients[0], described("Failed", NEW_CONFIG, failure_reason="Out of capacity"))
    expect_alarms(clients[1], firing=[])
    # when the gate checks it / then its status and reason are named
    with pytest.raises(OpsError, match=r"it is Failed on config .*reason: Out of capacity;"):
        check(clients)


def test_an_endpoint_still_updating_at_the_timeout_fails(clients: tuple[Stubber, Stubber]) -> None:
    # given an endpoint that stays Updating for longer than the gate waits (600 s, polls of 15 s)
    expect_describe(clients[0], *[described("Updating", OLD_CONFIG)] * 41)
    clock = FakeClock()
    # when the gate checks it / then it gives up naming the endpoint, its status and the timeout
    with pytest.raises(OpsError) as failure:
        check(clients, clock)
    assert str(failure.value) == f"Endpoint '{ENDPOINT}' is still Updating after 600 s"
    assert clock.now == 600


def test_without_rollout_alarms_cloudwatch_is_not_asked(clients: tuple[Stubber, Stubber]) -> None:
    # given a serverless endpoint (no rollout alarms) whose update failed
    expect_describe(clients[0], described("InService", OLD_CONFIG, failure_reason="Bad model"))
    # when the gate checks it with no alarm names / then DescribeAlarms is not called (it would
    # list every alarm in the account) and the message says so
    with pytest.raises(OpsError, match=r"reason: Bad model; no rollout alarms are configured$"):
        check_rollout(
            ENDPOINT,
            NEW_CONFIG,
            [],
            sagemaker=clients[0].client,
            cloudwatch=clients[1].client,
            wait=WaitPolicy(timeout_s=60, poll_s=15, sleep=FakeClock().sleep, clock=FakeClock()),
        )


def test_an_alarm_lookup_that_fails_does_not_hide_the_rollback(
    clients: tuple[Stubber, Stubber],
) -> None:
    # given a rollback, and a deployer that may not call DescribeAlarms
    expect_describe(clients[0], described("InService", OLD_CONFIG))
    clients[1].add_client_error(
        "describe_alarms", service_error_code="AccessDenied", service_message="not allowed"
    )
    # when the gate checks it / then the rollback is still reported, with the alarms unknown
    with pytest.raises(OpsError, match=r"reason: rolled back; rollout alarms unknown \("):
        check(clients)
