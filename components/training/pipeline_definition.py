"""The SageMaker Pipeline definition of a training pipeline, built as plain Python data.

A pipeline starts with ``Training`` (its ``Arguments`` are a ``CreateTrainingJob`` request) or,
when the pipeline tunes, ``Tuning`` (a ``CreateHyperParameterTuningJob`` request whose
``TrainingJobDefinition`` carries the same job). Pipeline parameters ``TrainData`` and
``ValidationData`` (S3 URIs, defaults from the stack's config) feed the ``train`` and
``validation`` channels, so an execution can train on another snapshot without a deploy. With a
registry the model is then registered, after an evaluation on ``TestData`` when one is configured
(:mod:`components.training.pipeline_steps`).

The job runs our ``workloads/training`` code in script mode: the training source archive reaches
the container as the input channel ``code`` (SageMaker downloads it before the container starts),
and ``sagemaker_submit_directory`` names its local path, which the sagemaker-training toolkit
unpacks before it runs ``sagemaker_program``. Nothing is fetched from inside the container, so
the job runs with network isolation unless it logs to the MLflow tracking server.

Everything here is plain data in, plain data out (the pipeline's spec model and the resolved
:class:`TrainingPlatform`, no Pulumi) and deterministic, so the definition is testable as data and
shows in the offline plan exactly as SageMaker will receive it.
Schema: https://aws-sagemaker-mlops.github.io/sagemaker-model-building-pipeline-definition-JSON-schema/
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from components.shared.pipeline_expressions import execution_folder
from components.training.pipeline_steps import (
    TEST_PARAMETER,
    TrainedModel,
    after_training_steps,
)
from components.training.spec import ParameterRangeConfig, TrainingPipelineConfig
from workloads.training import contract, objectives

#: The pipeline definition schema version SageMaker accepts.
SCHEMA_VERSION = "2020-12-01"

#: Where SageMaker puts an input channel's files inside the container.
CHANNEL_ROOT = f"{contract.DEFAULT_ROOT}/{contract.DATA_DIR}"

#: The local folder SageMaker syncs with the checkpoint S3 URI (and restores on a restart).
CHECKPOINT_LOCAL_PATH = f"{contract.DEFAULT_ROOT}/{contract.CHECKPOINT_DIR}"

#: The input channel that delivers the training source archive.
CODE_CHANNEL = "code"

#: The pipeline parameters of every training pipeline, with the channel each one feeds.
DATA_PARAMETERS = {"TrainData": "train", "ValidationData": "validation"}

#: The first step's name: one of the two.
TRAINING_STEP, TUNING_STEP = "Train", "Tune"

#: What SageMaker names the model archive a training job uploads (below ``<job>/output/``).
MODEL_ARCHIVE = "model.tar.gz"

#: Retries of the training job itself on SageMaker internal errors (CreateTrainingJob allows 30).
JOB_RETRY_ATTEMPTS = 2

#: SageMaker job failures worth retrying the training step for: capacity (also spot capacity),
#: limits and internal errors. Anything else (bad data, a bug) fails the execution at once.
STEP_RETRY_EXCEPTIONS = (
    "SageMaker.CAPACITY_ERROR",
    "SageMaker.JOB_INTERNAL_ERROR",
    "SageMaker.RESOURCE_LIMIT",
)

#: The tuning step's: the same without internal errors, which a tuning step never retries (its
#: jobs retry internally; https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-retry-policy.html).
TUNING_RETRY_EXCEPTIONS = tuple(
    exception for exception in STEP_RETRY_EXCEPTIONS if exception != "SageMaker.JOB_INTERNAL_ERROR"
)

#: Key prefix of every pipeline's trained models in the models bucket.
MODELS_PREFIX = "training/"

#: Key prefix of every pipeline's checkpoints in the experiments bucket.
CHECKPOINTS_PREFIX = "checkpoints/"

#: The hyperparameter that bounds an algorithm's epochs: what Hyperband's resource counts.
EPOCHS_HYPERPARAMETER = {"pytorch": "epochs"}

# GPUs per instance of the multi-GPU SageMaker sizes (https://aws.amazon.com/sagemaker/pricing/);
# every other GPU size has one.
_MULTI_GPU = re.compile(
    r"^ml\.("
    r"p3\.(8|16)xlarge|p3dn\.24xlarge|p4de?\.24xlarge|p5e?n?\.48xlarge"
    r"|g4dn\.12xlarge|g5\.(12|24|48)xlarge|g6e?\.(12|24|48)xlarge"
    r")$"
)


@dataclass(frozen=True)
class TrainingPlatform:
    """The resolved Outputs one pipeline's job is built from, as plain strings inside an ``apply``.

    Only what exists once the platform is deployed (buckets, key, subnets, roles, the image URI,
    the code archive's key, the tracking server) and the stack's identity the names derive from;
    what the job trains and on what compute comes from the pipeline's spec model.
    """

    environment: str
    """The stack's environment: the pipeline is ``mlp-<environment>-<name>``."""
    region: str
    """The stack's region."""
    role_arn: str
    """The training execution role."""
    image_uri: str
    """The training container image."""
    processed_bucket: str
    """Bucket of the training data."""
    models_bucket: str
    """Bucket of the code archive and the trained models."""
    experiments_bucket: str
    """Bucket of the checkpoints."""
    code_archive_key: str
    """Key of the training source archive in the models bucket."""
    kms_key_arn: str
    """The platform key."""
    subnet_ids: Sequence[str]
    """Private subnets the job runs in."""
    security_group_id: str
    """The workload security group."""
    tracking_server_arn: str | None = None
    """The MLflow tracking server (tracked pipelines only)."""
    serving_image_uri: str | None = None
    """The container the registered model is served with (pipelines with a registry only)."""
    code_archive_sha256: str | None = None
    """The code archive's full digest, recorded on each registered version."""


def pipeline_name(environment: str, pipeline: TrainingPipelineConfig) -> str:
    """The pipeline's name in AWS: ``mlp-<environment>-<name>``.

    It also prefixes the names of its training jobs and its S3 paths, and is its MLflow experiment.
    """
    return f"mlp-{environment}-{pipeline.name}"


def is_multi_gpu(instance_type: str) -> bool:
    """Whether ``instance_type`` (``ml.g5.12xlarge``) has more than one GPU."""
    return bool(_MULTI_GPU.match(instance_type))


def distributed(pipeline: TrainingPipelineConfig) -> bool:
    """Whether PyTorch should launch one process per GPU and instance (torchrun)."""
    return pipeline.algorithm == "pytorch" and (
        pipeline.instance_count > 1 or is_multi_gpu(pipeline.instance_type)
    )


def checkpoint_prefix(pipeline_name: str) -> str:
    """Key prefix of a pipeline's checkpoints in the experiments bucket (one folder per run)."""
    return f"{CHECKPOINTS_PREFIX}{pipeline_name}/"


def output_prefix(pipeline_name: str) -> str:
    """Key prefix of a pipeline's trained models in the models bucket."""
    return f"{MODELS_PREFIX}{pipeline_name}/"


def submit_directory(code_archive_key: str) -> str:
    """Where the code channel puts the archive in the container (what the toolkit unpacks)."""
    return f"{CHANNEL_ROOT}/{CODE_CHANNEL}/{PurePosixPath(code_archive_key).name}"


def metric_definitions(task: str) -> list[dict[str, str]]:
    """Every metric the training code reports for ``task``, read from the job's log."""
    return [
        {"Name": name, "Regex": objectives.metric_regex(name)} for name in objectives.METRICS[task]
    ]


def hyperparameters(pipeline: TrainingPipelineConfig, platform: TrainingPlatform) -> dict[str, str]:
    """The job's fixed hyperparameters: what to train, script mode, and the config's own.

    Tuned names are left out (the tuning job sets them per training job).
    """
    values = {
        "algorithm": pipeline.algorithm,
        "task": pipeline.task,
        "target": pipeline.target,
        **pipeline.fixed_hyperparameters,
        # Script mode: the toolkit unpacks this local archive and runs the program from it.
        "sagemaker_program": "train.py",
        "sagemaker_submit_directory": submit_directory(platform.code_archive_key),
        "sagemaker_region": platform.region,
    }
    if distributed(pipeline):
        # The PyTorch container then starts the program with torchrun on every instance.
        values["sagemaker_torch_distributed_enabled"] = "true"
    tuning = pipeline.tuning
    if tuning is not None:
        # The training code picks its best epoch (and stops early) by the metric being tuned.
        values.setdefault("objective", tuning.objective)
        epochs = EPOCHS_HYPERPARAMETER.get(pipeline.algorithm)
        if tuning.strategy == "Hyperband" and epochs is not None:
            # Hyperband's resource is the epoch: the jobs it keeps run the whole budget.
            values.setdefault(epochs, str(tuning.hyperband_max_resource))
        values = {name: value for name, value in values.items() if name not in tuning.tuned_names}
    return dict(sorted(values.items()))


def _s3_channel(name: str, uri: Any, content_type: str | None) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri,
                # Every instance gets all the data (DDP shards it itself).
                "S3DataDistributionType": "FullyReplicated",
            }
        },
        "CompressionType": "None",
    }
    if content_type is not None:
        channel["ContentType"] = content_type
    return channel


