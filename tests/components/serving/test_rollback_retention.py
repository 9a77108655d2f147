"""A rolled-back update keeps what the endpoint runs on, through the next ``pulumi up`` and after.

Issue 17 asks for this sequence: an update SageMaker rolls back -> ``pulumi up`` fails -> the next
``pulumi up`` with the same config does not delete what the endpoint runs on. It is played here
at the provider level with fakes:

* AWS is an in-memory SageMaker (endpoints, configurations, models; it can roll an update back)
  and CloudWatch (the rollback alarm in ALARM), answering the boto3 calls the gate makes;
* Pulumi is a small model of its engine for one endpoint: auto-named replacements created before
  the old ones are deleted, the old ones kept as pending deletes when the update fails and deleted
  first on the next ``up`` (pulumi/pulumi#9979, #2948), and a delete of a ``retain_on_delete``
  resource only forgets it; the retain flags are read from the offline plan's JSON entries;
* the gate is the real ``RolloutGateProvider`` with the real ``check_rollout`` and reaper, with
  the inputs the plan gives the prod churn endpoint's gate.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import pytest
from botocore.exceptions import ClientError

from components.serving import rollout_gate
from components.serving.rollout_gate import RolloutGateProvider
from tests.components.serving.test_endpoint import ENDPOINT_CONFIG, MODEL, SERVING_ENDPOINT
from tests.conftest import Plan
from workloads.ops.errors import OpsError
from workloads.ops.reaper import reap_retired

GATE = "pulumi-python:dynamic/serving:RolloutGate"
ENDPOINT_NAME = "mlp-prod-churn"
VARIANTS = ("blue", "green")


# --------------------------------------------------------------------------------------------
# the plan: every configuration and model is retained, in both stacks
# --------------------------------------------------------------------------------------------


def test_every_endpoint_configuration_and_model_is_retained_on_delete(
    plans: dict[str, Plan],
) -> None:
    for plan in plans.values():
        for type_ in (ENDPOINT_CONFIG, MODEL):
            resources = plan.of_type(type_)
            assert resources, (plan.run.stack, type_)
            for resource in resources:
                entry = resource.as_plan_entry()
                # retained (a delete only forgets it), never protected (a replacement goes on)
                assert (entry["retain_on_delete"], entry["protect"]) == (True, False), entry["urn"]


# --------------------------------------------------------------------------------------------
# AWS, in memory
# --------------------------------------------------------------------------------------------


def not_found(operation: str, what: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "ValidationException", "Message": f"Could not find {what}."}}, operation
    )


@dataclass
class FakeSageMaker:
    """The SageMaker calls the gate and the reaper make, over an in-memory account."""

    endpoints: dict[str, str] = field(default_factory=dict)
    """Endpoint name -> the configuration it runs (always InService: updates settle at once)."""
    configs: dict[str, tuple[int, list[str]]] = field(default_factory=dict)
    """Configuration name -> (creation order, its models)."""
    models: set[str] = field(default_factory=set)
    rolls_back: bool = False
    """Whether the next endpoint updates fail their canary (the endpoint keeps its config)."""
    _clock: Iterator[int] = field(default_factory=count)

    # what pulumi-aws does
    def create_model(self, name: str) -> None:
        self.models.add(name)

    def create_config(self, name: str, models: list[str]) -> None:
        self.configs[name] = (next(self._clock), models)

    def update_endpoint(self, name: str, config: str) -> None:
        """UpdateEndpoint, then SageMaker's rollout: the provider reports success either way."""
        if name not in self.endpoints or not self.rolls_back:
            self.endpoints[name] = config

    def delete(self, type_: str, name: str) -> None:
        if type_ == MODEL:
            self.models.remove(name)
        else:
            del self.configs[name]

    # what boto3 asks
    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:
        if EndpointName not in self.endpoints:
            raise not_found("DescribeEndpoint", f'endpoint "{EndpointName}"')
        return {
            "EndpointName": EndpointName,
            "EndpointConfigName": self.endpoints[EndpointName],
            "EndpointStatus": "InService",
            "ProductionVariants": [
                {"VariantName": variant, "CurrentWeight": 1.0} for variant in VARIANTS
            ],
        }

    def describe_endpoint_config(self, EndpointConfigName: str) -> dict[str, Any]:
        if EndpointConfigName not in self.configs:
            raise not_found(
                "DescribeEndpointConfig", f"endpoint configuration {EndpointConfigName}"
            )
        created, models = self.configs[EndpointConfigName]
        return {
            "EndpointConfigName": EndpointConfigName,
            "CreationTime": created,
            "ProductionVariants": [
                {"VariantName": variant, "ModelName": model}
                for variant, model in zip(VARIANTS, models, strict=True)
            ],
        }

    def delete_endpoint_config(self, EndpointConfigName: str) -> None:
        if EndpointConfigName not in self.configs:
            raise not_found("DeleteEndpointConfig", f"endpoint configuration {EndpointConfigName}")
        del self.configs[EndpointConfigName]

    def delete_model(self, ModelName: str) -> None:
        if ModelName not in self.models:
            raise not_found("DeleteModel", f"model {ModelName}")
        self.models.remove(ModelName)

    def get_paginator(self, operation: str) -> FakePaginator:
        return FakePaginator(self, operation)


