"""The held-out evaluation: scikit-learn's metrics, Model Monitor's shape, one-line errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws
from sklearn import metrics as sk
from sklearn.linear_model import LinearRegression, LogisticRegression

from tests.conftest import ROOT
from tests.workloads.dummy_credentials import use_dummy_credentials
from tests.workloads.training.samples import make_data, one_thread, write_csv
from workloads.model_layout import save_sklearn_model
from workloads.training import evaluate as evaluation
from workloads.training import objectives
from workloads.training.s3_sync import archive_model
from workloads.training.tracking import model_dir_digest

__all__ = ["one_thread"]


def trained(tmp_path: Path, task: str = "classification", rows: int = 400, **options: object):
    """A fitted scikit-learn model saved as a model directory, and its test CSV file."""
    data = make_data(task, rows=rows, **options)  # type: ignore[arg-type]
    estimator = LogisticRegression() if task == "classification" else LinearRegression()
    estimator.fit(data.x_train, data.y_train)
    if data.classes:
        # Train on the original labels, as our trainers' models map indices back to them.
        estimator.classes_ = np.asarray(data.classes)
    model_dir = tmp_path / "model"
    save_sklearn_model(model_dir, estimator, data.feature_names, target=data.target)
    test_csv = write_csv(tmp_path / "test" / "part-0.csv", data, split="valid")
    return estimator, data, model_dir, test_csv.parent


def test_binary_metrics_equal_scikit_learns(tmp_path: Path) -> None:
    # given a binary classifier and 100 held-out rows
    estimator, data, model_dir, test_dir = trained(tmp_path)
    # when it is evaluated
    report = evaluation.evaluate_model(model_dir, test_dir, tmp_path / "out")
    # then the flat metrics are the task's evaluated metrics, equal to scikit-learn's
    y, probabilities = data.y_valid, estimator.predict_proba(data.x_valid)
    predicted = probabilities.argmax(axis=1)
    flat = report["metrics"]
    assert list(flat) == list(objectives.evaluated_metrics("classification"))
    assert flat["valid_auc"] == pytest.approx(sk.roc_auc_score(y, probabilities[:, 1]))
    assert flat["valid_loss"] == pytest.approx(sk.log_loss(y, probabilities))
    assert flat["valid_accuracy"] == pytest.approx(sk.accuracy_score(y, predicted))
    assert flat["valid_f1"] == pytest.approx(sk.f1_score(y, predicted, average="macro"))
    # and Model Monitor's binary section agrees with scikit-learn too
    binary = report["binary_classification_metrics"]
    assert binary["auc"]["value"] == pytest.approx(flat["valid_auc"])
    assert binary["precision"]["value"] == pytest.approx(sk.precision_score(y, predicted))
    assert binary["recall"]["value"] == pytest.approx(sk.recall_score(y, predicted))
    assert binary["f1"]["value"] == pytest.approx(sk.f1_score(y, predicted))
    assert binary["f2"]["value"] == pytest.approx(sk.fbeta_score(y, predicted, beta=2))
    assert binary["f0_5"]["value"] == pytest.approx(sk.fbeta_score(y, predicted, beta=0.5))
    (tn, fp), (fn, tp) = sk.confusion_matrix(y, predicted).tolist()
    assert binary["confusion_matrix"] == {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}
    assert binary["false_positive_rate"]["value"] == pytest.approx(fp / (fp + tn))
    assert binary["true_negative_rate"]["value"] == pytest.approx(tn / (tn + fp))
    # and with fewer than 200 rows there is no standard deviation, as in Model Monitor
    assert binary["auc"]["standard_deviation"] == "NaN"
    assert report["dataset"] == {"item_count": 100}
    # and the file holds the same report (strict JSON)
    written = (tmp_path / "out" / "evaluation.json").read_text()
    assert json.loads(written, parse_constant=pytest.fail) == report


def test_multiclass_metrics_equal_scikit_learns_with_deviations_from_200_rows(
    tmp_path: Path,
) -> None:
    # given a three-class classifier with text labels and 250 held-out rows
    estimator, data, model_dir, test_dir = trained(
        tmp_path, rows=1000, n_classes=3, labels=("high", "low", "mid")
    )
    # when it is evaluated
    report = evaluation.evaluate_model(model_dir, test_dir)
    # then the metrics match scikit-learn's (labels mapped through the model's classes)
    y, probabilities = data.y_valid, estimator.predict_proba(data.x_valid)
    predicted = probabilities.argmax(axis=1)
    assert report["metrics"]["valid_auc"] == pytest.approx(
        sk.roc_auc_score(y, probabilities, multi_class="ovr")
    )
    section = report["multiclass_classification_metrics"]
    assert section["accuracy"]["value"] == pytest.approx(sk.accuracy_score(y, predicted))
    for name, score in (
        ("weighted_precision", sk.precision_score),
        ("weighted_recall", sk.recall_score),
        ("weighted_f1", sk.f1_score),
    ):
        assert section[name]["value"] == pytest.approx(score(y, predicted, average="weighted"))
    assert section["weighted_f2"]["value"] == pytest.approx(
        sk.fbeta_score(y, predicted, beta=2, average="weighted")
    )
    assert set(section["confusion_matrix"]) == {"high", "low", "mid"}
    assert sum(sum(row.values()) for row in section["confusion_matrix"].values()) == 250
    # and from 200 rows on each metric has a standard deviation over 80% samples
    deviation = section["accuracy"]["standard_deviation"]
    assert isinstance(deviation, float) and 0.0 < deviation < 0.1


def test_regression_metrics_equal_scikit_learns(tmp_path: Path) -> None:
    # given a regression model
    estimator, data, model_dir, test_dir = trained(tmp_path, task="regression")
    # when it is evaluated
    report = evaluation.evaluate_model(model_dir, test_dir)
    # then both sections hold scikit-learn's values
    y = data.y_valid.astype(np.float64)
    predicted = estimator.predict(data.x_valid).astype(np.float64)
    mse = sk.mean_squared_error(y, predicted)
    assert report["metrics"] == pytest.approx(
        {
            "valid_loss": mse,
            "valid_rmse": mse**0.5,
            "valid_mae": sk.mean_absolute_error(y, predicted),
            "valid_r2": sk.r2_score(y, predicted),
        }
    )
    section = report["regression_metrics"]
    assert {name: item["value"] for name, item in section.items()} == pytest.approx(
        {
            "mae": report["metrics"]["valid_mae"],
            "mse": mse,
            "rmse": mse**0.5,
            "r2": report["metrics"]["valid_r2"],
        }
    )


@pytest.mark.parametrize("form", ["archive file", "directory holding the archive"])
def test_the_model_may_come_as_model_tar_gz(tmp_path: Path, form: str) -> None:
    # given the model as SageMaker's training job uploads it
    _, _, model_dir, test_dir = trained(tmp_path)
    delivered = tmp_path / "input"
    delivered.mkdir()
    archive = archive_model(model_dir, delivered / "model.tar.gz")
    # when it is evaluated from the archive (or the processing input's directory)
    source = archive if form == "archive file" else delivered
    report = evaluation.evaluate_model(source, test_dir)
    # then the result is the directory's, down to the digest the trainer tags its MLflow run with
    assert report == evaluation.evaluate_model(model_dir, test_dir)
    assert report["model"]["sha256"] == model_dir_digest(model_dir)


def test_an_archive_reaching_outside_is_refused(tmp_path: Path) -> None:
    # given an archive with a member that climbs out of the target directory
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../evil.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    # when it is unpacked, then it is refused by name and nothing is written
    with pytest.raises(evaluation.EvaluationError, match=r"\.\./evil\.json points outside"):
        evaluation.model_directory(archive, tmp_path / "scratch")
    assert not (tmp_path / "evil.json").exists()


def test_a_label_the_model_never_learnt_is_named(tmp_path: Path) -> None:
    # given test data with a class the model does not have
    _, _, model_dir, test_dir = trained(tmp_path)
    csv = test_dir / "part-0.csv"
    lines = csv.read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0] + ",7"
    csv.write_text("\n".join(lines) + "\n")
    # when it is evaluated, then the error names the label and the model's classes
    with pytest.raises(evaluation.EvaluationError) as raised:
        evaluation.evaluate_model(model_dir, test_dir)
    assert str(raised.value) == (
        "test: target 'y' has label 7 the model does not know (its classes: 0, 1)"
    )


def test_the_command_writes_the_report_and_prints_the_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a model and test data
    _, _, model_dir, test_dir = trained(tmp_path)
    out = tmp_path / "evaluation"
    # when the command runs
    status = evaluation.main(
        ["--model-dir", str(model_dir), "--test-dir", str(test_dir), "--output-dir", str(out)]
    )
    # then it succeeds, writes evaluation.json and prints each metric as training does
    assert status == 0
    report = json.loads((out / "evaluation.json").read_text())
    printed = capsys.readouterr().out.splitlines()
    expected = [objectives.format_metric(k, v) for k, v in report["metrics"].items()]
    assert sorted(printed) == sorted(expected) and len(printed) == 4


def test_the_command_reports_a_missing_target_column_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given test data without the model's target column
    _, _, model_dir, _ = trained(tmp_path)
    (tmp_path / "bad.csv").write_text("a,b,c,d\n1,2,3,4\n")
    # when the command runs, then it fails with one line naming the column and writes nothing
    status = evaluation.main(
        [
            "--model-dir",
            str(model_dir),
            "--test-dir",
            str(tmp_path / "bad.csv"),
            "--output-dir",
            str(tmp_path / "out"),
        ]
    )
    assert status == 1
    assert capsys.readouterr().err == (
        "error: test: target column 'y' not found; columns: a, b, c, d\n"
    )
    assert not (tmp_path / "out").exists()


def test_the_command_names_a_missing_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given an empty model input
    (tmp_path / "model").mkdir()
    # when the command runs, then it says what the input holds
    status = evaluation.main(["--model-dir", str(tmp_path / "model"), "--test-dir", "x"])
    assert status == 1
    assert capsys.readouterr().err == (
        f"error: model: {tmp_path / 'model'} holds neither metadata.json nor one model.tar.gz "
        "(found: nothing)\n"
    )


def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    # when the command gets an unknown option, then it exits 2 (argparse's usage error)
    assert evaluation.main(["--bogus"]) == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_the_defaults_are_sagemakers_processing_paths() -> None:
    # when no option is given, then the paths are the processing job's
    arguments = evaluation.build_parser().parse_args([])
    assert (arguments.model_dir, arguments.test_dir, arguments.output_dir) == (
        Path("/opt/ml/processing/model"),
        Path("/opt/ml/processing/test"),
        Path("/opt/ml/processing/evaluation"),
    )


def test_the_contract_imports_without_ml_libraries() -> None:
    # given a fresh interpreter (the Pulumi program reads the module's paths and names)
    code = (
        "import sys, workloads.training.evaluate as e; "
        "print(sorted(m for m in ('numpy', 'pandas', 'sklearn') if m in sys.modules))"
    )
    # when it imports the module, then no ML library comes with it
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert found.stdout.strip() == "[]"


# ---- comparing with the group's approved version (moto) ----------------------------------

GROUP = "mlp-dev-churn"
BASELINE = {"valid_loss": 0.05, "valid_accuracy": 0.99, "valid_auc": 0.999, "valid_f1": 0.99}


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """SageMaker and S3 in moto, with a models bucket."""
    use_dummy_credentials(monkeypatch, tmp_path, "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="models")
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        yield sagemaker, s3


def register(sagemaker: Any, s3: Any, status: str, metrics: dict[str, float] | None) -> str:
    """A version of GROUP with ``status``, its report (with ``metrics``) in S3; its ARN."""
    request: dict[str, Any] = {
        "ModelPackageGroupName": GROUP,
        "ModelApprovalStatus": status,
        "InferenceSpecification": {
            "Containers": [{"Image": "1.dkr.ecr.us-east-1.amazonaws.com/x:1"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    }
    if metrics is not None:
        key = f"evaluation/{status}/{len(metrics)}/evaluation.json"
        s3.put_object(Bucket="models", Key=key, Body=json.dumps({"metrics": metrics}).encode())
        request["ModelMetrics"] = {
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://models/{key}"}
            }
        }
    return sagemaker.create_model_package(**request)["ModelPackageArn"]


def test_the_regression_is_measured_against_the_approved_version(
    tmp_path: Path, registry: tuple[Any, Any]
) -> None:
    # given an approved version with better test metrics, and a newer one still pending
    sagemaker, s3 = registry
    approved = register(sagemaker, s3, "Approved", BASELINE)
    register(sagemaker, s3, "PendingManualApproval", {"valid_auc": 0.1})
    _, _, model_dir, test_dir = trained(tmp_path)
    # when the model is evaluated against the group
    report = evaluation.evaluate_model(
        model_dir, test_dir, baseline_group=GROUP, sagemaker=sagemaker, s3=s3
    )
    # then the baseline is the approved version, and each metric's regression says how much
    # worse the model is: lower AUC, accuracy and F1, higher loss
    assert report["baseline"] == {"model_package_arn": approved, "metrics": BASELINE}
    metrics = report["metrics"]
    assert report["regression"] == pytest.approx(
        {
            "valid_loss": metrics["valid_loss"] - 0.05,
            "valid_accuracy": 0.99 - metrics["valid_accuracy"],
            "valid_auc": 0.999 - metrics["valid_auc"],
            "valid_f1": 0.99 - metrics["valid_f1"],
        }
    )
    assert all(value > 0 for value in report["regression"].values())


@pytest.mark.parametrize("approved", [None, "without metrics"])
def test_without_an_approved_version_with_metrics_nothing_regresses(
    tmp_path: Path, registry: tuple[Any, Any], approved: str | None
) -> None:
    # given a group with no approved version, or one registered without metrics
    sagemaker, s3 = registry
    register(sagemaker, s3, "Rejected", BASELINE)
    arn = register(sagemaker, s3, "Approved", None) if approved else None
    _, _, model_dir, test_dir = trained(tmp_path)
    # when the model is evaluated against the group
    report = evaluation.evaluate_model(
        model_dir, test_dir, baseline_group=GROUP, sagemaker=sagemaker, s3=s3
    )
    # then there is nothing to be worse than
    assert report["baseline"] == (
        None if arn is None else {"model_package_arn": arn, "metrics": None}
    )
    assert report["regression"] == dict.fromkeys(report["metrics"], 0.0)


def test_an_unreadable_baseline_report_is_named(
    tmp_path: Path, registry: tuple[Any, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # given an approved version whose report is missing from S3
    sagemaker, s3 = registry
    register(sagemaker, s3, "Approved", BASELINE)
    s3.delete_object(Bucket="models", Key="evaluation/Approved/4/evaluation.json")
    _, _, model_dir, test_dir = trained(tmp_path)
    # when the model is evaluated against the group, then the error names the group
    with pytest.raises(evaluation.EvaluationError, match=rf"^baseline group {GROUP}: .*NoSuchKey"):
        evaluation.evaluate_model(
            model_dir, test_dir, baseline_group=GROUP, sagemaker=sagemaker, s3=s3
        )
