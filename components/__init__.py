"""The platform's layers as Pulumi components, each with the spec it takes.

Each layer is a package: ``spec.py`` declares its settings (the section of a stack file) and
``layer.py`` its component, which takes that spec and the :class:`PlatformContext` the data layer
builds. Names import lazily, so reading a spec never loads Pulumi.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Every exported name and the module that defines it.
_EXPORTS = {
    "PlatformContext": "components.platform",
    "DataLayer": "components.data.layer",
    "DataConfig": "components.data.spec",
    "FeatureStoreLayer": "components.feature_store.layer",
    "FeatureStoreConfig": "components.feature_store.spec",
    "TrainingLayer": "components.training.layer",
    "TrainingConfig": "components.training.spec",
    "GpuCompute": "components.gpu.layer",
    "GpuConfig": "components.gpu.spec",
    "ServingLayer": "components.serving.layer",
    "ServingConfig": "components.serving.spec",
    "MonitoringLayer": "components.monitoring.layer",
    "MonitoringConfig": "components.monitoring.spec",
    "KubernetesLayer": "components.kubernetes.layer",
    "KubernetesConfig": "components.kubernetes.spec",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import an exported layer component or spec on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'components' has no attribute '{name}'")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
