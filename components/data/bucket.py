"""SecureBucket: an S3 bucket that is private, encrypted, versioned, logged and lifecycle-managed.

Every bucket the platform owns is one of these, so the rules hold everywhere: all four public
access blocks, ACLs disabled (bucket owner enforced), default encryption (SSE-KMS with the bucket
key, or SSE-S3 where AWS allows nothing else), versioning, lifecycle rules, server access logging,
and a bucket policy that refuses requests without TLS 1.2+.

The bucket and every setting that keeps it private and encrypted go through
:class:`~components.shared.retention.DataRetention`: a retained bucket must not lose its
public-access block or encryption when a stack is destroyed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.data.spec import BucketLifecycle
from components.shared import iam_policies
from components.shared.retention import DataRetention


@dataclass(frozen=True)
class SecureBucketArgs:
    """Inputs of a SecureBucket: its lifecycle section, and where its key and logs come from."""

    retention: DataRetention
    """Whether the bucket and its settings survive ``pulumi destroy``."""
    kms_key_arn: pulumi.Input[str] | None
    """Customer-managed key for SSE-KMS; None means SSE-S3, for access-log buckets only."""
    lifecycle: BucketLifecycle = field(default_factory=BucketLifecycle)
    """The bucket's lifecycle section, read as validated; the spec's defaults expire old versions
    after 90 days and abort stale uploads."""
    access_log_bucket: pulumi.Input[str] | None = None
    """Bucket that receives this bucket's server access logs; None for the log bucket itself."""
    receives_access_logs_of_account: pulumi.Input[str] | None = None
    """Account id whose buckets may deliver server access logs here (for the log bucket)."""

    def __post_init__(self) -> None:
        if self.kms_key_arn is None and self.receives_access_logs_of_account is None:
            # Only a log-delivery target may fall back to SSE-S3: S3 server access logging cannot
            # write to a bucket whose default encryption is SSE-KMS.
            raise ValueError("kms_key_arn is required unless the bucket receives access logs")
        if self.kms_key_arn is not None and self.receives_access_logs_of_account is not None:
            raise ValueError(
                "kms_key_arn and receives_access_logs_of_account are mutually exclusive: "
                "S3 server access logging cannot deliver to an SSE-KMS bucket"
            )
        if self.access_log_bucket is not None and self.receives_access_logs_of_account is not None:
            raise ValueError(
                "access_log_bucket and receives_access_logs_of_account are mutually exclusive: "
                "a log bucket does not log into itself"
            )


class SecureBucket(pulumi.ComponentResource):
    """A private, encrypted, versioned S3 bucket with lifecycle rules and access logging."""

    bucket: pulumi.Output[str]
    """The bucket's (auto-generated) name."""
    arn: pulumi.Output[str]
    """The bucket's ARN."""

    def __init__(
        self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlplatform:storage:SecureBucket", name, None, opts)
        retention = args.retention

        # No explicit bucket name: Pulumi auto-names it (globally unique, replace-safe).
        bucket = aws.s3.Bucket(
            name, force_destroy=retention.force_destroy, opts=retention.stateful(self)
        )
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=retention.stateful(bucket),
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=retention.stateful(bucket),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[_encryption_rule(args.kms_key_arn)],
            opts=retention.stateful(bucket),
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=retention.stateful(bucket),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[_lifecycle_rule(args.lifecycle)],
            # Lifecycle rules on noncurrent versions need versioning in place first.
            opts=retention.stateful(bucket, depends_on=[versioning]),
        )
        if args.access_log_bucket is not None:
            aws.s3.BucketLogging(
                f"{name}-access-logging",
                bucket=bucket.id,
                target_bucket=args.access_log_bucket,
                target_prefix=f"{name}/",
                opts=retention.stateful(bucket),
            )

        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=_bucket_policy(bucket.arn, args.receives_access_logs_of_account),
            # S3 rejects policy writes while the public access block is being applied.
            opts=retention.stateful(bucket, depends_on=[public_access, ownership]),
        )

        self.bucket = bucket.bucket
        self.arn = bucket.arn
        self.register_outputs({"bucket": self.bucket, "arn": self.arn})


def _encryption_rule(
    kms_key_arn: pulumi.Input[str] | None,
) -> aws.s3.BucketServerSideEncryptionConfigurationRuleArgs:
    """Default encryption: SSE-KMS with the bucket key under ``kms_key_arn``, else SSE-S3."""
    if kms_key_arn is None:
        default_encryption = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(  # noqa: E501
            sse_algorithm="AES256"
        )
    else:
        default_encryption = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(  # noqa: E501
            sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn
        )
    return aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
        apply_server_side_encryption_by_default=default_encryption,
        # The bucket key cuts KMS requests (and cost) by ~99% for SSE-KMS.
        bucket_key_enabled=kms_key_arn is not None,
    )


def _bucket_policy(
    bucket_arn: pulumi.Output[str], log_delivery_account: pulumi.Input[str] | None
) -> pulumi.Output[str]:
    """Deny requests without TLS 1.2+; for a log bucket, also let S3 deliver the account's logs."""
    return pulumi.Output.all(bucket_arn, log_delivery_account).apply(
        lambda values: iam_policies.policy_json(
            *iam_policies.deny_insecure_transport(values[0]),
            *(
                [iam_policies.allow_server_access_log_delivery(values[0], values[1])]
                if values[1] is not None
                else []
            ),
        )
    )


def _lifecycle_rule(rules: BucketLifecycle) -> aws.s3.BucketLifecycleConfigurationRuleArgs:
    """One rule over the whole bucket that applies every configured lifecycle setting."""
    return aws.s3.BucketLifecycleConfigurationRuleArgs(
        id="platform-lifecycle",
        status="Enabled",
        # An empty prefix filter selects every object (the provider requires a filter).
        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
        transitions=[
            aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                days=transition.days, storage_class=transition.storage_class
            )
            for transition in rules.transitions
        ]
        or None,
        expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=rules.expiration_days)
        if rules.expiration_days is not None
        else None,
        noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
            noncurrent_days=rules.noncurrent_version_expiration_days
        ),
        abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
            days_after_initiation=rules.abort_incomplete_multipart_upload_days
        ),
    )
