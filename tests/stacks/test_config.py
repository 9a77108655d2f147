"""Stack config: both stack files valid, every bad value rejected with an exact path and reason."""

from __future__ import annotations

import json

import pytest

from components.data.spec import NetworkConfig
from stacks.config import ConfigError, decode_config_value, format_path, load_platform_config
from tests.conftest import stack_config, with_section
from tests.stacks.samples import without_retraining

DEV = stack_config("dev")


def problems_of(flat: dict[str, str], stack: str = "dev") -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_platform_config(stack, flat)
    return raised.value.problems


def test_dev_stack_file_is_valid_small_and_destroyable() -> None:
    # given the dev stack file / when it is loaded
    config = load_platform_config("dev", DEV)
    # then it is a two-AZ (the least EKS accepts) development stack whose data does not survive destroy
    assert config.environment == "dev"
    assert config.tier == "development"
    assert config.retains_data is False
    assert config.data.network.availability_zones == 2
    assert config.data.kms.deletion_window_days == 7
    assert config.layers == (
        "data",
        "feature_store",
        "training",
        "gpu",
        "serving",
        "monitoring",
        "kubernetes",
        "optimization",
    )


def test_prod_stack_file_is_valid_multi_az_and_retained() -> None:
    config = load_platform_config("prod", stack_config("prod"))
    assert config.tier == "production"
    assert config.retains_data is True
    assert config.data.network.availability_zones == 3
    assert config.data.kms.deletion_window_days == 30
    assert config.data.log_retention_days == 365


def test_config_is_frozen() -> None:
    config = load_platform_config("dev", DEV)
    with pytest.raises(Exception, match="frozen"):
        config.environment = "other"  # type: ignore[misc]


def test_error_lists_every_problem_with_its_path() -> None:
    # given a dev config with an unknown key, a negative retention and a malformed CIDR
    flat = with_section(
        DEV,
        "data",
        {"log_retentoin_days": 7, "log_retention_days": -1, "network": {"cidr": "10.0.0/33"}},
    )
    # when it is loaded / then one error names all three
    assert problems_of(flat) == [
        "data.log_retention_days: must be one of 0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, "
        "365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 "
        "(CloudWatch Logs retention values)",
        "data.log_retentoin_days: unknown key (did you mean 'log_retention_days'?)",
        "data.network.cidr: '10.0.0/33' is not an IPv4 network in CIDR notation "
        "(e.g. 10.20.0.0/16)",
    ]


def test_error_message_names_the_stack_and_counts_problems() -> None:
    flat = with_section(DEV, "data", {"kms": {"deletion_window_days": 3}})
    with pytest.raises(ConfigError) as raised:
        load_platform_config("dev", flat)
    assert str(raised.value) == (
        "invalid config for stack 'dev' (1 problem):\n"
        "  - data.kms.deletion_window_days: must be >= 7"
    )


@pytest.mark.parametrize(
    ("section", "value", "expected"),
    [
        ("data", {"kms": {"deletion_window_days": 31}}, "data.kms.deletion_window_days: must be <= 30"),
        ("data", {"kms": {"deletion_window_days": "7"}}, "data.kms.deletion_window_days: must be an integer"),
        ("data", {"network": {"availability_zones": 0}}, "data.network.availability_zones: must be >= 1"),
        ("data", {"network": {"cidr": "8.8.0.0/16"}}, "data.network.cidr: must be a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)"),
        ("data", {"network": {"cidr": "10.0.0.0/8"}}, "data.network.cidr: prefix length must be between /16 and /24 (a VPC limit)"),
        ("data", {"network": {"cidr": "10.0.0.0/24", "availability_zones": 3, "subnet_prefix_length": 25}}, "data.network.subnet_prefix_length: leaves room for fewer than 3 subnets in 10.0.0.0/24"),
        ("data", {"network": {"cidr": "10.0.0.0/20", "subnet_prefix_length": 20}}, "data.network.subnet_prefix_length: must be > 20, the VPC's own prefix length"),
        ("data", {"network": {"flow_log_traffic": "SOME"}}, "data.network.flow_log_traffic: must be one of 'ALL', 'ACCEPT' or 'REJECT'"),
        ("data", {"buckets": {"raw": {"transitions": [{"days": 10, "storage_class": "STANDARD_IA"}]}}}, "data.buckets.raw.transitions[0].days: must be >= 30 for STANDARD_IA (an S3 rule)"),
        ("data", {"buckets": {"raw": {"transitions": [{"days": 60, "storage_class": "GLACIER"}, {"days": 30, "storage_class": "GLACIER_IR"}]}}}, "data.buckets.raw.transitions: days must be strictly increasing from one transition to the next"),
        ("data", {"buckets": {"raw": {"transitions": [{"days": 60, "storage_class": "GLACIER"}], "expiration_days": 60}}}, "data.buckets.raw.expiration_days: must be > 60, the last transition's days"),
        ("data", {"buckets": {"raw": {"transitions": [{"days": 60, "storage_class": "TAPE"}]}}}, "data.buckets.raw.transitions[0].storage_class: must be one of 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR', 'GLACIER' or 'DEEP_ARCHIVE'"),
        ("data", {"buckets": {"scratch": {}}}, "data.buckets.scratch: unknown key"),
        ("data", {"buckets": {"raw": {"noncurrent_version_expiration_days": 0}}}, "data.buckets.raw.noncurrent_version_expiration_days: must be >= 1"),
        ("data", [], "data: must be a mapping"),
        ("training", {"jobs": []}, "training.jobs: unknown key"),
        ("layers", ["kubernetes"], "layers: 'kubernetes' needs data, which is not listed"),
        ("layers", ["data", "bogus"], "layers[1]: 'bogus' is not a layer (known: data, feature_store, training, gpu, serving, monitoring, kubernetes, optimization)"),
        ("layers", ["data", "data"], "layers: lists data more than once"),
        ("layers", "data", "layers: must be a list"),
        ("tags", {"aws:owner": "me"}, "tags: 'aws:owner' is not a valid tag key (1-128 chars, no 'aws:' prefix)"),
        ("tier", "staging", "tier: must be one of 'development' or 'production'"),
        ("environment", "Dev_1", "environment: must match ^[a-z][a-z0-9]{1,11}$"),
        ("bucketz", {}, "bucketz: unknown key"),
    ],
)  # fmt: skip
def test_bad_value_is_rejected_with_exact_message(
    section: str, value: object, expected: str
) -> None:
    # given one bad value in an otherwise valid dev config / then exactly that problem is named
    assert problems_of(with_section(DEV, section, value)) == [expected]


