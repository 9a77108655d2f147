"""The platform's layers: what each one is called, what it needs, and how to select it.

A layer is one top-level ComponentResource of a stack. Two mechanisms act on one layer at a time:

* ``ml-platform:layers`` in the stack's config lists the layers the stack deploys. Adding a name and
  running ``pulumi up`` deploys that layer; removing it and running ``pulumi up`` destroys exactly
  that layer. Config validation refuses a list where a layer's dependencies are missing, which is
  what enforces the teardown order.
* ``pulumi up|destroy --target '<glob>'`` restricts one operation to one layer's resources (for
  example to roll out a change to one layer while edits to another wait). :func:`target_glob`
  gives the glob; :func:`glob_matches` implements the engine's matching so tests can check that the
  glob selects exactly that layer.

Config validation uses the names and dependencies only; a layer's component (and with it Pulumi)
is imported when the program or a URN needs it.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

#: The project name from Pulumi.yaml; it is part of every URN and the config namespace.
PROJECT = "ml-platform"


@dataclass(frozen=True)
class Layer:
    """One deployable layer of the platform."""

    name: str
    """The name used in ``ml-platform:layers``, as the component's logical name, and as the key
    of the layer's section (its spec) in the stack's config."""
    component: str
    """The layer's ComponentResource class, ``module:Class``; it takes the layer's spec."""
    depends_on: tuple[str, ...]
    """Layers whose outputs this one consumes; they must be deployed with it."""

    def component_class(self) -> Any:
        """Import and return the layer's component class."""
        module, _, name = self.component.partition(":")
        return getattr(importlib.import_module(module), name)

    @property
    def component_type(self) -> str:
        """The component's type token (its ``TYPE``); with the name it makes the layer's URN."""
        return str(self.component_class().TYPE)


#: Every layer, in deployment order (each layer only depends on layers before it).
LAYERS: dict[str, Layer] = {
    layer.name: layer
    for layer in (
        Layer("data", "components.data.layer:DataLayer", ()),
        Layer("feature_store", "components.feature_store.layer:FeatureStoreLayer", ("data",)),
        Layer("training", "components.training.layer:TrainingLayer", ("data",)),
        Layer("gpu", "components.gpu.layer:GpuCompute", ("data",)),
        Layer("serving", "components.serving.layer:ServingLayer", ("data",)),
        Layer("monitoring", "components.monitoring.layer:MonitoringLayer", ("data", "serving")),
        Layer("kubernetes", "components.kubernetes.layer:KubernetesLayer", ("data",)),
        # Its jobs run the training layer's image (ml-platform/training, in its repositories).
        Layer(
            "optimization",
            "components.optimization.layer:OptimizationLayer",
            ("data", "training"),
        ),
    )
}


def layer_urn(stack: str, layer: str) -> str:
    """Return the URN of a layer's component in ``stack``; it never depends on other config."""
    return f"urn:pulumi:{stack}::{PROJECT}::{LAYERS[layer].component_type}::{layer}"


def target_glob(layer: str) -> str:
    """Return the ``--target`` glob that selects a layer's component and all its descendants.

    Children's URNs carry their ancestors' types joined by ``$``, and a layer is always a
    top-level resource, so its type directly after ``::`` identifies everything inside it.
    """
    return f"**::{LAYERS[layer].component_type}**"


def teardown_order(layers: tuple[str, ...]) -> list[str]:
    """Return ``layers`` in the order they can be destroyed: dependents before what they use."""
    order = list(LAYERS)
    return sorted(layers, key=order.index, reverse=True)


def glob_matches(glob: str, urn: str) -> bool:
    """Match a URN against a ``--target`` glob the way the Pulumi engine does.

    The engine (pkg/resource/deploy/deployment.go, ``UrnTargets.getMatcher``) turns ``**`` into
    "any characters" and ``*`` into "any characters but ``:``", anchored at both ends.
    """
    pattern = ".*".join(
        "[^:]*".join(re.escape(piece) for piece in segment.split("*"))
        for segment in glob.split("**")
    )
    return re.fullmatch(pattern, urn) is not None
