"""ImageRepositories: the ECR repositories of the platform's own images (``ml-platform/<name>``).

Every repository

* scans each image on push (basic scanning; findings show in ECR and Security Hub);
* has immutable tags, so a release tag always names the image that was tested, registered and
  deployed (only with ``mutable_scratch_tags`` may scratch tags, ``dev-...``, be moved:
  ``IMMUTABLE_WITH_EXCLUSION`` with one wildcard filter per scratch prefix);
* is encrypted with the platform's KMS key;
* has a lifecycle policy that never expires an image with a release tag (the tags stack files
  and registered model versions name) and expires only untagged images (after some days) and
  scratch images beyond the newest few per prefix;
* is stateful: protected and retained in production, and only in a destroyable stack
  (``force_delete``) does ``pulumi destroy`` delete a repository that still holds images.

ECR only answers over HTTPS, so unlike buckets there is no TLS-deny policy to add.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components.platform import PlatformContext
from components.training.spec import RepositoriesConfig

#: The namespace of the platform's repositories.
NAMESPACE = "ml-platform"


def repository_name(name: str) -> str:
    """The full repository name: ``ml-platform/<name>``."""
    return f"{NAMESPACE}/{name}"


#: What a release rule keeps: ECR's default quota of images per repository (adjustable on
#: request), so the rule cannot expire anything while the quota stands. Its only purpose is to
#: shield release images from the scratch rules below it (see :func:`lifecycle_policy`).
RELEASE_IMAGES_KEPT = 10_000


def lifecycle_policy(spec: RepositoriesConfig) -> str:
    """The lifecycle policy document for ``spec``: release images never expire.

    ECR evaluates rules by ``rulePriority`` (lowest first), an image is expired by at most one
    rule, and an image that matches the tag selection of a rule cannot be expired by a rule of
    lower priority; a tag list holds the image when *all* its entries match one of the image's
    tags (https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html). So:

    1. untagged images expire ``untagged_expiry_days`` after their push;
    2. one rule per release tag pattern selects the images carrying such a tag and keeps
       :data:`RELEASE_IMAGES_KEPT` of them, which a repository cannot exceed: it never expires
       anything and keeps those images away from the rules below, even when an image also carries
       a scratch tag (a promoted build tagged ``dev-3f2a9c1`` and ``1.2.0``);
    3. one rule per scratch prefix keeps the newest ``keep_scratch_images`` images with a tag of
       that prefix and expires older ones.

    Any other tag is selected by no rule and never expires.
    """
    rules: list[dict[str, object]] = [
        {
            "description": f"Expire untagged images after {spec.untagged_expiry_days} days",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": spec.untagged_expiry_days,
            },
        },
        *(
            {
                "description": f"Never expire release images (tags {pattern})",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPatternList": [pattern],
                    "countType": "imageCountMoreThan",
                    "countNumber": RELEASE_IMAGES_KEPT,
                },
            }
            for pattern in spec.release_tag_patterns
        ),
        *(
            {
                "description": (
                    f"Keep the newest {spec.keep_scratch_images} scratch images tagged {prefix}*"
                ),
                "selection": {
                    "tagStatus": "tagged",
                    "tagPatternList": [f"{prefix}*"],
                    "countType": "imageCountMoreThan",
                    "countNumber": spec.keep_scratch_images,
                },
            }
            for prefix in spec.scratch_tag_prefixes
        ),
    ]
    return json.dumps(
        {
            "rules": [
                {"rulePriority": priority, **rule, "action": {"type": "expire"}}
                for priority, rule in enumerate(rules, start=1)
            ]
        },
        sort_keys=True,
    )


def tag_mutability(
    spec: RepositoriesConfig,
) -> tuple[str, list[aws.ecr.RepositoryImageTagMutabilityExclusionFilterArgs]]:
    """The repository's tag mutability and its exclusion filters (scratch tags, when opted in)."""
    if not spec.mutable_scratch_tags:
        return "IMMUTABLE", []
    return "IMMUTABLE_WITH_EXCLUSION", [
        aws.ecr.RepositoryImageTagMutabilityExclusionFilterArgs(
            filter=f"{prefix}*", filter_type="WILDCARD"
        )
        for prefix in spec.scratch_tag_prefixes
    ]


class ImageRepositories(pulumi.ComponentResource):
    """Scanned, KMS-encrypted ECR repositories: immutable release tags that never expire."""

    repositories: dict[str, aws.ecr.Repository]
    """Each repository by its full name (``ml-platform/training``)."""
    urls: dict[str, pulumi.Output[str]]
    """Each repository's URL (``<account>.dkr.ecr.<region>.amazonaws.com/ml-platform/<name>``)."""
    arns: dict[str, pulumi.Output[str]]
    """Each repository's ARN."""

    def __init__(
        self,
        name: str,
        spec: RepositoriesConfig,
        platform: PlatformContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlplatform:training:ImageRepositories", name, None, opts)
        retention = platform.retention
        policy = lifecycle_policy(spec)
        mutability, exclusions = tag_mutability(spec)
        self.repositories = {}
        for short_name in spec.names:
            full_name = repository_name(short_name)
            repository = aws.ecr.Repository(
                f"{name}-{short_name}",
                # A fixed name: image URIs in stack configs name the repository.
                name=full_name,
                image_tag_mutability=mutability,
                image_tag_mutability_exclusion_filters=exclusions or None,
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                    scan_on_push=True
                ),
                encryption_configurations=[
                    aws.ecr.RepositoryEncryptionConfigurationArgs(
                        encryption_type="KMS", kms_key=platform.kms_key_arn
                    )
                ],
                # Only a destroyable stack may delete a repository that still holds images.
                force_delete=not retention.retain,
                opts=retention.stateful(self),
            )
            aws.ecr.LifecyclePolicy(
                f"{name}-{short_name}-lifecycle",
                repository=repository.name,
                policy=policy,
                opts=retention.stateful(repository),
            )
            self.repositories[full_name] = repository
        self.urls = {name: repo.repository_url for name, repo in self.repositories.items()}
        self.arns = {name: repo.arn for name, repo in self.repositories.items()}
        self.register_outputs({"urls": self.urls, "arns": self.arns})