def test_missing_required_keys_are_named() -> None:
    assert problems_of({"ml-platform:tier": "development"}) == [
        "aws:region: required",
        "environment: required",
    ]


def test_region_is_checked() -> None:
    flat = dict(DEV, **{"aws:region": "mars-1"})
    assert problems_of(flat) == ["aws:region: must match ^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\\d$"]


def test_production_rules_are_reported_at_their_paths_together() -> None:
    # given a production stack that is single-AZ, short-lived and not retained
    flat = with_section(
        stack_config("prod"),
        "data",
        {
            "kms": {"deletion_window_days": 7},
            "network": {"availability_zones": 1},
            "log_retention_days": 30,
        },
    )
    flat["ml-platform:retain_data"] = "false"
    # then each production rule fails at its own path, in one error
    assert problems_of(flat, "prod") == [
        "data.kms.deletion_window_days: must be 30 in a production stack",
        "data.log_retention_days: must be >= 365 (or 0, never expire) in a production stack",
        "data.network.availability_zones: must be >= 2 in a production stack",
        "retain_data: must not be false in a production stack",
    ]


def test_development_may_retain_data_when_asked() -> None:
    flat = dict(DEV, **{"ml-platform:retain_data": "true"})
    assert load_platform_config("dev", flat).retains_data is True


def test_an_empty_layer_list_is_valid() -> None:
    # given no layer at all / then that is valid (the stack deploys only its provider)
    assert load_platform_config("dev", with_section(DEV, "layers", [])).layers == ()


def test_a_layer_needs_the_layers_it_consumes() -> None:
    # given monitoring, which consumes data and serving
    # when it is listed without serving / then the missing dependency is named
    assert problems_of(with_section(DEV, "layers", ["data", "monitoring"])) == [
        "layers: 'monitoring' needs serving, which is not listed"
    ]
    # (without training: dev's monitor would retrain with its pipeline)
    assert load_platform_config(
        "dev", with_section(without_retraining(DEV), "layers", ["data", "serving", "monitoring"])
    ).layers == ("data", "serving", "monitoring")


def test_subnets_are_carved_in_order() -> None:
    network = NetworkConfig(cidr="10.30.0.0/16", availability_zones=3, subnet_prefix_length=20)
    assert network.subnet_cidrs() == ["10.30.0.0/20", "10.30.16.0/20", "10.30.32.0/20"]


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [('{"a": 1}', {"a": 1}), ("[1, 2]", [1, 2]), ("true", True), ("30", 30), ("dev", "dev")],
)
def test_engine_values_are_decoded_like_get_object(raw: str, decoded: object) -> None:
    assert decode_config_value(raw) == decoded


def test_paths_render_like_config_paths() -> None:
    assert format_path(("serving", "endpoints", 0, "variants", 1, "weight")) == (
        "serving.endpoints[0].variants[1].weight"
    )


def test_other_namespaces_are_ignored() -> None:
    flat = dict(DEV, **{"aws:profile": "x", "pulumi:tags": json.dumps({"a": "b"})})
    assert load_platform_config("dev", flat).environment == "dev"
