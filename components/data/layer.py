"""DataLayer: the platform's foundation that every other layer consumes.

It owns the customer-managed KMS key, the S3 buckets (raw, processed, models, experiments, capture,
monitoring, and the access-log bucket they all log to), the private network, the Glue catalog
database and the platform's log group. Its outputs (bucket names and ARNs, key ARN, VPC, subnets,
security groups) are the contract the later layers build on.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.data.bucket import SecureBucket, SecureBucketArgs
from components.data.network import PrivateNetwork, PrivateNetworkArgs
from components.data.spec import DataConfig, KmsKeyConfig, NetworkConfig
from components.platform import PlatformContext
from components.shared import iam_policies
from components.shared.retention import DataRetention

#: The data buckets, each encrypted with the platform key and logging to the access-log bucket.
DATA_BUCKETS = ("raw", "processed", "models", "experiments", "capture", "monitoring")

#: The bucket that receives every other bucket's server access logs.
ACCESS_LOG_BUCKET = "access_logs"


class DataLayer(pulumi.ComponentResource):
    """KMS, buckets, VPC, Glue catalog and logs: the layer every other layer builds on."""

    TYPE = "mlplatform:data:DataLayer"
    """The component's type token (``package:module:Type``), part of every URN below it."""

    buckets: dict[str, SecureBucket]
    """Every bucket by purpose (``raw``, ``processed``, ..., ``access_logs``)."""
    log_group_name: pulumi.Output[str]
    """Log group for the platform's own workloads."""
    platform: PlatformContext
    """What every other layer is deployed into: the layer's outputs and the stack's identity."""

    def __init__(
        self,
        name: str,
        spec: DataConfig,
        *,
        environment: str,
        region: str,
        retention: DataRetention,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Build the layer from its ``data`` section in the stack ``environment`` and ``region``.

        The data layer creates the :class:`PlatformContext`, so unlike the other layers it takes
        the stack's identity (environment, region, teardown policy) explicitly.
        """
        super().__init__(self.TYPE, name, None, opts)
        prefix = f"mlp-{environment}"
        invoke = pulumi.InvokeOutputOptions(parent=self)
        identity = aws.get_caller_identity_output(opts=invoke)
        partition = aws.get_partition_output(opts=invoke)
        zones = _availability_zones(self, spec.network, region)

        key = _platform_key(
            self, prefix, spec.kms, environment, region, retention, partition, identity
        )
        self.buckets = _buckets(self, prefix, spec, retention, key.arn, identity.account_id)
        log_group_prefix = f"/ml-platform/{environment}"
        network = PrivateNetwork(
            f"{prefix}-network",
            spec.network,
            PrivateNetworkArgs(
                zones=zones,
                region=region,
                account_id=identity.account_id,
                partition=partition.partition,
                kms_key_arn=key.arn,
                log_retention_days=spec.log_retention_days,
                log_group_prefix=log_group_prefix,
                retention=retention,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        glue_database = aws.glue.CatalogDatabase(
            f"{prefix}-catalog",
            # Glue/Athena names allow lowercase letters, digits and underscores only.
            name=f"ml_platform_{environment}",
            description=f"ml-platform {environment}: processed datasets and features",
            location_uri=self.buckets["processed"].bucket.apply(lambda bucket: f"s3://{bucket}/"),
            opts=retention.stateful(self),
        )
        workload_logs = aws.cloudwatch.LogGroup(
            f"{prefix}-workloads",
            name=f"{log_group_prefix}/workloads",
            kms_key_id=key.arn,
            retention_in_days=spec.log_retention_days,
            opts=retention.stateful(self),
        )

        self.log_group_name = workload_logs.name
        self.platform = PlatformContext(
            environment=environment,
            region=region,
            retention=retention,
            log_retention_days=spec.log_retention_days,
            vpc_cidr=spec.network.cidr,
            account_id=identity.account_id,
            partition=partition.partition,
            kms_key_arn=key.arn,
            buckets=self.buckets,
            vpc_id=network.vpc_id,
            subnet_ids=network.subnet_ids,
            workload_security_group_id=network.workload_security_group_id,
            endpoint_security_group_id=network.endpoint_security_group_id,
            s3_prefix_list_id=network.s3_prefix_list_id,
            log_group_arn=workload_logs.arn,
            glue_database_name=glue_database.name,
        )
        self.register_outputs(self.exports())

    def exports(self) -> dict[str, pulumi.Output]:
        """The layer's outputs as the stack exports them (later layers read these)."""
        platform = self.platform
        return {
            "kms_key_arn": platform.kms_key_arn,
            "bucket_names": pulumi.Output.all(
                **{purpose: bucket.bucket for purpose, bucket in self.buckets.items()}
            ),
            "bucket_arns": pulumi.Output.all(
                **{purpose: bucket.arn for purpose, bucket in self.buckets.items()}
            ),
            "vpc_id": platform.vpc_id,
            "subnet_ids": platform.subnet_ids,
            "workload_security_group_id": platform.workload_security_group_id,
            "glue_database_name": platform.glue_database_name,
            "log_group_name": self.log_group_name,
        }


def _availability_zones(parent: DataLayer, network: NetworkConfig, region: str) -> list[str]:
    """The first ``network.availability_zones`` zones of the region, one per private subnet.

    The spec bounds the count, but only the region knows how many zones it has, so a region with
    fewer stops the deploy here.
    """
    zones = aws.get_availability_zones(
        state="available",
        # Regular zones only: Local and Wavelength zones (opt-in) lack most endpoints.
        filters=[
            aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])
        ],
        opts=pulumi.InvokeOptions(parent=parent),
    ).names
    if len(zones) < network.availability_zones:
        raise ValueError(
            f"data.network.availability_zones: {network.availability_zones} requested but "
            f"{region} has {len(zones)} available"
        )
    return zones[: network.availability_zones]


