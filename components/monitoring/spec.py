"""The monitoring layer's input model: the ``monitoring`` section of a stack (drift monitors)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import (
    AfterValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from components.shared.spec_rules import (
    PROJECT_ROOT,
    SAGEMAKER_INSTANCE,
    SERVING_CONTEXT,
    ImageConfig,
    PathProblems,
    Section,
    email_addresses,
    name_problem,
    stack_environment,
    unique_names_validator,
)
from workloads.monitoring.baseline_files import baseline_problems

#: The longest a check may go unseen before the monitor-silent alarm pages: CloudWatch evaluates
#: an alarm over at most 7 days (Period x EvaluationPeriods <= 604,800 s for hourly periods).
MAX_SILENT_HOURS = 168


#: Hours after a missed check before the monitor-silent alarm fires (runs start a few minutes
#: late and take a while).
SILENT_GRACE_HOURS = 2


#: Name limits of what a monitor creates: an EventBridge Scheduler schedule (CreateSchedule
#: ``Name``, 1-64) and a SageMaker monitoring schedule (CreateMonitoringSchedule, 1-63).
MAX_SCHEDULE_NAME = 64


MAX_MONITORING_SCHEDULE_NAME = 63


# EventBridge Scheduler expressions (https://docs.aws.amazon.com/scheduler/latest/UserGuide/
# schedule-types.html): ``rate(value unit)`` with a singular unit for 1, or a six-field cron.
_RATE = re.compile(r"^rate\((?P<value>[1-9]\d*) (?P<unit>hours?|days?)\)$")


_CRON = re.compile(r"^cron\((?P<fields>[^()]+)\)$")


_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?,/#LW-]+$")


def _cron_problem(expression: str) -> str | None:
    """Why ``cron(...)`` is not a valid six-field cron expression, or None."""
    match = _CRON.match(expression)
    if match is None:
        return "must be rate(1 day), rate(N hours), rate(N days) or cron(...)"
    fields = match["fields"].split()
    if len(fields) != 6:
        return (
            "a cron expression has six fields: minutes hours day-of-month month day-of-week year "
            "(e.g. cron(0 6 * * ? *))"
        )
    if bad := [field for field in fields if not _CRON_FIELD.match(field)]:
        return f"cron field {bad[0]!r} has characters cron does not allow"
    if (fields[2] == "?") == (fields[4] == "?"):
        return "one of day-of-month and day-of-week must be '?' (and only one)"
    return None


def schedule_interval_hours(expression: str) -> int:
    """Hours between two runs of a validated schedule (a cron runs hourly when its hour is '*')."""
    if match := _RATE.match(expression):
        value = int(match["value"])
        return value * 24 if match["unit"].startswith("day") else value
    fields = expression[len("cron(") : -1].split()
    return 1 if fields[1] == "*" else 24


def _schedule_format(value: str) -> str:
    """A valid EventBridge Scheduler rate (hours or days) or six-field cron expression."""
    if match := _RATE.match(value):
        count, unit = int(match["value"]), match["unit"]
        if (count == 1) != (not unit.endswith("s")):
            raise ValueError(
                f"write rate(1 {unit.rstrip('s')}) for one and rate(N {unit.rstrip('s')}s) "
                "for more (EventBridge Scheduler's rule)"
            )
        return value
    if value.startswith("rate("):
        raise ValueError("a rate must be rate(N hours) or rate(N days), N >= 1")
    if problem := _cron_problem(value):
        raise ValueError(problem)
    return value


def _schedule_expression(value: str) -> str:
    """A valid EventBridge Scheduler rate or cron expression, at most 6 days apart."""
    _schedule_format(value)
    if _RATE.match(value) and schedule_interval_hours(value) + SILENT_GRACE_HOURS > (
        MAX_SILENT_HOURS
    ):
        raise ValueError(
            f"runs must be at most {MAX_SILENT_HOURS - SILENT_GRACE_HOURS} hours apart "
            "(the monitor-silent alarm watches at most 7 days)"
        )
    return value


ScheduleExpression = Annotated[str, AfterValidator(_schedule_expression)]

#: A retraining schedule: the check's expression forms, with no bound on the interval (the
#: monitor-silent alarm does not watch retraining).
RetrainSchedule = Annotated[str, AfterValidator(_schedule_format)]


def _cron_expression(value: str) -> str:
    """A six-field cron expression (what a SageMaker monitoring schedule takes)."""
    if not value.startswith("cron("):
        raise ValueError("must be cron(...) (e.g. cron(0 * ? * * *) for hourly)")
    if problem := _cron_problem(value):
        raise ValueError(problem)
    return value


#: The highest PSI threshold: PSI has no upper bound, but past 100 a threshold never fires on
#: real data (a platform bound; 0.25 is the usual "significant").
_MAX_PSI = 100


class DriftThresholds(Section):
    """When a check counts a feature as drifted or a constraint as violated (the check's flags)."""

    psi: float = Field(default=0.2, gt=0, le=_MAX_PSI)
    """Population stability index of a numeric feature (0.1 moderate, 0.2 significant; at most
    100)."""
    ks_statistic: float = Field(default=0.1, gt=0, le=1)
    """Kolmogorov-Smirnov statistic of a numeric feature."""
    js_distance: float = Field(default=0.1, gt=0, le=1)
    """Jensen-Shannon distance of a categorical feature."""
    missing_rate_increase: float = Field(default=0.05, gt=0, le=1)
    """Rise of a feature's missing-value rate over the baseline's."""
    range_violation_rate: float = Field(default=0.01, gt=0, le=1)
    """Share of values outside the baseline's range."""
    type_violation_rate: float = Field(default=0.01, gt=0, le=1)
    """Share of values of the wrong type."""
    prediction_psi: float = Field(default=0.2, gt=0, le=_MAX_PSI)
    """PSI of the endpoint's predictions (prediction drift); also the prediction-drift alarm's."""


class ModelMonitorBackendConfig(Section):
    """SageMaker Model Monitor (DataQualityJobDefinition + MonitoringSchedule) on the same baseline.

    Only for accounts that still have Model Monitor (closed to new customers); off by default.
    """

    enabled: bool = False
    """Also run SageMaker's data-quality monitor on the endpoint."""
    schedule: str = "cron(0 * ? * * *)"
    """Its cron expression (Model Monitor runs hourly or daily)."""
    instance_type: str = Field(default="ml.m5.xlarge", pattern=SAGEMAKER_INSTANCE)
    """Instance type of its monitoring jobs."""

    _schedule = field_validator("schedule")(_cron_expression)


class MonitoredEndpointConfig(Section):
    """One monitored serving endpoint: its baseline, schedule and thresholds."""

    endpoint: str
    """The serving endpoint's short name (an entry of ``serving.endpoints`` that captures data)."""
    baseline: str
    """The baseline folder (``ml-platform-monitor baseline``), relative to the project root."""
    schedule: ScheduleExpression = "rate(1 day)"
    """When the check runs (EventBridge Scheduler, UTC): rate(1 day), rate(N hours) or cron(...)."""
    window_hours: int = Field(default=24, ge=1, le=168)
    """Hours of captured traffic each check reads, ending when it runs."""
    thresholds: DriftThresholds = DriftThresholds()
    """When features count as drifted."""
    model_monitor: ModelMonitorBackendConfig = ModelMonitorBackendConfig()
    """The optional SageMaker Model Monitor backend."""
    retrain_on_drift: bool = False
    """Start the training pipeline ``retrain_pipeline`` whenever the monitor's drift alarm
    (features drifted) goes to ALARM, through an EventBridge rule; default false."""
    retrain_pipeline: str | None = None
    """The training pipeline (an entry of ``training.pipelines``, in the same stack) that
    retrains this endpoint's model; default: the endpoint's short name."""
    retrain_schedule: RetrainSchedule | None = None
    """Also start that pipeline on a schedule (EventBridge Scheduler, UTC): rate(N hours),
    rate(N days) or cron(...); default: none."""

    @field_validator("endpoint")
    @classmethod
    def _captured_serving_endpoint(cls, value: str, info: ValidationInfo) -> str:
        serving = (info.context or {}).get(SERVING_CONTEXT)
        if serving is None:
            return value  # the serving section is invalid: its own problems are reported
        endpoints = {endpoint.name: endpoint for endpoint in serving.endpoints}
        endpoint = endpoints.get(value)
        if endpoint is None:
            known = ", ".join(endpoints) or "none"
            raise ValueError(f"'{value}' is not a serving endpoint (serving.endpoints: {known})")
        if endpoint.is_serverless:
            raise ValueError(f"'{value}' is serverless: SageMaker captures no data there")
        if not endpoint.data_capture.enabled:
            raise ValueError(
                f"'{value}' captures no data: set serving.endpoints[].data_capture.enabled"
            )
        return value

    @field_validator("baseline")
    @classmethod
    def _valid_baseline(cls, value: str, info: ValidationInfo) -> str:
        root = Path((info.context or {}).get("project_root") or PROJECT_ROOT)
        if problems := baseline_problems(root / value):
            raise ValueError("; ".join(problems))
        return value

    @model_validator(mode="after")
    def _retrain_pipeline_started(self) -> MonitoredEndpointConfig:
        if self.retrain_pipeline is not None and not self.retrains:
            raise PathProblems(
                [
                    (
                        "retrain_pipeline",
                        "names a pipeline that nothing starts: set retrain_on_drift or "
                        "retrain_schedule",
                    )
                ]
            )
        return self

    @model_validator(mode="after")
    def _derived_names_fit(self, info: ValidationInfo) -> MonitoredEndpointConfig:
        environment = stack_environment(info)
        if environment is None:
            return self
        problems = [
            name_problem(name, limit, what)
            for what, (name, limit) in self.derived_names(environment).items()
        ]
        if found := [("endpoint", problem) for problem in problems if problem is not None]:
            raise PathProblems(found)
        return self

    def derived_names(self, environment: str) -> dict[str, tuple[str, int]]:
        """The AWS names this monitor's resources get in ``environment``, with their limits.

        The pipeline and its EventBridge schedule are :meth:`pipeline_name` (the names
        components/monitoring/model_monitor.py gives them); Model Monitor's schedule adds
        ``-data-quality``. A test holds these to the names in the plan.
        """
        pipeline = self.pipeline_name(environment)
        names = {"EventBridge schedule name": (pipeline, MAX_SCHEDULE_NAME)}
        if self.model_monitor.enabled:
            names["Model Monitor schedule name"] = (
                f"{pipeline}-data-quality",
                MAX_MONITORING_SCHEDULE_NAME,
            )
        # The retraining rule and schedule (retrain_name) are as long as the check's schedule
        # name and have the same limit (64): its check covers them (a test holds them equal).
        return names

    @property
    def retrains(self) -> bool:
        """Whether anything starts the retraining pipeline (the drift alarm or a schedule)."""
        return self.retrain_on_drift or self.retrain_schedule is not None

    @property
    def retrain_pipeline_short_name(self) -> str:
        """The training pipeline's short name (``retrain_pipeline``, else the endpoint's)."""
        return self.retrain_pipeline or self.endpoint

    def retrain_pipeline_name(self, environment: str) -> str:
        """The training pipeline's full name, as the training layer names it: ``mlp-<env>-<x>``."""
        return f"mlp-{environment}-{self.retrain_pipeline_short_name}"

    def retrain_name(self, environment: str) -> str:
        """The retraining rule's and schedule's name: ``mlp-<env>-<endpoint>-retrain``.

        As long as :meth:`pipeline_name`, whose check covers it: an EventBridge rule's name
        (PutRule ``Name``) and a schedule's both allow 64 characters.
        """
        return f"{self.endpoint_name(environment)}-retrain"

    def endpoint_name(self, environment: str) -> str:
        """The serving endpoint's full name in ``environment`` (``mlp-<env>-<endpoint>``).

        Its capture prefix, its folder in the monitoring bucket and the monitor's metric dimension.
        """
        return f"mlp-{environment}-{self.endpoint}"

    def pipeline_name(self, environment: str) -> str:
        """The monitor pipeline's and its schedule's name: ``mlp-<env>-<endpoint>-monitor``."""
        return f"{self.endpoint_name(environment)}-monitor"

    @property
    def interval_hours(self) -> int:
        """Hours between two scheduled checks."""
        return schedule_interval_hours(self.schedule)

    @property
    def silent_after_hours(self) -> int:
        """Hours without a finished check after which the monitor-silent alarm fires."""
        return self.interval_hours + SILENT_GRACE_HOURS

    def baseline_path(self, root: Path = PROJECT_ROOT) -> Path:
        """The baseline folder on this machine."""
        return root / self.baseline


class MonitoringConfig(Section):
    """Model monitors (the monitoring layer)."""

    endpoints: tuple[MonitoredEndpointConfig, ...] = ()
    """The monitored endpoints, one entry each."""
    alarm_emails: tuple[str, ...] = ()
    """Addresses subscribed to the monitoring alarms' SNS topic (each confirms by mail)."""
    instance_type: str = Field(default="ml.m5.large", pattern=SAGEMAKER_INSTANCE)
    """Instance type of the monitor's processing jobs."""
    volume_size_gb: int = Field(default=30, ge=1, le=16384)
    """Storage of each processing job (the window's capture files are staged there)."""
    max_runtime_seconds: int = Field(default=3600, ge=60, le=432000)
    """Longest one step of a check may run."""
    image: ImageConfig | None = None
    """Our own image in ECR; unset runs AWS's prebuilt scikit-learn processing image."""

    _unique_endpoints = unique_names_validator(
        "endpoints", "monitored endpoints", lambda entry: entry.endpoint
    )

    _emails = field_validator("alarm_emails")(email_addresses)
