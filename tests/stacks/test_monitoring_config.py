"""Monitoring config: monitored endpoints checked against serving, baselines, schedules, thresholds.

given a monitoring section in an otherwise valid stack config / when it is loaded / then a valid
one yields the defaults and every problem is reported at its path with an exact message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.monitoring.spec import MonitoringConfig, schedule_interval_hours
from components.shared.images import PREBUILT_MONITORING_TAG
from stacks.config import ConfigError, load_platform_config
from tests.conftest import ROOT, stack_config, with_section, write_baseline

DEV = stack_config("dev")
PROD = stack_config("prod")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A project root with a valid baseline folder ``baselines/churn``."""
    write_baseline(tmp_path / "baselines" / "churn")
    return tmp_path


def entry(**overrides: Any) -> dict[str, Any]:
    """A valid monitored endpoint of the dev stack."""
    return {"endpoint": "churn", "baseline": "baselines/churn", **overrides}


def load(root: Path, section: dict[str, Any], flat: dict[str, str] = DEV) -> MonitoringConfig:
    stack = "prod" if flat is PROD else "dev"
    return load_platform_config(
        stack, with_section(flat, "monitoring", section), project_root=root
    ).monitoring


def problems_of(root: Path, section: dict[str, Any], flat: dict[str, str] = DEV) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load(root, section, flat)
    return raised.value.problems


def test_stack_files_monitor_churn_in_dev_and_churn_and_fraud_in_prod() -> None:
    dev = load_platform_config("dev", DEV)
    prod = load_platform_config("prod", PROD)
    assert "monitoring" in dev.layers and "monitoring" in prod.layers
    assert [(e.endpoint, e.baseline, e.schedule) for e in dev.monitoring.endpoints] == [
        ("churn", "baselines/churn", "rate(1 day)")
    ]
    churn, fraud = prod.monitoring.endpoints
    assert (churn.endpoint, churn.model_monitor.enabled) == ("churn", True)
    assert (fraud.endpoint, fraud.schedule, fraud.window_hours) == ("fraud", "rate(1 hour)", 1)
    assert fraud.model_monitor.enabled is False
    assert prod.monitoring.alarm_emails == ("ml-oncall@example.com",)
    # and their baselines are folders of the repository
    for monitored in (*dev.monitoring.endpoints, *prod.monitoring.endpoints):
        assert (ROOT / monitored.baseline / "constraints.json").is_file()


def test_defaults(root: Path) -> None:
    section = load(root, {"endpoints": [entry()]})
    assert (section.instance_type, section.volume_size_gb, section.max_runtime_seconds) == (
        "ml.m5.large",
        30,
        3600,
    )
    assert section.image is None and section.alarm_emails == ()
    assert PREBUILT_MONITORING_TAG == "1.4-2-cpu-py3"
    (monitored,) = section.endpoints
    assert (monitored.schedule, monitored.window_hours) == ("rate(1 day)", 24)
    assert monitored.thresholds.model_dump() == {
        "psi": 0.2,
        "ks_statistic": 0.1,
        "js_distance": 0.1,
        "missing_rate_increase": 0.05,
        "range_violation_rate": 0.01,
        "type_violation_rate": 0.01,
        "prediction_psi": 0.2,
    }
    assert monitored.model_monitor.model_dump() == {
        "enabled": False,
        "schedule": "cron(0 * ? * * *)",
        "instance_type": "ml.m5.xlarge",
    }
    assert monitored.silent_after_hours == 26


def test_our_own_image_may_replace_the_prebuilt_one(root: Path) -> None:
    section = load(
        root,
        {"endpoints": [entry()], "image": {"repository": "ml-platform/monitor", "tag": "1.0.0"}},
    )
    assert section.image is not None and section.image.tag == "1.0.0"


