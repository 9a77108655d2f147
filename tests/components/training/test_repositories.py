"""ImageRepositories over the real stack files: the platform's ECR repositories.

given a stack file run under the recording mock runtime / when the ECR resources are read / then
every configured repository scans on push, has immutable tags, is encrypted with the platform key
and has the configured lifecycle rules; in prod it survives a destroy, in dev it goes with it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.training.repositories import lifecycle_policy
from components.training.spec import RepositoriesConfig
from stacks.offline.mock_runtime import MOCK_ACCOUNT_ID, RecordedResource
from tests.conftest import Plan, stack_file

REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"


@pytest.fixture
def plan(plan: Plan) -> Plan:
    """Each stack's plan, seen through its training layer."""
    return plan.layer("training")


def configured(stack: str) -> RepositoriesConfig:
    """The stack file's repositories section, with the config's defaults filled in."""
    section = stack_file(stack)["ml-platform:training"].get("repositories", {})
    # Through JSON, as the program reads config (strict models take lists as JSON arrays).
    return RepositoriesConfig.model_validate_json(json.dumps(section))


def repositories(plan: Plan) -> dict[str, RecordedResource]:
    return {resource.inputs["name"]: resource for resource in plan.of_type(REPOSITORY)}


def rules_of(plan: Plan, repository: RecordedResource) -> list[dict[str, Any]]:
    (policy,) = plan.children(repository, LIFECYCLE)
    assert policy.inputs["repository"] == repository.outputs["name"]
    return json.loads(policy.inputs["policy"])["rules"]


def test_one_repository_per_configured_name(plan: Plan) -> None:
    # given the configured names (training and serving by default)
    names = configured(plan.run.stack).names
    # then each is a repository under the platform's namespace, exported with its URL
    assert sorted(repositories(plan)) == sorted(f"ml-platform/{name}" for name in names)
    urls = plan.run.exports["training"]["repository_urls"]
    assert urls == {
        f"ml-platform/{name}": (
            f"{MOCK_ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/ml-platform/{name}"
        )
        for name in names
    }


def test_scan_on_push_immutable_tags_and_the_platform_key(plan: Plan) -> None:
    key = plan.run.exports["data"]["kms_key_arn"]
    for repository in repositories(plan).values():
        assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repository.inputs["encryptionConfigurations"] == [
            {"encryptionType": "KMS", "kmsKey": key}
        ]


def test_lifecycle_rules_as_configured(plan: Plan) -> None:
    # given the stack's retention of images (dev: defaults; prod: more kept, longer)
    config = configured(plan.run.stack)
    for repository in repositories(plan).values():
        # when the lifecycle rules are read
        untagged, tagged = rules_of(plan, repository)
        # then untagged images expire after the configured days
        assert untagged["selection"] == {
            "tagStatus": "untagged",
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": config.untagged_expiry_days,
        }
        # and only the newest tagged images are kept
        assert tagged["selection"] == {
            "tagStatus": "tagged",
            "tagPatternList": ["*"],
            "countType": "imageCountMoreThan",
            "countNumber": config.keep_tagged_images,
        }
        assert [rule["action"] for rule in (untagged, tagged)] == [{"type": "expire"}] * 2
        assert [rule["rulePriority"] for rule in (untagged, tagged)] == [1, 2]


def test_prod_keeps_more_images_for_longer() -> None:
    # given the stack files / then prod keeps more tagged images and untagged ones longer
    dev, prod = configured("dev"), configured("prod")
    assert (dev.keep_tagged_images, dev.untagged_expiry_days) == (30, 7)
    assert (prod.keep_tagged_images, prod.untagged_expiry_days) == (100, 14)


def test_prod_protects_and_retains_repositories_and_dev_deletes_them(
    plans: dict[str, Plan],
) -> None:
    # given both stacks' repositories and their lifecycle policies
    for stack, retained in (("dev", False), ("prod", True)):
        plan = plans[stack].layer("training")
        for repository in repositories(plan).values():
            (policy,) = plan.children(repository, LIFECYCLE)
            # then prod protects and retains them, dev neither
            for resource in (repository, policy):
                assert (resource.protect, resource.retain_on_delete) == (retained, retained)
            # and only dev's destroy deletes a repository that still holds images
            assert repository.inputs["forceDelete"] is (not retained)


def test_serving_images_come_from_a_platform_repository(plans: dict[str, Plan]) -> None:
    # given the images prod's endpoints serve from our own ECR
    serving = stack_file("prod")["ml-platform:serving"]["endpoints"]
    images = {
        variant["image"]["repository"]
        for endpoint in serving
        for variant in [*endpoint["variants"], endpoint.get("shadow_variant") or {}]
        if "image" in variant
    }
    assert images
    # then the training layer creates those repositories
    assert images <= set(repositories(plans["prod"].layer("training")))


def test_lifecycle_policy_document_is_stable() -> None:
    # the same settings give the same text: no diff on every deploy
    assert lifecycle_policy(7, 30) == lifecycle_policy(7, 30)
    assert json.loads(lifecycle_policy(3, 5))["rules"][1]["selection"]["countNumber"] == 5