def input_channels(platform: TrainingPlatform) -> list[dict[str, Any]]:
    """The ``train`` and ``validation`` channels (from the pipeline parameters) and ``code``."""
    channels = [
        _s3_channel(channel, {"Get": f"Parameters.{parameter}"}, "text/csv")
        for parameter, channel in DATA_PARAMETERS.items()
    ]
    code_uri = f"s3://{platform.models_bucket}/{platform.code_archive_key}"
    channels.append(_s3_channel(CODE_CHANNEL, code_uri, "application/x-tar"))
    return channels


def _job_definition(pipeline: TrainingPipelineConfig, platform: TrainingPlatform) -> dict[str, Any]:
    """What a training job and a tuning job's TrainingJobDefinition share."""
    resources: dict[str, Any] = {
        "InstanceType": pipeline.instance_type,
        "InstanceCount": pipeline.instance_count,
        "VolumeSizeInGB": pipeline.volume_size_gb,
    }
    if pipeline.encrypts_volume:
        resources["VolumeKmsKeyId"] = platform.kms_key_arn
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": pipeline.max_runtime_seconds}
    if pipeline.spot.enabled:
        # Includes the time spent waiting for spot capacity, so never below the runtime.
        stopping["MaxWaitTimeInSeconds"] = pipeline.spot.max_wait_seconds
    name = pipeline_name(platform.environment, pipeline)
    definition: dict[str, Any] = {
        "RoleArn": platform.role_arn,
        "InputDataConfig": input_channels(platform),
        "OutputDataConfig": {
            "S3OutputPath": f"s3://{platform.models_bucket}/{output_prefix(name)}",
            "KmsKeyId": platform.kms_key_arn,
        },
        "ResourceConfig": resources,
        "StoppingCondition": stopping,
        "EnableManagedSpotTraining": pipeline.spot.enabled,
        "CheckpointConfig": {
            # One folder per pipeline execution: a rerun never resumes another run's model.
            "S3Uri": execution_folder(
                f"s3://{platform.experiments_bucket}/{checkpoint_prefix(name)}"
            ),
            "LocalPath": CHECKPOINT_LOCAL_PATH,
        },
        "VpcConfig": {
            "SecurityGroupIds": [platform.security_group_id],
            "Subnets": list(platform.subnet_ids),
        },
        "EnableNetworkIsolation": pipeline.network_isolation,
        # Several instances exchange gradients: encrypt that traffic too.
        "EnableInterContainerTrafficEncryption": pipeline.instance_count > 1,
        "RetryStrategy": {"MaximumRetryAttempts": JOB_RETRY_ATTEMPTS},
    }
    if pipeline.track_experiments:
        if platform.tracking_server_arn is None:
            raise ValueError(f"pipeline {name}: tracking needs the tracking server")
        definition["Environment"] = {
            "MLFLOW_TRACKING_URI": platform.tracking_server_arn,
            "MLFLOW_EXPERIMENT_NAME": name,
        }
    return definition