@pytest.mark.parametrize(
    ("expression", "hours"),
    [
        ("rate(1 day)", 24),
        ("rate(2 days)", 48),
        ("rate(1 hour)", 1),
        ("rate(6 hours)", 6),
        ("cron(0 6 * * ? *)", 24),
        ("cron(15 * ? * MON-FRI *)", 1),
    ],
)
def test_valid_schedules_and_their_intervals(root: Path, expression: str, hours: int) -> None:
    (monitored,) = load(root, {"endpoints": [entry(schedule=expression)]}).endpoints
    assert monitored.schedule == expression
    assert schedule_interval_hours(expression) == hours


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"endpoint": "churn-sandbox"}, "monitoring.endpoints[0].endpoint: 'churn-sandbox' is serverless: SageMaker captures no data there"),
        ({"endpoint": "fraud"}, "monitoring.endpoints[0].endpoint: 'fraud' is not a serving endpoint (serving.endpoints: churn, churn-sandbox)"),
        ({"baseline": "baselines/missing"}, "monitoring.endpoints[0].baseline: {root}/baselines/missing is not a folder (create it with `ml-platform-monitor baseline`)"),
        ({"schedule": "rate(2 hour)"}, "monitoring.endpoints[0].schedule: write rate(1 hour) for one and rate(N hours) for more (EventBridge Scheduler's rule)"),
        ({"schedule": "rate(1 days)"}, "monitoring.endpoints[0].schedule: write rate(1 day) for one and rate(N days) for more (EventBridge Scheduler's rule)"),
        ({"schedule": "rate(5 minutes)"}, "monitoring.endpoints[0].schedule: a rate must be rate(N hours) or rate(N days), N >= 1"),
        ({"schedule": "rate(7 days)"}, "monitoring.endpoints[0].schedule: runs must be at most 166 hours apart (the monitor-silent alarm watches at most 7 days)"),
        ({"schedule": "daily"}, "monitoring.endpoints[0].schedule: must be rate(1 day), rate(N hours), rate(N days) or cron(...)"),
        ({"schedule": "cron(0 6 * * *)"}, "monitoring.endpoints[0].schedule: a cron expression has six fields: minutes hours day-of-month month day-of-week year (e.g. cron(0 6 * * ? *))"),
        ({"schedule": "cron(0 6 * * * *)"}, "monitoring.endpoints[0].schedule: one of day-of-month and day-of-week must be '?' (and only one)"),
        ({"schedule": "cron(0 6 ; * ? *)"}, "monitoring.endpoints[0].schedule: cron field ';' has characters cron does not allow"),
        ({"window_hours": 0}, "monitoring.endpoints[0].window_hours: must be >= 1"),
        ({"window_hours": 169}, "monitoring.endpoints[0].window_hours: must be <= 168"),
        ({"thresholds": {"psi": 0}}, "monitoring.endpoints[0].thresholds.psi: must be > 0.0"),
        ({"thresholds": {"prediction_psi": -1}}, "monitoring.endpoints[0].thresholds.prediction_psi: must be > 0.0"),
        ({"thresholds": {"ks_statistic": 1.5}}, "monitoring.endpoints[0].thresholds.ks_statistic: must be <= 1.0"),
        ({"thresholds": {"js_distance": 0}}, "monitoring.endpoints[0].thresholds.js_distance: must be > 0.0"),
        ({"thresholds": {"missing_rate_increase": 2}}, "monitoring.endpoints[0].thresholds.missing_rate_increase: must be <= 1.0"),
        ({"thresholds": {"chi2": 0.1}}, "monitoring.endpoints[0].thresholds.chi2: unknown key"),
        ({"model_monitor": {"enabled": True, "schedule": "rate(1 hour)"}}, "monitoring.endpoints[0].model_monitor.schedule: must be cron(...) (e.g. cron(0 * ? * * *) for hourly)"),
        ({"model_monitor": {"instance_type": "m5.large"}}, "monitoring.endpoints[0].model_monitor.instance_type: must match ^ml\\.[a-z0-9-]+\\.\\w+$"),
        ({"windows": 2}, "monitoring.endpoints[0].windows: unknown key (did you mean 'window_hours'?)"),
    ],
)  # fmt: skip
def test_a_bad_monitored_endpoint_is_reported_at_its_path(
    root: Path, overrides: dict[str, Any], problem: str
) -> None:
    assert problems_of(root, {"endpoints": [entry(**overrides)]}) == [problem.format(root=root)]


