"""SageMaker pipelines: start an execution, wait for it, read its steps, list a stack's pipelines.

Plain boto3 (each function takes the SageMaker client it calls). The platform deploys three kinds
of pipeline per stack, all named ``mlp-<env>-...`` (:func:`stack_pipelines`): a training pipeline
per ``training.pipelines`` entry (``mlp-<env>-<name>``), a drift monitor per monitored endpoint
(``mlp-<env>-<endpoint>-monitor``), and the retraining that a monitor's drift alarm or schedule
starts, which is one of the training pipelines.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from workloads.ops.errors import OpsError, aws_errors, failed
from workloads.ops.jobs import is_not_found, region_of

#: Execution statuses after which nothing changes.
TERMINAL_STATUSES = frozenset({"Succeeded", "Failed", "Stopped"})

#: The longest pause between two polls of an execution (seconds).
MAX_POLL_SECONDS = 60.0

#: The step metadata keys that name a job, and the job kind each stands for.
STEP_JOB_KINDS = {
    "TrainingJob": "training",
    "ProcessingJob": "processing",
    "TuningJob": "tuning",
    "TransformJob": "transform",
}


@dataclass(frozen=True)
class StackPipeline:
    """A pipeline a stack deploys, as its config names it."""

    name: str
    """The deployed name (``mlp-<env>-...``)."""
    kinds: tuple[str, ...]
    """``training``, ``drift monitor``, ``retrain`` (a training pipeline may also be a retrain)."""
    started_by: tuple[str, ...] = field(default=())
    """What starts it besides a person: ``schedule rate(1 day)``, ``drift on endpoint
    mlp-dev-churn``."""


def stack_pipelines(config: Mapping[str, Any], environment: str) -> list[StackPipeline]:
    """The pipelines of a stack file's ``config`` mapping (the layers' settings), in config order.

    Reads the settings as written (no validation: ``ml-platform plan`` does that), skipping
    entries without a name.
    """
    found: dict[str, tuple[list[str], list[str]]] = {}

    def add(name: str, kind: str, started_by: str | None = None) -> None:
        kinds, starters = found.setdefault(f"mlp-{environment}-{name}", ([], []))
        if kind not in kinds:
            kinds.append(kind)
        if started_by and started_by not in starters:
            starters.append(started_by)

    training = _mapping(config.get("ml-platform:training"))
    for pipeline in _entries(training.get("pipelines")):
        if pipeline.get("name"):
            add(str(pipeline["name"]), "training")
    monitoring = _mapping(config.get("ml-platform:monitoring"))
    for monitor in _entries(monitoring.get("endpoints")):
        endpoint = monitor.get("endpoint")
        if not endpoint:
            continue
        schedule = monitor.get("schedule") or "rate(1 day)"
        add(f"{endpoint}-monitor", "drift monitor", f"schedule {schedule}")
        retrain = str(monitor.get("retrain_pipeline") or endpoint)
        if monitor.get("retrain_on_drift"):
            add(retrain, "retrain", f"drift on endpoint mlp-{environment}-{endpoint}")
        if monitor.get("retrain_schedule"):
            add(retrain, "retrain", f"schedule {monitor['retrain_schedule']}")
    optimization = _mapping(config.get("ml-platform:optimization"))
    for job in _entries(optimization.get("jobs")):
        if job.get("name"):
            schedule = job.get("schedule")
            add(f"opt-{job['name']}", "optimization", f"schedule {schedule}" if schedule else None)
    return [
        StackPipeline(name, tuple(kinds), tuple(starters))
        for name, (kinds, starters) in found.items()
    ]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _entries(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


class PipelineNotFound(OpsError):
    """The pipeline does not exist (in the region the client calls)."""


def not_found(name: str, client: Any) -> PipelineNotFound:
    """The error for a pipeline that does not exist (its name and the region looked in)."""
    return PipelineNotFound(f"pipeline '{name}' not found in {region_of(client)}")


def describe_pipeline(client: Any, name: str) -> dict[str, Any]:
    """The pipeline ``name``; ``OpsError`` naming it and the region when it does not exist."""
    try:
        return dict(client.describe_pipeline(PipelineName=name))
    except ClientError as error:
        if is_not_found(error):
            raise not_found(name, client) from error
        raise failed(f"Describing pipeline '{name}'", error) from error


def parameter_names(pipeline: Mapping[str, Any]) -> list[str] | None:
    """The parameters a described pipeline's definition declares (None: definition unreadable)."""
    try:
        definition = json.loads(pipeline.get("PipelineDefinition") or "")
    except (TypeError, ValueError):
        return None
    if not isinstance(definition, dict):
        return None
    return [str(item.get("Name")) for item in definition.get("Parameters") or []]


