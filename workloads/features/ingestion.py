"""Write records to a feature group with PutRecord: streamed, concurrent, retried, accounted for.

:func:`ingest` reads records lazily, validates each (:mod:`workloads.features.validation`), and
keeps at most ``max_in_flight`` PutRecord calls pending on a pool of ``max_workers`` threads, so a
10-million-row file needs the memory of a few dozen records. Throttling and transient errors are
retried with exponential backoff and full jitter; a record that cannot be written goes to the
reject file (JSON Lines) with its position and the reason; a missing group or missing permission
stops the run. Nothing is dropped silently: ``read == written + rejected``.

:func:`read_records` streams CSV, JSON Lines and Parquet files as :class:`SourceRecord` items.
"""

from __future__ import annotations

import csv
import io
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from botocore import exceptions as botocore_errors
from botocore.exceptions import ClientError

from workloads.features.definitions import FeatureGroupDefinition
from workloads.features.validation import Rejection, validate_record

# boto3 generates client classes at run time; operations take the client as ``Any``.
FeatureStoreClient = Any

#: The reject kind of an input line that is not a record at all (bad JSON, ragged CSV row).
MALFORMED = "malformed_input"
#: The reject kind of a record still failing with a retryable error after every attempt.
RETRIES_EXHAUSTED = "retries_exhausted"
#: The reject kind of a record in flight when the run stopped (see :class:`IngestionStopped`).
STOPPED = "stopped"
#: The reject kind prefix of a record the service refused, e.g. ``service:ValidationError``.
SERVICE = "service:"

# Codes worth another attempt: throttling (botocore's standard retry mode's list, plus the
# feature store's own) and transient server-side failures.
_RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "EC2ThrottledException",
        "PriorRequestNotComplete",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalServerError",
    }
)
# Codes that fail every record the same way: stop instead of rejecting them one by one.
_FATAL_CODES = frozenset(
    {
        "ResourceNotFound",
        "ResourceNotFoundException",
        "AccessForbidden",
        "AccessDenied",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)


class IngestionStopped(Exception):
    """The run stopped because no record could be written (missing group, no permission).

    ``report`` accounts for every record read up to then; the records in flight are in the reject
    file with kind ``stopped``.
    """

    def __init__(self, message: str, report: IngestionReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class SourceRecord:
    """One item of an input file: its position and its values, or why it is not a record."""

    position: int
    """1-based: the line number for CSV (the header is line 1) and JSON Lines, the row number
    for Parquet."""
    values: Mapping[str, object] | None
    """The record as read; None when the item is malformed."""
    problem: str | None = None
    """Why the item is not a record (set exactly when ``values`` is None)."""
    raw: str | None = None
    """The item's text, kept for a malformed item so the reject file shows it."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter (delay uniform in ``[0, min(cap, base * 2**n))``)."""

    max_attempts: int = 8
    """Attempts per call, the first included."""
    base_seconds: float = 0.1
    """The first retry's delay ceiling."""
    cap_seconds: float = 20.0
    """The largest delay ceiling."""
    sleep: Callable[[float], None] = time.sleep
    """Waits; tests pass a recorder."""
    uniform: Callable[[float, float], float] = random.uniform
    """Draws the jitter; tests pass a fixed choice."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")

    def delay(self, retry: int) -> float:
        """The delay before retry number ``retry`` (1 for the first retry)."""
        return self.uniform(0.0, min(self.cap_seconds, self.base_seconds * 2 ** (retry - 1)))

    def backoff(self, retry: int) -> None:
        """Sleep before retry number ``retry``."""
        self.sleep(self.delay(retry))


@dataclass
class IngestionReport:
    """What a run did. ``read == written + sum(rejected.values())`` always holds."""

    group_name: str
    """The FeatureGroupName written to."""
    read: int = 0
    """Input items read (malformed ones included)."""
    written: int = 0
    """Records PutRecord accepted."""
    rejected: dict[str, int] = field(default_factory=dict)
    """Records not written, counted by reject kind."""
    retries: int = 0
    """PutRecord attempts beyond each record's first."""
    elapsed_seconds: float = 0.0
    """Wall-clock time of the run."""
    reject_file: str | None = None
    """Where the rejected records are (JSON Lines)."""

    @property
    def rejected_total(self) -> int:
        """Every rejected record, all kinds."""
        return sum(self.rejected.values())

    def check(self) -> None:
        """Raise ``AssertionError`` unless every record read was written or rejected."""
        if self.read != self.written + self.rejected_total:
            raise AssertionError(
                f"{self.read} records read but {self.written} written and "
                f"{self.rejected_total} rejected: {self.read - self.written - self.rejected_total} "
                "unaccounted for"
            )

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "group_name": self.group_name,
            "read": self.read,
            "written": self.written,
            "rejected": self.rejected_total,
            "rejected_by_kind": dict(sorted(self.rejected.items())),
            "retries": self.retries,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "reject_file": self.reject_file,
        }


@dataclass(frozen=True)
class _Outcome:
    """What became of one PutRecord (returned by a worker, handled on the main thread)."""

    item: SourceRecord
    retries: int
    error: BaseException | None = None
    kind: str | None = None


def default_client(max_workers: int = 8, region: str | None = None) -> FeatureStoreClient:
    """A feature-store runtime client with botocore's retries off and a pool per worker.

    :func:`ingest` retries itself, so each attempt is counted once and backs off with jitter;
    botocore's own retries would multiply attempts unseen.
    """
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=max(10, max_workers),
    )
    return boto3.client("sagemaker-featurestore-runtime", region_name=region, config=config)


