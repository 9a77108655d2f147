"""The Pulumi program: stack config in, one component per enabled layer, outputs exported.

This is the only place that turns validated config (:mod:`stacks.config`) into component args.
``__main__.py`` calls :func:`run_program` under the Pulumi CLI; the offline plan and the tests
call it under the recording mock runtime (:mod:`stacks.mock_runtime`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi.runtime import config as runtime_config

from components.data_layer import ACCESS_LOG_BUCKET, DATA_BUCKETS, DataLayer, DataLayerArgs
from components.retention import DataRetention
from components.secure_bucket import LifecycleRules
from stacks.config import BucketLifecycle, ConfigError, PlatformConfig, load_platform_config
from stacks.layers import PROJECT


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


def deploy_data_layer(
    config: PlatformConfig, opts: pulumi.ResourceOptions, retention: DataRetention
) -> DataLayer:
    """The data layer from the ``data`` section."""
    data = config.data
    return DataLayer(
        "data",
        DataLayerArgs(
            environment=config.environment,
            region=config.region,
            retention=retention,
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
        opts=opts,
    )


#: How each implemented layer is deployed; keys match stacks.layers.LAYERS.
LAYER_DEPLOYERS: dict[
    str, Callable[[PlatformConfig, pulumi.ResourceOptions, DataRetention], DataLayer]
] = {
    "data": deploy_data_layer,
}


def build_platform(config: PlatformConfig, stack: str) -> dict[str, Any]:
    """Create every enabled layer and return the stack's exports (one entry per layer)."""
    provider = aws_provider(config, stack)
    retention = DataRetention(retain=config.retains_data)
    opts = pulumi.ResourceOptions(providers={"aws": provider})
    exports: dict[str, Any] = {"environment": config.environment, "layers": list(config.layers)}
    for layer in config.layers:
        exports[layer] = LAYER_DEPLOYERS[layer](config, opts, retention).exports()
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
