"""The steps after training: evaluate the model, check the thresholds, register it or fail.

A pipeline with ``registry`` registers the model its ``Train`` step trained (or the best job of
its ``Tune`` step) into its model package group. With ``evaluation`` it first evaluates it::

    Train | Tune -> Evaluate -> CheckThresholds --true--> Register
                                               --false-> ThresholdsNotMet (Fail)

* ``Evaluate`` (``Processing``, a ``CreateProcessingJob`` request) runs
  ``python -m workloads.training.evaluate`` from the training code archive in the pipeline's
  training image, on the model and the test channel (pipeline parameter ``TestData``), in the
  VPC with the platform key and network isolation (unless a bound compares with the approved
  version, which it then reads from the registry); it writes ``evaluation.json`` under
  ``evaluation/<pipeline>/<execution id>/`` of the models bucket. The file is the step's
  PropertyFile ``EvaluationReport``;
* ``CheckThresholds`` (``Condition``) holds when every configured bound holds: ``min`` as
  ``GreaterThanOrEqualTo``, ``max`` as ``LessThanOrEqualTo`` over ``metrics.<name>`` of the report,
  ``max_regression`` as ``LessThanOrEqualTo`` over ``regression.<name>`` (how much worse than the
  group's newest approved version: the evaluation then reads the registry, without isolation);
* ``Register`` (``RegisterModel``, a ``CreateModelPackage`` request) adds the version:
  ``Approved`` with ``registry.auto_approve``, else ``PendingManualApproval``; the serving image of
  the model's framework, its artifact, the report as its model quality statistics, where it came
  from (training job, data, code archive digest, framework) as customer metadata, and a draft
  model card with its intended use and test metrics;
* ``ThresholdsNotMet`` (``Fail``) ends the execution with every bounded metric's value and bound.

Plain data in and out, as :mod:`components.training.pipeline_definition`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from components.shared.pipeline_expressions import as_text, execution_folder, processing_input
from components.shared.spec_rules import platform_name
from components.training.spec import ThresholdConfig, TrainingPipelineConfig
from workloads.training import evaluate, objectives

if TYPE_CHECKING:
    from components.training.pipeline_definition import TrainingPlatform

#: The steps' names.
EVALUATION_STEP, CONDITION_STEP, REGISTER_STEP, FAIL_STEP = (
    "Evaluate",
    "CheckThresholds",
    "Register",
    "ThresholdsNotMet",
)

#: The pipeline parameter of the test channel (an S3 URI; default from the config).
TEST_PARAMETER = "TestData"

#: The evaluation step's PropertyFile (``evaluation.json``) and the output that holds it.
PROPERTY_FILE, EVALUATION_OUTPUT = "EvaluationReport", "evaluation"

#: Key prefix of every pipeline's evaluation reports in the models bucket.
EVALUATIONS_PREFIX = "evaluation/"

#: Where the evaluation job gets the training code archive (processing inputs are not unpacked).
CODE_INPUT = f"{evaluate.PROCESSING_ROOT}/input/code"

#: What the registered model's containers take and answer (workloads/inference/codecs.py).
CONTENT_TYPES = ("text/csv", "application/json")

#: ``ModelPackageContainerDefinition.Framework`` by our framework name.
PACKAGE_FRAMEWORKS = {"sklearn": "SKLEARN", "xgboost": "XGBOOST", "pytorch": "PYTORCH"}

#: A condition type per bound, and the report section each one reads.
BOUND_CONDITIONS = {
    "min": "GreaterThanOrEqualTo",
    "max": "LessThanOrEqualTo",
    "max_regression": "LessThanOrEqualTo",
}
BOUND_SECTIONS = {
    "min": evaluate.METRICS_SECTION,
    "max": evaluate.METRICS_SECTION,
    "max_regression": evaluate.REGRESSIONS_SECTION,
}
_BOUND_TEXT = {
    "min": ("{metric} = ", " (needs >= {value:g});"),
    "max": ("{metric} = ", " (needs <= {value:g});"),
    "max_regression": (
        "{metric} worse than the approved version by ",
        " (allowed {value:g});",
    ),
}


@dataclass(frozen=True)
class TrainedModel:
    """What the steps after training read of it: pipeline expressions the definition builds."""

    pipeline_name: str
    """The pipeline's name (``mlp-<env>-<name>``): prefixes its jobs and report folders."""
    model_data: Any
    """The ``s3://`` URI of the trained model's ``model.tar.gz`` (an expression)."""
    training_job: Any
    """The name of the job that trained it (an expression)."""
    data_parameters: Mapping[str, str]
    """The pipeline's data parameters and the channel each feeds (``TrainData`` -> ``train``)."""


