"""moto's server for the CLI's subprocess tests: the child process reaches it by AWS_ENDPOINT_URL.

One server per test session on a free port of 127.0.0.1; its state is reset before each test
that uses it. The child's environment has dummy credentials and nothing from ~/.aws.
"""

from __future__ import annotations

import os
import shutil
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.workloads.dummy_credentials import environment_without_aws

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/sagemaker-execution"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/serving:1"
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class AwsServer:
    """A running moto server and how to reach it."""

    url: str
    """``http://127.0.0.1:<port>``."""

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` on the server (dummy credentials, us-east-1)."""
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def environment(self, tmp_path: Path, *, region: str | None = None) -> dict[str, str]:
        """A child's environment: this one's without AWS settings, plus the server and keys."""
        environment = environment_without_aws(tmp_path) | {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "NO_COLOR": "1",
            "PYTHONPATH": str(ROOT),
        }
        if region is not None:
            # botocore reads AWS_DEFAULT_REGION (not AWS_REGION); both are set, as on a build host.
            environment["AWS_REGION"] = environment["AWS_DEFAULT_REGION"] = region
        environment.pop("MLFLOW_TRACKING_URI", None)
        return environment

    def sagemaker_backend(self) -> Any:
        """The SageMaker state in moto for the account and region.

        The server shares this process, so a test can move a job's state while ``ml-platform``
        runs as a child.
        """
        from moto.sagemaker.models import sagemaker_backends

        return sagemaker_backends[ACCOUNT][REGION]

    def reset(self) -> None:
        """Forget every resource (moto's reset API)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def queue_invocation_results(self, *results: dict[str, str]) -> None:
        """The answers InvokeEndpoint gives next (moto returns them in order)."""
        import json

        body = json.dumps({"account_id": ACCOUNT, "region": REGION, "results": list(results)})
        request = urllib.request.Request(
            f"{self.url}/moto-api/static/sagemaker/endpoint-results",
            data=body.encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10):
            pass


@pytest.fixture(scope="session")
def moto_session() -> Iterator[AwsServer]:
    """The moto threaded server on a free port of 127.0.0.1, for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield AwsServer(f"http://{host}:{port}")
    finally:
        server.stop()


@pytest.fixture
def aws(moto_session: AwsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AwsServer:
    """The server, emptied for this test; this process's own boto3 calls go nowhere else."""
    for name in [key for key in os.environ if key.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    moto_session.reset()
    return moto_session


def dev_stack(directory: Path) -> Path:
    """A copy of the project's Pulumi.dev.yaml in ``directory`` (environment dev, us-east-1)."""
    path = directory / "Pulumi.dev.yaml"
    shutil.copyfile(ROOT / "Pulumi.dev.yaml", path)
    return path


def create_endpoint(
    sagemaker: Any,
    name: str,
    weights: dict[str, float],
    *,
    package_arn: str | None = None,
) -> None:
    """An InService endpoint with one variant per weight, each on its own model.

    The first variant's model is built from ``package_arn`` when given (a registered version),
    the others from a model.tar.gz.
    """
    variants = []
    for index, (variant, weight) in enumerate(weights.items()):
        model = f"{name}-{variant}"
        container: dict[str, Any] = {
            "Image": IMAGE,
            "ModelDataUrl": f"s3://models/{variant}/model.tar.gz",
        }
        if package_arn is not None and index == 0:
            container = {"ModelPackageName": package_arn}
        sagemaker.create_model(
            ModelName=model, ExecutionRoleArn=ROLE_ARN, PrimaryContainer=container
        )
        variants.append(
            {
                "VariantName": variant,
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": weight,
            }
        )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config-1", ProductionVariants=variants
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config-1")
