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

from typing import TYPE_CHECKING, Any

from components.shared.pipeline_expressions import as_text, execution_folder, processing_input
from workloads.monitoring import contract

if TYPE_CHECKING:
    # Types only: the definition is built from plain values, so this module stays importable
    # (and testable) without Pulumi.
    from components.monitoring.access import MonitorAccess
    from components.monitoring.spec import MonitoredEndpointConfig, MonitoringConfig

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


def endpoint_prefix(endpoint_name: str, kind: str) -> str:
    """Key prefix (``<endpoint>/<kind>/``) of an endpoint's baseline, windows or reports."""
    return f"{endpoint_name}/{kind}/"


def capture_uri(access: MonitorAccess) -> str:
    """Where SageMaker captures the endpoint's traffic: ``s3://<capture>/<endpoint>/``."""
    return f"s3://{access.capture_bucket}/{access.endpoint_name}/"


def per_execution_uri(access: MonitorAccess, kind: str) -> dict[str, Any]:
    """``s3://<monitoring>/<endpoint>/<kind>/<execution id>/``: one folder per pipeline run."""
    base = f"s3://{access.monitoring_bucket}/{access.endpoint_name}/{kind}"
    return execution_folder(base, trailing_slash=True)


def _input(name: str, uri: Any, local_path: str) -> dict[str, Any]:
    return processing_input(name, uri, local_path, app_managed=False)


def _output(name: str, uri: Any, local_path: str) -> dict[str, Any]:
    return {
        "OutputName": name,
        "AppManaged": False,
        "S3Output": {"S3Uri": uri, "LocalPath": local_path, "S3UploadMode": "EndOfJob"},
    }


def code_input(access: MonitorAccess) -> dict[str, Any]:
    """The code zip: the object's key is the prefix, so it lands as ``CODE_DIR/<file name>``."""
    return _input("code", f"s3://{access.monitoring_bucket}/{access.code_key}", contract.CODE_DIR)


def processing_request(
    monitoring: MonitoringConfig,
    access: MonitorAccess,
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
                "InstanceType": monitoring.instance_type,
                "VolumeSizeInGB": monitoring.volume_size_gb,
                "VolumeKmsKeyId": access.kms_key_arn,
            }
        },
        "AppSpecification": {
            "ImageUri": access.image_uri,
            "ContainerEntrypoint": ["python3", "-m", MODULE, command],
            "ContainerArguments": arguments,
        },
        "Environment": {
            # Processing inputs are downloaded, never unpacked: Python imports from the zip.
            "PYTHONPATH": f"{contract.CODE_DIR}/{contract.CODE_ARCHIVE}",
            "AWS_DEFAULT_REGION": access.region,
            "PYTHONUNBUFFERED": "1",
        },
        "ProcessingInputs": [code_input(access), *inputs],
        "StoppingCondition": {"MaxRuntimeInSeconds": monitoring.max_runtime_seconds},
        "NetworkConfig": {
            "EnableNetworkIsolation": network_isolation,
            "EnableInterContainerTrafficEncryption": True,
            "VpcConfig": {
                "SecurityGroupIds": [access.security_group_id],
                "Subnets": list(access.subnet_ids),
            },
        },
        "RoleArn": access.role_arn,
    }
    if outputs:
        # A step without outputs (publish) carries no output config: there is nothing to encrypt.
        request["ProcessingOutputConfig"] = {"Outputs": outputs, "KmsKeyId": access.kms_key_arn}
    return request


def check_arguments(entry: MonitoredEndpointConfig, endpoint_name: str) -> list[str]:
    """The check's command-line arguments of ``endpoint_name``: folders, then every threshold."""
    arguments = [
        "--endpoint",
        endpoint_name,
        "--baseline",
        contract.BASELINE_DIR,
        "--window",
        contract.WINDOW_DIR,
        "--out",
        contract.RESULTS_OUTPUT_DIR,
    ]
    for option in THRESHOLD_OPTIONS:
        value = getattr(entry.thresholds, option)
        arguments += [f"--{option.replace('_', '-')}", repr(float(value))]
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


def monitor_steps(
    entry: MonitoredEndpointConfig, monitoring: MonitoringConfig, access: MonitorAccess
) -> list[dict[str, Any]]:
    """The three steps; the later ones depend on the earlier ones through their outputs."""
    endpoint = access.endpoint_name
    select = processing_request(
        monitoring,
        access,
        command=contract.SELECT_COMMAND,
        arguments=[
            "--capture-uri",
            capture_uri(access),
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
                per_execution_uri(access, WINDOWS_PREFIX),
                contract.WINDOW_OUTPUT_DIR,
            )
        ],
        network_isolation=False,  # lists and downloads the capture files itself
    )
    baseline_uri = f"s3://{access.monitoring_bucket}/{endpoint_prefix(endpoint, BASELINE_PREFIX)}"
    check = processing_request(
        monitoring,
        access,
        command=contract.CHECK_COMMAND,
        arguments=check_arguments(entry, endpoint),
        inputs=[
            _input("baseline", baseline_uri, contract.BASELINE_DIR),
            _input("window", output_uri(SELECT_STEP, WINDOW_OUTPUT), contract.WINDOW_DIR),
        ],
        outputs=[
            _output(
                RESULTS_OUTPUT,
                per_execution_uri(access, REPORTS_PREFIX),
                contract.RESULTS_OUTPUT_DIR,
            )
        ],
        network_isolation=True,  # parses untrusted captured traffic: no network at all
    )
    publish = processing_request(
        monitoring,
        access,
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


def monitor_definition(
    entry: MonitoredEndpointConfig, monitoring: MonitoringConfig, access: MonitorAccess
) -> dict[str, Any]:
    """The whole pipeline definition document (schema ``2020-12-01``) of ``entry``'s monitor.

    ``monitoring`` is the section ``entry`` belongs to (the jobs' compute); ``access`` the
    resolved buckets, key, network, role and image.
    """
    return {
        "Version": SCHEMA_VERSION,
        "Metadata": {},
        "Parameters": [
            {"Name": WINDOW_END, "Type": "String", "DefaultValue": "now"},
            {"Name": WINDOW_HOURS, "Type": "Integer", "DefaultValue": entry.window_hours},
        ],
        "Steps": monitor_steps(entry, monitoring, access),
    }