def training_job_request(
    pipeline: TrainingPipelineConfig, platform: TrainingPlatform
) -> dict[str, Any]:
    """The ``CreateTrainingJob`` request of the training step."""
    return {
        # With a name in the step's arguments, SageMaker Pipelines uses it as the prefix of the
        # job names it generates: the pipeline role is scoped to exactly these jobs.
        "TrainingJobName": pipeline_name(platform.environment, pipeline),
        "AlgorithmSpecification": {
            "TrainingImage": platform.image_uri,
            "TrainingInputMode": "File",
            "MetricDefinitions": metric_definitions(pipeline.task),
            "EnableSageMakerMetricsTimeSeries": True,
        },
        "HyperParameters": hyperparameters(pipeline, platform),
        **_job_definition(pipeline, platform),
    }


def _parameter_ranges(
    ranges: Sequence[ParameterRangeConfig],
) -> dict[str, list[dict[str, Any]]]:
    """Ranges grouped by kind as the API takes them; bounds are strings (integers without a dot).

    Kinds without a range are left out.
    """
    grouped: dict[str, list[dict[str, Any]]] = {
        "IntegerParameterRanges": [],
        "ContinuousParameterRanges": [],
        "CategoricalParameterRanges": [],
    }
    for item in ranges:
        if item.type == "categorical":
            grouped["CategoricalParameterRanges"].append(
                {"Name": item.name, "Values": list(item.values)}
            )
            continue
        # The spec requires both bounds of an integer or continuous range.
        assert item.min is not None and item.max is not None
        bounds = (
            (str(int(item.min)), str(int(item.max)))
            if item.type == "integer"
            else (repr(float(item.min)), repr(float(item.max)))
        )
        key = "IntegerParameterRanges" if item.type == "integer" else "ContinuousParameterRanges"
        grouped[key].append(
            {
                "Name": item.name,
                "MinValue": bounds[0],
                "MaxValue": bounds[1],
                "ScalingType": item.scaling,
            }
        )
    return {kind: items for kind, items in grouped.items() if items}


