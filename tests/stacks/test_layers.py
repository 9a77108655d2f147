"""Per-layer selection: the layers list decides what exists, the target glob selects one layer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stacks.layers import LAYERS, glob_matches, layer_urn, target_glob, teardown_order
from tests.conftest import Plan, stack_config, with_section

ROOT = Path(__file__).resolve().parents[2]
#: The README and the pages it links to, where the per-layer commands now live.
README_AND_DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_layer_component_urn_is_stable(plan: Plan) -> None:
    # given a stack's plan / then the data layer's URN is the documented one, whatever the config
    urns = {resource.urn for resource in plan.resources}
    assert layer_urn(plan.run.stack, "data") in urns
    assert (
        layer_urn("dev", "data") == "urn:pulumi:dev::ml-platform::mlplatform:data:DataLayer::data"
    )


def test_target_glob_selects_exactly_the_layer_and_its_descendants(plan: Plan) -> None:
    layers = plan.run.exports["layers"]
    covered: set[str] = set()
    for name in layers:
        # given one layer component in the plan
        layer = plan.by_urn[layer_urn(plan.run.stack, name)]
        expected = {layer.urn} | {resource.urn for resource in plan.descendants(layer)}
        # when the layer's --target glob is matched against every URN as the engine matches them
        selected = {
            resource.urn
            for resource in plan.resources
            if glob_matches(target_glob(name), resource.urn)
        }
        # then it selects the layer and everything in it, and nothing else
        assert selected == expected, name
        covered |= selected
    # and the layers together hold every resource but the provider
    assert len(covered) == len(plan.resources) - 1


def test_glob_semantics_follow_the_engine() -> None:
    # `*` stops at ':', `**` crosses anything, and the match is anchored at both ends
    urn = "urn:pulumi:dev::ml-platform::mlplatform:data:DataLayer$aws:s3/bucket:Bucket::raw"
    assert glob_matches("urn:pulumi:dev::ml-platform::**", urn)
    assert glob_matches("**::raw", urn)
    assert not glob_matches("urn:pulumi:*::raw", urn)
    assert glob_matches("urn:pulumi:dev::*::**", urn)
    assert not glob_matches("urn:pulumi:dev::ml-platform::mlplatform:data:DataLayer", urn)
    assert not glob_matches("**::mlplatform:serving:ServingLayer**", urn)


def test_every_layer_has_a_distinct_glob_that_does_not_select_another_layer() -> None:
    for name in LAYERS:
        for other in LAYERS:
            urn = layer_urn("dev", other)
            assert glob_matches(target_glob(name), urn) is (name == other)


def test_layers_only_depend_on_earlier_layers() -> None:
    order = list(LAYERS)
    for layer in LAYERS.values():
        assert all(order.index(dep) < order.index(layer.name) for dep in layer.depends_on)


def test_teardown_order_destroys_dependents_first() -> None:
    assert teardown_order(("data", "serving", "monitoring")) == ["monitoring", "serving", "data"]


def test_removing_a_layer_from_config_removes_exactly_its_resources(run_stack) -> None:
    # given the dev stack without any layer listed
    plan = run_stack("dev", with_section(stack_config("dev"), "layers", []))
    # then only the stack's provider remains: removing `data` and running `pulumi up` deletes
    # the data layer and nothing else
    assert [resource.type for resource in plan.resources] == ["pulumi:providers:aws"]
    assert plan.run.exports == {"environment": "dev", "layers": []}


def test_readme_target_commands_use_the_layer_globs() -> None:
    # given the per-layer commands of the README and its pages / then each --target is a real
    # layer's glob
    text = "\n".join(path.read_text() for path in README_AND_DOCS)
    targets = re.findall(r"--target '([^']+)'", text)
    assert targets, "the README shows no --target command"
    known = {target_glob(name) for name in LAYERS}
    assert set(targets) <= known
    assert target_glob("data") in targets


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_stack_lists_only_layers_it_can_deploy(stack: str) -> None:
    from stacks.config import load_platform_config

    config = load_platform_config(stack, stack_config(stack))
    # (was: every listed layer is flagged ``implemented``, a flag every layer carried as True)
    assert all(LAYERS[name].component_class().TYPE for name in config.layers)
