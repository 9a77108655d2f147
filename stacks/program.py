"""The Pulumi program: stack config in, one component per enabled layer, outputs exported.

This is the only place that turns validated config (:mod:`stacks.config`) into component args.
``__main__.py`` calls :func:`run_program` under the Pulumi CLI; the offline plan and the tests
call it under the recording mock runtime (:mod:`stacks.offline.mock_runtime`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import pulumi
import pulumi_aws as aws
from pulumi.runtime import config as runtime_config

from components.data.layer import DataLayer
from components.feature_store.layer import FeatureStoreLayer
from components.gpu.layer import GpuCompute
from components.kubernetes.layer import KubernetesLayer
from components.monitoring.layer import MonitoringLayer
from components.serving.layer import ServingLayer
from components.shared.retention import DataRetention
from components.training.layer import TrainingLayer
from stacks.config import ConfigError, PlatformConfig, load_platform_config
from stacks.layers import PROJECT, teardown_order


class LayerComponent(Protocol):
    """What every layer component offers the program: its exports."""

    def exports(self) -> dict[str, Any]:
        """The layer's stack outputs."""
        ...


@dataclass
class DeployContext:
    """What a layer's deployer gets: the config, shared options and the layers built before it."""

    config: PlatformConfig
    """The validated stack config."""
    opts: pulumi.ResourceOptions
    """Options every layer component takes (the stack's provider)."""
    retention: DataRetention
    """The stack's teardown policy."""
    layers: dict[str, Any] = field(default_factory=dict)
    """Layers already deployed, by name (dependencies come first)."""


def read_engine_config() -> dict[str, Any]:
    """Return the stack's flat config as the engine passed it (``{"ml-platform:data": ...}``)."""
    flat = dict(runtime_config.get_config_env())
    flat.update(runtime_config.CONFIG.get())
    return flat


def base_tags(config: PlatformConfig, stack: str) -> dict[str, str]:
    """Tags on every resource: the platform's own, then the stack's (which may override)."""
    return {
        "Project": PROJECT,
        "Environment": config.environment,
        "PulumiStack": stack,
        "ManagedBy": "pulumi",
        **config.tags,
    }


def aws_provider(config: PlatformConfig, stack: str) -> aws.Provider:
    """The one AWS provider of the stack: its region, and default tags on every resource."""
    return aws.Provider(
        "aws",
        region=config.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=base_tags(config, stack)),
    )


def deploy_data_layer(context: DeployContext) -> DataLayer:
    """The data layer from the ``data`` section; it builds the platform the others deploy into."""
    config = context.config
    return DataLayer(
        "data",
        config.data,
        environment=config.environment,
        region=config.region,
        retention=context.retention,
        opts=context.opts,
    )


def deploy_serving_layer(context: DeployContext) -> ServingLayer:
    """The serving layer from the ``serving`` section, on top of the data layer."""
    return ServingLayer(
        "serving", context.config.serving, context.layers["data"].platform, opts=context.opts
    )


def deploy_gpu_layer(context: DeployContext) -> GpuCompute:
    """The GPU instances from the ``gpu`` section, in the data layer's VPC."""
    return GpuCompute("gpu", context.config.gpu, context.layers["data"].platform, opts=context.opts)


def deploy_training_layer(context: DeployContext) -> TrainingLayer:
    """The training layer from the ``training`` section, on top of the data layer."""
    return TrainingLayer(
        "training", context.config.training, context.layers["data"].platform, opts=context.opts
    )


def deploy_feature_store_layer(context: DeployContext) -> FeatureStoreLayer:
    """The feature-store layer from the ``feature_store`` section, on top of the data layer."""
    return FeatureStoreLayer(
        "feature_store",
        context.config.feature_store,
        context.layers["data"].platform,
        opts=context.opts,
    )


