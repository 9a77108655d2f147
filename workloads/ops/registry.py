"""Registering a trained model as a new version in a SageMaker model package group."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from workloads.ops.clients import SageMakerClient, sagemaker_client, service_client
from workloads.ops.errors import (
    NotFound,
    OpsError,
    aws_errors,
    error_code,
    error_message,
    failed,
    refuse,
)
from workloads.ops.reaper import VARIANT_KINDS
from workloads.ops.reaper import _describe as describe
from workloads.ops.reaper import _endpoint_uses as endpoint_uses
from workloads.ops.s3_uri import s3_uri_problem

if TYPE_CHECKING:
    import boto3

APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")
# CustomerMetadataProperties holds at most 50 entries (CreateModelPackage API reference).
MAX_METADATA_ENTRIES = 50
# UpdateModelPackage's ApprovalDescription holds at most 1,024 characters.
MAX_APPROVAL_DESCRIPTION = 1024


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
    if _group(sagemaker, group_name) is None:
        if not create_group_if_missing:
            raise NotFound(
                f"{subject}: the model package group does not exist (deploy it with the"
                " stack, or pass create_group_if_missing=True / --create-group)",
                f"model package group '{group_name}' not found",
                "deploy it with the stack, or pass --create-group",
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


def _group(sagemaker: SageMakerClient, group_name: str) -> dict[str, Any] | None:
    """DescribeModelPackageGroup's answer, or None when the group does not exist."""
    return _registry_entry(
        sagemaker.describe_model_package_group,
        f"DescribeModelPackageGroup '{group_name}'",
        ModelPackageGroupName=group_name,
    )


def _registry_entry(
    describe_call: Callable[..., Any], action: str, **params: str
) -> dict[str, Any] | None:
    """What ``describe_call`` answers, or None when the group or package does not exist."""
    try:
        return dict(describe_call(**params))
    except ClientError as error:
        # SageMaker answers a missing group or package with ValidationException "... does not
        # exist." (moto: "... not found").
        code, message = error_code(error), error_message(error)
        if code == "ResourceNotFound" or (
            code == "ValidationException"
            and ("does not exist" in message or "not found" in message)
        ):
            return None
        raise failed(action, error) from error


