"""Registering model versions in a moto model package group."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workloads.ops.conftest import IMAGE, ROLE_ARN, create_endpoint, endpoint_reports
from workloads.ops.errors import NotFound, OpsError
from workloads.ops.registry import (
    approve_version,
    deployments_of,
    list_versions,
    register_model_version,
    reject_version,
)

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


def versioned_group(sagemaker: Any, versions: int = 2) -> list[str]:
    """The group scorer-models with ``versions`` pending versions; their ARNs."""
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    return [register(sagemaker) for _ in range(versions)]


def deploy_version(sagemaker: Any, package_arn: str, endpoint: str = "scorer-live") -> None:
    """An endpoint whose variant 'main' runs a model built from ``package_arn``."""
    model = f"{endpoint}-model"
    sagemaker.create_model(
        ModelName=model,
        ExecutionRoleArn=ROLE_ARN,
        PrimaryContainer={"ModelPackageName": package_arn},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{endpoint}-config",
        ProductionVariants=[
            {
                "VariantName": "main",
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=f"{endpoint}-config")


def test_approving_records_the_reason(sagemaker: Any) -> None:
    # given two pending versions
    arns = versioned_group(sagemaker)
    # when
    decision = approve_version(GROUP, 2, "AUC 0.91 on the holdout", client=sagemaker)
    # then
    package = sagemaker.describe_model_package(ModelPackageName=arns[1])
    assert (package["ModelApprovalStatus"], package["ApprovalDescription"]) == (
        "Approved",
        "AUC 0.91 on the holdout",
    )
    assert decision.to_dict() == {
        "model_package_group_name": GROUP,
        "version": 2,
        "model_package_arn": arns[1],
        "previous_status": "PendingManualApproval",
        "status": "Approved",
        "reason": "AUC 0.91 on the holdout",
    }
    first = sagemaker.describe_model_package(ModelPackageName=arns[0])
    assert first["ModelApprovalStatus"] == "PendingManualApproval"


@pytest.mark.parametrize(
    ("version", "reason", "problems"),
    [
        (0, "fine", "version must be a whole number from 1, got 0"),
        (1, "  ", "the reason is empty (it is recorded as the ApprovalDescription)"),
        (1, "x" * 1025, "the reason has 1025 characters, at most 1024"),
    ],
)
def test_bad_decisions_are_refused_before_any_call(
    version: int, reason: str, problems: str
) -> None:
    # given no client at all (a call would fail differently)
    # when / then
    with pytest.raises(OpsError) as refused:
        approve_version(GROUP, version, reason)
    assert str(refused.value) == (
        f"Cannot approve version {version} of model package group '{GROUP}': {problems}"
    )


@pytest.mark.parametrize(
    ("decide", "verb"), [(approve_version, "approve"), (reject_version, "reject")]
)
def test_a_missing_group_or_version_is_named(sagemaker: Any, decide: Any, verb: str) -> None:
    # given no group, then a group with two versions
    with pytest.raises(OpsError) as no_group:
        decide(GROUP, 1, "why", client=sagemaker)
    versioned_group(sagemaker)
    with pytest.raises(OpsError) as no_version:
        decide(GROUP, 3, "why", client=sagemaker)
    # then
    assert str(no_group.value) == (
        f"Cannot {verb} version 1 of model package group '{GROUP}':"
        " the model package group does not exist"
    )
    assert str(no_version.value) == (
        f"Cannot {verb} version 3 of model package group '{GROUP}': the group has no version 3"
    )


def test_rejecting_an_undeployed_version(sagemaker: Any) -> None:
    # given version 2 deployed, version 1 not
    arns = versioned_group(sagemaker)
    deploy_version(sagemaker, arns[1])
    # when
    decision = reject_version(GROUP, 1, "label leak found", client=sagemaker)
    # then
    package = sagemaker.describe_model_package(ModelPackageName=arns[0])
    assert (package["ModelApprovalStatus"], package["ApprovalDescription"]) == (
        "Rejected",
        "label leak found",
    )
    assert (decision.previous_status, decision.status) == ("PendingManualApproval", "Rejected")


def test_rejecting_a_deployed_version_is_refused_naming_where(sagemaker: Any) -> None:
    # given version 2 approved and deployed on two endpoints (one naming the group in capitals)
    arns = versioned_group(sagemaker)
    approve_version(GROUP, 2, "good", client=sagemaker)
    deploy_version(sagemaker, arns[1], "scorer-live")
    deploy_version(sagemaker, arns[1].replace(GROUP, GROUP.upper()), "scorer-eu")
    # when
    with pytest.raises(OpsError) as refused:
        reject_version(GROUP, 2, "regret", client=sagemaker)
    # then nothing changed
    assert str(refused.value) == (
        f"Cannot reject version 2 of model package group '{GROUP}': it is deployed on"
        " endpoint 'scorer-eu' variant 'main' (config 'scorer-eu-config', model"
        " 'scorer-eu-model'); endpoint 'scorer-live' variant 'main' (config"
        " 'scorer-live-config', model 'scorer-live-model'); move those variants to another"
        " version first"
    )
    assert sagemaker.describe_model_package(ModelPackageName=arns[1])["ModelApprovalStatus"] == (
        "Approved"
    )


def test_deployments_look_at_every_container_and_the_pending_config(sagemaker: Any) -> None:
    # given an endpoint whose current config runs a plain model and whose update in progress
    # moves it onto an inference pipeline with the version as its second container
    arns = versioned_group(sagemaker, versions=1)
    create_endpoint(sagemaker, {"blue": 1})
    sagemaker.create_model(
        ModelName="pipeline",
        ExecutionRoleArn=ROLE_ARN,
        Containers=[{"Image": IMAGE}, {"ModelPackageName": arns[0]}],
    )
    variant = {"ModelName": "pipeline", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
    sagemaker.create_endpoint_config(
        EndpointConfigName="next",
        ProductionVariants=[{**variant, "VariantName": "blue"}],
    )
    # when
    with endpoint_reports(sagemaker, {"PendingDeploymentSummary": {"EndpointConfigName": "next"}}):
        found = deployments_of(arns[0], sagemaker=sagemaker)
    # then
    assert [str(deployment) for deployment in found] == [
        "endpoint 'serving' variant 'blue' (config 'next', model 'pipeline')"
    ]


def report_version(sagemaker: Any, report_uri: str) -> None:
    """One more version of GROUP whose ModelMetrics name ``report_uri``."""
    sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": MODEL_DATA}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelMetrics={
            "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": report_uri}}
        },
    )


def test_listing_describes_the_newest_versions_first_with_their_metrics(sagemaker: Any) -> None:
    # given versions 1 and 2 (approved), and 3 with an evaluation report
    import boto3

    arns = versioned_group(sagemaker)
    approve_version(GROUP, 2, "better AUC", client=sagemaker)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="reports")
    s3.put_object(Bucket="reports", Key="3.json", Body=b'{"metrics": {"auc": 0.9}, "x": "y"}')
    report_version(sagemaker, "s3://reports/3.json")
    # when the newest two are listed
    listed = list_versions(GROUP, limit=2, client=sagemaker, s3_client=s3)
    # then
    assert [(item.version, item.status) for item in listed] == [
        (3, "PendingManualApproval"),
        (2, "Approved"),
    ]
    assert (listed[0].metrics, listed[0].metrics_uri) == ({"auc": 0.9}, "s3://reports/3.json")
    assert (listed[1].metrics, listed[1].approval_description) == (None, "better AUC")
    assert listed[1].model_package_arn == arns[1]


def test_an_unreadable_report_leaves_the_metrics_out_and_says_why(sagemaker: Any) -> None:
    # given a version whose report is not there
    import boto3

    versioned_group(sagemaker, versions=0)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="reports")
    report_version(sagemaker, "s3://reports/missing.json")
    # when
    [listed] = list_versions(GROUP, client=sagemaker, s3_client=s3)
    # then
    assert listed.metrics is None
    assert listed.metrics_problem == (
        "GetObject s3://reports/missing.json failed: NoSuchKey: The specified key does not exist."
    )


def test_listing_a_missing_group_is_not_found(sagemaker: Any) -> None:
    # when / then
    with pytest.raises(NotFound, match=r"^Model package group 'nothing' not found$") as raised:
        list_versions("nothing", client=sagemaker)
    assert raised.value.what == "model package group 'nothing' not found"
