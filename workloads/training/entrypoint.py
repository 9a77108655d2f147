r"""The training entrypoint: SageMaker's training contract in a job, plain arguments locally.

Locally (``python -m workloads.training``, or the ``ml-platform-train`` console script)::

    python -m workloads.training --algorithm xgboost --dataset iris --model-dir build/model
    python -m workloads.training --algorithm sklearn --task classification --target churned \\
        --train data/train.csv [--validation data/valid/] --model-dir build/model \\
        [--output-dir build/output] [--checkpoint-dir build/checkpoints] \\
        [--hyperparameter estimator=random_forest ...] [--hyperparameters-file hp.json] \\
        [--tracking-uri sqlite:///build/mlflow.db] [--experiment NAME] [--register-model NAME]

In a SageMaker training job (``contract.SageMakerEnvironment.detect``: ``hyperparameters.json``
exists), everything comes from the contract instead: ``algorithm``, ``task``, ``target`` and the
algorithm's hyperparameters from ``hyperparameters.json``, data from the ``train`` (and optional
``validation``) channel, the model to ``/opt/ml/model``, outputs to ``/opt/ml/output/data``,
checkpoints in ``/opt/ml/checkpoints``. Command-line arguments are ignored there: the
sagemaker-training toolkit passes the same hyperparameters again as ``--key value``.

Exit status: 0 when the model is saved, and also when SIGTERM stopped training (a spot
interruption: the checkpoint is written and the restarted job resumes); 1 when training failed,
with the reason on stderr and, in a job, in ``/opt/ml/output/failure`` (SageMaker's
FailureReason); 2 for bad command-line usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workloads.training import algorithms, contract, objectives
from workloads.training.algorithms import ALGORITHMS, params_type
from workloads.training.contract import SageMakerEnvironment
from workloads.training.data import DATASET_TARGET, DATASETS, DataError, TabularData
from workloads.training.hyperparameters import (
    HyperparameterError,
    as_strings,
    field_names,
    parse_many,
    read_json,
    unwrap,
)
from workloads.training.outcome import TrainedModel, TrainingContext
from workloads.training.params import JobParams
from workloads.training.progress import write_line
from workloads.training.s3_sync import S3SyncError
from workloads.training.tracking import TrackingUnavailable

if TYPE_CHECKING:
    from workloads.training.spot import StopRequest

EXIT_OK, EXIT_FAILED = 0, 1
METRICS_FILE = "metrics.json"
"""The output file with the best model's metrics and how training went."""


class JobError(ValueError):
    """The job cannot run as configured (a clear message, no traceback needed)."""


@dataclass(frozen=True)
class Job:
    """Everything one training run needs, from the contract or the command line."""

    params: JobParams
    """The shared hyperparameters."""
    algorithm_params: Any
    """The algorithm's own hyperparameters (its params dataclass)."""
    model_dir: Path
    """Where the model directory is written."""
    train: Path | None = None
    """The training CSV file or directory (None with ``dataset``)."""
    validation: Path | None = None
    """The validation CSV file or directory (None: split off the training data)."""
    dataset: str | None = None
    """A bundled scikit-learn dataset instead of CSV files."""
    output_dir: Path | None = None
    """Where ``metrics.json`` (and AutoML's ``trials.json``) go; None writes none."""
    checkpoint_dir: Path | None = None
    """Where checkpoints are written and resumed from; None turns them off."""
    tracking_uri: str = ""
    """MLflow's tracking URI; empty turns tracking off."""
    experiment: str = ""
    """The MLflow experiment."""
    sagemaker: SageMakerEnvironment | None = None
    """The training contract, in a SageMaker job."""


def parse_hyperparameters(raw: Mapping[str, str], source: str) -> tuple[JobParams, Any]:
    """The shared and the algorithm's params from raw strings; every problem raised at once."""
    algorithm = unwrap(raw.get("algorithm", ""))
    task = unwrap(raw.get("task", ""))
    context = {"task": task} if task in objectives.METRICS else {}
    kinds: list[type] = [JobParams]
    if algorithm in ALGORITHMS:
        kinds.append(params_type(algorithm))
    else:
        # Without a valid algorithm nobody knows which other keys are allowed: report only the
        # shared ones' problems (the algorithm's among them).
        shared = set(field_names(JobParams))
        raw = {key: value for key, value in raw.items() if key in shared}
    parsed = parse_many(raw, kinds, source=source, context=context)
    return parsed[0], parsed[1]


