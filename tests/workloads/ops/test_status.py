"""An endpoint's status: DescribeEndpoint with its served config's variants and their models."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workloads.ops.conftest import ENDPOINT, MODEL, endpoint_reports
from workloads.ops.errors import NotFound
from workloads.ops.status import endpoint_status


def test_each_variant_has_its_weight_instances_and_model(sagemaker: Any, endpoint: str) -> None:
    # when
    found = endpoint_status(endpoint, client=sagemaker)
    # then
    assert (found.status, found.endpoint_config_name) == ("InService", "serving-config-1")
    assert [
        (v.name, v.current_weight, v.current_instances, v.instance_type, v.model_name)
        for v in found.variants
    ] == [
        ("blue", 90.0, 1, "ml.m5.large", MODEL),
        ("green", 10.0, 1, "ml.m5.large", MODEL),
    ]
    assert {v.model_source for v in found.variants} == {"s3://models/scorer/model.tar.gz"}
    assert (found.pending_config_name, found.pending_status, found.failure_reason) == (
        None,
        None,
        None,
    )


def test_an_update_in_progress_and_a_failure_are_reported(sagemaker: Any, endpoint: str) -> None:
    # given SageMaker reporting an update to config 2 after a failure
    update = {
        "EndpointStatus": "Updating",
        "FailureReason": "ping health check failed",
        "PendingDeploymentSummary": {
            "EndpointConfigName": "serving-config-2",
            "ProductionVariants": [
                {"VariantName": "blue", "VariantStatus": [{"Status": "Baking"}]}
            ],
        },
    }
    # when
    with endpoint_reports(sagemaker, update):
        found = endpoint_status(endpoint, client=sagemaker)
    # then
    assert (found.status, found.pending_config_name, found.pending_status) == (
        "Updating",
        "serving-config-2",
        "Baking",
    )
    assert found.failure_reason == "ping health check failed"


def test_a_model_deleted_since_shows_as_unknown(sagemaker: Any, endpoint: str) -> None:
    # given the model the config names is gone
    sagemaker.delete_model(ModelName=MODEL)
    # when
    found = endpoint_status(endpoint, client=sagemaker)
    # then
    assert [(v.model_name, v.model_source) for v in found.variants] == [
        (MODEL, None),
        (MODEL, None),
    ]


def test_a_missing_endpoint_is_not_found(sagemaker: Any) -> None:
    # when / then
    with pytest.raises(NotFound, match=f"^Endpoint '{ENDPOINT}' not found$") as raised:
        endpoint_status(ENDPOINT, client=sagemaker)
    assert raised.value.what == f"endpoint '{ENDPOINT}' not found"
