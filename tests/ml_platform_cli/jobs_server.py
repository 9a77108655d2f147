"""A moto server for the ``jobs`` and ``pipelines`` subprocess tests, and what they put in it.

moto's threaded server runs in the test process, so a test may also change a job's state in the
server's backend (moto creates every job already Completed) while ``ml-platform`` runs as a child.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.ml_platform_cli.aws_server import ROLE_ARN, AwsServer

TRAINING_LOGS = "/aws/sagemaker/TrainingJobs"
PROCESSING_LOGS = "/aws/sagemaker/ProcessingJobs"


@dataclass(frozen=True)
class MotoServer:
    """The session's moto server (emptied for the test) and a child's environment for it."""

    server: AwsServer
    environment: dict[str, str]
    """The environment for ``run_cli``: dummy keys and AWS_ENDPOINT_URL, nothing from ~/.aws."""

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` on the server."""
        return self.server.client(service)

    def sagemaker_backend(self) -> Any:
        """Moto's SageMaker state, which a test may change while the command runs."""
        return self.server.sagemaker_backend()


@pytest.fixture
def moto_server(aws: AwsServer, tmp_path: Path) -> MotoServer:
    """The moto server, emptied for this test, with the child's environment."""
    return MotoServer(aws, aws.environment(tmp_path))


def create_training_job(sagemaker: Any, name: str, *, spot: bool = False) -> None:
    """A training job (moto makes it Completed, with a final metric)."""
    arguments: dict[str, Any] = {}
    if spot:
        arguments = {"EnableManagedSpotTraining": True}
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": "image:1", "TrainingInputMode": "File"},
        RoleArn=ROLE_ARN,
        OutputDataConfig={"S3OutputPath": "s3://models/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        **arguments,
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


def put_logs(logs: Any, group: str, stream: str, messages: list[str]) -> None:
    """``messages`` in ``stream`` of ``group`` (both created when missing), stamped now."""
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[
            {"timestamp": now + index, "message": message} for index, message in enumerate(messages)
        ],
    )


def create_pipeline(sagemaker: Any, name: str, parameters: dict[str, str] | None = None) -> None:
    """A pipeline whose definition declares ``parameters`` (name: default)."""
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