def ingest(
    records: Iterable[Mapping[str, object] | SourceRecord],
    definition: FeatureGroupDefinition,
    *,
    group_name: str,
    reject_file: str | Path,
    client: FeatureStoreClient | None = None,
    max_workers: int = 8,
    max_in_flight: int | None = None,
    retry: RetryPolicy | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> IngestionReport:
    """Write ``records`` to ``group_name`` with PutRecord; the report of what happened.

    ``records`` are mappings (positions are counted from 1) or :class:`SourceRecord` items from
    :func:`read_records`. At most ``max_in_flight`` (default ``2 * max_workers``) records are
    pending at once, and the input is read only as calls complete. ``reject_file`` is
    (re)written: one JSON line per rejected record with its ``position``, the ``record`` as given
    (or ``raw`` text), ``kind`` and ``reason``. Raises :class:`IngestionStopped` naming the group
    when it does not exist or access is denied, after the in-flight calls have finished.
    """
    if max_workers < 1:
        raise ValueError(f"max_workers must be at least 1, not {max_workers}")
    limit = max_in_flight if max_in_flight is not None else 2 * max_workers
    if limit < 1:
        raise ValueError(f"max_in_flight must be at least 1, not {limit}")
    retry = retry or RetryPolicy()
    client = client if client is not None else default_client(max_workers)
    started = clock()
    report = IngestionReport(group_name=group_name, reject_file=str(reject_file))
    rejected: Counter[str] = Counter()
    fatal: _Outcome | None = None

    def reject(item: SourceRecord, kind: str, reason: str) -> None:
        rejected[kind] += 1
        line: dict[str, Any] = {"position": item.position}
        if item.values is not None:
            line["record"] = dict(item.values)
        else:
            line["raw"] = item.raw
        line.update(kind=kind, reason=reason)
        # default=str: Parquet rows hold datetimes and decimals.
        rejects.write(json.dumps(line, default=str, ensure_ascii=False) + "\n")

    def settle(outcome: _Outcome) -> None:
        nonlocal fatal
        report.retries += outcome.retries
        if outcome.error is None:
            report.written += 1
        elif outcome.kind == STOPPED:
            fatal = fatal or outcome
            reject(outcome.item, STOPPED, describe_error(outcome.error))
        else:
            reject(outcome.item, outcome.kind or SERVICE, describe_error(outcome.error))

    with (
        open(reject_file, "w", encoding="utf-8") as rejects,
        ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="put-record") as pool,
    ):
        pending: set[Future[_Outcome]] = set()
        try:
            for item in _numbered(records):
                report.read += 1
                if item.values is None:
                    reject(item, MALFORMED, item.problem or "not a record")
                    continue
                checked = validate_record(item.values, definition)
                if isinstance(checked, Rejection):
                    reject(item, checked.kind, checked.reason)
                    continue
                pending.add(pool.submit(_put, client, group_name, checked.record, item, retry))
                # Read the next record only once a slot is free: the input is consumed lazily.
                while len(pending) >= limit and fatal is None:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        settle(future.result())
                if fatal is not None:
                    break
        finally:
            # Finish what is in flight even when stopping, so every record read is accounted.
            for future in pending:
                settle(future.result())
    report.rejected = dict(rejected)
    report.elapsed_seconds = clock() - started
    report.check()
    if fatal is not None:
        raise IngestionStopped(_stopped_message(group_name, fatal.error, report), report)
    return report


def read_records(path: str | Path) -> Iterator[SourceRecord]:
    """Stream the records of a ``.csv``, ``.jsonl``/``.ndjson`` or ``.parquet`` file.

    CSV: a header row, then one record per row; values are strings and ``""`` means missing; a
    row with more fields than the header is malformed. JSON Lines: one object per line, blank
    lines skipped; a line that is not a JSON object is malformed (reported, not raised). Parquet:
    read batch by batch with pyarrow.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return _read_csv(path)
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _read_json_lines(path)
    if suffix in (".parquet", ".pq"):
        return _read_parquet(path)
    raise ValueError(f"cannot read '{path}': expected a .csv, .jsonl/.ndjson or .parquet file")


def is_retryable(error: BaseException) -> bool:
    """True for throttling, 5xx and 429 responses, timeouts and connection failures."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return code in _RETRYABLE_CODES or status >= 500 or status == 429
    return isinstance(error, botocore_errors.ConnectionError | botocore_errors.HTTPClientError)


