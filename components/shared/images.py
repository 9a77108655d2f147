"""Container images: the ``image`` setting of every spec, the pinned prebuilt tags, and images.

A layer turns a :class:`ContainerImage` into the URI its jobs run and the ECR repository their role
may pull from with :func:`resolve_image`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
from pydantic import (
    Field,
    field_validator,
)

from components.shared.spec_rules import Section

#: Frameworks whose AWS prebuilt inference containers run our handlers, with the image tag used
#: when a variant names none. The tag must match the framework version the model was trained
#: with (the training layer records it in the model's metadata).
PREBUILT_FRAMEWORK_TAGS = {
    "sklearn": "1.4-2",
    "xgboost": "1.7-1",
    "pytorch": "2.6.0-cpu-py312",
}


class ImageConfig(Section):
    """An image of our own in this account's ECR (built from a Dockerfile in docker/)."""

    repository: str = Field(pattern=r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*$", max_length=256)
    """The ECR repository name (in the stack's account and region; 2-256 characters)."""
    tag: str = Field(pattern=r"^[\w][\w.-]{0,127}$")
    """An immutable tag (never ``latest``: a moving tag makes deploys unrepeatable)."""

    @field_validator("tag")
    @classmethod
    def _not_latest(cls, value: str) -> str:
        if value == "latest":
            raise ValueError("must not be 'latest' (pin an immutable tag)")
        return value


#: Prebuilt SageMaker training containers that run our training code in script mode, with the tag
#: used when a pipeline names none. The serving container of the same framework must load what
#: they train, so these versions match PREBUILT_FRAMEWORK_TAGS.
PREBUILT_TRAINING_TAGS = {
    "sklearn": "1.4-2",
    "xgboost": "1.7-1",
    "pytorch": "2.6.0-cpu-py312",
}


#: The PyTorch training container tag used on GPU instances (same version as the CPU tag).
PYTORCH_GPU_TRAINING_TAG = "2.6.0-gpu-py312"


#: AWS's prebuilt scikit-learn processing image the monitor runs in when no image of ours is set
#: (numpy, scipy and boto3 inside); its repository in ``get_prebuilt_ecr_image``.
PREBUILT_MONITORING_REPOSITORY = "sagemaker-scikit-learn"


PREBUILT_MONITORING_TAG = "1.4-2-cpu-py3"


@dataclass(frozen=True)
class ContainerImage:
    """The image a job runs: one of AWS's prebuilt SageMaker images, or one of ours in ECR.

    A prebuilt image is looked up in AWS's registry for the stack's region
    (``get_prebuilt_ecr_image``); ours lies in this account's ECR in the stack's region. The
    flag says which, so an image is always exactly one of the two.
    """

    repository: str
    """The repository: AWS's (``sagemaker-scikit-learn``) or ours (``ml-platform/monitor``)."""
    tag: str
    """The image's tag in that repository."""
    prebuilt: bool
    """True for AWS's prebuilt image, False for ours in this account's ECR."""


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
    if image.prebuilt:
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
            repository_url(account_id, region, image.repository), ":", image.tag
        )
    arn = pulumi.Output.concat(
        "arn:", partition, ":ecr:", region, ":", registry, ":repository/", image.repository
    )
    return ResolvedImage(uri=uri, repository_arn=arn)
