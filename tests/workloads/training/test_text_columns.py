"""Text (categorical) columns end to end, on the churn sample.

Each algorithm trains, records the input schema, and the serving handlers encode text requests
exactly as training encoded the data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.workloads.training.samples import one_thread  # noqa: F401  (an autouse fixture)
from workloads.inference import handlers
from workloads.inference.errors import InferenceError
from workloads.model_layout import LoadedModel, ModelMetadata, save_sklearn_model
from workloads.samples import churn
from workloads.training import contract
from workloads.training.data import prepare, read_csv
from workloads.training.entrypoint import main

QUICK = {
    "xgboost": ["num_round=20", "nthread=1"],
    "sklearn": ["max_iter=20"],
    "pytorch": ["epochs=3", "batch_size=64", "num_threads=1"],
}


@pytest.fixture
def no_job(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A local run: the contract's root points at an empty directory, tracking is off."""
    monkeypatch.setenv(contract.ROOT_ENV, str(tmp_path / "no-opt-ml"))
    monkeypatch.delenv(contract.MLFLOW_TRACKING_URI_ENV, raising=False)


def train_sample(algorithm: str, model_dir: Path) -> None:
    options = [item for value in QUICK[algorithm] for item in ("--hyperparameter", value)]
    status = main(
        [
            "--algorithm", algorithm, "--task", "classification", "--target", churn.LABEL,
            "--train", str(churn.TRAIN_FILE), "--validation", str(churn.TEST_FILE),
            "--model-dir", str(model_dir), *options,
        ]
    )  # fmt: skip
    assert status == 0


def native_probability(model: LoadedModel, x: np.ndarray) -> np.ndarray:
    """The trained model's own probability of class 1 on training-encoded rows (no handler)."""
    if model.metadata.framework == "xgboost":
        return model.booster.inplace_predict(x)  # type: ignore[attr-defined]
    if model.metadata.framework == "sklearn":
        return model.estimator.predict_proba(x)[:, 1]  # type: ignore[attr-defined]
    import torch

    with torch.inference_mode():
        return model.net(torch.from_numpy(x)).softmax(dim=1)[:, 1].numpy()  # type: ignore[attr-defined]


def served(model: LoadedModel, body: str, content_type: str, accept: str) -> Any:
    decoded = handlers.input_fn(body, content_type)
    answer, _ = handlers.output_fn(handlers.predict_fn(decoded, model), accept)
    return answer


