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

from components.data.bucket import LifecycleRules
from components.data.layer import ACCESS_LOG_BUCKET, DATA_BUCKETS, DataLayer, DataLayerArgs
from components.data.spec import BucketLifecycle
from components.feature_store.layer import (
    FeatureGroupSpec,
    FeatureStoreLayer,
    FeatureStoreLayerArgs,
)
from components.gpu.layer import GpuCompute, GpuComputeArgs
from components.kubernetes.layer import KubernetesLayer
from components.monitoring.layer import MonitoredEndpoint, MonitoringLayer, MonitoringLayerArgs
from components.monitoring.model_monitor import ModelMonitorBackend
from components.monitoring.pipeline import THRESHOLD_OPTIONS, MonitorSpec
from components.monitoring.spec import (
    MonitoredEndpointConfig,
    MonitoringConfig,
    schedule_interval_hours,
)
from components.serving.alarms import AlarmThresholds
from components.serving.autoscaling import ScalingBounds
from components.serving.endpoint import EndpointSpec, RolloutSpec, ServerlessSpec, VariantSpec
from components.serving.layer import ServingLayer, ServingLayerArgs, needs_source_archive
from components.serving.model import PREBUILT_REPOSITORIES, ModelImage
from components.serving.spec import ServingEndpointConfig, VariantConfig
from components.shared.code_archive import (
    ARCHIVE_DIR,
    build_monitoring_archive,
    build_source_archive,
    build_training_archive,
)
from components.shared.hyperparameter_tables import as_hyperparameter
from components.shared.images import (
    PREBUILT_FRAMEWORK_TAGS,
    PREBUILT_MONITORING_REPOSITORY,
    PREBUILT_MONITORING_TAG,
    PREBUILT_TRAINING_TAGS,
    PYTORCH_GPU_TRAINING_TAG,
)
from components.shared.retention import DataRetention
from components.shared.spec_rules import PROJECT_ROOT
from components.training.layer import (
    PipelineSpec,
    RepositoriesSpec,
    TrackingSpec,
    TrainingLayer,
    TrainingLayerArgs,
)
from components.training.notebooks import NotebookInstanceSpec, StudioSpec
from components.training.pipeline import PREBUILT_TRAINING_REPOSITORIES, TrainingImage
from components.training.pipeline_definition import ParameterRange, TrainingJobSpec, TuningSpec
from components.training.spec import TrainingPipelineConfig
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


def lifecycle_rules(bucket: BucketLifecycle) -> LifecycleRules:
    """Map one bucket's lifecycle config to the component's rules."""
    return LifecycleRules(
        transitions=[(step.days, step.storage_class) for step in bucket.transitions],
        expiration_days=bucket.expiration_days,
        noncurrent_version_expiration_days=bucket.noncurrent_version_expiration_days,
        abort_incomplete_multipart_upload_days=bucket.abort_incomplete_multipart_upload_days,
    )


def deploy_data_layer(context: DeployContext) -> DataLayer:
    """The data layer from the ``data`` section."""
    config = context.config
    data = config.data
    return DataLayer(
        "data",
        DataLayerArgs(
            environment=config.environment,
            region=config.region,
            retention=context.retention,
            kms_deletion_window_days=data.kms.deletion_window_days,
            bucket_lifecycles={
                purpose: lifecycle_rules(getattr(data.buckets, purpose))
                for purpose in (*DATA_BUCKETS, ACCESS_LOG_BUCKET)
            },
            vpc_cidr=data.network.cidr,
            subnet_cidrs=data.network.subnet_cidrs(),
            flow_log_traffic=data.network.flow_log_traffic,
            log_retention_days=data.log_retention_days,
        ),
        opts=context.opts,
    )


def endpoint_name(environment: str, endpoint: ServingEndpointConfig) -> str:
    """The endpoint's name in AWS: ``mlp-<environment>-<name>``."""
    return f"mlp-{environment}-{endpoint.name}"


