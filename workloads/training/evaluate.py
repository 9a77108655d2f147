r"""Evaluating a trained model on held-out test data: the ``evaluation.json`` a pipeline gates on.

In the training pipeline's ``Evaluate`` step (a SageMaker processing job) and locally::

    python -m workloads.training.evaluate [--model-dir DIR] [--test-dir DIR] [--output-dir DIR]
        [--baseline-group GROUP]

The defaults are SageMaker's processing contract: the model under ``/opt/ml/processing/model``,
the test channel under ``/opt/ml/processing/test``, the report to
``/opt/ml/processing/evaluation/evaluation.json`` (uploaded by the job). The model is a model
directory (``workloads.model_layout``), a ``model.tar.gz`` of one (what training uploads), or a
directory holding that archive (what a processing input delivers). The test channel is one CSV
file or a directory of them, read as training reads its channels (``workloads.training.data``):
the target and feature columns come from the model's ``metadata.json``.

``evaluation.json`` holds:

- ``metrics``: the flat section the pipeline's condition step reads (``JsonGet`` of
  ``metrics.<name>``): the metrics of :func:`objectives.evaluated_metrics` (``valid_loss``,
  ``valid_auc``, ...), computed on the **test** data with the same formulas as training's
  validation metrics (``workloads.training.evaluation``). They keep the metric names, so a
  threshold names a metric exactly as tuning and early stopping do;
- ``binary_classification_metrics``, ``multiclass_classification_metrics`` or
  ``regression_metrics``: the same data in the shape of SageMaker Model Monitor's model quality
  statistics (``{"value": x, "standard_deviation": s}`` per metric, a ``confusion_matrix`` of
  actual -> predicted label -> count), which the model registry shows as the version's model
  quality (``ModelMetrics.ModelQuality.Statistics``). As Model Monitor, the standard deviation is
  over 5 random samples of 80% of the rows and only with at least 200 rows, else ``"NaN"``. The
  positive class of a binary model is its second class (``1`` of ``0``/``1``);
- ``dataset`` (``item_count``), ``model`` (framework, version, task, target, classes) and
  ``version`` (0.0, Model Monitor's);
- with ``--baseline-group``: ``baseline`` (the group's newest ``Approved`` version and the flat
  metrics of its own ``evaluation.json``, read through its ``ModelMetrics``) and ``regression``:
  per metric, how much worse this model is than that version (``baseline - value`` for metrics
  to maximise, ``value - baseline`` for those to minimise; negative is better). Without an
  approved version, or where it recorded no such metric, the regression is 0: nothing to be
  worse than. This needs the SageMaker API and S3 (boto3), so such a job cannot be isolated.

Exit status: 0 with the report written; 1 when the model or the data cannot be evaluated (one line
on stderr naming the file or column); 2 for bad command-line usage.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tarfile
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from workloads.model_layout import METADATA_FILE, LoadedModel, ModelLayoutError, load_model
from workloads.training import objectives
from workloads.training.tracking import model_dir_digest

if TYPE_CHECKING:
    import numpy as np

# numpy and pandas are imported where they are used: the Pulumi program reads this module's
# contract (paths, file and section names) without any ML library.

EXIT_OK, EXIT_FAILED = 0, 1

PROCESSING_ROOT = "/opt/ml/processing"
"""Where SageMaker mounts a processing job's inputs and outputs."""
MODEL_INPUT = f"{PROCESSING_ROOT}/model"
"""The processing input holding the model (default ``--model-dir``)."""
TEST_INPUT = f"{PROCESSING_ROOT}/test"
"""The processing input holding the test CSV files (default ``--test-dir``)."""
EVALUATION_OUTPUT = f"{PROCESSING_ROOT}/evaluation"
"""The processing output the report is written to (default ``--output-dir``)."""
EVALUATION_FILE = "evaluation.json"
"""The report's file name."""
MODEL_ARCHIVE = "model.tar.gz"
"""The archive SageMaker makes of a training job's model directory."""
METRICS_SECTION = "metrics"
"""The flat section ``{name: value}`` the pipeline's condition reads."""
BASELINE_SECTION, REGRESSIONS_SECTION = "baseline", "regression"
"""With a baseline group: the approved version compared with, and how much worse this model is."""
TEST_CHANNEL = "test"
"""How errors name the test data."""

