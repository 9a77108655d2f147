"""Staging one window's data-capture files from S3 (standard library and boto3).

SageMaker data capture writes JSON Lines files to
``s3://<bucket>/<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<name>.jsonl``, the hour folder being
the UTC hour the file was written. :func:`select_window` downloads the files of the hour folders
around a window into a local folder of the same layout and describes the window in
``window.json``; the check then keeps only the records whose own ``inferenceTime`` falls inside.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from workloads.monitoring.contract import WINDOW_FILE
from workloads.monitoring.times import NaiveTime, utc_time

# boto3 generates client classes at run time; operations take the client as ``Any``.
S3Client = Any

#: The folder under the output folder that holds the downloaded capture files.
CAPTURE_DIR = "capture"
#: The extension of SageMaker's capture files; anything else in the folders is left alone.
CAPTURE_SUFFIX = ".jsonl"

_HOUR = timedelta(hours=1)
# s3://bucket/key-prefix: bucket names are 3-63 lowercase letters, digits, dots and hyphens.
_S3_URI = re.compile(r"s3://(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])/(?P<prefix>.*)")


def _utc(value: datetime, what: str) -> datetime:
    """``value`` converted to UTC; a naive time is refused since its zone is anyone's guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {value.isoformat()}")
    return value.astimezone(timezone.utc)


def _parse_time(value: str, what: str) -> datetime:
    """An ISO-8601 time with an offset or Z, in UTC."""
    try:
        return utc_time(value)
    except NaiveTime:
        raise ValueError(
            f"{what} {value!r} has no UTC offset; add Z or an offset such as +00:00"
        ) from None
    except ValueError:
        raise ValueError(
            f"{what} must be an ISO-8601 time such as 2025-03-01T10:00:00Z, got {value!r}"
        ) from None


def floor_hour(value: datetime) -> datetime:
    """The start of the hour ``value`` falls in."""
    return value.replace(minute=0, second=0, microsecond=0)


def parse_window_end(value: str, now: datetime | None = None) -> datetime:
    """The window's end from a command line: ``now`` or an ISO-8601 time with an offset.

    ``now`` is the current UTC time floored to the hour, so a job started a few minutes past
    the hour checks the whole hour that just ended. ``now`` (the argument) stands in for the
    clock in tests. Other values are taken as given, converted to UTC; naive times are refused.
    """
    if value.strip().lower() == "now":
        current = datetime.now(timezone.utc) if now is None else _utc(now, "now")
        return floor_hour(current)
    return _parse_time(value.strip(), "window end")