def evaluations_prefix(pipeline_name: str) -> str:
    """Key prefix of a pipeline's evaluation reports in the models bucket."""
    return f"{EVALUATIONS_PREFIX}{pipeline_name}/"


def model_group_name(environment: str, pipeline: TrainingPipelineConfig) -> str:
    """The model package group the pipeline registers into (``mlp-<env>-<group>``)."""
    group = pipeline.model_group
    if group is None:
        raise ValueError(f"pipeline {pipeline.name}: no registry configured")
    return platform_name(environment, group)


def approval_status(pipeline: TrainingPipelineConfig) -> str:
    """``Approved`` when the registry auto-approves, else ``PendingManualApproval``."""
    registry = pipeline.registry
    return "Approved" if registry is not None and registry.auto_approve else "PendingManualApproval"


def evaluation_location(pipeline_name: str, platform: TrainingPlatform) -> dict[str, Any]:
    """Where an execution's ``evaluation.json`` goes: one folder per execution."""
    return execution_folder(f"s3://{platform.models_bucket}/{evaluations_prefix(pipeline_name)}")


def report_uri(pipeline_name: str, platform: TrainingPlatform) -> dict[str, Any]:
    """The ``s3://`` URI of an execution's ``evaluation.json``."""
    folder = evaluation_location(pipeline_name, platform)["Std:Join"]
    return {"Std:Join": {"On": "/", "Values": [*folder["Values"], evaluate.EVALUATION_FILE]}}


def report_value(path: str) -> dict[str, Any]:
    """A value of the evaluation report (``metrics.valid_auc``), read from its PropertyFile."""
    return {
        "Std:JsonGet": {
            "PropertyFile": {"Get": f"Steps.{EVALUATION_STEP}.PropertyFiles.{PROPERTY_FILE}"},
            "Path": path,
        }
    }


def report_text(path: str) -> dict[str, Any]:
    """A value of the evaluation report as text (a metadata member takes only strings)."""
    return as_text(report_value(path))


def evaluation_command(code_archive_key: str, baseline_group: str | None = None) -> list[str]:
    """The container's entrypoint: unpack our code archive, then run the evaluation module."""
    archive = f"{CODE_INPUT}/{code_archive_key.rsplit('/', 1)[-1]}"
    script = (
        f"mkdir -p /tmp/code && tar -xzf {archive} -C /tmp/code && cd /tmp/code && "
        "exec python3 -m workloads.training.evaluate"
    )
    if baseline_group is not None:
        script += f" --baseline-group {baseline_group}"
    return ["/bin/sh", "-c", script]


def evaluation_job_request(
    pipeline: TrainingPipelineConfig, platform: TrainingPlatform, trained: TrainedModel
) -> dict[str, Any]:
    """The ``CreateProcessingJob`` request of the evaluation step."""
    evaluation = pipeline.evaluation
    name = trained.pipeline_name
    if evaluation is None:
        raise ValueError(f"pipeline {name}: no evaluation configured")
    cluster: dict[str, Any] = {
        "InstanceCount": 1,
        "InstanceType": evaluation.instance_type,
        "VolumeSizeInGB": evaluation.volume_size_gb,
    }
    if evaluation.encrypts_volume:
        cluster["VolumeKmsKeyId"] = platform.kms_key_arn
    code_uri = f"s3://{platform.models_bucket}/{platform.code_archive_key}"
    compares = evaluation.compares_with_approved
    baseline = model_group_name(platform.environment, pipeline) if compares else None
    request: dict[str, Any] = {
        # The prefix SageMaker Pipelines names the jobs with (the role allows exactly these).
        "ProcessingJobName": name,
        "RoleArn": platform.role_arn,
        "AppSpecification": {
            "ImageUri": platform.image_uri,
            "ContainerEntrypoint": evaluation_command(platform.code_archive_key, baseline),
        },
        "ProcessingInputs": [
            processing_input("model", trained.model_data, evaluate.MODEL_INPUT),
            processing_input("test", {"Get": f"Parameters.{TEST_PARAMETER}"}, evaluate.TEST_INPUT),
            processing_input("code", code_uri, CODE_INPUT),
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": EVALUATION_OUTPUT,
                    "S3Output": {
                        "S3Uri": evaluation_location(name, platform),
                        "LocalPath": evaluate.EVALUATION_OUTPUT,
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ],
            "KmsKeyId": platform.kms_key_arn,
        },
        "ProcessingResources": {"ClusterConfig": cluster},
        "StoppingCondition": {"MaxRuntimeInSeconds": evaluation.max_runtime_seconds},
        "NetworkConfig": {
            # Everything it reads SageMaker downloads before it starts: no network at all,
            # unless it reads the approved version from the registry (through the VPC's
            # endpoints).
            "EnableNetworkIsolation": not compares,
            "EnableInterContainerTrafficEncryption": False,
            "VpcConfig": {
                "SecurityGroupIds": [platform.security_group_id],
                "Subnets": list(platform.subnet_ids),
            },
        },
    }
    if compares:
        request["Environment"] = {"AWS_DEFAULT_REGION": platform.region}
    return request