def job_from_sagemaker(environment: SageMakerEnvironment) -> Job:
    """The job a SageMaker training container describes."""
    raw = environment.read_hyperparameters()
    params, algorithm_params = parse_hyperparameters(raw, environment.hyperparameters_file.name)
    channels = environment.channels
    if contract.TRAIN_CHANNEL not in channels:
        found = ", ".join(sorted(channels)) or "none"
        raise JobError(
            f"no {contract.TRAIN_CHANNEL!r} input channel (the job has: {found}); name the "
            f"training data channel {contract.TRAIN_CHANNEL!r}"
        )
    return Job(
        params=params,
        algorithm_params=algorithm_params,
        model_dir=environment.model_dir,
        train=channels[contract.TRAIN_CHANNEL],
        validation=channels.get(contract.VALIDATION_CHANNEL),
        output_dir=environment.output_data_dir,
        checkpoint_dir=environment.checkpoint_dir,
        tracking_uri=os.environ.get(contract.MLFLOW_TRACKING_URI_ENV, ""),
        experiment=os.environ.get(contract.MLFLOW_EXPERIMENT_NAME_ENV, ""),
        sagemaker=environment,
    )


def _key_value(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key.strip(), value


def build_parser() -> argparse.ArgumentParser:
    """The local command line."""
    parser = argparse.ArgumentParser(
        prog="ml-platform-train",
        description="Train a model on tabular data (CSV or a bundled scikit-learn dataset) and "
        "write it in the platform's model layout. In a SageMaker training job the arguments are "
        "ignored: everything comes from the container contract.",
    )
    parser.add_argument("--algorithm", choices=ALGORITHMS, help="which algorithm trains")
    parser.add_argument(
        "--task", choices=list(objectives.METRICS), help="default: the dataset's task"
    )
    parser.add_argument("--target", help=f"the target column (datasets: {DATASET_TARGET!r})")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--train", type=Path, help="a CSV file or a directory of *.csv files")
    source.add_argument(
        "--dataset",
        choices=list(DATASETS),
        help="a bundled scikit-learn dataset, split into training and validation with the seed",
    )
    parser.add_argument(
        "--validation", type=Path, help="validation CSV file or directory (default: a split)"
    )
    parser.add_argument("--model-dir", type=Path, required=True, help="where the model goes")
    parser.add_argument("--output-dir", type=Path, help="metrics.json and trials.json go here")
    parser.add_argument("--checkpoint-dir", type=Path, help="checkpoints (resumed from if present)")
    parser.add_argument(
        "--hyperparameter",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one hyperparameter (repeatable); wins over --hyperparameters-file",
    )
    parser.add_argument(
        "--hyperparameters-file",
        type=Path,
        help="a JSON object of hyperparameters, as SageMaker's hyperparameters.json",
    )
    parser.add_argument(
        "--tracking-uri", help=f"MLflow (default: ${contract.MLFLOW_TRACKING_URI_ENV})"
    )
    parser.add_argument(
        "--experiment", help=f"MLflow experiment (default: ${contract.MLFLOW_EXPERIMENT_NAME_ENV})"
    )
    parser.add_argument("--register-model", metavar="NAME", help="register the model in MLflow")
    return parser


def job_from_arguments(argv: Sequence[str] | None) -> Job:
    """The job the local command line describes (``SystemExit(2)`` for bad usage)."""
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if arguments.dataset and arguments.validation:
        parser.error("--validation goes with --train: a --dataset is split with the seed")
    raw: dict[str, str] = {}
    source = "hyperparameters"
    if arguments.hyperparameters_file:
        raw.update(read_json(arguments.hyperparameters_file))
        source = arguments.hyperparameters_file.name
    raw.update(dict(arguments.hyperparameter))
    options = {
        "algorithm": ("--algorithm", arguments.algorithm),
        "task": ("--task", arguments.task),
        "target": ("--target", arguments.target),
        "registered_model_name": ("--register-model", arguments.register_model),
    }
    for key, (option, value) in options.items():
        if value is None:
            continue
        if key in raw and unwrap(raw[key]) != value:
            raise JobError(f"{option} {value} conflicts with the hyperparameter {key}={raw[key]}")
        raw[key] = value
    if arguments.dataset:
        raw.setdefault("task", DATASETS[arguments.dataset])
        raw.setdefault("target", DATASET_TARGET)
    if arguments.dataset and unwrap(raw["target"]) != DATASET_TARGET:
        raise JobError(f"--dataset {arguments.dataset}: the target column is {DATASET_TARGET!r}")
    params, algorithm_params = parse_hyperparameters(raw, source)
    return Job(
        params=params,
        algorithm_params=algorithm_params,
        model_dir=arguments.model_dir,
        train=arguments.train,
        validation=arguments.validation,
        dataset=arguments.dataset,
        output_dir=arguments.output_dir,
        checkpoint_dir=arguments.checkpoint_dir,
        tracking_uri=arguments.tracking_uri or os.environ.get(contract.MLFLOW_TRACKING_URI_ENV, ""),
        experiment=arguments.experiment or "",
    )


def load_data(job: Job) -> TabularData:
    """The job's data as :class:`TabularData`."""
    from workloads.training.data import load_dataset, prepare, read_csv

    params = job.params
    if job.dataset:
        train = load_dataset(job.dataset)
        train_name = job.dataset
    else:
        assert job.train is not None
        train = read_csv(job.train, contract.TRAIN_CHANNEL)
        train_name = contract.TRAIN_CHANNEL
    validation = read_csv(job.validation, contract.VALIDATION_CHANNEL) if job.validation else None
    return prepare(
        train,
        validation,
        target=params.target,
        task=params.task,
        features=params.features,
        validation_fraction=params.validation_fraction,
        seed=params.seed,
        train_name=train_name,
        validation_name=contract.VALIDATION_CHANNEL,
    )


def _say(message: str) -> None:
    # Through progress.write_line: never onto a progress bar's line on a terminal.
    write_line(message)


def _is_primary_process(environ: Mapping[str, str]) -> bool:
    return environ.get(contract.RANK_ENV, "0") in ("", "0")


def _world_size(environ: Mapping[str, str]) -> int:
    try:
        return int(environ.get(contract.WORLD_SIZE_ENV, "1") or "1")
    except ValueError:
        return 1


def run(job: Job, environ: Mapping[str, str] | None = None, stop: StopRequest | None = None) -> int:
    """Train, save the model and outputs, track; returns the exit status.

    SIGTERM is caught from the start: before training it ends the run at once with status 0
    (a spot interruption while the data loads), during training at the next step boundary.
    ``stop`` is the process's own request (see :func:`command`); without it SIGTERM is caught
    for this call only.
    """
    from workloads.training.spot import StopRequest

    environ = os.environ if environ is None else environ
    if stop is not None:
        return _run(job, environ, stop)
    with StopRequest.on_sigterm() as call_stop:
        return _run(job, environ, call_stop)


def _run(job: Job, environ: Mapping[str, str], stop: StopRequest) -> int:
    from workloads.training.reporting import MetricReporter

    params = job.params
    if params.algorithm != "pytorch" and _world_size(environ) > 1:
        raise JobError(
            f"algorithm {params.algorithm} trains in a single process, but "
            f"{contract.WORLD_SIZE_ENV}={environ[contract.WORLD_SIZE_ENV]}: launch it without "
            "torchrun (only pytorch trains distributed)"
        )
    data = load_data(job)
    if stop.requested:
        _say("stopped on request (SIGTERM) before training")
        return EXIT_OK
    _say(
        f"training {params.algorithm} ({params.task} of {params.target!r}): "
        f"{len(data.x_train)} training and {len(data.x_valid)} validation rows, "
        f"{len(data.feature_names)} features"
        + (f", {data.n_classes} classes" if data.n_classes else "")
        + f"; objective {params.resolved_objective}"
    )
    tracker = None
    if job.tracking_uri and _is_primary_process(environ):
        from workloads.training.tracking import ExperimentTracker, experiment_from

        tags = {"ml_platform.algorithm": params.algorithm, "ml_platform.task": params.task}
        if job.sagemaker is not None and job.sagemaker.training_job_name:
            tags["sagemaker.training_job_name"] = job.sagemaker.training_job_name
        tracker = ExperimentTracker.start(
            job.tracking_uri, experiment_from(job.experiment or None, environ), tags=tags
        )
        _say(f"tracking in MLflow run {tracker.run_id} at {job.tracking_uri}")
    status = "FAILED"
    try:
        if tracker is not None:
            tracker.log_params(
                {
                    **as_strings(params),
                    "objective": params.resolved_objective,
                    **as_strings(job.algorithm_params),
                }
            )
        reporter = MetricReporter(sys.stdout, tracker)
        context = TrainingContext(
            objective=params.resolved_objective,
            checkpoint_dir=job.checkpoint_dir,
            reporter=reporter,
            stop=stop,
            tracker=tracker,
            output_dir=job.output_dir,
        )
        trained = algorithms.train(params.algorithm, data, job.algorithm_params, context)
        if trained.interrupted:
            status = "KILLED"
            _say(
                f"stopped on request (SIGTERM) after {trained.steps_run} steps"
                + (
                    f"; checkpoint in {job.checkpoint_dir}: a rerun resumes from it"
                    if job.checkpoint_dir is not None
                    else ""
                )
            )
            return EXIT_OK
        if not trained.is_primary:
            status = "FINISHED"
            return EXIT_OK
        reporter.report(trained.metrics)
        save(job, data, trained)
        if tracker is not None:
            if job.output_dir is not None:
                tracker.log_artifact(job.output_dir, "output")
            uri = tracker.log_model(
                job.model_dir, trained, data, registered_model_name=params.registered_model_name
            )
            if uri:
                _say(f"MLflow model: {uri}")
        status = "FINISHED"
        return EXIT_OK
    finally:
        if tracker is not None:
            tracker.finish(status)


def run_with_uploads(
    job: Job, environ: Mapping[str, str] | None = None, stop: StopRequest | None = None
) -> int:
    """:func:`run`, uploading checkpoints and the model to S3 when the environment asks for it.

    On Kubernetes nothing syncs ``/opt/ml`` for us: ``ML_PLATFORM_CHECKPOINT_S3_URI`` and
    ``ML_PLATFORM_MODEL_S3_URI`` turn the uploads on (rank 0 only; see ``s3_sync``). Without
    them this is :func:`run`.
    """
    from workloads.training.s3_sync import SyncedOutputs

    environ = os.environ if environ is None else environ
    with SyncedOutputs.from_environ(
        checkpoint_dir=job.checkpoint_dir, model_dir=job.model_dir, environ=environ
    ) as outputs:
        status = run(job, environ, stop)
        if status == EXIT_OK and (uri := outputs.upload_model()):
            _say(f"model uploaded to {uri}")
    return status


def save(job: Job, data: TabularData, trained: TrainedModel) -> None:
    """Write the model directory and ``metrics.json``."""
    from workloads.model_layout import PYTORCH, save_model

    metadata = save_model(
        job.model_dir,
        trained.model,
        {
            "framework": trained.framework,
            "task": data.task,
            "feature_names": data.feature_names,
            "inputs": data.inputs,
            "target": data.target,
            "classes": data.classes,
            "metrics": trained.metrics,
            "framework_version": trained.framework_version,
            "name": job.params.registered_model_name,
        },
    )
    if metadata.framework == PYTORCH:
        # AWS's PyTorch inference container imports the handlers only from code/ inside
        # model.tar.gz, which SageMaker makes of this directory.
        from workloads.inference.handler_code import write_handler_code

        write_handler_code(job.model_dir)
    _say(f"model saved to {job.model_dir} ({metadata.framework}, best step {trained.best_step})")
    if job.output_dir is None:
        return
    job.output_dir.mkdir(parents=True, exist_ok=True)
    summary = {
        "algorithm": job.params.algorithm,
        "framework": trained.framework,
        "framework_version": trained.framework_version,
        "objective": job.params.resolved_objective,
        "metrics": trained.metrics,
        "best_step": trained.best_step,
        "steps_run": trained.steps_run,
        "stopped_early": trained.stopped_early,
        "params": {
            **as_strings(job.params),
            "objective": job.params.resolved_objective,
            **trained.params,
        },
    }
    (job.output_dir / METRICS_FILE).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")


EXPECTED_ERRORS = (HyperparameterError, DataError, JobError, TrackingUnavailable, S3SyncError)
"""Failures whose message says everything: reported without a traceback."""


def command() -> int:
    """The training process's entry point: :func:`main` with SIGTERM caught for good.

    The console script, ``python -m workloads.training`` and the script-mode ``train.py`` run
    this. SIGTERM stays a stop request until the process has exited, so a repeated SIGTERM after
    the stop checkpoint (while the model or checkpoint uploads, or the interpreter exits) cannot
    turn a clean stop (0) into a kill (-15).
    """
    from workloads.training.spot import StopRequest, ignore_sigterm

    status = main(stop=StopRequest.for_process())
    ignore_sigterm()
    return status


def main(argv: list[str] | None = None, stop: StopRequest | None = None) -> int:
    """Run one training job; returns the exit status (see the module docstring).

    ``stop`` is the process's stop request (:func:`command` passes it); without one, SIGTERM is
    caught only while the job runs and the previous handler comes back after it.
    """
    environment = SageMakerEnvironment.detect()
    try:
        if environment is not None:
            arguments = sys.argv[1:] if argv is None else argv
            if arguments:
                _say(
                    "SageMaker training job: ignoring the command-line arguments "
                    "(hyperparameters.json is read instead)"
                )
            job = job_from_sagemaker(environment)
        else:
            job = job_from_arguments(argv)
        return run_with_uploads(job, stop=stop)
    except SystemExit as exit_request:  # argparse: usage errors and --help
        return exit_request.code if isinstance(exit_request.code, int) else EXIT_FAILED
    except EXPECTED_ERRORS as error:
        reason = str(error)
    except Exception as error:  # anything else: the traceback helps, the reason stays short
        traceback.print_exc()
        reason = f"{type(error).__name__}: {error}"
    _say(f"error: {reason}")
    if environment is not None:
        environment.write_failure(reason)
    return EXIT_FAILED
