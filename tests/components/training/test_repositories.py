"""ImageRepositories over the real stack files: the platform's ECR repositories.

given a stack file run under the recording mock runtime / when the ECR resources are read / then
every configured repository scans on push, has immutable tags, is encrypted with the platform key
and has the configured lifecycle rules; in prod it survives a destroy, in dev it goes with it.
The lifecycle policies are evaluated the way ECR documents it (tests/ecr_lifecycle.py): an image
with a release tag, the kind stack files and registered versions name, never expires.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.training.repositories import RELEASE_IMAGES_KEPT, lifecycle_policy
from components.training.spec import RepositoriesConfig
from stacks.config import ConfigError, load_platform_config
from stacks.offline.mock_runtime import MOCK_ACCOUNT_ID, RecordedResource, run_offline
from tests.conftest import Plan, stack_config, stack_file, with_section
from tests.ecr_lifecycle import Image, expired, policy_problems, selects
from tests.service_models import operation as service_operation
from tests.service_models import request_problems

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
        # every tag immutable (Security Hub ECR.2): no stack opts into mutable scratch tags
        assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
        assert "imageTagMutabilityExclusionFilters" not in repository.inputs
        assert repository.inputs["encryptionConfigurations"] == [
            {"encryptionType": "KMS", "kmsKey": key}
        ]


def test_lifecycle_rules_as_configured(plan: Plan) -> None:
    # given the stack's retention of images (dev: defaults; prod: more kept, longer)
    config = configured(plan.run.stack)
    for repository in repositories(plan).values():
        # when the lifecycle rules are read
        untagged, release, *scratch = rules_of(plan, repository)
        # then untagged images expire after the configured days
        assert untagged["selection"] == {
            "tagStatus": "untagged",
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": config.untagged_expiry_days,
        }
        # and release images are held by a rule that keeps as many as a repository can hold
        assert release["selection"] == {
            "tagStatus": "tagged",
            "tagPatternList": ["*.*.*"],
            "countType": "imageCountMoreThan",
            "countNumber": RELEASE_IMAGES_KEPT,
        }
        # and only the newest scratch images of each prefix are kept
        assert [rule["selection"] for rule in scratch] == [
            {
                "tagStatus": "tagged",
                "tagPatternList": [f"{prefix}*"],
                "countType": "imageCountMoreThan",
                "countNumber": config.keep_scratch_images,
            }
            for prefix in ("dev-", "ci-")
        ]
        rules = [untagged, release, *scratch]
        assert [rule["action"] for rule in rules] == [{"type": "expire"}] * 4
        assert [rule["rulePriority"] for rule in rules] == [1, 2, 3, 4]


def test_prod_keeps_more_images_for_longer() -> None:
    # given the stack files / then prod keeps more scratch images and untagged ones longer
    dev, prod = configured("dev"), configured("prod")
    assert (dev.keep_scratch_images, dev.untagged_expiry_days) == (30, 7)
    assert (prod.keep_scratch_images, prod.untagged_expiry_days) == (100, 14)


# --------------------------------------------------------------------------------------------
# the lifecycle policy, as ECR evaluates it
# --------------------------------------------------------------------------------------------


def sample_images(keep_scratch: int) -> list[Image]:
    """A repository's images of every kind, more scratch images per prefix than are kept.

    Releases (one also carrying a scratch tag), untagged images 30 days and 1 day old, and a tag
    of neither kind.
    """
    images = [
        Image("release-1.0.0", ("1.0.0",), 900),
        Image("release-gpu", ("1.0.0-gpu",), 900),
        # a scratch build promoted by adding a release tag: older than every kept scratch image
        Image("promoted", ("dev-0000000", "1.1.0"), 800),
        Image("latest-only", ("latest",), 1000),
        Image("untagged-old", (), 30),
        Image("untagged-new", (), 1),
    ]
    for prefix in ("dev-", "ci-"):
        images += [
            Image(f"{prefix}{age:07d}", (f"{prefix}{age:07d}",), age)
            for age in range(1, keep_scratch + 6)
        ]
    return images


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_an_image_with_a_release_tag_never_expires(stack: str) -> None:
    # given the stack's policy and a repository with more images than it keeps
    config = configured(stack)
    policy = lifecycle_policy(config)
    images = sample_images(config.keep_scratch_images)
    # when ECR evaluates it
    gone = expired(policy, images)
    # then release images stay, even one that also has a scratch tag and is the oldest of them
    assert not {"release-1.0.0", "release-gpu", "promoted"} & gone
    # and a tag of neither kind is never selected
    assert "latest-only" not in gone
    # and exactly the untagged images past their days and the scratch images past the newest
    # keep_scratch_images of each prefix expire
    scratch_gone = {
        f"{prefix}{age:07d}"
        for prefix in ("dev-", "ci-")
        for age in range(config.keep_scratch_images + 1, config.keep_scratch_images + 6)
    }
    assert 1 < config.untagged_expiry_days < 30
    assert gone == scratch_gone | {"untagged-old"}


def test_without_the_release_rule_the_promoted_image_would_expire() -> None:
    # given the dev policy minus its release rule (the guard this test suite relies on)
    config = configured("dev")
    document = json.loads(lifecycle_policy(config))
    document["rules"] = [
        rule for rule in document["rules"] if rule["selection"].get("tagPatternList") != ["*.*.*"]
    ]
    # when evaluated on the same images / then the promoted build goes: the evaluator tells
    assert "promoted" in expired(json.dumps(document), sample_images(config.keep_scratch_images))


@pytest.mark.parametrize(
    "config",
    [
        RepositoriesConfig(),
        RepositoriesConfig(
            release_tag_patterns=("*.*.*", "v*", "release-*-*-*"),
            scratch_tag_prefixes=("dev-", "ci-", "pr-", "exp-", "tmp-"),
            keep_scratch_images=1000,
            untagged_expiry_days=365,
        ),
        RepositoriesConfig(scratch_tag_prefixes=()),
    ],
)
def test_policies_have_the_properties_ecr_requires(config: RepositoriesConfig) -> None:
    # given a policy / then ECR's documented properties hold and PutLifecyclePolicy takes it
    policy = lifecycle_policy(config)
    assert policy_problems(policy) == []
    request = {"repositoryName": "ml-platform/training", "lifecyclePolicyText": policy}
    shape = service_operation("ecr", "PutLifecyclePolicy").input_shape
    assert request_problems(shape, request) == []


def test_without_scratch_prefixes_no_tagged_image_expires() -> None:
    # given no scratch prefixes / when evaluated / then only the old untagged image goes
    policy = lifecycle_policy(RepositoriesConfig(scratch_tag_prefixes=()))
    assert expired(policy, sample_images(30)) == {"untagged-old"}


def test_every_image_the_stacks_name_in_our_repositories_has_a_release_tag() -> None:
    # given every {repository: ml-platform/..., tag} a stack file names
    for stack in ("dev", "prod"):
        config = configured(stack)
        named = list(_platform_images(stack_file(stack)))
        assert named, stack
        release_rules = [
            rule["selection"]
            for rule in json.loads(lifecycle_policy(config))["rules"]
            if rule["selection"].get("countNumber") == RELEASE_IMAGES_KEPT
        ]
        for repository, tag in named:
            # then its tag is a release tag: a release rule holds it, so it never expires
            image = Image(repository, (tag,), 0)
            assert any(selects(rule, image) for rule in release_rules), (stack, repository, tag)
            assert not tag.startswith(config.scratch_tag_prefixes), (stack, repository, tag)


def _platform_images(node: Any) -> Any:
    """Every (repository, tag) under ``node`` whose repository is one of the platform's."""
    if isinstance(node, dict):
        repository = node.get("repository")
        if isinstance(repository, str) and repository.startswith("ml-platform/") and "tag" in node:
            yield repository, str(node["tag"])
        for value in node.values():
            yield from _platform_images(value)
    elif isinstance(node, list):
        for value in node:
            yield from _platform_images(value)


