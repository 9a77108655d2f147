"""Batch transform: run a deployed model over an S3 prefix, encrypted with a KMS key.

pulumi-aws has no TransformJob resource, so batch inference is an operation, not a stack resource.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from workloads.ops.clients import SageMakerClient, sagemaker_client
from workloads.ops.errors import OpsError, aws_errors, error_code, error_message, failed, refuse
from workloads.ops.s3_uri import s3_uri_problem

if TYPE_CHECKING:
    import boto3

SPLIT_TYPES = ("None", "Line", "RecordIO", "TFRecord")
# MaxPayloadInMB is 0-100 (0 means no limit, for streamed payloads); SageMaker's default is 6.
MAX_PAYLOAD_LIMIT_MB = 100
# Job names: 1-63 characters, letters, digits and single or repeated hyphens between them.
_JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_TIMESTAMP_FORMAT = "%Y%m%d-%H%M%S-%f"  # the last 3 digits of %f are cut: milliseconds
_TIMESTAMP_LENGTH = len("20260101-120000-000")


def start_batch_transform(
    model_name: str,
    input_s3_uri: str,
    output_s3_uri: str,
    kms_key_id: str,
    instance_type: str,
    instance_count: int = 1,
    content_type: str = "text/csv",
    split_type: str = "Line",
    accept: str | None = None,
    max_payload_mb: int = 6,
    job_name: str | None = None,
    *,
    client: SageMakerClient | None = None,
    session: boto3.Session | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> str:
    """Start a transform job with ``model_name`` over ``input_s3_uri``; the job's name.

    Output and the instances' storage volumes are encrypted with ``kms_key_id``. ``accept``
    (default: ``content_type``) is the output format; with a ``split_type`` other than ``None``
    records are batched up to ``max_payload_mb`` and output is assembled line by line. The job
    name defaults to ``<model>-<UTC timestamp>``. Refuses (``OpsError``, nothing started)
    non-``s3://`` URIs, an empty KMS key, bad sizes or names, and a model that does not exist.
    The job runs on after this returns; follow it with DescribeTransformJob.
    """
    name = job_name or _default_job_name(model_name, now())
    refuse(
        f"Cannot start batch transform with model '{model_name}'",
        _argument_problems(
            input_s3_uri,
            output_s3_uri,
            kms_key_id,
            instance_count,
            split_type,
            max_payload_mb,
            name,
        ),
    )
    sagemaker = sagemaker_client(client, session)
    _require_model(sagemaker, model_name)
    batched = split_type != "None"
    with aws_errors(f"CreateTransformJob '{name}'"):
        sagemaker.create_transform_job(
            TransformJobName=name,
            ModelName=model_name,
            MaxPayloadInMB=max_payload_mb,
            BatchStrategy="MultiRecord" if batched else "SingleRecord",
            TransformInput={
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_s3_uri}},
                "ContentType": content_type,
                "SplitType": split_type,
            },
            TransformOutput={
                "S3OutputPath": output_s3_uri,
                "Accept": accept or content_type,
                "AssembleWith": "Line" if batched else "None",
                "KmsKeyId": kms_key_id,
            },
            TransformResources={
                "InstanceType": instance_type,
                "InstanceCount": instance_count,
                "VolumeKmsKeyId": kms_key_id,
            },
        )
    return name


def _default_job_name(model_name: str, at: datetime) -> str:
    """``<model name>-<yyyymmdd-hhmmss-mmm>``, the model name cut to keep 63 characters."""
    stamp = at.strftime(_TIMESTAMP_FORMAT)[:_TIMESTAMP_LENGTH]
    prefix = model_name[: 63 - _TIMESTAMP_LENGTH - 1].rstrip("-")
    return f"{prefix}-{stamp}" if prefix else stamp


def _argument_problems(
    input_s3_uri: str,
    output_s3_uri: str,
    kms_key_id: str,
    instance_count: int,
    split_type: str,
    max_payload_mb: int,
    job_name: str,
) -> list[str]:
    """Every reason the arguments cannot make a transform job; empty when they can."""
    problems = [
        problem
        for problem in (
            s3_uri_problem("input", input_s3_uri),
            s3_uri_problem("output", output_s3_uri),
        )
        if problem
    ]
    if not kms_key_id:
        problems.append("a KMS key is required to encrypt the output and the volumes")
    if instance_count < 1:
        problems.append(f"instance_count must be at least 1, got {instance_count}")
    if split_type not in SPLIT_TYPES:
        problems.append(f"split_type must be one of {', '.join(SPLIT_TYPES)}, got {split_type!r}")
    if not 0 <= max_payload_mb <= MAX_PAYLOAD_LIMIT_MB:
        problems.append(
            f"max_payload_mb must be between 0 and {MAX_PAYLOAD_LIMIT_MB}, got {max_payload_mb}"
        )
    if not _JOB_NAME.fullmatch(job_name):
        problems.append(
            f"job name {job_name!r} must be 1-63 letters, digits and hyphens,"
            " starting and ending with a letter or digit"
        )
    return problems


def _require_model(sagemaker: SageMakerClient, model_name: str) -> None:
    """Raise ``OpsError`` unless DescribeModel finds ``model_name``."""
    try:
        sagemaker.describe_model(ModelName=model_name)
    except ClientError as error:
        if error_code(error) == "ValidationException" and "Could not find" in error_message(error):
            raise OpsError(
                f"Cannot start batch transform with model '{model_name}': the model does not exist"
            ) from error
        raise failed(f"DescribeModel '{model_name}'", error) from error
