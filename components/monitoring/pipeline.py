"""The SageMaker Pipeline definition of one endpoint's drift monitor, built as plain Python data.

Three processing steps run our ``workloads/monitoring`` code (``python3 -m workloads.monitoring
<command>``), each in its own job:

1. ``SelectWindow`` lists the endpoint's capture files of the window (``WindowHours`` ending at
   ``WindowEnd``) and stages them with ``window.json`` as its ``window`` output. It calls the S3
   API, so it runs in the platform's VPC without network isolation.
2. ``CheckDrift`` compares that window with the baseline and writes the results (violations,
   summary, metrics, report) as its ``results`` output. Everything it reads arrives as a
   processing input, so it runs **with network isolation**: the step that parses untrusted
   captured traffic can reach nothing.
3. ``PublishMetrics`` sends the check's ``metrics.json`` to CloudWatch (the VPC's ``monitoring``
   endpoint), without isolation.

The code is one zip object that SageMaker downloads (never unpacks) to ``CODE_DIR``; Python imports
from it in place (``PYTHONPATH``). Outputs go under ``s3://<monitoring>/<endpoint>/windows/`` and
``.../reports/`` in a folder per pipeline execution. Every job runs in the platform's subnets and
security group, with the platform key on its volume and its outputs.

Standard library only and deterministic, so the definition is testable as data and shows in the
offline plan as SageMaker receives it.
Schema: https://aws-sagemaker-mlops.github.io/sagemaker-model-building-pipeline-definition-JSON-schema/
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workloads.monitoring import contract

#: The pipeline definition schema version SageMaker accepts.
SCHEMA_VERSION = "2020-12-01"

#: The steps, in the order they run.
SELECT_STEP, CHECK_STEP, PUBLISH_STEP = "SelectWindow", "CheckDrift", "PublishMetrics"

#: Pipeline parameters: the window's end (ISO-8601 or ``now``) and its length in hours.
WINDOW_END, WINDOW_HOURS = "WindowEnd", "WindowHours"

#: Processing outputs, by name.
WINDOW_OUTPUT, RESULTS_OUTPUT = "window", "results"

#: Key prefixes under an endpoint's folder in the monitoring bucket.
BASELINE_PREFIX, WINDOWS_PREFIX, REPORTS_PREFIX = "baseline", "windows", "reports"

#: SageMaker job failures worth retrying a step for: capacity, limits and internal errors.
STEP_RETRY_EXCEPTIONS = (
    "SageMaker.CAPACITY_ERROR",
    "SageMaker.JOB_INTERNAL_ERROR",
    "SageMaker.RESOURCE_LIMIT",
)

#: The module the containers run.
MODULE = "workloads.monitoring"


@dataclass(frozen=True)
class MonitorSpec:
    """What one endpoint's monitor checks and on what compute (from the stack's config)."""

    pipeline_name: str
    """The pipeline's name (``mlp-<env>-<endpoint>-monitor``)."""
    endpoint_name: str
    """The endpoint's full name (``mlp-<env>-<name>``): its capture prefix and metric dimension."""
    window_hours: int
    """Default of ``WindowHours``: hours of traffic one check reads."""
    thresholds: dict[str, float]
    """The check's thresholds by its option name without dashes (``psi``, ``ks_statistic`` ...)."""
    instance_type: str = "ml.m5.large"
    """Processing instance type."""
    volume_size_gb: int = 30
    """Processing volume size."""
    max_runtime_seconds: int = 3600
    """Longest one step may run."""

    def __post_init__(self) -> None:
        missing = sorted(set(THRESHOLD_OPTIONS) - set(self.thresholds))
        unknown = sorted(set(self.thresholds) - set(THRESHOLD_OPTIONS))
        if missing or unknown:
            raise ValueError(
                f"monitor {self.pipeline_name}: thresholds missing {missing}, unknown {unknown}"
            )
        if not 1 <= self.window_hours <= 168:
            raise ValueError(f"monitor {self.pipeline_name}: window_hours must be 1-168")


#: The check's threshold options (``--psi`` ...), in the order they are passed.
THRESHOLD_OPTIONS = (
    "psi",
    "ks_statistic",
    "js_distance",
    "missing_rate_increase",
    "range_violation_rate",
    "type_violation_rate",
    "prediction_psi",
)


