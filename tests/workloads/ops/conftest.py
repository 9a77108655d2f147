"""moto fixtures: dummy credentials, a mocked account, and a live two-variant endpoint."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from tests.workloads.dummy_credentials import use_dummy_credentials

REGION = "us-east-1"
ACCOUNT = "123456789012"
ENDPOINT = "serving"
CONFIG = "serving-config-1"
MODEL = "scorer"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/sagemaker-execution"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/scorer:1"
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture(scope="session")
def botocore_loader() -> botocore.loaders.Loader:
    """One botocore data loader for the test run: it caches SageMaker's large service model."""
    return botocore.loaders.create_loader()


@pytest.fixture
def aws(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, botocore_loader: botocore.loaders.Loader
) -> Iterator[None]:
    """Dummy credentials and region in the environment (nothing from ~/.aws) and moto's mock.

    Every botocore session made meanwhile (also the ones the code under test makes) shares one
    data loader, so the service model JSON is parsed once per run instead of once per client.
    """
    monkeypatch.setattr(botocore.session, "create_loader", lambda *_: botocore_loader)
    use_dummy_credentials(monkeypatch, tmp_path, REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    with mock_aws():
        yield


@contextmanager
def stubbed_sagemaker(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[Stubber]:
    """A SageMaker client (dummy credentials) whose every call must be stubbed, in order.

    botocore's Stubber validates each request and response against the service model; stubs
    left unused fail the test.
    """
    use_dummy_credentials(monkeypatch, tmp_path, REGION)
    client = boto3.client("sagemaker", region_name=REGION)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[Stubber]:
    """The stubbed SageMaker client of :func:`stubbed_sagemaker`."""
    with stubbed_sagemaker(monkeypatch, tmp_path) as stubber:
        yield stubber


@pytest.fixture
def sagemaker(aws: None) -> Any:
    """A SageMaker client inside the mock."""
    return boto3.client("sagemaker", region_name=REGION)


def create_model(sagemaker: Any, name: str = MODEL) -> str:
    """A SageMaker model in moto; its name."""
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE_ARN,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://models/scorer/model.tar.gz"},
    )
    return name


def create_endpoint(
    sagemaker: Any, weights: dict[str, float], name: str = ENDPOINT, config: str = CONFIG
) -> str:
    """An endpoint in moto with one variant per weight (all serving the one model); its name."""
    create_model(sagemaker)
    sagemaker.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": MODEL,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": weight,
            }
            for variant, weight in weights.items()
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config)
    return name


@pytest.fixture
def endpoint(sagemaker: Any) -> str:
    """A live endpoint with variants blue (weight 90) and green (the canary, weight 10)."""
    return create_endpoint(sagemaker, {"blue": 90, "green": 10})


def weights_of(sagemaker: Any, endpoint_name: str = ENDPOINT) -> dict[str, float | None]:
    """Each variant's CurrentWeight as moto reports it now."""
    variants = sagemaker.describe_endpoint(EndpointName=endpoint_name)["ProductionVariants"]
    return {variant["VariantName"]: variant.get("CurrentWeight") for variant in variants}


@contextmanager
def endpoint_reports(sagemaker: Any, *states: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    """Overlay the next DescribeEndpoint answers of this client with ``states``, one per call.

    moto puts every endpoint InService at once and never fails an update, so statuses such as
    Updating or Failed (with a FailureReason) are laid over moto's real answer through botocore's
    after-call event; once the states run out, moto's answers come through unchanged. Yields the
    list of states still to come.
    """
    pending = list(states)

    def overlay(parsed: dict[str, Any], **_: Any) -> None:
        if pending:
            parsed.update(pending.pop(0))

    event = "after-call.sagemaker.DescribeEndpoint"
    sagemaker.meta.events.register(event, overlay)
    try:
        yield pending
    finally:
        sagemaker.meta.events.unregister(event, overlay)


class FakeClock:
    """A clock and sleep for WaitPolicy: sleeping advances the clock, nothing really waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


DEV_STACK = Path(__file__).resolve().parents[3] / "Pulumi.dev.yaml"
BLUE_ARTIFACT = "            model_artifact: churn/v1/model.tar.gz\n"
GREEN_ARTIFACT = "            model_artifact: churn/v2/model.tar.gz\n"
GREEN_REGISTERED = "            model: { group: churn, version: 1 }\n"


def dev_stack(tmp_path: Path, blue: str = "model: {group: churn, version: 3}") -> Path:
    """A copy of Pulumi.dev.yaml with ``blue`` in place of blue's model_artifact (churn endpoint).

    Green, which the dev stack deploys from the registry, gets an artifact instead, so exactly one
    variant of the copy deploys a registered version.
    """
    text = DEV_STACK.read_text()
    assert text.count(BLUE_ARTIFACT) == 1 and text.count(GREEN_REGISTERED) == 1
    path = tmp_path / "Pulumi.dev.yaml"
    text = text.replace(GREEN_REGISTERED, GREEN_ARTIFACT)
    path.write_text(text.replace(BLUE_ARTIFACT, f"            {blue}\n"))
    return path


def changed_lines(before: str, after: str) -> list[str]:
    """The removed (-) and added (+) lines from ``before`` to ``after``, in diff order."""
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
