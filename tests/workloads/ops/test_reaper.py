"""reap_retired: the endpoint's retired configurations and their models go, nothing in use does.

given ListEndpoints, DescribeEndpoint, ListEndpointConfigs, DescribeEndpointConfig and the deletes
stubbed with botocore's Stubber (every request and response validated against botocore's service
model, every call expected in order) / when the reaper runs for one endpoint / then it keeps the
configurations in use and the newest N retired ones, deletes older retired ones and the models
only they referenced, follows every page, and refuses to delete anything while an endpoint
concerned is transitional.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import Stubber

from tests.workloads.ops.conftest import ACCOUNT, REGION
from workloads.ops.errors import OpsError
from workloads.ops.reaper import ReapResult, config_pattern, reap_retired

ENDPOINT = "mlp-prod-churn"
PREFIX = "mlp-prod-churn-config"
OTHER = "mlp-prod-fraud"
OTHER_CONFIG = "mlp-prod-fraud-config-9f9f9f9"
# oldest to newest; C4 is the one the endpoint runs
C1, C2, C3, C4 = (f"{PREFIX}-{suffix}" for suffix in ("a1a1a1a", "b2b2b2b", "c3c3c3c", "d4d4d4d"))
# an endpoint named "churn-config-x": its configurations contain our prefix but are not ours
NOT_OURS = "mlp-prod-churn-config-x-config-1234567"


def at(day: int) -> datetime:
    return datetime(2026, 12, day, tzinfo=UTC)


def arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name}"


def expect_endpoints(
    stub: Stubber, endpoints: dict[str, tuple[str, str, str | None]], pages: int = 1
) -> None:
    """ListEndpoints (in ``pages`` pages), then DescribeEndpoint of each, in order.

    ``endpoints``: name -> (status, config it runs, config of a deployment in progress or None).
    """
    names = list(endpoints)
    size = -(-len(names) // pages)
    for page in range(pages):
        chunk = names[page * size : (page + 1) * size]
        response: dict[str, Any] = {
            "Endpoints": [
                {
                    "EndpointName": name,
                    "EndpointArn": arn("endpoint", name),
                    "CreationTime": at(1),
                    "LastModifiedTime": at(2),
                    "EndpointStatus": endpoints[name][0],
                }
                for name in chunk
            ]
        }
        if page < pages - 1:
            response["NextToken"] = f"endpoints-{page + 1}"
        params = {"NextToken": f"endpoints-{page}"} if page else {}
        stub.add_response("list_endpoints", response, params)
    for name, (status, config, pending) in endpoints.items():
        described: dict[str, Any] = {
            "EndpointName": name,
            "EndpointArn": arn("endpoint", name),
            "EndpointConfigName": config,
            "EndpointStatus": status,
            "CreationTime": at(1),
            "LastModifiedTime": at(2),
        }
        if pending:
            described["PendingDeploymentSummary"] = {"EndpointConfigName": pending}
        stub.add_response("describe_endpoint", described, {"EndpointName": name})


def expect_configs(stub: Stubber, created: dict[str, int], pages: int = 1) -> None:
    """ListEndpointConfigs filtered by the prefix: name -> day of creation."""
    names = list(created)
    size = -(-len(names) // pages)
    for page in range(pages):
        response: dict[str, Any] = {
            "EndpointConfigs": [
                {
                    "EndpointConfigName": name,
                    "EndpointConfigArn": arn("endpoint-config", name),
                    "CreationTime": at(created[name]),
                }
                for name in names[page * size : (page + 1) * size]
            ]
        }
        if page < pages - 1:
            response["NextToken"] = f"configs-{page + 1}"
        params: dict[str, Any] = {"NameContains": PREFIX}
        if page:
            params["NextToken"] = f"configs-{page}"
        stub.add_response("list_endpoint_configs", response, params)


def expect_config_models(
    stub: Stubber, config: str, models: list[str], shadow: list[str] | None = None
) -> None:
    """DescribeEndpointConfig of ``config``: one variant per model (and shadow variants)."""
    response: dict[str, Any] = {
        "EndpointConfigName": config,
        "EndpointConfigArn": arn("endpoint-config", config),
        "ProductionVariants": [
            {"VariantName": f"v{index}", "ModelName": model} for index, model in enumerate(models)
        ],
        "CreationTime": at(1),
    }
    if shadow:
        response["ShadowProductionVariants"] = [
            {"VariantName": f"s{index}", "ModelName": model} for index, model in enumerate(shadow)
        ]
    stub.add_response("describe_endpoint_config", response, {"EndpointConfigName": config})


def expect_deletes(stub: Stubber, configs: list[str], models: list[str]) -> None:
    for config in configs:
        stub.add_response("delete_endpoint_config", {}, {"EndpointConfigName": config})
    for model in models:
        stub.add_response("delete_model", {}, {"ModelName": model})


def reap(stub: Stubber, keep: int = 1) -> ReapResult:
    return reap_retired(ENDPOINT, PREFIX, keep, sagemaker=stub.client)


def test_only_the_endpoints_own_auto_named_configs_match() -> None:
    pattern = config_pattern(PREFIX)
    assert all(pattern.fullmatch(name) for name in (C1, C2, C3, C4))
    assert not pattern.fullmatch(NOT_OURS)
    assert not pattern.fullmatch(PREFIX)
    assert not pattern.fullmatch(OTHER_CONFIG)


def test_keeps_in_use_and_newest_retired_deletes_older_and_their_unused_models(
    stub: Stubber,
) -> None:
    # given churn on C4 and fraud on its own config; C1..C3 retired, and another endpoint's
    # configuration whose name contains our prefix
    expect_endpoints(
        stub, {ENDPOINT: ("InService", C4, None), OTHER: ("InService", OTHER_CONFIG, None)}
    )
    expect_configs(stub, {C3: 3, C1: 1, NOT_OURS: 2, C2: 2, C4: 4})
    # the retired configs to delete (newest first: C2, C1) and the models they referenced
    expect_config_models(stub, C2, ["blue-1", "green-2"])
    expect_config_models(stub, C1, ["blue-1", "green-1"], shadow=["shadow-1"])
    # what stays: the kept C3 (still on blue-1), the configs in use (fraud's even uses green-1)
    expect_config_models(stub, C3, ["blue-1", "green-3"])
    expect_config_models(stub, C4, ["blue-4", "green-4"])
    expect_config_models(stub, OTHER_CONFIG, ["fraud-main", "green-1"])
    # then exactly the older retired configs go, and the models nothing kept or used references
    expect_deletes(stub, [C2, C1], ["green-2", "shadow-1"])
    # when the reaper keeps one retired configuration
    result = reap(stub, keep=1)
    assert result == ReapResult(
        endpoint_name=ENDPOINT,
        deleted_configs=(C2, C1),
        deleted_models=("green-2", "shadow-1"),
        kept_configs=(C3,),
        in_use_configs=(C4,),
    )
    assert result.to_dict()["deleted_configs"] == [C2, C1]


def test_keep_zero_still_never_deletes_the_config_in_use_or_its_models(stub: Stubber) -> None:
    # given churn rolled back to C2 (it runs the older config) while C3 was the rejected one
    expect_endpoints(stub, {ENDPOINT: ("InService", C2, None)})
    expect_configs(stub, {C2: 2, C3: 3})
    expect_config_models(stub, C3, ["blue-3"])
    expect_config_models(stub, C2, ["blue-2"])
    expect_deletes(stub, [C3], ["blue-3"])
    # when the reaper keeps no retired configuration / then only the rejected config goes
    result = reap(stub, keep=0)
    assert (result.deleted_configs, result.deleted_models) == ((C3,), ("blue-3",))
    assert result.in_use_configs == (C2,)


def test_nothing_retired_beyond_keep_deletes_nothing(stub: Stubber) -> None:
    expect_endpoints(stub, {ENDPOINT: ("InService", C4, None)})
    expect_configs(stub, {C3: 3, C4: 4})
    expect_config_models(stub, C3, ["blue-3"])
    expect_config_models(stub, C4, ["blue-4"])
    result = reap(stub, keep=2)
    assert result.deleted_configs == result.deleted_models == ()
    assert result.kept_configs == (C3,)


@pytest.mark.parametrize(
    "endpoints",
    [
        # the endpoint itself is updating
        {ENDPOINT: ("Updating", C4, C3), OTHER: ("InService", OTHER_CONFIG, None)},
        # another endpoint is moving onto one of the endpoint's configurations
        {ENDPOINT: ("InService", C4, None), OTHER: ("Updating", OTHER_CONFIG, C2)},
        # the endpoint is being created or rolled back
        {ENDPOINT: ("Creating", C4, None)},
        {ENDPOINT: ("RollingBack", C4, None)},
    ],
)
def test_refuses_to_reap_anything_while_an_endpoint_concerned_is_transitional(
    stub: Stubber, endpoints: dict[str, tuple[str, str, str | None]]
) -> None:
    # given retired configurations, and an endpoint concerned in transition
    expect_endpoints(stub, endpoints)
    expect_configs(stub, {C1: 1, C2: 2, C3: 3, C4: 4})
    # when the reaper runs / then it refuses in one line naming it, and deletes (or even
    # describes) nothing: the stub has no further responses
    busy = next(name for name, (status, *_rest) in endpoints.items() if status != "InService")
    with pytest.raises(OpsError) as refused:
        reap(stub, keep=0)
    message = str(refused.value)
    assert message.startswith(f"Reaping retired configs of endpoint '{ENDPOINT}': refused: ")
    assert f"endpoint '{busy}' is {endpoints[busy][0]}" in message
    assert "\n" not in message


def test_an_unrelated_endpoint_in_transition_does_not_stop_the_reaper(stub: Stubber) -> None:
    expect_endpoints(
        stub, {ENDPOINT: ("InService", C4, None), OTHER: ("Updating", OTHER_CONFIG, None)}
    )
    expect_configs(stub, {C3: 3, C4: 4})
    expect_config_models(stub, C3, ["blue-3"])
    expect_config_models(stub, C4, ["blue-4"])
    expect_config_models(stub, OTHER_CONFIG, ["fraud-main"])
    expect_deletes(stub, [C3], ["blue-3"])
    assert reap(stub, keep=0).deleted_configs == (C3,)


def test_every_page_of_endpoints_and_configs_is_read(stub: Stubber) -> None:
    # given three pages of endpoints (the one running C1 on the last) and two of configurations
    third = "mlp-prod-third"
    expect_endpoints(
        stub,
        {
            OTHER: ("InService", OTHER_CONFIG, None),
            ENDPOINT: ("InService", C4, None),
            third: ("InService", C1, None),
        },
        pages=3,
    )
    expect_configs(stub, {C1: 1, C2: 2, C3: 3, C4: 4}, pages=2)
    expect_config_models(stub, C2, ["blue-2"])
    expect_config_models(stub, C3, ["blue-3"])
    expect_config_models(stub, C1, ["blue-1"])
    expect_config_models(stub, C4, ["blue-4"])
    expect_config_models(stub, OTHER_CONFIG, ["fraud-main"])
    expect_deletes(stub, [C2], ["blue-2"])
    # when the reaper keeps one retired configuration
    result = reap(stub, keep=1)
    # then C1, in use by the endpoint on the last page, is safe; C3 is kept, C2 goes
    assert result.in_use_configs == (C1, C4)
    assert result.kept_configs == (C3,)
    assert (result.deleted_configs, result.deleted_models) == ((C2,), ("blue-2",))


def test_a_failed_delete_is_one_line_naming_what_was_deleted_before(stub: Stubber) -> None:
    expect_endpoints(stub, {ENDPOINT: ("InService", C4, None)})
    expect_configs(stub, {C2: 2, C3: 3, C4: 4})
    expect_config_models(stub, C3, ["blue-3"])
    expect_config_models(stub, C2, ["blue-2"])
    expect_config_models(stub, C4, ["blue-4"])
    expect_deletes(stub, [C3, C2], [])
    stub.add_client_error(
        "delete_model",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform: sagemaker:DeleteModel",
        expected_params={"ModelName": "blue-2"},
    )
    with pytest.raises(OpsError) as failure:
        reap(stub, keep=0)
    assert str(failure.value) == (
        f"Reaping retired configs of endpoint '{ENDPOINT}': DeleteModel 'blue-2' failed: "
        "AccessDeniedException: not authorized to perform: sagemaker:DeleteModel "
        f"(already deleted: configs ['{C3}', '{C2}'], models none)"
    )


def test_a_failed_list_is_one_line(stub: Stubber) -> None:
    stub.add_client_error(
        "list_endpoints", service_error_code="AccessDeniedException", service_message="denied"
    )
    with pytest.raises(OpsError) as failure:
        reap(stub)
    assert str(failure.value) == (
        f"Reaping retired configs of endpoint '{ENDPOINT}': "
        "ListEndpoints failed: AccessDeniedException: denied"
    )


def test_what_is_gone_already_is_skipped(stub: Stubber) -> None:
    # given an endpoint deleted between list and describe, and a config and a model deleted
    # by someone else meanwhile
    gone = "Could not find endpoint"
    stub.add_response(
        "list_endpoints",
        {
            "Endpoints": [
                {
                    "EndpointName": name,
                    "EndpointArn": arn("endpoint", name),
                    "CreationTime": at(1),
                    "LastModifiedTime": at(2),
                    "EndpointStatus": "InService",
                }
                for name in ("mlp-prod-gone", ENDPOINT)
            ]
        },
        {},
    )
    stub.add_client_error(
        "describe_endpoint",
        service_error_code="ValidationException",
        service_message=f'{gone} "arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/mlp-prod-gone".',
        expected_params={"EndpointName": "mlp-prod-gone"},
    )
    expect_endpoints_describe_only(stub, ENDPOINT, C4)
    expect_configs(stub, {C2: 2, C3: 3, C4: 4})
    expect_config_models(stub, C3, ["blue-3"])
    expect_config_models(stub, C2, ["blue-2"])
    expect_config_models(stub, C4, ["blue-4"])
    stub.add_response("delete_endpoint_config", {}, {"EndpointConfigName": C3})
    stub.add_client_error(
        "delete_endpoint_config",
        service_error_code="ValidationException",
        service_message=f"Could not find endpoint configuration {C2}.",
        expected_params={"EndpointConfigName": C2},
    )
    stub.add_client_error(
        "delete_model",
        service_error_code="ValidationException",
        service_message="Could not find model blue-2.",
        expected_params={"ModelName": "blue-2"},
    )
    stub.add_response("delete_model", {}, {"ModelName": "blue-3"})
    result = reap(stub, keep=0)
    assert (result.deleted_configs, result.deleted_models) == ((C3,), ("blue-3",))


def expect_endpoints_describe_only(stub: Stubber, name: str, config: str) -> None:
    stub.add_response(
        "describe_endpoint",
        {
            "EndpointName": name,
            "EndpointArn": arn("endpoint", name),
            "EndpointConfigName": config,
            "EndpointStatus": "InService",
            "CreationTime": at(1),
            "LastModifiedTime": at(2),
        },
        {"EndpointName": name},
    )


def test_an_in_use_config_that_cannot_be_described_protects_every_model(stub: Stubber) -> None:
    # given an endpoint running on a configuration deleted already (which models it runs is
    # unknown), and a retired configuration of ours
    expect_endpoints(
        stub, {ENDPOINT: ("InService", C4, None), OTHER: ("InService", OTHER_CONFIG, None)}
    )
    expect_configs(stub, {C3: 3, C4: 4})
    expect_config_models(stub, C3, ["blue-3"])
    expect_config_models(stub, C4, ["blue-4"])
    stub.add_client_error(
        "describe_endpoint_config",
        service_error_code="ValidationException",
        service_message=f"Could not find endpoint configuration {OTHER_CONFIG}.",
        expected_params={"EndpointConfigName": OTHER_CONFIG},
    )
    stub.add_response("delete_endpoint_config", {}, {"EndpointConfigName": C3})
    # when the reaper runs / then the configuration goes, but no model, and it says why
    result = reap(stub, keep=0)
    assert (result.deleted_configs, result.deleted_models) == ((C3,), ())
    assert result.models_skipped == (
        f"configs kept or in use could not be described ({OTHER_CONFIG}), so no model was deleted"
    )


@pytest.mark.parametrize("keep", [-1, 11])
def test_keep_out_of_bounds_is_refused(keep: int) -> None:
    with pytest.raises(OpsError, match=rf"^keep must be between 0 and 10, got {keep}$"):
        reap_retired(ENDPOINT, PREFIX, keep, sagemaker=None)