def variant_spec(variant: VariantConfig) -> VariantSpec:
    """Map one variant's config to the component's spec."""
    if variant.framework is not None:
        image = ModelImage(
            framework_repository=PREBUILT_REPOSITORIES[variant.framework],
            framework_tag=variant.framework_image_tag or PREBUILT_FRAMEWORK_TAGS[variant.framework],
        )
    else:
        assert variant.image is not None  # config validation requires one of the two
        image = ModelImage(ecr_repository=variant.image.repository, ecr_tag=variant.image.tag)
    scaling = None
    if variant.autoscaling is not None:
        scaling = ScalingBounds(
            min_capacity=variant.initial_instance_count,
            max_capacity=variant.autoscaling.max_capacity,
            target_invocations_per_instance=variant.autoscaling.target_invocations_per_instance,
            scale_in_cooldown_seconds=variant.autoscaling.scale_in_cooldown_seconds,
            scale_out_cooldown_seconds=variant.autoscaling.scale_out_cooldown_seconds,
        )
    serverless = None
    if variant.serverless is not None:
        serverless = ServerlessSpec(
            memory_size_mb=variant.serverless.memory_size_mb,
            max_concurrency=variant.serverless.max_concurrency,
            provisioned_concurrency=variant.serverless.provisioned_concurrency,
        )
    return VariantSpec(
        name=variant.name,
        image=image,
        model_artifact_key=variant.model_artifact,
        weight=variant.weight,
        instance_type=variant.instance_type,
        initial_instance_count=variant.initial_instance_count,
        serverless=serverless,
        scaling=scaling,
    )


def endpoint_spec(environment: str, endpoint: ServingEndpointConfig) -> EndpointSpec:
    """Map one endpoint's config to the component's spec."""
    rollout, alarms = endpoint.rollout, endpoint.alarms
    return EndpointSpec(
        endpoint_name=endpoint_name(environment, endpoint),
        variants=[variant_spec(variant) for variant in endpoint.variants],
        shadow_variant=variant_spec(endpoint.shadow_variant) if endpoint.shadow_variant else None,
        capture_sampling_percentage=endpoint.data_capture.sampling_percentage
        if endpoint.data_capture.enabled
        else None,
        rollout=RolloutSpec(
            strategy=rollout.strategy,
            step_percent=rollout.step_percent,
            wait_interval_seconds=rollout.wait_interval_seconds,
            baking_period_seconds=rollout.baking_period_seconds,
            maximum_execution_timeout_seconds=rollout.maximum_execution_timeout_seconds,
        ),
        alarms=AlarmThresholds(
            error_5xx=alarms.error_5xx_threshold,
            invocation_errors=alarms.invocation_errors_threshold,
            latency_p99_ms=alarms.latency_p99_ms,
            period_seconds=alarms.period_seconds,
            evaluation_periods=alarms.evaluation_periods,
        ),
    )


def deploy_serving_layer(context: DeployContext) -> ServingLayer:
    """The serving layer from the ``serving`` section, on top of the data layer."""
    config = context.config
    specs = [endpoint_spec(config.environment, endpoint) for endpoint in config.serving.endpoints]
    return ServingLayer(
        "serving",
        ServingLayerArgs(
            environment=config.environment,
            region=config.region,
            platform=context.layers["data"].platform,
            endpoints=specs,
            source_archive=build_source_archive(PROJECT_ROOT, ARCHIVE_DIR)
            if needs_source_archive(specs)
            else None,
            alarm_emails=list(config.serving.alarm_emails),
            log_retention_days=config.data.log_retention_days,
            retention=context.retention,
        ),
        opts=context.opts,
    )


def deploy_gpu_layer(context: DeployContext) -> GpuCompute:
    """The GPU instances from the ``gpu`` section, in the data layer's VPC."""
    config, data = context.config, context.layers["data"]
    gpu = config.gpu
    return GpuCompute(
        "gpu",
        GpuComputeArgs(
            environment=config.environment,
            region=config.region,
            instance_types=list(gpu.instance_types),
            min_size=gpu.min_size,
            max_size=gpu.max_size,
            desired_capacity=gpu.desired_capacity,
            on_demand_base_capacity=gpu.on_demand_base_capacity,
            on_demand_percentage_above_base=gpu.on_demand_percentage_above_base,
            ami_name_filter=gpu.ami_name_filter,
            root_volume_size_gb=gpu.root_volume_size_gb,
            vpc_id=data.vpc_id,
            subnet_ids=data.subnet_ids,
            endpoint_security_group_id=data.endpoint_security_group_id,
            s3_prefix_list_id=data.s3_prefix_list_id,
            kms_key_arn=data.kms_key_arn,
            data_bucket_arn=data.buckets["processed"].arn,
            work_bucket_arn=data.buckets["experiments"].arn,
            log_group_arn=data.log_group_arn,
            account_id=data.account_id,
            partition=data.partition,
        ),
        opts=context.opts,
    )


