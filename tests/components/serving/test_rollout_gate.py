"""RolloutGate: one gate per endpoint, wired to what the update set; its provider runs the check.

given the stack files run under the recording mock runtime / when the gates are read / then every
endpoint has exactly one, a child of its ServingEndpoint that depends on its Endpoint and expects
the configuration the Endpoint was given, watching its rollback alarms; and given a fake check /
when the dynamic provider creates, diffs or updates / then it checks on create and on every change
of the expected config, returns the verified config, and a failed check fails the operation.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import dill
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from components.serving import rollout_gate
from components.serving.rollout_gate import (
    DEFAULT_TIMEOUT_SECONDS,
    TIMEOUT_MARGIN_SECONDS,
    RolloutGateProvider,
    gate_timeout_seconds,
)
from components.serving.spec import ServingEndpointConfig
from tests.components.serving.test_endpoint import (
    ENDPOINT,
    ENDPOINT_CONFIG,
    SERVING_ENDPOINT,
    component,
    endpoints_of,
    is_serverless,
    one,
)
from tests.conftest import Plan, stack_file
from workloads.ops.endpoint import WaitPolicy
from workloads.ops.errors import OpsError
from workloads.ops.reaper import MAX_KEEP, ReapResult, config_pattern
from workloads.ops.rollout_gate import RolloutOutcome

GATE = "pulumi-python:dynamic/serving:RolloutGate"


# --------------------------------------------------------------------------------------------
# one gate per endpoint, in the stacks
# --------------------------------------------------------------------------------------------


def test_every_endpoint_has_one_gate_after_its_endpoint(plan: Plan) -> None:
    endpoints = endpoints_of(plan.run.stack)
    assert len(plan.of_type(GATE)) == len(endpoints)
    for endpoint in endpoints:
        serving = component(plan, endpoint)
        gate = one(plan, serving, GATE)
        deployed = one(plan, serving, ENDPOINT)
        config = one(plan, serving, ENDPOINT_CONFIG)
        # a child of its ServingEndpoint, named after it
        assert gate.parent == serving.urn
        assert plan.by_urn[gate.parent].type == SERVING_ENDPOINT
        assert gate.name == f"{serving.name}-rollout-gate"
        # after the Endpoint, expecting the configuration the Endpoint was given
        assert deployed.urn in gate.depends_on
        assert gate.inputs["endpoint_name"] == deployed.inputs["name"]
        assert gate.inputs["expected_config_name"] == config.outputs["name"]
        assert gate.inputs["expected_config_name"] == deployed.inputs["endpointConfigName"]
        assert gate.inputs["region"] == stack_file(plan.run.stack)["aws:region"]


def test_the_mock_runtime_records_the_gate_like_any_dynamic_resource(plan: Plan) -> None:
    # given the gates as the offline plan recorded them / then without the pickled provider code,
    # without the stack's AWS provider (gates run in the program's own) and without an AWS ARN
    for gate in plan.of_type(GATE):
        assert "__provider" not in gate.inputs
        assert gate.provider is None
        assert "arn" not in gate.outputs
        assert gate.as_plan_entry()["inputs"] == gate.inputs


def test_the_gate_watches_the_alarms_that_roll_the_endpoint_back(plan: Plan) -> None:
    for endpoint in endpoints_of(plan.run.stack):
        serving = component(plan, endpoint)
        gate, deployed = one(plan, serving, GATE), one(plan, serving, ENDPOINT)
        rollback = (deployed.inputs.get("deploymentConfig") or {}).get(
            "autoRollbackConfiguration", {}
        )
        expected = [alarm["alarmName"] for alarm in rollback.get("alarms", [])]
        assert gate.inputs["alarm_names"] == expected
        assert bool(expected) != is_serverless(endpoint)


def test_the_gate_waits_as_long_as_the_rollout_may_take(plans: dict[str, Plan]) -> None:
    timeouts = {
        gate.inputs["endpoint_name"]: gate.inputs["timeout_seconds"]
        for plan in plans.values()
        for gate in plan.of_type(GATE)
    }
    # prod churn bounds its canary at 7200 s; the others fit in the default
    assert timeouts == {
        "mlp-dev-churn": DEFAULT_TIMEOUT_SECONDS,
        "mlp-dev-churn-sandbox": DEFAULT_TIMEOUT_SECONDS,
        "mlp-prod-churn": 7200 + TIMEOUT_MARGIN_SECONDS,
        "mlp-prod-fraud": DEFAULT_TIMEOUT_SECONDS,
    }
    polls = {gate.inputs["poll_seconds"] for plan in plans.values() for gate in plan.of_type(GATE)}
    assert polls == {15}


def test_the_gate_reaps_exactly_the_endpoints_own_configurations(plan: Plan) -> None:
    for endpoint in endpoints_of(plan.run.stack):
        serving = component(plan, endpoint)
        gate, config = one(plan, serving, GATE), one(plan, serving, ENDPOINT_CONFIG)
        # the prefix is the name Pulumi auto-names the endpoint's configurations from
        assert gate.inputs["config_prefix"] == config.name == f"{serving.name}-config"
        assert config_pattern(gate.inputs["config_prefix"]).fullmatch(config.outputs["name"])
        # and no other endpoint's configuration matches it
        for other in plan.of_type(ENDPOINT_CONFIG):
            if other.urn != config.urn:
                assert not config_pattern(gate.inputs["config_prefix"]).fullmatch(
                    other.outputs["name"]
                )
        # it keeps the configured number of retired configurations (default 2)
        keep = (endpoint.get("rollout") or {}).get("keep_retired_configs", 2)
        assert gate.inputs["keep_retired_configs"] == keep
        assert 0 <= keep <= MAX_KEEP


def test_keep_retired_configs_is_bounded_like_the_reaper() -> None:
    assert spec().rollout.keep_retired_configs == 2
    assert spec({"keep_retired_configs": 0}).rollout.keep_retired_configs == 0
    for keep in (-1, MAX_KEEP + 1):
        with pytest.raises(ValueError, match="keep_retired_configs"):
            spec({"keep_retired_configs": keep})


def spec(rollout: dict[str, Any] | None = None, serverless: bool = False) -> ServingEndpointConfig:
    variant: dict[str, Any] = {
        "name": "main",
        "framework": "sklearn",
        "model_artifact": "churn/v1/model.tar.gz",
    }
    config: dict[str, Any] = {"name": "churn", "variants": [variant]}
    if serverless:
        variant["instance_type"] = None
        variant["serverless"] = {"memory_size_mb": 2048, "max_concurrency": 5}
        config["data_capture"] = {"enabled": False}
        config["rollout"] = {"strategy": "ALL_AT_ONCE"}
    if rollout is not None:
        config["rollout"] = rollout
    return ServingEndpointConfig.model_validate_json(json.dumps(config))


@pytest.mark.parametrize(
    ("rollout", "expected"),
    [
        ({"strategy": "CANARY", "maximum_execution_timeout_seconds": 600}, 600 + 900),
        ({"strategy": "ALL_AT_ONCE", "baking_period_seconds": 60}, 3600),
        # 10 linear steps of 600 s, then 3600 s of baking: longer than the default
        (
            {
                "strategy": "LINEAR",
                "step_percent": 10,
                "wait_interval_seconds": 600,
                "baking_period_seconds": 3600,
            },
            10 * 600 + 3600 + 900,
        ),
        (
            {"strategy": "CANARY", "wait_interval_seconds": 3600, "baking_period_seconds": 3600},
            3600 + 3600 + 900,
        ),
    ],
)
def test_the_timeout_follows_the_rollout(rollout: dict[str, Any], expected: int) -> None:
    assert gate_timeout_seconds(spec(rollout)) == expected


def test_a_serverless_endpoint_gets_the_default_timeout() -> None:
    assert gate_timeout_seconds(spec(serverless=True)) == DEFAULT_TIMEOUT_SECONDS


# --------------------------------------------------------------------------------------------
# the provider, with a fake check
# --------------------------------------------------------------------------------------------


def props(config: str = "churn-config-2", **changes: Any) -> dict[str, Any]:
    return {
        "endpoint_name": "mlp-prod-churn",
        "expected_config_name": config,
        "region": "eu-west-1",
        "alarm_names": ["mlp-prod-churn-blue-5xx"],
        "timeout_seconds": 8100,
        "poll_seconds": 15,
        **changes,
    }


class FakeCheck:
    """Records each check; fails with ``error`` when one is set."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error: OpsError | None = None

    def __call__(
        self,
        endpoint_name: str,
        expected_config_name: str,
        alarm_names: list[str],
        *,
        sagemaker: Any,
        cloudwatch: Any,
        wait: WaitPolicy,
    ) -> RolloutOutcome:
        self.calls.append(
            {
                "endpoint_name": endpoint_name,
                "expected_config_name": expected_config_name,
                "alarm_names": alarm_names,
                "clients": (sagemaker, cloudwatch),
                "timeout_s": wait.timeout_s,
                "poll_s": wait.poll_s,
            }
        )
        if self.error is not None:
            raise self.error
        return RolloutOutcome(endpoint_name, expected_config_name, "InService")