def tuning_job_request(
    pipeline: TrainingPipelineConfig, platform: TrainingPlatform
) -> dict[str, Any]:
    """The ``CreateHyperParameterTuningJob`` request of the tuning step (name left to SageMaker)."""
    tuning = pipeline.tuning
    if tuning is None:
        name = pipeline_name(platform.environment, pipeline)
        raise ValueError(f"pipeline {name}: no tuning configured")
    config: dict[str, Any] = {
        "Strategy": tuning.strategy,
        "HyperParameterTuningJobObjective": {
            "Type": objectives.direction(pipeline.task, tuning.objective),
            "MetricName": tuning.objective,
        },
        "ResourceLimits": {
            "MaxNumberOfTrainingJobs": tuning.max_jobs,
            "MaxParallelTrainingJobs": tuning.max_parallel_jobs,
        },
        "ParameterRanges": _parameter_ranges(tuning.ranges),
    }
    if tuning.strategy == "Hyperband":
        config["StrategyConfig"] = {
            "HyperbandStrategyConfig": {
                "MinResource": tuning.hyperband_min_resource,
                "MaxResource": tuning.hyperband_max_resource,
            }
        }
        # Hyperband stops weak jobs itself; SageMaker refuses any other early stopping with it.
        config["TrainingJobEarlyStoppingType"] = "Off"
    else:
        # Stop jobs whose objective trails the median of the earlier ones at the same epoch.
        config["TrainingJobEarlyStoppingType"] = "Auto"
    return {
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": platform.image_uri,
                "TrainingInputMode": "File",
                "MetricDefinitions": metric_definitions(pipeline.task),
            },
            "StaticHyperParameters": hyperparameters(pipeline, platform),
            **_job_definition(pipeline, platform),
        },
    }


