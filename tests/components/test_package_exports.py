"""The components package exports every layer component and its spec, lazily."""

from __future__ import annotations

import subprocess
import sys

import pulumi
import pydantic
import pytest

import components


def test_every_export_is_a_layer_component_or_a_spec_or_the_context() -> None:
    # given the package's public names / when each is read
    exported = {name: getattr(components, name) for name in components.__all__}
    # then each names a class: a ComponentResource, a spec model or the platform context
    layers = [cls for cls in exported.values() if issubclass(cls, pulumi.ComponentResource)]
    specs = [cls for cls in exported.values() if issubclass(cls, pydantic.BaseModel)]
    assert len(layers) == len(specs) == 7
    assert set(exported) == {cls.__name__ for cls in (*layers, *specs)} | {"PlatformContext"}


def test_reading_a_spec_does_not_load_pulumi() -> None:
    # given a fresh interpreter / when it reads a layer's spec through the package
    code = "import sys, components; components.ServingConfig; print('pulumi' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    # then Pulumi was never imported (config validation stays light)
    assert result.stdout.strip() == "False"


def test_an_unknown_name_is_an_attribute_error() -> None:
    # given the package / when a name it does not export is read / then AttributeError names it
    with pytest.raises(AttributeError, match="NoSuchLayer"):
        components.NoSuchLayer  # noqa: B018
