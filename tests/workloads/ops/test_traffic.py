"""Shifting, promoting and rolling back canary traffic on a moto endpoint."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.workloads.ops.conftest import (
    ENDPOINT,
    FakeClock,
    create_endpoint,
    endpoint_reports,
    weights_of,
)
from workloads.ops.endpoint import WaitPolicy
from workloads.ops.errors import OpsError
from workloads.ops.traffic import TrafficShift, promote_canary, rollback_canary, shift_traffic


def test_shift_sets_the_named_weights(sagemaker: Any, endpoint: str) -> None:
    # given blue 90 / green 10
    # when
    shift = shift_traffic(endpoint, {"blue": 50, "green": 50}, client=sagemaker)
    # then
    assert weights_of(sagemaker) == {"blue": 50.0, "green": 50.0}
    assert shift == TrafficShift(
        endpoint_name=ENDPOINT,
        previous_weights={"blue": 90.0, "green": 10.0},
        new_weights={"blue": 50.0, "green": 50.0},
        status=None,
    )


def test_shift_leaves_variants_it_does_not_name(sagemaker: Any) -> None:
    # given three variants
    create_endpoint(sagemaker, {"blue": 80, "green": 10, "red": 10})
    # when only green is named
    shift = shift_traffic(ENDPOINT, {"green": 20}, client=sagemaker)
    # then
    assert weights_of(sagemaker) == {"blue": 80.0, "green": 20.0, "red": 10.0}
    assert shift.new_weights == {"blue": 80.0, "green": 20.0, "red": 10.0}


def test_promote_gives_the_canary_all_traffic(sagemaker: Any, endpoint: str) -> None:
    # given blue 90 / green 10
    # when
    shift = promote_canary(endpoint, "green", client=sagemaker)
    # then
    assert weights_of(sagemaker) == {"blue": 0.0, "green": 1.0}
    assert shift.previous_weights == {"blue": 90.0, "green": 10.0}


def test_rollback_restores_the_declared_weights_of_the_others(sagemaker: Any) -> None:
    # given a config declaring blue 60 / red 30 / green 10, then green shifted up to 80
    create_endpoint(sagemaker, {"blue": 60, "red": 30, "green": 10})
    shift_traffic(ENDPOINT, {"blue": 10, "red": 10, "green": 80}, client=sagemaker)
    # when
    rollback_canary(ENDPOINT, "green", client=sagemaker)
    # then
    assert weights_of(sagemaker) == {"blue": 60.0, "red": 30.0, "green": 0.0}


def test_rollback_weights_the_others_evenly_when_the_config_gives_them_nothing(
    sagemaker: Any,
) -> None:
    # given a config in which only the canary had weight (moto reports no weight for the 0s)
    create_endpoint(sagemaker, {"blue": 0, "red": 0, "green": 1})
    # when
    shift = rollback_canary(ENDPOINT, "green", client=sagemaker)
    # then
    assert weights_of(sagemaker) == {"blue": 1.0, "red": 1.0, "green": 0.0}
    assert shift.new_weights == {"blue": 1.0, "red": 1.0, "green": 0.0}


def test_promote_then_rollback_returns_to_the_declared_weights(
    sagemaker: Any, endpoint: str
) -> None:
    # given a promoted canary
    promote_canary(endpoint, "green", client=sagemaker)
    # when
    rollback_canary(endpoint, "green", client=sagemaker)
    # then
    assert weights_of(sagemaker) == {"blue": 90.0, "green": 0.0}


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (
            {"red": 10},
            "Cannot shift traffic on endpoint 'serving': unknown variant 'red' (the endpoint has 'blue', 'green')",
        ),
        (
            {"blue": -1, "green": 10},
            "Cannot shift traffic on endpoint 'serving': the weight of 'blue' is negative (-1)",
        ),
        (
            {"blue": 0, "green": 0},
            "Cannot shift traffic on endpoint 'serving': the weights sum to 0: at least one variant needs a positive weight",
        ),
        (
            {"blue": math.nan},
            "Cannot shift traffic on endpoint 'serving': the weight of 'blue' is not a finite number (nan)",
        ),
        (
            {"blue": "90"},
            "Cannot shift traffic on endpoint 'serving': the weight of 'blue' is not a number ('90')",
        ),
        ({}, "Cannot shift traffic on endpoint 'serving': no weights given"),
        (
            {"red": 1, "blue": -5},
            "Cannot shift traffic on endpoint 'serving': unknown variant 'red' (the endpoint has 'blue', 'green'); the weight of 'blue' is negative (-5)",
        ),
    ],
)
def test_shift_refuses_bad_weights_and_changes_nothing(
    sagemaker: Any, endpoint: str, weights: dict[str, Any], message: str
) -> None:
    # given blue 90 / green 10
    # when / then
    with pytest.raises(OpsError) as refused:
        shift_traffic(endpoint, weights, client=sagemaker)
    assert str(refused.value) == message
    assert weights_of(sagemaker) == {"blue": 90.0, "green": 10.0}


def test_shift_refuses_an_endpoint_that_is_not_in_service(sagemaker: Any, endpoint: str) -> None:
    # given an endpoint in the middle of an update
    with (
        endpoint_reports(sagemaker, {"EndpointStatus": "Updating"}),
        pytest.raises(OpsError) as refused,
    ):
        # when
        shift_traffic(endpoint, {"blue": 0, "green": 0}, client=sagemaker)
    # then every problem is named at once, and nothing changed
    assert str(refused.value) == (
        "Cannot shift traffic on endpoint 'serving': its status is Updating, not InService; "
        "the weights sum to 0: at least one variant needs a positive weight"
    )
    assert weights_of(sagemaker) == {"blue": 90.0, "green": 10.0}


def test_promote_refuses_an_unknown_canary(sagemaker: Any, endpoint: str) -> None:
    # given blue / green
    # when / then
    with pytest.raises(OpsError) as refused:
        promote_canary(endpoint, "red", client=sagemaker)
    assert str(refused.value) == (
        "Cannot promote canary 'red' on endpoint 'serving': "
        "unknown variant 'red' (the endpoint has 'blue', 'green')"
    )
    assert weights_of(sagemaker) == {"blue": 90.0, "green": 10.0}


def test_rollback_refuses_an_unknown_canary(sagemaker: Any, endpoint: str) -> None:
    # given blue / green
    # when / then
    with pytest.raises(OpsError) as refused:
        rollback_canary(endpoint, "red", client=sagemaker)
    assert str(refused.value) == (
        "Cannot roll back canary 'red' on endpoint 'serving': "
        "unknown variant 'red' (the endpoint has 'blue', 'green')"
    )
    assert weights_of(sagemaker) == {"blue": 90.0, "green": 10.0}


def test_rollback_refuses_to_leave_no_traffic(sagemaker: Any) -> None:
    # given an endpoint whose only variant is the canary
    create_endpoint(sagemaker, {"green": 1})
    # when / then
    with pytest.raises(OpsError) as refused:
        rollback_canary(ENDPOINT, "green", client=sagemaker)
    assert str(refused.value) == (
        "Cannot roll back canary 'green' on endpoint 'serving': "
        "the weights sum to 0: at least one variant needs a positive weight"
    )
    assert weights_of(sagemaker) == {"green": 1.0}


def test_promote_refuses_an_endpoint_that_is_not_in_service(sagemaker: Any, endpoint: str) -> None:
    # given a failed endpoint
    with (
        endpoint_reports(sagemaker, {"EndpointStatus": "Failed"}),
        pytest.raises(OpsError) as refused,
    ):
        # when
        promote_canary(endpoint, "green", client=sagemaker)
    # then
    assert str(refused.value) == (
        "Cannot promote canary 'green' on endpoint 'serving': its status is Failed, not InService"
    )
    assert weights_of(sagemaker) == {"blue": 90.0, "green": 10.0}


def test_a_missing_endpoint_is_refused(sagemaker: Any) -> None:
    # given no endpoint
    # when / then
    with pytest.raises(OpsError, match=r"^Endpoint 'serving' not found$"):
        shift_traffic(ENDPOINT, {"blue": 1}, client=sagemaker)


def test_shift_can_wait_until_the_endpoint_is_in_service_again(
    sagemaker: Any, endpoint: str
) -> None:
    # given an update SageMaker takes two polls to finish (InService is what validation sees)
    clock = FakeClock()
    wait = WaitPolicy(timeout_s=60, poll_s=5, sleep=clock.sleep, clock=clock)
    states = [
        {"EndpointStatus": "InService"},
        {"EndpointStatus": "Updating"},
        {"EndpointStatus": "Updating"},
    ]
    with endpoint_reports(sagemaker, *states):
        # when
        shift = promote_canary(endpoint, "green", client=sagemaker, wait=wait)
    # then
    assert shift.status == "InService"
    assert clock.sleeps == [5, 5]


def test_waiting_reports_an_update_that_failed(sagemaker: Any, endpoint: str) -> None:
    # given an update that ends Failed
    clock = FakeClock()
    wait = WaitPolicy(timeout_s=60, poll_s=5, sleep=clock.sleep, clock=clock)
    states = [
        {"EndpointStatus": "InService"},
        {"EndpointStatus": "Failed", "FailureReason": "Capacity unavailable"},
    ]
    with (
        endpoint_reports(sagemaker, *states),
        # when / then
        pytest.raises(
            OpsError, match=r"^Endpoint 'serving' is Failed, not InService: Capacity unavailable$"
        ),
    ):
        shift_traffic(endpoint, {"green": 20}, client=sagemaker, wait=wait)


def test_the_client_is_built_from_a_session_when_none_is_given(
    aws: None, sagemaker: Any, endpoint: str
) -> None:
    # given only a boto3 session
    import boto3

    # when
    shift_traffic(endpoint, {"green": 30}, session=boto3.Session())
    # then
    assert weights_of(sagemaker) == {"blue": 90.0, "green": 30.0}