def is_fatal(error: BaseException) -> bool:
    """True for errors that every record would hit: a missing group, access denied, no creds."""
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code", "") in _FATAL_CODES
    return isinstance(error, botocore_errors.NoCredentialsError)


def _put(
    client: FeatureStoreClient,
    group_name: str,
    record: list[dict[str, str]],
    item: SourceRecord,
    retry: RetryPolicy,
) -> _Outcome:
    """One PutRecord with retries (runs on a worker thread)."""
    for attempt in range(1, retry.max_attempts + 1):
        try:
            client.put_record(FeatureGroupName=group_name, Record=record)
            return _Outcome(item, retries=attempt - 1)
        except Exception as error:  # classified below; anything unknown rejects the record
            if is_fatal(error):
                return _Outcome(item, attempt - 1, error, STOPPED)
            if not is_retryable(error):
                return _Outcome(item, attempt - 1, error, _service_kind(error))
            if attempt == retry.max_attempts:
                return _Outcome(item, attempt - 1, error, RETRIES_EXHAUSTED)
            retry.backoff(attempt)
    raise AssertionError("unreachable: the last attempt returns")  # pragma: no cover


def _service_kind(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return SERVICE + str(error.response.get("Error", {}).get("Code", "Unknown"))
    return SERVICE + type(error).__name__


def describe_error(error: BaseException | None) -> str:
    """``Code: message`` of an AWS error, ``Type: message`` of any other."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'Unknown')}: {details.get('Message', '')}".rstrip(": ")
    return f"{type(error).__name__}: {error}"


def fatal_reason(group_name: str, error: BaseException | None, action: str) -> str:
    """Why calls to ``group_name`` cannot go on, as ingestion and lookups both say it.

    The group does not exist, access is denied, or (any other fatal error) ``cannot <action>``.
    """
    code = ""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
    if code.startswith("ResourceNotFound"):
        return f"feature group '{group_name}' does not exist (or is not in this region)"
    if code.startswith("Access"):
        return f"access to feature group '{group_name}' is denied"
    return f"cannot {action} feature group '{group_name}'"


def _stopped_message(group_name: str, error: BaseException | None, report: IngestionReport) -> str:
    what = fatal_reason(group_name, error, "write to")
    return (
        f"{what}: {describe_error(error)}. Stopped after reading {report.read} records: "
        f"{report.written} written, {report.rejected_total} rejected "
        f"(in-flight ones with kind '{STOPPED}' in {report.reject_file})"
    )


def _numbered(records: Iterable[Mapping[str, object] | SourceRecord]) -> Iterator[SourceRecord]:
    for position, item in enumerate(records, start=1):
        yield item if isinstance(item, SourceRecord) else SourceRecord(position, item)


def _read_csv(path: str | Path) -> Iterator[SourceRecord]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        # The line a row starts on (a quoted field may span lines; reader.line_num is the end).
        start = reader.line_num + 1
        for row in reader:
            if row:  # a blank line is no record
                yield _csv_row(header, row, start)
            start = reader.line_num + 1


def _csv_row(header: list[str], row: list[str], position: int) -> SourceRecord:
    if len(row) > len(header):
        return SourceRecord(
            position,
            None,
            f"row has {len(row)} fields but the header has {len(header)}",
            raw=_csv_text(row),
        )
    # A short row's trailing fields are missing, as an empty cell would be.
    padded = row + [""] * (len(header) - len(row))
    return SourceRecord(position, dict(zip(header, padded, strict=True)))


def _csv_text(row: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(row)
    return buffer.getvalue()


def _read_json_lines(path: str | Path) -> Iterator[SourceRecord]:
    with open(path, encoding="utf-8") as handle:
        yield from _json_lines(handle)


def _json_lines(handle: IO[str]) -> Iterator[SourceRecord]:
    for number, line in enumerate(handle, start=1):
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            yield SourceRecord(number, None, f"not valid JSON: {error}", raw=text)
            continue
        if not isinstance(value, dict):
            yield SourceRecord(
                number, None, f"a {type(value).__name__}, not a JSON object", raw=text
            )
            continue
        yield SourceRecord(number, value)


def _read_parquet(path: str | Path, batch_size: int = 10_000) -> Iterator[SourceRecord]:
    import pyarrow.parquet as pq  # deferred: only Parquet input needs pyarrow

    position = 0
    with pq.ParquetFile(path) as parquet:
        for batch in parquet.iter_batches(batch_size=batch_size):
            for row in batch.to_pylist():
                position += 1
                yield SourceRecord(position, row)
