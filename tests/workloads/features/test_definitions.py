"""Feature-group definitions: SageMaker's schema rules, the three forms, and schema changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from workloads.features.definitions import (
    DefinitionError,
    Feature,
    FeatureGroupDefinition,
    definitions_from_config,
    load_definitions,
    schema_change,
)

CUSTOMERS = {
    "name": "customer_profiles",
    "version": 3,
    "record_identifier": "customer_id",
    "event_time": "event_time",
    "description": "profiles",
    "features": {"customer_id": "String", "event_time": "Fractional", "age": "Integral"},
}


def customers(**features: str) -> FeatureGroupDefinition:
    return FeatureGroupDefinition.from_mapping(
        {**CUSTOMERS, "features": {**CUSTOMERS["features"], **features}}
    )


def test_names_derive_from_the_name_and_version() -> None:
    definition = customers()
    # SageMaker group names may not contain '_'; Glue table names may not contain '-'
    assert definition.group_name("dev") == "mlp-dev-customer-profiles-v3"
    assert definition.table_name == "customer_profiles_v3"
    assert definition.value_features == (Feature("age", "Integral"),)
    assert definition.type_of("age") == "Integral"
    with pytest.raises(KeyError, match="customer_profiles' v3 has no feature 'height'"):
        definition.type_of("height")


def test_config_form_and_ordered_form_round_trip() -> None:
    definition = customers(score="Fractional")
    assert FeatureGroupDefinition.from_mapping(definition.to_mapping()) == definition
    ordered = definition.to_mapping(ordered=True)
    assert ordered["features"][-1] == {"name": "score", "type": "Fractional"}
    assert FeatureGroupDefinition.from_mapping(ordered).feature_names == definition.feature_names


def test_describe_form_rebuilds_the_deployed_definition() -> None:
    definition = customers()
    response = {
        "FeatureGroupName": definition.group_name("prod"),
        "RecordIdentifierFeatureName": "customer_id",
        "EventTimeFeatureName": "event_time",
        "Description": "profiles",
        "FeatureDefinitions": [
            {"FeatureName": f.name, "FeatureType": f.type} for f in definition.features
        ],
    }
    assert FeatureGroupDefinition.from_describe(response) == definition
    with pytest.raises(DefinitionError, match="not created by this platform"):
        FeatureGroupDefinition.from_describe({**response, "FeatureGroupName": "someone-elses"})


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(DefinitionError) as raised:
        FeatureGroupDefinition(
            name="x",
            record_identifier="id",
            event_time="id",
            features=(Feature("id", "Fractional"), Feature("ID", "String"), Feature("-a", "X")),
        )
    assert raised.value.problems == (
        "feature 'ID' appears twice (names ignore case)",
        "feature name '-a' must be 1-64 letters, digits, '-' or '_' starting and ending with a "
        "letter or digit",
        "feature '-a' has type 'X' (expected one of String, Integral, Fractional)",
        "record_identifier 'id' has type 'Fractional' (must be String or Integral)",
        "record_identifier and event_time must be different features",
    )


def test_only_additions_are_in_place_changes() -> None:
    old = customers()
    added = schema_change(old, customers(score="Fractional", segment="String"))
    assert added.is_additive
    assert added.additions == (Feature("score", "Fractional"), Feature("segment", "String"))
    retyped = schema_change(old, customers(age="Fractional"))
    assert not retyped.is_additive and retyped.additions == ()
    assert retyped.problems == (
        "feature group 'customer_profiles' v3: feature 'age' changed type from Integral to "
        "Fractional; add version 4 of 'customer_profiles' with the new schema instead",
    )


def test_stack_file_lists_every_version_and_the_newest_by_name(tmp_path: Path) -> None:
    # given a stack file with two versions of one group
    stack = tmp_path / "Pulumi.test.yaml"
    stack.write_text(
        "config:\n"
        "  ml-platform:feature_store:\n"
        "    groups:\n"
        "      - {name: users, version: 2, record_identifier: id, event_time: t,\n"
        "         features: {id: String, t: String, score: Fractional}}\n"
        "      - {name: users, record_identifier: id, event_time: t,\n"
        "         features: {id: String, t: String, score: Integral}}\n"
    )
    # when loaded
    found = load_definitions(stack)
    # then each version is there and the bare name is the newest, whatever the order
    assert set(found) == {"users", "users@v1", "users@v2"}
    assert found["users"].version == 2 and found["users@v1"].type_of("score") == "Integral"
    assert definitions_from_config({}) == {}
