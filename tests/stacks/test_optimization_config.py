"""Optimization config: the jobs' limits and the platform's rules, each with its exact message.

given a stack file whose ``optimization`` section (or layers) is replaced / when it is loaded /
then a valid section gives the jobs the workload's contract needs, and every invalid field is
reported on its own line at its path, all in one pass.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.optimization.spec import MAX_JOB_NAME, OptimizationJobConfig, optimization_name
from stacks.config import ConfigError, load_platform_config
from tests.conftest import stack_config, stack_file, with_section

#: The hyperparameters the workload reads (``HYPERPARAMETERS`` of workloads/optimization/contract.py,
#: which refuses any other name).
CONTRACT_HYPERPARAMETERS = (
    "kind",
    "total_seconds",
    "iteration_seconds",
    "no_improvement_seconds",
    "min_improvement",
    "workers",
    "checkpoint_seconds",
)

DEV = stack_config("dev")
PROD = stack_config("prod")


def job(**overrides: Any) -> dict[str, Any]:
    """A valid routing job (60 s solve, 10 minutes at most) with ``overrides``."""
    return {
        "name": "routes",
        "kind": "routing",
        "problem": "optimization/routing/sample/",
        "image": {"repository": "ml-platform/training", "tag": "1.1.0"},
        "time_limits": {"total_seconds": 60},
        "max_runtime_seconds": 600,
        "spot": {"max_wait_seconds": 1200},
        **overrides,
    }


def problems_of(section: dict[str, Any], flat: dict[str, str] = DEV) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_platform_config("dev", with_section(flat, "optimization", section))
    return raised.value.problems


def test_the_stack_files_run_a_scheduled_routing_and_scheduling_job_in_prod() -> None:
    # given the stack files / when loaded
    dev = load_platform_config("dev", DEV).optimization
    prod = load_platform_config("prod", PROD).optimization
    # then prod runs one scheduled routing job and one scheduled job-shop job
    assert [(j.kind, j.schedule is not None) for j in prod.jobs] == [
        ("routing", True),
        ("jobshop", True),
    ]
    # and dev one routing job started by hand
    assert [(j.kind, j.schedule) for j in dev.jobs] == [("routing", None)]
    # and every job leaves room after its solve, and waits for spot at least its runtime
    for entry in (*dev.jobs, *prod.jobs):
        assert entry.max_runtime_seconds >= entry.time_limits.total_seconds + 300
        assert entry.spot.enabled and entry.spot.max_wait_seconds >= entry.max_runtime_seconds


def test_the_hyperparameters_are_the_workloads_contract_as_strings() -> None:
    # given a job with every limit / when its hyperparameters are read
    entry = OptimizationJobConfig.model_validate(
        job(
            kind="jobshop",
            workers=4,
            time_limits={
                "total_seconds": 60,
                "iteration_seconds": 20,
                "no_improvement_seconds": 30,
                "min_improvement": 0.01,
            },
        )
    )
    # then they name the kind, the limits and the workers, as strings
    assert entry.hyperparameters == {
        "iteration_seconds": "20",
        "kind": "jobshop",
        "min_improvement": "0.01",
        "no_improvement_seconds": "30",
        "total_seconds": "60",
        "workers": "4",
    }
    # and the names are the workload's contract (workloads/optimization/contract.py)
    assert set(entry.hyperparameters) <= set(CONTRACT_HYPERPARAMETERS)
    # and an unset limit is left out (the workload's default)
    plain = OptimizationJobConfig.model_validate(job())
    assert set(plain.hyperparameters) == {"kind", "total_seconds", "workers"}


def test_each_bad_field_is_one_line_at_its_path() -> None:
    # given a section with a problem in every field / when loaded
    problems = problems_of(
        {
            "alarm_emails": ["oncall"],
            "jobs": [
                job(
                    name="Routes",
                    kind="tsp",
                    problem="no-slash",
                    workers=0,
                    instance_type="c5.xlarge",
                    schedule="every day",
                    time_limits={
                        "total_seconds": 60,
                        "iteration_seconds": 90,
                        "no_improvement_seconds": 120,
                    },
                ),
                job(max_runtime_seconds=120, spot={"max_wait_seconds": 60}),
                job(
                    name="bad",
                    image={"repository": "ml-platform/training", "tag": "latest"},
                    time_limits={"total_seconds": 60, "min_improvement": 1.5},
                ),
            ],
        }
    )
    # then each is reported once at its path
    assert problems == [
        "optimization.alarm_emails: 'oncall' is not an email address",
        "optimization.jobs[0].instance_type: must match ^ml\\.[a-z0-9-]+\\.\\w+$",
        "optimization.jobs[0].kind: must be one of 'routing' or 'jobshop'",
        "optimization.jobs[0].name: must match ^[a-z][a-z0-9-]{0,38}[a-z0-9]$",
        "optimization.jobs[0].problem: must match ^[\\w!\\-.*'()][\\w!\\-.*'()/]*/$",
        "optimization.jobs[0].schedule: 'every day' is neither rate(<n> minutes|hours|days) nor "
        "a six-field cron(...) (EventBridge Scheduler, UTC)",
        "optimization.jobs[0].time_limits.iteration_seconds: (90) is more than total_seconds (60)",
        "optimization.jobs[0].time_limits.no_improvement_seconds: (120) is more than "
        "total_seconds (60)",
        "optimization.jobs[0].workers: must be >= 1",
        "optimization.jobs[1].max_runtime_seconds: (120) must be >= time_limits.total_seconds "
        "(60) + 300: the job writes its last checkpoint and the solution after the solver stops, "
        "within its runtime",
        "optimization.jobs[2].image.tag: must not be 'latest' (pin an immutable tag)",
        "optimization.jobs[2].time_limits.min_improvement: must be < 1.0",
    ]


def test_spot_must_wait_at_least_the_runtime() -> None:
    # given a spot job whose wait is shorter than its runtime / when loaded
    problems = problems_of({"jobs": [job(spot={"max_wait_seconds": 599})]})
    # then the wait is refused at its own path
    assert problems == [
        "optimization.jobs[0].spot.max_wait_seconds: (599) must be >= max_runtime_seconds (600): "
        "it includes the run itself"
    ]
    # and without spot any wait is accepted (it is not sent)
    flat = with_section(
        DEV, "optimization", {"jobs": [job(spot={"enabled": False, "max_wait_seconds": 1})]}
    )
    assert load_platform_config("dev", flat).optimization.jobs[0].spot.enabled is False


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("rate(1 days)", "the unit is singular exactly for 1 (rate(1 day), rate(2 days))"),
        ("rate(2 hour)", "the unit is singular exactly for 1 (rate(1 day), rate(2 days))"),
        ("cron(0 1 * * ?)", None),
    ],
)
def test_schedules_are_what_eventbridge_scheduler_accepts(expression: str, reason: str) -> None:
    problems = problems_of({"jobs": [job(schedule=expression)]})
    wanted = reason or (
        f"'{expression}' is neither rate(<n> minutes|hours|days) nor a six-field cron(...) "
        "(EventBridge Scheduler, UTC)"
    )
    if reason:
        wanted = f"'{expression}': {reason}"
    assert problems == [f"optimization.jobs[0].schedule: {wanted}"]


@pytest.mark.parametrize("expression", ["rate(1 day)", "rate(30 minutes)", "cron(0 1 * * ? *)"])
def test_valid_schedules_load(expression: str) -> None:
    flat = with_section(DEV, "optimization", {"jobs": [job(schedule=expression)]})
    assert load_platform_config("dev", flat).optimization.jobs[0].schedule == expression


def test_job_names_are_unique_and_always_fit_a_training_job_name() -> None:
    problems = problems_of({"jobs": [job(), job()]})
    assert problems == ["optimization.jobs: job names must be unique: routes repeated"]
    # and the longest name in the longest environment loads: mlp-<env>-opt-<name> fits the 63
    # characters of a training job name
    long_environment = with_section(DEV, "environment", "development1")
    flat = with_section(long_environment, "optimization", {"jobs": [job(name="r" * 40)]})
    (entry,) = load_platform_config("dev", flat).optimization.jobs
    assert len(optimization_name("development1", entry.name)) <= MAX_JOB_NAME
    # and one character more is refused by the name's own pattern
    problems = problems_of({"jobs": [job(name="r" * 41)]})
    assert problems == ["optimization.jobs[0].name: must match ^[a-z][a-z0-9-]{0,38}[a-z0-9]$"]


def test_the_image_is_one_of_the_training_layers_repositories() -> None:
    # given a job whose image lives in a repository the training layer does not create
    problems = problems_of(
        {"jobs": [job(image={"repository": "ml-platform/solver", "tag": "1.1.0"})]}
    )
    # then it is refused, naming the known ones
    names = stack_file("dev")["ml-platform:training"]["repositories"]["names"]
    assert "training" in names
    assert problems == [
        "optimization.jobs[0].image.repository: 'ml-platform/solver' is not a repository of "
        "the training layer (training.repositories: "
        + ", ".join(f"ml-platform/{name}" for name in names)
        + ")"
    ]


def test_a_job_cannot_take_a_training_pipelines_name() -> None:
    # given a training pipeline named opt-churn and an optimization job named churn
    training = stack_file("dev")["ml-platform:training"]
    training["pipelines"][0]["name"] = "opt-churn"
    # (its versions keep going to the group churn that dev's endpoint serves)
    training["pipelines"][0]["registry"]["group"] = "churn"
    flat = with_section(DEV, "training", training)
    # (dev's monitor retrains churn: it follows the rename)
    monitoring = stack_file("dev")["ml-platform:monitoring"]
    for endpoint in monitoring["endpoints"]:
        if endpoint.get("retrain_on_drift"):
            endpoint["retrain_pipeline"] = "opt-churn"
    flat = with_section(flat, "monitoring", monitoring)
    problems = problems_of({"jobs": [job(name="churn")]}, flat)
    # then the job's name is refused: both pipelines would be mlp-dev-opt-churn
    assert problems == [
        "optimization.jobs[0].name: its pipeline would take the name of training pipeline "
        "'opt-churn'"
    ]


def test_the_layer_needs_the_training_layer() -> None:
    flat = with_section(DEV, "layers", ["data", "optimization"])
    with pytest.raises(ConfigError) as raised:
        load_platform_config("dev", flat)
    assert raised.value.problems == ["layers: 'optimization' needs training, which is not listed"]


def test_kubernetes_optimization_jobs_are_checked_at_their_paths() -> None:
    # given dev's kubernetes section with solves that break each rule of their own
    kubernetes = stack_file("dev")["ml-platform:kubernetes"]
    solve = dict(kubernetes["optimization_jobs"][0])
    kubernetes["optimization_jobs"] = [
        {**solve, "resources": {"cpu": "4", "memory": "4Gi", "gpus": 1}},
        {**solve, "name": "late", "active_deadline_seconds": 700},
    ]
    # when loaded
    with pytest.raises(ConfigError) as raised:
        load_platform_config("dev", with_section(DEV, "kubernetes", kubernetes))
    # then each is one line at its path
    assert raised.value.problems == [
        "kubernetes.optimization_jobs[0].resources: gpus: must be 0 (OR-Tools solves on CPUs)",
        "kubernetes.optimization_jobs[1].active_deadline_seconds: (700) must be >= "
        "time_limits.total_seconds (600) + 300: the job writes its last checkpoint and the "
        "solution after the solver stops, within its deadline",
    ]
    # and valid entries must have names of their own
    kubernetes["optimization_jobs"] = [solve, solve]
    with pytest.raises(ConfigError) as raised:
        load_platform_config("dev", with_section(DEV, "kubernetes", kubernetes))
    assert raised.value.problems == [
        "kubernetes.optimization_jobs: optimization job names must be unique: "
        "machine-schedule repeated"
    ]
