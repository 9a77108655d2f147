"""The model directory layout: metadata, saving and loading each framework, TabularNet."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.workloads.conftest import mode_of
from tests.workloads.inference import models
from workloads.model_layout import (
    METADATA_FILE,
    FeatureCountError,
    ModelLayoutError,
    ModelMetadata,
    load_model,
    metadata_for,
    save_model,
    save_sklearn_model,
)

ROOT = Path(__file__).resolve().parents[2]


def metadata(**changes: object) -> ModelMetadata:
    values: dict[str, object] = {
        "framework": "sklearn",
        "task": "classification",
        "feature_names": ["a", "b"],
        "target": "y",
        "classes": ["no", "yes"],
        "metrics": {"accuracy": 0.9},
    }
    values.update(changes)
    return ModelMetadata(**values)  # type: ignore[arg-type]


# --- metadata -------------------------------------------------------------------------------


def test_metadata_round_trips_through_its_file(tmp_path: Path) -> None:
    # given metadata, when written and read back
    written = metadata(name="churn")
    path = written.write(tmp_path)
    # then it is equal, stored as sorted JSON with lists
    assert ModelMetadata.read(tmp_path) == written
    assert path == tmp_path / METADATA_FILE
    stored = json.loads(path.read_text())
    assert stored["feature_names"] == ["a", "b"]
    assert list(stored) == sorted(stored)
    assert stored["format_version"] == 1
    assert [p.name for p in tmp_path.iterdir()] == [METADATA_FILE]


def test_numpy_scalars_become_plain_json_values() -> None:
    """Given numpy labels and metrics, when stored, then they are plain JSON values."""
    found = metadata(classes=list(np.array([0, 1])), metrics={"auc": np.float32(0.5)})
    assert found.to_json() == metadata(classes=[0, 1], metrics={"auc": 0.5}).to_json()


def test_every_invalid_field_is_named_at_once() -> None:
    """Given four bad fields, when metadata is built, then one error names all four."""
    with pytest.raises(ModelLayoutError) as invalid:
        metadata(
            framework="tensorflow",
            task="clustering",
            feature_names=["a", "a"],
            metrics={"x": "high"},
        )
    assert str(invalid.value) == (
        "invalid model metadata: framework: must be one of ('sklearn', 'xgboost', 'pytorch'); "
        "task: must be one of ('classification', 'regression'); "
        "feature_names: duplicate names ['a']; metrics: must map str to numbers"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"feature_names": []}, "feature_names: must be a non-empty list of non-empty str"),
        ({"task": "regression"}, "classes: must be empty for a regression model"),
        ({"classes": ["a", "a"]}, "classes: must not repeat a label"),
        ({"format_version": 2}, "format_version: must be 1, not 2"),
        ({"network": {"input_size": 2}}, "network: is only for pytorch models"),
        (
            {"framework": "pytorch"},
            "network: missing keys ['input_size', 'hidden_sizes', 'output_size', 'dropout']",
        ),
        (
            {
                "framework": "pytorch",
                "network": {"input_size": 3, "hidden_sizes": [0], "output_size": 3, "dropout": 1.5},
            },
            "network.input_size: is 3 but there are 2 feature_names; "
            "network.hidden_sizes: must be a list of positive integers, not [0]; "
            "network.dropout: must be a number in [0, 1), not 1.5; "
            "network.output_size: is 3 but there are 2 classes",
        ),
        (
            {"inputs": [{"name": "a", "type": "numeric"}, {"name": "b", "type": "text"}]},
            "inputs[1].type: must be one of ('numeric', 'categorical')",
        ),
        (
            {"inputs": [{"name": "a", "type": "numeric"}, {"name": "b", "type": "categorical"}]},
            "inputs[1]: must have exactly the keys ['categories', 'name', 'type']",
        ),
        (
            {
                "inputs": [
                    {"name": "a", "type": "numeric"},
                    {"name": "b", "type": "categorical", "categories": ["x", "x"]},
                ]
            },
            "inputs[1].categories: must not repeat a category",
        ),
        (
            {"inputs": [{"name": "b", "type": "numeric"}, {"name": "a", "type": "numeric"}]},
            "inputs: must name the feature_names, in their order",
        ),
        (
            {
                "framework": "pytorch",
                "inputs": [
                    {"name": "a", "type": "numeric"},
                    {"name": "b", "type": "categorical", "categories": ["x", "y", "z"]},
                ],
                "network": {"input_size": 2, "hidden_sizes": [], "output_size": 2, "dropout": 0},
            },
            "network.input_size: is 2 but there are 4 inputs",
        ),
    ],
)
def test_invalid_metadata_says_which_field(changes: dict[str, object], message: str) -> None:
    """Given one bad field, when metadata is built, then the error names it."""
    with pytest.raises(ModelLayoutError) as invalid:
        metadata(**changes)
    assert str(invalid.value) == f"invalid model metadata: {message}"


def test_a_missing_metadata_file_is_named(tmp_path: Path) -> None:
    """Given an empty directory, when loaded, then the error names the missing metadata.json."""
    with pytest.raises(ModelLayoutError) as missing:
        load_model(tmp_path)
    assert str(missing.value) == (
        f"{tmp_path}/metadata.json: missing; a model directory needs metadata.json beside its model file"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{",
            "not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
        ),
        ("[]", "must hold a JSON object, not list"),
        (
            '{"framework": "sklearn", "colour": "red"}',
            "invalid model metadata: colour: unknown field; task: missing; feature_names: missing",
        ),
        (
            '{"framework": "sklearn", "task": "regression", "feature_names": "abc"}',
            "invalid model metadata: feature_names: must be a non-empty list of non-empty str",
        ),
    ],
)
def test_invalid_metadata_files_name_the_file_and_the_field(
    tmp_path: Path, text: str, message: str
) -> None:
    """Given a bad metadata.json, when read, then the error names the file and the field."""
    (tmp_path / METADATA_FILE).write_text(text)
    with pytest.raises(ModelLayoutError) as invalid:
        ModelMetadata.read(tmp_path)
    assert str(invalid.value) == f"{tmp_path}/metadata.json: {message}"


def test_a_missing_model_file_is_named_with_its_framework(tmp_path: Path) -> None:
    """Given metadata without its model file, when loaded, then the error names the file and framework."""
    metadata(framework="xgboost").write(tmp_path)
    with pytest.raises(ModelLayoutError) as missing:
        load_model(tmp_path)
    assert str(missing.value) == (
        f"{tmp_path}/model.ubj: missing; metadata.json says framework 'xgboost', "
        "whose model file is model.ubj"
    )


def test_metadata_nested_past_the_stack_is_invalid_json_naming_the_file(tmp_path: Path) -> None:
    # given a metadata.json nested 100,000 levels deep
    (tmp_path / METADATA_FILE).write_text("[" * 100_000)
    # when it is read, then it is refused as bad JSON naming the file, not a RecursionError
    with pytest.raises(ModelLayoutError) as invalid:
        ModelMetadata.read(tmp_path)
    assert str(invalid.value).startswith(f"{tmp_path}/metadata.json: not valid JSON (")


@pytest.mark.parametrize(
    ("train", "model_file", "damage", "reason"),
    [
        (models.train_sklearn, "model.joblib", b"", "EOFError: "),
        (models.train_xgboost, "model.ubj", b"not a booster", "XGBoostError"),
        (models.train_pytorch, "model.pt", b"\x00" * 8, "UnpicklingError: "),
    ],
)
def test_a_damaged_model_file_is_refused_naming_it_and_the_framework(
    tmp_path: Path, train: object, model_file: str, damage: bytes, reason: str
) -> None:
    # given a saved model whose file was cut short or overwritten
    saved = train(tmp_path)  # type: ignore[operator]
    (tmp_path / model_file).write_bytes(damage)
    # when it is loaded, then one error names the file, the framework and what the loader said
    with pytest.raises(ModelLayoutError) as damaged:
        load_model(tmp_path)
    message = str(damaged.value)
    assert message.startswith(
        f"{tmp_path}/{model_file}: cannot be loaded as a {saved.framework} model ({reason}"
    )
    assert "\n" not in message


@pytest.mark.parametrize("train", [models.train_sklearn, models.train_xgboost])
def test_a_model_wider_than_its_metadata_is_refused_at_load(tmp_path: Path, train: object) -> None:
    # given a 4-feature model whose metadata names only 2 features
    saved = train(tmp_path)  # type: ignore[operator]
    values = json.loads((tmp_path / METADATA_FILE).read_text())
    values["feature_names"] = ["a", "b"]
    (tmp_path / METADATA_FILE).write_text(json.dumps(values))
    # when it is loaded, then it is refused (rather than failing every request once served)
    with pytest.raises(ModelLayoutError) as refused:
        load_model(tmp_path)
    assert str(refused.value) == (
        f"{tmp_path}/{saved.model_file}: the model takes 4 features but metadata.json names 2"
    )


# --- each framework -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("train", "framework", "model_file"),
    [
        (models.train_sklearn, "sklearn", "model.joblib"),
        (models.train_xgboost, "xgboost", "model.ubj"),
        (models.train_pytorch, "pytorch", "model.pt"),
    ],
)
def test_each_framework_saves_its_file_and_loads_to_the_same_predictions(
    tmp_path: Path, train: object, framework: str, model_file: str
) -> None:
    # given a model trained and saved
    saved = train(tmp_path)  # type: ignore[operator]
    # when it is loaded
    loaded = load_model(tmp_path)
    x, y = models.dataset()
    # then it is the same framework and file, predicts labels, and mostly right ones
    assert loaded.metadata == saved
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([METADATA_FILE, model_file])
    predictions = loaded.predict(x)
    assert set(predictions.tolist()) <= set(models.LABELS)
    if framework != "sklearn":  # classes map index -> label for the frameworks without labels
        assert (predictions == np.asarray(models.LABELS)[y]).mean() > 0.8
    probabilities = loaded.predict_proba(x[:3])
    assert probabilities.shape == (3, 3)
    assert probabilities.sum(axis=1) == pytest.approx(np.ones(3), abs=1e-5)


@pytest.mark.parametrize(
    "train", [models.train_sklearn, models.train_xgboost, models.train_pytorch]
)
def test_a_saved_model_directory_is_readable_by_other_users(
    tmp_path: Path, train: object, usual_umask: int
) -> None:
    """Given umask 022, when a model is saved, then every file is 0644 (a serving user reads it)."""
    train(tmp_path)  # type: ignore[operator]
    assert {p.name: oct(mode_of(p)) for p in tmp_path.iterdir()} == {
        p.name: oct(0o644) for p in tmp_path.iterdir()
    }


def test_a_wrong_number_of_columns_is_refused_by_name(tmp_path: Path) -> None:
    """Given a 4-feature model, when 3 columns come, then the error lists the features."""
    models.train_sklearn(tmp_path)
    with pytest.raises(FeatureCountError) as refused:
        load_model(tmp_path).predict(np.zeros((1, 3)))
    assert str(refused.value) == "expected 4 columns (a, b, c, d), got 3 columns"


def test_xgboost_binary_and_regression_objectives(tmp_path: Path) -> None:
    """Given binary and regression XGBoost models, when loaded, then they predict as XGBoost does."""
    import xgboost

    x, y = models.dataset()
    binary = xgboost.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1).fit(
        x, (y > 0).astype(int)
    )
    save_model(
        tmp_path / "binary",
        binary,
        {"feature_names": list(models.FEATURES), "classes": ["low", "high"]},
    )
    booster = xgboost.train({"objective": "reg:squarederror"}, xgboost.DMatrix(x, label=x[:, 0]), 5)
    save_model(
        tmp_path / "regression",
        booster,
        {"feature_names": list(models.FEATURES), "task": "regression"},
    )
    loaded_binary, loaded_regression = (
        load_model(tmp_path / "binary"),
        load_model(tmp_path / "regression"),
    )
    expected = np.asarray(["low", "high"])[binary.predict(x)]
    assert loaded_binary.predict(x).tolist() == expected.tolist()
    assert loaded_binary.predict_proba(x[:2]) == pytest.approx(binary.predict_proba(x[:2]))
    assert loaded_regression.predict(x[:3]) == pytest.approx(booster.inplace_predict(x[:3]))
    assert not loaded_regression.has_predict_proba


def test_pytorch_regression_gives_one_value_per_row(tmp_path: Path) -> None:
    """Given a 1-output regression network, when it predicts, then one value per row."""
    from workloads.tabular_net import TabularNet

    net = TabularNet(len(models.FEATURES), [4], 1)
    save_model(tmp_path, net, {"feature_names": list(models.FEATURES), "task": "regression"})
    predictions = load_model(tmp_path).predict(np.ones((3, 4)))
    assert predictions.shape == (3,)


def test_pytorch_weights_are_loaded_without_unpickling_objects(tmp_path: Path) -> None:
    # given a model.pt holding a pickled object rather than a state_dict of tensors
    import torch

    models.train_pytorch(tmp_path)
    torch.save({"payload": models.SlowClassifier(0.0)}, tmp_path / "model.pt")
    # when it is loaded, then torch's weights-only loader refuses it
    with pytest.raises(Exception, match="Weights only load failed"):
        load_model(tmp_path)


def test_tabular_net_rebuilds_from_its_spec() -> None:
    """Given a TabularNet, when rebuilt from its spec, then the same architecture loads its weights."""
    from workloads.tabular_net import TabularNet

    net = TabularNet(4, [8, 6], 3, dropout=0.25)
    spec = net.network_spec()
    assert spec == {"input_size": 4, "hidden_sizes": [8, 6], "output_size": 3, "dropout": 0.25}
    rebuilt = TabularNet.from_network(spec)
    rebuilt.load_state_dict(net.state_dict())
    assert str(rebuilt) == str(net)
    with pytest.raises(ModelLayoutError, match=r"network: missing keys \['dropout'\]"):
        TabularNet.from_network({"input_size": 4, "hidden_sizes": [8], "output_size": 3})


def test_save_refuses_a_network_spec_that_cannot_load_the_weights(tmp_path: Path) -> None:
    """Given a spec that does not match the weights, when saved, then refused and nothing written."""
    from workloads.tabular_net import TabularNet

    net = TabularNet(4, [8], 3)
    wrong = {"input_size": 4, "hidden_sizes": [16], "output_size": 3, "dropout": 0.0}
    with pytest.raises(RuntimeError, match="size mismatch"):
        save_model(
            tmp_path,
            net,
            {"feature_names": list(models.FEATURES), "task": "classification", "network": wrong},
        )
    assert list(tmp_path.iterdir()) == []


# --- deriving metadata ----------------------------------------------------------------------


def test_save_model_takes_a_plain_dict_and_derives_the_rest(tmp_path: Path) -> None:
    # given a fitted classifier and the few fields a caller knows (as the benchmark passes them)
    from sklearn.linear_model import LogisticRegression

    x, y = models.dataset()
    model = LogisticRegression(max_iter=300).fit(x, y)
    # when saved
    saved = save_model(
        tmp_path,
        model,
        {
            "name": "bench",
            "framework": "sklearn",
            "n_features": 4,
            "feature_names": ["p", "q", "r", "s"],
        },
    )
    # then task and classes come from the model
    assert (saved.task, saved.classes, saved.name, saved.target) == (
        "classification",
        (0, 1, 2),
        "bench",
        "target",
    )
    assert load_model(tmp_path).predict(x[:4]).tolist() == model.predict(x[:4]).tolist()
    with pytest.raises(ModelLayoutError, match="n_features: is 5 but there are 4 feature_names"):
        metadata_for(model, n_features=5, feature_names=["p", "q", "r", "s"])


def test_save_sklearn_model_names_features_when_nobody_did(tmp_path: Path) -> None:
    """Given an estimator fitted on an array, when saved without names, then x0..x3."""
    from sklearn.linear_model import LinearRegression

    x, _ = models.dataset()
    saved = save_sklearn_model(tmp_path, LinearRegression().fit(x, x[:, 0]))
    assert (saved.framework, saved.task, saved.feature_names) == (
        "sklearn",
        "regression",
        ("x0", "x1", "x2", "x3"),
    )


def test_a_model_fitted_on_named_columns_predicts_without_warnings(tmp_path: Path) -> None:
    # given an estimator that knows its column names (as after fitting on a DataFrame)
    from sklearn.linear_model import LogisticRegression

    x, y = models.dataset()
    model = LogisticRegression(max_iter=300).fit(x, y)
    model.feature_names_in_ = np.array(["w", "x", "y", "z"], dtype=object)
    # when saved with derived names and predicting on arrays (warnings are errors in this suite)
    saved = save_sklearn_model(tmp_path, model)
    # then the names came from the model and no "valid feature names" warning escapes
    assert saved.feature_names == ("w", "x", "y", "z")
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        expected = model.predict(x[:2])
    assert load_model(tmp_path).predict(x[:2]).tolist() == expected.tolist()


def test_importing_the_layout_imports_no_ml_library() -> None:
    """Given a fresh interpreter, when model_layout is imported, then no ML library is."""
    # The handler path inside a prebuilt container may only load the framework it serves.
    code = (
        "import sys, workloads.model_layout; "
        "print(sorted({'numpy', 'sklearn', 'xgboost', 'torch', 'joblib', 'pandas'} & set(sys.modules)))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "[]"


# --- the default output ---------------------------------------------------------------------


def test_the_default_output_is_labels_and_a_classifier_may_answer_probabilities() -> None:
    labels = models.classifier_metadata("sklearn")
    assert labels.default_output == "label"
    assert labels.to_dict()["default_output"] == "label"
    scored = models.classifier_metadata("sklearn", default_output="probability")
    assert ModelMetadata.from_json(scored.to_json()).default_output == "probability"


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"task": "classification", "default_output": "score"}, "default_output: must be one of ('label', 'probability')"),
        ({"task": "regression", "default_output": "probability"}, "default_output: probability needs a classification model"),
    ],
)  # fmt: skip
def test_a_bad_default_output_is_named(values: dict[str, str], problem: str) -> None:
    with pytest.raises(ModelLayoutError) as invalid:
        ModelMetadata(framework="sklearn", feature_names=("a",), **values)
    assert str(invalid.value) == f"invalid model metadata: {problem}"


def test_a_probability_default_needs_a_model_that_gives_probabilities(tmp_path: Path) -> None:
    # given a classifier without predict_proba saved to answer probabilities by default
    from sklearn.svm import LinearSVC

    x, y = models.dataset()
    save_sklearn_model(
        tmp_path, LinearSVC().fit(x, y), models.FEATURES, default_output="probability"
    )
    # when loaded / then refused at load, not at the first request
    with pytest.raises(ModelLayoutError) as refused:
        load_model(tmp_path)
    assert str(refused.value) == (
        f"{tmp_path / 'model.joblib'}: metadata.json says default_output 'probability' but the "
        "model gives no probabilities"
    )


def test_the_input_schema_round_trips_and_encodes_one_hot() -> None:
    """Given metadata with a categorical input, when stored and read back, then the schema is the same and encodes rows one-hot (unseen and missing: zeros)."""
    from workloads.model_layout import encode_rows

    inputs = [
        {"name": "a", "type": "numeric"},
        {"name": "b", "type": "categorical", "categories": ["3", "red"]},
    ]
    found = ModelMetadata.from_json(metadata(inputs=inputs).to_json())
    assert found.to_dict()["inputs"] == inputs
    assert (found.has_categorical, found.input_width) == (True, 3)
    rows = np.array([[1.5, "red"], [2.0, 3.0], [0.0, "blue"], [0.0, None]], dtype=object)
    assert encode_rows(found.feature_types, rows).tolist() == [
        [1.5, 0, 1],
        [2, 1, 0],
        [0, 0, 0],
        [0, 0, 0],
    ]
