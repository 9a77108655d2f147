"""The program: one explicit provider with the platform's tags, exports, and fail-fast config."""

from __future__ import annotations

import json

import pulumi
import pytest

from stacks.offline.mock_runtime import DYNAMIC_TYPE_PREFIX, run_offline
from tests.conftest import Plan, stack_config, with_section

PROVIDER_TYPE = "pulumi:providers:aws"


def provider_of(plan: Plan):
    (provider,) = plan.of_type(PROVIDER_TYPE)
    return provider


def test_one_explicit_provider_with_the_stack_region(plan: Plan) -> None:
    provider = provider_of(plan)
    assert provider.name == "aws"
    assert provider.inputs["region"] == "us-east-1"


def test_default_tags_carry_platform_and_stack_tags(plan: Plan) -> None:
    # given the provider / then its default tags hold the platform's tags and the stack file's
    stack = plan.run.stack
    tags = provider_of(plan).inputs["defaultTags"]
    tags = json.loads(tags) if isinstance(tags, str) else tags
    assert tags["tags"] == {
        "Project": "ml-platform",
        "Environment": stack,
        "PulumiStack": stack,
        "ManagedBy": "pulumi",
        **stack_config_tags(stack),
    }


def stack_config_tags(stack: str) -> dict[str, str]:
    return json.loads(stack_config(stack)["ml-platform:tags"])


def test_every_cloud_resource_uses_the_stack_provider(plan: Plan) -> None:
    # so every taggable resource gets the default tags, and none falls back to ambient settings
    # (a dynamic resource runs in the program's own Python provider and calls AWS with boto3)
    provider = provider_of(plan)
    cloud = [r for r in plan.resources if r.custom and r.type.startswith("aws:")]
    assert cloud
    assert {r.provider for r in cloud} == {provider.urn}
    # and every Kubernetes object goes through the stack's one Kubernetes provider
    (kubernetes,) = plan.of_type("pulumi:providers:kubernetes")
    objects = [r for r in plan.resources if r.type.startswith("kubernetes:")]
    assert objects
    assert {r.provider for r in objects} == {kubernetes.urn}
    # and only random values (pulumi-random, which the stacks do not restrict) use a default one
    others = [
        r
        for r in plan.resources
        if r.custom
        and not r.type.startswith(("aws:", "kubernetes:", "pulumi:providers:", DYNAMIC_TYPE_PREFIX))
    ]
    assert {r.type.split(":")[0] for r in others} == {"random"}


def test_exports_hold_the_data_layer_contract(plan: Plan) -> None:
    exports = plan.run.exports
    assert exports["layers"] == [
        "data",
        "feature_store",
        "training",
        "gpu",
        "serving",
        "monitoring",
        "kubernetes",
        "optimization",
    ]
    data = exports["data"]
    assert set(data) == {
        "kms_key_arn",
        "bucket_names",
        "bucket_arns",
        "vpc_id",
        "subnet_ids",
        "workload_security_group_id",
        "glue_database_name",
        "log_group_name",
    }
    assert set(data["bucket_names"]) == {
        "raw",
        "processed",
        "models",
        "experiments",
        "capture",
        "monitoring",
        "access_logs",
    }
    assert data["kms_key_arn"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
    assert data["bucket_arns"]["raw"] == f"arn:aws:s3:::{data['bucket_names']['raw']}"
    assert len(data["subnet_ids"]) == {"dev": 2, "prod": 3}[plan.run.stack]


def test_invalid_config_stops_before_any_resource() -> None:
    # given a config with a bad value / when the program runs under the mock runtime
    flat = with_section(stack_config("dev"), "data", {"log_retention_days": -1})
    with pytest.raises(
        pulumi.RunError, match=r"data\.log_retention_days: must be one of"
    ) as raised:
        run_offline("dev", flat)
    # then the error is the config error, not a traceback from deep in a component
    assert str(raised.value).startswith("invalid config for stack 'dev' (1 problem)")


def test_invalid_config_registers_nothing(registered_types: list[str]) -> None:
    with pytest.raises(pulumi.RunError):
        run_offline("dev", with_section(stack_config("dev"), "tier", "staging"))
    # then nothing but the root stack (which the runtime registers first) was registered
    assert [type_ for type_ in registered_types if type_ != "pulumi:pulumi:Stack"] == []


def test_exports_hold_each_endpoints_contract(plan: Plan) -> None:
    # given a stack with the serving layer / then each endpoint exports what ops and users need
    serving = plan.run.exports["serving"]
    assert serving["alarm_topic_arn"].startswith("arn:aws:sns:us-east-1:123456789012:")
    assert serving["code_archive_uri"].startswith(
        f"s3://{plan.run.exports['data']['bucket_names']['models']}/code/inference/"
    )
    for name, endpoint in serving["endpoints"].items():
        assert endpoint["name"] == name
        assert endpoint["arn"].endswith(f":endpoint/{name}")
        assert sum(endpoint["traffic_shares"].values()) == pytest.approx(1)
        assert list(endpoint["traffic_shares"]) == endpoint["variants"]
        assert endpoint["endpoint_config_name"]
