"""DataLayer: the platform's foundation that every other layer consumes.

It owns the customer-managed KMS key, the S3 buckets (raw, processed, models, experiments, capture,
monitoring, and the access-log bucket they all log to), the private network, the Glue catalog
database and the platform's log group. Its outputs (bucket names and ARNs, key ARN, VPC, subnets,
security groups) are the contract the later layers build on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.data.bucket import LifecycleRules, SecureBucket, SecureBucketArgs
from components.data.network import PrivateNetwork, PrivateNetworkArgs
from components.platform import PlatformContext
from components.shared import iam_policies
from components.shared.retention import DataRetention

#: The data buckets, each encrypted with the platform key and logging to the access-log bucket.
DATA_BUCKETS = ("raw", "processed", "models", "experiments", "capture", "monitoring")

#: The bucket that receives every other bucket's server access logs.
ACCESS_LOG_BUCKET = "access_logs"


@dataclass(frozen=True)
class DataLayerArgs:
    """Inputs of the DataLayer."""

    environment: str
    """Short environment name, used in names (``dev``, ``prod``)."""
    region: str
    """The AWS region the layer is deployed to."""
    retention: DataRetention
    """Whether stateful resources survive ``pulumi destroy``."""
    kms_deletion_window_days: int
    """Days a deleted platform key stays recoverable (7-30)."""
    bucket_lifecycles: Mapping[str, LifecycleRules]
    """Lifecycle rules for every bucket in ``DATA_BUCKETS`` and ``ACCESS_LOG_BUCKET``."""
    vpc_cidr: str
    """The VPC's range."""
    subnet_cidrs: list[str]
    """One private subnet range per availability zone, in zone order."""
    flow_log_traffic: str
    """Traffic the VPC flow logs record."""
    log_retention_days: int
    """Retention of the platform's log groups."""

    def __post_init__(self) -> None:
        expected = {*DATA_BUCKETS, ACCESS_LOG_BUCKET}
        if set(self.bucket_lifecycles) != expected:
            raise ValueError(
                f"bucket_lifecycles: expected keys {sorted(expected)}, "
                f"got {sorted(self.bucket_lifecycles)}"
            )