def bounds(pipeline: TrainingPipelineConfig) -> list[tuple[str, str, float]]:
    """Each configured bound as ``(metric, "min" | "max" | "max_regression", value)``."""
    if pipeline.evaluation is None:
        return []
    found = []
    for metric, threshold in pipeline.evaluation.thresholds.items():
        for bound in BOUND_CONDITIONS:
            value = getattr(threshold, bound)
            if value is not None:
                found.append((metric, bound, float(value)))
    return found


def describe_threshold(metric: str, threshold: ThresholdConfig) -> str:
    """``valid_auc >= 0.8``, ``0.1 <= valid_loss <= 0.5``, ``... at most 0.02 worse ...``."""
    parts = []
    if threshold.min is not None and threshold.max is not None:
        parts.append(f"{threshold.min:g} <= {metric} <= {threshold.max:g}")
    elif threshold.min is not None:
        parts.append(f"{metric} >= {threshold.min:g}")
    elif threshold.max is not None:
        parts.append(f"{metric} <= {threshold.max:g}")
    if threshold.max_regression is not None:
        parts.append(
            f"{metric} at most {threshold.max_regression:g} worse than the approved version"
        )
    return "; ".join(parts)


def conditions(pipeline: TrainingPipelineConfig) -> list[dict[str, Any]]:
    """The condition step's conditions: one per bound, over the report's flat metrics."""
    return [
        {
            "Type": BOUND_CONDITIONS[bound],
            "LeftValue": report_value(f"{BOUND_SECTIONS[bound]}.{metric}"),
            "RightValue": value,
        }
        for metric, bound, value in bounds(pipeline)
    ]


def failure_message(pipeline: TrainingPipelineConfig) -> dict[str, Any]:
    """The Fail step's message: every bounded metric's test value beside its bound."""
    values: list[Any] = ["The model missed its thresholds on the test data (all must hold):"]
    for metric, bound, value in bounds(pipeline):
        before, after = _BOUND_TEXT[bound]
        values += [
            " " + before.format(metric=metric),
            report_value(f"{BOUND_SECTIONS[bound]}.{metric}"),
            after.format(value=value),
        ]
    return {"Std:Join": {"On": "", "Values": values}}


def _json_with_values(document: Any, values: dict[str, Any]) -> Any:
    """``document`` as JSON text where each string ``values`` names is a pipeline value.

    A key of ``values`` stands in the document as a placeholder string; numbers replace it with
    its quotes (``"value": 0.91``), strings inside them. Without placeholders: the plain text.
    """
    text = json.dumps(document, sort_keys=True)
    parts: list[Any] = [text]
    for placeholder, (value, numeric) in values.items():
        quoted = json.dumps(placeholder)
        split: list[Any] = []
        for part in parts:
            if not isinstance(part, str) or quoted not in part:
                split.append(part)
                continue
            pieces = part.split(quoted)
            for index, piece in enumerate(pieces):
                if index:
                    split += [value] if numeric else ['"', value, '"']
                split.append(piece)
        parts = split
    parts = [part for part in parts if part != ""]
    if len(parts) == 1 and isinstance(parts[0], str):
        return parts[0]
    return {"Std:Join": {"On": "", "Values": parts}}


def model_card(pipeline: TrainingPipelineConfig, description: str) -> dict[str, Any]:
    """A draft model card: its intended use and, after an evaluation, its test metrics."""
    registry = pipeline.registry
    purpose = (registry.description if registry is not None else None) or description
    content: dict[str, Any] = {
        "intended_uses": {
            "purpose_of_model": purpose,
            "intended_uses": (
                f"Predicts {pipeline.target} ({pipeline.task}) from tabular features, served "
                "behind the platform's endpoints after a person approves the version."
            ),
            "risk_rating": "Unknown",
        }
    }
    values: dict[str, Any] = {}
    if pipeline.evaluation is not None:
        metrics = objectives.evaluated_metrics(pipeline.task)
        thresholds = "; ".join(
            describe_threshold(metric, threshold)
            for metric, threshold in pipeline.evaluation.thresholds.items()
        )
        content["evaluation_details"] = [
            {
                "name": "held-out test data",
                "evaluation_observation": f"Registered only when {thresholds}.",
                "datasets": ["@test_data"],
                "metric_groups": [
                    {
                        "name": "test",
                        "metric_data": [
                            {"name": metric, "type": "number", "value": f"@{metric}"}
                            for metric in metrics
                        ],
                    }
                ],
            }
        ]
        values["@test_data"] = ({"Get": f"Parameters.{TEST_PARAMETER}"}, False)
        for metric in metrics:
            values[f"@{metric}"] = (report_value(f"{evaluate.METRICS_SECTION}.{metric}"), True)
    return {
        "ModelCardContent": _json_with_values(content, values),
        "ModelCardStatus": "Draft",
    }


