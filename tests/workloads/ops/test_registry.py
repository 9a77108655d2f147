"""Registering model versions in a moto model package group."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workloads.ops.conftest import IMAGE
from workloads.ops.errors import OpsError
from workloads.ops.registry import register_model_version

GROUP = "scorer-models"
MODEL_DATA = "s3://models/scorer/model.tar.gz"


def register(sagemaker: Any, **overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "group_name": GROUP,
        "image_uri": IMAGE,
        "model_data_url": MODEL_DATA,
        "content_types": ["text/csv"],
        "response_types": ["application/json"],
        "client": sagemaker,
    }
    return register_model_version(**{**arguments, **overrides})


def test_a_version_is_created_in_the_group(sagemaker: Any) -> None:
    # given an existing group
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    # when
    arn = register(
        sagemaker,
        description="nightly retrain",
        metadata={"git_commit": "abc123"},
        metrics_s3_uri="s3://models/scorer/metrics.json",
    )
    # then
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:model-package/scorer-models/1"
    assert package["ModelPackageGroupName"] == GROUP
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["ModelPackageDescription"] == "nightly retrain"
    assert package["InferenceSpecification"] == {
        "Containers": [{"Image": IMAGE, "ModelDataUrl": MODEL_DATA}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["application/json"],
    }
    assert package["CustomerMetadataProperties"] == {"git_commit": "abc123"}
    assert package["ModelMetrics"] == {
        "ModelQuality": {
            "Statistics": {
                "ContentType": "application/json",
                "S3Uri": "s3://models/scorer/metrics.json",
            }
        }
    }


def test_each_registration_is_a_new_version(sagemaker: Any) -> None:
    # given a group with one version
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    register(sagemaker)
    # when
    arn = register(sagemaker, approval_status="Approved")
    # then
    assert arn.endswith("/scorer-models/2")
    assert (
        sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "Approved"
    )


def test_a_missing_group_is_refused_and_nothing_is_created(sagemaker: Any) -> None:
    # given no group
    # when / then
    with pytest.raises(OpsError) as refused:
        register(sagemaker)
    assert str(refused.value) == (
        "Cannot register a model version in group 'scorer-models': the model package group does not exist"
        " (deploy it with the stack, or pass create_group_if_missing=True / --create-group)"
    )
    assert sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"] == []


def test_a_missing_group_is_created_when_asked(sagemaker: Any) -> None:
    # given no group
    # when
    arn = register(sagemaker, create_group_if_missing=True)
    # then
    assert (
        sagemaker.describe_model_package_group(ModelPackageGroupName=GROUP)["ModelPackageGroupName"]
        == GROUP
    )
    assert arn.endswith("/scorer-models/1")


def test_bad_arguments_are_all_named_before_any_call(sagemaker: Any) -> None:
    # given no group (an AWS call would fail differently)
    # when / then
    with pytest.raises(OpsError) as refused:
        register(
            sagemaker,
            image_uri="",
            model_data_url="/tmp/model.tar.gz",
            content_types=[],
            response_types="application/json",
            approval_status="Yes",
            metrics_s3_uri="https://example.com/metrics.json",
        )
    assert str(refused.value) == (
        "Cannot register a model version in group 'scorer-models': image_uri is empty; "
        "model_data_url must be an s3://bucket/key URI, got '/tmp/model.tar.gz'; "
        "content_types must be a non-empty list of MIME types; "
        "response_types must be a non-empty list of MIME types; "
        "approval_status must be one of PendingManualApproval, Approved, Rejected, got 'Yes'; "
        "metrics_s3_uri must be an s3://bucket/key URI, got 'https://example.com/metrics.json'"
    )