@dataclass(frozen=True)
class MonitorPlatform:
    """Resolved values of the resources the jobs use (plain strings, inside an ``apply``)."""

    region: str
    """The stack's region."""
    role_arn: str
    """The monitor's job role."""
    image_uri: str
    """The processing image (with python3, numpy and boto3)."""
    capture_bucket: str
    """Bucket of the endpoints' data capture."""
    monitoring_bucket: str
    """Bucket of baselines, windows and reports."""
    code_key: str
    """Key of the monitoring code zip in the monitoring bucket."""
    kms_key_arn: str
    """The platform key."""
    subnet_ids: Sequence[str]
    """Private subnets the jobs run in."""
    security_group_id: str
    """The workload security group."""


def endpoint_prefix(endpoint_name: str, kind: str) -> str:
    """Key prefix (``<endpoint>/<kind>/``) of an endpoint's baseline, windows or reports."""
    return f"{endpoint_name}/{kind}/"


def capture_uri(platform: MonitorPlatform, endpoint_name: str) -> str:
    """Where SageMaker captures the endpoint's traffic: ``s3://<capture>/<endpoint>/``."""
    return f"s3://{platform.capture_bucket}/{endpoint_name}/"


def per_execution_uri(platform: MonitorPlatform, endpoint_name: str, kind: str) -> dict[str, Any]:
    """``s3://<monitoring>/<endpoint>/<kind>/<execution id>/``: one folder per pipeline run."""
    return {
        "Std:Join": {
            "On": "/",
            "Values": [
                f"s3://{platform.monitoring_bucket}/{endpoint_name}/{kind}",
                {"Get": "Execution.PipelineExecutionId"},
                "",
            ],
        }
    }


def as_text(expression: dict[str, Any]) -> dict[str, Any]:
    """A pipeline value as a string (what an Integer parameter needs in a command line)."""
    return {"Std:Join": {"On": "", "Values": [expression]}}


def _input(name: str, uri: Any, local_path: str) -> dict[str, Any]:
    return {
        "InputName": name,
        "AppManaged": False,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
            "S3CompressionType": "None",
        },
    }


def _output(name: str, uri: Any, local_path: str) -> dict[str, Any]:
    return {
        "OutputName": name,
        "AppManaged": False,
        "S3Output": {"S3Uri": uri, "LocalPath": local_path, "S3UploadMode": "EndOfJob"},
    }


def code_input(platform: MonitorPlatform) -> dict[str, Any]:
    """The code zip: the object's key is the prefix, so it lands as ``CODE_DIR/<file name>``."""
    return _input(
        "code", f"s3://{platform.monitoring_bucket}/{platform.code_key}", contract.CODE_DIR
    )


def processing_request(
    spec: MonitorSpec,
    platform: MonitorPlatform,
    *,
    command: str,
    arguments: list[Any],
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    network_isolation: bool,
) -> dict[str, Any]:
    """The ``CreateProcessingJob`` request of one step (SageMaker Pipelines names the job)."""
    request: dict[str, Any] = {
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": spec.instance_type,
                "VolumeSizeInGB": spec.volume_size_gb,
                "VolumeKmsKeyId": platform.kms_key_arn,
            }
        },
        "AppSpecification": {
            "ImageUri": platform.image_uri,
            "ContainerEntrypoint": ["python3", "-m", MODULE, command],
            "ContainerArguments": arguments,
        },
        "Environment": {
            # Processing inputs are downloaded, never unpacked: Python imports from the zip.
            "PYTHONPATH": f"{contract.CODE_DIR}/{contract.CODE_ARCHIVE}",
            "AWS_DEFAULT_REGION": platform.region,
            "PYTHONUNBUFFERED": "1",
        },
        "ProcessingInputs": [code_input(platform), *inputs],
        "StoppingCondition": {"MaxRuntimeInSeconds": spec.max_runtime_seconds},
        "NetworkConfig": {
            "EnableNetworkIsolation": network_isolation,
            "EnableInterContainerTrafficEncryption": True,
            "VpcConfig": {
                "SecurityGroupIds": [platform.security_group_id],
                "Subnets": list(platform.subnet_ids),
            },
        },
        "RoleArn": platform.role_arn,
    }
    if outputs:
        # A step without outputs (publish) carries no output config: there is nothing to encrypt.
        request["ProcessingOutputConfig"] = {"Outputs": outputs, "KmsKeyId": platform.kms_key_arn}
    return request