def serving_framework(pipeline: TrainingPipelineConfig) -> str:
    """The framework the registered model is served with (the spec refuses automl here)."""
    return pipeline.framework or pipeline.algorithm


def customer_metadata(
    pipeline: TrainingPipelineConfig, platform: TrainingPlatform, trained: TrainedModel
) -> dict[str, Any]:
    """Where the version came from: job, data, code, framework and the image it needs."""
    name = trained.pipeline_name
    properties: dict[str, Any] = {
        "pipeline": name,
        "pipeline_execution": {"Get": "Execution.PipelineExecutionArn"},
        "training_job": trained.training_job,
        **{
            f"{channel}_data": {"Get": f"Parameters.{parameter}"}
            for parameter, channel in trained.data_parameters.items()
        },
        "code_archive": f"s3://{platform.models_bucket}/{platform.code_archive_key}",
        "framework": serving_framework(pipeline),
        "serving_image": platform.serving_image_uri,
    }
    if platform.code_archive_sha256:
        properties["code_archive_sha256"] = platform.code_archive_sha256
    if pipeline.evaluation is not None:
        properties["test_data"] = {"Get": f"Parameters.{TEST_PARAMETER}"}
        # What the model's metadata.json says trained it (the evaluation read it).
        properties["framework_version"] = report_text("model.framework_version")
        # The model directory's digest, which the trainer also tags its MLflow run with
        # (ml_platform.model_sha256): the MLflow model and this version hold the same files.
        properties["model_sha256"] = report_text("model.sha256")
        properties["evaluation"] = report_uri(name, platform)
    return dict(sorted(properties.items()))


def register_request(
    pipeline: TrainingPipelineConfig,
    platform: TrainingPlatform,
    trained: TrainedModel,
    description: str,
) -> dict[str, Any]:
    """The ``CreateModelPackage`` request of the register step."""
    if platform.serving_image_uri is None:
        raise ValueError(f"pipeline {pipeline.name}: registering needs the serving image")
    framework = serving_framework(pipeline)
    request: dict[str, Any] = {
        "ModelPackageGroupName": model_group_name(platform.environment, pipeline),
        "ModelPackageDescription": description,
        "ModelApprovalStatus": approval_status(pipeline),
        "Domain": "MACHINE_LEARNING",
        "Task": pipeline.task.upper(),
        "InferenceSpecification": {
            "Containers": [
                {
                    "Image": platform.serving_image_uri,
                    "ModelDataUrl": trained.model_data,
                    "Framework": PACKAGE_FRAMEWORKS[framework],
                }
            ],
            "SupportedContentTypes": list(CONTENT_TYPES),
            "SupportedResponseMIMETypes": list(CONTENT_TYPES),
        },
        "CustomerMetadataProperties": customer_metadata(pipeline, platform, trained),
        "ModelCard": model_card(pipeline, description),
    }
    if pipeline.evaluation is not None:
        request["ModelMetrics"] = {
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": report_uri(trained.pipeline_name, platform),
                }
            }
        }
    return request


def after_training_steps(
    pipeline: TrainingPipelineConfig,
    platform: TrainingPlatform,
    trained: TrainedModel,
    *,
    description: str,
    retry_policies: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The steps after ``Train``/``Tune``: none, ``Register``, or the evaluated chain."""
    if pipeline.registry is None:
        return []
    register = {
        "Name": REGISTER_STEP,
        "Type": "RegisterModel",
        "Arguments": register_request(pipeline, platform, trained, description),
    }
    if pipeline.evaluation is None:
        return [register]
    evaluation = {
        "Name": EVALUATION_STEP,
        "Type": "Processing",
        "Arguments": evaluation_job_request(pipeline, platform, trained),
        "PropertyFiles": [
            {
                "PropertyFileName": PROPERTY_FILE,
                "OutputName": EVALUATION_OUTPUT,
                "FilePath": evaluate.EVALUATION_FILE,
            }
        ],
        "RetryPolicies": retry_policies,
    }
    fail = {
        "Name": FAIL_STEP,
        "Type": "Fail",
        "Arguments": {"ErrorMessage": failure_message(pipeline)},
    }
    condition = {
        "Name": CONDITION_STEP,
        "Type": "Condition",
        "Arguments": {
            "Conditions": conditions(pipeline),
            "IfSteps": [register],
            "ElseSteps": [fail],
        },
    }
    return [evaluation, condition]
