"""FeatureSchema: features are added to a live group in place; every other change is refused.

given a group's old and new definitions (and a stubbed SageMaker API for the live group) / when the
dynamic provider diffs, creates or updates / then an addition becomes one UpdateFeatureGroup
``FeatureAdditions`` call that is waited on, and a removal, a retype, a new record identifier or
event time, or a changed store setting fails the preview with a message naming each change and
saying to add a new version.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import boto3
import dill
import pytest
from botocore.stub import Stubber
from pulumi.dynamic.dynamic import serialize_provider

from components.feature_store import schema as feature_schema
from components.feature_store.schema import (
    FeatureSchemaProvider,
    SchemaChangeRefused,
    reconcile,
    refused_changes,
    wait_for_update,
)
from workloads.features.definitions import FeatureGroupDefinition

GROUP = "mlp-dev-customers-v1"
FEATURES = {"customer_id": "String", "event_time": "String", "tenure": "Integral"}
SETTINGS = {
    "online_store": True,
    "storage_type": "Standard",
    "offline_store": True,
    "table_format": "Glue",
    "description": "",
}


def definition(**features: str) -> dict[str, Any]:
    """The schema resource's ``definition`` input (ordered form) with extra features."""
    mapping = FeatureGroupDefinition.from_mapping(
        {
            "name": "customers",
            "record_identifier": "customer_id",
            "event_time": "event_time",
            "features": {**FEATURES, **features},
        }
    ).to_mapping(ordered=True)
    return mapping


def props(**features: str) -> dict[str, Any]:
    return {
        "group_name": GROUP,
        "region": "us-east-1",
        "definition": definition(**features),
        "settings": dict(SETTINGS),
    }


def described(features: dict[str, str], status: str | None = "Successful") -> dict[str, Any]:
    """A DescribeFeatureGroup response of the live group."""
    response: dict[str, Any] = {
        "FeatureGroupArn": f"arn:aws:sagemaker:us-east-1:123456789012:feature-group/{GROUP}",
        "FeatureGroupName": GROUP,
        "RecordIdentifierFeatureName": "customer_id",
        "EventTimeFeatureName": "event_time",
        "FeatureDefinitions": [
            {"FeatureName": name, "FeatureType": kind} for name, kind in features.items()
        ],
        "CreationTime": "2026-01-01T00:00:00Z",
        "NextToken": "",
    }
    if status:
        response["LastUpdateStatus"] = {"Status": status}
    return response


@pytest.fixture
def sagemaker(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("sagemaker", region_name="us-east-1")
    monkeypatch.setattr(feature_schema, "sagemaker_client", lambda region: client)
    monkeypatch.setattr(feature_schema.time, "sleep", lambda seconds: None)
    return client


# --------------------------------------------------------------------------------------------
# what may change in place
# --------------------------------------------------------------------------------------------


def test_adding_features_is_accepted() -> None:
    assert refused_changes(props(), props(churn_score="Fractional")) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda p: p["definition"]["features"].pop(),
            "feature group 'customers' v1: feature 'tenure' was removed; "
            "add version 2 of 'customers' with the new schema instead",
        ),
        (
            lambda p: p["definition"]["features"][2].update(type="Fractional"),
            "feature group 'customers' v1: feature 'tenure' changed type from Integral to "
            "Fractional; add version 2 of 'customers' with the new schema instead",
        ),
        (
            lambda p: p["definition"].update(record_identifier="tenure"),
            "feature group 'customers' v1: record_identifier changed from 'customer_id' to "
            "'tenure'; add version 2 of 'customers' with the new schema instead",
        ),
        (
            lambda p: p["settings"].update(storage_type="InMemory"),
            "feature group 'customers' v1: storage_type changed from 'Standard' to 'InMemory', "
            "which SageMaker cannot change on a live group; add version 2 of 'customers' with "
            "the new setting instead",
        ),
        (
            lambda p: p["settings"].update(online_store=False),
            "feature group 'customers' v1: online_store changed from True to False, which "
            "SageMaker cannot change on a live group; add version 2 of 'customers' with the new "
            "setting instead",
        ),
    ],
)
def test_replacing_changes_are_refused_with_what_to_do(change: Any, expected: str) -> None:
    # given a change that would replace the group
    new = copy.deepcopy(props())
    change(new)
    # when compared with what is deployed / then it is refused, saying why and what to do
    assert refused_changes(props(), new) == [expected]


