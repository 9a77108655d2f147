"""What counts as an S3 URI."""

from __future__ import annotations

import pytest

from workloads.ops.s3_uri import s3_uri_problem


@pytest.mark.parametrize(
    "uri", ["s3://bucket", "s3://my.bucket-1/key", "s3://bucket/prefix/", "s3://abc/a b.csv"]
)
def test_s3_uris_pass(uri: str) -> None:
    assert s3_uri_problem("input", uri) is None


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "bucket/key",
        "/local/path",
        "https://bucket.s3.amazonaws.com/key",
        "s3:/bucket",
        "s3://Bucket/key",
        "s3://ab",
    ],
)
def test_anything_else_is_named(uri: str) -> None:
    assert s3_uri_problem("input", uri) == f"input must be an s3://bucket/key URI, got {uri!r}"
