"""SecureBucketArgs and the buckets section's keys: plain values, no Pulumi runtime needed."""

from __future__ import annotations

import pytest

from components.data.bucket import SecureBucketArgs
from components.data.layer import ACCESS_LOG_BUCKET, DATA_BUCKETS
from components.data.spec import BucketLifecycle, BucketsConfig
from components.shared.retention import DataRetention

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
ACCOUNT_ID = "123456789012"
ALL_BUCKET_KEYS = (
    "raw",
    "processed",
    "models",
    "experiments",
    "capture",
    "monitoring",
    "access_logs",
)


def buckets_section(bucket_keys: tuple[str, ...]) -> dict[str, dict[str, object]]:
    """A ``data.buckets`` section naming ``bucket_keys``, each with the default lifecycle."""
    return {key: {} for key in bucket_keys}


# --------------------------------------------------------------------------------------------
# SecureBucketArgs
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("retain", [False, True])
def test_bucket_without_a_key_that_is_not_a_log_bucket_is_refused(retain: bool) -> None:
    # given no KMS key and no log-delivery account
    # when the args are built, then the missing key is named
    with pytest.raises(ValueError, match=r"^kms_key_arn is required"):
        SecureBucketArgs(retention=DataRetention(retain=retain), kms_key_arn=None)


def test_bucket_without_a_key_and_with_an_access_log_target_is_refused() -> None:
    # given a data bucket (it logs elsewhere) that forgot its key
    with pytest.raises(ValueError, match=r"kms_key_arn"):
        SecureBucketArgs(
            retention=DataRetention(retain=False),
            kms_key_arn=None,
            access_log_bucket="mlp-dev-access-logs-abc",
        )


def test_log_bucket_with_a_kms_key_is_refused() -> None:
    # given a log-delivery target with SSE-KMS, which S3 server access logging cannot write to
    # when the args are built, then the key and the log role are named as mutually exclusive
    with pytest.raises(
        ValueError,
        match=r"kms_key_arn and receives_access_logs_of_account are mutually exclusive: "
        r"S3 server access logging cannot deliver to an SSE-KMS bucket",
    ):
        SecureBucketArgs(
            retention=DataRetention(retain=False),
            kms_key_arn=KEY_ARN,
            receives_access_logs_of_account=ACCOUNT_ID,
        )


def test_log_bucket_that_logs_elsewhere_is_refused() -> None:
    # given a bucket that both receives access logs and logs into another bucket
    # when the args are built, then both options are named as mutually exclusive
    with pytest.raises(
        ValueError,
        match=r"access_log_bucket and receives_access_logs_of_account are mutually exclusive",
    ):
        SecureBucketArgs(
            retention=DataRetention(retain=False),
            kms_key_arn=None,
            access_log_bucket="mlp-dev-other-logs-abc",
            receives_access_logs_of_account=ACCOUNT_ID,
        )


def test_log_bucket_may_go_without_a_key() -> None:
    # given a log-delivery target without a KMS key (SSE-S3)
    args = SecureBucketArgs(
        retention=DataRetention(retain=True),
        kms_key_arn=None,
        receives_access_logs_of_account=ACCOUNT_ID,
    )
    # then it is accepted as given, with the default lifecycle
    assert args.kms_key_arn is None
    assert args.access_log_bucket is None
    assert args.receives_access_logs_of_account == ACCOUNT_ID
    assert args.lifecycle == BucketLifecycle(
        transitions=(),
        expiration_days=None,
        noncurrent_version_expiration_days=90,
        abort_incomplete_multipart_upload_days=7,
    )


def test_data_bucket_with_a_key_and_a_log_target_is_accepted() -> None:
    args = SecureBucketArgs(
        retention=DataRetention(retain=False),
        kms_key_arn=KEY_ARN,
        access_log_bucket="mlp-dev-access-logs-abc",
    )
    assert args.kms_key_arn == KEY_ARN
    assert args.access_log_bucket == "mlp-dev-access-logs-abc"
    assert args.receives_access_logs_of_account is None


# --------------------------------------------------------------------------------------------
# BucketsConfig: every bucket the data layer builds has exactly one lifecycle section
# (the removed DataLayerArgs checked its bucket_lifecycles keys; the spec now guarantees them)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ALL_BUCKET_KEYS)
def test_buckets_section_missing_a_bucket_gives_it_the_default_lifecycle(missing: str) -> None:
    # given lifecycle rules for every bucket but one
    keys = tuple(key for key in ALL_BUCKET_KEYS if key != missing)
    # when the section is validated, then the missing bucket still has its (default) rules
    buckets = BucketsConfig.model_validate(buckets_section(keys))
    assert getattr(buckets, missing) == BucketLifecycle()


def test_buckets_section_with_an_unknown_bucket_is_refused() -> None:
    with pytest.raises(ValueError, match=r"scratch\n  Extra inputs are not permitted"):
        BucketsConfig.model_validate(buckets_section((*ALL_BUCKET_KEYS, "scratch")))


def test_buckets_section_with_every_bucket_is_accepted() -> None:
    buckets = BucketsConfig.model_validate(buckets_section(ALL_BUCKET_KEYS))
    assert set(buckets.model_dump()) == set(ALL_BUCKET_KEYS)


def test_the_data_layer_builds_exactly_the_buckets_the_section_configures() -> None:
    # The layer reads each bucket's rules as the section's field of the same name.
    assert {*DATA_BUCKETS, ACCESS_LOG_BUCKET} == set(BucketsConfig.model_fields)
