"""The params dataclasses: one declaration of each field's type, default and bounds."""

from __future__ import annotations

import ast
import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workloads.training import params as params_module
from workloads.training.params import (
    PARAMS_TYPES,
    Bounds,
    JobParams,
    SklearnParams,
    TorchParams,
    XGBoostParams,
    declaration,
    setting,
)

ROOT = Path(__file__).resolve().parents[3]
ML_LIBRARIES = ("numpy", "pandas", "sklearn", "scipy", "torch", "xgboost", "mlflow", "sagemaker")
EVERY_PARAMS_TYPE = (JobParams, *PARAMS_TYPES.values())


@pytest.mark.parametrize(
    "module", ["workloads.training.params", "components.shared.hyperparameter_tables"]
)
def test_the_declaration_imports_no_ml_library_even_indirectly(module: str) -> None:
    # given a fresh interpreter (this one has numpy loaded already)
    code = (
        f"import json, sys; import {module}; "
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    )
    # when only the module is imported
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    # then no ML library came with it
    assert set(json.loads(loaded.stdout)) & set(ML_LIBRARIES) == set()


def test_the_trainer_modules_still_export_their_params_class() -> None:
    # given the names other code imported from the trainers before the move
    from workloads.training.automl import FAMILIES, AutoMLParams
    from workloads.training.entrypoint import JobParams as EntrypointJobParams
    from workloads.training.sklearn_trainer import SklearnParams as Sklearn
    from workloads.training.torch_trainer import TorchParams as Torch
    from workloads.training.xgboost_trainer import XGBoostParams as XGBoost

    # then they are the declared classes themselves
    assert (EntrypointJobParams, Sklearn, XGBoost, Torch) == (
        JobParams,
        SklearnParams,
        XGBoostParams,
        TorchParams,
    )
    assert AutoMLParams is PARAMS_TYPES["automl"]
    assert FAMILIES == params_module.FAMILIES


@pytest.mark.parametrize("params_type", EVERY_PARAMS_TYPE, ids=lambda kind: kind.__name__)
def test_every_default_is_inside_its_bounds(params_type: type) -> None:
    # given the defaults (JobParams' required fields filled in)
    required = {"algorithm": "xgboost", "task": "classification", "target": "y"}
    values = required if params_type is JobParams else {}
    instance = params_type(**values)
    # when checked / then nothing is refused
    task = ("classification",) if params_type is TorchParams else ()
    assert instance.problems(*task) == []


def test_every_field_keeps_its_docstring() -> None:
    # given the module's source
    tree = ast.parse(Path(params_module.__file__).read_text(encoding="utf-8"))
    names = {kind.__name__ for kind in EVERY_PARAMS_TYPE}
    undocumented = []
    for node in tree.body:
        if not (isinstance(node, ast.ClassDef) and node.name in names):
            continue
        for field, after in zip(node.body, [*node.body[1:], None], strict=True):
            if not isinstance(field, ast.AnnAssign):
                continue
            documented = (
                isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            )
            if not documented:
                undocumented.append(f"{node.name}.{ast.unparse(field.target)}")
    # then every field has a string right under it
    assert undocumented == []


def test_problems_come_from_the_declared_bounds_in_field_order() -> None:
    # given values past several declared bounds
    params = TorchParams(
        hidden_sizes=(64, 0), dropout=1.0, batch_size=0, objective="valid_r2", seed=2**32
    )
    # when checked for a classification task / then each is named, in field order
    assert params.problems("classification") == [
        "hidden_sizes: each item must be >= 1, not 0",
        "dropout: must be in [0, 1), not 1.0",
        "batch_size: must be >= 1, not 0",
        "objective: 'valid_r2' is not a classification metric "
        "(known: train_loss, valid_loss, valid_accuracy, valid_auc, valid_f1)",
        "seed: must be in [0, 4294967296), not 4294967296",
    ]


def test_shared_params_check_the_objective_against_their_own_task() -> None:
    # given an empty objective (the default) and one of another task
    default = JobParams("sklearn", "regression", "y", objective="")
    other = JobParams("sklearn", "regression", " ", objective="valid_auc", validation_fraction=1)
    # then the empty one stands for the task's default; the other is refused, with a blank target
    assert default.problems() == []
    assert default.resolved_objective == "valid_loss"
    assert other.problems() == [
        "target: must not be empty",
        "objective: 'valid_auc' is not a regression metric "
        "(known: train_loss, valid_loss, valid_rmse, valid_mae, valid_r2)",
        "validation_fraction: must be in (0, 1), not 1",
    ]


def test_a_nan_built_in_code_is_refused_by_every_bound() -> None:
    # given NaN, which the string parser refuses but code can pass directly
    params = XGBoostParams(learning_rate=math.nan, subsample=math.nan, gamma=math.nan)
    # then every bounded field refuses it
    assert params.problems() == [
        "learning_rate: must be > 0, not nan",
        "subsample: must be in (0, 1], not nan",
        "gamma: must be >= 0, not nan",
    ]


def test_nullable_fields_say_so_and_accept_none() -> None:
    # given sklearn's depth limits, one below its bound and the others none
    params = SklearnParams(max_depth=0, max_leaf_nodes=None, min_samples_leaf=None, n_jobs=-3)
    # then only the bound is refused (and a negative job count is joblib's "all but n - 1")
    assert params.problems() == ["max_depth: must be >= 1 or none, not 0"]


def test_a_field_takes_one_lower_and_one_upper_bound() -> None:
    # given both an exclusive and an inclusive lower bound / then the declaration is refused
    with pytest.raises(TypeError, match=r"^give at most one of gt/ge and one of lt/le$"):
        setting(1, gt=0, ge=1)
    with pytest.raises(TypeError, match=r"^give at most one of gt/ge and one of lt/le$"):
        setting(1, lt=2, le=1)


def test_the_declaration_is_each_fields_annotation_and_bounds() -> None:
    # given XGBoost's subsample, declared setting(1.0, gt=0, le=1)
    declared = declaration(XGBoostParams)["subsample"]
    # then its annotation is resolved and its bounds are the declared ones
    assert declared.annotation is float
    assert declared.bounds == Bounds(minimum=0, maximum=1, min_exclusive=True)
    # and a field declared without bounds has none
    assert declaration(XGBoostParams)["tree_method"].bounds == Bounds()
    assert [field.name for field in dataclasses.fields(XGBoostParams)] == list(
        declaration(XGBoostParams)
    )


BOUND = st.one_of(st.none(), st.integers(-5, 5).map(float))


@settings(max_examples=200, deadline=None)
@given(
    low=BOUND,
    high=BOUND,
    low_open=st.booleans(),
    high_open=st.booleans(),
    number=st.floats(-6, 6, allow_nan=False).map(lambda x: round(x * 2) / 2),
)
def test_within_agrees_with_the_bounds_in_words(
    low: float | None, high: float | None, low_open: bool, high_open: bool, number: float
) -> None:
    # given any bounds and a number near them
    bounds = Bounds(minimum=low, maximum=high, min_exclusive=low_open, max_exclusive=high_open)
    text = bounds.bounds_text()
    # when the number is judged / then the verdict is what the words say
    above = low is None or (number > low if low_open else number >= low)
    below = high is None or (number < high if high_open else number <= high)
    assert bounds.within(number) == (above and below), text
    refused = bounds.problem(number)
    assert (refused is None) == (above and below)
    if refused:
        assert refused == f"must be {text}, not {number!r}"
