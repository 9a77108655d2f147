"""The monitor's baseline predictions are the server's answers, by construction.

given a binary classifier whose metadata answers probabilities by default, a three-class one
answering labels, and a table of their training rows / when the baseline is made with
``ml-platform-monitor baseline --model`` and the inference server answers the same rows / then
the baseline's predictions are exactly the server's answers, and a check of the server's own
captured traffic against that baseline finds no prediction drift (answers a client asked for in
the other output are marked and left out of the comparison, never malformed).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.workloads.inference import models
from tests.workloads.inference.conftest import ThreadServer, invoke
from tests.workloads.monitoring.samples import run_check, write_capture
from workloads.inference.server import ServerConfig
from workloads.model_layout import PROBABILITY, load_model, save_sklearn_model
from workloads.monitoring.baseline import CategoricalBaseline, NumericBaseline, load_baseline
from workloads.monitoring.cli import main

ROWS = 240


def train_binary(model_dir: Path) -> Path:
    """A logistic regression answering P(label 1) by default."""
    from sklearn.linear_model import LogisticRegression

    x, y = models.dataset(ROWS)
    model = LogisticRegression(max_iter=500).fit(x, (y > 0).astype(int))
    save_sklearn_model(model_dir, model, models.FEATURES, default_output=PROBABILITY)
    return model_dir


def write_table(path: Path) -> np.ndarray:
    """The training rows with their label, as a CSV table; returns the feature rows."""
    x, y = models.dataset(ROWS)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*models.FEATURES, "label"])
        writer.writerows(
            [*(repr(float(v)) for v in row), int(label)] for row, label in zip(x, y, strict=True)
        )
    return x


def csv_body(rows: np.ndarray) -> str:
    return "".join(",".join(repr(float(value)) for value in row) + "\n" for row in rows)


Serve = Callable[[Path], ThreadServer]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start in-process servers of model directories; all stopped after the test."""
    started: list[ThreadServer] = []

    def start(model_dir: Path) -> ThreadServer:
        config = ServerConfig(model_dir=model_dir, host="127.0.0.1", port=0)
        server = ThreadServer(config, load_model(model_dir))
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def baseline_with_model(tmp_path: Path, model_dir: Path) -> Path:
    table, out = tmp_path / "train.csv", tmp_path / "baseline"
    write_table(table)
    assert (
        main(["baseline", "--data", str(table), "--model", str(model_dir), "--out", str(out)]) == 0
    )
    return out


def test_the_baselines_probabilities_are_the_servers_answers(tmp_path: Path, serve: Serve) -> None:
    # given a binary model answering probabilities, and its baseline made with the model
    model_dir = train_binary(tmp_path / "binary")
    baseline = load_baseline(baseline_with_model(tmp_path, model_dir))
    # when the server answers the same rows
    server = serve(model_dir)
    answer = invoke(server.port, csv_body(models.dataset(ROWS)[0]), "text/csv")
    assert answer.status == 200 and answer.headers["content-type"] == "application/json"
    predictions = answer.json()["predictions"]  # type: ignore[index]
    # then the baseline holds exactly those numbers (its prepared sample is sorted)
    assert isinstance(baseline.prediction, NumericBaseline)
    assert baseline.prediction.values.tolist() == sorted(predictions)
    assert all(0.0 < value < 1.0 for value in predictions)
    # and the baseline's inputs are the model's features, in its order
    assert baseline.names == list(models.FEATURES)


def test_the_baselines_labels_are_the_servers_answers(tmp_path: Path, serve: Serve) -> None:
    # given a three-class model answering labels (its default), and its baseline
    model_dir = tmp_path / "labels"
    models.train_sklearn(model_dir)
    baseline = load_baseline(baseline_with_model(tmp_path, model_dir))
    # when the server answers the same rows / then the baseline counts the same labels
    server = serve(model_dir)
    answer = invoke(server.port, csv_body(models.dataset(ROWS)[0]), "text/csv")
    labels = answer.json()["predictions"]  # type: ignore[index]
    assert isinstance(baseline.prediction, CategoricalBaseline)
    assert baseline.prediction.counts == dict(Counter(labels))
    assert set(labels) == set(models.LABELS)


def capture_record(request: str, content_type: str, answer: str) -> str:
    """One data-capture line of a CSV request and the server's answer, as SageMaker writes it."""
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": request,
                    "encoding": "CSV",
                },
                "endpointOutput": {
                    "observedContentType": content_type,
                    "mode": "OUTPUT",
                    "data": answer,
                    "encoding": "JSON",
                },
            },
            "eventMetadata": {"eventId": "e", "inferenceTime": "2026-11-22T10:15:00Z"},
            "eventVersion": "0",
        }
    )


