"""Training config: SageMaker's limits and the platform's rules, each with its exact message."""

from __future__ import annotations

from typing import Any

import pytest

from components.shared.images import PREBUILT_TRAINING_TAGS, PYTORCH_GPU_TRAINING_TAG
from components.training.pipeline import training_image
from components.training.spec import TrainingPipelineConfig
from stacks.config import ConfigError, load_platform_config
from tests.conftest import stack_config, with_section
from tests.stacks.samples import pipeline, serving_from_archives, without_retraining

# These tests replace the training section: dev's monitor then retrains nothing, and its
# registered-version variant serves an archive (no pipeline may register its group).
DEV = serving_from_archives(without_retraining(stack_config("dev")))
PROD = stack_config("prod")


def own_image(**overrides: Any) -> dict[str, Any]:
    """A valid pipeline on our own training image (which has mlflow)."""
    image = {"repository": "ml-platform/training", "tag": "1.0.0"}
    return pipeline(**{"framework": None, "image": image, **overrides})


def integer_range(name: str = "max_depth", **overrides: Any) -> dict[str, Any]:
    return {"name": name, "type": "integer", "min": 3, "max": 9, **overrides}


def tuning(*ranges: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A valid Bayesian tuning of ``ranges`` (one integer range by default)."""
    return {"objective": "valid_auc", "ranges": list(ranges) or [integer_range()], **overrides}


def problems_of(section: dict[str, Any], flat: dict[str, str] = DEV) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_platform_config("dev", with_section(flat, "training", section))
    return raised.value.problems


def test_stack_files_train_with_spot_and_tuning() -> None:
    # given the stack files / when loaded
    dev = load_platform_config("dev", DEV).training
    prod = load_platform_config("prod", PROD).training
    # then dev tunes XGBoost (Bayesian) and prod tunes PyTorch (Hyperband) on two GPU instances
    assert [(p.name, p.algorithm, p.tuning.strategy) for p in dev.pipelines] == [
        ("churn", "xgboost", "Bayesian")
    ]
    assert [(p.name, p.algorithm, p.tuning.strategy) for p in prod.pipelines] == [
        ("fraud", "pytorch", "Hyperband")
    ]
    fraud = prod.pipelines[0]
    assert fraud.uses_gpu and fraud.instance_count == 2 and fraud.track_experiments
    assert fraud.spot.max_wait_seconds == 2 * fraud.max_runtime_seconds
    # and dev works in a notebook instance, prod in Studio
    assert dev.notebooks.instance is not None and dev.notebooks.studio is None
    assert prod.notebooks.studio is not None and prod.notebooks.instance is None


def test_defaults_need_no_training_section() -> None:
    # given no training section / when loaded
    training = load_platform_config("dev", {**DEV, "ml-platform:training": "{}"}).training
    # then the repositories of our two images, tracking on, nothing else
    assert training.repositories.names == ("training", "serving")
    assert training.experiment_tracking.enabled
    assert training.pipelines == ()
    assert training.notebooks.instance is None and training.notebooks.studio is None


# --------------------------------------------------------------------------------------------
# repositories, notebooks, tracking
# --------------------------------------------------------------------------------------------


def test_repository_names_are_unique_and_limits_hold() -> None:
    # given a repeated name, then counts out of ECR's bounds / then each is reported
    assert problems_of({"repositories": {"names": ["training", "training"]}}) == [
        "training.repositories.names: repository names must be unique: training repeated"
    ]
    section = {"repositories": {"keep_scratch_images": 0, "untagged_expiry_days": 400}}
    assert problems_of(section) == [
        "training.repositories.keep_scratch_images: must be >= 1",
        "training.repositories.untagged_expiry_days: must be <= 365",
    ]


def test_notebook_instance_limits() -> None:
    # given a too short idle time and an unknown platform / then both are reported
    section = {"notebooks": {"instance": {"idle_stop_minutes": 5, "platform_identifier": "al2"}}}
    assert problems_of(section) == [
        "training.notebooks.instance.idle_stop_minutes: must be >= 10",
        r"training.notebooks.instance.platform_identifier: must match ^notebook-al\w+-v\d$",
    ]


def test_notebook_instance_may_run_without_idle_stop() -> None:
    # given an instance without idle stop / then it loads (the stop is opt-out)
    section = {"notebooks": {"instance": {"idle_stop_minutes": None}}}
    training = load_platform_config("dev", with_section(DEV, "training", section)).training
    assert training.notebooks.instance.idle_stop_minutes is None


def test_studio_user_profiles_are_unique() -> None:
    # given a repeated profile / then it is named
    assert problems_of({"notebooks": {"studio": {"user_profiles": ["alice", "alice"]}}}) == [
        "training.notebooks.studio.user_profiles: user profiles must be unique: alice repeated"
    ]


def test_tracking_server_size_and_maintenance_window() -> None:
    # given an unknown size and an impossible hour / then both are reported
    section = {
        "experiment_tracking": {
            "backend": "server",
            "server_size": "Huge",
            "weekly_maintenance_window_start": "Sun:25:00",
        }
    }
    assert problems_of(section) == [
        "training.experiment_tracking.server_size: must be one of 'Small', 'Medium' or 'Large'",
        "training.experiment_tracking.weekly_maintenance_window_start: must match "
        r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun):([01]\d|2[0-3]):[0-5]\d$",
    ]


def test_mlflow_is_serverless_by_default() -> None:
    # given no tracking settings / when loaded / then the MLflow App backend
    training = load_platform_config("dev", with_section(DEV, "training", {})).training
    assert training.experiment_tracking.backend == "serverless"


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"server_size": "Small"}, "server_size applies"),
        ({"mlflow_version": "3.0"}, "mlflow_version applies"),
        ({"server_size": "Large", "mlflow_version": "3.0"}, "server_size and mlflow_version apply"),
    ],
)
def test_server_settings_are_refused_on_the_serverless_backend(
    settings: dict[str, str], named: str
) -> None:
    # given a server-only setting without backend: server / then it is refused, not ignored
    assert problems_of({"experiment_tracking": settings}) == [
        f"training.experiment_tracking: {named} to backend: server only (the serverless MLflow"
        " App has no size or version to choose)"
    ]
    # and with backend: server it is what the server gets
    server = {"experiment_tracking": {"backend": "server", **settings}}
    tracking = load_platform_config("dev", with_section(DEV, "training", server)).training
    assert tracking.experiment_tracking.model_dump(include=set(settings)) == settings


def test_an_unknown_backend_is_refused() -> None:
    assert problems_of({"experiment_tracking": {"backend": "kubernetes"}}) == [
        "training.experiment_tracking.backend: must be one of 'serverless' or 'server'"
    ]


# --------------------------------------------------------------------------------------------
# pipelines: image, algorithm, instances, spot, tracking
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        (
            {"image": {"repository": "ml-platform/training", "tag": "1.0.0"}},
            "training.pipelines[0].image: set either 'framework' or 'image', not both",
        ),
        (
            {"framework": None},
            "training.pipelines[0].image: set 'framework' (a prebuilt container) or 'image' "
            "(our own image)",
        ),
        (
            {"algorithm": "pytorch"},
            "training.pipelines[0].image: algorithm pytorch needs the pytorch container, "
            "not xgboost",
        ),
        (
            {"algorithm": "automl"},
            "training.pipelines[0].image: automl trains every framework: it needs 'image' "
            "(our training image has them all)",
        ),
    ],
)
def test_one_image_source_that_fits_the_algorithm(overrides: dict[str, Any], problem: str) -> None:
    # given a pipeline with one image mistake / then exactly that mistake is reported
    assert problems_of({"pipelines": [pipeline(**overrides)]}) == [problem]


def test_image_tag_is_pinned_and_framework_tag_needs_a_framework() -> None:
    # given a framework tag on our image, then a moving tag / then each is refused
    assert problems_of({"pipelines": [own_image(framework_image_tag="1.7-1")]}) == [
        "training.pipelines[0].framework_image_tag: only applies with 'framework'"
    ]
    latest = own_image(image={"repository": "ml-platform/training", "tag": "latest"})
    assert problems_of({"pipelines": [latest]}) == [
        "training.pipelines[0].image.tag: must not be 'latest' (pin an immutable tag)"
    ]


def test_only_pytorch_trains_on_several_instances() -> None:
    # given XGBoost on two instances / then only pytorch may (DDP)
    assert problems_of({"pipelines": [pipeline(instance_count=2)]}) == [
        "training.pipelines[0].instance_count: xgboost trains on one instance; only pytorch "
        "trains on several (DDP)"
    ]


def test_spot_wait_includes_the_run() -> None:
    # given a spot wait shorter than the runtime / then it is refused
    section = {"pipelines": [pipeline(max_runtime_seconds=7200, spot={"max_wait_seconds": 3600})]}
    assert problems_of(section) == [
        "training.pipelines[0].spot: max_wait_seconds (3600) must be >= max_runtime_seconds "
        "(7200): it includes the run itself"
    ]


def test_spot_wait_does_not_matter_without_spot() -> None:
    # given spot off with a short wait / then the wait is not checked
    section = {
        "pipelines": [
            pipeline(max_runtime_seconds=7200, spot={"enabled": False, "max_wait_seconds": 60})
        ]
    }
    training = load_platform_config("dev", with_section(DEV, "training", section)).training
    assert training.pipelines[0].spot.enabled is False


def test_tracking_needs_our_image() -> None:
    # given tracking on a prebuilt container / then our image is asked for
    assert problems_of({"pipelines": [pipeline(track_experiments=True)]}) == [
        "training.pipelines[0].track_experiments: the prebuilt xgboost container has no mlflow "
        "and the private VPC cannot pip-install it: set 'image' to an image built from "
        "docker/training.Dockerfile, or set track_experiments to false"
    ]


def test_tracking_needs_the_tracking_server() -> None:
    # given a tracked pipeline without a tracking server / then it is refused
    section = {
        "experiment_tracking": {"enabled": False},
        "pipelines": [own_image(track_experiments=True)],
    }
    assert problems_of(section) == [
        "training.pipelines: churn track experiments but experiment_tracking is disabled"
    ]


def test_pipeline_names_are_unique_and_short() -> None:
    # given a repeated name, then a malformed one / then each is refused
    assert problems_of({"pipelines": [pipeline(), pipeline()]}) == [
        "training.pipelines: pipeline names must be unique: churn repeated"
    ]
    assert problems_of({"pipelines": [pipeline(name="Churn_1")]}) == [
        "training.pipelines[0].name: must match ^[a-z][a-z0-9-]{0,40}[a-z0-9]$"
    ]


def test_data_prefixes_and_instance_types_are_checked() -> None:
    # given prefixes and an instance type SageMaker would refuse / then all are reported
    section = {
        "pipelines": [
            pipeline(train_data="/abs", validation_data="no-slash", instance_type="m5.xlarge")
        ]
    }
    assert problems_of(section) == [
        r"training.pipelines[0].instance_type: must match ^ml\.[a-z0-9-]+\.\w+$",
        r"training.pipelines[0].train_data: must match ^[\w!\-.*'()][\w!\-.*'()/]*/$",
        r"training.pipelines[0].validation_data: must match ^[\w!\-.*'()][\w!\-.*'()/]*/$",
    ]


# --------------------------------------------------------------------------------------------
# tuning
# --------------------------------------------------------------------------------------------


def test_tuning_objective_is_a_metric_of_the_task() -> None:
    # given a regression metric on a classification task / then the known ones are listed
    section = {"pipelines": [pipeline(tuning=tuning(objective="valid_rmse"))]}
    assert problems_of(section) == [
        "training.pipelines[0].tuning: objective 'valid_rmse' is not a classification metric "
        "(known: train_loss, valid_loss, valid_accuracy, valid_auc, valid_f1)"
    ]


def test_a_hyperparameter_is_fixed_or_tuned_not_both() -> None:
    # given max_depth fixed and tuned / then it is refused
    section = {"pipelines": [pipeline(hyperparameters={"max_depth": 4}, tuning=tuning())]}
    assert problems_of(section) == [
        "training.pipelines[0].tuning: max_depth both fixed in hyperparameters and tuned"
    ]


def test_tuning_limits() -> None:
    # given SageMaker's tuning limits broken one at a time / then each is reported
    assert problems_of(
        {"pipelines": [pipeline(tuning=tuning(max_jobs=2, max_parallel_jobs=3))]}
    ) == ["training.pipelines[0].tuning.max_parallel_jobs: must be <= max_jobs (2)"]
    assert problems_of(
        {"pipelines": [pipeline(tuning={"objective": "valid_auc", "ranges": []})]}
    ) == ["training.pipelines[0].tuning.ranges: needs 1-30 ranges (a SageMaker limit), got 0"]
    # (no algorithm has 31 hyperparameters, so 31 unique ranges always name unknown ones)
    many = tuning(*(integer_range(f"p{index}") for index in range(31)))
    assert problems_of({"pipelines": [pipeline(tuning=many)]})[-1].startswith(
        "training.pipelines[0].tuning.ranges[9].name: 'p9' is not a hyperparameter of xgboost"
    )
    twice = tuning(integer_range("max_depth"), integer_range("max_depth"))
    assert problems_of({"pipelines": [pipeline(tuning=twice)]}) == [
        "training.pipelines[0].tuning.ranges: range names must be unique: max_depth repeated"
    ]


def test_hyperband_resources() -> None:
    # given Hyperband settings without Hyperband, missing, then equal / then each is refused
    bayesian = tuning(hyperband_min_resource=1)
    assert problems_of({"pipelines": [pipeline(tuning=bayesian)]}) == [
        "training.pipelines[0].tuning.hyperband_max_resource: "
        "hyperband_min_resource/hyperband_max_resource need Hyperband"
    ]
    missing = tuning(strategy="Hyperband")
    assert problems_of({"pipelines": [pipeline(tuning=missing)]}) == [
        "training.pipelines[0].tuning.hyperband_max_resource: "
        "Hyperband needs hyperband_min_resource and hyperband_max_resource"
    ]
    equal = tuning(strategy="Hyperband", hyperband_min_resource=5, hyperband_max_resource=5)
    assert problems_of({"pipelines": [pipeline(tuning=equal)]}) == [
        "training.pipelines[0].tuning.hyperband_max_resource: "
        "must be above hyperband_min_resource (5)"
    ]


def test_parameter_range_shapes() -> None:
    # given one broken range of each kind
    ranges = tuning(
        {"name": "a", "type": "categorical"},
        {"name": "b", "type": "categorical", "values": ["x"], "min": 1},
        {"name": "c", "type": "categorical", "values": ["x", "x"]},
        {"name": "d", "type": "integer", "min": 1, "max": 2, "values": ["x"]},
        {"name": "e", "type": "continuous", "min": 1},
        {"name": "f", "type": "continuous", "min": 2, "max": 1},
        {"name": "g", "type": "integer", "min": 1.5, "max": 3},
        {"name": "h", "type": "continuous", "min": 0, "max": 1, "scaling": "Logarithmic"},
        {"name": "i", "type": "integer", "min": 1, "max": 3, "scaling": "ReverseLogarithmic"},
        {"name": "j", "type": "continuous", "min": 0.1, "max": 2, "scaling": "ReverseLogarithmic"},
    )
    # when loaded / then each is reported at its index, all at once
    path = "training.pipelines[0].tuning.ranges"
    assert problems_of({"pipelines": [pipeline(tuning=ranges)]}) == [
        f"{path}[0]: a categorical range needs at least one value",
        f"{path}[1]: a categorical range has values, not min/max",
        f"{path}[2]: values must not repeat",
        f"{path}[3]: an integer range has min/max, not values",
        f"{path}[4]: a continuous range needs both min and max",
        f"{path}[5]: min (2) must be below max (1)",
        f"{path}[6]: an integer range needs whole-number min and max",
        f"{path}[7]: Logarithmic scaling needs min > 0",
        f"{path}[8]: ReverseLogarithmic scaling needs a continuous range below 1",
        f"{path}[9]: ReverseLogarithmic scaling needs a continuous range below 1",
    ]


def test_unknown_training_key_suggests_the_known_one() -> None:
    # given a misspelt key / then the known one is suggested
    assert problems_of({"pipeline": []}) == [
        "training.pipeline: unknown key (did you mean 'pipelines'?)"
    ]


# --------------------------------------------------------------------------------------------
# images chosen from the config
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "repository", "tag"),
    [
        ({}, "sagemaker-xgboost", PREBUILT_TRAINING_TAGS["xgboost"]),
        ({"framework_image_tag": "1.7-1-cpu-py3"}, "sagemaker-xgboost", "1.7-1-cpu-py3"),
        (
            {"algorithm": "pytorch", "framework": "pytorch", "instance_type": "ml.c5.xlarge"},
            "pytorch-training",
            PREBUILT_TRAINING_TAGS["pytorch"],
        ),
        (
            {"algorithm": "pytorch", "framework": "pytorch", "instance_type": "ml.g5.xlarge"},
            "pytorch-training",
            PYTORCH_GPU_TRAINING_TAG,
        ),
    ],
)
def test_prebuilt_image_tag_follows_the_framework_and_gpus(
    overrides: dict[str, Any], repository: str, tag: str
) -> None:
    # given a pipeline on a prebuilt container / when its image is chosen
    image = training_image(TrainingPipelineConfig.model_validate(pipeline(**overrides)))
    # then the framework's training repository with the CPU or GPU tag (or the pinned one)
    assert (image.framework_repository, image.framework_tag) == (repository, tag)
    assert image.ecr_repository is None
