"""ImageRepositories: the ECR repositories of the platform's own images (``ml-platform/<name>``).

Every repository

* scans each image on push (basic scanning; findings show in ECR and Security Hub);
* has IMMUTABLE tags, so a tag always names the image that was tested and deployed;
* is encrypted with the platform's KMS key;
* expires untagged images (failed or superseded pushes) after some days and keeps only the
  newest tagged ones (a lifecycle policy);
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


def lifecycle_policy(untagged_expiry_days: int, keep_tagged_images: int) -> str:
    """The lifecycle policy document: expire untagged images, keep the newest tagged ones."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"Expire untagged images after {untagged_expiry_days} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": untagged_expiry_days,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"Keep the newest {keep_tagged_images} tagged images",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPatternList": ["*"],
                        "countType": "imageCountMoreThan",
                        "countNumber": keep_tagged_images,
                    },
                    "action": {"type": "expire"},
                },
            ]
        },
        sort_keys=True,
    )


class ImageRepositories(pulumi.ComponentResource):
    """Scanned, immutable, KMS-encrypted ECR repositories with lifecycle rules."""

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
        policy = lifecycle_policy(spec.untagged_expiry_days, spec.keep_tagged_images)
        self.repositories = {}
        for short_name in spec.names:
            full_name = repository_name(short_name)
            repository = aws.ecr.Repository(
                f"{name}-{short_name}",
                # A fixed name: image URIs in stack configs name the repository.
                name=full_name,
                image_tag_mutability="IMMUTABLE",
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
