"""ModelRegistry over the real stack files: one model package group per model.

given the dev and prod stack files (or variants) under the recording mock runtime / when the
training layer's registry is read / then each model has one group named mlp-<env>-<group>,
protected and retained only in prod, a read-only resource policy exactly when other accounts read
it, requests SageMaker's API accepts, a policy AWS's IAM catalog accepts, and the layer exports
each group's name and ARN.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.training.model_registry import MAX_POLICY_CHARACTERS, group_policy
from stacks.offline.mock_runtime import MOCK_ACCOUNT_ID, RecordedResource, run_offline
from stacks.offline.plan import render
from tests.conftest import Plan, stack_config, stack_file, with_section
from tests.iam_catalog import PolicyDocument, check_document
from tests.service_models import operation, request_problems
from tests.stacks.samples import serving_from_archives, without_retraining

GROUP = "aws:sagemaker/modelPackageGroup:ModelPackageGroup"
POLICY = "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy"
REGISTRY = "mlplatform:training:ModelRegistry"
SAGEMAKER = f"arn:aws:sagemaker:us-east-1:{MOCK_ACCOUNT_ID}"


def group_arn(name: str) -> str:
    return f"{SAGEMAKER}:model-package-group/{name}"


def catalog_document(policy: RecordedResource) -> PolicyDocument:
    """The group policy as the IAM catalog checks take it."""
    return PolicyDocument(
        where=f"{policy.type} '{policy.name}' resourcePolicy",
        kind="sagemaker-model-package-group",
        text=policy.inputs["resourcePolicy"],
    )


#: An account allowed to read dev's group in the variant below (the stack files name none).
READER = "111122223333"


@pytest.fixture(scope="module")
def dev_read_by_another_account() -> Plan:
    """Dev whose churn group another account (READER) reads."""
    section = stack_file("dev")["ml-platform:training"]
    (pipeline,) = section["pipelines"]
    pipeline["registry"] = {**pipeline["registry"], "readers": [READER]}
    return Plan(run_offline("dev", with_section(stack_config("dev"), "training", section)))


# --------------------------------------------------------------------------------------------
# the stack files
# --------------------------------------------------------------------------------------------


def test_each_model_of_the_stack_has_one_group(plan: Plan) -> None:
    # given the stack's pipelines (each names a group: dev churn, prod fraud)
    stack = plan.run.stack
    pipelines = stack_file(stack)["ml-platform:training"]["pipelines"]
    expected = [f"mlp-{stack}-{p['name']}" for p in pipelines]
    # then the training layer's registry holds one group per model, with its description
    groups = plan.layer("training").of_type(GROUP)
    assert [group.inputs["modelPackageGroupName"] for group in groups] == expected
    descriptions = [p["registry"]["description"] for p in pipelines]
    assert [group.inputs["modelPackageGroupDescription"] for group in groups] == descriptions
    # under the registry component, with the stack's default tags (no tags of its own)
    (registry,) = plan.of_type(REGISTRY)
    assert [group.parent for group in groups] == [registry.urn] * len(groups)
    assert [group.inputs.get("tags") for group in groups] == [None] * len(groups)


def test_prod_protects_and_retains_its_groups_and_dev_neither(plans: dict[str, Plan]) -> None:
    prod, dev = plans["prod"].of_type(GROUP), plans["dev"].of_type(GROUP)
    assert prod and dev
    assert {(g.protect, g.retain_on_delete) for g in prod} == {(True, True)}
    assert {(g.protect, g.retain_on_delete) for g in dev} == {(False, False)}


def test_a_policy_only_where_other_accounts_read_the_group(
    plans: dict[str, Plan], dev_read_by_another_account: Plan
) -> None:
    # given the stack files, whose groups no other account reads / then no group has a policy
    assert plans["dev"].of_type(POLICY) == plans["prod"].of_type(POLICY) == []
    # given dev's churn group read by one account
    dev = dev_read_by_another_account
    (churn,) = dev.of_type(GROUP)
    # then its group has a policy, a child of the group, naming the group
    (policy,) = dev.of_type(POLICY)
    assert policy.parent == churn.urn
    assert policy.inputs["modelPackageGroupName"] == "mlp-dev-churn"
    assert (policy.protect, policy.retain_on_delete) == (False, False)


def test_the_policy_lets_the_readers_read_the_group_and_its_versions_only(
    dev_read_by_another_account: Plan,
) -> None:
    (policy,) = dev_read_by_another_account.of_type(POLICY)
    reader = {"AWS": [f"arn:aws:iam::{READER}:root"]}
    assert json.loads(policy.inputs["resourcePolicy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadGroup",
                "Effect": "Allow",
                "Principal": reader,
                "Action": ["sagemaker:DescribeModelPackageGroup"],
                "Resource": group_arn("mlp-dev-churn"),
            },
            {
                "Sid": "ReadVersions",
                "Effect": "Allow",
                "Principal": reader,
                "Action": ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"],
                "Resource": f"{SAGEMAKER}:model-package/mlp-dev-churn/*",
            },
        ],
    }


def test_the_policy_fits_aws_s_iam_catalog(dev_read_by_another_account: Plan) -> None:
    # given dev's group policy / when checked like every other policy document
    (policy,) = dev_read_by_another_account.of_type(POLICY)
    # then its actions exist, reach the ARNs they name, and its principals are accounts
    assert check_document(catalog_document(policy)) == []


def test_the_catalog_check_catches_a_write_action_on_the_group_arn() -> None:
    # given a policy granting a version action on the group's ARN (not on its versions)
    document = json.loads(
        group_policy(
            partition="aws",
            region="us-east-1",
            account_id=MOCK_ACCOUNT_ID,
            group_name="mlp-dev-churn",
            readers=[READER],
        )
    )
    document["Statement"][0]["Action"] = ["sagemaker:DescribeModelPackage"]
    bad = PolicyDocument("doc", "sagemaker-model-package-group", json.dumps(document))
    # then the check reports it
    assert check_document(bad) == [
        "doc statement ReadGroup: 'sagemaker:DescribeModelPackage' reaches none of the "
        "statement's resources (it acts on model-package)",
        f"doc statement ReadGroup: resource '{group_arn('mlp-dev-churn')}' is of no resource "
        "type of the statement's actions",
    ]


@pytest.mark.parametrize("variant", ["stack", "read by another account"])
def test_the_requests_are_valid_for_sagemaker_s_api(
    plan: Plan, dev_read_by_another_account: Plan, variant: str
) -> None:
    # given each group and policy as the provider sends them (CreateModelPackageGroup,
    # PutModelPackageGroupPolicy), in the stack and in dev with a reader
    plan = plan if variant == "stack" else dev_read_by_another_account
    create = operation("sagemaker", "CreateModelPackageGroup").input_shape
    put = operation("sagemaker", "PutModelPackageGroupPolicy").input_shape
    for group in plan.of_type(GROUP):
        request = {
            "ModelPackageGroupName": group.inputs["modelPackageGroupName"],
            "ModelPackageGroupDescription": group.inputs["modelPackageGroupDescription"],
        }
        # then botocore's model (lengths, patterns) accepts them
        assert request_problems(create, request) == [], group.name
    for policy in plan.of_type(POLICY):
        request = {
            "ModelPackageGroupName": policy.inputs["modelPackageGroupName"],
            "ResourcePolicy": policy.inputs["resourcePolicy"],
        }
        assert request_problems(put, request) == [], policy.name


def test_the_most_readers_still_fit_the_policy_limit() -> None:
    # given the most reader accounts config allows, in the longest partition and group name
    document = group_policy(
        partition="aws-us-gov",
        region="us-gov-west-1",
        account_id=MOCK_ACCOUNT_ID,
        group_name="g" * 63,
        readers=[f"{n:012d}" for n in range(100)],
    )
    # then the policy is within PutModelPackageGroupPolicy's limit and the catalog's checks
    assert len(document) <= MAX_POLICY_CHARACTERS
    shape = operation("sagemaker", "PutModelPackageGroupPolicy").input_shape
    request = {"ModelPackageGroupName": "g" * 63, "ResourcePolicy": document}
    assert request_problems(shape, request) == []


def test_the_layer_exports_each_group(plan: Plan) -> None:
    stack = plan.run.stack
    (group,) = plan.of_type(GROUP)
    name = group.inputs["modelPackageGroupName"]
    assert plan.run.exports["training"]["model_groups"] == {
        name: {"name": name, "arn": group_arn(name)}
    }
    assert name == f"mlp-{stack}-{'churn' if stack == 'dev' else 'fraud'}"


def test_the_plan_shows_each_group(
    plans: dict[str, Plan], dev_read_by_another_account: Plan
) -> None:
    dev, prod = render(plans["dev"].run), render(plans["prod"].run)
    assert f"{GROUP}  mlp-dev-models-churn   name=mlp-dev-churn\n" in dev
    assert POLICY not in dev
    read = render(dev_read_by_another_account.run)
    assert f"{POLICY}  mlp-dev-models-churn-policy" in read
    assert f"{GROUP}  mlp-prod-models-fraud   name=mlp-prod-fraud  [protect, retain]" in prod


# --------------------------------------------------------------------------------------------
# variants
# --------------------------------------------------------------------------------------------


def dev_with_pipelines(*registries: dict[str, Any] | None) -> dict[str, str]:
    """Dev whose churn pipeline is repeated under other names with ``registries``."""
    section = stack_file("dev")["ml-platform:training"]
    (churn,) = section["pipelines"]
    pipelines = []
    for index, registry in enumerate(registries):
        pipeline = {**churn, "name": f"churn-{index}"}
        pipeline.pop("registry")
        if registry is not None:
            pipeline["registry"] = registry
        else:
            pipeline.pop("evaluation")  # it gates a registration: nothing to gate without one
        pipelines.append(pipeline)
    # (dev's churn endpoint serves archives and its monitor retrains nothing: these pipelines may
    # not register its group or be the one it starts)
    flat = serving_from_archives(without_retraining(stack_config("dev")))
    return with_section(flat, "training", {**section, "pipelines": pipelines})


def test_pipelines_of_one_model_make_one_group(run_stack: Any) -> None:
    # given two pipelines registering into group churn and one into its own default group
    shared = {"group": "churn", "description": "Churn", "readers": [READER]}
    plan = run_stack("dev", dev_with_pipelines(shared, shared, {}))
    # then there are two groups, and one policy (for the group that has readers)
    # (in any order: the mock runtime registers resources as their inputs resolve)
    names = sorted(g.inputs["modelPackageGroupName"] for g in plan.of_type(GROUP))
    assert names == ["mlp-dev-churn", "mlp-dev-churn-2"]
    assert [p.inputs["modelPackageGroupName"] for p in plan.of_type(POLICY)] == ["mlp-dev-churn"]
    assert set(plan.run.exports["training"]["model_groups"]) == set(names)


def test_no_registry_without_a_group(run_stack: Any) -> None:
    # given pipelines without registry sections
    plan = run_stack("dev", dev_with_pipelines(None, None))
    # then there is no registry component, no group and nothing exported for groups
    assert plan.of_type(REGISTRY) == []
    assert plan.of_type(GROUP) == []
    assert plan.run.exports["training"]["model_groups"] == {}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_groups_follow_the_stack_s_retention(run_stack: Any, stack: str) -> None:
    # given readers in either stack / then the group follows the stack's retention and the
    # policy is never protected (it grants access; it holds no data)
    flat = stack_config(stack)
    section = stack_file(stack)["ml-platform:training"]
    (pipeline,) = section["pipelines"]
    pipeline["registry"] = {**pipeline["registry"], "readers": [READER]}
    plan = run_stack(stack, with_section(flat, "training", section))
    (group,) = plan.of_type(GROUP)
    (policy,) = plan.of_type(POLICY)
    retain = stack == "prod"
    assert (group.protect, group.retain_on_delete) == (retain, retain)
    assert (policy.protect, policy.retain_on_delete) == (False, False)