@dataclass(frozen=True)
class VersionDecision:
    """An approval decision recorded on one model package version."""

    group_name: str
    version: int
    model_package_arn: str
    previous_status: str
    """ModelApprovalStatus before the decision."""
    status: str
    """ModelApprovalStatus now (Approved or Rejected)."""
    reason: str
    """The ApprovalDescription recorded with it."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        return {
            "model_package_group_name": self.group_name,
            "version": self.version,
            "model_package_arn": self.model_package_arn,
            "previous_status": self.previous_status,
            "status": self.status,
            "reason": self.reason,
        }


@dataclass(frozen=True, order=True)
class Deployment:
    """A variant of a live endpoint whose model is built from a model package version."""

    endpoint_name: str
    endpoint_config_name: str
    variant_name: str
    model_name: str

    def __str__(self) -> str:
        return (
            f"endpoint '{self.endpoint_name}' variant '{self.variant_name}'"
            f" (config '{self.endpoint_config_name}', model '{self.model_name}')"
        )


def version_problems(version: int, reason: str) -> list[str]:
    """Every reason ``version`` and ``reason`` cannot make an approval decision."""
    problems = []
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        problems.append(f"version must be a whole number from 1, got {version!r}")
    if not reason.strip():
        problems.append("the reason is empty (it is recorded as the ApprovalDescription)")
    elif len(reason) > MAX_APPROVAL_DESCRIPTION:
        problems.append(
            f"the reason has {len(reason)} characters, at most {MAX_APPROVAL_DESCRIPTION}"
        )
    return problems


def approve_version(
    group_name: str,
    version: int,
    reason: str,
    *,
    client: SageMakerClient | None = None,
    session: boto3.Session | None = None,
) -> VersionDecision:
    """Set version ``version`` of ``group_name`` to Approved, recording ``reason``."""
    return _decide("Approved", group_name, version, reason, client, session)


def reject_version(
    group_name: str,
    version: int,
    reason: str,
    *,
    client: SageMakerClient | None = None,
    session: boto3.Session | None = None,
) -> VersionDecision:
    """Set version ``version`` of ``group_name`` to Rejected, recording ``reason``.

    Refused (``OpsError`` naming every endpoint and variant, nothing changed) while any endpoint
    in the account and region runs, or updates to, a model built from that version.
    """
    return _decide("Rejected", group_name, version, reason, client, session)


def _decide(
    status: str,
    group_name: str,
    version: int,
    reason: str,
    client: SageMakerClient | None,
    session: boto3.Session | None,
) -> VersionDecision:
    """Record ``status`` with ``reason`` on the version, after every check (see the callers).

    The arguments are checked before any client exists.
    """
    verb = "approve" if status == "Approved" else "reject"
    subject = f"Cannot {verb} version {version} of model package group '{group_name}'"
    refuse(subject, version_problems(version, reason))
    sagemaker = sagemaker_client(client, session)
    arn, previous = _version(sagemaker, subject, group_name, version)
    if status == "Rejected" and (deployed := deployments_of(arn, sagemaker=sagemaker)):
        raise OpsError(
            f"{subject}: it is deployed on {'; '.join(map(str, deployed))};"
            " move those variants to another version first"
        )
    with aws_errors(f"UpdateModelPackage '{arn}'"):
        sagemaker.update_model_package(
            ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=reason
        )
    return VersionDecision(group_name, version, arn, previous, status, reason)


def deployments_of(model_package_arn: str, *, sagemaker: SageMakerClient) -> list[Deployment]:
    """Every endpoint variant whose model has a container built from ``model_package_arn``.

    Walks ListEndpoints -> DescribeEndpoint (the config it runs and any it updates to) ->
    DescribeEndpointConfig (production and shadow variants) -> DescribeModel (PrimaryContainer
    and Containers, whose ModelPackageName is the version's ARN). ARNs compare without case.
    Sorted by endpoint, config and variant.
    """
    wanted = model_package_arn.lower()
    found: list[Deployment] = []
    models: dict[str, bool] = {}
    for use in endpoint_uses(sagemaker):
        for config_name in use.configs:
            config = describe(
                sagemaker, "describe_endpoint_config", "EndpointConfigName", config_name
            )
            for kind in VARIANT_KINDS:
                for variant in (config or {}).get(kind) or []:
                    model_name = variant.get("ModelName")
                    if not model_name:
                        continue
                    if model_name not in models:
                        models[model_name] = _built_from(sagemaker, model_name, wanted)
                    if models[model_name]:
                        found.append(
                            Deployment(use.name, config_name, variant["VariantName"], model_name)
                        )
    return sorted(found)


def _built_from(sagemaker: SageMakerClient, model_name: str, package_arn: str) -> bool:
    model = describe(sagemaker, "describe_model", "ModelName", model_name) or {}
    containers = [model.get("PrimaryContainer") or {}, *(model.get("Containers") or [])]
    return any(
        str(container.get("ModelPackageName", "")).lower() == package_arn
        for container in containers
    )


def _version(
    sagemaker: SageMakerClient, subject: str, group_name: str, version: int
) -> tuple[str, str]:
    """The version's ARN and its ModelApprovalStatus; ``OpsError`` when either is missing."""
    group = _group(sagemaker, group_name)
    if group is None:
        raise NotFound(
            f"{subject}: the model package group does not exist",
            f"model package group '{group_name}' not found",
        )
    # A version's ARN is its group's with model-package/<group>/<version> for the resource.
    group_arn = str(group["ModelPackageGroupArn"])
    prefix, _, name = group_arn.rpartition(":model-package-group/")
    arn = f"{prefix}:model-package/{name}/{version}"
    package = _registry_entry(
        sagemaker.describe_model_package, f"DescribeModelPackage '{arn}'", ModelPackageName=arn
    )
    if package is None:
        raise NotFound(
            f"{subject}: the group has no version {version}",
            f"version {version} of model package group '{group_name}' not found",
        )
    return arn, str(package.get("ModelApprovalStatus", "PendingManualApproval"))


#: The newest versions ``list_versions`` describes unless told otherwise.
DEFAULT_LIST_LIMIT = 20


@dataclass(frozen=True)
class RegisteredVersion:
    """One version of a model package group, as ListModelPackages and DescribeModelPackage say."""

    version: int
    model_package_arn: str
    status: str
    """ModelApprovalStatus: PendingManualApproval, Approved or Rejected."""
    created: str
    """CreationTime, ISO 8601."""
    approval_description: str | None
    """The reason recorded with the last approval decision (None: none recorded)."""
    model_data_url: str | None
    """The first container's ModelDataUrl."""
    metrics: dict[str, float] | None
    """The ``metrics`` numbers of the version's model quality report (None: none read)."""
    metrics_uri: str | None
    """Where the report is (ModelMetrics.ModelQuality.Statistics), when the version names one."""
    metrics_problem: str | None = None
    """Why a named report could not be read (None when it was, or when there is none)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        return asdict(self)


def list_versions(
    group_name: str,
    *,
    limit: int = DEFAULT_LIST_LIMIT,
    read_metrics: bool = True,
    client: SageMakerClient | None = None,
    s3_client: Any = None,
    session: boto3.Session | None = None,
) -> list[RegisteredVersion]:
    """The newest ``limit`` versions of ``group_name``, newest first, each described.

    A version's metrics are read from the JSON report its ModelMetrics name (the ``metrics``
    section the pipeline's evaluation writes, or a flat object of numbers); a report that cannot
    be read leaves ``metrics`` None and says why in ``metrics_problem``, since the listing is
    still worth having. ``NotFound`` when the group does not exist (ListModelPackages alone
    would answer an empty list).
    """
    if limit < 1:
        raise OpsError(f"Cannot list versions of '{group_name}': the limit must be at least 1")
    sagemaker = sagemaker_client(client, session)
    if _group(sagemaker, group_name) is None:
        raise NotFound(
            f"Model package group '{group_name}' not found",
            f"model package group '{group_name}' not found",
        )
    summaries: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "ModelPackageGroupName": group_name,
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": min(limit, 100),
    }
    with aws_errors(f"ListModelPackages of '{group_name}'"):
        while len(summaries) < limit:
            page = sagemaker.list_model_packages(**request)
            summaries += page.get("ModelPackageSummaryList", [])
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
    s3 = None
    versions = []
    for summary in summaries[:limit]:
        arn = str(summary["ModelPackageArn"])
        package = (
            _registry_entry(
                sagemaker.describe_model_package,
                f"DescribeModelPackage '{arn}'",
                ModelPackageName=arn,
            )
            or summary
        )
        containers = (package.get("InferenceSpecification") or {}).get("Containers") or [{}]
        statistics = ((package.get("ModelMetrics") or {}).get("ModelQuality") or {}).get(
            "Statistics"
        ) or {}
        metrics_uri = statistics.get("S3Uri")
        metrics, problem = None, None
        if metrics_uri and read_metrics:
            if s3 is None:
                s3 = s3_client or service_client("s3", "S3", None, session)
            metrics, problem = _report_metrics(s3, str(metrics_uri))
        created = package.get("CreationTime") or summary.get("CreationTime")
        versions.append(
            RegisteredVersion(
                version=int(package.get("ModelPackageVersion") or arn.rsplit("/", 1)[-1]),
                model_package_arn=arn,
                status=str(package.get("ModelApprovalStatus", "PendingManualApproval")),
                created=created.isoformat() if hasattr(created, "isoformat") else str(created),
                approval_description=package.get("ApprovalDescription"),
                model_data_url=containers[0].get("ModelDataUrl"),
                metrics=metrics,
                metrics_uri=str(metrics_uri) if metrics_uri else None,
                metrics_problem=problem,
            )
        )
    return versions


def _report_metrics(s3: Any, uri: str) -> tuple[dict[str, float] | None, str | None]:
    """The numbers of a model quality report at ``uri``, or None and why they could not be read."""
    if problem := s3_uri_problem("the metrics report", uri):
        return None, problem
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        return None, f"GetObject {uri} failed: {error_code(error)}: {error_message(error)}"
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, f"{uri} is not JSON"
    section = document.get("metrics", document) if isinstance(document, dict) else None
    numbers = {
        str(name): float(value)
        for name, value in (section.items() if isinstance(section, dict) else [])
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    return (numbers, None) if numbers else (None, f"{uri} has no metrics numbers")