def pipeline_name(environment: str, pipeline: TrainingPipelineConfig) -> str:
    """The pipeline's name in AWS: ``mlp-<environment>-<name>``."""
    return f"mlp-{environment}-{pipeline.name}"


def training_image(pipeline: TrainingPipelineConfig) -> TrainingImage:
    """The pipeline's image: a prebuilt framework container (GPU tag on GPUs) or our own."""
    if pipeline.framework is None:
        assert pipeline.image is not None  # config validation requires one of the two
        return TrainingImage(ecr_repository=pipeline.image.repository, ecr_tag=pipeline.image.tag)
    tag = pipeline.framework_image_tag
    if tag is None:
        gpu = pipeline.framework == "pytorch" and pipeline.uses_gpu
        tag = PYTORCH_GPU_TRAINING_TAG if gpu else PREBUILT_TRAINING_TAGS[pipeline.framework]
    return TrainingImage(
        framework_repository=PREBUILT_TRAINING_REPOSITORIES[pipeline.framework], framework_tag=tag
    )


def pipeline_spec(environment: str, pipeline: TrainingPipelineConfig) -> PipelineSpec:
    """Map one pipeline's config to the component's spec."""
    tuning = None
    if pipeline.tuning is not None:
        tuning = TuningSpec(
            strategy=pipeline.tuning.strategy,
            objective=pipeline.tuning.objective,
            max_jobs=pipeline.tuning.max_jobs,
            max_parallel_jobs=pipeline.tuning.max_parallel_jobs,
            ranges=[
                ParameterRange(
                    name=item.name,
                    type=item.type,
                    min=item.min,
                    max=item.max,
                    scaling=item.scaling,
                    values=list(item.values),
                )
                for item in pipeline.tuning.ranges
            ],
            hyperband_min_resource=pipeline.tuning.hyperband_min_resource,
            hyperband_max_resource=pipeline.tuning.hyperband_max_resource,
        )
    job = TrainingJobSpec(
        pipeline_name=pipeline_name(environment, pipeline),
        algorithm=pipeline.algorithm,
        task=pipeline.task,
        target=pipeline.target,
        train_prefix=pipeline.train_data,
        validation_prefix=pipeline.validation_data,
        instance_type=pipeline.instance_type,
        instance_count=pipeline.instance_count,
        volume_size_gb=pipeline.volume_size_gb,
        max_runtime_seconds=pipeline.max_runtime_seconds,
        spot=pipeline.spot.enabled,
        max_wait_seconds=pipeline.spot.max_wait_seconds if pipeline.spot.enabled else None,
        hyperparameters={
            name: as_hyperparameter(value) for name, value in pipeline.hyperparameters.items()
        },
        track_experiments=pipeline.track_experiments,
        tuning=tuning,
    )
    return PipelineSpec(job=job, image=training_image(pipeline))