@pytest.fixture
def fake_check(monkeypatch: pytest.MonkeyPatch) -> FakeCheck:
    check = FakeCheck()
    monkeypatch.setattr(rollout_gate, "check_rollout", check)
    monkeypatch.setattr(rollout_gate, "aws_clients", lambda region: (f"sm@{region}", "cw"))
    return check


def test_create_checks_the_rollout_and_outputs_the_verified_config(fake_check: FakeCheck) -> None:
    # given a new gate / when created
    result = RolloutGateProvider().create({**props(), "__provider": "serialized"})
    # then the endpoint was checked with the gate's inputs, in its region
    assert fake_check.calls == [
        {
            "endpoint_name": "mlp-prod-churn",
            "expected_config_name": "churn-config-2",
            "alarm_names": ["mlp-prod-churn-blue-5xx"],
            "clients": ("sm@eu-west-1", "cw"),
            "timeout_s": 8100.0,
            "poll_s": 15.0,
        }
    ]
    assert result.id == "mlp-prod-churn"
    assert result.outs == {**props(), "verified_config_name": "churn-config-2"}


def test_a_new_expected_config_is_a_change_and_the_update_checks_again(
    fake_check: FakeCheck,
) -> None:
    provider = RolloutGateProvider()
    olds = {**props("churn-config-1"), "verified_config_name": "churn-config-1", "__provider": "x"}
    # given a deployed gate / when the endpoint gets a new config / then the gate changes
    diff = provider.diff("mlp-prod-churn", olds, {**props("churn-config-2"), "__provider": "x"})
    assert diff.changes is True
    assert diff.replaces == []
    # and its update checks the new rollout
    result = provider.update("mlp-prod-churn", olds, props("churn-config-2"))
    assert [call["expected_config_name"] for call in fake_check.calls] == ["churn-config-2"]
    assert result.outs == {**props("churn-config-2"), "verified_config_name": "churn-config-2"}


