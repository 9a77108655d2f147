"""Publishing a check's ``metrics.json`` to CloudWatch (standard library and boto3).

:func:`load_metrics` reads and validates the document: a structurally broken entry (a missing
field, a wrong type, an unknown unit) fails the whole file with every problem listed, while an
entry whose value is null, NaN or infinite is set aside and reported, because CloudWatch refuses
such values and one figure the check could not compute should not cost the others.
:func:`publish_metrics` then sends the rest with ``PutMetricData`` in batches.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from workloads.monitoring.times import NaiveTime, utc_time

# boto3 generates client classes at run time; operations take the client as ``Any``.
CloudWatchClient = Any

# PutMetricData's units (CloudWatch's StandardUnit).
UNITS = frozenset(
    (
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    )
)

# CloudWatch's limits on a metric: at most 30 dimensions; names up to 255 characters, dimension
# values up to 1024. https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Dimension.html
MAX_DIMENSIONS = 30
MAX_NAME_LENGTH = 255
MAX_DIMENSION_VALUE_LENGTH = 1024

# PutMetricData takes at most 1000 entries and a 1 MB request body per call. Our entries have one
# or two short dimensions (about 150 bytes each on the wire), so 500 entries stay far below 1 MB
# even with long feature names, and the byte budget below splits a batch early in the rare case
# of many long dimension values. It is half the limit because the wire encoding (CBOR, JSON or
# the query protocol's long field names) differs from the JSON size we estimate with.
BATCH_ENTRIES = 500
BATCH_BYTES = 500_000


@dataclass(frozen=True)
class Metric:
    """One publishable data point: a finite value under a name and dimensions."""

    name: str
    """The metric name, e.g. ``PSI``."""
    dimensions: Mapping[str, str]
    """Dimension name to value, e.g. ``{"Endpoint": "mlp-dev-churn", "Feature": "age"}``."""
    value: float
    """The value; always finite (CloudWatch refuses NaN and infinities)."""
    unit: str = "None"
    """A CloudWatch standard unit, ``None`` for plain numbers."""

    def __post_init__(self) -> None:
        if not math.isfinite(self.value):
            raise ValueError(f"metric {self.name!r} has a non-finite value {self.value!r}")

    def to_datum(self, timestamp: datetime) -> dict[str, Any]:
        """The metric as one entry of PutMetricData's ``MetricData``."""
        return {
            "MetricName": self.name,
            "Dimensions": [
                {"Name": name, "Value": value} for name, value in self.dimensions.items()
            ],
            "Timestamp": timestamp,
            "Value": self.value,
            "Unit": self.unit,
        }


@dataclass(frozen=True)
class SkippedMetric:
    """An entry of metrics.json that is not published because its value is not a finite number."""

    index: int
    """The entry's position in the document's ``metrics`` list."""
    name: str
    """The entry's metric name."""
    dimensions: Mapping[str, str]
    """The entry's dimensions."""
    reason: str
    """Why it is skipped, e.g. ``value is NaN``."""

    def describe(self) -> str:
        """One line naming the entry and why it is skipped."""
        where = ", ".join(f"{name}={value}" for name, value in self.dimensions.items())
        return f"metrics[{self.index}] {self.name} ({where}): {self.reason}"


@dataclass(frozen=True)
class MetricsDocument:
    """A validated metrics.json: where to publish, when, and what."""

    namespace: str
    """The CloudWatch namespace, e.g. ``MLPlatform/Monitoring``."""
    timestamp: datetime
    """The time every data point is published at (timezone-aware)."""
    metrics: tuple[Metric, ...]
    """The entries to publish, in the document's order."""
    skipped: tuple[SkippedMetric, ...] = ()
    """The entries set aside because their value is null, NaN or infinite."""


@dataclass(frozen=True)
class PublishReport:
    """What :func:`publish_metrics` sent."""

    namespace: str
    """The namespace the metrics went to."""
    published: int
    """Data points sent to CloudWatch."""
    calls: int
    """PutMetricData calls made."""
    skipped: tuple[SkippedMetric, ...] = field(default=())
    """Entries not sent because their value was not a finite number."""


class PublishError(RuntimeError):
    """A PutMetricData call failed; says how many data points had been published before it."""


def load_metrics(path: Path) -> MetricsDocument:
    """Read and validate the metrics.json at ``path``.

    Raises ValueError naming the file and, for each broken entry, its index and what is wrong
    (all problems at once). Entries whose value is null, NaN or infinite are not errors: they are
    returned in ``skipped``.
    """
    try:
        # json accepts NaN and Infinity, which is how Python writes non-finite floats.
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not a JSON document: {error}") from error
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(document).__name__}")

    problems: list[str] = []
    namespace = document.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        problems.append("'namespace' must be a non-empty string")
    elif namespace.startswith("AWS/"):
        # CloudWatch reserves the AWS/ namespaces for AWS services.
        problems.append(f"'namespace' must not start with 'AWS/', got {namespace!r}")
    timestamp = _timestamp(document.get("timestamp"), problems)
    entries = document.get("metrics")
    metrics: list[Metric] = []
    skipped: list[SkippedMetric] = []
    if not isinstance(entries, list):
        problems.append("'metrics' must be a list")
    else:
        for index, entry in enumerate(entries):
            _entry(index, entry, metrics, skipped, problems)
    if problems:
        raise ValueError(f"{path}: invalid metrics document:\n  " + "\n  ".join(problems))
    assert timestamp is not None and isinstance(namespace, str)  # no problems: both were read
    return MetricsDocument(namespace, timestamp, tuple(metrics), tuple(skipped))


