"""The hyperparameter tables are the trainers' declaration, and the config refuses what they refuse.

The tables (components/shared/hyperparameter_tables.py) are read from the params dataclasses in
workloads/training/params.py: these tests check that each entry IS its field's declaration
(name, annotation, bounds), and, since both sides derive their checks from it, that the
config's verdict equals the trainer's own parser and ``problems()`` at and around every bound.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from typing import Any

import pytest

from components.shared.hyperparameter_tables import (
    ALGORITHM_TABLES,
    AUTOML_FAMILIES,
    SET_BY_THE_PIPELINE,
    SHARED,
    Hyperparameter,
    range_problems,
    table,
    value_problems,
)
from stacks.config import ConfigError, load_platform_config
from tests.conftest import stack_config, with_section
from tests.stacks.samples import without_retraining
from workloads.training.algorithms import params_type
from workloads.training.automl import SPACES
from workloads.training.hyperparameters import HyperparameterError, parse_many
from workloads.training.params import BOUNDS, FAMILIES, PARAMS_TYPES, Bounds, JobParams

# Dev's monitor retrains with its pipeline churn: these tests change the pipelines.
DEV = without_retraining(stack_config("dev"))
TASK = "classification"
ALGORITHMS = tuple(ALGORITHM_TABLES)

#: Values every hyperparameter is probed with, besides those around its bounds.
COMMON_PROBES = (
    "0", "1", "-1", "2", "0.5", "1.5", "-0.5", "1e9", "-1e9", "3.0", "abc", "", "none",
    "true", "false", "inf", "nan", "64,32", "[1, 2]", "valid_auc", "valid_rmse", "xgboost",
    "xgboost,xgboost", "linear,pytorch", "hist", "linear",
)  # fmt: skip


def declared(params: type) -> dict[str, tuple[Any, Bounds]]:
    """Each field of a params dataclass: its annotation and the bounds in its metadata."""
    hints = typing.get_type_hints(params)
    return {
        field.name: (hints[field.name], field.metadata.get(BOUNDS, Bounds()))
        for field in dataclasses.fields(params)
    }


def entries(table_: dict[str, Hyperparameter]) -> dict[str, tuple[Any, Bounds]]:
    return {name: (entry.annotation, entry.bounds) for name, entry in table_.items()}


def trainer_refuses(algorithm: str, name: str, text: str) -> bool:
    """Whether the trainer itself refuses ``name=text`` (its parser and its problems())."""
    raw = {"algorithm": algorithm, "task": TASK, "target": "y", name: text}
    kinds = [JobParams, params_type(algorithm)]
    try:
        parse_many(raw, kinds, context={"task": TASK})
    except HyperparameterError as error:
        return any(problem.startswith(f"{name}:") for problem in error.problems)
    return False


def probes(entry: Hyperparameter) -> list[str]:
    """Values at, just inside and just outside each bound, plus the common ones."""
    values = list(COMMON_PROBES)
    for bound in (entry.minimum, entry.maximum, *entry.excluded):
        if bound is None:
            continue
        if entry.kind == "integer" or entry.base_type is tuple[int, ...]:
            values += [str(int(bound) + step) for step in (-1, 0, 1)]
        else:
            values += [repr(bound), repr(math.nextafter(bound, -math.inf))]
            values += [repr(math.nextafter(bound, math.inf))]
    return values


def probe_cases() -> list[tuple[str, str]]:
    return [
        (algorithm, name)
        for algorithm in ALGORITHMS
        for name in table(algorithm)
        if name not in SET_BY_THE_PIPELINE
    ]


def test_each_table_is_its_params_dataclass_declaration() -> None:
    # given the params dataclasses the trainers parse into
    # then each table holds exactly their fields, in order, with their annotations and bounds
    assert entries(SHARED) == declared(JobParams)
    assert list(ALGORITHM_TABLES) == list(PARAMS_TYPES)
    for algorithm, own in ALGORITHM_TABLES.items():
        assert list(own) == [field.name for field in dataclasses.fields(PARAMS_TYPES[algorithm])]
        assert entries(own) == declared(PARAMS_TYPES[algorithm]), algorithm


def test_the_trainers_parse_into_the_declared_dataclasses() -> None:
    # given each algorithm / when the trainer picks its params class (importing its module)
    # then it is the very class the table was read from
    for algorithm, params in PARAMS_TYPES.items():
        assert params_type(algorithm) is params, algorithm
    # and AutoML searches exactly the declared families, in their order
    assert AUTOML_FAMILIES == FAMILIES == tuple(SPACES)


@pytest.mark.parametrize(("algorithm", "name"), probe_cases())
def test_the_table_refuses_exactly_what_the_trainer_refuses(algorithm: str, name: str) -> None:
    # given one hyperparameter and values around its bounds
    entry = table(algorithm)[name]
    for text in probes(entry):
        # when the config and the trainer judge the same string
        config_refuses = bool(value_problems(algorithm, TASK, {name: text}))
        # then they agree
        assert config_refuses == trainer_refuses(algorithm, name, text), (algorithm, name, text)


def problems_of(pipeline: dict[str, Any]) -> list[str]:
    training = json.loads(DEV["ml-platform:training"])
    training["pipelines"] = [pipeline]
    with pytest.raises(ConfigError) as raised:
        load_platform_config("dev", with_section(DEV, "training", training))
    return raised.value.problems


def pipeline(**overrides: Any) -> dict[str, Any]:
    """Dev's XGBoost pipeline with ``overrides``."""
    base = json.loads(DEV["ml-platform:training"])["pipelines"][0]
    return {**base, **overrides}


