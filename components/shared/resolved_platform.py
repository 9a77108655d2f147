"""ResolvedPlatform: where a SageMaker role's jobs run, as plain values once the Outputs are known.

Role policies and job definitions are plain functions of plain values, so they read, and are
tested, as the JSON they produce. The values every one of them names (the partition, region and
account for ARNs, the platform key, and the VPC, subnets and security group the jobs run in) are
resolved here, once, together with whatever else the caller names: inside one ``apply``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pulumi

from components.platform import PlatformContext
from components.shared import iam_policies

T = TypeVar("T")


@dataclass(frozen=True)
class ResolvedPlatform:
    """The platform's account, key and network as plain values (inside an ``apply``)."""

    partition: str
    """The AWS partition, for ARNs."""
    region: str
    """The stack's region."""
    account_id: str
    """The stack's account."""
    kms_key_arn: str
    """The platform key (volumes, outputs, S3 objects)."""
    vpc_id: str
    """The platform VPC the jobs run in."""
    subnet_ids: list[str]
    """The private subnets the jobs run in."""
    security_group_id: str
    """The workload security group the jobs run in."""

    def arn(self, service: str, resource: str) -> str:
        """The ARN of ``resource`` of ``service`` in this partition, region and account."""
        return f"arn:{self.partition}:{service}:{self.region}:{self.account_id}:{resource}"

    def s3_arn(self, bucket: str, key: str = "") -> str:
        """An S3 ARN in this partition: the bucket, or one key (or key pattern) in it."""
        return f"arn:{self.partition}:s3:::{bucket}{'/' + key if key else ''}"

    def vpc_interface_statements(self) -> list[iam_policies.Statement]:
        """Let SageMaker create and remove network interfaces in this platform's subnets only."""
        return iam_policies.vpc_interface_statements(
            partition=self.partition,
            region=self.region,
            account_id=self.account_id,
            vpc_id=self.vpc_id,
            subnet_ids=self.subnet_ids,
            security_group_id=self.security_group_id,
        )


def with_resolved_platform(
    platform: PlatformContext,
    build: Callable[[ResolvedPlatform, dict[str, Any]], T],
    **inputs: pulumi.Input[Any],
) -> pulumi.Output[T]:
    """``build(resolved platform, resolved inputs)``, once the platform and ``inputs`` are known.

    ``inputs`` are resolved by name (``None`` stays ``None``); what ``build`` returns depends on
    the platform's key and network resources and on those of ``inputs``, and on nothing else.
    """
    return pulumi.Output.all(
        partition=platform.partition,
        account=platform.account_id,
        key=platform.kms_key_arn,
        vpc=platform.vpc_id,
        subnets=platform.subnet_ids,
        security_group=platform.workload_security_group_id,
        inputs=pulumi.Output.all(**inputs),
    ).apply(
        lambda values: build(
            ResolvedPlatform(
                partition=values["partition"],
                region=platform.region,
                account_id=values["account"],
                kms_key_arn=values["key"],
                vpc_id=values["vpc"],
                subnet_ids=list(values["subnets"]),
                security_group_id=values["security_group"],
            ),
            values["inputs"],
        )
    )
