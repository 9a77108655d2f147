"""The approval check: refuse to deploy a registered model version that is not Approved.

A serving variant may run version N of a model package group (``model: {group, version}``). The
stack's ``ModelApproval`` resource runs :func:`check_approved` before the variant's Model is
created: DescribeModelPackage, then one ``OpsError`` line naming the endpoint, the variant, the
group, the version and its status unless the status is Approved. It also compares the framework
version the package records (its container's ``FrameworkVersion``, else the
``framework_version`` customer metadata property) with the serving container's version, with
the rule of :func:`workloads.model_layout.version_conflict`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from workloads.model_layout import LIBRARY_NAMES, version_conflict
from workloads.ops.errors import OpsError, error_code, error_message

APPROVED = "Approved"

#: The customer metadata property our registration writes the library version to (used when
#: the package's container records no ``FrameworkVersion``).
FRAMEWORK_VERSION_PROPERTY = "framework_version"


@dataclass(frozen=True)
class DeployedVersion:
    """Where a variant's registered version is deployed: what the check's messages name."""

    endpoint_name: str
    """The endpoint (its full name)."""
    variant_name: str
    """The variant that runs the version."""
    group_name: str
    """The model package group (its full name, ``mlp-<env>-<group>``)."""
    version: int
    """The version number in the group."""
    package_arn: str
    """The version's ARN (``...:model-package/<group>/<version>``)."""

    @property
    def subject(self) -> str:
        """How messages name it."""
        return (
            f"Endpoint '{self.endpoint_name}', variant '{self.variant_name}': version "
            f"{self.version} of model group '{self.group_name}'"
        )


@dataclass(frozen=True)
class ApprovedVersion:
    """A version that passed the check."""

    package_arn: str
    """The version's ARN."""
    status: str
    """Its ModelApprovalStatus (Approved)."""
    framework_version: str | None
    """The library version the package records, or None when it records none."""


def check_approved(
    deployed: DeployedVersion,
    *,
    framework: str | None,
    serving_version: str | None,
    sagemaker: Any,
) -> ApprovedVersion:
    """DescribeModelPackage the version ``deployed`` names; refuse it unless it is Approved.

    ``framework`` and ``serving_version`` (major.minor) describe the container the variant
    serves it on (None for our own image: not compared). Raises ``OpsError`` (one line) when the
    version cannot be described, is not Approved, or records a framework version the container
    cannot serve.
    """
    try:
        package = sagemaker.describe_model_package(ModelPackageName=deployed.package_arn)
    except ClientError as error:
        raise OpsError(
            f"{deployed.subject} cannot be described ({error_code(error)}: "
            f"{error_message(error)}): is it registered, and may the deployer call "
            "sagemaker:DescribeModelPackage?"
        ) from error
    except BotoCoreError as error:
        raise OpsError(f"{deployed.subject} cannot be described: {error}") from error
    status = str(package.get("ModelApprovalStatus", "unknown"))
    if status != APPROVED:
        raise OpsError(
            f"{deployed.subject} is {status}, not {APPROVED}: approve it, or deploy an approved "
            "version"
        )
    trained = recorded_framework_version(package)
    conflict = None
    if framework is not None and serving_version is not None and trained is not None:
        conflict = version_conflict(framework, trained, serving_version)
    if conflict and framework is not None:
        raise OpsError(
            f"{deployed.subject} was trained with {LIBRARY_NAMES[framework]} {trained} but "
            f"the variant's {framework} container has {serving_version} ({conflict}): set "
            "framework_image_tag to a matching container"
        )
    return ApprovedVersion(deployed.package_arn, status, trained)


def recorded_framework_version(package: dict[str, Any]) -> str | None:
    """The library version a DescribeModelPackage answer records, or None.

    Its first container's ``FrameworkVersion``, else the ``framework_version`` customer metadata
    property.
    """
    containers = package.get("InferenceSpecification", {}).get("Containers", [])
    if containers and containers[0].get("FrameworkVersion"):
        return str(containers[0]["FrameworkVersion"])
    version = package.get("CustomerMetadataProperties", {}).get(FRAMEWORK_VERSION_PROPERTY)
    return str(version) if version else None