XGBOOST_KNOWN = (
    "features, objective, validation_fraction, seed, registered_model_name, num_round, "
    "learning_rate, max_depth, min_child_weight, subsample, colsample_bytree, reg_lambda, "
    "reg_alpha, gamma, max_bin, tree_method, early_stopping_rounds, checkpoint_every, nthread"
)


def test_fixed_hyperparameters_are_checked_each_at_its_path() -> None:
    # given wrong types, an unknown name, a value out of bounds and a pipeline field
    hyperparameters = {
        "num_round": "deep",
        "max_depht": 3,
        "subsample": 1.5,
        "seed": True,
        "task": "regression",
        "objective": "valid_rmse",
    }
    # when the config is loaded / then every one is reported, at its own path
    assert problems_of(pipeline(hyperparameters=hyperparameters)) == [
        "training.pipelines[0].hyperparameters.max_depht: not a hyperparameter of xgboost "
        f"(known: {XGBOOST_KNOWN})",
        "training.pipelines[0].hyperparameters.num_round: 'deep' is not an integer",
        "training.pipelines[0].hyperparameters.objective: 'valid_rmse' is not a classification "
        "metric (known: train_loss, valid_loss, valid_accuracy, valid_auc, valid_f1)",
        "training.pipelines[0].hyperparameters.seed: 'true' is not an integer",
        "training.pipelines[0].hyperparameters.subsample: must be in (0, 1], not 1.5",
        "training.pipelines[0].hyperparameters.task: set by the 'task' field, not in "
        "hyperparameters",
    ]


def test_a_hyperparameter_value_is_bounded_by_what_sagemaker_passes() -> None:
    # given a feature list longer than SageMaker's 2500-character value
    features = ",".join(f"column_{index:04d}" for index in range(300))
    # when loaded / then its length is the problem
    assert problems_of(pipeline(hyperparameters={"features": features})) == [
        f"training.pipelines[0].hyperparameters.features: is {len(features)} characters; "
        "SageMaker passes at most 2500"
    ]


def test_hyperparameters_of_each_algorithm_are_its_own() -> None:
    # given pytorch's hidden_sizes on the sklearn path, and sklearn's n_jobs=0
    sklearn = pipeline(
        algorithm="sklearn",
        framework="sklearn",
        tuning=None,
        hyperparameters={"hidden_sizes": "64,32", "n_jobs": 0, "max_depth": "none"},
    )
    # then the first is unknown to sklearn and the second out of its bounds; none is fine
    problems = problems_of(sklearn)
    assert [problem.split(" (known")[0] for problem in problems] == [
        "training.pipelines[0].hyperparameters.hidden_sizes: not a hyperparameter of sklearn",
        "training.pipelines[0].hyperparameters.n_jobs: must be other than 0, not 0",
    ]