#: Model Monitor's sections, by task and number of classes.
BINARY_SECTION = "binary_classification_metrics"
MULTICLASS_SECTION = "multiclass_classification_metrics"
REGRESSION_SECTION = "regression_metrics"

#: Model Monitor's standard deviation: this many samples of this fraction of the rows, and only
#: from this many rows on (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-metrics.html).
DEVIATION_SAMPLES, DEVIATION_FRACTION, DEVIATION_MIN_ROWS = 5, 0.8, 200


class EvaluationError(ValueError):
    """The model or the test data cannot be evaluated (a one-line reason)."""


def _safe_members(archive: tarfile.TarFile, source: Path) -> list[tarfile.TarInfo]:
    """The archive's members, refusing links, devices and paths that leave the directory."""
    members = archive.getmembers()
    for member in members:
        path = PurePosixPath(member.name)
        if not (member.isfile() or member.isdir()):
            raise EvaluationError(f"{source}: {member.name} is not a regular file or directory")
        if path.is_absolute() or ".." in path.parts:
            raise EvaluationError(f"{source}: {member.name} points outside the model directory")
    return members


def unpack_model(archive_path: Path, target: Path) -> Path:
    """Extract a ``model.tar.gz`` into ``target``; returns ``target``."""
    try:
        with tarfile.open(archive_path, "r:gz") as archive:
            members = _safe_members(archive, archive_path)
            if hasattr(tarfile, "data_filter"):
                archive.extractall(target, members=members, filter="data")
            else:  # Python before 3.10.12: the members were checked above
                archive.extractall(target, members=members)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise EvaluationError(f"{archive_path}: not a readable model.tar.gz ({error})") from None
    return target


def model_directory(path: Path, scratch: Path) -> Path:
    """The model directory ``path`` names: itself, or its ``model.tar.gz`` unpacked in ``scratch``.

    ``path`` is a model directory, a ``*.tar.gz`` file, or a directory holding ``model.tar.gz``
    (a processing input of the training job's artifact).
    """
    if path.is_file():
        return unpack_model(path, scratch)
    if not path.is_dir():
        raise EvaluationError(f"model: {path} does not exist")
    if (path / METADATA_FILE).is_file():
        return path
    archives = sorted(path.glob("*.tar.gz"))
    if len(archives) == 1:
        return unpack_model(archives[0], scratch)
    found = ", ".join(p.name for p in sorted(path.iterdir())[:10]) or "nothing"
    raise EvaluationError(
        f"model: {path} holds neither {METADATA_FILE} nor one {MODEL_ARCHIVE} (found: {found})"
    )


def read_test_data(test_dir: Path, model: LoadedModel) -> tuple[np.ndarray, np.ndarray]:
    """The test features (the model's columns, in its order) and targets.

    Classification targets are class indices into the model's ``classes``; a label the model
    never learnt is an error naming it.
    """
    import numpy as np

    from workloads.training.data import prepare, read_csv

    metadata = model.metadata
    frame = read_csv(test_dir, TEST_CHANNEL)
    # prepare() checks and converts one split the way training does; given as both splits, it
    # splits nothing off.
    data = prepare(
        frame,
        frame,
        target=metadata.target,
        task=metadata.task,
        features=metadata.feature_names,
        train_name=TEST_CHANNEL,
        validation_name=TEST_CHANNEL,
        inputs=metadata.inputs,
    )
    # The model encodes its own inputs (text features one-hot with its categories), so a model
    # with text features is given the raw values, as a request gives them.
    x = (
        frame[list(metadata.feature_names)].to_numpy(dtype=object)
        if metadata.has_categorical
        else data.x_valid
    )
    if metadata.task == objectives.REGRESSION:
        return x, data.y_valid
    if not metadata.classes:
        raise EvaluationError(f"{METADATA_FILE}: a classification model without classes")
    index = {label: i for i, label in enumerate(metadata.classes)}
    labels = data.labels(data.y_valid)
    unknown = sorted({repr(label) for label in labels if label not in index})
    if unknown:
        raise EvaluationError(
            f"{TEST_CHANNEL}: target {metadata.target!r} has label"
            f"{'s' if len(unknown) > 1 else ''} {', '.join(unknown[:10])} the model does not know "
            f"(its classes: {', '.join(repr(c) for c in metadata.classes[:20])})"
        )
    return x, np.asarray([index[label] for label in labels], dtype=np.int64)


