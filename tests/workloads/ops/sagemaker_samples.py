"""SageMaker jobs and pipelines to put in moto, for the operations tests and the CLI's tests.

One copy for both: ``tests/workloads/ops`` calls moto in-process, ``tests/ml_platform_cli`` through
its threaded server; each passes its own client.
"""

from __future__ import annotations

import json
from typing import Any

from tests.workloads.ops.conftest import ROLE_ARN


def create_training_job(sagemaker: Any, name: str, *, spot: bool = False, **extra: Any) -> None:
    """A training job (moto makes it Completed, with a final metric).

    ``spot`` asks for managed spot training; ``extra`` are further CreateTrainingJob arguments.
    """
    if spot:
        extra = {"EnableManagedSpotTraining": True, **extra}
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": "image:1", "TrainingInputMode": "File"},
        RoleArn=ROLE_ARN,
        OutputDataConfig={"S3OutputPath": "s3://models/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        **extra,
    )


def create_processing_job(sagemaker: Any, name: str) -> None:
    """A processing job (moto makes it Completed)."""
    sagemaker.create_processing_job(
        ProcessingJobName=name,
        ProcessingResources={
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 5,
            }
        },
        AppSpecification={"ImageUri": "image:1"},
        RoleArn=ROLE_ARN,
    )


def create_tuning_job(sagemaker: Any, name: str) -> None:
    """A hyperparameter tuning job (moto makes it Completed, with a best training job)."""
    sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig={
            "Strategy": "Bayesian",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2},
        },
        TrainingJobDefinition={
            "AlgorithmSpecification": {"TrainingImage": "image:1", "TrainingInputMode": "File"},
            "RoleArn": ROLE_ARN,
            "OutputDataConfig": {"S3OutputPath": "s3://models/out"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 10,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    )


def create_pipeline(sagemaker: Any, name: str, parameters: dict[str, str] | None = None) -> None:
    """A pipeline with no steps whose definition declares ``parameters`` (name: default)."""
    definition = {
        "Version": "2020-12-01",
        "Parameters": [
            {"Name": key, "Type": "String", "DefaultValue": value}
            for key, value in (parameters or {}).items()
        ],
        "Steps": [],
    }
    sagemaker.create_pipeline(
        PipelineName=name, PipelineDefinition=json.dumps(definition), RoleArn=ROLE_ARN
    )