def grant_feature_access(context: DeployContext) -> None:
    """Give the other layers' roles the feature access they need, when both layers are deployed.

    Training jobs read offline features (training sets); notebooks read and ingest; each served
    model looks features up online. Each policy is a child of the role's own component, so it
    goes away with either layer.
    """
    store = context.layers.get("feature_store")
    if not isinstance(store, FeatureStoreLayer):
        return
    prefix = f"mlp-{context.config.environment}"
    training = context.layers.get("training")
    if isinstance(training, TrainingLayer):
        if training.execution_role is not None:
            role = training.execution_role
            store.grant_read(
                f"{prefix}-training-features-read",
                role.role_name,
                pulumi.ResourceOptions(parent=role),
            )
        if training.notebooks is not None:
            notebooks = training.notebooks
            opts = pulumi.ResourceOptions(parent=notebooks)
            store.grant_read(f"{prefix}-notebooks-features-read", notebooks.role_name, opts)
            store.grant_write(f"{prefix}-notebooks-features-write", notebooks.role_name, opts)
    serving = context.layers.get("serving")
    if isinstance(serving, ServingLayer):
        for endpoint_name, endpoint in serving.endpoints.items():
            for variant, model in endpoint.models.items():
                store.grant_read(
                    f"{endpoint_name}-{variant}-features-read",
                    model.role_name,
                    pulumi.ResourceOptions(parent=model),
                    offline=False,
                )


def deploy_monitoring_layer(context: DeployContext) -> MonitoringLayer:
    """The monitoring layer from the ``monitoring`` section, watching the serving endpoints."""
    return MonitoringLayer(
        "monitoring",
        context.config.monitoring,
        context.layers["data"].platform.with_serving_endpoints(
            {
                name: endpoint.endpoint_name
                for name, endpoint in context.layers["serving"].endpoints.items()
            }
        ),
        opts=context.opts,
    )


def deploy_kubernetes_layer(context: DeployContext) -> KubernetesLayer:
    """The Kubernetes layer from the ``kubernetes`` section, on top of the data layer."""
    return KubernetesLayer(
        "kubernetes",
        context.config.kubernetes,
        context.layers["data"].platform,
        opts=context.opts,
    )


#: How each implemented layer is deployed; keys match stacks.layers.LAYERS.
LAYER_DEPLOYERS: dict[str, Callable[[DeployContext], LayerComponent]] = {
    "data": deploy_data_layer,
    "feature_store": deploy_feature_store_layer,
    "training": deploy_training_layer,
    "gpu": deploy_gpu_layer,
    "serving": deploy_serving_layer,
    "monitoring": deploy_monitoring_layer,
    "kubernetes": deploy_kubernetes_layer,
}


def build_platform(config: PlatformConfig, stack: str) -> dict[str, Any]:
    """Create every enabled layer and return the stack's exports (one entry per layer)."""
    provider = aws_provider(config, stack)
    context = DeployContext(
        config=config,
        opts=pulumi.ResourceOptions(providers={"aws": provider}),
        retention=DataRetention(retain=config.retains_data),
    )
    exports: dict[str, Any] = {"environment": config.environment, "layers": list(config.layers)}
    # Dependencies first: the reverse of the order in which layers are torn down.
    for layer in reversed(teardown_order(config.layers)):
        component = LAYER_DEPLOYERS[layer](context)
        context.layers[layer] = component
        exports[layer] = component.exports()
    grant_feature_access(context)
    return exports


def run_program() -> dict[str, Any]:
    """Validate the stack's config, build the platform, export its outputs; return the exports.

    An invalid config stops the program before any resource is registered, with every problem.
    """
    stack = pulumi.get_stack()
    try:
        config = load_platform_config(stack, read_engine_config())
    except ConfigError as error:
        # RunError prints the message alone, without a Python traceback.
        raise pulumi.RunError(str(error)) from None
    exports = build_platform(config, stack)
    for key, value in exports.items():
        pulumi.export(key, value)
    return exports