@dataclass
class FakePaginator:
    """One item per page, so that every list is read across pages."""

    account: FakeSageMaker
    operation: str

    def paginate(self, **params: Any) -> Iterator[dict[str, Any]]:
        if self.operation == "list_endpoints":
            for name in self.account.endpoints:
                yield {"Endpoints": [{"EndpointName": name, "EndpointStatus": "InService"}]}
        else:
            assert self.operation == "list_endpoint_configs"
            for name, (created, _models) in self.account.configs.items():
                if params["NameContains"] in name:
                    yield {
                        "EndpointConfigs": [{"EndpointConfigName": name, "CreationTime": created}]
                    }


@dataclass
class FakeCloudWatch:
    firing: set[str] = field(default_factory=set)

    def describe_alarms(self, AlarmNames: list[str], **_: Any) -> dict[str, Any]:
        return {
            "MetricAlarms": [{"AlarmName": name} for name in AlarmNames if name in self.firing],
            "CompositeAlarms": [],
        }


# --------------------------------------------------------------------------------------------
# Pulumi, for one endpoint
# --------------------------------------------------------------------------------------------


class UpFailed(Exception):
    """``pulumi up`` failed (the gate's error)."""


@dataclass
class Stack:
    """The state of the prod churn endpoint's resources and what ``pulumi up`` does with them."""

    account: FakeSageMaker
    gate_inputs: dict[str, Any]
    """The gate's inputs as the plan gives them (expected_config_name is set per update)."""
    retain: dict[str, bool]
    """Each type's retain_on_delete, from the plan."""
    version: str | None = None
    config: str | None = None
    models: list[str] = field(default_factory=list)
    gate_state: dict[str, Any] | None = None
    pending_deletes: list[tuple[str, str]] = field(default_factory=list)
    _suffixes: Iterator[int] = field(default_factory=lambda: count(0xA1B2C3D))

    def _auto_name(self, name: str) -> str:
        return f"{name}-{next(self._suffixes):07x}"

    def _delete(self, type_: str, name: str) -> None:
        """Pulumi's delete: a retained resource is only forgotten."""
        if not self.retain[type_]:
            self.account.delete(type_, name)

    def up(self, version: str) -> None:
        """``pulumi up`` with the endpoint's models at ``version``; raises UpFailed."""
        # pending deletes of a failed update go first (pulumi/pulumi#9979)
        for type_, name in self.pending_deletes:
            self._delete(type_, name)
        self.pending_deletes = []
        replaced: list[tuple[str, str]] = []
        if version != self.version:
            # auto-named: new models and configuration first, then the endpoint moves to it
            models = [self._auto_name(f"{ENDPOINT_NAME}-{variant}-model") for variant in VARIANTS]
            for model in models:
                self.account.create_model(model)
            config = self._auto_name(f"{ENDPOINT_NAME}-config")
            self.account.create_config(config, models)
            self.account.update_endpoint(ENDPOINT_NAME, config)  # reported as a success
            if self.config is not None:
                replaced = [(ENDPOINT_CONFIG, self.config), *((MODEL, m) for m in self.models)]
            self.version, self.config, self.models = version, config, models
        news = {**self.gate_inputs, "expected_config_name": self.config}
        provider = RolloutGateProvider()
        try:
            if self.gate_state is None:
                self.gate_state = provider.create(news).outs
            elif provider.diff(ENDPOINT_NAME, self.gate_state, news).changes:
                self.gate_state = provider.update(ENDPOINT_NAME, self.gate_state, news).outs
        except OpsError as error:
            # the update failed: the replaced resources stay in the state as pending deletes
            self.pending_deletes = replaced
            raise UpFailed(str(error)) from error
        for type_, name in replaced:
            self._delete(type_, name)


