"""The monitor's pipeline definition as data: three processing steps, wired by their outputs.

given a monitored endpoint's spec, its section and resolved platform values / when the definition
is built / then the steps
run our commands with the agreed arguments, only the check is network-isolated, every step runs
in the VPC with the platform key, and outputs land in a folder per execution.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.monitoring.access import MonitorAccess
from components.monitoring.pipeline import (
    CHECK_STEP,
    PUBLISH_STEP,
    SCHEMA_VERSION,
    SELECT_STEP,
    THRESHOLD_OPTIONS,
    monitor_definition,
)
from components.monitoring.spec import DriftThresholds, MonitoredEndpointConfig, MonitoringConfig
from workloads.monitoring import contract

KEY = "arn:aws:kms:us-east-1:123456789012:key/abc"
THRESHOLDS = {
    "psi": 0.2,
    "ks_statistic": 0.1,
    "js_distance": 0.1,
    "missing_rate_increase": 0.05,
    "range_violation_rate": 0.01,
    "type_violation_rate": 0.01,
    "prediction_psi": 0.25,
}
ENTRY = MonitoredEndpointConfig.model_validate(
    {
        "endpoint": "churn",
        "baseline": "baselines/churn",
        "window_hours": 24,
        "thresholds": THRESHOLDS,
    }
)
SECTION = MonitoringConfig.model_validate(
    {
        "instance_type": "ml.m5.large",
        "volume_size_gb": 30,
        "max_runtime_seconds": 1800,
    }
)
PLATFORM = MonitorAccess(
    partition="aws",
    region="us-east-1",
    account_id="123456789012",
    endpoint_name=ENTRY.endpoint_name("dev"),
    capture_bucket="capture-bucket",
    monitoring_bucket="monitoring-bucket",
    code_key="code/0123456789abcdef/monitoring-code.zip",
    kms_key_arn=KEY,
    vpc_id="vpc-1",
    subnet_ids=["subnet-a", "subnet-b"],
    security_group_id="sg-1",
    role_arn="arn:aws:iam::123456789012:role/job",
    image_uri="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3",
    image_repository_arns=["arn:aws:ecr:us-east-1:683313688378:repository/sagemaker-scikit-learn"],
)
EXECUTION = {"Get": "Execution.PipelineExecutionId"}


@pytest.fixture
def steps() -> dict[str, dict[str, Any]]:
    definition = monitor_definition(ENTRY, SECTION, PLATFORM)
    return {step["Name"]: step for step in definition["Steps"]}


def command_line(step: dict[str, Any]) -> list[Any]:
    app = step["Arguments"]["AppSpecification"]
    return [*app["ContainerEntrypoint"], *app["ContainerArguments"]]


def test_definition_has_the_window_parameters_and_three_steps_in_order() -> None:
    definition = monitor_definition(ENTRY, SECTION, PLATFORM)
    assert definition["Version"] == SCHEMA_VERSION
    assert definition["Parameters"] == [
        {"Name": "WindowEnd", "Type": "String", "DefaultValue": "now"},
        {"Name": "WindowHours", "Type": "Integer", "DefaultValue": 24},
    ]
    assert [(s["Name"], s["Type"]) for s in definition["Steps"]] == [
        (SELECT_STEP, "Processing"),
        (CHECK_STEP, "Processing"),
        (PUBLISH_STEP, "Processing"),
    ]
    # and the document is JSON as SageMaker receives it
    assert json.loads(json.dumps(definition)) == definition


def test_select_window_reads_the_endpoints_capture_prefix_for_the_parameters(
    steps: dict[str, dict[str, Any]],
) -> None:
    step = steps[SELECT_STEP]
    assert command_line(step) == [
        "python3",
        "-m",
        "workloads.monitoring",
        contract.SELECT_COMMAND,
        "--capture-uri",
        "s3://capture-bucket/mlp-dev-churn/",
        "--window-hours",
        {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.WindowHours"}]}},
        "--end",
        {"Get": "Parameters.WindowEnd"},
        "--out",
        contract.WINDOW_OUTPUT_DIR,
    ]
    (output,) = step["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    assert output["OutputName"] == "window"
    assert output["S3Output"]["LocalPath"] == contract.WINDOW_OUTPUT_DIR
    assert output["S3Output"]["S3Uri"] == {
        "Std:Join": {
            "On": "/",
            "Values": ["s3://monitoring-bucket/mlp-dev-churn/windows", EXECUTION, ""],
        }
    }


def test_check_reads_the_baseline_and_the_selected_window_with_the_thresholds(
    steps: dict[str, dict[str, Any]],
) -> None:
    step = steps[CHECK_STEP]
    arguments = step["Arguments"]
    assert command_line(step) == [
        "python3",
        "-m",
        "workloads.monitoring",
        contract.CHECK_COMMAND,
        "--endpoint",
        "mlp-dev-churn",
        "--baseline",
        contract.BASELINE_DIR,
        "--window",
        contract.WINDOW_DIR,
        "--out",
        contract.RESULTS_OUTPUT_DIR,
        "--psi",
        "0.2",
        "--ks-statistic",
        "0.1",
        "--js-distance",
        "0.1",
        "--missing-rate-increase",
        "0.05",
        "--range-violation-rate",
        "0.01",
        "--type-violation-rate",
        "0.01",
        "--prediction-psi",
        "0.25",
    ]
    inputs = {item["InputName"]: item["S3Input"] for item in arguments["ProcessingInputs"]}
    assert inputs["baseline"]["S3Uri"] == "s3://monitoring-bucket/mlp-dev-churn/baseline/"
    assert inputs["baseline"]["LocalPath"] == contract.BASELINE_DIR
    assert inputs["window"]["S3Uri"] == {
        "Get": "Steps.SelectWindow.ProcessingOutputConfig.Outputs['window'].S3Output.S3Uri"
    }
    assert inputs["window"]["LocalPath"] == contract.WINDOW_DIR
    (output,) = arguments["ProcessingOutputConfig"]["Outputs"]
    assert output["OutputName"] == "results"
    assert output["S3Output"]["S3Uri"]["Std:Join"]["Values"] == [
        "s3://monitoring-bucket/mlp-dev-churn/reports",
        EXECUTION,
        "",
    ]


def test_publish_reads_the_checks_results(steps: dict[str, dict[str, Any]]) -> None:
    step = steps[PUBLISH_STEP]
    assert command_line(step) == [
        "python3",
        "-m",
        "workloads.monitoring",
        contract.PUBLISH_COMMAND,
        "--results",
        contract.RESULTS_INPUT_DIR,
    ]
    inputs = {item["InputName"]: item["S3Input"] for item in step["Arguments"]["ProcessingInputs"]}
    assert inputs["results"]["S3Uri"] == {
        "Get": "Steps.CheckDrift.ProcessingOutputConfig.Outputs['results'].S3Output.S3Uri"
    }
    assert inputs["results"]["LocalPath"] == contract.RESULTS_INPUT_DIR
    # it writes nothing to S3, so it carries no output config
    assert "ProcessingOutputConfig" not in step["Arguments"]
    # and CloudWatch is called in the stack's region
    assert step["Arguments"]["Environment"]["AWS_DEFAULT_REGION"] == "us-east-1"


def test_only_the_check_is_network_isolated(steps: dict[str, dict[str, Any]]) -> None:
    isolation = {
        name: step["Arguments"]["NetworkConfig"]["EnableNetworkIsolation"]
        for name, step in steps.items()
    }
    assert isolation == {SELECT_STEP: False, CHECK_STEP: True, PUBLISH_STEP: False}


def test_every_step_runs_in_the_vpc_with_the_platform_key_and_a_time_limit(
    steps: dict[str, dict[str, Any]],
) -> None:
    for step in steps.values():
        arguments = step["Arguments"]
        assert arguments["NetworkConfig"]["VpcConfig"] == {
            "SecurityGroupIds": ["sg-1"],
            "Subnets": ["subnet-a", "subnet-b"],
        }
        assert arguments["NetworkConfig"]["EnableInterContainerTrafficEncryption"] is True
        assert arguments["ProcessingResources"]["ClusterConfig"] == {
            "InstanceCount": 1,
            "InstanceType": "ml.m5.large",
            "VolumeSizeInGB": 30,
            "VolumeKmsKeyId": KEY,
        }
        if "ProcessingOutputConfig" in arguments:
            assert arguments["ProcessingOutputConfig"]["KmsKeyId"] == KEY
        assert arguments["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800}
        assert arguments["RoleArn"] == PLATFORM.role_arn
        assert arguments["AppSpecification"]["ImageUri"] == PLATFORM.image_uri
        # SageMaker Pipelines names the jobs (pipelines-<execution>-<step>-...)
        assert "ProcessingJobName" not in arguments


def test_every_step_imports_the_code_zip_in_place(steps: dict[str, dict[str, Any]]) -> None:
    for step in steps.values():
        arguments = step["Arguments"]
        code = arguments["ProcessingInputs"][0]
        assert code["InputName"] == "code"
        assert code["S3Input"]["S3Uri"] == (
            "s3://monitoring-bucket/code/0123456789abcdef/monitoring-code.zip"
        )
        assert code["S3Input"]["LocalPath"] == contract.CODE_DIR
        assert arguments["Environment"]["PYTHONPATH"] == (
            f"{contract.CODE_DIR}/{contract.CODE_ARCHIVE}"
        )


def test_steps_retry_only_capacity_and_internal_errors(steps: dict[str, dict[str, Any]]) -> None:
    for step in steps.values():
        (policy,) = step["RetryPolicies"]
        assert set(policy["ExceptionType"]) == {
            "SageMaker.CAPACITY_ERROR",
            "SageMaker.JOB_INTERNAL_ERROR",
            "SageMaker.RESOURCE_LIMIT",
        }


def test_the_spec_declares_exactly_the_thresholds_the_check_takes_and_refuses_others() -> None:
    # given the monitor spec's thresholds and the options the drift check job takes
    # (was a check in the removed MonitorSpec: missing or unknown thresholds; the spec now gives
    # every threshold a default, so only an unknown one can reach validation)
    assert set(DriftThresholds.model_fields) == set(THRESHOLD_OPTIONS)
    # when a stack names a threshold the check does not know / then validation refuses it by name
    thresholds = {name: 0.1 for name in THRESHOLD_OPTIONS} | {"chi2": 0.1}
    with pytest.raises(ValueError, match=r"chi2\n  Extra inputs are not permitted"):
        DriftThresholds.model_validate(thresholds)