def test_the_same_config_is_no_change(fake_check: FakeCheck) -> None:
    olds = {**props(), "verified_config_name": "churn-config-2", "__provider": "x"}
    diff = RolloutGateProvider().diff("mlp-prod-churn", olds, {**props(), "__provider": "y"})
    assert diff.changes is False
    assert fake_check.calls == []


def test_a_failed_check_fails_create_and_update_with_its_message(fake_check: FakeCheck) -> None:
    # given a rollout SageMaker rolled back
    fake_check.error = OpsError("Rollout of endpoint 'mlp-prod-churn' not verified: rolled back")
    provider = RolloutGateProvider()
    # when the gate is created or updated / then the operation fails with the check's message
    with pytest.raises(OpsError, match="not verified: rolled back"):
        provider.create(props())
    with pytest.raises(OpsError, match="not verified: rolled back"):
        provider.update("mlp-prod-churn", props("churn-config-1"), props())


def test_the_provider_survives_pulumis_serialization(fake_check: FakeCheck) -> None:
    # given the provider serialized as Pulumi stores it in the state
    restored = dill.loads(base64.b64decode(serialize_provider(RolloutGateProvider())))
    # when the restored copy diffs a new config / then it still sees the change
    assert restored.diff("mlp-prod-churn", props("churn-config-1"), props()).changes is True


# --------------------------------------------------------------------------------------------
# reaping after a verified rollout, with a fake reaper
# --------------------------------------------------------------------------------------------


def reaping(config: str = "churn-config-2", **changes: Any) -> dict[str, Any]:
    return props(
        config, **{"config_prefix": "mlp-prod-churn-config", "keep_retired_configs": 2, **changes}
    )


