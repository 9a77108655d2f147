"""String hyperparameters into typed params: every type, SageMaker's encodings, every bad value."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workloads.training.hyperparameters import (
    HyperparameterError,
    as_strings,
    parse,
    parse_many,
    read_json,
)
from workloads.training.xgboost_trainer import XGBoostParams


@dataclass(frozen=True)
class Params:
    rate: float = 0.1
    depth: int = 6
    shuffle: bool = False
    name: str = "net"
    sizes: tuple[int, ...] = (64, 32)
    kind: Literal["fast", "slow"] = "fast"
    limit: int | None = None

    def problems(self, task: str) -> list[str]:
        return [f"depth: must be > 0 for {task}, not {self.depth}"] if self.depth <= 0 else []


@dataclass(frozen=True)
class Required:
    target: str
    seed: int = 0


def test_every_field_type_is_converted_from_its_string() -> None:
    # given SageMaker's string values, one per annotation type
    raw = {
        "rate": "1e-3",
        "depth": "3.0",
        "shuffle": "TRUE",
        "name": "wide",
        "sizes": "128, 64,32",
        "kind": "slow",
        "limit": "7",
    }
    # when parsed
    params = parse(raw, Params, context={"task": "classification"})
    # then each has its annotated type
    assert params == Params(
        rate=0.001, depth=3, shuffle=True, name="wide", sizes=(128, 64, 32), kind="slow", limit=7
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"rate": '"0.5"'}, Params(rate=0.5)),  # the SageMaker SDK's JSON-encoded string
        ({"sizes": "[16, 8]"}, Params(sizes=(16, 8))),  # a JSON list
        ({"sizes": '"[16, 8]"'}, Params(sizes=(16, 8))),  # a JSON list, JSON-encoded again
        ({"name": '"quoted"'}, Params(name="quoted")),
        ({"shuffle": "0"}, Params(shuffle=False)),
        ({"shuffle": "1"}, Params(shuffle=True)),
        ({"shuffle": "False"}, Params(shuffle=False)),
        ({"limit": "none"}, Params(limit=None)),
        ({"limit": "null"}, Params(limit=None)),
        ({"sizes": ""}, Params(sizes=())),
    ],
)
def test_sagemaker_encodings_are_accepted(raw: dict[str, str], expected: Params) -> None:
    """Given a value as SageMaker or its SDK may encode it, when parsed, then it is understood."""
    assert parse(raw, Params, context={"task": "regression"}) == expected


def test_every_bad_value_is_reported_at_once_naming_its_key() -> None:
    # given several bad values and an unknown key
    raw = {
        "rate": "abc",
        "depth": "2.5",
        "shuffle": "yes",
        "sizes": "64,x",
        "kind": "medium",
        "colour": "red",
    }
    # when parsed
    with pytest.raises(HyperparameterError) as raised:
        parse(raw, Params, source="hyperparameters.json", context={"task": "regression"})
    # then one error lists every problem, each naming its key and value
    assert str(raised.value) == (
        "hyperparameters.json: unknown hyperparameter 'colour'; allowed: rate, depth, shuffle, "
        "name, sizes, kind, limit; "
        "rate: 'abc' is not a number; "
        "depth: '2.5' is not an integer; "
        "shuffle: 'yes' is not a boolean (true, false, 1 or 0); "
        "sizes: '64,x' is not a list of int ('x' is not an integer); "
        "kind: 'medium' is not one of 'fast', 'slow'"
    )
    assert len(raised.value.problems) == 6


def test_checks_across_fields_run_with_their_context_and_beside_type_errors() -> None:
    # given a value of the right type that the class's own check refuses, and a bad type
    raw = {"depth": "0", "rate": "inf"}
    # when parsed
    with pytest.raises(HyperparameterError) as raised:
        parse(raw, Params, context={"task": "regression"})
    # then both problems are reported
    assert raised.value.problems == (
        "rate: 'inf' is not a finite number",
        "depth: must be > 0 for regression, not 0",
    )


def test_sagemaker_keys_are_ignored_and_missing_required_fields_reported() -> None:
    # given SageMaker's own keys and no value for a required field
    raw = {"sagemaker_program": "train.py", "sagemaker_region": '"us-east-1"', "seed": "3"}
    # when parsed
    with pytest.raises(HyperparameterError) as raised:
        parse(raw, Required)
    # then only the missing field is a problem
    assert raised.value.problems == ("target: missing (str)",)


def test_a_key_goes_to_every_class_that_has_it() -> None:
    # given two classes sharing a field
    raw = {"target": "y", "seed": "5", "depth": "2"}
    # when parsed together
    required, params = parse_many(raw, [Required, Params], context={"task": "regression"})
    # then each gets the shared value
    assert required == Required(target="y", seed=5)
    assert params == Params(depth=2)


def test_the_colleagues_torch_params_parse_generically() -> None:
    """Given the PyTorch path's params class, when parsed from strings, then every field converts."""
    pytest.importorskip("torch")
    from workloads.training.torch_trainer import TorchParams

    raw = {"hidden_sizes": "[128,64]", "mixed_precision": "false", "epochs": '"7"'}
    params = parse(raw, TorchParams, context={"task": "classification"})
    assert (params.hidden_sizes, params.mixed_precision, params.epochs) == ((128, 64), False, 7)
    with pytest.raises(HyperparameterError) as raised:
        parse({"objective": "valid_r2"}, TorchParams, context={"task": "classification"})
    assert "objective: 'valid_r2' is not a classification metric" in str(raised.value)


@settings(max_examples=40, deadline=None)
@given(
    rounds=st.integers(1, 10_000),
    rate=st.floats(1e-6, 1.0, allow_nan=False),
    depth=st.integers(1, 30),
    method=st.sampled_from(["hist", "approx", "exact"]),
)
def test_params_round_trip_through_their_strings(
    rounds: int, rate: float, depth: int, method: str
) -> None:
    """Given params, when written as strings and parsed back, then they are equal."""
    params = XGBoostParams(
        num_round=rounds, learning_rate=rate, max_depth=depth, tree_method=method
    )  # type: ignore[arg-type]
    assert parse(as_strings(params), XGBoostParams) == params


def test_a_hyperparameters_file_gives_strings(tmp_path: Path) -> None:
    # given a file with strings, numbers, booleans and a list
    path = tmp_path / "hyperparameters.json"
    path.write_text(json.dumps({"a": "1", "b": 2, "c": True, "d": [64, 32], "e": 0.5}))
    # when read
    values = read_json(path)
    # then everything is the string SageMaker would have passed
    assert values == {"a": "1", "b": "2", "c": "true", "d": "[64, 32]", "e": "0.5"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{",
            "hp.json: not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
        ),
        ("[1]", "hp.json: must hold a JSON object, not list"),
    ],
)
def test_a_bad_hyperparameters_file_names_itself(tmp_path: Path, text: str, message: str) -> None:
    """Given a malformed file, when read, then the error names the file and the problem."""
    path = tmp_path / "hp.json"
    path.write_text(text)
    with pytest.raises(HyperparameterError) as raised:
        read_json(path)
    assert str(raised.value) == message