def test_a_check_of_the_servers_own_traffic_finds_no_prediction_drift(
    tmp_path: Path, serve: Serve
) -> None:
    # given the binary model's baseline and its server
    model_dir = train_binary(tmp_path / "binary")
    baseline = baseline_with_model(tmp_path, model_dir)
    server = serve(model_dir)
    # when rows like the training rows are sent one request each, and one client asks for labels
    lines = []
    for row in models.dataset(ROWS, seed=1)[0]:
        body = csv_body(row[None, :])
        answer = invoke(server.port, body, "text/csv")
        lines.append(capture_record(body, answer.headers["content-type"], answer.body.decode()))
    body = csv_body(models.dataset(1, seed=2)[0])
    labelled = invoke(server.port, body, "text/csv", accept="application/json; output=label")
    assert labelled.headers["content-type"] == "application/json; output=label"
    lines.append(capture_record(body, labelled.headers["content-type"], labelled.body.decode()))
    write_capture(tmp_path / "capture", lines)
    # and the window is checked against the baseline
    assert run_check(baseline, tmp_path / "capture", tmp_path / "results") == 0
    summary = json.loads((tmp_path / "results" / "summary.json").read_text())
    # then every line was read, the predictions compared, and none drifted
    assert (summary["malformed"], summary["requests"], summary["records"]) == (
        0,
        ROWS + 1,
        ROWS + 1,
    )
    (prediction,) = [f for f in summary["features"] if f["role"] == "prediction"]
    assert prediction["count"] == ROWS  # the labelled answer is not compared
    assert prediction["type_violation_rate"] == 0.0
    assert prediction["psi"] < 0.1 and not prediction["drifted"]
    assert [v for v in summary["violations"] if v["feature_name"] == "prediction"] == []


# --- what baseline --model refuses ----------------------------------------------------------


def refusal(capsys: pytest.CaptureFixture[str], *arguments: str) -> str:
    assert main(["baseline", *arguments]) == 1
    return capsys.readouterr().err.strip()


def test_the_model_is_the_only_source_of_predictions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_dir = train_binary(tmp_path / "binary")
    write_table(tmp_path / "train.csv")
    common = ["--data", str(tmp_path / "train.csv"), "--model", str(model_dir), "--out", "x"]
    assert refusal(capsys, *common, "--prediction-column", "label") == (
        "ml-platform-monitor baseline: --prediction-column does not go with --model: the model "
        "predicts the baseline's predictions and its features are the baseline's columns"
    )
    assert refusal(capsys, *common, "--exclude", "label").startswith(
        "ml-platform-monitor baseline: --exclude does not go with --model"
    )


def test_rows_the_endpoint_would_refuse_cannot_make_a_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given the binary model and a table missing feature d, and one with an empty value
    model_dir = train_binary(tmp_path / "binary")
    short, gap = tmp_path / "short.csv", tmp_path / "gap.csv"
    short.write_text("a,b,c\n1,2,3\n")
    gap.write_text("a,b,c,d\n1,2,3,4\n1,,3,4\n")
    # then each is refused, naming what the model needs
    assert refusal(capsys, "--data", str(short), "--model", str(model_dir), "--out", "x") == (
        f"ml-platform-monitor baseline: no column named 'd' in the data (the model's features, "
        f"{model_dir / 'metadata.json'})"
    )
    assert refusal(capsys, "--data", str(gap), "--model", str(model_dir), "--out", "x") == (
        "ml-platform-monitor baseline: column 'b', row 2: missing or not a number; the endpoint "
        "refuses such a row, so a baseline made with the model cannot hold it"
    )


def test_a_default_output_of_several_values_a_row_cannot_be_baselined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given the three-class model answering its class probabilities by default
    from sklearn.linear_model import LogisticRegression

    x, y = models.dataset(ROWS)
    model = LogisticRegression(max_iter=500).fit(x, y)
    save_sklearn_model(tmp_path / "m", model, models.FEATURES, default_output=PROBABILITY)
    write_table(tmp_path / "train.csv")
    arguments = ["--data", str(tmp_path / "train.csv"), "--model", str(tmp_path / "m")]
    assert refusal(capsys, *arguments, "--out", "x") == (
        "ml-platform-monitor baseline: the model's default output (probability) has 3 values a "
        "row; prediction drift compares one value a row (use a label default_output)"
    )