def _timestamp(value: object, problems: list[str]) -> datetime | None:
    """The document's timestamp as an aware datetime, or None with a problem recorded."""
    if not isinstance(value, str):
        problems.append("'timestamp' must be an ISO-8601 string with a UTC offset")
        return None
    try:
        return utc_time(value)
    except NaiveTime:
        problems.append(f"'timestamp' has no UTC offset: {value!r}")
    except ValueError:
        problems.append(f"'timestamp' is not an ISO-8601 time: {value!r}")
    return None


def _entry(
    index: int,
    entry: object,
    metrics: list[Metric],
    skipped: list[SkippedMetric],
    problems: list[str],
) -> None:
    """Validate one entry; append it to ``metrics`` or ``skipped``, or its problems."""
    where = f"metrics[{index}]"
    if not isinstance(entry, dict):
        problems.append(f"{where}: expected an object, got {type(entry).__name__}")
        return
    found = len(problems)
    missing = [key for key in ("name", "dimensions", "value") if key not in entry]
    if missing:
        problems.append(f"{where}: missing {', '.join(repr(key) for key in missing)}")
    name = entry.get("name")
    if "name" in entry and (not isinstance(name, str) or not name or len(name) > MAX_NAME_LENGTH):
        problems.append(f"{where}: 'name' must be a string of 1 to {MAX_NAME_LENGTH} characters")
    dimensions = entry.get("dimensions")
    if "dimensions" in entry:
        problems.extend(f"{where}: {problem}" for problem in _dimension_problems(dimensions))
    value = entry.get("value")
    if (
        "value" in entry
        and value is not None
        and (isinstance(value, bool) or not isinstance(value, int | float))
    ):
        problems.append(f"{where}: 'value' must be a number, got {value!r}")
    unit = entry.get("unit", "None")
    if unit not in UNITS:
        problems.append(f"{where}: 'unit' must be a CloudWatch unit such as Count, got {unit!r}")
    if len(problems) > found:
        return

    assert isinstance(name, str) and isinstance(dimensions, dict)  # checked just above
    if value is None or not math.isfinite(value):
        reason = "value is null" if value is None else f"value is {value!r}"
        skipped.append(SkippedMetric(index, name, dimensions, reason))
    else:
        metrics.append(Metric(name, dimensions, float(value), unit))


def _dimension_problems(dimensions: object) -> list[str]:
    """What is wrong with an entry's dimensions (an object of non-empty strings)."""
    if not isinstance(dimensions, dict):
        return ["'dimensions' must be an object of names to values"]
    problems = []
    if len(dimensions) > MAX_DIMENSIONS:
        problems.append(f"'dimensions' has {len(dimensions)} entries, at most {MAX_DIMENSIONS}")
    for name, value in dimensions.items():
        if not name or len(name) > MAX_NAME_LENGTH:
            problems.append(f"dimension name {name!r} must have 1 to {MAX_NAME_LENGTH} characters")
        if not isinstance(value, str) or not value or len(value) > MAX_DIMENSION_VALUE_LENGTH:
            problems.append(
                f"dimension {name!r} must be a string of 1 to {MAX_DIMENSION_VALUE_LENGTH} "
                f"characters, got {value!r}"
            )
    return problems


def _batches(data: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """``data`` in order, cut into PutMetricData calls within the entry and byte budgets."""
    batch: list[dict[str, Any]] = []
    size = 0
    for datum in data:
        datum_size = len(json.dumps(datum, default=str).encode("utf-8"))
        if batch and (len(batch) == BATCH_ENTRIES or size + datum_size > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(datum)
        size += datum_size
    if batch:
        yield batch


def publish_metrics(document: MetricsDocument, client: CloudWatchClient) -> PublishReport:
    """Send every metric of ``document`` to CloudWatch with PutMetricData, in batches.

    Raises PublishError if a call fails, saying how many data points went out before it (those
    are in CloudWatch: publishing the document again would count them twice).
    """
    data = [metric.to_datum(document.timestamp) for metric in document.metrics]
    published = 0
    calls = 0
    for batch in _batches(data):
        try:
            client.put_metric_data(Namespace=document.namespace, MetricData=batch)
        except Exception as error:  # botocore's ClientError and connection errors alike
            raise PublishError(
                f"PutMetricData to {document.namespace} failed after {published} of "
                f"{len(data)} data points were published: "
                f"{aws_problem_of(error, name_operation=False) or error}"
            ) from error
        published += len(batch)
        calls += 1
    return PublishReport(document.namespace, published, calls, document.skipped)


def aws_problem_of(error: BaseException, *, name_operation: bool = True) -> str | None:
    """One line for a boto error with what to do (:func:`workloads.aws_errors.aws_problem`).

    ``None`` for any other error. The processing job's code archive ships the module too.
    """
    if "botocore" not in sys.modules:
        return None  # botocore was never loaded: not a boto error
    from workloads.aws_errors import aws_problem  # imports botocore: only once it is loaded

    return aws_problem(error, name_operation=name_operation)


def default_client(region: str | None = None, profile: str | None = None) -> CloudWatchClient:
    """A CloudWatch client in ``region`` (default: the environment's) with standard retries.

    ``profile`` names the AWS profile whose credentials to use (default: the environment's).
    Standard retries back off on throttling, which PutMetricData's per-account rate can hit
    when many monitors publish at the top of the hour.
    """
    import boto3  # deferred: only publishing needs it
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 5})
    session = boto3.Session(profile_name=profile)
    return session.client("cloudwatch", region_name=region, config=config)
