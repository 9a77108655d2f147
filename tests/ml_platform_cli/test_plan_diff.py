"""The plan diff on small hand-made plans: kinds, changed paths, replacements, stateful marks."""

from __future__ import annotations

from typing import Any

from ml_platform_cli.plan_diff import (
    diff_plans,
    forces_replacement,
    in_layers,
    input_paths,
    layer_of,
    summary_line,
)

LAYER = "urn:pulumi:dev::ml-platform::mlplatform:data:DataLayer::data"
SERVING = "urn:pulumi:dev::ml-platform::mlplatform:serving:ServingLayer::serving"


def entry(
    type_: str,
    name: str,
    inputs: dict[str, Any] | None = None,
    *,
    parent: str | None = LAYER,
    custom: bool = True,
    **options: Any,
) -> dict[str, Any]:
    """A plan entry as build/plan/<stack>.json holds it."""
    parent_types = "mlplatform:data:DataLayer$" if parent == LAYER else ""
    if parent == SERVING:
        parent_types = "mlplatform:serving:ServingLayer$"
    return {
        "urn": f"urn:pulumi:dev::ml-platform::{parent_types}{type_}::{name}",
        "type": type_,
        "name": name,
        "parent": parent,
        "custom": custom,
        "provider": "urn:pulumi:dev::ml-platform::pulumi:providers:aws::aws" if custom else None,
        "inputs": inputs or {},
        "protect": options.get("protect", False),
        "retain_on_delete": options.get("retain_on_delete", False),
        "delete_before_replace": False,
        "ignore_changes": options.get("ignore_changes", []),
        "depends_on": [],
    }


def layer(name: str, type_: str) -> dict[str, Any]:
    """A layer's top-level component."""
    return {
        **entry(type_, name, parent=None, custom=False),
        "urn": f"urn:pulumi:dev::ml-platform::{type_}::{name}",
    }


DATA = layer("data", "mlplatform:data:DataLayer")
BUCKET = "aws:s3/bucket:Bucket"
KEY = "aws:kms/key:Key"
TOPIC = "aws:sns/topic:Topic"


def test_identical_plans_have_no_differences() -> None:
    # given
    plan = [DATA, entry(KEY, "key", {"deletionWindowInDays": 7})]
    # when
    diff = diff_plans(plan, plan)
    # then
    assert diff.empty
    assert diff.unchanged == 2
    assert summary_line(diff) == (
        "Resources: + 0 to create, ~ 0 to update, +- 0 to replace, - 0 to delete, 2 unchanged"
    )


def test_without_a_previous_plan_everything_is_added() -> None:
    # given
    plan = [DATA, entry(KEY, "key")]
    # when
    diff = diff_plans(None, plan)
    # then
    assert [change.name for change in diff.added] == ["data", "key"]
    assert not (diff.changed or diff.replaced or diff.deleted)


def test_an_updatable_input_is_a_change_with_its_path() -> None:
    # given
    old = [DATA, entry(KEY, "key", {"deletionWindowInDays": 7, "tags": {"a": "1"}})]
    new = [DATA, entry(KEY, "key", {"deletionWindowInDays": 10, "tags": {"a": "1", "b": "2"}})]
    # when
    diff = diff_plans(old, new)
    # then
    assert [change.as_json() for change in diff.changed] == [
        {
            "urn": new[1]["urn"],
            "type": KEY,
            "name": "key",
            "paths": ["deletionWindowInDays", "tags.b"],
        }
    ]
    assert not diff.replaced


def test_a_replacing_input_replaces_and_a_stateful_type_is_flagged() -> None:
    # given
    old = [DATA, entry(BUCKET, "raw", {"bucket": "mlp-dev-raw", "forceDestroy": False})]
    new = [DATA, entry(BUCKET, "raw", {"bucket": "mlp-dev-raw-2", "forceDestroy": True})]
    # when
    diff = diff_plans(old, new)
    # then
    assert [change.as_json() for change in diff.replaced] == [
        {
            "urn": new[1]["urn"],
            "type": BUCKET,
            "name": "raw",
            "paths": ["bucket", "forceDestroy"],
            "replace_paths": ["bucket"],
            "stateful": True,
        }
    ]
    assert not diff.changed