@pytest.mark.usefixtures("no_job")
@pytest.mark.parametrize("algorithm", ["xgboost", "sklearn", "pytorch"])
def test_each_algorithm_trains_on_text_columns_and_serves_text_rows_as_trained(
    tmp_path: Path, algorithm: str
) -> None:
    # given the churn sample (two text columns), trained by this algorithm
    model_dir = tmp_path / "model"
    train_sample(algorithm, model_dir)
    # then the metadata records every feature's name and type, in order, with the categories
    metadata = ModelMetadata.read(model_dir)
    assert metadata.feature_names == churn.FEATURES
    assert [(spec["name"], spec["type"]) for spec in metadata.inputs] == [
        (name, "categorical" if name in churn.CATEGORICAL else "numeric") for name in churn.FEATURES
    ]
    assert metadata.inputs[3]["categories"] == tuple(sorted(churn.CONTRACTS))
    assert metadata.inputs[4]["categories"] == tuple(sorted(churn.PAYMENT_METHODS))
    # when the test file's rows are sent as CSV text through the handlers
    model = handlers.model_fn(str(model_dir))
    lines = churn.TEST_FILE.read_text().splitlines()
    header = lines[0].split(",")
    label = header.index(churn.LABEL)
    body = "\n".join(
        ",".join(c for i, c in enumerate(line.split(",")) if i != label) for line in lines[1:]
    )
    answer = served(model, body, "text/csv", "application/json; output=probability")
    # then they equal the trained model's own predictions on the data as training encoded it
    test = read_csv(churn.TEST_FILE, "test")
    data = prepare(test, test, target=churn.LABEL, task="classification", inputs=metadata.inputs)
    expected = native_probability(model, data.x_valid)
    np.testing.assert_allclose(json.loads(answer)["predictions"], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.usefixtures("no_job")
def test_requests_with_text_unknown_categories_and_wrong_widths(tmp_path: Path) -> None:
    # given a model trained on the churn sample
    model_dir = tmp_path / "model"
    train_sample("xgboost", model_dir)
    model = handlers.model_fn(str(model_dir))
    known = {
        "tenure_months": 10, "monthly_charges": 80.5, "support_calls": 2,
        "contract": "month-to-month", "payment_method": "card",
    }  # fmt: skip
    # when a category training never saw (or a missing one) is sent as JSON records
    unknown = {**known, "payment_method": "crypto"}
    missing = {**known, "payment_method": None}
    answer = served(model, json.dumps([known, unknown, missing]), "application/json", "text/csv")
    # then every row is answered (unknown and missing are all-zero, never an error)
    assert len(answer.decode().split()) == 3
    # and a CSV text row answers like the same JSON row
    csv_answer = served(model, "10,80.5,2,month-to-month,card", "text/csv", "text/csv")
    assert csv_answer.decode().split()[0] == answer.decode().split()[0]
    # and the wrong number of columns, or text in a numeric feature, is a 400 naming it
    with pytest.raises(InferenceError) as refused:
        served(model, "10,80.5,2,month-to-month", "text/csv", "text/csv")
    assert (refused.value.status, refused.value.message) == (
        400,
        "expected 5 values per row (tenure_months, monthly_charges, support_calls, contract, "
        "payment_method), got 4",
    )
    with pytest.raises(InferenceError) as refused:
        served(model, "10,lots,2,month-to-month,card", "text/csv", "text/csv")
    assert (refused.value.status, refused.value.message) == (
        400,
        "feature 'monthly_charges' takes numbers, got 'lots'",
    )


def test_a_model_directory_without_a_schema_still_loads_and_serves(tmp_path: Path) -> None:
    # given a model directory written before the input schema existed (no "inputs" key)
    from sklearn.linear_model import LogisticRegression

    x = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    estimator = LogisticRegression().fit(x, [0, 1, 0, 1])
    save_sklearn_model(tmp_path, estimator, ["a", "b"])
    stored = json.loads((tmp_path / "metadata.json").read_text())
    assert "inputs" not in stored
    # when loaded and asked as before, by CSV and JSON
    model = handlers.model_fn(str(tmp_path))
    # then it serves numbers as it always did, and refuses text in its numeric features
    assert served(model, "0,3\n3,0\n", "text/csv", "text/csv") == b"0\n1\n"
    assert json.loads(served(model, "[[0, 3]]", "application/json", "application/json")) == {
        "predictions": [0]
    }
    assert model.metadata.feature_types == (
        {"name": "a", "type": "numeric"},
        {"name": "b", "type": "numeric"},
    )
    with pytest.raises(InferenceError) as refused:
        served(model, '[[0, "x"]]', "application/json", "text/csv")
    assert refused.value.message == "feature 'b' takes numbers, got 'x'"


@pytest.mark.usefixtures("no_job")
def test_evaluation_reads_the_test_file_through_the_models_schema(tmp_path: Path) -> None:
    # given a model trained on the churn sample, whose metrics name valid_auc on the test file
    from workloads.training.evaluate import evaluate_model

    model_dir = tmp_path / "model"
    train_sample("sklearn", model_dir)
    # when evaluated on the same test file
    report = evaluate_model(model_dir, churn.TEST_FILE)
    # then it reads the text columns and finds the AUC training reported
    auc = report["binary_classification_metrics"]["auc"]["value"]
    assert auc == pytest.approx(ModelMetadata.read(model_dir).metrics["valid_auc"])
