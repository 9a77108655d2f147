"""Pieces of SageMaker Pipeline definitions that more than one layer's pipelines use.

Plain data (the definition JSON's expressions and processing inputs), no Pulumi.
Schema: https://aws-sagemaker-mlops.github.io/sagemaker-model-building-pipeline-definition-JSON-schema/
"""

from __future__ import annotations

from typing import Any

#: The running execution's id, as a pipeline expression.
EXECUTION_ID = {"Get": "Execution.PipelineExecutionId"}


def execution_folder(base_uri: str, *, trailing_slash: bool = False) -> dict[str, Any]:
    """``<base_uri>/<execution id>`` (with a final ``/`` if asked): one folder per execution.

    So a rerun never reads or overwrites another execution's files.
    """
    values: list[Any] = [base_uri.rstrip("/"), EXECUTION_ID]
    if trailing_slash:
        values.append("")
    return {"Std:Join": {"On": "/", "Values": values}}


def as_text(expression: dict[str, Any]) -> dict[str, Any]:
    """A pipeline value as a string (a command-line argument, a metadata member)."""
    return {"Std:Join": {"On": "", "Values": [expression]}}


def processing_input(
    name: str, uri: Any, local_path: str, *, app_managed: bool | None = None
) -> dict[str, Any]:
    """A processing job's S3 input: every file under ``uri`` copied to ``local_path``.

    ``app_managed`` is written only when given (SageMaker's default is false).
    """
    item: dict[str, Any] = {"InputName": name}
    if app_managed is not None:
        item["AppManaged"] = app_managed
    item["S3Input"] = {
        "S3Uri": uri,
        "LocalPath": local_path,
        "S3DataType": "S3Prefix",
        "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated",
        "S3CompressionType": "None",
    }
    return item
