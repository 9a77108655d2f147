"""The data layer's input model: the ``data`` section of a stack (KMS, buckets, network, logs)."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
)

from components.shared.spec_rules import Section, is_production, production_minimum_validator

#: Retention values CloudWatch Logs accepts (PutRetentionPolicy); 0 keeps logs forever.
LOG_RETENTION_DAYS = (
    0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


#: S3 storage classes a lifecycle rule may transition objects to.
StorageClass = Literal[
    "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"
]


#: S3 refuses transitions to the infrequent-access classes before an object is 30 days old.
_MIN_DAYS_FOR_IA = 30


#: The most days any lifecycle rule may name: 100 years. S3 documents no maximum beyond its
#: integer type (LifecycleExpiration ``Days``); this platform bound keeps values meaningful.
MAX_LIFECYCLE_DAYS = 36500


_PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(cidr) for cidr in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)


class KmsKeyConfig(Section):
    """The platform's customer-managed KMS key."""

    deletion_window_days: int = Field(default=30, ge=7, le=30)
    """Days a deleted key stays recoverable (AWS allows 7-30); production requires 30."""

    @field_validator("deletion_window_days")
    @classmethod
    def _production_keeps_keys_recoverable(cls, value: int, info: ValidationInfo) -> int:
        if is_production(info) and value < 30:
            raise ValueError("must be 30 in a production stack")
        return value


class LifecycleTransition(Section):
    """Move objects to a cheaper storage class after some days."""

    # storage_class comes first: the `days` rule below depends on it.
    storage_class: StorageClass
    """The target S3 storage class."""
    days: int = Field(ge=0, le=MAX_LIFECYCLE_DAYS)
    """Age in days at which objects move (at most 36500)."""

    @field_validator("days")
    @classmethod
    def _infrequent_access_needs_30_days(cls, value: int, info: ValidationInfo) -> int:
        storage_class = info.data.get("storage_class")
        if storage_class in ("STANDARD_IA", "ONEZONE_IA") and value < _MIN_DAYS_FOR_IA:
            raise ValueError(f"must be >= {_MIN_DAYS_FOR_IA} for {storage_class} (an S3 rule)")
        return value


class BucketLifecycle(Section):
    """Lifecycle rules of one bucket."""

    transitions: tuple[LifecycleTransition, ...] = ()
    """Storage-class transitions of current object versions, in increasing order of days."""
    expiration_days: int | None = Field(default=None, ge=1, le=MAX_LIFECYCLE_DAYS)
    """Expire current object versions after this many days (at most 36500); unset keeps them."""
    noncurrent_version_expiration_days: int = Field(default=90, ge=1, le=MAX_LIFECYCLE_DAYS)
    """Delete versions this many days after they stopped being current (at most 36500)."""
    abort_incomplete_multipart_upload_days: int = Field(default=7, ge=1, le=MAX_LIFECYCLE_DAYS)
    """Abort multipart uploads left unfinished for this many days (their parts cost money)."""

    # Fields validate in declaration order, so `transitions` is in info.data here.
    @field_validator("expiration_days")
    @classmethod
    def _expire_after_transitions(cls, value: int | None, info: ValidationInfo) -> int | None:
        transitions = info.data.get("transitions") or ()
        if value is not None and transitions and value <= transitions[-1].days:
            raise ValueError(f"must be > {transitions[-1].days}, the last transition's days")
        return value

    @field_validator("transitions")
    @classmethod
    def _transitions_in_order(
        cls, value: tuple[LifecycleTransition, ...]
    ) -> tuple[LifecycleTransition, ...]:
        days = [transition.days for transition in value]
        if days != sorted(set(days)):
            raise ValueError("days must be strictly increasing from one transition to the next")
        return value


class BucketsConfig(Section):
    """Lifecycle rules per bucket of the data layer; every bucket has safe defaults."""

    raw: BucketLifecycle = BucketLifecycle()
    """Data as it arrives."""
    processed: BucketLifecycle = BucketLifecycle()
    """Cleaned data, feature-store offline data."""
    models: BucketLifecycle = BucketLifecycle()
    """Model artifacts and code archives."""
    experiments: BucketLifecycle = BucketLifecycle()
    """Experiment tracking artifacts and checkpoints."""
    capture: BucketLifecycle = BucketLifecycle()
    """Endpoint data capture."""
    monitoring: BucketLifecycle = BucketLifecycle()
    """Monitoring baselines and reports."""
    access_logs: BucketLifecycle = BucketLifecycle()
    """S3 server access logs of the other buckets."""


class NetworkConfig(Section):
    """The private VPC the platform's workloads run in."""

    cidr: str = "10.20.0.0/16"
    """The VPC's IPv4 range: a private (RFC 1918) network, prefix /16 to /24."""
    availability_zones: int = Field(default=2, ge=1, le=6)
    """How many availability zones get a private subnet; production requires at least 2."""
    subnet_prefix_length: int = Field(default=20, ge=16, le=28)
    """Prefix length of each private subnet carved out of ``cidr``."""
    flow_log_traffic: Literal["ALL", "ACCEPT", "REJECT"] = "ALL"
    """Which traffic the VPC flow logs record."""

    @field_validator("cidr")
    @classmethod
    def _private_ipv4_network(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value)
        except ValueError:
            raise ValueError(
                f"'{value}' is not an IPv4 network in CIDR notation (e.g. 10.20.0.0/16)"
            ) from None
        if not 16 <= network.prefixlen <= 24:
            raise ValueError("prefix length must be between /16 and /24 (a VPC limit)")
        if not any(network.subnet_of(private) for private in _PRIVATE_RANGES):
            raise ValueError("must be a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)")
        return str(network)

    _production_is_multi_az = production_minimum_validator("availability_zones", 2)

    @field_validator("subnet_prefix_length")
    @classmethod
    def _subnets_fit(cls, value: int, info: ValidationInfo) -> int:
        cidr, zones = info.data.get("cidr"), info.data.get("availability_zones")
        if cidr is None or zones is None:
            return value  # already reported
        vpc_prefix = ipaddress.IPv4Network(cidr).prefixlen
        if value <= vpc_prefix:
            raise ValueError(f"must be > {vpc_prefix}, the VPC's own prefix length")
        if 2 ** (value - vpc_prefix) < zones:
            raise ValueError(f"leaves room for fewer than {zones} subnets in {cidr}")
        return value

    def subnet_cidrs(self) -> list[str]:
        """Return one private subnet range per availability zone, carved in order from ``cidr``."""
        subnets = ipaddress.IPv4Network(self.cidr).subnets(new_prefix=self.subnet_prefix_length)
        return [str(next(subnets)) for _ in range(self.availability_zones)]


class DataConfig(Section):
    """The data layer: KMS, buckets, network, catalog and logs."""

    kms: KmsKeyConfig = KmsKeyConfig()
    """The platform key."""
    buckets: BucketsConfig = BucketsConfig()
    """Lifecycle rules per bucket."""
    network: NetworkConfig = NetworkConfig()
    """The private VPC."""
    log_retention_days: int = 30
    """Retention of the platform's CloudWatch log groups (one of CloudWatch's allowed values)."""

    @field_validator("log_retention_days")
    @classmethod
    def _cloudwatch_retention(cls, value: int, info: ValidationInfo) -> int:
        if value not in LOG_RETENTION_DAYS:
            allowed = ", ".join(str(days) for days in LOG_RETENTION_DAYS)
            raise ValueError(f"must be one of {allowed} (CloudWatch Logs retention values)")
        if is_production(info) and 0 < value < 365:
            raise ValueError("must be >= 365 (or 0, never expire) in a production stack")
        return value