def _platform_key(
    parent: DataLayer,
    prefix: str,
    kms: KmsKeyConfig,
    environment: str,
    region: str,
    retention: DataRetention,
    partition: pulumi.Output[aws.GetPartitionResult],
    identity: pulumi.Output[aws.GetCallerIdentityResult],
) -> aws.kms.Key:
    """The platform's customer-managed key (rotated, policy from iam_policies) and its alias."""
    key = aws.kms.Key(
        f"{prefix}-key",
        description=f"ml-platform {environment}: data, logs, models",
        enable_key_rotation=True,
        deletion_window_in_days=kms.deletion_window_days,
        policy=pulumi.Output.all(partition.partition, identity.account_id).apply(
            lambda values: iam_policies.platform_key_policy(values[0], values[1], region)
        ),
        opts=retention.stateful(parent),
    )
    aws.kms.Alias(
        f"{prefix}-key-alias",
        name=f"alias/ml-platform-{environment}",
        target_key_id=key.key_id,
        opts=retention.stateful(key),
    )
    return key


def _buckets(
    parent: DataLayer,
    prefix: str,
    spec: DataConfig,
    retention: DataRetention,
    kms_key_arn: pulumi.Output[str],
    account_id: pulumi.Output[str],
) -> dict[str, SecureBucket]:
    """The access-log bucket (SSE-S3, S3 cannot log into SSE-KMS), then each data bucket.

    Every bucket takes its own lifecycle section of ``spec.buckets``, the field named like it.
    """
    access_logs = SecureBucket(
        f"{prefix}-access-logs",
        SecureBucketArgs(
            retention=retention,
            kms_key_arn=None,
            lifecycle=spec.buckets.access_logs,
            receives_access_logs_of_account=account_id,
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    buckets = {ACCESS_LOG_BUCKET: access_logs}
    for purpose in DATA_BUCKETS:
        buckets[purpose] = SecureBucket(
            f"{prefix}-{purpose}",
            SecureBucketArgs(
                retention=retention,
                kms_key_arn=kms_key_arn,
                lifecycle=getattr(spec.buckets, purpose),
                access_log_bucket=access_logs.bucket,
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        )
    return buckets
