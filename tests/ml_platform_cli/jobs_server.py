"""A moto server for the ``jobs`` and ``pipelines`` subprocess tests, and what they put in it.

moto's threaded server runs in the test process, so a test may also change a job's state in the
server's backend (moto creates every job already Completed) while ``ml-platform`` runs as a child.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.workloads.dummy_credentials import environment_without_aws

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/sagemaker-execution"
TRAINING_LOGS = "/aws/sagemaker/TrainingJobs"
PROCESSING_LOGS = "/aws/sagemaker/ProcessingJobs"


@dataclass(frozen=True)
class MotoServer:
    """A running moto server: its URL, the child's environment, clients for the test's side."""

    url: str
    environment: dict[str, str]
    """The environment for ``run_cli``: dummy keys and AWS_ENDPOINT_URL, nothing from ~/.aws."""

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` on the server."""
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def sagemaker_backend(self) -> Any:
        """The SageMaker state in moto for the account and region (the server shares the process)."""
        from moto.sagemaker.models import sagemaker_backends

        return sagemaker_backends[ACCOUNT][REGION]


@pytest.fixture(scope="module")
def running_server() -> Iterator[str]:
    """One moto server per test module on a free local port; its URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_server(running_server: str, tmp_path: Path) -> MotoServer:
    """The module's moto server, emptied for this test."""
    request = urllib.request.Request(f"{running_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    environment = environment_without_aws(tmp_path) | {
        "AWS_ENDPOINT_URL": running_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "NO_COLOR": "1",
    }
    return MotoServer(running_server, environment)


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
