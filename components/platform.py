"""PlatformContext: what every layer builds on, made once by the data layer and handed to each.

The stack's identity (environment, region, teardown policy) and the data layer's outputs (account,
partition, the platform key, buckets, the private VPC and its security groups, the log group, the
Glue database) travel together here, so no layer redeclares them and no layer imports the data
layer's package. Values that exist only after ``pulumi up`` are Pulumi Outputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import pulumi
import pulumi_aws as aws

from components.shared.alarm_topic import alarm_topic
from components.shared.code_archive import SourceArchive, UploadedArchive, upload_archive
from components.shared.retention import DataRetention
from components.shared.vpc_endpoints import interface_endpoints


class PlatformBucket(Protocol):
    """A platform bucket as layers use it: its name and ARN."""

    bucket: pulumi.Output[str]
    """The bucket's name."""
    arn: pulumi.Output[str]
    """The bucket's ARN."""


@dataclass(frozen=True)
class PlatformContext:
    """The platform every layer is deployed into."""

    environment: str
    """Short environment name, used in every resource name (``dev``, ``prod``)."""
    region: str
    """The stack's AWS region."""
    retention: DataRetention
    """Whether stateful resources survive ``pulumi destroy`` (the stack's tier)."""
    log_retention_days: int
    """Retention of every platform log group."""
    vpc_cidr: str
    """The private VPC's IPv4 range."""
    account_id: pulumi.Output[str]
    """The AWS account the platform lives in."""
    partition: pulumi.Output[str]
    """The AWS partition (``aws``, ``aws-cn``, ``aws-us-gov``), for ARNs."""
    kms_key_arn: pulumi.Output[str]
    """The platform's customer-managed key: buckets, logs, volumes, models."""
    buckets: Mapping[str, PlatformBucket]
    """Every platform bucket by purpose (``raw``, ``processed``, ..., ``access_logs``)."""
    vpc_id: pulumi.Output[str]
    """The private VPC (no route to the internet)."""
    subnet_ids: pulumi.Output[list[str]]
    """Private subnets, one per availability zone."""
    workload_security_group_id: pulumi.Output[str]
    """Security group of the platform's jobs and endpoints."""
    endpoint_security_group_id: pulumi.Output[str]
    """Security group of the VPC's interface endpoints (layers add their endpoints to it)."""
    s3_prefix_list_id: pulumi.Output[str]
    """Prefix list of the VPC's S3 gateway endpoint, for HTTPS egress rules to S3."""
    log_group_arn: pulumi.Output[str]
    """The log group of the platform's own workloads."""
    glue_database_name: pulumi.Output[str]
    """The Glue catalog database of processed datasets and features."""
    serving_endpoint_names: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    """The serving layer's endpoint names by full name; empty until the serving layer is built."""

    def with_serving_endpoints(
        self, endpoint_names: Mapping[str, pulumi.Output[str]]
    ) -> PlatformContext:
        """Return the context once the serving layer exists, for the layers that watch it."""
        return replace(self, serving_endpoint_names=dict(endpoint_names))

    def alarm_topic(
        self,
        name: str,
        *,
        display_name: str,
        emails: Sequence[str],
        parent: pulumi.Resource,
        topic_name: str | None = None,
    ) -> aws.sns.Topic:
        """A layer's alarm topic in this platform: :func:`alarm_topic`, with the platform key.

        Encrypted with the platform key and publishable only by this account's alarms.
        """
        return alarm_topic(
            name,
            topic_name=topic_name,
            display_name=display_name,
            kms_key_arn=self.kms_key_arn,
            account_id=self.account_id,
            partition=self.partition,
            emails=list(emails),
            parent=parent,
        )

    def interface_endpoints(
        self, prefix: str, services: Sequence[str], opts: pulumi.ResourceOptions
    ) -> list[aws.ec2.VpcEndpoint]:
        """A layer's interface endpoints for ``services`` in the platform's private VPC.

        :func:`interface_endpoints` in this VPC's subnets, in its endpoints' security group.
        """
        return interface_endpoints(
            prefix,
            services,
            region=self.region,
            vpc_id=self.vpc_id,
            subnet_ids=self.subnet_ids,
            security_group_id=self.endpoint_security_group_id,
            opts=opts,
        )

    def upload_archive(
        self, name: str, archive: SourceArchive, *, bucket: str, key: str, parent: pulumi.Resource
    ) -> UploadedArchive:
        """Upload a layer's code ``archive`` under ``key`` to the platform bucket ``bucket``.

        :func:`upload_archive` into the bucket of that purpose, encrypted with the platform key.
        """
        return upload_archive(
            name,
            archive,
            bucket=self.buckets[bucket].bucket,
            key=key,
            kms_key_arn=self.kms_key_arn,
            parent=parent,
        )


#: A layer's spec: its section of the stack's config.
SpecT = TypeVar("SpecT")


class PlatformLayer(pulumi.ComponentResource, Generic[SpecT]):
    """A layer deployed into the platform: ``Layer(name, spec, platform, opts)``.

    Every layer but the data layer (which builds the platform) has this one constructor, which the
    program calls from the layer registry: it registers the component under the class's ``TYPE``,
    lets :meth:`build` create the children from the spec, then registers the outputs.
    """

    TYPE: ClassVar[str]
    """The component's type token (``package:module:Type``), part of every URN below it."""

    def __init__(
        self,
        name: str,
        spec: SpecT,
        platform: PlatformContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self.build(spec, platform)
        self.register_outputs(self.registered_outputs())

    def build(self, spec: SpecT, platform: PlatformContext) -> None:
        """Create the layer's resources, children of this component, from ``spec``."""
        raise NotImplementedError

    def exports(self) -> dict[str, Any]:
        """The layer's stack outputs."""
        raise NotImplementedError

    def registered_outputs(self) -> dict[str, Any]:
        """What the component registers as its outputs: its exports unless it says otherwise."""
        return self.exports()
