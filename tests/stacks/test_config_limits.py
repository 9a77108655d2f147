"""Service limits the config enforces before anything is planned: sizes, names, tags, folders."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from components.kubernetes.spec import render_folder_problem
from components.optimization.spec import optimization_name
from stacks.config import (
    MAX_S3_OBJECT_TAGS,
    MAX_TAGS,
    PLATFORM_TAG_KEYS,
    ConfigError,
    PlatformConfig,
    load_platform_config,
)
from stacks.program import base_tags
from tests.conftest import ROOT, Plan, stack_config, with_section

DEV = stack_config("dev")
PROD = stack_config("prod")


def section(key: str, flat: dict[str, str] = DEV) -> dict[str, Any]:
    return json.loads(flat[f"ml-platform:{key}"])


def problems_of(flat: dict[str, str], stack: str = "dev") -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_platform_config(stack, flat)
    return raised.value.problems


def changed(key: str, edit: Any, flat: dict[str, str] = DEV) -> dict[str, str]:
    """``flat`` with section ``key`` passed through ``edit`` (which changes it in place)."""
    value = section(key, flat)
    edit(value)
    return with_section(flat, key, value)


def set_in(path: tuple[Any, ...], value: Any) -> Any:
    def edit(document: Any) -> None:
        for part in path[:-1]:
            document = document[part]
        document[path[-1]] = value

    return edit


@pytest.mark.parametrize(
    ("key", "path", "value", "expected"),
    [
        ("data", ("buckets", "raw", "expiration_days"), 10**30, "data.buckets.raw.expiration_days: must be <= 36500"),
        ("data", ("buckets", "raw", "noncurrent_version_expiration_days"), 36501, "data.buckets.raw.noncurrent_version_expiration_days: must be <= 36500"),
        ("data", ("buckets", "models", "transitions"), [{"storage_class": "GLACIER", "days": 10**6}], "data.buckets.models.transitions[0].days: must be <= 36500"),
        ("serving", ("endpoints", 0, "variants", 0, "initial_instance_count"), 2**63, "serving.endpoints[0].variants[0].initial_instance_count: must be <= 100"),
        ("serving", ("endpoints", 0, "variants", 0, "weight"), 1001, "serving.endpoints[0].variants[0].weight: must be <= 1000"),
        ("serving", ("endpoints", 0, "alarms"), {"error_5xx_threshold": 10**9}, "serving.endpoints[0].alarms.error_5xx_threshold: must be <= 1000000"),
        ("gpu", ("on_demand_base_capacity",), 101, "gpu.on_demand_base_capacity: must be <= 100"),
        ("gpu", ("ami_name_filter",), "", "gpu.ami_name_filter: must not be empty"),
        ("kubernetes", ("endpoints", 0, "scale_target"), 10**9, "kubernetes.endpoints[0].scale_target: must be <= 100000"),
        ("kubernetes", ("training_jobs", 0, "target"), "", "kubernetes.training_jobs[0].target: must match ^[\\w.-]{1,128}$"),
        ("kubernetes", ("training_jobs", 0, "train_data"), "", "kubernetes.training_jobs[0].train_data: must match ^[\\w!\\-.*'()][\\w!\\-.*'()/]*$"),
        ("kubernetes", ("jupyterhub", "admin_users"), [""], "kubernetes.jupyterhub.admin_users[0]: must match ^\\S{1,256}$"),
        ("training", ("pipelines", 0, "target"), "", "training.pipelines[0].target: must match ^[\\w.-]{1,128}$"),
        ("training", ("pipelines", 0, "tuning", "ranges"), [{"name": "tree_method", "type": "categorical", "values": ["h" * 257]}], "training.pipelines[0].tuning.ranges[0].values[0]: must be at most 256 characters"),
        ("training", ("pipelines", 0, "tuning", "hyperband_max_resource"), 10**6, "training.pipelines[0].tuning.hyperband_max_resource: must be <= 10000"),
        ("training", ("repositories", "names"), ["x" * 245], "training.repositories.names[0]: must be at most 244 characters"),
        ("monitoring", ("endpoints", 0, "thresholds"), {"psi": 101}, "monitoring.endpoints[0].thresholds.psi: must be <= 100.0"),
        ("serving", ("endpoints", 0, "variants", 0, "model_artifact"), "m/" * 512 + ".tar.gz", "serving.endpoints[0].variants[0].model_artifact: must be at most 1024 characters"),
        ("training", ("pipelines", 0, "train_data"), "t/" * 513, "training.pipelines[0].train_data: must be at most 1024 characters"),
        ("monitoring", ("endpoints", 0, "thresholds"), {"psi": float("inf")}, "monitoring.endpoints[0].thresholds.psi: must be a finite number (not .inf or .nan)"),
        ("monitoring", ("endpoints", 0, "thresholds"), {"ks_statistic": float("nan")}, "monitoring.endpoints[0].thresholds.ks_statistic: must be a finite number (not .inf or .nan)"),
    ],
)  # fmt: skip
def test_every_size_count_and_day_has_an_upper_bound(
    key: str, path: tuple[Any, ...], value: Any, expected: str
) -> None:
    # given one value past its bound (or empty where a value is required)
    flat = changed(key, set_in(path, value))
    # when loaded / then exactly that is reported, at its path
    assert problems_of(flat) == [expected]


def test_an_existing_cluster_needs_non_empty_kubeconfig_and_context() -> None:
    # given an existing cluster whose kubeconfig and context are empty strings
    existing = {
        "kubeconfig": "",
        "context": "",
        "oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/oidc.example.com/id/1",
    }
    flat = changed("kubernetes", set_in(("cluster",), {"existing": existing}))
    # then both are refused
    assert problems_of(flat) == [
        "kubernetes.cluster.existing.context: must not be empty",
        "kubernetes.cluster.existing.kubeconfig: must not be empty",
    ]


LONGEST_ENVIRONMENT = "e" * 12
LONGEST_SHORT_NAME = "n" * 42


def test_monitor_names_are_checked_with_the_prefix_the_program_adds() -> None:
    # given the longest environment and a monitored endpoint of the longest short name,
    # with SageMaker's Model Monitor on too
    flat = dict(DEV, **{"ml-platform:environment": LONGEST_ENVIRONMENT})
    flat = changed("serving", set_in(("endpoints", 0, "name"), LONGEST_SHORT_NAME), flat)
    monitoring = section("monitoring")
    monitoring["endpoints"][0]["endpoint"] = LONGEST_SHORT_NAME
    monitoring["endpoints"][0]["model_monitor"] = {"enabled": True}
    flat = with_section(flat, "monitoring", monitoring)
    # when loaded / then both schedule names are too long, and say so at the endpoint
    pipeline = f"mlp-{LONGEST_ENVIRONMENT}-{LONGEST_SHORT_NAME}-monitor"
    assert problems_of(flat) == [
        f"monitoring.endpoints[0].endpoint: makes the EventBridge schedule name '{pipeline}', "
        "67 characters; AWS allows at most 64",
        "monitoring.endpoints[0].endpoint: makes the Model Monitor schedule name "
        f"'{pipeline}-data-quality', 80 characters; AWS allows at most 63",
    ]


def test_the_names_the_config_checks_are_the_names_the_program_gives(
    plans: dict[str, Plan],
) -> None:
    # given prod (two monitors, one with SageMaker's Model Monitor) and its plan
    config = load_platform_config("prod", PROD)
    resources = plans["prod"].resources
    names = {
        resource.inputs.get("name")
        for resource in resources
        if resource.type
        in (
            "aws:scheduler/schedule:Schedule",
            "aws:sagemaker/monitoringSchedule:MonitoringSchedule",
            "aws:sagemaker/endpoint:Endpoint",
        )
    }
    # then every name the config derives is one the program created
    derived = {
        name
        for monitor in config.monitoring.endpoints
        for name, _ in monitor.derived_names(config.environment).values()
    }
    derived |= {f"mlp-{config.environment}-{e.name}" for e in config.serving.endpoints}
    # (and the scheduled optimization jobs' schedules, named after their pipelines)
    derived |= {
        optimization_name(config.environment, job.name) for job in config.optimization.scheduled
    }
    assert derived == names


def test_the_longest_endpoint_and_pipeline_names_fit_with_their_prefix() -> None:
    # given the longest environment, endpoint name and pipeline name the patterns allow
    flat = dict(DEV, **{"ml-platform:environment": LONGEST_ENVIRONMENT})
    flat = changed("serving", set_in(("endpoints", 0, "name"), LONGEST_SHORT_NAME), flat)
    flat = changed("training", set_in(("pipelines", 0, "name"), LONGEST_SHORT_NAME), flat)
    # (the renamed pipeline keeps registering into the group dev's churn endpoint deploys from)
    flat = changed("training", set_in(("pipelines", 0, "registry", "group"), "churn"), flat)
    flat = changed("monitoring", set_in(("endpoints",), []), flat)
    # when loaded / then mlp-<env>-<name> (59 characters) is within SageMaker's 63
    config = load_platform_config("dev", flat)
    assert len(f"mlp-{config.environment}-{config.serving.endpoints[0].name}") == 59


def test_kserve_names_leave_room_for_the_predictor_host_label() -> None:
    # given a KServe endpoint whose name fits a Kubernetes name but not KServe's host label
    name = "churn-model-" + "x" * 30
    flat = changed("kubernetes", set_in(("endpoints", 0, "name"), name))
    # then the label KServe would build is named, with its length
    label = f"{name}-predictor-mlp-dev-serving"
    assert problems_of(flat) == [
        f"kubernetes.endpoints[0].name: makes the KServe predictor host label '{label}', "
        f"{len(label)} characters; a DNS label allows at most 63"
    ]
    # and the longest that fits is accepted
    fitting = changed("kubernetes", set_in(("endpoints", 0, "name"), "x" * (63 - 29)))
    assert load_platform_config("dev", fitting)


def tags(count: int) -> dict[str, str]:
    return {f"Team{index}": "ml" for index in range(count)}


def test_tags_count_the_platforms_own_against_the_s3_object_limit() -> None:
    # given dev (whose training, serving and monitoring layers upload S3 objects) with 7 tags
    flat = with_section(DEV, "tags", tags(7))
    # then 7 + the platform's 4 is over S3's 10 per object
    assert problems_of(flat) == [
        "tags: 11 tags with the platform's own (Project, Environment, PulumiStack, ManagedBy): "
        "S3 objects take at most 10 and the training, serving, monitoring layers upload "
        "objects, which get every default tag"
    ]
    # and overriding a platform tag does not count twice
    assert load_platform_config("dev", with_section(DEV, "tags", {"Project": "x", **tags(6)}))


def test_tags_are_at_most_fifty_per_resource() -> None:
    # given a data-only stack (no S3 objects) with 47 tags of its own
    flat = dict(DEV, **{"ml-platform:layers": json.dumps(["data"])})
    # then 47 + 4 is over AWS's 50; 46 + 4 is not
    assert problems_of(with_section(flat, "tags", tags(47))) == [
        "tags: 51 tags with the platform's own (Project, Environment, PulumiStack, ManagedBy): "
        "AWS allows at most 50 per resource"
    ]
    assert load_platform_config("dev", with_section(flat, "tags", tags(46)))


def test_tag_values_follow_aws_rules_each_at_its_key() -> None:
    flat = with_section(DEV, "tags", {"Owner": "a<b>", "Note": "x" * 257, "aws:x": "y"})
    assert problems_of(flat) == [
        "tags.Note: longer than 256 characters (AWS's tag value limit)",
        "tags.Owner: may only hold letters, digits, spaces and _.:/=+-@ (an AWS tag rule)",
        "tags: 'aws:x' is not a valid tag key (1-128 chars, no 'aws:' prefix)",
    ]


def test_the_platform_tag_keys_are_the_programs() -> None:
    # given a config / when the program computes its base tags / then their keys are the ones
    # the config counts
    config = load_platform_config("dev", with_section(DEV, "tags", {}))
    assert tuple(base_tags(config, "dev")) == PLATFORM_TAG_KEYS
    assert (MAX_TAGS, MAX_S3_OBJECT_TAGS) == (50, 10)


# --------------------------------------------------------------------------------------------
# render_to
# --------------------------------------------------------------------------------------------


def render_problems(render_to: str, root: Path = ROOT) -> list[str]:
    kubernetes = section("kubernetes")
    kubernetes["cluster"]["render_to"] = render_to
    with pytest.raises(ConfigError) as raised:
        load_platform_config("dev", with_section(DEV, "kubernetes", kubernetes), root)
    return raised.value.problems


@pytest.mark.parametrize(
    ("render_to", "expected"),
    [
        ("build/x\x00y", "must not contain a NUL character"),
        ("Makefile", "'Makefile' is a file, not a folder"),
        ("Makefile/manifests", f"'Makefile/manifests' goes through the file {ROOT / 'Makefile'}, not a folder"),
        ("../manifests", f"'../manifests' leads outside the project folder {ROOT} (through '..' or a symlink): name a folder inside it, or an absolute path to render elsewhere on purpose"),
        (".", "is the project folder itself: name a folder inside it (e.g. build/manifests)"),
        ("", "must not be empty (unset it to apply the manifests instead)"),
        ("build/" + "x" * 256, "has a folder name longer than 255 bytes"),
    ],
)  # fmt: skip
def test_render_to_is_refused_before_anything_is_planned(render_to: str, expected: str) -> None:
    assert render_problems(render_to) == [f"kubernetes.cluster.render_to: {expected}"]


def test_render_to_follows_symlinks_out_of_the_project(tmp_path: Path) -> None:
    # given a project whose 'out' folder is a symlink to somewhere else
    project = tmp_path / "project"
    project.mkdir()
    (project / "out").symlink_to(tmp_path)
    # then rendering into it leaves the project
    assert render_folder_problem("out/manifests", project) == (
        f"'out/manifests' leads outside the project folder {project} (through '..' or a "
        "symlink): name a folder inside it, or an absolute path to render elsewhere on purpose"
    )


def test_render_to_needs_a_writable_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a folder this user may not write to (as root nothing is read-only: the permission
    # check is answered for that folder instead)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    access = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode: Path(path) != locked and access(path, mode)
    )
    # then rendering into it is refused before anything is planned
    assert render_folder_problem(str(locked / "manifests"), tmp_path) == (
        f"'{locked / 'manifests'}' cannot be written: {locked} is not writable"
    )


def test_render_to_accepts_a_new_folder_inside_or_an_absolute_one(tmp_path: Path) -> None:
    # given a relative folder that does not exist yet, and an absolute folder elsewhere
    for render_to in ("build/manifests/dev", str(tmp_path / "manifests")):
        kubernetes = section("kubernetes")
        kubernetes["cluster"]["render_to"] = render_to
        # then both are accepted
        config = load_platform_config("dev", with_section(DEV, "kubernetes", kubernetes))
        assert isinstance(config, PlatformConfig)
        assert config.kubernetes.cluster is not None
        assert config.kubernetes.cluster.render_to == render_to