@dataclass(frozen=True)
class Window:
    """The span of time a check covers, for one endpoint: from ``start`` up to ``end``."""

    start: datetime
    """The first instant inside the window (timezone-aware, stored in UTC)."""
    end: datetime
    """The first instant after the window (timezone-aware, stored in UTC)."""
    endpoint: str
    """The endpoint whose captured traffic the window holds."""

    def __post_init__(self) -> None:
        # Frozen: normalise through object.__setattr__ so that equal windows compare equal.
        object.__setattr__(self, "start", _utc(self.start, "window start"))
        object.__setattr__(self, "end", _utc(self.end, "window end"))
        if self.end <= self.start:
            raise ValueError(
                f"window end {self.end.isoformat()} must be after its start "
                f"{self.start.isoformat()}"
            )

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` (timezone-aware) falls in ``[start, end)``."""
        return self.start <= _utc(moment, "moment") < self.end

    def to_json(self) -> dict[str, str]:
        """The window as JSON-ready fields: endpoint, start and end (ISO-8601 in UTC)."""
        return {
            "endpoint": self.endpoint,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Window:
        """The window of a ``to_json`` document or a whole window.json (other keys ignored)."""
        missing = [key for key in ("endpoint", "start", "end") if key not in document]
        if missing:
            raise ValueError(f"window document is missing {', '.join(map(repr, missing))}")
        for key in ("endpoint", "start", "end"):
            if not isinstance(document[key], str):
                raise ValueError(f"window {key!r} must be a string, got {document[key]!r}")
        return cls(
            start=_parse_time(document["start"], "window start"),
            end=_parse_time(document["end"], "window end"),
            endpoint=document["endpoint"],
        )


@dataclass(frozen=True)
class WindowSelection:
    """What :func:`select_window` staged."""

    window: Window
    """The window the files were selected for."""
    files: int
    """Capture files downloaded."""
    bytes: int
    """Their total size in bytes."""
    variants: tuple[str, ...]
    """The endpoint's variants found under the capture prefix, sorted."""
    window_file: Path
    """The window.json written next to the capture folder."""


def hour_prefixes(endpoint_prefix: str, variant: str, start: datetime, end: datetime) -> list[str]:
    """The S3 key prefixes of the hour folders that can hold records of ``[start, end)``.

    These are the hours the window overlaps, widened by one hour on each side, because a
    record's ``inferenceTime`` and the hour folder of the file it lands in can differ:
    SageMaker buffers records before writing, so records of the last seconds of an hour are
    written into the next hour's folder, and the hour before the window is taken as well in case
    a file's folder is chosen when the file is opened. The check filters records by their own
    ``inferenceTime``, so an extra folder costs a few downloads and never wrong figures.
    """
    start = _utc(start, "window start")
    end = _utc(end, "window end")
    base = f"{endpoint_prefix.strip('/')}/{variant}"
    prefixes = []
    hour = floor_hour(start) - _HOUR
    # floor_hour(end) is the last hour inside when end is mid-hour, and the hour after the
    # window when end is on the hour: in both cases the folder late records spill into.
    while hour <= floor_hour(end):
        prefixes.append(f"{base}/{hour:%Y/%m/%d/%H}/")
        hour += _HOUR
    return prefixes


def parse_capture_uri(value: str) -> tuple[str, str]:
    """The bucket and key prefix (no slashes around it) of ``s3://bucket/prefix/<endpoint>/``."""
    match = _S3_URI.fullmatch(value.strip())
    prefix = match["prefix"].strip("/") if match else ""
    if not match or not prefix or "//" in prefix:
        raise ValueError(
            "capture URI must look like s3://<bucket>/<prefix>/<endpoint>/ (the folder data "
            f"capture writes the endpoint's variants to), got {value!r}"
        )
    return match["bucket"], prefix


def _safe_segment(value: str) -> bool:
    """Whether ``value`` can be one local path segment (keys are untrusted: no ``..``)."""
    return value not in ("", ".", "..") and "/" not in value and "\\" not in value


def _pages(client: S3Client, page_size: int, **arguments: Any) -> Iterator[dict[str, Any]]:
    """Every page of a ListObjectsV2 listing."""
    paginator = client.get_paginator("list_objects_v2")
    yield from paginator.paginate(**arguments, PaginationConfig={"PageSize": page_size})


def _variants(client: S3Client, bucket: str, prefix: str, page_size: int) -> list[str]:
    """The variant folders under the endpoint's capture prefix, sorted."""
    variants = set()
    # The trailing slash keeps mlp-dev-churn from also listing mlp-dev-churn-sandbox.
    for page in _pages(client, page_size, Bucket=bucket, Prefix=f"{prefix}/", Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            name = common["Prefix"][len(prefix) + 1 :].rstrip("/")
            if _safe_segment(name):
                variants.add(name)
    return sorted(variants)


def select_window(
    client: S3Client,
    capture_uri: str,
    window_hours: int,
    end: datetime,
    out_dir: Path,
    *,
    page_size: int = 1000,
) -> WindowSelection:
    """Download the capture files of the ``window_hours`` before ``end`` into ``out_dir``.

    Files land in ``out_dir/capture/<variant>/yyyy/mm/dd/hh/<name>.jsonl`` (their S3 layout)
    and ``out_dir/window.json`` describes the window. Only ``.jsonl`` files directly in an hour
    folder are taken. An empty window is not an error: window.json then says ``"files": 0``.
    ``page_size`` is how many keys each ListObjectsV2 call asks for (1000, S3's maximum).
    """
    bucket, prefix = parse_capture_uri(capture_uri)
    if isinstance(window_hours, bool) or not isinstance(window_hours, int) or window_hours < 1:
        raise ValueError(f"window hours must be a whole number of at least 1, got {window_hours!r}")
    end = _utc(end, "window end")
    window = Window(start=end - window_hours * _HOUR, end=end, endpoint=prefix.rsplit("/", 1)[-1])

    capture_dir = out_dir / CAPTURE_DIR
    variants = _variants(client, bucket, prefix, page_size)
    files = 0
    size = 0
    for variant in variants:
        for hour_prefix in hour_prefixes(prefix, variant, window.start, window.end):
            local_hour = capture_dir / variant / hour_prefix[len(prefix) + len(variant) + 2 :]
            for page in _pages(client, page_size, Bucket=bucket, Prefix=hour_prefix):
                for entry in page.get("Contents", []):
                    name = entry["Key"][len(hour_prefix) :]
                    if not name.endswith(CAPTURE_SUFFIX) or not _safe_segment(name):
                        continue
                    local_hour.mkdir(parents=True, exist_ok=True)
                    client.download_file(bucket, entry["Key"], str(local_hour / name))
                    files += 1
                    size += entry.get("Size", 0)

    out_dir.mkdir(parents=True, exist_ok=True)
    window_file = out_dir / WINDOW_FILE
    document = window.to_json() | {
        "capture_uri": capture_uri,
        "files": files,
        "bytes": size,
        "variants": variants,
    }
    window_file.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return WindowSelection(window, files, size, tuple(variants), window_file)


def default_client(region: str | None = None, profile: str | None = None) -> S3Client:
    """An S3 client in ``region`` with ``profile``'s credentials (default: the environment's)."""
    import boto3  # deferred: only selecting a window needs it
    from botocore.config import Config

    session = boto3.Session(profile_name=profile)
    return session.client("s3", region_name=region, config=Config(retries={"mode": "standard"}))
