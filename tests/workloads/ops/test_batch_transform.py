"""Starting batch transform jobs in moto."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.workloads.ops.conftest import KMS_KEY, MODEL, create_model
from workloads.ops.batch_transform import start_batch_transform
from workloads.ops.errors import OpsError

INPUT = "s3://scoring-data/input/2026-01-02/"
OUTPUT = "s3://scoring-data/output/2026-01-02/"


def start(sagemaker: Any, **overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "model_name": MODEL,
        "input_s3_uri": INPUT,
        "output_s3_uri": OUTPUT,
        "kms_key_id": KMS_KEY,
        "instance_type": "ml.m5.xlarge",
        "instance_count": 2,
        "client": sagemaker,
        "now": lambda: datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    }
    return start_batch_transform(**{**arguments, **overrides})


def test_a_job_is_started_encrypted_with_the_key(sagemaker: Any) -> None:
    # given a model
    create_model(sagemaker)
    # when
    name = start(sagemaker, accept="application/jsonlines")
    # then
    job = sagemaker.describe_transform_job(TransformJobName=name)
    assert name == "scorer-20260102-030405-678"
    assert job["ModelName"] == MODEL
    assert job["MaxPayloadInMB"] == 6
    assert job["BatchStrategy"] == "MultiRecord"
    assert job["TransformInput"] == {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": INPUT}},
        "ContentType": "text/csv",
        "SplitType": "Line",
    }
    assert job["TransformOutput"] == {
        "S3OutputPath": OUTPUT,
        "Accept": "application/jsonlines",
        "AssembleWith": "Line",
        "KmsKeyId": KMS_KEY,
    }
    assert job["TransformResources"] == {
        "InstanceType": "ml.m5.xlarge",
        "InstanceCount": 2,
        "VolumeKmsKeyId": KMS_KEY,
    }


def test_unsplit_input_is_sent_one_object_at_a_time(sagemaker: Any) -> None:
    # given a model
    create_model(sagemaker)
    # when
    name = start(
        sagemaker, split_type="None", content_type="application/x-image", job_name="images-1"
    )
    # then
    job = sagemaker.describe_transform_job(TransformJobName=name)
    assert name == "images-1"
    assert job["BatchStrategy"] == "SingleRecord"
    assert job["TransformOutput"]["AssembleWith"] == "None"
    assert job["TransformOutput"]["Accept"] == "application/x-image"


def test_a_long_model_name_is_cut_to_fit_the_job_name(sagemaker: Any) -> None:
    # given a model with a 63-character name
    long_name = "m" * 62 + "x"
    create_model(sagemaker, long_name)
    # when
    name = start(sagemaker, model_name=long_name)
    # then
    assert name == "m" * 43 + "-20260102-030405-678"
    assert len(name) == 63


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {
                "input_s3_uri": "/data/input",
                "output_s3_uri": "https://scoring-data.s3.amazonaws.com/out",
            },
            "Cannot start batch transform with model 'scorer': input must be an s3://bucket/key URI, got '/data/input'; "
            "output must be an s3://bucket/key URI, got 'https://scoring-data.s3.amazonaws.com/out'",
        ),
        (
            {"kms_key_id": ""},
            "Cannot start batch transform with model 'scorer': a KMS key is required to encrypt the output and the volumes",
        ),
        (
            {"instance_count": 0, "max_payload_mb": 101, "split_type": "Lines"},
            "Cannot start batch transform with model 'scorer': instance_count must be at least 1, got 0; "
            "split_type must be one of None, Line, RecordIO, TFRecord, got 'Lines'; "
            "max_payload_mb must be between 0 and 100, got 101",
        ),
        (
            {"job_name": "nightly_scoring"},
            "Cannot start batch transform with model 'scorer': job name 'nightly_scoring' must be 1-63 letters, digits and hyphens, starting and ending with a letter or digit",
        ),
    ],
)
def test_bad_arguments_are_refused_and_no_job_starts(
    sagemaker: Any, overrides: dict[str, Any], message: str
) -> None:
    # given a model
    create_model(sagemaker)
    # when / then
    with pytest.raises(OpsError) as refused:
        start(sagemaker, **overrides)
    assert str(refused.value) == message
    assert sagemaker.list_transform_jobs()["TransformJobSummaries"] == []


def test_a_missing_model_is_refused(sagemaker: Any) -> None:
    # given no model (moto alone would accept the job)
    # when / then
    with pytest.raises(OpsError) as refused:
        start(sagemaker)
    assert (
        str(refused.value)
        == "Cannot start batch transform with model 'scorer': the model does not exist"
    )
    assert sagemaker.list_transform_jobs()["TransformJobSummaries"] == []