def test_diff_fails_the_preview_for_a_replacing_change() -> None:
    new = props()
    new["definition"]["features"].pop()
    with pytest.raises(SchemaChangeRefused) as refused:
        FeatureSchemaProvider().diff(GROUP, props(), new)
    assert "delete its online store" in str(refused.value)
    assert "feature 'tenure' was removed" in str(refused.value)


def test_diff_of_an_addition_updates_in_place_and_never_replaces() -> None:
    result = FeatureSchemaProvider().diff(GROUP, props(), props(score="Fractional"))
    assert result.changes is True and result.replaces == []
    unchanged = FeatureSchemaProvider().diff(GROUP, props(), props())
    assert unchanged.changes is False


def test_the_provider_survives_pulumis_serialization() -> None:
    # given the provider serialized as Pulumi stores it in the state
    restored = dill.loads(base64.b64decode(serialize_provider(FeatureSchemaProvider())))
    # when the restored copy diffs a replacing change / then it still refuses it
    new = props()
    new["definition"]["features"].pop()
    with pytest.raises(SchemaChangeRefused):
        restored.diff(GROUP, props(), new)


# --------------------------------------------------------------------------------------------
# applying to the live group
# --------------------------------------------------------------------------------------------


def test_update_adds_the_missing_features_and_waits_until_successful(sagemaker: Any) -> None:
    # given a live group without 'score'
    with Stubber(sagemaker) as stub:
        stub.add_response(
            "describe_feature_group", described(FEATURES), {"FeatureGroupName": GROUP}
        )
        stub.add_response(
            "update_feature_group",
            {"FeatureGroupArn": f"arn:aws:sagemaker:us-east-1:123:feature-group/{GROUP}"},
            {
                "FeatureGroupName": GROUP,
                "FeatureAdditions": [{"FeatureName": "score", "FeatureType": "Fractional"}],
            },
        )
        stub.add_response("describe_feature_group", described(FEATURES, "InProgress"))
        stub.add_response("describe_feature_group", described({**FEATURES, "score": "Fractional"}))
        # when the provider updates to a definition with 'score'
        result = FeatureSchemaProvider().update(GROUP, props(), props(score="Fractional"))
        # then exactly those calls were made, in order, and the new inputs are the state
        stub.assert_no_pending_responses()
    assert result.outs["definition"]["features"][-1] == {"name": "score", "type": "Fractional"}


def test_create_on_an_up_to_date_group_changes_nothing(sagemaker: Any) -> None:
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_feature_group", described(FEATURES))
        result = FeatureSchemaProvider().create(props())
        stub.assert_no_pending_responses()
    assert result.id == GROUP and "__provider" not in result.outs


def test_a_live_feature_missing_from_the_definition_is_refused(sagemaker: Any) -> None:
    # given a live group that has a feature the config no longer lists (edited outside Pulumi)
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_feature_group", described({**FEATURES, "extra": "String"}))
        # when reconciled / then nothing is updated and the reason is given
        with pytest.raises(SchemaChangeRefused, match="feature 'extra' was removed"):
            reconcile(sagemaker, GROUP, definition())
        stub.assert_no_pending_responses()


def test_a_failed_update_reports_awss_reason(sagemaker: Any) -> None:
    failed = described(FEATURES, None)
    failed["LastUpdateStatus"] = {"Status": "Failed", "FailureReason": "limit exceeded"}
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_feature_group", failed)
        with pytest.raises(RuntimeError, match="failed: limit exceeded"):
            wait_for_update(sagemaker, GROUP)


def test_an_update_that_never_finishes_times_out(sagemaker: Any) -> None:
    waits: list[float] = []
    with Stubber(sagemaker) as stub:
        for _ in range(3):
            stub.add_response("describe_feature_group", described(FEATURES, "InProgress"))
        with pytest.raises(TimeoutError, match="still 'InProgress' after 10 s"):
            wait_for_update(sagemaker, GROUP, timeout=10, sleep=waits.append)
    assert waits == [5.0, 5.0]


def test_settings_must_be_exactly_the_fixed_ones() -> None:
    with pytest.raises(ValueError, match="settings must name exactly"):
        feature_schema.FeatureSchema(
            "x",
            group_name=GROUP,
            region="us-east-1",
            definition=FeatureGroupDefinition.from_mapping(definition()),
            settings={"online_store": True},
            opts=None,  # type: ignore[arg-type]
        )
