"""SageMaker jobs (training, processing, hyperparameter tuning): find, list, stop, read their logs.

Plain boto3: every function takes the SageMaker (and CloudWatch Logs) client it calls, so the
command line, a notebook and the tests share them. A job is found by its full name; when its kind
is not given, the kinds are tried in :data:`KINDS` order.

Logs are CloudWatch Logs streams named ``<job>/<host>-<epoch>`` in ``/aws/sagemaker/TrainingJobs``
or ``/aws/sagemaker/ProcessingJobs``; a tuning job writes none of its own, so its logs are those
of the training jobs it launched (named ``<tuning job>-NNN-<hash>``, in the training group).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from workloads.ops.errors import OpsError, aws_errors, error_code, error_message, failed

#: The job kinds, in the order a name of unknown kind is looked up.
KINDS = ("training", "processing", "tuning")

#: Statuses after which a job changes no more (``Stopping`` is not one: it still runs).
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})

#: The statuses ``list_jobs`` can filter on (every kind knows them).
STATUSES = ("InProgress", "Completed", "Failed", "Stopping", "Stopped")

#: The longest pause between two polls of a followed job (seconds); a caller's longer request is
#: clamped so that Ctrl-C and the end of the job are noticed soon.
MAX_POLL_SECONDS = 60.0


@dataclass(frozen=True)
class JobKind:
    """How SageMaker's API spells one kind of job: its operations and fields."""

    name: str
    """``training``, ``processing`` or ``tuning``."""
    label: str
    """How a message names a job of this kind (``training job``)."""
    describe: str
    """The describe operation (boto3 method name)."""
    stop: str
    """The stop operation (boto3 method name)."""
    list: str
    """The list operation (boto3 method name)."""
    summaries: str
    """The list response's key holding the summaries."""
    name_key: str
    """The field holding the job's name."""
    status_key: str
    """The field holding the job's status."""
    log_group: str
    """The CloudWatch Logs group of the job's streams."""
    stream_separator: str
    """What follows the job's name in its streams' names (``/``; ``-`` for a tuning job,
    whose streams are those of its training jobs)."""


JOB_KINDS: dict[str, JobKind] = {
    "training": JobKind(
        name="training",
        label="training job",
        describe="describe_training_job",
        stop="stop_training_job",
        list="list_training_jobs",
        summaries="TrainingJobSummaries",
        name_key="TrainingJobName",
        status_key="TrainingJobStatus",
        log_group="/aws/sagemaker/TrainingJobs",
        stream_separator="/",
    ),
    "processing": JobKind(
        name="processing",
        label="processing job",
        describe="describe_processing_job",
        stop="stop_processing_job",
        list="list_processing_jobs",
        summaries="ProcessingJobSummaries",
        name_key="ProcessingJobName",
        status_key="ProcessingJobStatus",
        log_group="/aws/sagemaker/ProcessingJobs",
        stream_separator="/",
    ),
    "tuning": JobKind(
        name="tuning",
        label="tuning job",
        describe="describe_hyper_parameter_tuning_job",
        stop="stop_hyper_parameter_tuning_job",
        list="list_hyper_parameter_tuning_jobs",
        summaries="HyperParameterTuningJobSummaries",
        name_key="HyperParameterTuningJobName",
        status_key="HyperParameterTuningJobStatus",
        log_group="/aws/sagemaker/TrainingJobs",
        stream_separator="-",
    ),
}


@dataclass(frozen=True)
class Job:
    """One job as SageMaker describes it."""

    kind: JobKind
    """Its kind."""
    description: Mapping[str, Any]
    """The describe operation's response."""

    @property
    def name(self) -> str:
        """The job's name."""
        return str(self.description[self.kind.name_key])

    @property
    def status(self) -> str:
        """The job's status (``InProgress``, ``Completed``, ...)."""
        return str(self.description[self.kind.status_key])

    @property
    def finished(self) -> bool:
        """Whether the job is in a terminal state."""
        return self.status in TERMINAL_STATUSES


def region_of(client: Any) -> str:
    """The region a client calls (for messages)."""
    return str(client.meta.region_name)


def is_not_found(error: ClientError) -> bool:
    """Whether a describe call failed because the resource does not exist.

    AWS words it differently per operation ("Requested resource not found", "Could not find
    requested job", ResourceNotFound for tuning jobs; moto "Could not find ...").
    """
    message = error_message(error).lower()
    return error_code(error) in {"ResourceNotFound", "ResourceNotFoundException"} or (
        error_code(error) == "ValidationException"
        and any(words in message for words in ("not found", "could not find", "does not exist"))
    )


def kinds_named(kind: str | None) -> tuple[JobKind, ...]:
    """The kinds ``kind`` stands for (None or ``all``: every kind)."""
    if kind is None or kind == "all":
        return tuple(JOB_KINDS[name] for name in KINDS)
    return (JOB_KINDS[kind],)