def test_an_endpoint_without_capture_is_refused(root: Path) -> None:
    # given dev's churn endpoint with data capture turned off
    serving = {
        "endpoints": [
            {
                "name": "churn",
                "variants": [
                    {"name": "blue", "framework": "sklearn", "model_artifact": "c/m.tar.gz"}
                ],
                "data_capture": {"enabled": False},
            }
        ]
    }
    flat = with_section(DEV, "serving", serving)
    # then monitoring it is refused at the entry's endpoint
    assert problems_of(root, {"endpoints": [entry()]}, flat) == [
        "monitoring.endpoints[0].endpoint: 'churn' captures no data: set "
        "serving.endpoints[].data_capture.enabled"
    ]


def test_an_invalid_serving_section_is_reported_once(root: Path) -> None:
    # given a serving section that does not validate
    flat = with_section(DEV, "serving", {"endpoints": [{"name": "churn"}]})
    # then its own problem is reported, not a second one from monitoring
    assert problems_of(root, {"endpoints": [entry()]}, flat) == [
        "serving.endpoints[0].variants: required"
    ]


def test_an_incomplete_baseline_is_named(root: Path) -> None:
    (root / "baselines" / "churn" / "baseline.npz").unlink()
    assert problems_of(root, {"endpoints": [entry()]}) == [
        "monitoring.endpoints[0].baseline: missing baseline.npz (create them with "
        "`ml-platform-monitor baseline`)"
    ]


def test_endpoints_are_monitored_once(root: Path) -> None:
    assert problems_of(root, {"endpoints": [entry(), entry(window_hours=2)]}) == [
        "monitoring.endpoints: monitored endpoints must be unique: churn repeated"
    ]


def test_section_level_problems(root: Path) -> None:
    assert problems_of(
        root,
        {
            "endpoints": [entry()],
            "alarm_emails": ["oncall"],
            "instance_type": "large",
            "volume_size_gb": 0,
            "max_runtime_seconds": 10,
            "image": {"repository": "ml-platform/monitor", "tag": "latest"},
        },
    ) == [
        "monitoring.alarm_emails: 'oncall' is not an email address",
        "monitoring.image.tag: must not be 'latest' (pin an immutable tag)",
        "monitoring.instance_type: must match ^ml\\.[a-z0-9-]+\\.\\w+$",
        "monitoring.max_runtime_seconds: must be >= 60",
        "monitoring.volume_size_gb: must be >= 1",
    ]


def test_monitoring_needs_serving_listed() -> None:
    with pytest.raises(ConfigError) as raised:
        load_platform_config("dev", with_section(DEV, "layers", ["data", "monitoring"]))
    assert raised.value.problems == ["layers: 'monitoring' needs serving, which is not listed"]