def start_execution(
    client: Any,
    name: str,
    parameters: Mapping[str, str],
    display_name: str | None = None,
) -> str:
    """Start ``name`` with ``parameters`` overriding its defaults; the execution's ARN."""
    arguments: dict[str, Any] = {"PipelineName": name}
    if parameters:
        arguments["PipelineParameters"] = [
            {"Name": key, "Value": value} for key, value in parameters.items()
        ]
    if display_name:
        arguments["PipelineExecutionDisplayName"] = display_name
    with aws_errors(f"Starting pipeline '{name}'"):
        return str(client.start_pipeline_execution(**arguments)["PipelineExecutionArn"])


def latest_execution(client: Any, name: str) -> dict[str, Any] | None:
    """The newest execution summary of ``name`` (None: never run); a missing pipeline: OpsError."""
    try:
        page = client.list_pipeline_executions(
            PipelineName=name, SortBy="CreationTime", SortOrder="Descending", MaxResults=1
        )
    except ClientError as error:
        if is_not_found(error):
            raise not_found(name, client) from error
        raise failed(f"Listing the executions of pipeline '{name}'", error) from error
    summaries = page.get("PipelineExecutionSummaries", [])
    # Sorted again: moto ignores SortBy and MaxResults (a stable sort keeps AWS's order on ties).
    summaries = sorted(summaries, key=lambda item: item["StartTime"], reverse=True)
    return dict(summaries[0]) if summaries else None


def pipeline_of_execution(arn: str) -> str | None:
    """The pipeline name in an execution ARN (``arn:...:pipeline/<name>/execution/<id>``)."""
    parts = arn.split(":", 5)
    resource = parts[5] if len(parts) == 6 else ""
    pieces = resource.split("/")
    if len(pieces) == 4 and pieces[0] == "pipeline" and pieces[2] == "execution":
        return pieces[1]
    return None


def describe_execution(client: Any, name: str, arn: str) -> dict[str, Any]:
    """The execution ``arn`` of pipeline ``name``; an ARN of another pipeline is an OpsError."""
    owner = pipeline_of_execution(arn)
    if owner is None:
        raise OpsError(f"'{arn}' is not a pipeline execution ARN")
    if owner != name:
        raise OpsError(f"execution '{arn}' belongs to pipeline '{owner}', not '{name}'")
    try:
        return dict(client.describe_pipeline_execution(PipelineExecutionArn=arn))
    except ClientError as error:
        if is_not_found(error):
            raise OpsError(
                f"execution '{arn}' of pipeline '{name}' not found in {region_of(client)}"
            ) from error
        raise failed(f"Describing execution '{arn}'", error) from error


def execution_steps(client: Any, arn: str) -> list[dict[str, Any]]:
    """The execution's steps as rows (oldest first): status, times, failure, the job it ran."""
    steps: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {"PipelineExecutionArn": arn, "SortOrder": "Ascending"}
    with aws_errors(f"Listing the steps of execution '{arn}'"):
        while True:
            page = client.list_pipeline_execution_steps(**arguments)
            steps.extend(_step_row(step) for step in page.get("PipelineExecutionSteps", []))
            if not page.get("NextToken"):
                return steps
            arguments["NextToken"] = page["NextToken"]


def _step_row(step: Mapping[str, Any]) -> dict[str, Any]:
    job_kind, job_name = None, None
    for key, kind in STEP_JOB_KINDS.items():
        arn = (step.get("Metadata") or {}).get(key, {}).get("Arn")
        if arn:
            job_kind, job_name = kind, str(arn).rsplit("/", 1)[-1]
            break
    return {
        "name": step.get("StepName"),
        "status": step.get("StepStatus"),
        "started": step.get("StartTime"),
        "ended": step.get("EndTime"),
        "failure_reason": step.get("FailureReason") or None,
        "job_kind": job_kind,
        "job": job_name,
    }


def execution_report(client: Any, name: str, execution: str = "latest") -> dict[str, Any]:
    """What ``pipelines status`` shows for ``execution`` (an ARN, or ``latest``) of ``name``."""
    if execution == "latest":
        latest = latest_execution(client, name)
        if latest is None:
            raise OpsError(f"pipeline '{name}' has no executions in {region_of(client)}")
        execution = str(latest["PipelineExecutionArn"])
    description = describe_execution(client, name, execution)
    return {
        "pipeline": name,
        "execution": execution,
        "display_name": description.get("PipelineExecutionDisplayName"),
        "status": description.get("PipelineExecutionStatus"),
        "created": description.get("CreationTime"),
        "last_modified": description.get("LastModifiedTime"),
        "failure_reason": description.get("FailureReason") or None,
        "steps": execution_steps(client, execution),
    }


def wait_for_execution(
    client: Any,
    name: str,
    arn: str,
    *,
    poll_seconds: float = 30.0,
    on_change: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll the execution until it is terminal; its last description.

    ``on_change`` hears each new status. The pause is clamped to :data:`MAX_POLL_SECONDS`.
    """
    pause = min(max(poll_seconds, 0.0), MAX_POLL_SECONDS)
    last = None
    while True:
        description = describe_execution(client, name, arn)
        status = str(description.get("PipelineExecutionStatus"))
        if status != last and on_change is not None:
            on_change(status)
        last = status
        if status in TERMINAL_STATUSES:
            return description
        sleep(pause)