def describe_job(client: Any, name: str, kinds: Sequence[JobKind]) -> Job:
    """The job ``name`` of the first of ``kinds`` that has one; ``OpsError`` naming the region.

    Other AWS errors (no credentials, access denied) are raised as they come, not taken for a
    missing job.
    """
    for kind in kinds:
        try:
            description = getattr(client, kind.describe)(**{kind.name_key: name})
        except ClientError as error:
            if is_not_found(error):
                continue
            raise failed(f"Describing {kind.label} '{name}'", error) from error
        return Job(kind, description)
    raise OpsError(f"no {kinds_label(kinds)} '{name}' in {region_of(client)}")


def kinds_label(kinds: Sequence[JobKind]) -> str:
    """``training job``, or ``training, processing or tuning job`` for several kinds."""
    names = [kind.name for kind in kinds]
    if len(names) == 1:
        return kinds[0].label
    return f"{', '.join(names[:-1])} or {names[-1]} job"


def stop_job(client: Any, job: Job) -> None:
    """Ask SageMaker to stop ``job``; a job already finished (or stopping) is an ``OpsError``."""
    if job.finished or job.status == "Stopping":
        state = "is already stopping" if job.status == "Stopping" else f"already {job.status}"
        raise OpsError(f"{job.kind.label} '{job.name}' {state}; nothing to stop")
    with aws_errors(f"Stopping {job.kind.label} '{job.name}'"):
        getattr(client, job.kind.stop)(**{job.kind.name_key: job.name})


def list_jobs(
    client: Any,
    kinds: Sequence[JobKind],
    *,
    status: str | None = None,
    name_contains: str | None = None,
    max_results: int = 20,
) -> list[dict[str, Any]]:
    """The newest ``max_results`` jobs of ``kinds`` (newest first), as summary rows."""
    rows: list[dict[str, Any]] = []
    for kind in kinds:
        arguments: dict[str, Any] = {"SortBy": "CreationTime", "SortOrder": "Descending"}
        if status:
            arguments["StatusEquals"] = status
        if name_contains:
            arguments["NameContains"] = name_contains
        with aws_errors(f"Listing {kind.label}s"):
            rows.extend(_summaries(client, kind, arguments, max_results))
    # Sorted here too: kinds are merged, and moto ignores SortBy.
    rows.sort(key=lambda row: row["created"] or datetime.min, reverse=True)
    return rows[:max_results]


def _summaries(
    client: Any, kind: JobKind, arguments: dict[str, Any], limit: int
) -> Iterator[dict[str, Any]]:
    count = 0
    token: str | None = None
    while count < limit:
        page = getattr(client, kind.list)(
            **arguments, MaxResults=min(100, limit), **({"NextToken": token} if token else {})
        )
        for summary in page.get(kind.summaries, []):
            yield _summary_row(kind, summary)
            count += 1
        token = page.get("NextToken")
        if not token:
            return


def _summary_row(kind: JobKind, summary: Mapping[str, Any]) -> dict[str, Any]:
    end = (
        summary.get("TrainingEndTime")
        or summary.get("ProcessingEndTime")
        or summary.get("HyperParameterTuningEndTime")
    )
    return {
        "name": summary[kind.name_key],
        "kind": kind.name,
        "status": summary.get(kind.status_key),
        "created": summary.get("CreationTime"),
        "ended": end,
        "failure_reason": summary.get("FailureReason"),
    }


def job_report(job: Job) -> dict[str, Any]:
    """What ``jobs status`` shows: status, times, billing, spot savings, failure, final metrics."""
    description = job.description
    report: dict[str, Any] = {
        "name": job.name,
        "kind": job.kind.name,
        "arn": description.get(f"{job.kind.name_key[:-4]}Arn"),
        "status": job.status,
        "secondary_status": description.get("SecondaryStatus"),
        "created": description.get("CreationTime"),
        "started": description.get("TrainingStartTime")
        or description.get("ProcessingStartTime")
        or description.get("HyperParameterTuningStartTime"),
        "ended": description.get("TrainingEndTime")
        or description.get("ProcessingEndTime")
        or description.get("HyperParameterTuningEndTime"),
        "last_modified": description.get("LastModifiedTime"),
        "training_seconds": description.get("TrainingTimeInSeconds"),
        "billable_seconds": description.get("BillableTimeInSeconds"),
        "spot_savings_percent": spot_savings_percent(description),
        "failure_reason": description.get("FailureReason") or None,
        "exit_message": description.get("ExitMessage") or None,
        "final_metrics": final_metrics(job),
    }
    if job.kind.name == "tuning":
        report["training_jobs"] = description.get("TrainingJobStatusCounters")
        report["best_training_job"] = (description.get("BestTrainingJob") or {}).get(
            "TrainingJobName"
        )
        report["runtime_seconds"] = (description.get("ConsumedResources") or {}).get(
            "RuntimeInSeconds"
        )
    return report