def test_the_readme_monitoring_example_is_valid_config() -> None:
    # given the monitoring example of the monitoring page / when validated in the prod stack
    section = (ROOT / "docs/monitoring.md").read_text().split("## Model monitoring", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    example = yaml.safe_load(block)["ml-platform:monitoring"]
    (monitored,) = load_platform_config(
        "prod", with_section(PROD, "monitoring", example)
    ).monitoring.endpoints
    # then it loads as written
    assert (monitored.endpoint, monitored.schedule, monitored.window_hours) == (
        "fraud",
        "rate(1 hour)",
        1,
    )
    assert monitored.thresholds.psi == 0.25


# --------------------------------------------------------------------------------------------
# retraining
# --------------------------------------------------------------------------------------------


def test_retraining_is_off_by_default_and_dev_retrains_churn_on_drift(root: Path) -> None:
    (monitored,) = load(root, {"endpoints": [entry()]}).endpoints
    assert (monitored.retrain_on_drift, monitored.retrain_pipeline) == (False, None)
    assert monitored.retrain_schedule is None and not monitored.retrains
    (dev,) = load_platform_config("dev", DEV).monitoring.endpoints
    assert (dev.retrain_on_drift, dev.retrain_schedule) == (True, None)
    # the pipeline defaults to the endpoint's name, as the training layer names it
    assert dev.retrain_pipeline_name("dev") == "mlp-dev-churn"
    assert dev.retrain_name("dev") == "mlp-dev-churn-retrain"


@pytest.mark.parametrize("expression", ["rate(30 days)", "rate(1 day)", "cron(0 3 ? * SUN *)"])
def test_a_retraining_schedule_may_be_longer_than_a_checks(root: Path, expression: str) -> None:
    (monitored,) = load(
        root, {"endpoints": [entry(retrain_schedule=expression, retrain_pipeline="churn")]}
    ).endpoints
    assert (monitored.retrain_schedule, monitored.retrain_on_drift) == (expression, False)
    assert monitored.retrains


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"retrain_pipeline": "churn"}, "monitoring.endpoints[0].retrain_pipeline: names a pipeline that nothing starts: set retrain_on_drift or retrain_schedule"),
        ({"retrain_on_drift": True, "retrain_pipeline": "fraud"}, "monitoring.endpoints[0].retrain_pipeline: 'fraud' is not a training pipeline (training.pipelines: churn)"),
        ({"retrain_schedule": "rate(2 day)"}, "monitoring.endpoints[0].retrain_schedule: write rate(1 day) for one and rate(N days) for more (EventBridge Scheduler's rule)"),
        ({"retrain_schedule": "weekly"}, "monitoring.endpoints[0].retrain_schedule: must be rate(1 day), rate(N hours), rate(N days) or cron(...)"),
        ({"retrain_schedule": "rate(30 minutes)"}, "monitoring.endpoints[0].retrain_schedule: a rate must be rate(N hours) or rate(N days), N >= 1"),
        ({"retrain_on_drfit": True}, "monitoring.endpoints[0].retrain_on_drfit: unknown key (did you mean 'retrain_on_drift'?)"),
    ],
)  # fmt: skip
def test_bad_retraining_is_reported_at_its_path(
    root: Path, overrides: dict[str, Any], problem: str
) -> None:
    assert problems_of(root, {"endpoints": [entry(**overrides)]}) == [problem]


def test_retraining_needs_the_training_layer_listed(root: Path) -> None:
    # given dev without the training layer, and a monitor that retrains on drift
    flat = with_section(DEV, "layers", ["data", "serving", "monitoring"])
    # then the monitor is refused, naming the pipeline it would start
    assert problems_of(root, {"endpoints": [entry(retrain_on_drift=True)]}, flat) == [
        "monitoring.endpoints[0]: retrains with training pipeline 'churn', but the training "
        "layer is not listed in layers"
    ]


def test_retraining_is_not_checked_when_the_monitoring_layer_is_not_listed(root: Path) -> None:
    # given a retraining monitor naming an unknown pipeline, in a stack without monitoring
    flat = with_section(DEV, "layers", ["data", "serving"])
    section = {"endpoints": [entry(retrain_on_drift=True, retrain_pipeline="fraud")]}
    # then the section loads: nothing of it is deployed
    (monitored,) = load(root, section, flat).endpoints
    assert monitored.retrain_pipeline == "fraud"


def test_an_invalid_training_section_is_reported_once(root: Path) -> None:
    # given a training section that does not validate and a monitor that retrains
    flat = with_section(DEV, "training", {"pipelines": [{"name": "churn"}]})
    problems = problems_of(root, {"endpoints": [entry(retrain_on_drift=True)]}, flat)
    # then only training's own problems are reported, none from monitoring
    assert problems and all(problem.startswith("training.") for problem in problems)


def test_the_retraining_names_are_checked_with_the_check_schedules_name(root: Path) -> None:
    # the rule and schedule names are as long as the check's schedule name, whose limit (64)
    # they share, so the check's name check covers them
    (monitored,) = load(root, {"endpoints": [entry(retrain_on_drift=True)]}).endpoints
    for environment in ("dev", "e" * 12):
        assert len(monitored.retrain_name(environment)) == len(monitored.pipeline_name(environment))