def test_a_deleted_retained_resource_counts_as_stateful_and_a_topic_does_not() -> None:
    # given
    old = [
        DATA,
        entry("aws:sagemaker/model:Model", "model", retain_on_delete=True),
        entry(TOPIC, "alerts", {"name": "alerts"}),
    ]
    # when
    diff = diff_plans(old, [DATA])
    # then
    assert [(change.name, change.stateful) for change in diff.deleted] == [
        ("model", True),
        ("alerts", False),
    ]


def test_ignored_inputs_do_not_count_and_options_do() -> None:
    # given
    old = [DATA, entry(TOPIC, "t", {"name": "t", "tags": {"a": "1"}}, ignore_changes=["tags"])]
    new = [
        DATA,
        entry(TOPIC, "t", {"name": "t", "tags": {"a": "2"}}, ignore_changes=["tags"], protect=True),
    ]
    # when
    diff = diff_plans(old, new)
    # then
    assert [change.paths for change in diff.changed] == [("[protect]",)]


def test_a_changed_type_under_the_same_name_is_one_replacement() -> None:
    # given
    old = [DATA, entry("aws:s3/bucketV2:BucketV2", "raw", {"bucket": "b"})]
    new = [DATA, entry(BUCKET, "raw", {"bucket": "b"})]
    # when
    diff = diff_plans(old, new)
    # then
    assert [(c.name, c.reason, c.stateful) for c in diff.replaced] == [
        ("raw", "type changed from aws:s3/bucketV2:BucketV2", True)
    ]
    assert not (diff.added or diff.deleted)


def test_replacement_rules_cover_paths_below_above_and_all_but_exceptions() -> None:
    # then
    assert forces_replacement("aws:rds/instance:Instance", "engine")
    assert not forces_replacement("aws:rds/instance:Instance", "instanceClass")
    assert forces_replacement("aws:eks/cluster:Cluster", "vpcConfig.securityGroupIds[0]")
    assert forces_replacement("aws:eks/cluster:Cluster", "vpcConfig")
    assert not forces_replacement("aws:eks/cluster:Cluster", "vpcConfig.endpointPublicAccess")
    endpoint_config = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
    assert forces_replacement(endpoint_config, "productionVariants[0].instanceType")
    assert not forces_replacement(endpoint_config, "tags.team")
    feature_group = "aws:sagemaker/featureGroup:FeatureGroup"
    assert forces_replacement(feature_group, "offlineStoreConfig.s3StorageConfig.kmsKeyId")
    assert not forces_replacement(feature_group, "onlineStoreConfig.ttlDuration.value")
    assert forces_replacement("kubernetes:core/v1:Namespace", "metadata.name")
    assert not forces_replacement("kubernetes:core/v1:Namespace", "metadata.labels.team")
    assert not forces_replacement("aws:sns/topic:Topic", "[protect]")
    assert not forces_replacement("pulumi-python:dynamic/serving:RolloutGate", "timeout_seconds")


def test_input_paths_name_list_items_and_treat_a_resized_list_as_one_change() -> None:
    # then
    assert input_paths({"a": [{"b": 1}, {"b": 2}]}, {"a": [{"b": 1}, {"b": 3}]}) == ["a[1].b"]
    assert input_paths({"a": [1, 2]}, {"a": [1, 2, 3]}) == ["a"]
    assert input_paths({"a": 1}, {"a": 1.0}) == ["a"]
    assert input_paths({"a": {"b": 1}}, {}) == ["a"]


def test_layers_select_their_resources_and_leave_providers_out() -> None:
    # given
    serving = layer("serving", "mlplatform:serving:ServingLayer")
    topic = entry(TOPIC, "alerts", parent=SERVING)
    key = entry(KEY, "key")
    provider = {**entry("pulumi:providers:aws", "aws", parent=None), "custom": True}
    plan = [DATA, key, serving, topic, provider]
    by_urn = {item["urn"]: item for item in plan}
    # when
    selected = in_layers(plan, ["serving"])
    # then
    assert [item["name"] for item in selected] == ["serving", "alerts"]
    assert layer_of(key["urn"], by_urn) == "data"
    assert layer_of(provider["urn"], by_urn) is None