def model_scores(model: LoadedModel, x: np.ndarray) -> np.ndarray:
    """Class probabilities ``(n, k)`` (classification) or predictions ``(n,)`` (regression)."""
    import numpy as np

    if model.metadata.task == objectives.REGRESSION:
        return np.asarray(model.predict(x), dtype=np.float64).reshape(len(x))
    if not model.has_predict_proba:
        raise EvaluationError(
            f"the {model.metadata.framework} model gives no class probabilities: AUC and log "
            "loss need them"
        )
    return np.asarray(model.predict_proba(x), dtype=np.float64)


def _confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    import numpy as np

    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


def _ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, 0 where undefined (scikit-learn's ``zero_division=0``)."""
    return float(numerator / denominator) if denominator else 0.0


def _f_beta(precision: float, recall: float, beta: float) -> float:
    squared = beta * beta
    return _ratio((1 + squared) * precision * recall, squared * precision + recall)


def binary_metrics(y_true: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """Model Monitor's binary metrics, class index 1 positive."""
    from workloads.training.evaluation import evaluate

    predicted = probabilities.argmax(axis=1)
    (tn, fp), (fn, tp) = _confusion(y_true, predicted, 2).tolist()
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    return {
        "recall": recall,
        "precision": precision,
        "accuracy": _ratio(tp + tn, len(y_true)),
        "true_positive_rate": recall,
        "true_negative_rate": _ratio(tn, tn + fp),
        "false_positive_rate": _ratio(fp, fp + tn),
        "false_negative_rate": _ratio(fn, fn + tp),
        "auc": evaluate(objectives.CLASSIFICATION, y_true, probabilities)["valid_auc"],
        "f0_5": _f_beta(precision, recall, 0.5),
        "f1": _f_beta(precision, recall, 1.0),
        "f2": _f_beta(precision, recall, 2.0),
    }


def multiclass_metrics(y_true: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """Model Monitor's multiclass metrics: accuracy and support-weighted precision, recall, F."""
    import numpy as np

    counts = _confusion(y_true, probabilities.argmax(axis=1), probabilities.shape[1])
    hits = np.diag(counts).astype(np.float64)
    support, predicted = counts.sum(axis=1), counts.sum(axis=0)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    weights = support / support.sum()

    def weighted_f(beta: float) -> float:
        per_class = [_f_beta(p, r, beta) for p, r in zip(precision, recall, strict=True)]
        return float(np.dot(weights, per_class))

    return {
        "accuracy": float(hits.sum() / len(y_true)),
        "weighted_recall": float(np.dot(weights, recall)),
        "weighted_precision": float(np.dot(weights, precision)),
        "weighted_f0_5": weighted_f(0.5),
        "weighted_f1": weighted_f(1.0),
        "weighted_f2": weighted_f(2.0),
    }


def regression_metrics(y_true: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """Model Monitor's regression metrics (the formulas of training's validation metrics)."""
    from workloads.training.evaluation import evaluate

    found = evaluate(objectives.REGRESSION, y_true, predictions)
    return {
        "mae": found["valid_mae"],
        "mse": found["valid_loss"],
        "rmse": found["valid_rmse"],
        "r2": found["valid_r2"],
    }


def _number(value: float) -> float | str:
    """A metric as JSON holds it: Model Monitor writes ``"NaN"`` where there is no number."""
    return value if math.isfinite(value) else "NaN"


def _with_deviation(
    compute: Callable[[np.ndarray, np.ndarray], dict[str, float]],
    y_true: np.ndarray,
    scores: np.ndarray,
    seed: int,
) -> dict[str, dict[str, float | str]]:
    """``{metric: {"value", "standard_deviation"}}``, the deviation as Model Monitor takes it."""
    import numpy as np

    values = compute(y_true, scores)
    deviations = dict.fromkeys(values, math.nan)
    rows = len(y_true)
    if rows >= DEVIATION_MIN_ROWS:
        rng = np.random.default_rng(seed)
        size = int(rows * DEVIATION_FRACTION)
        samples = [rng.choice(rows, size=size, replace=False) for _ in range(DEVIATION_SAMPLES)]
        found = [compute(y_true[sample], scores[sample]) for sample in samples]
        deviations = {name: float(np.std([item[name] for item in found])) for name in values}
    return {
        name: {"value": _number(value), "standard_deviation": _number(deviations[name])}
        for name, value in values.items()
    }


def quality_section(
    task: str, classes: Sequence[Any], y_true: np.ndarray, scores: np.ndarray, seed: int = 0
) -> tuple[str, dict[str, Any]]:
    """The Model Monitor section's name and content for ``task``."""
    if task == objectives.REGRESSION:
        return REGRESSION_SECTION, _with_deviation(regression_metrics, y_true, scores, seed)
    binary = scores.shape[1] == 2
    compute = binary_metrics if binary else multiclass_metrics
    counts = _confusion(y_true, scores.argmax(axis=1), scores.shape[1]).tolist()
    names = [str(label) for label in classes]
    section: dict[str, Any] = {
        "confusion_matrix": {
            actual: dict(zip(names, row, strict=True))
            for actual, row in zip(names, counts, strict=True)
        },
        **_with_deviation(compute, y_true, scores, seed),
    }
    return (BINARY_SECTION if binary else MULTICLASS_SECTION), section


def held_out_metrics(task: str, y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """The flat section: :func:`objectives.evaluated_metrics` on the test data, all finite."""
    from workloads.training.evaluation import evaluate

    found = evaluate(task, y_true, scores)
    metrics = {name: found[name] for name in objectives.evaluated_metrics(task)}
    undefined = [name for name, value in metrics.items() if not math.isfinite(value)]
    if undefined:
        raise EvaluationError(
            f"{TEST_CHANNEL}: {', '.join(undefined)} undefined on the test data (a class missing "
            "from it?); a gate needs a number"
        )
    return metrics


def build_report(
    model: LoadedModel, y_true: np.ndarray, scores: np.ndarray, model_sha256: str | None = None
) -> dict[str, Any]:
    """The whole ``evaluation.json`` content for one model on one test set.

    ``model_sha256`` is the model directory's digest (:func:`tracking.model_dir_digest`), kept
    under ``model.sha256`` when given.
    """
    metadata = model.metadata
    section, quality = quality_section(metadata.task, metadata.classes, y_true, scores)
    return {
        "version": 0.0,
        "dataset": {"item_count": len(y_true)},
        "model": {
            "framework": metadata.framework,
            "framework_version": metadata.framework_version,
            "task": metadata.task,
            "target": metadata.target,
            "classes": list(metadata.classes),
            **({"sha256": model_sha256} if model_sha256 is not None else {}),
        },
        METRICS_SECTION: held_out_metrics(metadata.task, y_true, scores),
        section: quality,
    }


def _s3_location(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        raise EvaluationError(f"{uri!r} is not an s3://bucket/key URI")
    return bucket, key


def approved_baseline(group: str, sagemaker: Any, s3: Any) -> dict[str, Any] | None:
    """The newest ``Approved`` version of ``group`` and its flat metrics; None without one.

    Its metrics come from the ``evaluation.json`` its ``ModelMetrics`` name; a version registered
    without one has ``metrics`` None (nothing to compare with).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        listed = sagemaker.list_model_packages(
            ModelPackageGroupName=group,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )["ModelPackageSummaryList"]
        if not listed:
            return None
        arn = listed[0]["ModelPackageArn"]
        described = sagemaker.describe_model_package(ModelPackageName=arn)
        statistics = described.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics")
        if not statistics:
            return {"model_package_arn": arn, METRICS_SECTION: None}
        uri = statistics["S3Uri"]
        bucket, key = _s3_location(uri)
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except (BotoCoreError, ClientError) as error:
        raise EvaluationError(f"baseline group {group}: {error}") from None
    try:
        metrics = json.loads(body)[METRICS_SECTION]
        found = {str(name): float(value) for name, value in metrics.items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        raise EvaluationError(
            f"{uri}: the approved version's report has no '{METRICS_SECTION}' numbers"
        ) from None
    return {"model_package_arn": arn, METRICS_SECTION: found}


def regressions(
    task: str, metrics: Mapping[str, float], baseline: Mapping[str, float] | None
) -> dict[str, float]:
    """Per metric, how much worse than ``baseline`` (positive: worse; 0 without a baseline)."""
    found = {}
    for name, value in metrics.items():
        before = (baseline or {}).get(name)
        if before is None:
            found[name] = 0.0
        elif objectives.direction(task, name) == objectives.MAXIMIZE:
            found[name] = before - value
        else:
            found[name] = value - before
    return found


def compare_with_approved(
    report: dict[str, Any], group: str, sagemaker: Any = None, s3: Any = None
) -> dict[str, Any]:
    """Add the ``baseline`` and ``regression`` sections against ``group``'s approved version."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        sagemaker = sagemaker or boto3.client("sagemaker")
        s3 = s3 or boto3.client("s3")
    except BotoCoreError as error:  # no region, say
        raise EvaluationError(f"baseline group {group}: {error}") from None
    baseline = approved_baseline(group, sagemaker, s3)
    before = None if baseline is None else baseline[METRICS_SECTION]
    task = report["model"]["task"]
    return {
        **report,
        BASELINE_SECTION: baseline,
        REGRESSIONS_SECTION: regressions(task, report[METRICS_SECTION], before),
    }


def evaluate_model(
    model_dir: str | Path,
    test_dir: str | Path,
    output_dir: str | Path | None = None,
    *,
    baseline_group: str | None = None,
    sagemaker: Any = None,
    s3: Any = None,
) -> dict[str, Any]:
    """Evaluate the model at ``model_dir`` on the CSV files at ``test_dir``; the report.

    With ``baseline_group`` the report also compares the model with that model package group's
    newest approved version (``sagemaker`` and ``s3`` are boto3 clients; default: new ones).
    With ``output_dir`` the report is also written there as ``evaluation.json``. Problems with the
    model or the data are an :class:`EvaluationError` (or the data's ``DataError``, the layout's
    ``ModelLayoutError``) naming the file or column.
    """
    with tempfile.TemporaryDirectory(prefix="model-") as scratch:
        directory = model_directory(Path(model_dir), Path(scratch))
        model = load_model(directory)
        # The digest the trainer tags its MLflow run with: the registered version records it, so
        # an MLflow model and a SageMaker model package are seen to hold the same artifact.
        digest = model_dir_digest(directory)
    x, y_true = read_test_data(Path(test_dir), model)
    report = build_report(model, y_true, model_scores(model, x), model_sha256=digest)
    if baseline_group is not None:
        report = compare_with_approved(report, baseline_group, sagemaker, s3)
    if output_dir is not None:
        write_report(report, Path(output_dir))
    return report


def write_report(report: Mapping[str, Any], output_dir: Path) -> Path:
    """Write ``evaluation.json`` into ``output_dir`` (created if missing); its path."""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / EVALUATION_FILE
    path.write_text(json.dumps(report, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return path


def build_parser() -> argparse.ArgumentParser:
    """The command line (defaults: SageMaker's processing contract)."""
    parser = argparse.ArgumentParser(
        prog="python -m workloads.training.evaluate",
        description="Evaluate a trained model on held-out test CSV files and write "
        f"{EVALUATION_FILE} (the metrics a training pipeline's condition step reads).",
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=Path(MODEL_INPUT),
        help=f"a model directory, a {MODEL_ARCHIVE}, or a directory holding one "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--test-dir",
        type=Path,
        default=Path(TEST_INPUT),
        help="a CSV file or a directory of *.csv files (default: %(default)s)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path(EVALUATION_OUTPUT),
        help=f"where {EVALUATION_FILE} goes (default: %(default)s)",
    )
    parser.add_argument(
        "--baseline-group",
        help="a model package group: also report how much worse than its newest approved "
        "version the model is (needs the SageMaker API and S3)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the evaluation; the exit status (see the module docstring)."""
    from workloads.training.data import DataError

    try:
        arguments = build_parser().parse_args(argv)
    except SystemExit as exit_request:  # argparse: usage errors and --help
        return exit_request.code if isinstance(exit_request.code, int) else EXIT_FAILED
    try:
        report = evaluate_model(
            arguments.model_dir,
            arguments.test_dir,
            arguments.output_dir,
            baseline_group=arguments.baseline_group,
        )
    except (EvaluationError, DataError, ModelLayoutError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    for name, value in report[METRICS_SECTION].items():
        print(objectives.format_metric(name, value), flush=True)
    print(f"wrote {arguments.output_dir / EVALUATION_FILE}", file=sys.stderr, flush=True)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