def spot_savings_percent(description: Mapping[str, Any]) -> float | None:
    """How much managed spot saved, as SageMaker reports it: 1 - billable / training time.

    None for a job without managed spot, or before it has run.
    """
    training = description.get("TrainingTimeInSeconds")
    billable = description.get("BillableTimeInSeconds")
    if not description.get("EnableManagedSpotTraining") or not training or billable is None:
        return None
    return round(100.0 * (1 - billable / training), 1)


def final_metrics(job: Job) -> dict[str, float]:
    """A training job's final metrics, or a tuning job's best objective value, by name."""
    description = job.description
    if job.kind.name == "tuning":
        best = (description.get("BestTrainingJob") or {}).get(
            "FinalHyperParameterTuningJobObjectiveMetric"
        )
        return {str(best["MetricName"]): float(best["Value"])} if best else {}
    return {
        str(metric["MetricName"]): float(metric["Value"])
        for metric in description.get("FinalMetricDataList") or []
    }


@dataclass(frozen=True)
class LogLine:
    """One log event of a job."""

    stream: str
    """The CloudWatch Logs stream it came from."""
    timestamp: int
    """When it was logged (milliseconds since the epoch)."""
    message: str
    """The line, without its trailing newline."""


@dataclass
class LogTail:
    """Reads a job's log streams from where the last read stopped (one token per stream).

    Streams that appear later (a job's second instance, a tuning job's next training job) are
    picked up by the next :meth:`read`.
    """

    client: Any
    """The CloudWatch Logs client."""
    group: str
    """The log group."""
    prefix: str
    """The streams' name prefix."""
    start_time: int | None = None
    """Skip events before this (milliseconds since the epoch; None: from the first)."""
    tokens: dict[str, str | None] = field(default_factory=dict)
    """Each known stream's forward token (None: not read yet)."""

    def read(self) -> list[LogLine]:
        """The events logged since the last read, stream by stream."""
        for stream in self._streams():
            self.tokens.setdefault(stream, None)
        lines: list[LogLine] = []
        for stream in sorted(self.tokens):
            lines.extend(self._read_stream(stream))
        return lines

    def _streams(self) -> list[str]:
        names: list[str] = []
        arguments: dict[str, Any] = {"logGroupName": self.group, "logStreamNamePrefix": self.prefix}
        with aws_errors(f"Listing the log streams '{self.prefix}*' in {self.group}"):
            while True:
                try:
                    page = self.client.describe_log_streams(**arguments)
                except ClientError as error:
                    if error_code(error) == "ResourceNotFoundException":
                        return []  # no job of this kind has logged yet in this region
                    raise
                names.extend(stream["logStreamName"] for stream in page.get("logStreams", []))
                if not page.get("nextToken"):
                    return names
                arguments["nextToken"] = page["nextToken"]

    def _read_stream(self, stream: str) -> list[LogLine]:
        lines: list[LogLine] = []
        with aws_errors(f"Reading the log stream '{stream}'"):
            while True:
                arguments: dict[str, Any] = {
                    "logGroupName": self.group,
                    "logStreamName": stream,
                    "startFromHead": True,
                }
                token = self.tokens[stream]
                if token is not None:
                    arguments["nextToken"] = token
                elif self.start_time is not None:
                    arguments["startTime"] = self.start_time
                page = self.client.get_log_events(**arguments)
                events = page.get("events", [])
                lines.extend(
                    LogLine(stream, int(event["timestamp"]), str(event["message"]).rstrip("\n"))
                    for event in events
                )
                next_token = page.get("nextForwardToken")
                # The same token again (or no events) means the end of the stream for now.
                unchanged = next_token == token
                self.tokens[stream] = next_token or token
                if unchanged or not events:
                    return lines


def log_tail(logs_client: Any, job: Job, start_time: int | None = None) -> LogTail:
    """A :class:`LogTail` on ``job``'s streams."""
    prefix = f"{job.name}{job.kind.stream_separator}"
    return LogTail(logs_client, job.kind.log_group, prefix, start_time)


def follow_logs(
    sagemaker: Any,
    logs_client: Any,
    job: Job,
    emit: Callable[[LogLine], None],
    *,
    follow: bool = False,
    start_time: int | None = None,
    poll_seconds: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Job:
    """Print ``job``'s logs through ``emit``; with ``follow``, until the job ends; the last state.

    Following re-reads the job's status before each read of its logs; once it is terminal, one
    more read after a pause drains what CloudWatch Logs delivered late, then it returns.
    """
    tail = log_tail(logs_client, job, start_time)
    pause = min(max(poll_seconds, 0.0), MAX_POLL_SECONDS)
    while True:
        finished = job.finished
        for line in tail.read():
            emit(line)
        if not follow:
            return job
        sleep(pause)
        if finished:
            for line in tail.read():
                emit(line)
            return job
        job = describe_job(sagemaker, job.name, (job.kind,))