def trained_model(pipeline: TrainingPipelineConfig, platform: TrainingPlatform) -> TrainedModel:
    """The trained model as the steps after training read it.

    After tuning it is the best job's: a tuning step has no artifact property of its own, so
    its URI is ``<S3OutputPath>/<best job>/output/model.tar.gz`` (as the SageMaker SDK's
    ``TuningStep.get_top_model_s3_uri`` builds it).
    """
    name = pipeline_name(platform.environment, pipeline)
    if pipeline.tuning is None:
        return TrainedModel(
            pipeline_name=name,
            model_data={"Get": f"Steps.{TRAINING_STEP}.ModelArtifacts.S3ModelArtifacts"},
            training_job={"Get": f"Steps.{TRAINING_STEP}.TrainingJobName"},
            data_parameters=DATA_PARAMETERS,
        )
    best_job = {"Get": f"Steps.{TUNING_STEP}.BestTrainingJob.TrainingJobName"}
    output = f"s3://{platform.models_bucket}/{output_prefix(name).rstrip('/')}"
    return TrainedModel(
        pipeline_name=name,
        model_data={"Std:Join": {"On": "/", "Values": [output, best_job, "output", MODEL_ARCHIVE]}},
        training_job=best_job,
        data_parameters=DATA_PARAMETERS,
    )


def pipeline_description(pipeline: TrainingPipelineConfig) -> str:
    """What the pipeline does, as the console shows it (``Tunes xgboost for churned ...``)."""
    return (
        f"{'Tunes' if pipeline.tuning is not None else 'Trains'} {pipeline.algorithm} for "
        f"{pipeline.target} ({pipeline.task}) on {pipeline.instance_type} "
        f"x{pipeline.instance_count}"
    )


def pipeline_definition(
    pipeline: TrainingPipelineConfig, platform: TrainingPlatform
) -> dict[str, Any]:
    """The whole pipeline definition document (schema ``2020-12-01``)."""
    defaults = {
        "TrainData": f"s3://{platform.processed_bucket}/{pipeline.train_data}",
        "ValidationData": f"s3://{platform.processed_bucket}/{pipeline.validation_data}",
    }
    if pipeline.evaluation is not None:
        defaults[TEST_PARAMETER] = (
            f"s3://{platform.processed_bucket}/{pipeline.evaluation.test_data}"
        )
    if pipeline.tuning is None:
        step: dict[str, Any] = {
            "Name": TRAINING_STEP,
            "Type": "Training",
            "Arguments": training_job_request(pipeline, platform),
        }
        retried = STEP_RETRY_EXCEPTIONS
    else:
        step = {
            "Name": TUNING_STEP,
            "Type": "Tuning",
            "Arguments": tuning_job_request(pipeline, platform),
        }
        retried = TUNING_RETRY_EXCEPTIONS
    step["RetryPolicies"] = retry_policies(retried)
    later = after_training_steps(
        pipeline,
        platform,
        trained_model(pipeline, platform),
        description=pipeline_description(pipeline),
        retry_policies=retry_policies(STEP_RETRY_EXCEPTIONS),
    )
    return {
        "Version": SCHEMA_VERSION,
        "Metadata": {},
        "Parameters": [
            {"Name": name, "Type": "String", "DefaultValue": value}
            for name, value in defaults.items()
        ],
        "Steps": [step, *later],
    }


def retry_policies(exceptions: Sequence[str]) -> list[dict[str, Any]]:
    """A step's retries of ``exceptions``: 3 attempts, a minute apart and doubling."""
    return [
        {
            "ExceptionType": list(exceptions),
            "IntervalSeconds": 60,
            "BackoffRate": 2.0,
            "MaxAttempts": 3,
        }
    ]
