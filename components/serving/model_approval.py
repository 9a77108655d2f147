"""ModelApproval: refuse at ``pulumi up`` to deploy a registered model version that is not Approved.

A variant that names ``model: {group, version}`` gets its Model from the model package
``mlp-<env>-<group>/<version>``. Before that Model, the :class:`ServingModel` puts this resource
(a Pulumi dynamic provider): whenever the version (or another input) changes, it runs
:func:`workloads.ops.approval.check_approved`, which fails ``pulumi up`` with one line naming the
endpoint, the variant, the group, the version and its status unless the version is Approved, and
also when the framework version the package records cannot run on the variant's container. The
Model depends on it, so nothing the endpoint runs on is created or changed after a refusal; a
failed check leaves the recorded inputs as they were, so the next ``pulumi up`` checks again.

The check runs when the deployed version changes, not on every ``up``: a version rejected after it
was deployed keeps serving until the stack names another (rejecting a deployed version is the
ops command's concern). It needs boto3 and the deployer's credentials (DescribeModelPackage) at
deploy time; under the offline mock runtime it is only recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from components.serving.deploy_check import DeployCheck
from workloads.ops.approval import DeployedVersion, check_approved

#: The check's inputs; everything else in its state is the provider's or an output.
INPUTS = (
    "endpoint_name",
    "variant_name",
    "group_name",
    "version",
    "package_arn",
    "region",
    "framework",
    "serving_version",
)


def sagemaker_client(region: str) -> Any:
    """A SageMaker client for ``region`` with the deployer's credentials (boto3 imported lazily)."""
    import boto3

    return boto3.client("sagemaker", region_name=region)


def approve(props: Mapping[str, Any]) -> dict[str, Any]:
    """Run the approval check for the resource's inputs; its outputs (raises ``OpsError``).

    The outputs besides the inputs: the version's status and the library version it records.
    """
    outcome = check_approved(
        DeployedVersion(
            endpoint_name=props["endpoint_name"],
            variant_name=props["variant_name"],
            group_name=props["group_name"],
            version=int(props["version"]),
            package_arn=props["package_arn"],
        ),
        framework=props.get("framework"),
        serving_version=props.get("serving_version"),
        sagemaker=sagemaker_client(props["region"]),
    )
    return {"approval_status": outcome.status, "framework_version": outcome.framework_version}


class ModelApprovalProvider(DeployCheck):
    """The dynamic provider behind :class:`ModelApproval` (see the module docstring).

    It checks the version a variant is first deployed with, and every version an update names.
    """

    INPUTS = INPUTS
    ID_INPUT = "package_arn"

    def check(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """Run the approval check (:func:`approve`)."""
        return approve(props)


class ModelApproval(pulumi.dynamic.Resource, module="serving", name="ModelApproval"):
    """Fails the deployment unless the registered version a variant deploys is Approved."""

    approval_status: pulumi.Output[str]
    """The version's ModelApprovalStatus when it was checked (Approved)."""
    framework_version: pulumi.Output[str | None]
    """The library version the package records, or None."""

    def __init__(
        self,
        name: str,
        *,
        endpoint_name: str,
        variant_name: str,
        group_name: str,
        version: int,
        package_arn: pulumi.Input[str],
        region: str,
        framework: str | None,
        serving_version: str | None,
        opts: pulumi.ResourceOptions,
    ) -> None:
        """Check version ``version`` of ``group_name`` (``package_arn``) for a variant.

        ``framework`` and ``serving_version`` (major.minor) describe the variant's container
        (None for our own image: the versions are not compared).
        """
        super().__init__(
            ModelApprovalProvider(),
            name,
            {
                "endpoint_name": endpoint_name,
                "variant_name": variant_name,
                "group_name": group_name,
                "version": version,
                "package_arn": package_arn,
                "region": region,
                "framework": framework,
                "serving_version": serving_version,
                "approval_status": None,
                "framework_version": None,
            },
            opts,
        )