class DataLayer(pulumi.ComponentResource):
    """KMS, buckets, VPC, Glue catalog and logs: the layer every other layer builds on."""

    kms_key_arn: pulumi.Output[str]
    """ARN of the platform's customer-managed key."""
    kms_key_id: pulumi.Output[str]
    """Id of the platform key."""
    buckets: dict[str, SecureBucket]
    """Every bucket by purpose (``raw``, ``processed``, ..., ``access_logs``)."""
    vpc_id: pulumi.Output[str]
    """The private VPC."""
    subnet_ids: pulumi.Output[list[str]]
    """Private subnets, one per availability zone."""
    workload_security_group_id: pulumi.Output[str]
    """Security group for jobs and endpoints of later layers."""
    endpoint_security_group_id: pulumi.Output[str]
    """Security group of the VPC's interface endpoints (later layers add endpoints to it)."""
    s3_prefix_list_id: pulumi.Output[str]
    """Prefix list of the VPC's S3 gateway endpoint."""
    log_group_arn: pulumi.Output[str]
    """ARN of the log group for the platform's own workloads."""
    glue_database_name: pulumi.Output[str]
    """The Glue catalog database."""
    log_group_name: pulumi.Output[str]
    """Log group for the platform's own workloads."""
    account_id: pulumi.Output[str]
    """The AWS account the layer lives in."""
    partition: pulumi.Output[str]
    """The AWS partition, for building ARNs."""
    platform: PlatformContext
    """What every other layer is deployed into: these outputs and the stack's identity."""

    def __init__(
        self, name: str, args: DataLayerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlplatform:data:DataLayer", name, None, opts)
        retention = args.retention
        prefix = f"mlp-{args.environment}"
        invoke = pulumi.InvokeOutputOptions(parent=self)
        identity = aws.get_caller_identity_output(opts=invoke)
        partition = aws.get_partition_output(opts=invoke)
        zones = aws.get_availability_zones(
            state="available",
            # Regular zones only: Local and Wavelength zones (opt-in) lack most endpoints.
            filters=[
                aws.GetAvailabilityZonesFilterArgs(
                    name="opt-in-status", values=["opt-in-not-required"]
                )
            ],
            opts=pulumi.InvokeOptions(parent=self),
        ).names
        if len(zones) < len(args.subnet_cidrs):
            raise ValueError(
                f"data.network.availability_zones: {len(args.subnet_cidrs)} requested but "
                f"{args.region} has {len(zones)} available"
            )

        key = aws.kms.Key(
            f"{prefix}-key",
            description=f"ml-platform {args.environment}: data, logs, models",
            enable_key_rotation=True,
            deletion_window_in_days=args.kms_deletion_window_days,
            policy=pulumi.Output.all(partition.partition, identity.account_id).apply(
                lambda values: iam_policies.platform_key_policy(values[0], values[1], args.region)
            ),
            opts=retention.stateful(self),
        )
        aws.kms.Alias(
            f"{prefix}-key-alias",
            name=f"alias/ml-platform-{args.environment}",
            target_key_id=key.key_id,
            opts=retention.stateful(key),
        )

        access_logs = SecureBucket(
            f"{prefix}-access-logs",
            SecureBucketArgs(
                retention=retention,
                kms_key_arn=None,
                lifecycle=args.bucket_lifecycles[ACCESS_LOG_BUCKET],
                receives_access_logs_of_account=identity.account_id,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.buckets = {ACCESS_LOG_BUCKET: access_logs}
        for purpose in DATA_BUCKETS:
            self.buckets[purpose] = SecureBucket(
                f"{prefix}-{purpose}",
                SecureBucketArgs(
                    retention=retention,
                    kms_key_arn=key.arn,
                    lifecycle=args.bucket_lifecycles[purpose],
                    access_log_bucket=access_logs.bucket,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        log_group_prefix = f"/ml-platform/{args.environment}"
        network = PrivateNetwork(
            f"{prefix}-network",
            PrivateNetworkArgs(
                cidr=args.vpc_cidr,
                subnets=list(zip(zones, args.subnet_cidrs, strict=False)),
                region=args.region,
                account_id=identity.account_id,
                partition=partition.partition,
                kms_key_arn=key.arn,
                log_retention_days=args.log_retention_days,
                log_group_prefix=log_group_prefix,
                retention=retention,
                flow_log_traffic=args.flow_log_traffic,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        glue_database = aws.glue.CatalogDatabase(
            f"{prefix}-catalog",
            # Glue/Athena names allow lowercase letters, digits and underscores only.
            name=f"ml_platform_{args.environment}",
            description=f"ml-platform {args.environment}: processed datasets and features",
            location_uri=self.buckets["processed"].bucket.apply(lambda bucket: f"s3://{bucket}/"),
            opts=retention.stateful(self),
        )
        workload_logs = aws.cloudwatch.LogGroup(
            f"{prefix}-workloads",
            name=f"{log_group_prefix}/workloads",
            kms_key_id=key.arn,
            retention_in_days=args.log_retention_days,
            opts=retention.stateful(self),
        )

        self.kms_key_arn = key.arn
        self.kms_key_id = key.key_id
        self.vpc_id = network.vpc_id
        self.subnet_ids = network.subnet_ids
        self.workload_security_group_id = network.workload_security_group_id
        self.endpoint_security_group_id = network.endpoint_security_group_id
        self.s3_prefix_list_id = network.s3_prefix_list_id
        self.log_group_arn = workload_logs.arn
        self.glue_database_name = glue_database.name
        self.log_group_name = workload_logs.name
        self.account_id = identity.account_id
        self.partition = partition.partition
        self.platform = PlatformContext(
            environment=args.environment,
            region=args.region,
            retention=retention,
            log_retention_days=args.log_retention_days,
            vpc_cidr=args.vpc_cidr,
            account_id=self.account_id,
            partition=self.partition,
            kms_key_arn=self.kms_key_arn,
            buckets=self.buckets,
            vpc_id=self.vpc_id,
            subnet_ids=self.subnet_ids,
            workload_security_group_id=self.workload_security_group_id,
            endpoint_security_group_id=self.endpoint_security_group_id,
            s3_prefix_list_id=self.s3_prefix_list_id,
            log_group_arn=self.log_group_arn,
            glue_database_name=self.glue_database_name,
        )
        self.register_outputs(self.exports())

    def exports(self) -> dict[str, pulumi.Output]:
        """The layer's outputs as the stack exports them (later layers read these)."""
        return {
            "kms_key_arn": self.kms_key_arn,
            "bucket_names": pulumi.Output.all(
                **{purpose: bucket.bucket for purpose, bucket in self.buckets.items()}
            ),
            "bucket_arns": pulumi.Output.all(
                **{purpose: bucket.arn for purpose, bucket in self.buckets.items()}
            ),
            "vpc_id": self.vpc_id,
            "subnet_ids": self.subnet_ids,
            "workload_security_group_id": self.workload_security_group_id,
            "glue_database_name": self.glue_database_name,
            "log_group_name": self.log_group_name,
        }
