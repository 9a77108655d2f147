"""``ml-platform pipelines``: start the platform's SageMaker pipelines, follow and list them.

The work is done by :mod:`workloads.ops.pipelines` (plain boto3), imported inside the commands.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

import click
from rich.console import Console

from ml_platform_cli.aws_calls import operation, ops_errors
from ml_platform_cli.errors import FAILED, USAGE, CliError
from ml_platform_cli.jobs import named_table, when
from ml_platform_cli.output import emit, stderr
from ml_platform_cli.stack import StackOptions, json_option, stack_options

#: StartPipelineExecution's PipelineExecutionDisplayName: 1-82 letters, digits and inner hyphens.
DISPLAY_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}$")


def parse_parameters(values: tuple[str, ...]) -> dict[str, str]:
    """``--parameter K=V`` values as a mapping; a value without ``=`` or a repeated key: exit 2."""
    parameters: dict[str, str] = {}
    for value in values:
        key, equals, text = value.partition("=")
        if not equals or not key.strip():
            raise CliError(f"--parameter '{value}' is not KEY=VALUE", USAGE)
        if key in parameters:
            raise CliError(f"--parameter '{key}' is given twice", USAGE)
        parameters[key] = text
    return parameters


@click.group("pipelines")
def pipelines() -> None:
    r"""The stack's SageMaker pipelines: start one, show an execution's steps, list them all.

    A short NAME with --stack is the platform's name: churn in dev is the training pipeline
    mlp-dev-churn, churn-monitor its drift monitor mlp-dev-churn-monitor.

    \b
    Examples:
      ml-platform pipelines list --stack dev
      ml-platform pipelines start churn --stack dev --parameter TrainData=s3://bucket/train/ --wait
      ml-platform pipelines status churn --stack dev
    """


@pipelines.command("start")
@click.argument("name")
@click.option(
    "--parameter",
    "-p",
    "parameter_values",
    multiple=True,
    metavar="KEY=VALUE",
    help="a pipeline parameter for this execution (repeatable; others keep their defaults)",
)
@click.option("--display-name", help="the execution's display name (letters, digits, hyphens)")
@click.option(
    "--wait", is_flag=True, help="wait until the execution ends (exit 1 unless it succeeds)"
)
@click.option(
    "--poll-seconds",
    type=click.FloatRange(0, 60),
    default=30.0,
    hidden=True,
    help="seconds between two polls with --wait",
)
@stack_options
@json_option
def start(
    name: str,
    parameter_values: tuple[str, ...],
    display_name: str | None,
    wait: bool,
    poll_seconds: float,
    where: StackOptions,
    as_json: bool,
) -> None:
    r"""Start an execution of pipeline NAME; print its ARN.

    Parameters the pipeline does not declare are refused before anything starts.

    \b
    Examples:
      ml-platform pipelines start churn --stack dev
      ml-platform pipelines start churn --stack dev -p TrainData=s3://mlp-dev-processed/churn/train/
      ml-platform pipelines start mlp-dev-churn-monitor --display-name rerun-1 --wait --json
    """
    from workloads.ops import pipelines as ops

    parameters = parse_parameters(parameter_values)
    if display_name is not None and not DISPLAY_NAME.match(display_name):
        raise CliError(
            f"--display-name '{display_name}' must be 1-82 letters, digits and inner hyphens",
            USAGE,
        )
    target = where.connect()
    pipeline = target.context.resource_name(name)
    client = target.session.client("sagemaker")
    with operation(target):
        declared = ops.parameter_names(ops.describe_pipeline(client, pipeline))
        unknown = [key for key in parameters if declared is not None and key not in declared]
        if unknown:
            raise CliError(
                f"pipeline '{pipeline}' has no parameter {', '.join(map(repr, unknown))}"
                f" (it has: {', '.join(declared or []) or 'none'})",
                USAGE,
            )
        arn = ops.start_execution(client, pipeline, parameters, display_name)
        result: dict[str, Any] = {"pipeline": pipeline, "execution": arn, "status": "Executing"}
        if wait:
            if not as_json:
                click.echo(arn)
            progress = stderr()
            final = ops.wait_for_execution(
                client,
                pipeline,
                arn,
                poll_seconds=poll_seconds,
                on_change=lambda status: progress.print(f"{pipeline}: {status}", markup=False),
            )
            result["status"] = final.get("PipelineExecutionStatus")
            result["failure_reason"] = final.get("FailureReason") or None
    if as_json:
        emit(result, True, lambda _: None)
    elif not wait:
        click.echo(arn)
    if wait and result["status"] != "Succeeded":
        reason = result.get("failure_reason")
        raise CliError(
            f"pipeline '{pipeline}' execution {result['status']}"
            + (f": {reason}" if reason else "")
            + f" (ml-platform pipelines status {pipeline} --execution {arn})",
            FAILED,
        )


@pipelines.command("status")
@click.argument("name")
@click.option(
    "--execution",
    default="latest",
    show_default=True,
    help="the execution's ARN, or latest",
)
@stack_options
@json_option
def status(
    name: str,
    execution: str,
    where: StackOptions,
    as_json: bool,
) -> None:
    r"""Show an execution of pipeline NAME: its status and each step's status and failure.

    \b
    Examples:
      ml-platform pipelines status churn --stack dev
      ml-platform pipelines status churn-monitor --stack dev --json
      ml-platform pipelines status mlp-dev-churn \
        --execution arn:aws:sagemaker:us-east-1:123456789012:pipeline/mlp-dev-churn/execution/abc
    """
    from workloads.ops import pipelines as ops

    # Not where.connect(): an --execution ARN of another pipeline is refused before any call,
    # so without credentials too.
    context = where.context()
    pipeline = context.resource_name(name)
    client = context.session().client("sagemaker")
    with ops_errors():
        report = ops.execution_report(client, pipeline, execution)

    def render(console: Console) -> None:
        # AWS's text (failure reasons) is printed as is, never read as rich markup.
        say = partial(console.print, markup=False)
        say(f"{report['pipeline']}: {report['status']}")
        say(f"execution {report['execution']}")
        say(f"started {when(report['created'])}, last change {when(report['last_modified'])}")
        if report["failure_reason"]:
            say(f"failure: {report['failure_reason']}")
        # One line per step rather than a table: failure reasons stay whole at any width.
        say("steps:" if report["steps"] else "steps: none yet")
        for step in report["steps"]:
            line = f"  {step['name']}: {step['status']} ({when(step['started']) or '-'}"
            line += f" to {when(step['ended']) or '-'})"
            if step["job"]:
                line += f", {step['job_kind']} job {step['job']}"
            if step["failure_reason"]:
                line += f", failed: {step['failure_reason']}"
            say(line)

    emit(report, as_json, render)


@pipelines.command("list")
@stack_options
@json_option
def list_pipelines(
    where: StackOptions,
    as_json: bool,
) -> None:
    r"""List the stack's pipelines (training, drift, retraining, optimization) and their latest run.

    The pipelines come from the stack file's config; one not found in AWS shows as not deployed.

    \b
    Examples:
      ml-platform pipelines list --stack dev
      ml-platform pipelines list --stack prod --json
    """
    from workloads.ops import pipelines as ops

    context = where.context()
    if context.environment is None:
        raise CliError(
            "pipelines list needs --stack or --stack-file: the pipelines come from the stack's"
            " config",
            USAGE,
        )
    # Not where.connect(): a stack that configures no pipelines is listed without credentials.
    client = context.session().client("sagemaker")
    rows: list[dict[str, Any]] = []
    for pipeline in ops.stack_pipelines(context.config, context.environment):
        row: dict[str, Any] = {
            "name": pipeline.name,
            "kinds": list(pipeline.kinds),
            "started_by": list(pipeline.started_by),
            "deployed": True,
            "latest_execution": None,
        }
        try:
            with ops_errors():
                latest = ops.latest_execution(client, pipeline.name)
        except CliError as error:
            if not isinstance(error.__cause__, ops.PipelineNotFound):
                raise
            row["deployed"] = False
        else:
            if latest is not None:
                row["latest_execution"] = {
                    "arn": latest.get("PipelineExecutionArn"),
                    "status": latest.get("PipelineExecutionStatus"),
                    "started": latest.get("StartTime"),
                    "failure_reason": latest.get("PipelineExecutionFailureReason") or None,
                }
        rows.append(row)

    def render(console: Console) -> None:
        if not rows:
            console.print(
                f"stack file '{context.stack_file}' configures no pipelines", markup=False
            )
            return
        columns = ("pipeline", "kind", "started by", "latest run", "started")
        console.print(
            named_table(
                columns,
                (
                    [
                        row["name"],
                        ", ".join(row["kinds"]),
                        ", ".join(row["started_by"]) or "a person",
                        _latest_status(row),
                        when((row["latest_execution"] or {}).get("started")),
                    ]
                    for row in rows
                ),
            )
        )

    emit(rows, as_json, render)


def _latest_status(row: dict[str, Any]) -> str:
    if not row["deployed"]:
        return "not deployed"
    latest = row["latest_execution"]
    return "never run" if latest is None else str(latest["status"])


def register(cli: click.Group) -> None:
    """Add the ``pipelines`` group to ``cli``."""
    cli.add_command(pipelines)
