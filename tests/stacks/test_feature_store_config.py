"""Feature-store config: group versions validated by the same definition rules the code uses."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.config import ConfigError, load_platform_config
from tests.conftest import stack_config, stack_file, with_section
from workloads.features.definitions import load_definitions

DEV = stack_config("dev")


def group(**overrides: Any) -> dict[str, Any]:
    """A valid group version."""
    return {
        "name": "customers",
        "record_identifier": "customer_id",
        "event_time": "event_time",
        "features": {"customer_id": "String", "event_time": "String", "age": "Integral"},
        **overrides,
    }


def problems_of(*groups: dict[str, Any], **section: Any) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_platform_config(
            "dev", with_section(DEV, "feature_store", {"groups": list(groups), **section})
        )
    return raised.value.problems


def test_stack_files_define_versioned_groups() -> None:
    dev = load_platform_config("dev", DEV).feature_store
    prod = load_platform_config("prod", stack_config("prod")).feature_store
    assert [(g.name, g.version) for g in dev.groups] == [("customers", 1)]
    assert [(g.name, g.version) for g in prod.groups] == [
        ("customers", 1),
        ("customers", 2),
        ("transactions", 1),
    ]


def test_the_code_reads_the_same_definitions_as_the_program() -> None:
    # given the prod stack file / when the feature code loads its definitions
    loaded = load_definitions("Pulumi.prod.yaml")
    config = load_platform_config("prod", stack_config("prod")).feature_store
    # then every version is there, equal to the program's, and the bare name is the newest
    for entry in config.groups:
        assert loaded[f"{entry.name}@v{entry.version}"] == entry.definition
    assert loaded["customers"].version == 2
    assert stack_file("prod")["ml-platform:feature_store"]["groups"][1]["version"] == 2


def test_defaults_keep_both_stores_standard_and_glue() -> None:
    (entry,) = load_platform_config(
        "dev", with_section(DEV, "feature_store", {"groups": [group()]})
    ).feature_store.groups
    assert entry.version == 1
    assert (entry.online.enabled, entry.online.storage_type, entry.online.ttl_days) == (
        True,
        "Standard",
        None,
    )
    assert (entry.offline.enabled, entry.offline.table_format) == (True, "Glue")


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        (
            {"event_time": "age"},
            "feature_store.groups[0]: event_time 'age' has type 'Integral' "
            "(must be String or Fractional)",
        ),
        (
            {"record_identifier": "missing"},
            "feature_store.groups[0]: record_identifier 'missing' is not one of the features",
        ),
        (
            {"features": {"customer_id": "String", "event_time": "String", "age": "Int"}},
            "feature_store.groups[0]: feature 'age' has type 'Int' (expected one of "
            "String, Integral, Fractional)",
        ),
        (
            {
                "features": {
                    "customer_id": "String",
                    "event_time": "String",
                    "write_time": "String",
                }
            },
            "feature_store.groups[0]: feature name 'write_time' is reserved (the "
            "offline store adds write_time, api_invocation_time, is_deleted)",
        ),
        (
            {"name": "Customers"},
            "feature_store.groups[0]: name 'Customers' must start with a lower-case "
            "letter and have only lower-case letters, digits and '_' (at most 40 characters)",
        ),
        (
            {"version": 0},
            "feature_store.groups[0]: version 0 must be a whole number from 1 to 999",
        ),
        (
            {"online": {"enabled": False}, "offline": {"enabled": False}},
            "feature_store.groups[0]: enable the online store, the offline store or both",
        ),
        (
            {"online": {"ttl_days": 0}},
            "feature_store.groups[0].online.ttl_days: must be >= 1",
        ),
        (
            {"offline": {"table_format": "Delta"}},
            "feature_store.groups[0].offline.table_format: must be one of 'Glue' or 'Iceberg'",
        ),
    ],
)
def test_each_bad_group_is_reported_at_its_path(overrides: dict[str, Any], problem: str) -> None:
    assert problems_of(group(**overrides)) == [problem]


def test_a_version_may_appear_once() -> None:
    assert problems_of(group(), group(), group(version=2)) == [
        "feature_store.groups: group versions must be unique: customers v1 repeated"
    ]


def test_unknown_keys_are_errors() -> None:
    assert problems_of(group(ttl=3)) == ["feature_store.groups[0].ttl: unknown key"]
