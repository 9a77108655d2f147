"""What counts as an S3 URI for the operations that read or write S3."""

from __future__ import annotations

import re

# s3://bucket[/key]: bucket names are 3-63 lowercase letters, digits, dots and hyphens.
_S3_URI = re.compile(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?")


def s3_uri_problem(label: str, value: str) -> str | None:
    """A sentence saying why ``value`` is not an ``s3://bucket/key`` URI, or None when it is."""
    if _S3_URI.fullmatch(value):
        return None
    return f"{label} must be an s3://bucket/key URI, got {value!r}"