def check_arguments(spec: MonitorSpec) -> list[str]:
    """The check's command-line arguments: its folders, then every threshold."""
    arguments = [
        "--endpoint",
        spec.endpoint_name,
        "--baseline",
        contract.BASELINE_DIR,
        "--window",
        contract.WINDOW_DIR,
        "--out",
        contract.RESULTS_OUTPUT_DIR,
    ]
    for option in THRESHOLD_OPTIONS:
        arguments += [f"--{option.replace('_', '-')}", repr(float(spec.thresholds[option]))]
    return arguments


def output_uri(step: str, output: str) -> dict[str, str]:
    """The S3 URI a step's named output was uploaded to (a property of the finished step)."""
    return {"Get": f"Steps.{step}.ProcessingOutputConfig.Outputs['{output}'].S3Output.S3Uri"}


def _step(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "Name": name,
        "Type": "Processing",
        "Arguments": arguments,
        "RetryPolicies": [
            {
                "ExceptionType": list(STEP_RETRY_EXCEPTIONS),
                "IntervalSeconds": 60,
                "BackoffRate": 2.0,
                "MaxAttempts": 3,
            }
        ],
    }


def monitor_steps(spec: MonitorSpec, platform: MonitorPlatform) -> list[dict[str, Any]]:
    """The three steps; the later ones depend on the earlier ones through their outputs."""
    endpoint = spec.endpoint_name
    select = processing_request(
        spec,
        platform,
        command=contract.SELECT_COMMAND,
        arguments=[
            "--capture-uri",
            capture_uri(platform, endpoint),
            "--window-hours",
            as_text({"Get": f"Parameters.{WINDOW_HOURS}"}),
            "--end",
            {"Get": f"Parameters.{WINDOW_END}"},
            "--out",
            contract.WINDOW_OUTPUT_DIR,
        ],
        inputs=[],
        outputs=[
            _output(
                WINDOW_OUTPUT,
                per_execution_uri(platform, endpoint, WINDOWS_PREFIX),
                contract.WINDOW_OUTPUT_DIR,
            )
        ],
        network_isolation=False,  # lists and downloads the capture files itself
    )
    baseline_uri = f"s3://{platform.monitoring_bucket}/{endpoint_prefix(endpoint, BASELINE_PREFIX)}"
    check = processing_request(
        spec,
        platform,
        command=contract.CHECK_COMMAND,
        arguments=check_arguments(spec),
        inputs=[
            _input("baseline", baseline_uri, contract.BASELINE_DIR),
            _input("window", output_uri(SELECT_STEP, WINDOW_OUTPUT), contract.WINDOW_DIR),
        ],
        outputs=[
            _output(
                RESULTS_OUTPUT,
                per_execution_uri(platform, endpoint, REPORTS_PREFIX),
                contract.RESULTS_OUTPUT_DIR,
            )
        ],
        network_isolation=True,  # parses untrusted captured traffic: no network at all
    )
    publish = processing_request(
        spec,
        platform,
        command=contract.PUBLISH_COMMAND,
        arguments=["--results", contract.RESULTS_INPUT_DIR],
        inputs=[
            _input("results", output_uri(CHECK_STEP, RESULTS_OUTPUT), contract.RESULTS_INPUT_DIR)
        ],
        outputs=[],
        network_isolation=False,  # calls CloudWatch PutMetricData
    )
    return [
        _step(SELECT_STEP, select),
        _step(CHECK_STEP, check),
        _step(PUBLISH_STEP, publish),
    ]


def monitor_definition(spec: MonitorSpec, platform: MonitorPlatform) -> dict[str, Any]:
    """The whole pipeline definition document (schema ``2020-12-01``)."""
    return {
        "Version": SCHEMA_VERSION,
        "Metadata": {},
        "Parameters": [
            {"Name": WINDOW_END, "Type": "String", "DefaultValue": "now"},
            {"Name": WINDOW_HOURS, "Type": "Integer", "DefaultValue": spec.window_hours},
        ],
        "Steps": monitor_steps(spec, platform),
    }
