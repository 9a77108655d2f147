"""Where the SageMaker client comes from."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from workloads.ops.clients import sagemaker_client
from workloads.ops.errors import OpsError


def test_a_given_client_is_used_as_is(sagemaker: Any) -> None:
    # given / when / then
    assert sagemaker_client(sagemaker) is sagemaker


def test_a_client_and_a_session_together_are_refused(sagemaker: Any) -> None:
    # given / when / then
    with pytest.raises(ValueError, match=r"^pass either client or session, not both$"):
        sagemaker_client(sagemaker, boto3.Session())


def test_a_session_builds_a_client_in_its_region(aws: None) -> None:
    # given / when
    client = sagemaker_client(session=boto3.Session(region_name="eu-west-1"))
    # then
    assert client.meta.region_name == "eu-west-1"


def test_no_region_is_a_clear_error(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # given no region anywhere
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION")
    # when / then
    with pytest.raises(OpsError) as refused:
        sagemaker_client()
    assert str(refused.value) == (
        "Creating the SageMaker client failed: no AWS region configured; set AWS_DEFAULT_REGION or pass --region"
    )