# --------------------------------------------------------------------------------------------
# the sequence
# --------------------------------------------------------------------------------------------


@dataclass
class World:
    account: FakeSageMaker
    cloudwatch: FakeCloudWatch
    reapings: list[tuple[str, str, int]]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    """The fake AWS behind the real gate, whose every reaping is recorded."""
    account, cloudwatch = FakeSageMaker(), FakeCloudWatch()
    reapings: list[tuple[str, str, int]] = []

    def recorded_reap(endpoint: str, prefix: str, keep: int, *, sagemaker: Any) -> Any:
        reapings.append((endpoint, prefix, keep))
        return reap_retired(endpoint, prefix, keep, sagemaker=sagemaker)

    monkeypatch.setattr(rollout_gate, "aws_clients", lambda _region: (account, cloudwatch))
    monkeypatch.setattr(rollout_gate, "reap_retired", recorded_reap)
    return World(account, cloudwatch, reapings)


def prod_churn(plans: dict[str, Plan]) -> tuple[dict[str, Any], dict[str, bool]]:
    """The prod churn gate's inputs and the retain flags, from the plan's JSON entries."""
    plan = plans["prod"]
    assert plan.named(ENDPOINT_NAME).type == SERVING_ENDPOINT
    (gate,) = [r for r in plan.of_type(GATE) if r.inputs["endpoint_name"] == ENDPOINT_NAME]
    inputs = dict(gate.as_plan_entry()["inputs"])
    del inputs["expected_config_name"]  # set by each update
    flags = {
        type_: {entry.as_plan_entry()["retain_on_delete"] for entry in plan.of_type(type_)}
        for type_ in (ENDPOINT_CONFIG, MODEL)
    }
    assert flags == {ENDPOINT_CONFIG: {True}, MODEL: {True}}
    return inputs, {type_: True for type_ in flags}