# --------------------------------------------------------------------------------------------
# mutable scratch tags (opt-in) and config errors
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mutable_scratch() -> Plan:
    """Dev with mutable scratch tags opted in."""
    training = stack_file("dev")["ml-platform:training"]
    training["repositories"] = {**training.get("repositories", {}), "mutable_scratch_tags": True}
    return Plan(run_offline("dev", with_section(stack_config("dev"), "training", training)))


def test_mutable_scratch_tags_exclude_only_the_scratch_prefixes(mutable_scratch: Plan) -> None:
    for repository in repositories(mutable_scratch.layer("training")).values():
        assert repository.inputs["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
        filters = repository.inputs["imageTagMutabilityExclusionFilters"]
        assert filters == [
            {"filter": "dev-*", "filterType": "WILDCARD"},
            {"filter": "ci-*", "filterType": "WILDCARD"},
        ]
        request = {
            "repositoryName": repository.inputs["name"],
            "imageTagMutability": repository.inputs["imageTagMutability"],
            "imageTagMutabilityExclusionFilters": filters,
        }
        shape = service_operation("ecr", "CreateRepository").input_shape
        assert request_problems(shape, request) == []


@pytest.mark.parametrize(
    ("section", "problems"),
    [
        (
            {"release_tag_patterns": ["*"]},
            [
                "training.repositories.release_tag_patterns: '*' matches every tag, so no scratch"
                " image would ever expire"
            ],
        ),
        (
            {"release_tag_patterns": ["*-*-*-*-*"]},
            [
                "training.repositories.release_tag_patterns: '*-*-*-*-*' has 5 wildcards; an ECR"
                " lifecycle tag pattern has at most 4"
            ],
        ),
        (
            {"scratch_tag_prefixes": ["dev-"], "release_tag_patterns": ["*.*.*", "dev-*"]},
            [
                "training.repositories: scratch tag prefix 'dev-' is also a release tag pattern"
                " ('<prefix>*'): a tag cannot be both"
            ],
        ),
        (
            {"scratch_tag_prefixes": [], "mutable_scratch_tags": True},
            [
                "training.repositories: mutable_scratch_tags needs scratch_tag_prefixes (the tags"
                " it frees)"
            ],
        ),
        (
            {"scratch_tag_prefixes": ["a-", "b-", "c-", "d-", "e-", "f-"]},
            ["training.repositories.scratch_tag_prefixes: must have at most 5 items"],
        ),
        (
            {"scratch_tag_prefixes": ["dev*"]},
            ["training.repositories.scratch_tag_prefixes[0]: must match ^[0-9a-zA-Z._-]+$"],
        ),
        (
            {"keep_scratch_images": 0},
            ["training.repositories.keep_scratch_images: must be >= 1"],
        ),
    ],
)
def test_tag_settings_ecr_cannot_take_are_refused(
    section: dict[str, Any], problems: list[str]
) -> None:
    # given a repositories section / when loaded / then each problem is named at its path
    with pytest.raises(ConfigError) as raised:
        load_platform_config(
            "dev", with_section(stack_config("dev"), "training", {"repositories": section})
        )
    assert raised.value.problems == problems


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
    config = RepositoriesConfig(keep_scratch_images=5, untagged_expiry_days=3)
    assert lifecycle_policy(config) == lifecycle_policy(config.model_copy())
    assert json.loads(lifecycle_policy(config))["rules"][2]["selection"]["countNumber"] == 5