def test_tuning_ranges_are_checked_against_the_table() -> None:
    # given ranges on an unknown name, an integer parameter sampled continuously, bounds
    # outside the parameter's, infinite and NaN bounds, and a categorical value it refuses
    ranges = [
        {"name": "max_depht", "type": "integer", "min": 3, "max": 9},
        {"name": "max_depth", "type": "continuous", "min": 3, "max": 9},
        {"name": "subsample", "type": "continuous", "min": -0.5, "max": 2},
        {"name": "gamma", "type": "continuous", "min": 0, "max": math.inf},
        {"name": "reg_alpha", "type": "continuous", "min": math.nan, "max": 1},
        {"name": "tree_method", "type": "categorical", "values": ["hist", "gpu_hist"]},
        {"name": "target", "type": "categorical", "values": ["a", "b"]},
    ]
    tuning = {"objective": "valid_auc", "ranges": ranges}
    # when loaded / then each range's problem is at its own path
    assert problems_of(pipeline(tuning=tuning)) == [
        "training.pipelines[0].tuning.ranges[0].name: 'max_depht' is not a hyperparameter of "
        f"xgboost (known: {XGBOOST_KNOWN})",
        "training.pipelines[0].tuning.ranges[1].type: max_depth takes integers, so its range "
        "must be integer, not continuous",
        "training.pipelines[0].tuning.ranges[2].max: subsample must be in (0, 1], not 2",
        "training.pipelines[0].tuning.ranges[2].min: subsample must be in (0, 1], not -0.5",
        "training.pipelines[0].tuning.ranges[3].max: must be a finite number (not .inf or .nan)",
        "training.pipelines[0].tuning.ranges[4].min: must be a finite number (not .inf or .nan)",
        "training.pipelines[0].tuning.ranges[5].values: 'gpu_hist': 'gpu_hist' is not one of "
        "'hist', 'approx', 'exact'",
        "training.pipelines[0].tuning.ranges[6].name: target is set by its own 'target' field "
        "and cannot be tuned",
    ]


def test_a_range_may_not_span_a_value_the_parameter_refuses() -> None:
    # given sklearn's n_jobs tuned over -1..4 (0 is not a job count it takes)
    # when the range is checked / then the hole is named
    assert range_problems("sklearn", TASK, "n_jobs", "integer", -1, 4, ()) == [
        ("min", "the range includes 0, which n_jobs refuses")
    ]
    # and log scaling needs positive bounds (the range model's own rule)
    log_range = {"name": "gamma", "type": "continuous", "min": 0, "max": 1}
    log_range["scaling"] = "Logarithmic"
    assert problems_of(pipeline(tuning={"objective": "valid_auc", "ranges": [log_range]})) == [
        "training.pipelines[0].tuning.ranges[0]: Logarithmic scaling needs min > 0"
    ]


def test_kubernetes_training_jobs_are_checked_against_the_same_table() -> None:
    # given the dev TrainJob (pytorch) with a wrong type and an out-of-range dropout
    kubernetes = json.loads(DEV["ml-platform:kubernetes"])
    kubernetes["training_jobs"][0]["hyperparameters"] = {"batch_size": "big", "dropout": 1}
    with pytest.raises(ConfigError) as raised:
        load_platform_config("dev", with_section(DEV, "kubernetes", kubernetes))
    # then both are reported at their paths
    assert raised.value.problems == [
        "kubernetes.training_jobs[0].hyperparameters.batch_size: 'big' is not an integer",
        "kubernetes.training_jobs[0].hyperparameters.dropout: must be in [0, 1), not 1",
    ]


def test_a_hyperparameter_value_of_another_yaml_type_is_one_problem_at_its_key() -> None:
    # given a list, a mapping and a null where single values belong
    hyperparameters = {"num_round": [100], "gamma": {"min": 0}, "max_depth": None}
    # then each is one problem, at its own key
    assert problems_of(pipeline(hyperparameters=hyperparameters)) == [
        "training.pipelines[0].hyperparameters.gamma: must be a string, number or boolean, "
        "not a mapping",
        "training.pipelines[0].hyperparameters.max_depth: must be a string, number or boolean, "
        "not null (write none for no value)",
        "training.pipelines[0].hyperparameters.num_round: must be a string, number or boolean, "
        "not a list",
    ]
