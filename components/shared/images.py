"""Container images: where every job's and model's image comes from, and its URI.

An image is AWS's prebuilt SageMaker container for a framework (pinned tags below) or one of ours
in this account's ECR (the ``image`` setting, :class:`~components.shared.spec_rules.ImageConfig`).
A layer turns it into the URI its jobs run and the repository their role may pull from with
:func:`resolve_image`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.shared.spec_rules import ImageConfig

#: What a prebuilt container is for: serving, training in script mode, or a processing job.
ImageUse = Literal["inference", "training", "processing"]

#: AWS's prebuilt repositories per use and framework (``get_prebuilt_ecr_image``).
PREBUILT_REPOSITORIES: dict[str, dict[str, str]] = {
    "inference": {
        "sklearn": "sagemaker-scikit-learn",
        "xgboost": "sagemaker-xgboost",
        "pytorch": "pytorch-inference",
    },
    # The training containers run our code in script mode (the sagemaker-training toolkit).
    "training": {
        "sklearn": "sagemaker-scikit-learn",
        "xgboost": "sagemaker-xgboost",
        "pytorch": "pytorch-training",
    },
    "processing": {"sklearn": "sagemaker-scikit-learn"},
}

#: Frameworks whose AWS prebuilt inference containers run our handlers, with the image tag used
#: when a variant names none. The tag's version must be the major.minor the model was trained
#: with (the training code records it in the model's metadata.json): scikit-learn 1.9 and
#: XGBoost 3.2, what ``workloads`` trains with. Tags as the SageMaker Python SDK's image URI
#: tables (sagemaker-core's ``image_uri_config``) name them; tests/components/shared/
#: test_images.py checks each against those tables for every stack's region.
PREBUILT_FRAMEWORK_TAGS = {
    "sklearn": "1.9-0-cpu-py3",
    "xgboost": "3.2-0",
    "pytorch": "2.6.0-cpu-py312",
}

#: Prebuilt SageMaker training containers that run our training code in script mode, with the tag
#: used when a pipeline names none. The serving container of the same framework must load what
#: they train, so these are PREBUILT_FRAMEWORK_TAGS' versions, taken from that one table.
PREBUILT_TRAINING_TAGS = dict(PREBUILT_FRAMEWORK_TAGS)

#: The PyTorch training container tag used on GPU instances (same version as the CPU tag).
PYTORCH_GPU_TRAINING_TAG = "2.6.0-gpu-py312"

#: The tag of AWS's prebuilt scikit-learn processing image (numpy, scipy and boto3 inside), which
#: the monitor runs in when no image of ours is set.
PREBUILT_MONITORING_TAG = "1.4-2-cpu-py3"


def tag_version(tag: str) -> str:
    """The framework's major.minor version a prebuilt container's tag names.

    ``1.9-0-cpu-py3`` (scikit-learn) and ``3.2-0`` (XGBoost) name 1.9 and 3.2, ``2.6.0-cpu-py312``
    (PyTorch) names 2.6: the tags start with the version, its parts joined by dots, then ``-``.
    """
    return ".".join(tag.split("-")[0].split(".")[:2])


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
