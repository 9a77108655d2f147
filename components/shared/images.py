"""Container images: where every job's and model's image comes from, and its URI.

An image is AWS's prebuilt SageMaker container for a framework (pinned tags in
:mod:`components.shared.image_tags`) or one of ours in this account's ECR (the ``image``
setting, :class:`~components.shared.spec_rules.ImageConfig`).
A layer turns it into the URI its jobs run and the repository their role may pull from with
:func:`resolve_image`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

# The tables live apart, without Pulumi (the specs read them); re-exported for the layers.
from components.shared.image_tags import PREBUILT_FRAMEWORK_TAGS as PREBUILT_FRAMEWORK_TAGS
from components.shared.image_tags import PREBUILT_MONITORING_TAG as PREBUILT_MONITORING_TAG
from components.shared.image_tags import PREBUILT_REPOSITORIES as PREBUILT_REPOSITORIES
from components.shared.image_tags import PREBUILT_TRAINING_TAGS as PREBUILT_TRAINING_TAGS
from components.shared.image_tags import PYTORCH_GPU_TRAINING_TAG as PYTORCH_GPU_TRAINING_TAG
from components.shared.image_tags import ImageUse
from components.shared.image_tags import tag_version as tag_version
from components.shared.spec_rules import ImageConfig


@dataclass(frozen=True)
class ContainerImage:
    """Where an image comes from: exactly one of AWS's prebuilt repositories or one of ours."""

    framework_repository: str | None = None
    """An AWS prebuilt repository (``sagemaker-xgboost``, ``pytorch-inference``, ...)."""
    framework_tag: str | None = None
    """The prebuilt image's tag."""
    ecr_repository: str | None = None
    """Our own image's repository in this account's ECR (``ml-platform/training``)."""
    ecr_tag: str | None = None
    """Our own image's tag."""

    def __post_init__(self) -> None:
        if self.is_prebuilt == (self.ecr_repository is not None):
            raise ValueError(
                "ContainerImage: set exactly one of framework_repository and ecr_repository"
            )
        if self.tag is None:
            raise ValueError("ContainerImage: the image's tag is required")

    @classmethod
    def prebuilt(cls, framework: str, use: ImageUse, tag: str) -> ContainerImage:
        """AWS's prebuilt container of ``framework`` for ``use``, at ``tag``."""
        return cls(framework_repository=PREBUILT_REPOSITORIES[use][framework], framework_tag=tag)

    @classmethod
    def ours(cls, image: ImageConfig) -> ContainerImage:
        """One of our images, as a spec's ``image`` setting names it."""
        return cls(ecr_repository=image.repository, ecr_tag=image.tag)

    @property
    def is_prebuilt(self) -> bool:
        """Whether this is one of AWS's prebuilt containers."""
        return self.framework_repository is not None

    @property
    def repository(self) -> str:
        """The image's repository, AWS's or ours."""
        return self.framework_repository or self.ecr_repository or ""

    @property
    def tag(self) -> str | None:
        """The image's tag."""
        return self.framework_tag if self.is_prebuilt else self.ecr_tag


@dataclass(frozen=True)
class ResolvedImage:
    """An image's URI and the ECR repository a job pulls it from."""

    uri: pulumi.Output[str]
    """``<registry>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>``."""
    repository_arn: pulumi.Output[str]
    """The repository's ARN (what the job's role may pull from)."""


def repository_url(
    account_id: pulumi.Input[str], region: str, repository: str
) -> pulumi.Output[str]:
    """The URL of an ECR repository in this account.

    ``<account>.dkr.ecr.<region>.amazonaws.com/<repository>``; images of ours are ``<url>:<tag>``.
    The account id is an output, so the URL is one too.
    """
    return pulumi.Output.concat(account_id, ".dkr.ecr.", region, ".amazonaws.com/", repository)


def resolve_image(
    image: ContainerImage,
    *,
    region: str,
    account_id: pulumi.Input[str],
    partition: pulumi.Input[str],
    parent: pulumi.Resource,
) -> ResolvedImage:
    """Look up a prebuilt image's registry, or build our own image's URI in this account."""
    if image.is_prebuilt:
        prebuilt = aws.sagemaker.get_prebuilt_ecr_image_output(
            repository_name=image.repository,
            image_tag=image.tag,
            region=region,
            opts=pulumi.InvokeOutputOptions(parent=parent),
        )
        registry: pulumi.Input[str] = prebuilt.registry_id
        uri: pulumi.Output[str] = prebuilt.registry_path
    else:
        registry = account_id
        uri = pulumi.Output.concat(
            repository_url(account_id, region, image.repository), ":", image.tag or ""
        )
    arn = pulumi.Output.concat(
        "arn:", partition, ":ecr:", region, ":", registry, ":repository/", image.repository
    )
    return ResolvedImage(uri=uri, repository_arn=arn)
