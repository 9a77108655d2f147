"""Online lookup: GetRecord and BatchGetRecord request shapes, typed values, retries, enrichment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from tests.workloads.features.samples import CUSTOMERS, GROUP, runtime_client
from workloads.features.definitions import Feature, FeatureGroupDefinition
from workloads.features.ingestion import RetryPolicy
from workloads.features.online import BATCH_GET_LIMIT, FeatureLookupError, OnlineFeatures


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """A runtime client that never reaches AWS."""
    return runtime_client(monkeypatch, tmp_path)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def online(client: Any, sleeps: list[float]) -> OnlineFeatures:
    retry = RetryPolicy(max_attempts=3, sleep=sleeps.append, uniform=lambda low, high: high)
    return OnlineFeatures(CUSTOMERS, GROUP, client, retry=retry)


def stored(number: int, orders: int = 3) -> list[dict[str, str]]:
    return [
        {"FeatureName": "customer_id", "ValueAsString": f"c-{number}"},
        {"FeatureName": "updated_at", "ValueAsString": "2024-05-01T12:00:00.000Z"},
        {"FeatureName": "orders", "ValueAsString": str(orders)},
        {"FeatureName": "spend", "ValueAsString": "12.5"},
    ]


def typed(number: int, orders: int = 3) -> dict[str, Any]:
    return {
        "customer_id": f"c-{number}",
        "updated_at": "2024-05-01T12:00:00.000Z",
        "orders": orders,
        "spend": 12.5,
        "segment": None,
    }


def batch_request(ids: list[str], features: list[str] | None = None) -> dict[str, Any]:
    identifier: dict[str, Any] = {"FeatureGroupName": GROUP, "RecordIdentifiersValueAsString": ids}
    if features is not None:
        identifier["FeatureNames"] = features
    return {"Identifiers": [identifier]}


def batch_response(*numbers: int, **extra: Any) -> dict[str, Any]:
    records = [
        {"FeatureGroupName": GROUP, "RecordIdentifierValueAsString": f"c-{n}", "Record": stored(n)}
        for n in numbers
    ]
    return {"Records": records, "Errors": [], "UnprocessedIdentifiers": [], **extra}


def test_get_converts_values_back_to_python_types(client: Any, online: OnlineFeatures) -> None:
    # given
    with Stubber(client) as stub:
        stub.add_response(
            "get_record",
            {"Record": stored(1)},
            {"FeatureGroupName": GROUP, "RecordIdentifierValueAsString": "c-1"},
        )
        # when
        values = online.get("c-1")
    # then every feature is a key; the absent segment is None
    assert values == typed(1)


def test_get_asks_for_the_named_features_only(client: Any, online: OnlineFeatures) -> None:
    with Stubber(client) as stub:
        stub.add_response(
            "get_record",
            {"Record": [{"FeatureName": "orders", "ValueAsString": "7"}]},
            {
                "FeatureGroupName": GROUP,
                "RecordIdentifierValueAsString": "c-1",
                "FeatureNames": ["orders", "segment"],
            },
        )
        assert online.get("c-1", ["orders", "segment"]) == {"orders": 7, "segment": None}


def test_get_of_a_record_that_does_not_exist_is_none(client: Any, online: OnlineFeatures) -> None:
    with Stubber(client) as stub:
        stub.add_response(
            "get_record", {}, {"FeatureGroupName": GROUP, "RecordIdentifierValueAsString": "c-9"}
        )
        assert online.get("c-9") is None


def test_get_retries_throttling(client: Any, online: OnlineFeatures, sleeps: list[float]) -> None:
    with Stubber(client) as stub:
        stub.add_client_error("get_record", "ThrottlingException", "slow down", 400)
        stub.add_response("get_record", {"Record": stored(1)})
        assert online.get("c-1") == typed(1)
    assert len(sleeps) == 1


def test_a_missing_group_is_a_clear_error(client: Any, online: OnlineFeatures) -> None:
    with Stubber(client) as stub:
        stub.add_client_error("get_record", "ResourceNotFound", "no such group", 404)
        with pytest.raises(FeatureLookupError) as raised:
            online.get("c-1")
    assert str(raised.value) == (
        f"GetRecord: feature group '{GROUP}' does not exist (or is not in this region): "
        "ResourceNotFound: no such group"
    )


def test_an_unknown_feature_is_refused_before_any_call(online: OnlineFeatures) -> None:
    with pytest.raises(KeyError, match="feature group 'customers' v1 has no feature 'colour'"):
        online.get("c-1", ["colour"])


def test_get_many_chunks_by_the_batch_limit(client: Any, online: OnlineFeatures) -> None:
    # given 150 ids: one full chunk and one of 50
    ids = [f"c-{n}" for n in range(150)]
    with Stubber(client) as stub:
        stub.add_response(
            "batch_get_record", batch_response(0, 99), batch_request(ids[:BATCH_GET_LIMIT])
        )
        stub.add_response(
            "batch_get_record", batch_response(149), batch_request(ids[BATCH_GET_LIMIT:])
        )
        # when
        found = online.get_many(ids)
        stub.assert_no_pending_responses()
    # then the records that exist, keyed by id
    assert BATCH_GET_LIMIT == 100
    assert found == {"c-0": typed(0), "c-99": typed(99), "c-149": typed(149)}


def test_get_many_retries_unprocessed_identifiers(
    client: Any, online: OnlineFeatures, sleeps: list[float]
) -> None:
    # given c-2 is unprocessed the first time
    unprocessed = [{"FeatureGroupName": GROUP, "RecordIdentifiersValueAsString": ["c-2"]}]
    with Stubber(client) as stub:
        stub.add_response(
            "batch_get_record",
            batch_response(1, UnprocessedIdentifiers=unprocessed),
            batch_request(["c-1", "c-2"]),
        )
        stub.add_response("batch_get_record", batch_response(2), batch_request(["c-2"]))
        # when
        found = online.get_many(["c-1", "c-2"])
    # then
    assert found == {"c-1": typed(1), "c-2": typed(2)}
    assert len(sleeps) == 1


def test_get_many_reports_record_errors(client: Any, online: OnlineFeatures) -> None:
    # given one record errs; another is not found
    errors = [
        {
            "FeatureGroupName": GROUP,
            "RecordIdentifierValueAsString": "c-2",
            "ErrorCode": "ValidationError",
            "ErrorMessage": "bad id",
        },
        {
            "FeatureGroupName": GROUP,
            "RecordIdentifierValueAsString": "c-3",
            "ErrorCode": "ResourceNotFound",
            "ErrorMessage": "Record not found",
        },
    ]
    with Stubber(client) as stub:
        stub.add_response("batch_get_record", batch_response(1, Errors=errors))
        # when / then
        with pytest.raises(FeatureLookupError) as raised:
            online.get_many(["c-1", "c-2", "c-3"])
    assert str(raised.value) == (
        f"BatchGetRecord on feature group '{GROUP}' failed for 1 record(s): 'c-2': ValidationError: bad id"
    )


def test_get_many_gives_up_on_identifiers_never_processed(
    client: Any, online: OnlineFeatures
) -> None:
    unprocessed = [{"FeatureGroupName": GROUP, "RecordIdentifiersValueAsString": ["c-1"]}]
    with Stubber(client) as stub:
        for _ in range(3):
            stub.add_response(
                "batch_get_record", batch_response(UnprocessedIdentifiers=unprocessed)
            )
        with pytest.raises(
            FeatureLookupError, match=r"left 1 record\(s\) unprocessed after 3 attempts: 'c-1'"
        ):
            online.get_many(["c-1"])


def test_integral_identifiers_are_sent_as_text_and_keyed_as_given(client: Any) -> None:
    # given a group keyed by an Integral
    definition = FeatureGroupDefinition(
        name="clicks",
        record_identifier="user",
        event_time="ts",
        features=(
            Feature("user", "Integral"),
            Feature("ts", "Fractional"),
            Feature("clicks", "Integral"),
        ),
    )
    online = OnlineFeatures(definition, "mlp-test-clicks-v1", client)
    response = {
        "Records": [
            {
                "FeatureGroupName": "mlp-test-clicks-v1",
                "RecordIdentifierValueAsString": "7",
                "Record": [
                    {"FeatureName": "user", "ValueAsString": "7"},
                    {"FeatureName": "ts", "ValueAsString": "1714564800.5"},
                    {"FeatureName": "clicks", "ValueAsString": "12"},
                ],
            }
        ],
        "Errors": [],
        "UnprocessedIdentifiers": [],
    }
    with Stubber(client) as stub:
        stub.add_response(
            "batch_get_record",
            response,
            {
                "Identifiers": [
                    {
                        "FeatureGroupName": "mlp-test-clicks-v1",
                        "RecordIdentifiersValueAsString": ["7", "8"],
                    }
                ]
            },
        )
        # when
        found = online.get_many([7, 8])
    # then
    assert found == {7: {"user": 7, "ts": 1714564800.5, "clicks": 12}}


def test_enrich_adds_the_value_features_and_none_for_missing_entities(
    client: Any, online: OnlineFeatures
) -> None:
    # given requests for a known entity, an unknown one and one without a key
    rows = [
        {"customer_id": "c-1", "amount": 10},
        {"customer_id": "c-404", "amount": 20},
        {"amount": 30},
    ]
    features = ["orders", "spend", "segment"]
    with Stubber(client) as stub:
        stub.add_response(
            "batch_get_record",
            {
                "Records": [
                    {
                        "FeatureGroupName": GROUP,
                        "RecordIdentifierValueAsString": "c-1",
                        "Record": [
                            {"FeatureName": "orders", "ValueAsString": "3"},
                            {"FeatureName": "spend", "ValueAsString": "12.5"},
                        ],
                    }
                ],
                "Errors": [],
                "UnprocessedIdentifiers": [],
            },
            batch_request(["c-1", "c-404"], features),
        )
        # when
        enriched = online.enrich(rows)
    # then
    assert enriched == [
        {"customer_id": "c-1", "amount": 10, "orders": 3, "spend": 12.5, "segment": None},
        {"customer_id": "c-404", "amount": 20, "orders": None, "spend": None, "segment": None},
        {"amount": 30, "orders": None, "spend": None, "segment": None},
    ]
    assert rows[0] == {"customer_id": "c-1", "amount": 10}  # the input is not changed


def test_enrich_with_another_key_column(client: Any, online: OnlineFeatures) -> None:
    with Stubber(client) as stub:
        stub.add_response("batch_get_record", batch_response(1), batch_request(["c-1"], ["orders"]))
        enriched = online.enrich([{"who": "c-1"}], key="who", features=["orders"])
    assert enriched == [{"who": "c-1", "orders": 3}]
