"""DataRetention: the options it hands out, and what it protects in the real stack files."""

from __future__ import annotations

import pytest

from components.shared.retention import DataRetention
from tests.conftest import Plan

BUCKET = "aws:s3/bucket:Bucket"

#: Resources inside a bucket that keep it private, encrypted, versioned, logged and managed.
BUCKET_SETTINGS = {
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLogging:BucketLogging",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
}

#: Every type whose loss loses data or makes it unreadable. The KMS alias goes with its key:
#: the component retains it (retention.stateful(key)) so a retained key keeps its name.
STATEFUL_TYPES = {
    BUCKET,
    *BUCKET_SETTINGS,
    "aws:kms/key:Key",
    "aws:kms/alias:Alias",
    "aws:glue/catalogDatabase:CatalogDatabase",
    "aws:cloudwatch/logGroup:LogGroup",
    # the training layer: images, every experiment's runs and metrics
    "aws:ecr/repository:Repository",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer",
    # and every registered version of a model
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
    # the feature-store layer: online and offline feature data
    "aws:sagemaker/featureGroup:FeatureGroup",
    # the kubernetes layer: the MLflow tracking server's database
    "aws:rds/instance:Instance",
}

#: Retained (never protected) in every stack: what a rolled-back endpoint may still run on until
#: the rollout gate's reaper deletes it (issue 17; components/serving/endpoint.py).
SERVING_RETAINED_TYPES = {
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    "aws:sagemaker/model:Model",
}


# --------------------------------------------------------------------------------------------
# the policy object
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("retain", [True, False])
def test_stateful_options_take_protection_and_retention_from_the_policy(retain: bool) -> None:
    # given a policy
    policy = DataRetention(retain=retain)
    # when it makes options for a stateful resource (no parent: ResourceOptions accepts None)
    options = policy.stateful(None)  # type: ignore[arg-type]
    # then protect and retain_on_delete are the policy's value
    assert options.protect is retain
    assert options.retain_on_delete is retain
    assert options.parent is None


def test_stateful_options_pass_other_options_through() -> None:
    options = DataRetention(retain=True).stateful(
        None,  # type: ignore[arg-type]
        depends_on=[],
        ignore_changes=["tags"],
    )
    assert options.depends_on == []
    assert options.ignore_changes == ["tags"]
    assert options.protect is True
    assert options.retain_on_delete is True


@pytest.mark.parametrize("retain", [True, False])
@pytest.mark.parametrize("option", ["protect", "retain_on_delete"])
@pytest.mark.parametrize("value", [True, False])
def test_callers_cannot_set_protection_or_retention(retain: bool, option: str, value: bool) -> None:
    # given any policy, when a caller tries to choose protect or retain_on_delete itself
    # then it is refused, whatever the value
    with pytest.raises(ValueError, match=r"protect/retain_on_delete .* come from DataRetention"):
        DataRetention(retain=retain).stateful(None, **{option: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(("retain", "force_destroy"), [(True, False), (False, True)])
def test_force_destroy_is_the_negation_of_retain(retain: bool, force_destroy: bool) -> None:
    assert DataRetention(retain=retain).force_destroy is force_destroy


# --------------------------------------------------------------------------------------------
# the stack files
# --------------------------------------------------------------------------------------------


def test_prod_protects_and_retains_every_bucket_and_its_settings(plans: dict[str, Plan]) -> None:
    # given the prod plan (tier production, retain_data true)
    plan = plans["prod"]
    buckets = plan.of_type(BUCKET)
    assert len(buckets) == 7
    for bucket in buckets:
        # then the bucket is protected, retained and never emptied by Pulumi
        assert (bucket.protect, bucket.retain_on_delete) == (True, True), bucket.name
        assert bucket.inputs["forceDestroy"] is False, bucket.name
        # and so is every setting inside it, and those are only the known settings types
        children = plan.children(bucket)
        assert {child.type for child in children} <= BUCKET_SETTINGS, bucket.name
        assert len(children) >= len(BUCKET_SETTINGS) - 1, bucket.name
        for child in children:
            assert (child.protect, child.retain_on_delete) == (True, True), child.name


@pytest.mark.parametrize(
    "type_",
    [
        "aws:kms/key:Key",
        "aws:glue/catalogDatabase:CatalogDatabase",
        "aws:cloudwatch/logGroup:LogGroup",
    ],
)
def test_prod_protects_and_retains_keys_catalog_and_logs(
    plans: dict[str, Plan], type_: str
) -> None:
    resources = plans["prod"].of_type(type_)
    assert resources
    for resource in resources:
        assert (resource.protect, resource.retain_on_delete) == (True, True), resource.name


def test_prod_protects_exactly_the_stateful_resources(plans: dict[str, Plan]) -> None:
    # given the prod plan
    plan = plans["prod"]
    stateful = {resource.urn for resource in plan.resources if resource.type in STATEFUL_TYPES}
    # every stateful type is present, so the set below is not trivially small
    assert {resource.type for resource in plan.resources} >= STATEFUL_TYPES
    # then the protected and the retained resources are exactly the stateful ones: the network,
    # role, endpoints and components are not protected, and nothing stateful is left out
    protected = {resource.urn for resource in plan.resources if resource.protect}
    retained = {resource.urn for resource in plan.resources if resource.retain_on_delete}
    assert protected == stateful
    serving = {r.urn for r in plan.resources if r.type in SERVING_RETAINED_TYPES}
    assert retained == stateful | serving


def test_prod_leaves_the_network_unprotected(plans: dict[str, Plan]) -> None:
    plan = plans["prod"]
    for type_ in (
        "aws:ec2/vpc:Vpc",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/flowLog:FlowLog",
        "aws:iam/role:Role",
    ):
        resources = plan.of_type(type_)
        assert resources, type_
        assert [resource.name for resource in resources if resource.protect] == [], type_


def test_dev_protects_and_retains_nothing(plans: dict[str, Plan]) -> None:
    # given the dev plan (tier development, no retain_data)
    plan = plans["dev"]
    # then no resource at all is protected, and none is retained but the endpoint
    # configurations and models a rolled-back endpoint may still run on
    assert [resource.name for resource in plan.resources if resource.protect] == []
    assert [
        resource.name
        for resource in plan.resources
        if resource.retain_on_delete and resource.type not in SERVING_RETAINED_TYPES
    ] == []
    # and every bucket may be destroyed with its objects
    buckets = plan.of_type(BUCKET)
    assert len(buckets) == 7
    assert [bucket.inputs["forceDestroy"] for bucket in buckets] == [True] * 7