def test_a_rolled_back_update_keeps_what_the_endpoint_runs_on(
    plans: dict[str, Plan], world: World
) -> None:
    gate_inputs, retain = prod_churn(plans)
    stack = Stack(world.account, gate_inputs, retain)
    # given the endpoint deployed and verified on v1
    stack.up("v1")
    v1_config, v1_models = stack.config, list(stack.models)
    assert world.account.endpoints == {ENDPOINT_NAME: v1_config}

    # when v2's canary fires its alarm and SageMaker rolls the update back
    world.account.rolls_back = True
    world.cloudwatch.firing = {gate_inputs["alarm_names"][0]}
    with pytest.raises(UpFailed) as failed:
        stack.up("v2")
    v2_config = stack.config  # the state holds it: the provider reported the update a success
    # then `pulumi up` fails naming the endpoint, the config it kept and the alarm
    assert f"it is InService on config '{v1_config}'" in str(failed.value)
    assert f"rollout alarms in ALARM: {gate_inputs['alarm_names'][0]}" in str(failed.value)
    # and the replaced v1 configuration and models are pending deletes
    assert stack.pending_deletes == [(ENDPOINT_CONFIG, v1_config), *((MODEL, m) for m in v1_models)]
    reapings_after_v1 = list(world.reapings)

    # when the next `pulumi up` runs with the same config (the cause not fixed yet)
    with pytest.raises(UpFailed, match="reason: rolled back"):
        stack.up("v2")
    # then Pulumi's delete of the pending v1 resources left them in AWS: the endpoint still runs
    # on a configuration and models that exist
    assert world.account.endpoints == {ENDPOINT_NAME: v1_config}
    assert v1_config in world.account.configs
    assert set(v1_models) <= world.account.models
    assert stack.pending_deletes == []  # Pulumi forgot them
    # and no failed check reaped
    assert world.reapings == reapings_after_v1

    # when the cause is fixed and v3 rolls out, verified
    world.account.rolls_back = False
    world.cloudwatch.firing = set()
    stack.up("v3")
    v3_config = stack.config
    # then the gate reaped, and kept what the endpoint runs on, and the newest retired configs
    assert world.reapings[-1] == (ENDPOINT_NAME, f"{ENDPOINT_NAME}-config", 2)
    assert stack.gate_state is not None
    assert stack.gate_state["verified_config_name"] == v3_config
    assert stack.gate_state["reap_warning"] is None
    assert world.account.endpoints == {ENDPOINT_NAME: v3_config}
    assert set(world.account.configs) == {v1_config, v2_config, v3_config}

    # when v4 rolls out, verified / then the oldest retired configuration (v1) and its models go
    stack.up("v4")
    assert stack.gate_state["reaped_configs"] == [v1_config]
    assert stack.gate_state["reaped_models"] == sorted(v1_models)
    assert v1_config not in world.account.configs
    assert not set(v1_models) & world.account.models
    assert world.account.endpoints == {ENDPOINT_NAME: stack.config}
    assert stack.config in world.account.configs
    assert set(stack.models) <= world.account.models


def test_with_nothing_retired_to_keep_the_reaper_spares_only_what_is_in_use(
    plans: dict[str, Plan], world: World
) -> None:
    # given the same rollback, and a gate that keeps no retired configuration
    gate_inputs, retain = prod_churn(plans)
    stack = Stack(world.account, {**gate_inputs, "keep_retired_configs": 0}, retain)
    stack.up("v1")
    world.account.rolls_back = True
    for _ in range(2):
        with pytest.raises(UpFailed):
            stack.up("v2")
    world.account.rolls_back = False
    # when v3 is verified / then v1 and the rejected v2 go with their models, v3 stays
    stack.up("v3")
    assert world.account.endpoints == {ENDPOINT_NAME: stack.config}
    assert set(world.account.configs) == {stack.config}
    assert world.account.models == set(stack.models)


def test_without_retention_the_next_up_deletes_what_the_endpoint_runs_on(
    plans: dict[str, Plan], world: World
) -> None:
    # given the engine as it behaved before retention (the defect this guards against)
    gate_inputs, _ = prod_churn(plans)
    stack = Stack(world.account, gate_inputs, {ENDPOINT_CONFIG: False, MODEL: False})
    stack.up("v1")
    v1_config = stack.config
    world.account.rolls_back = True
    with pytest.raises(UpFailed):
        stack.up("v2")
    # when the next up runs / then the endpoint runs on a configuration that no longer exists
    with pytest.raises(UpFailed):
        stack.up("v2")
    assert world.account.endpoints == {ENDPOINT_NAME: v1_config}
    assert v1_config not in world.account.configs
