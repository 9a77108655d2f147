"""``ml-platform jobs``: list SageMaker training, processing and tuning jobs; status, logs, stop.

The work is done by :mod:`workloads.ops.jobs` (plain boto3), imported inside the commands.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ml_platform_cli.aws_calls import operation, ops_errors
from ml_platform_cli.errors import FAILED, CliError
from ml_platform_cli.output import emit, stderr, table
from ml_platform_cli.stack import StackContext, StackOptions, json_option, stack_options

#: ``--kind`` of the commands that act on one job (default: each kind is tried in this order).
JOB_KINDS = ("training", "processing", "tuning")

#: The statuses ``jobs list --status`` filters on (as SageMaker spells them).
JOB_STATUSES = ("InProgress", "Completed", "Failed", "Stopping", "Stopped")

#: SageMaker's name prefix for the jobs of pipeline steps that name none (tuning steps): such a
#: name is never expanded to ``mlp-<env>-...``.
GENERATED_JOB_PREFIX = "pipelines-"

#: ``--since``: a duration back from now (``30s``, ``15m``, ``2h``, ``1d``).
DURATION = re.compile(r"^(\d+)([smhd])$")
#: Seconds per unit of a ``--since`` duration.
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SinceType(click.ParamType):
    """``--since``: a duration back from now or an ISO time; milliseconds since the epoch."""

    name = "since"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        """The time ``value`` stands for, in milliseconds since the epoch (UTC)."""
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if match := DURATION.match(text):
            seconds = int(match.group(1)) * UNIT_SECONDS[match.group(2)]
            moment = datetime.now(UTC) - timedelta(seconds=seconds)
        else:
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                self.fail(
                    f"'{text}' is neither a duration (30s, 15m, 2h, 1d) nor an ISO time"
                    " (2026-01-31T12:00:00Z)",
                    param,
                    ctx,
                )
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)


kind_option = click.option(
    "--kind",
    type=click.Choice(JOB_KINDS),
    help="the job's kind (default: look for a training, then processing, then tuning job)",
)


def job_name(context: StackContext, name: str) -> str:
    """``name`` as deployed: ``mlp-<env>-<name>`` with a stack, except full and generated names."""
    if name.startswith(GENERATED_JOB_PREFIX):
        return name
    return context.resource_name(name)


def find_job(where: StackOptions, name: str, kind: str | None) -> tuple[Any, Any, Any]:
    """Connect, then find the job ``name`` (of ``kind``, else of any kind).

    The session, its SageMaker client and the job (``workloads.ops.jobs.Job``); a missing job is
    one line naming the resolved name and the region.
    """
    from workloads.ops import jobs as ops

    target = where.connect()
    client = target.session.client("sagemaker")
    with operation(target):
        job = ops.describe_job(client, job_name(target.context, name), ops.kinds_named(kind))
    return target.session, client, job


def when(value: Any) -> Any:
    """A time for a table: ``2026-01-31 12:00:05`` in UTC (other values as they are)."""
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return value


def named_table(columns: tuple[str, ...], rows: Any) -> Table:
    """A table whose first column (a name or ARN) folds instead of being cut short."""
    result = table(None, columns, rows)
    result.columns[0].overflow = "fold"
    return result


@click.group("jobs")
def jobs() -> None:
    r"""SageMaker training, processing and tuning jobs: list, status, logs, stop.

    A short NAME with --stack is expanded as the platform names things (churn-1 in dev:
    mlp-dev-churn-1); full names (mlp-...) and SageMaker's generated pipelines-... names are used
    as given.

    \b
    Examples:
      ml-platform jobs list --stack dev --kind training --status Failed
      ml-platform jobs status mlp-dev-churn-abc123-Train --json
      ml-platform jobs logs mlp-dev-churn-abc123-Train --follow
      ml-platform jobs stop pipelines-x1y2z3 --kind tuning --stack dev
    """


@jobs.command("list")
@click.option(
    "--kind",
    type=click.Choice((*JOB_KINDS, "all")),
    default="all",
    show_default=True,
    help="which kind of jobs",
)
@click.option("--status", type=click.Choice(JOB_STATUSES), help="only jobs in this status")
@click.option("--name-contains", help="only jobs whose name contains this text")
@click.option(
    "--max",
    "max_results",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="at most this many jobs (the newest)",
)
@stack_options
@json_option
def list_jobs(
    kind: str,
    status: str | None,
    name_contains: str | None,
    max_results: int,
    where: StackOptions,
    as_json: bool,
) -> None:
    r"""List the newest jobs, newest first.

    \b
    Examples:
      ml-platform jobs list --stack dev
      ml-platform jobs list --kind processing --name-contains monitor --max 5 --stack dev
      ml-platform jobs list --status InProgress --region eu-west-1 --json
    """
    from workloads.ops import jobs as ops

    # Not where.connect(): without credentials the message names the call that needed them
    # ("Listing training jobs failed: no AWS credentials found; ..."), as it always has.
    client = where.context().session().client("sagemaker")
    with ops_errors():
        rows = ops.list_jobs(
            client,
            ops.kinds_named(kind),
            status=status,
            name_contains=name_contains,
            max_results=max_results,
        )

    def render(console: Console) -> None:
        if not rows:
            console.print(f"no jobs found in {ops.region_of(client)}", markup=False)
            return
        columns = ("name", "kind", "status", "created", "ended", "failure")
        keys = ("name", "kind", "status", "created", "ended", "failure_reason")
        console.print(named_table(columns, ([when(row[key]) for key in keys] for row in rows)))

    emit(rows, as_json, render)


@jobs.command("status")
@click.argument("name")
@kind_option
@stack_options
@json_option
def status(
    name: str,
    kind: str | None,
    where: StackOptions,
    as_json: bool,
) -> None:
    r"""Show a job's status, times, billable seconds, spot savings, failure and final metrics.

    \b
    Examples:
      ml-platform jobs status mlp-dev-churn-abc123-Train
      ml-platform jobs status pipelines-x1y2z3 --kind tuning --stack dev --json
    """
    from workloads.ops import jobs as ops

    _, _, job = find_job(where, name, kind)
    report = ops.job_report(job)

    def render(console: Console) -> None:
        rows = [
            (key.replace("_", " "), when(value))
            for key, value in report.items()
            if key != "final_metrics" and value is not None
        ]
        rows += [(f"metric {metric}", value) for metric, value in report["final_metrics"].items()]
        result = table(f"{job.kind.label} {job.name}", ("field", "value"), rows)
        result.columns[1].overflow = "fold"
        console.print(result)

    emit(report, as_json, render)


@jobs.command("logs")
@click.argument("name")
@kind_option
@click.option("--follow", "-f", is_flag=True, help="keep printing until the job ends")
@click.option(
    "--since",
    type=SinceType(),
    help="only events after this: a duration back from now (30m, 2h, 1d) or an ISO time",
)
@click.option(
    "--poll-seconds",
    type=click.FloatRange(0, 60),
    default=5.0,
    hidden=True,
    help="seconds between two polls with --follow",
)
@stack_options
def logs(
    name: str,
    kind: str | None,
    follow: bool,
    since: int | None,
    poll_seconds: float,
    where: StackOptions,
) -> None:
    r"""Print a job's CloudWatch Logs, each line as [stream] message.

    Training jobs log to /aws/sagemaker/TrainingJobs, processing jobs to
    /aws/sagemaker/ProcessingJobs, in streams named after the job; a tuning job's logs are those
    of its training jobs. --follow keeps polling until the job is Completed, Failed or Stopped
    (exit 1 unless Completed); Ctrl-C stops it (exit 130).

    \b
    Examples:
      ml-platform jobs logs mlp-dev-churn-abc123-Train --since 30m
      ml-platform jobs logs mlp-dev-churn-monitor-x1y2z3 --kind processing --follow
      ml-platform jobs logs pipelines-x1y2z3 --kind tuning --stack dev
    """
    from workloads.ops import jobs as ops

    session, sagemaker, job = find_job(where, name, kind)
    printed = 0

    def print_line(line: Any) -> None:
        nonlocal printed
        printed += 1
        click.echo(f"[{line.stream}] {line.message}")

    with ops_errors():
        job = ops.follow_logs(
            sagemaker,
            session.client("logs"),
            job,
            print_line,
            follow=follow,
            start_time=since,
            poll_seconds=poll_seconds,
        )
    if not printed:
        stderr().print(
            f"no log events for {job.kind.label} '{job.name}' ({job.status})", markup=False
        )
    if follow and job.status != "Completed":
        reason = job.description.get("FailureReason")
        raise CliError(
            f"{job.kind.label} '{job.name}' {job.status}" + (f": {reason}" if reason else ""),
            FAILED,
        )


@jobs.command("stop")
@click.argument("name")
@kind_option
@stack_options
def stop(
    name: str,
    kind: str | None,
    where: StackOptions,
) -> None:
    r"""Stop a running job (StopTrainingJob, StopProcessingJob, StopHyperParameterTuningJob).

    A job that has already finished is an error (exit 1); SageMaker stops the job
    asynchronously (status Stopping, then Stopped).

    \b
    Examples:
      ml-platform jobs stop mlp-dev-churn-abc123-Train
      ml-platform jobs stop pipelines-x1y2z3 --kind tuning --stack dev
    """
    from workloads.ops import jobs as ops

    _, client, job = find_job(where, name, kind)
    with ops_errors():
        ops.stop_job(client, job)
    click.echo(f"stopping {job.kind.label} '{job.name}' (was {job.status})")


def register(cli: click.Group) -> None:
    """Add the ``jobs`` group to ``cli``."""
    cli.add_command(jobs)
