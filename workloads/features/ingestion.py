"""Write records to a feature group with PutRecord: streamed, concurrent, retried, accounted for.

:func:`ingest` reads records lazily, validates each (:mod:`workloads.features.validation`), and
keeps at most ``max_in_flight`` PutRecord calls pending on a pool of ``max_workers`` threads, so a
10-million-row file needs the memory of a few dozen records. Throttling and transient errors are
retried with exponential backoff and full jitter; a record that cannot be written goes to the
reject file (JSON Lines) with its position and the reason; a missing group or missing permission
stops the run. Nothing is dropped silently: ``read == written + rejected``, and for a file read
with :func:`read_records` every physical line is part of a record read or skipped (header, blank).

:func:`read_records` (from :mod:`workloads.features.sources`) streams CSV, JSON Lines and Parquet
files as :class:`SourceRecord` items within the bounds of
:class:`~workloads.features.limits.InputLimits`.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore import exceptions as botocore_errors
from botocore.exceptions import ClientError

from workloads.features.definitions import FeatureGroupDefinition
from workloads.features.event_time import shown
from workloads.features.limits import DEFAULT_LIMITS
from workloads.features.sources import (
    MALFORMED,
    OVER_LIMIT,
    InputError,
    RecordSource,
    SourceRecord,
    SourceStats,
    read_records,
)
from workloads.features.validation import Problem, Rejection, validate_record

__all__ = [
    "MALFORMED",
    "OVER_LIMIT",
    "RETRIES_EXHAUSTED",
    "SERVICE",
    "STOPPED",
    "UNEXPECTED",
    "IngestionReport",
    "IngestionStopped",
    "InputError",
    "RecordSource",
    "RetryPolicy",
    "SourceRecord",
    "default_client",
    "ingest",
    "is_fatal",
    "is_retryable",
    "read_records",
]

# boto3 generates client classes at run time; operations take the client as ``Any``.
FeatureStoreClient = Any

#: The reject kind of a record still failing with a retryable error after every attempt.
RETRIES_EXHAUSTED = "retries_exhausted"
#: The reject kind of a record in flight when the run stopped (see :class:`IngestionStopped`).
STOPPED = "stopped"
#: The reject kind prefix of a record the service refused, e.g. ``service:ValidationError``.
SERVICE = "service:"
#: The reject kind of a record whose processing failed in a way no rule foresaw (a bug to report).
UNEXPECTED = "unexpected_error"

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
    """What a run did. ``read == written + sum(rejected.values())`` always holds.

    For a file read with :func:`read_records` the ``input_*`` fields also account for every
    physical line: ``input_lines == skipped_lines + record_lines``.
    """

    group_name: str
    """The FeatureGroupName written to."""
    read: int = 0
    """Input items read (rejected ones included)."""
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
    input_lines: int | None = None
    """Physical lines consumed (Parquet: rows); None when the records did not come from a file."""
    input_bytes: int | None = None
    """Bytes consumed (None for Parquet and for records not from a file)."""
    skipped_lines: int | None = None
    """Lines holding no record (CSV header, blank lines)."""
    record_lines: int = 0
    """Lines the items read span (a CSV record may span several)."""
    input_complete: bool | None = None
    """True when the whole input file was read; None when not from a file."""
    stopped: str | None = None
    """Why the run stopped before the end of its input, if it did."""

    @property
    def rejected_total(self) -> int:
        """Every rejected record, all kinds."""
        return sum(self.rejected.values())

    def check(self) -> None:
        """Raise ``AssertionError`` unless every record (and input line) read is accounted for."""
        if self.read != self.written + self.rejected_total:
            raise AssertionError(
                f"{self.read} records read but {self.written} written and "
                f"{self.rejected_total} rejected: {self.read - self.written - self.rejected_total} "
                "unaccounted for"
            )
        lines = self.input_lines
        if lines is not None and lines != (self.skipped_lines or 0) + self.record_lines:
            raise AssertionError(
                f"{lines} input lines but {self.skipped_lines} skipped and "
                f"{self.record_lines} in the records read"
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
            "input_lines": self.input_lines,
            "input_bytes": self.input_bytes,
            "skipped_lines": self.skipped_lines,
            "record_lines": self.record_lines,
            "input_complete": self.input_complete,
            "stopped": self.stopped,
        }

    def take_stats(self, stats: SourceStats) -> None:
        """Copy what the reader consumed into the report."""
        self.input_lines = stats.lines
        self.input_bytes = stats.bytes
        self.skipped_lines = stats.skipped_lines
        self.input_complete = stats.complete


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
    max_number_digits: int = DEFAULT_LIMITS.max_number_digits,
) -> IngestionReport:
    """Write ``records`` to ``group_name`` with PutRecord; the report of what happened.

    ``records`` are mappings (positions are counted from 1) or :class:`SourceRecord` items from
    :func:`read_records` (a :class:`RecordSource`, whose line counts go into the report). At most
    ``max_in_flight`` (default ``2 * max_workers``) records are pending at once, and the input is
    read only as calls complete. ``reject_file`` is (re)written: one JSON line per rejected
    record with its ``position``, the ``record`` as given (or ``raw`` text), ``kind`` and
    ``reason``. ``max_number_digits`` bounds numeric text (see :func:`validate_record`).

    A record whose processing fails unexpectedly is rejected (kind ``unexpected_error``), never
    raised. Raises :class:`IngestionStopped`, carrying the report, after the in-flight calls have
    finished: when the group does not exist or access is denied, when the input cannot be read
    any further (e.g. a corrupt Parquet page), or when the reject file cannot be written.
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
    stop: str | None = None  # why reading stopped, other than a fatal PutRecord error
    write_error: OSError | None = None

    def reject(item: SourceRecord, kind: str, reason: str) -> None:
        nonlocal write_error
        rejected[kind] += 1  # counted even if the line cannot be written
        if write_error is None:
            try:
                rejects.write(_reject_line(item, kind, reason) + "\n")
            except OSError as error:
                write_error = error

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

    items = _numbered(records)
    with (
        open(reject_file, "w", encoding="utf-8") as rejects,
        ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="put-record") as pool,
    ):
        pending: set[Future[_Outcome]] = set()
        try:
            while fatal is None and write_error is None:
                try:
                    item = next(items)
                except StopIteration:
                    break
                except Exception as error:  # the input cannot be read any further
                    stop = f"cannot read the input: {describe_error(error)}"
                    break
                report.read += 1
                report.record_lines += item.lines
                checked = _check(item, definition, max_number_digits)
                if isinstance(checked, Rejection):
                    reject(item, checked.kind, checked.reason)
                    continue
                pending.add(pool.submit(_put, client, group_name, checked, item, retry))
                # Read the next record only once a slot is free: the input is consumed lazily.
                while len(pending) >= limit and fatal is None:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        settle(future.result())
        finally:
            # Finish what is in flight even when stopping, so every record read is accounted.
            for future in pending:
                settle(future.result())
            if isinstance(records, RecordSource):
                report.take_stats(records.stats)
                records.close()
    report.rejected = dict(rejected)
    report.elapsed_seconds = clock() - started
    if write_error is not None:
        stop = f"cannot write the reject file {reject_file}: {describe_error(write_error)}"
    if fatal is not None:
        stop = _stopped_message(group_name, fatal.error, report)
    elif stop is not None:
        stop = f"{stop}. {_stopped_after(report)}"
    report.stopped = stop
    report.check()
    if stop is not None:
        raise IngestionStopped(stop, report)
    return report