def deploy_training_layer(context: DeployContext) -> TrainingLayer:
    """The training layer from the ``training`` section, on top of the data layer."""
    config = context.config
    training = config.training
    specs = [pipeline_spec(config.environment, pipeline) for pipeline in training.pipelines]
    repositories, tracking = training.repositories, training.experiment_tracking
    instance, studio = training.notebooks.instance, training.notebooks.studio
    return TrainingLayer(
        "training",
        TrainingLayerArgs(
            environment=config.environment,
            region=config.region,
            platform=context.layers["data"].platform,
            retention=context.retention,
            repositories=RepositoriesSpec(
                names=list(repositories.names),
                keep_tagged_images=repositories.keep_tagged_images,
                untagged_expiry_days=repositories.untagged_expiry_days,
            ),
            tracking=TrackingSpec(
                server_size=tracking.server_size,
                mlflow_version=tracking.mlflow_version,
                automatic_model_registration=tracking.automatic_model_registration,
                weekly_maintenance_window_start=tracking.weekly_maintenance_window_start,
            )
            if tracking.enabled
            else None,
            pipelines=specs,
            source_archive=build_training_archive(PROJECT_ROOT, ARCHIVE_DIR) if specs else None,
            notebook_instance=NotebookInstanceSpec(
                instance_type=instance.instance_type,
                volume_size_gb=instance.volume_size_gb,
                platform_identifier=instance.platform_identifier,
                idle_stop_minutes=instance.idle_stop_minutes,
            )
            if instance is not None
            else None,
            studio=StudioSpec(user_profiles=list(studio.user_profiles)) if studio else None,
        ),
        opts=context.opts,
    )


def deploy_feature_store_layer(context: DeployContext) -> FeatureStoreLayer:
    """The feature-store layer from the ``feature_store`` section, on top of the data layer."""
    config = context.config
    section = config.feature_store
    return FeatureStoreLayer(
        "feature_store",
        FeatureStoreLayerArgs(
            environment=config.environment,
            region=config.region,
            platform=context.layers["data"].platform,
            retention=context.retention,
            groups=[
                FeatureGroupSpec(
                    definition=group.definition,
                    online_store=group.online.enabled,
                    storage_type=group.online.storage_type,
                    ttl_days=group.online.ttl_days,
                    offline_store=group.offline.enabled,
                    table_format=group.offline.table_format,
                )
                for group in section.groups
            ],
            athena_bytes_scanned_cutoff=section.athena.bytes_scanned_cutoff_gb * 1024**3,
        ),
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


def monitor_spec(
    environment: str, section: MonitoringConfig, entry: MonitoredEndpointConfig
) -> MonitoredEndpoint:
    """Map one monitored endpoint's config to the layer's entry."""
    name = f"mlp-{environment}-{entry.endpoint}"
    backend = entry.model_monitor
    return MonitoredEndpoint(
        name=entry.endpoint,
        spec=MonitorSpec(
            pipeline_name=f"{name}-monitor",
            endpoint_name=name,
            window_hours=entry.window_hours,
            thresholds={option: getattr(entry.thresholds, option) for option in THRESHOLD_OPTIONS},
            instance_type=section.instance_type,
            volume_size_gb=section.volume_size_gb,
            max_runtime_seconds=section.max_runtime_seconds,
        ),
        baseline_folder=entry.baseline_path(PROJECT_ROOT),
        schedule=entry.schedule,
        interval_hours=schedule_interval_hours(entry.schedule),
        silent_after_hours=entry.silent_after_hours,
        model_monitor=ModelMonitorBackend(
            schedule=backend.schedule, instance_type=backend.instance_type
        )
        if backend.enabled
        else None,
    )


def monitoring_image(section: MonitoringConfig) -> TrainingImage:
    """The monitor's processing image: our own in ECR, or AWS's prebuilt scikit-learn one."""
    if section.image is not None:
        return TrainingImage(ecr_repository=section.image.repository, ecr_tag=section.image.tag)
    return TrainingImage(
        framework_repository=PREBUILT_MONITORING_REPOSITORY, framework_tag=PREBUILT_MONITORING_TAG
    )


def deploy_monitoring_layer(context: DeployContext) -> MonitoringLayer:
    """The monitoring layer from the ``monitoring`` section, on the data and serving layers."""
    config = context.config
    section = config.monitoring
    serving = context.layers["serving"]
    return MonitoringLayer(
        "monitoring",
        MonitoringLayerArgs(
            environment=config.environment,
            region=config.region,
            platform=context.layers["data"].platform,
            endpoint_names={
                name: endpoint.endpoint_name for name, endpoint in serving.endpoints.items()
            },
            monitors=[
                monitor_spec(config.environment, section, entry) for entry in section.endpoints
            ],
            code_archive=build_monitoring_archive(PROJECT_ROOT, ARCHIVE_DIR),
            image=monitoring_image(section),
            alarm_emails=list(section.alarm_emails),
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
