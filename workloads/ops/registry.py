"""Registering a trained model as a new version in a SageMaker model package group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from workloads.ops.clients import SageMakerClient, sagemaker_client
from workloads.ops.errors import OpsError, aws_errors, error_code, error_message, failed, refuse
from workloads.ops.s3_uri import s3_uri_problem

if TYPE_CHECKING:
    import boto3

APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")
# CustomerMetadataProperties holds at most 50 entries (CreateModelPackage API reference).
MAX_METADATA_ENTRIES = 50


def register_model_version(
    group_name: str,
    image_uri: str,
    model_data_url: str,
    content_types: Sequence[str],
    response_types: Sequence[str],
    approval_status: str = "PendingManualApproval",
    description: str | None = None,
    create_group_if_missing: bool = False,
    metadata: Mapping[str, str] | None = None,
    metrics_s3_uri: str | None = None,
    *,
    client: SageMakerClient | None = None,
    session: boto3.Session | None = None,
) -> str:
    """Create a model package version in ``group_name``; its ARN.

    The version's InferenceSpecification is one container (``image_uri`` serving
    ``model_data_url``) with the given request content types and response MIME types.
    ``metadata`` becomes CustomerMetadataProperties; ``metrics_s3_uri`` points at a JSON model
    quality statistics report. A missing group is created only with ``create_group_if_missing``;
    otherwise it is an ``OpsError`` and nothing is created.
    """
    subject = f"Cannot register a model version in group '{group_name}'"
    refuse(
        subject,
        _argument_problems(
            image_uri,
            model_data_url,
            content_types,
            response_types,
            approval_status,
            metadata,
            metrics_s3_uri,
        ),
    )
    sagemaker = sagemaker_client(client, session)
    if not _group_exists(sagemaker, group_name):
        if not create_group_if_missing:
            raise OpsError(
                f"{subject}: the model package group does not exist"
                " (deploy it with the stack, or pass create_group_if_missing=True / --create-group)"
            )
        with aws_errors(f"CreateModelPackageGroup '{group_name}'"):
            sagemaker.create_model_package_group(ModelPackageGroupName=group_name)

    request: dict[str, Any] = {
        "ModelPackageGroupName": group_name,
        "ModelApprovalStatus": approval_status,
        "InferenceSpecification": {
            "Containers": [{"Image": image_uri, "ModelDataUrl": model_data_url}],
            "SupportedContentTypes": list(content_types),
            "SupportedResponseMIMETypes": list(response_types),
        },
    }
    if description:
        request["ModelPackageDescription"] = description
    if metadata:
        request["CustomerMetadataProperties"] = dict(metadata)
    if metrics_s3_uri:
        request["ModelMetrics"] = {
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": metrics_s3_uri}
            }
        }
    with aws_errors(f"CreateModelPackage in group '{group_name}'"):
        return str(sagemaker.create_model_package(**request)["ModelPackageArn"])


def _argument_problems(
    image_uri: str,
    model_data_url: str,
    content_types: Sequence[str],
    response_types: Sequence[str],
    approval_status: str,
    metadata: Mapping[str, str] | None,
    metrics_s3_uri: str | None,
) -> list[str]:
    """Every reason the arguments cannot make a model package; empty when they can."""
    problems = []
    if not image_uri:
        problems.append("image_uri is empty")
    if problem := s3_uri_problem("model_data_url", model_data_url):
        problems.append(problem)
    if isinstance(content_types, str) or not content_types:
        problems.append("content_types must be a non-empty list of MIME types")
    if isinstance(response_types, str) or not response_types:
        problems.append("response_types must be a non-empty list of MIME types")
    if approval_status not in APPROVAL_STATUSES:
        problems.append(
            f"approval_status must be one of {', '.join(APPROVAL_STATUSES)},"
            f" got {approval_status!r}"
        )
    if metadata and len(metadata) > MAX_METADATA_ENTRIES:
        problems.append(f"metadata has {len(metadata)} entries, at most {MAX_METADATA_ENTRIES}")
    if metrics_s3_uri and (problem := s3_uri_problem("metrics_s3_uri", metrics_s3_uri)):
        problems.append(problem)
    return problems


def _group_exists(sagemaker: SageMakerClient, group_name: str) -> bool:
    """Whether DescribeModelPackageGroup finds the group (other AWS errors raise ``OpsError``)."""
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=group_name)
    except ClientError as error:
        # SageMaker answers a missing group with ValidationException "... does not exist."
        code = error_code(error)
        if code == "ResourceNotFound" or (
            code == "ValidationException" and "does not exist" in error_message(error)
        ):
            return False
        raise failed(f"DescribeModelPackageGroup '{group_name}'", error) from error
    return True
