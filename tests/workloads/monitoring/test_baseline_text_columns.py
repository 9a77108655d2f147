"""``ml-platform-monitor baseline --model`` on a model with text (categorical) features."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.workloads.training.samples import one_thread  # noqa: F401  (an autouse fixture)
from workloads.inference import handlers
from workloads.monitoring.baseline import CategoricalBaseline, NumericBaseline, load_baseline
from workloads.monitoring.cli import main as monitor
from workloads.samples import churn
from workloads.training import contract
from workloads.training.entrypoint import main as train


def test_a_baseline_made_with_a_text_feature_model_holds_the_endpoints_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a model trained on the churn sample (two text columns)
    monkeypatch.setenv(contract.ROOT_ENV, str(tmp_path / "no-opt-ml"))
    monkeypatch.delenv(contract.MLFLOW_TRACKING_URI_ENV, raising=False)
    model_dir = tmp_path / "model"
    status = train(
        [
            "--algorithm", "sklearn", "--task", "classification", "--target", churn.LABEL,
            "--train", str(churn.TRAIN_FILE), "--model-dir", str(model_dir),
            "--hyperparameter", "max_iter=20",
        ]
    )  # fmt: skip
    assert status == 0
    # when its baseline is made from the training file with --model
    out = tmp_path / "build" / "baselines" / "churn"
    assert (
        monitor(
            [
                "baseline",
                "--data",
                str(churn.TRAIN_FILE),
                "--model",
                str(model_dir),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    baseline = load_baseline(out)
    # then the text columns are profiled as strings and the predictions are what the handlers
    # answer for the same rows sent as CSV text
    assert baseline.names == list(churn.FEATURES)
    assert isinstance(baseline.feature("contract"), CategoricalBaseline)
    lines = churn.TRAIN_FILE.read_text().splitlines()[1:]
    body = "\n".join(line.rsplit(",", 1)[0] for line in lines)
    model = handlers.model_fn(str(model_dir))
    answer, _ = handlers.output_fn(
        handlers.predict_fn(handlers.input_fn(body, "text/csv"), model), "application/json"
    )
    labels = json.loads(answer)["predictions"]
    assert isinstance(baseline.prediction, NumericBaseline)  # labels 0 and 1
    assert (baseline.prediction.rows, baseline.prediction.total) == (len(labels), sum(labels))
    assert 0 < sum(labels) < len(labels)
