"""check_approved: only an Approved registered version is deployed, on a container that fits it.

given DescribeModelPackage answers stubbed with botocore's Stubber (requests and responses
validated against the service model), or a version registered in moto's model registry / when
the approval check runs / then an Approved version passes, any other status, a missing version
and a framework version the container cannot serve fail with one line naming the endpoint, the
variant, the group, the version and the reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import Stubber

from tests.workloads.ops.conftest import ACCOUNT, IMAGE, REGION
from workloads.ops.approval import ApprovedVersion, DeployedVersion, check_approved
from workloads.ops.errors import OpsError
from workloads.ops.registry import register_model_version

GROUP = "mlp-dev-churn"
ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/3"
DEPLOYED = DeployedVersion("mlp-dev-churn", "green", GROUP, 3, ARN)
SUBJECT = "Endpoint 'mlp-dev-churn', variant 'green': version 3 of model group 'mlp-dev-churn'"


def described(status: str, **container: str) -> dict[str, Any]:
    """A DescribeModelPackage response of version 3 with ``status``; ``container`` adds fields."""
    return {
        "ModelPackageName": GROUP,
        "ModelPackageGroupName": GROUP,
        "ModelPackageVersion": 3,
        "ModelPackageArn": ARN,
        "CreationTime": datetime(2026, 12, 1, tzinfo=UTC),
        "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {"ValidationStatuses": []},
        "ModelApprovalStatus": status,
        "InferenceSpecification": {
            "Containers": [
                {"Image": IMAGE, "ModelDataUrl": "s3://models/training/model.tar.gz", **container}
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    }


def check(stub: Stubber, framework: str | None = "sklearn", serving: str | None = "1.9") -> Any:
    return check_approved(
        DEPLOYED, framework=framework, serving_version=serving, sagemaker=stub.client
    )


def test_an_approved_version_passes(stub: Stubber) -> None:
    # given version 3 Approved, trained with scikit-learn 1.9.1
    stub.add_response(
        "describe_model_package",
        described("Approved", Framework="SKLEARN", FrameworkVersion="1.9.1"),
        {"ModelPackageName": ARN},
    )
    # when checked for a scikit-learn 1.9 container, then it passes
    assert check(stub) == ApprovedVersion(ARN, "Approved", "1.9.1")


@pytest.mark.parametrize("status", ["PendingManualApproval", "Rejected"])
def test_a_version_not_approved_is_refused(stub: Stubber, status: str) -> None:
    stub.add_response("describe_model_package", described(status), {"ModelPackageName": ARN})
    with pytest.raises(OpsError) as refused:
        check(stub)
    assert str(refused.value) == (
        f"{SUBJECT} is {status}, not Approved: approve it, or deploy an approved version"
    )


def test_a_missing_version_is_refused_with_the_aws_error(stub: Stubber) -> None:
    stub.add_client_error(
        "describe_model_package",
        service_error_code="ValidationException",
        service_message="ModelPackage arn does not exist.",
        expected_params={"ModelPackageName": ARN},
    )
    with pytest.raises(OpsError) as refused:
        check(stub)
    assert str(refused.value) == (
        f"{SUBJECT} cannot be described (ValidationException: ModelPackage arn does not "
        "exist.): is it registered, and may the deployer call sagemaker:DescribeModelPackage?"
    )


def test_a_container_of_another_version_is_refused_naming_both(stub: Stubber) -> None:
    # given an approved version trained with scikit-learn 1.9.1
    stub.add_response(
        "describe_model_package",
        described("Approved", FrameworkVersion="1.9.1"),
        {"ModelPackageName": ARN},
    )
    # when the variant serves it on a scikit-learn 1.4 container
    with pytest.raises(OpsError) as refused:
        check(stub, serving="1.4")
    # then both versions and the rule are named
    assert str(refused.value) == (
        f"{SUBJECT} was trained with scikit-learn 1.9.1 but the variant's sklearn container has "
        "1.4 (scikit-learn models need the same major.minor version): set framework_image_tag "
        "to a matching container"
    )


def test_the_version_recorded_as_customer_metadata_is_compared_too(stub: Stubber) -> None:
    response = described("Approved")
    response["CustomerMetadataProperties"] = {"framework_version": "3.2.0"}
    stub.add_response("describe_model_package", response, {"ModelPackageName": ARN})
    with pytest.raises(OpsError, match=r"trained with XGBoost 3\.2\.0 .* container has 1\.7"):
        check(stub, framework="xgboost", serving="1.7")


@pytest.mark.parametrize(("framework", "serving"), [(None, None), ("pytorch", "2.6")])
def test_no_rule_means_no_refusal(stub: Stubber, framework: str | None, serving: str) -> None:
    # given our own image (no framework) or PyTorch (no version rule), then any version passes
    stub.add_response(
        "describe_model_package",
        described("Approved", FrameworkVersion="2.13.0"),
        {"ModelPackageName": ARN},
    )
    assert check(stub, framework, serving).framework_version == "2.13.0"


# --------------------------------------------------------------------------------------------
# against moto's model registry
# --------------------------------------------------------------------------------------------


def deployed_version(arn: str) -> DeployedVersion:
    version = int(arn.rsplit("/", 1)[1])
    return DeployedVersion("mlp-dev-churn", "green", GROUP, version, arn)


def register(sagemaker: Any, status: str) -> str:
    return register_model_version(
        GROUP,
        IMAGE,
        "s3://models/training/mlp-dev-churn/job/output/model.tar.gz",
        ["text/csv"],
        ["application/json"],
        approval_status=status,
        metadata={"framework_version": "1.9.1"},
        client=sagemaker,
    )


def test_moto_an_approved_version_passes_and_a_pending_one_is_refused(sagemaker: Any) -> None:
    # given a group with version 1 Approved and version 2 pending
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    approved, pending = (
        register(sagemaker, "Approved"),
        register(sagemaker, "PendingManualApproval"),
    )
    # then version 1 passes with its recorded version, and version 2 is refused
    outcome = check_approved(
        deployed_version(approved), framework="sklearn", serving_version="1.9", sagemaker=sagemaker
    )
    assert (outcome.status, outcome.framework_version) == ("Approved", "1.9.1")
    with pytest.raises(OpsError, match=r"version 2 of model group 'mlp-dev-churn' is Pending"):
        check_approved(
            deployed_version(pending),
            framework="sklearn",
            serving_version="1.9",
            sagemaker=sagemaker,
        )


def test_moto_a_version_that_does_not_exist_is_refused(sagemaker: Any) -> None:
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    with pytest.raises(OpsError, match=r"^Endpoint .* version 3 of .* cannot be described"):
        check_approved(DEPLOYED, framework=None, serving_version=None, sagemaker=sagemaker)
