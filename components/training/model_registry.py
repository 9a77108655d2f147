"""ModelRegistry: one SageMaker model package group per model the stack's pipelines train.

Each group (``mlp-<env>-<group>``) holds the registered versions of one model, so it is stateful:
protected and retained in production (:class:`~components.shared.retention.DataRetention`).
Pipelines of the same model share its group (the spec refuses them setting it differently).
When other accounts read the group (``registry.readers``), a resource policy lets exactly those
accounts describe the group and list and describe its versions: read only, nothing else. The
policy grants access and holds no data, so it is never protected or retained.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.platform import PlatformContext
from components.shared import iam_policies
from components.shared.spec_rules import platform_name
from components.training.spec import ModelRegistryConfig, TrainingPipelineConfig

#: PutModelPackageGroupPolicy's limit on the policy (``ResourcePolicy``, characters).
MAX_POLICY_CHARACTERS = 20_480

#: What a reader account may do on the group.
GROUP_READ_ACTIONS = ("sagemaker:DescribeModelPackageGroup",)

#: What a reader account may do on the group's versions (``model-package/<group>/<version>``).
PACKAGE_READ_ACTIONS = ("sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages")


@dataclass(frozen=True)
class ModelGroup:
    """One model package group as the pipelines configure it."""

    name: str
    """The group's name in AWS (``mlp-<env>-<group>``)."""
    settings: ModelRegistryConfig
    """Its description and readers (the same in every pipeline naming it)."""


def model_groups(
    environment: str, pipelines: tuple[TrainingPipelineConfig, ...]
) -> dict[str, ModelGroup]:
    """The groups the pipelines register into, by short name, once each (in pipeline order)."""
    groups: dict[str, ModelGroup] = {}
    for pipeline in pipelines:
        group, registry = pipeline.model_group, pipeline.registry
        if group is None or registry is None or group in groups:
            continue
        groups[group] = ModelGroup(platform_name(environment, group), registry)
    return groups


def group_policy(
    *, partition: str, region: str, account_id: str, group_name: str, readers: list[str]
) -> str:
    """The group's resource policy: ``readers`` may read the group and its versions, only."""
    sagemaker = f"arn:{partition}:sagemaker:{region}:{account_id}"
    principal = {"AWS": [f"arn:{partition}:iam::{reader}:root" for reader in readers]}
    return iam_policies.policy_json(
        {
            "Sid": "ReadGroup",
            "Effect": "Allow",
            "Principal": principal,
            "Action": list(GROUP_READ_ACTIONS),
            "Resource": f"{sagemaker}:model-package-group/{group_name}",
        },
        {
            "Sid": "ReadVersions",
            "Effect": "Allow",
            "Principal": principal,
            "Action": list(PACKAGE_READ_ACTIONS),
            "Resource": f"{sagemaker}:model-package/{group_name}/*",
        },
    )


class ModelRegistry(pulumi.ComponentResource):
    """The stack's model package groups, and the resource policies of those read elsewhere."""

    groups: dict[str, aws.sagemaker.ModelPackageGroup]
    """Each group by its name in AWS."""

    def __init__(
        self,
        name: str,
        pipelines: tuple[TrainingPipelineConfig, ...],
        platform: PlatformContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlplatform:training:ModelRegistry", name, None, opts)
        retention = platform.retention
        self.groups = {}
        for short_name, group in model_groups(platform.environment, pipelines).items():
            resource = aws.sagemaker.ModelPackageGroup(
                f"{name}-{short_name}",
                # A fixed name: pipelines register into it and other accounts read it by name.
                model_package_group_name=group.name,
                model_package_group_description=group.settings.description,
                opts=retention.stateful(self),
            )
            if group.settings.readers:
                readers = list(group.settings.readers)
                aws.sagemaker.ModelPackageGroupPolicy(
                    f"{name}-{short_name}-policy",
                    model_package_group_name=resource.model_package_group_name,
                    resource_policy=pulumi.Output.all(
                        partition=platform.partition, account=platform.account_id
                    ).apply(
                        lambda values, group_name=group.name, readers=readers: group_policy(
                            partition=values["partition"],
                            region=platform.region,
                            account_id=values["account"],
                            group_name=group_name,
                            readers=readers,
                        )
                    ),
                    # An access grant, not data: never protected (a child would inherit the
                    # group's protection), so readers can be changed and a teardown revokes it.
                    opts=pulumi.ResourceOptions(parent=resource, protect=False),
                )
            self.groups[group.name] = resource
        self.register_outputs(self.exports())

    def exports(self) -> dict[str, object]:
        """Each group's name and ARN, by its name."""
        return {name: {"name": name, "arn": group.arn} for name, group in self.groups.items()}
