"""Verifying an endpoint after a deployment."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workloads.ops.conftest import CONFIG, ENDPOINT, FakeClock, endpoint_reports
from workloads.ops.endpoint import WaitPolicy
from workloads.ops.errors import OpsError
from workloads.ops.verify import VerificationResult, verify_deployment


def test_a_good_deployment_passes(sagemaker: Any, endpoint: str) -> None:
    # given blue 90 / green 10 on the expected config
    # when the weights are expected on another scale with the same shares
    result = verify_deployment(
        endpoint,
        expected_config_name=CONFIG,
        expected_weights={"blue": 9, "green": 1},
        client=sagemaker,
    )
    # then
    assert result == VerificationResult(
        endpoint_name=ENDPOINT,
        status="InService",
        endpoint_config_name=CONFIG,
        weights={"blue": 90.0, "green": 10.0},
        problems=(),
    )
    assert result.ok


def test_without_expectations_only_status_and_failure_are_checked(
    sagemaker: Any, endpoint: str
) -> None:
    # given a healthy endpoint
    # when
    result = verify_deployment(endpoint, client=sagemaker)
    # then
    assert result.ok


def test_a_silent_rollback_shows_as_the_wrong_config(sagemaker: Any, endpoint: str) -> None:
    # given the stack deployed serving-config-2 but the endpoint still serves serving-config-1
    # when
    result = verify_deployment(endpoint, expected_config_name="serving-config-2", client=sagemaker)
    # then
    assert result.problems == (
        "endpoint config is 'serving-config-1', expected 'serving-config-2' (SageMaker may have rolled the update back)",
    )
    assert not result.ok


def test_wrong_shares_are_reported_per_variant(sagemaker: Any, endpoint: str) -> None:
    # given blue 90 / green 10
    # when an even split is expected
    result = verify_deployment(endpoint, expected_weights={"blue": 1, "green": 1}, client=sagemaker)
    # then
    assert result.problems == (
        "variant 'blue' carries 90% of traffic, expected 50%",
        "variant 'green' carries 10% of traffic, expected 50%",
    )


def test_variants_left_out_of_the_expectation_are_expected_at_zero(
    sagemaker: Any, endpoint: str
) -> None:
    # given blue 90 / green 10
    # when only blue is expected, and a variant that is not there
    result = verify_deployment(endpoint, expected_weights={"blue": 1, "red": 0}, client=sagemaker)
    # then
    assert result.problems == (
        "variant 'red' is expected but not on the endpoint",
        "variant 'blue' carries 90% of traffic, expected 100%",
        "variant 'green' carries 10% of traffic, expected 0%",
    )


def test_a_failed_endpoint_reports_status_and_reason(sagemaker: Any, endpoint: str) -> None:
    # given an endpoint SageMaker reports as Failed (moto cannot fail one: the answer is overlaid)
    failed = {
        "EndpointStatus": "Failed",
        "FailureReason": "The primary container did not pass the ping health check.",
    }
    with endpoint_reports(sagemaker, failed):
        # when
        result = verify_deployment(endpoint, expected_config_name=CONFIG, client=sagemaker)
    # then
    assert result.status == "Failed"
    assert result.problems == (
        "status is Failed, expected InService",
        "failure reason: The primary container did not pass the ping health check.",
    )


def test_every_problem_is_reported_together(sagemaker: Any, endpoint: str) -> None:
    # given a rolled-back endpoint that reports a failure reason
    with endpoint_reports(sagemaker, {"FailureReason": "Update rolled back"}):
        # when
        result = verify_deployment(
            endpoint,
            expected_config_name="serving-config-2",
            expected_weights={"green": 1},
            client=sagemaker,
        )
    # then
    assert result.to_dict() == {
        "endpoint_name": "serving",
        "ok": False,
        "status": "InService",
        "endpoint_config_name": "serving-config-1",
        "weights": {"blue": 90.0, "green": 10.0},
        "problems": [
            "failure reason: Update rolled back",
            "endpoint config is 'serving-config-1', expected 'serving-config-2' (SageMaker may have rolled the update back)",
            "variant 'blue' carries 90% of traffic, expected 0%",
            "variant 'green' carries 10% of traffic, expected 100%",
        ],
    }


@pytest.mark.parametrize(
    ("expected", "message"),
    [
        (
            {"blue": 0},
            "Cannot verify endpoint 'serving': the weights sum to 0: at least one variant needs a positive weight",
        ),
        (
            {"blue": -1, "green": 2},
            "Cannot verify endpoint 'serving': the weight of 'blue' is negative (-1)",
        ),
        ({}, "Cannot verify endpoint 'serving': no weights given"),
    ],
)
def test_unusable_expected_weights_are_refused(
    sagemaker: Any, endpoint: str, expected: dict[str, float], message: str
) -> None:
    # given / when / then
    with pytest.raises(OpsError) as refused:
        verify_deployment(endpoint, expected_weights=expected, client=sagemaker)
    assert str(refused.value) == message


def test_a_missing_endpoint_is_an_error(sagemaker: Any) -> None:
    # given no endpoint / when / then
    with pytest.raises(OpsError, match=r"^Endpoint 'serving' not found$"):
        verify_deployment(ENDPOINT, client=sagemaker)


def test_verify_can_wait_for_an_update_to_finish(sagemaker: Any, endpoint: str) -> None:
    # given an endpoint still Updating on the first poll
    clock = FakeClock()
    wait = WaitPolicy(timeout_s=60, poll_s=20, sleep=clock.sleep, clock=clock)
    with endpoint_reports(sagemaker, {"EndpointStatus": "Updating"}):
        # when
        result = verify_deployment(
            endpoint, expected_config_name=CONFIG, client=sagemaker, wait=wait
        )
    # then
    assert result.ok
    assert clock.sleeps == [20]
