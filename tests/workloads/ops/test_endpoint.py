"""Describing an endpoint and waiting for it to settle."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workloads.ops.conftest import ENDPOINT, FakeClock, endpoint_reports
from workloads.ops.endpoint import (
    WaitPolicy,
    current_weights,
    describe_endpoint,
    wait_until_in_service,
    wait_until_settled,
)
from workloads.ops.errors import OpsError


def policy(clock: FakeClock, timeout_s: float = 60.0) -> WaitPolicy:
    return WaitPolicy(timeout_s=timeout_s, poll_s=10.0, sleep=clock.sleep, clock=clock)


def test_a_missing_endpoint_is_named(sagemaker: Any) -> None:
    # given no endpoint called "absent"
    # when / then
    with pytest.raises(OpsError, match=r"^Endpoint 'absent' not found$"):
        describe_endpoint(sagemaker, "absent")


def test_current_weights_read_every_variant_in_order(sagemaker: Any, endpoint: str) -> None:
    # given the blue 90 / green 10 endpoint
    # when
    weights = current_weights(describe_endpoint(sagemaker, endpoint))
    # then
    assert weights == {"blue": 90.0, "green": 10.0}


def test_a_variant_without_a_reported_weight_counts_as_zero() -> None:
    # given a description where moto left out the weight of a variant created with weight 0
    description = {
        "ProductionVariants": [
            {"VariantName": "blue", "CurrentWeight": 1.0},
            {"VariantName": "green"},
        ]
    }
    # when / then
    assert current_weights(description) == {"blue": 1.0, "green": 0.0}


def test_waiting_polls_until_the_endpoint_settles(sagemaker: Any, endpoint: str) -> None:
    # given an endpoint that reports Updating twice before moto's InService
    clock = FakeClock()
    with endpoint_reports(
        sagemaker, {"EndpointStatus": "Updating"}, {"EndpointStatus": "Updating"}
    ):
        # when
        description = wait_until_in_service(sagemaker, endpoint, policy(clock))
    # then
    assert description["EndpointStatus"] == "InService"
    assert clock.sleeps == [10.0, 10.0]


def test_waiting_gives_up_after_the_timeout(sagemaker: Any, endpoint: str) -> None:
    # given an endpoint that stays Updating
    clock = FakeClock()
    with (
        endpoint_reports(sagemaker, *[{"EndpointStatus": "Updating"}] * 10),
        # when / then
        pytest.raises(OpsError, match=r"^Endpoint 'serving' is still Updating after 30 s$"),
    ):
        wait_until_settled(sagemaker, endpoint, policy(clock, timeout_s=30.0))
    assert clock.sleeps == [10.0, 10.0, 10.0]


def test_waiting_for_service_fails_when_the_endpoint_settles_failed(
    sagemaker: Any, endpoint: str
) -> None:
    # given an update that ends Failed
    failed = {"EndpointStatus": "Failed", "FailureReason": "Image pull failed"}
    with (
        endpoint_reports(sagemaker, {"EndpointStatus": "Updating"}, failed),
        # when / then
        pytest.raises(
            OpsError, match=r"^Endpoint 'serving' is Failed, not InService: Image pull failed$"
        ),
    ):
        wait_until_in_service(sagemaker, ENDPOINT, policy(FakeClock()))


def test_settling_returns_a_failed_endpoint_without_raising(sagemaker: Any, endpoint: str) -> None:
    # given an endpoint that is Failed
    with endpoint_reports(sagemaker, {"EndpointStatus": "Failed"}):
        # when
        description = wait_until_settled(sagemaker, endpoint, policy(FakeClock()))
    # then
    assert description["EndpointStatus"] == "Failed"