class FakeReaper:
    """Records each reaping; returns ``result`` or raises ``error``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int, Any]] = []
        self.error: Exception | None = None
        self.result = ReapResult(
            endpoint_name="mlp-prod-churn",
            deleted_configs=("mlp-prod-churn-config-0a0a0a0",),
            deleted_models=("mlp-prod-churn-blue-model-0b0b0b0",),
            kept_configs=("mlp-prod-churn-config-1a1a1a1",),
            in_use_configs=("churn-config-2",),
        )

    def __call__(
        self, endpoint_name: str, config_prefix: str, keep: int, *, sagemaker: Any
    ) -> ReapResult:
        self.calls.append((endpoint_name, config_prefix, keep, sagemaker))
        if self.error is not None:
            raise self.error
        return self.result


@pytest.fixture
def fake_reaper(monkeypatch: pytest.MonkeyPatch) -> FakeReaper:
    reaper = FakeReaper()
    monkeypatch.setattr(rollout_gate, "reap_retired", reaper)
    return reaper


def reaped(configs: Sequence[str], models: Sequence[str], warning: str | None) -> dict[str, Any]:
    return {"reaped_configs": list(configs), "reaped_models": list(models), "reap_warning": warning}


def test_a_verified_rollout_reaps_and_outputs_what_went(
    fake_check: FakeCheck, fake_reaper: FakeReaper
) -> None:
    # given a gate with a config prefix / when its update verifies the rollout
    result = RolloutGateProvider().update("mlp-prod-churn", reaping("churn-config-1"), reaping())
    # then the reaper ran after the check, for the endpoint's configurations, with the same client
    assert [call["expected_config_name"] for call in fake_check.calls] == ["churn-config-2"]
    assert fake_reaper.calls == [("mlp-prod-churn", "mlp-prod-churn-config", 2, "sm@eu-west-1")]
    # and the gate outputs what it deleted
    assert result.outs == {
        **reaping(),
        "verified_config_name": "churn-config-2",
        **reaped(["mlp-prod-churn-config-0a0a0a0"], ["mlp-prod-churn-blue-model-0b0b0b0"], None),
    }


def test_create_reaps_too(fake_check: FakeCheck, fake_reaper: FakeReaper) -> None:
    result = RolloutGateProvider().create(reaping())
    assert len(fake_reaper.calls) == 1
    assert result.outs["reaped_configs"] == ["mlp-prod-churn-config-0a0a0a0"]


def test_a_failed_check_never_reaps(fake_check: FakeCheck, fake_reaper: FakeReaper) -> None:
    fake_check.error = OpsError("Rollout of endpoint 'mlp-prod-churn' not verified: rolled back")
    provider = RolloutGateProvider()
    with pytest.raises(OpsError, match="rolled back"):
        provider.update("mlp-prod-churn", reaping("churn-config-1"), reaping())
    with pytest.raises(OpsError, match="rolled back"):
        provider.create(reaping())
    assert fake_reaper.calls == []


@pytest.mark.parametrize(
    ("error", "warning"),
    [
        (
            OpsError("Reaping retired configs of endpoint 'mlp-prod-churn': refused: busy"),
            "Reaping retired configs of endpoint 'mlp-prod-churn': refused: busy",
        ),
        (KeyError("EndpointConfigName"), "KeyError: 'EndpointConfigName'"),
    ],
)
def test_a_failed_reaping_does_not_fail_the_verified_rollout(
    fake_check: FakeCheck,
    fake_reaper: FakeReaper,
    capsys: pytest.CaptureFixture[str],
    error: Exception,
    warning: str,
) -> None:
    # given a reaper that fails after a verified rollout
    fake_reaper.error = error
    # when the gate updates / then the update succeeds, the warning is an output and on stderr
    result = RolloutGateProvider().update("mlp-prod-churn", reaping("churn-config-1"), reaping())
    assert result.outs["verified_config_name"] == "churn-config-2"
    assert {
        key: result.outs[key] for key in ("reaped_configs", "reaped_models", "reap_warning")
    } == (reaped([], [], warning))
    assert capsys.readouterr().err == f"warning: {warning}\n"


def test_models_left_for_safety_are_a_warning(
    fake_check: FakeCheck, fake_reaper: FakeReaper, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_reaper.result = ReapResult(
        "mlp-prod-churn", ("c-old",), (), (), ("churn-config-2",), models_skipped="no model: why"
    )
    result = RolloutGateProvider().create(reaping())
    expected = "Reaping retired configs of endpoint 'mlp-prod-churn': no model: why"
    assert result.outs["reap_warning"] == expected
    assert result.outs["reaped_configs"] == ["c-old"]
    assert expected in capsys.readouterr().err


def test_a_new_keep_is_a_change(fake_check: FakeCheck) -> None:
    olds = {**reaping(), "verified_config_name": "churn-config-2", **reaped([], [], None)}
    provider = RolloutGateProvider()
    assert provider.diff("x", olds, reaping(keep_retired_configs=5)).changes is True
    assert provider.diff("x", olds, reaping()).changes is False
    # a gate recorded before reaping existed checks (and so reaps) once after the upgrade
    assert provider.diff("x", props(), reaping()).changes is True
