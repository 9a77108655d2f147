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
from components.kubernetes.eks_cluster import NodeGroupSpec
from components.kubernetes.layer import (
    EksSpec,
    ExistingClusterSpec,
    ImageRef,
    JupyterHubSpec,
    KServeSpec,
    KubernetesLayer,
    KubernetesLayerArgs,
    MlflowSpec,
    TrainJobSpec,
)
from components.kubernetes.pod_security import ContainerResources
from components.kubernetes.spec import KubernetesConfig, NodeGroupConfig, ResourcesConfig
from components.monitoring.layer import MonitoringLayer
from components.serving.layer import ServingLayer
from components.shared.images import (
    ImageConfig,
)
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


#: The MLflow image when the kubernetes section names none: ours, at the MLflow version it pins.
DEFAULT_MLFLOW_IMAGE = ImageRef(repository="ml-platform/mlflow", tag="3.17.2")


def image_ref(image: ImageConfig) -> ImageRef:
    """Map an image's config to the layer's reference."""
    return ImageRef(repository=image.repository, tag=image.tag)


def resources(config: ResourcesConfig) -> ContainerResources:
    """Map a container's resources."""
    return ContainerResources(
        cpu=config.cpu, memory=config.memory, cpu_limit=config.cpu_limit, gpus=config.gpus
    )


def node_group(config: NodeGroupConfig) -> NodeGroupSpec:
    """Map a node group's config."""
    return NodeGroupSpec(
        instance_types=list(config.instance_types),
        min_size=config.min_size,
        max_size=config.max_size,
        desired_size=config.initial_size,
        disk_size_gb=config.disk_size_gb,
        spot=config.spot,
    )


def kubernetes_cluster(section: KubernetesConfig) -> dict[str, Any]:
    """The layer's cluster arguments: a cluster to create or an existing one, and render mode."""
    cluster = section.cluster
    assert cluster is not None  # config validation requires it when the layer is deployed
    eks = existing = None
    if cluster.eks is not None:
        eks = EksSpec(
            version=cluster.eks.version,
            system_nodes=node_group(cluster.eks.system_nodes),
            gpu_nodes=node_group(cluster.eks.gpu_nodes) if cluster.eks.gpu_nodes else None,
            admin_role_arns=list(cluster.eks.admin_role_arns),
            public_access_cidrs=list(cluster.eks.public_access_cidrs),
        )
    if cluster.existing is not None:
        existing = ExistingClusterSpec(
            oidc_provider_arn=cluster.existing.oidc_provider_arn,
            kubeconfig=cluster.existing.kubeconfig,
            context=cluster.existing.context,
            storage_class=cluster.existing.storage_class,
        )
    return {
        "eks": eks,
        "existing": existing,
        "render_to": cluster.render_to,
        "install_operators": cluster.operators_installed,
    }


def deploy_kubernetes_layer(context: DeployContext) -> KubernetesLayer:
    """The Kubernetes layer from the ``kubernetes`` section, on top of the data layer."""
    config = context.config
    section = config.kubernetes
    mlflow, hub = section.mlflow, section.jupyterhub
    return KubernetesLayer(
        "kubernetes",
        KubernetesLayerArgs(
            environment=config.environment,
            region=config.region,
            platform=context.layers["data"].platform,
            vpc_cidr=config.data.network.cidr,
            retention=context.retention,
            log_retention_days=config.data.log_retention_days,
            **kubernetes_cluster(section),
            endpoints=[
                KServeSpec(
                    name=entry.name,
                    image=image_ref(entry.image),
                    model_artifact=entry.model_artifact,
                    canary_traffic_percent=entry.canary_traffic_percent,
                    min_replicas=entry.min_replicas,
                    max_replicas=entry.max_replicas,
                    scale_metric=entry.scale_metric,
                    scale_target=entry.scale_target,
                    resources=resources(entry.resources),
                )
                for entry in section.endpoints
            ],
            training_jobs=[
                TrainJobSpec(
                    name=job.name,
                    image=image_ref(job.image),
                    algorithm=job.algorithm,
                    task=job.task,
                    target=job.target,
                    train_data=job.train_data,
                    validation_data=job.validation_data,
                    hyperparameters=dict(job.hyperparameters),
                    nodes=job.nodes,
                    gpus_per_node=job.gpus_per_node,
                    resources=resources(job.resources),
                    backoff_limit=job.backoff_limit,
                    active_deadline_seconds=job.active_deadline_seconds,
                )
                for job in section.training_jobs
            ],
            mlflow=MlflowSpec(
                image=image_ref(mlflow.image) if mlflow.image else DEFAULT_MLFLOW_IMAGE,
                database=mlflow.database,
                rds_instance_class=mlflow.rds_instance_class,
                rds_storage_gb=mlflow.rds_storage_gb,
                rds_multi_az=mlflow.rds_multi_az,
                backup_retention_days=mlflow.backup_retention_days,
                replicas=mlflow.replicas,
                resources=resources(mlflow.resources),
            )
            if mlflow.enabled
            else None,
            jupyterhub=JupyterHubSpec(
                admin_users=list(hub.admin_users),
                user_image=image_ref(hub.user_image) if hub.user_image else None,
                storage_gb=hub.storage_gb,
                cpu_profile=resources(hub.cpu_profile),
                gpu_profile=resources(hub.gpu_profile) if hub.gpu_profile else None,
                idle_cull_minutes=hub.idle_cull_minutes,
            )
            if hub.enabled
            else None,
        ),
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
