"""The Pulumi program: stack config in, one component per enabled layer, outputs exported.

Each layer's component takes its section of the validated config (:mod:`stacks.config`) and the
:class:`~components.platform.PlatformContext` as they are; the layers are those of the registry
(:mod:`stacks.layers`). ``__main__.py`` calls :func:`run_program` under the Pulumi CLI; the
offline plan and the tests call it under the recording mock runtime
(:mod:`stacks.offline.mock_runtime`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import pulumi
import pulumi_aws as aws
from pulumi.runtime import config as runtime_config

from components.data.layer import DataLayer
from components.feature_store.layer import FeatureStoreLayer
from components.platform import PlatformContext
from components.serving.layer import ServingLayer
from components.shared.retention import DataRetention
from components.training.layer import TrainingLayer
from stacks.config import ConfigError, PlatformConfig, load_platform_config
from stacks.dashboard import dashboard_body, dashboard_name
from stacks.layers import LAYERS, PROJECT, teardown_order


class LayerComponent(Protocol):
    """What every layer component offers the program: its exports."""

    def exports(self) -> dict[str, Any]:
        """The layer's stack outputs."""
        ...


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


def grant_feature_access(deployed: Mapping[str, LayerComponent], environment: str) -> None:
    """Give the other layers' roles the feature access they need, when both layers are deployed.

    Training jobs read offline features (training sets); notebooks read and ingest; each served
    model looks features up online. Each policy is a child of the role's own component, so it
    goes away with either layer.
    """
    store = deployed.get("feature_store")
    if not isinstance(store, FeatureStoreLayer):
        return
    prefix = f"mlp-{environment}"
    training = deployed.get("training")
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
    serving = deployed.get("serving")
    if isinstance(serving, ServingLayer):
        for endpoint_name, endpoint in serving.endpoints.items():
            for variant, model in endpoint.models.items():
                store.grant_read(
                    f"{endpoint_name}-{variant}-features-read",
                    model.role_name,
                    pulumi.ResourceOptions(parent=model),
                    offline=False,
                )


def build_platform(
    config: PlatformConfig, stack: str, dashboard: str | None = None
) -> dict[str, Any]:
    """Create every enabled layer and return the stack's exports (one entry per layer).

    The data layer comes first and builds the :class:`PlatformContext`; every other layer is its
    registry entry's component, taking its section of the config and that context. ``dashboard``
    is the stack's dashboard body (:func:`stacks.dashboard.dashboard_body`; None: no dashboard).
    """
    opts = pulumi.ResourceOptions(providers={"aws": aws_provider(config, stack)})
    deployed: dict[str, LayerComponent] = {}
    platform: PlatformContext | None = None
    exports: dict[str, Any] = {"environment": config.environment, "layers": list(config.layers)}
    # Dependencies first: the reverse of the order in which layers are torn down.
    for name in reversed(teardown_order(config.layers)):
        spec = getattr(config, name)
        if platform is None:
            # Config validation makes every other layer depend on the data layer.
            data = DataLayer(
                name,
                spec,
                environment=config.environment,
                region=config.region,
                retention=DataRetention(retain=config.retains_data),
                opts=opts,
            )
            component: LayerComponent = data
            platform = data.platform
        else:
            component = LAYERS[name].component_class()(name, spec, platform, opts=opts)
        if isinstance(component, ServingLayer):
            # The monitoring layer watches these endpoints.
            platform = platform.with_serving_endpoints(
                {
                    full_name: endpoint.endpoint_name
                    for full_name, endpoint in component.endpoints.items()
                }
            )
        deployed[name] = component
        exports[name] = component.exports()
    grant_feature_access(deployed, config.environment)
    if dashboard is not None:
        # One dashboard over every layer's metrics (a stack with nothing to graph gets none). It
        # is the data layer's child, the layer every other depends on and the last torn down, so
        # each resource stays inside one layer's --target and it goes away with the platform.
        aws.cloudwatch.Dashboard(
            f"mlp-{config.environment}-dashboard",
            dashboard_name=dashboard_name(config.environment),
            dashboard_body=dashboard,
            opts=pulumi.ResourceOptions(parent=deployed["data"]),
        )
    return exports


def run_program() -> dict[str, Any]:
    """Validate the stack's config, build the platform, export its outputs; return the exports.

    An invalid config stops the program before any resource is registered, with every problem.
    """
    stack = pulumi.get_stack()
    try:
        config = load_platform_config(stack, read_engine_config())
        # CloudWatch's dashboard limits, checked before any resource is registered.
        dashboard = dashboard_body(config)
    except (ConfigError, ValueError) as error:
        # RunError prints the message alone, without a Python traceback.
        raise pulumi.RunError(str(error)) from None
    exports = build_platform(config, stack, dashboard)
    for key, value in exports.items():
        pulumi.export(key, value)
    return exports