def _check(
    item: SourceRecord, definition: FeatureGroupDefinition, max_number_digits: int
) -> list[dict[str, str]] | Rejection:
    """The PutRecord record of ``item``, or why it is rejected; never raises."""
    if item.values is None:
        return Rejection((Problem(item.kind or MALFORMED, item.problem or "not a record"),))
    try:
        checked = validate_record(item.values, definition, max_number_digits=max_number_digits)
    except Exception as error:  # validate_record should never raise; if it does, one record pays
        return Rejection((Problem(UNEXPECTED, describe_error(error)),))
    return checked if isinstance(checked, Rejection) else checked.record


def _reject_line(item: SourceRecord, kind: str, reason: str) -> str:
    """One reject-file line; a value JSON cannot hold is shown by its (shortened) repr."""
    key, content = ("record", item.values) if item.values is not None else ("raw", item.raw)
    try:
        value = dict(content) if isinstance(content, Mapping) else content
        # default=str: Parquet rows hold datetimes and decimals.
        line = {"position": item.position, key: value, "kind": kind, "reason": reason}
        text = json.dumps(line, default=str, ensure_ascii=False)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (JSON's "\ud800"): keep it escaped
            text = json.dumps(line, default=str)
        return text
    except Exception:  # e.g. an int past Python's 4300-digit str() limit
        line = {"position": item.position, key: shown(content, 1024), "kind": kind}
        return json.dumps({**line, "reason": reason}, default=str, ensure_ascii=False)


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


def _stopped_after(report: IngestionReport) -> str:
    where = "" if report.input_lines is None else f" ({report.input_lines} input lines)"
    return (
        f"Stopped after reading {report.read} records{where}: {report.written} written, "
        f"{report.rejected_total} rejected (see {report.reject_file})"
    )


def _numbered(records: Iterable[Mapping[str, object] | SourceRecord]) -> Iterator[SourceRecord]:
    for position, item in enumerate(records, start=1):
        yield item if isinstance(item, SourceRecord) else SourceRecord(position, item)
