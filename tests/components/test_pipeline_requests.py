"""Every pipeline step and schedule target of both stacks, checked against botocore's models.

given each stack's plan (or a definition built here) / when every step's Arguments, every
pipeline expression, retry policy and schedule target is checked against the operation it feeds
/ then nothing AWS would refuse is found, and each kind of broken input is named exactly.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest

from components.monitoring.pipeline import monitor_definition
from components.training.pipeline_definition import TrainingPlatform, pipeline_definition
from components.training.spec import TrainingPipelineConfig
from tests.components.monitoring.test_pipeline import ENTRY, PLATFORM, SECTION
from tests.conftest import Plan
from tests.pipeline_requests import (
    check_definition,
    check_schedule,
    definition_problems,
    schedule_problems,
    schedule_request,
)
from tests.service_models import RequestError, check_request

PIPELINE = "aws:sagemaker/pipeline:Pipeline"
SCHEDULE = "aws:scheduler/schedule:Schedule"
ACCOUNT = "123456789012"

TRAINING = TrainingPlatform(
    environment="dev",
    region="us-east-1",
    role_arn=f"arn:aws:iam::{ACCOUNT}:role/training",
    image_uri=f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/ml-platform/training:1.0",
    processed_bucket="processed-bucket",
    models_bucket="models-bucket",
    experiments_bucket="experiments-bucket",
    code_archive_key="code/training-sourcedir-0123456789abcdef.tar.gz",
    kms_key_arn=f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k",
    subnet_ids=["subnet-a", "subnet-b"],
    security_group_id="sg-1",
    tracking_server_arn=f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:mlflow-tracking-server/mlp-x",
)
RANGES = [
    {"name": "lr", "type": "continuous", "min": 0.0001, "max": 0.1, "scaling": "Logarithmic"},
    {"name": "batch_size", "type": "integer", "min": 32.0, "max": 512.0},
    {"name": "hidden_sizes", "type": "categorical", "values": ["64", "128"]},
]
MONITOR_ARN = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:pipeline/mlp-dev-churn-monitor"


def training_spec(**overrides: Any) -> TrainingPipelineConfig:
    """Pipeline ``mlp-dev-churn`` (in TRAINING's environment) on our own image, with spot."""
    values: dict[str, Any] = {
        "name": "churn",
        "algorithm": "pytorch",
        "task": "regression",
        "target": "price",
        "train_data": "churn/train/",
        "validation_data": "churn/validation/",
        "image": {"repository": "ml-platform/training", "tag": "1.0"},
        "instance_type": "ml.g5.2xlarge",
        "spot": {"enabled": True, "max_wait_seconds": 7200},
    }
    # Through JSON, as the program reads config (strict models take lists as JSON arrays).
    return TrainingPipelineConfig.model_validate_json(json.dumps({**values, **overrides}))


def tuning(strategy: str) -> dict[str, Any]:
    hyperband = {"hyperband_min_resource": 2, "hyperband_max_resource": 20}
    return {
        "strategy": strategy,
        "objective": "valid_rmse",
        "max_jobs": 8,
        "max_parallel_jobs": 2,
        "ranges": RANGES,
        **(hyperband if strategy == "Hyperband" else {}),
    }


def monitor() -> dict[str, Any]:
    return monitor_definition(ENTRY, SECTION, PLATFORM)


def refusal(definition: dict[str, Any]) -> str:
    with pytest.raises(RequestError) as raised:
        check_definition(definition)
    return str(raised.value)


# --------------------------------------------------------------------------------------------
# both stacks
# --------------------------------------------------------------------------------------------


def definitions_by_name(plan: Plan) -> dict[str, dict[str, Any]]:
    return {
        pipeline.inputs["pipelineName"]: json.loads(pipeline.inputs["pipelineDefinition"])
        for pipeline in plan.of_type(PIPELINE)
    }


def test_every_pipeline_and_each_step_is_a_request_aws_accepts(plan: Plan) -> None:
    # given the stack's pipelines (training and monitoring)
    pipelines = plan.of_type(PIPELINE)
    assert pipelines
    for pipeline in pipelines:
        inputs = pipeline.inputs
        # when the CreatePipeline request and the definition are checked / then both pass
        check_request(
            "sagemaker",
            "CreatePipeline",
            {
                "PipelineName": inputs["pipelineName"],
                "PipelineDisplayName": inputs["pipelineDisplayName"],
                "PipelineDescription": inputs["pipelineDescription"],
                "PipelineDefinition": inputs["pipelineDefinition"],
                "RoleArn": inputs["roleArn"],
            },
        )
        check_definition(json.loads(inputs["pipelineDefinition"]))


def test_every_schedule_starts_its_pipeline_with_declared_parameters(plan: Plan) -> None:
    # given the stack's schedules and the pipelines they start
    schedules = plan.of_type(SCHEDULE)
    definitions = definitions_by_name(plan)
    assert schedules
    for schedule in schedules:
        request = schedule_request(schedule.inputs)
        # when the CreateSchedule request and its target are checked / then both pass
        check_schedule(request, definitions)
        assert request["Target"]["SageMakerPipelineParameters"]["PipelineParameterList"]


# --------------------------------------------------------------------------------------------
# every kind of definition the components build
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        training_spec(),
        training_spec(spot={"enabled": False}, track_experiments=True),
        training_spec(instance_type="ml.g5.12xlarge", instance_count=2),
        training_spec(algorithm="xgboost", task="classification", tuning=None),
        training_spec(tuning=tuning("Bayesian")),
        training_spec(tuning=tuning("Hyperband")),
    ],
    ids=["spot", "tracked", "distributed", "xgboost", "bayesian", "hyperband"],
)
def test_each_training_pipeline_kind_is_valid(spec: TrainingPipelineConfig) -> None:
    assert definition_problems(pipeline_definition(spec, TRAINING)) == []


def test_the_monitor_pipeline_is_valid_and_its_step_references_resolve() -> None:
    assert definition_problems(monitor()) == []


# --------------------------------------------------------------------------------------------
# each check catches its broken input
# --------------------------------------------------------------------------------------------


def test_a_too_long_job_name_is_refused() -> None:
    definition = pipeline_definition(training_spec(), TRAINING)
    definition["Steps"][0]["Arguments"]["TrainingJobName"] = "mlp-dev-" + "c" * 56
    assert refusal(definition) == (
        "pipeline definition: Steps[0] (Train).Arguments (CreateTrainingJob).TrainingJobName: "
        "'mlp-dev-cccccccccccccccccccccccccccccccccccccccccccccccc... has length 64, more than "
        "the maximum 63"
    )


def test_an_unknown_member_is_refused() -> None:
    definition = monitor()
    definition["Steps"][2]["Arguments"]["NetworkConfig"]["EnableNetworkIsolaton"] = True
    assert refusal(definition) == (
        "pipeline definition: Steps[2] (PublishMetrics).Arguments (CreateProcessingJob)."
        "NetworkConfig.EnableNetworkIsolaton: unknown member"
    )


def test_a_wrong_enum_value_is_refused() -> None:
    definition = monitor()
    definition["Steps"][1]["Arguments"]["ProcessingInputs"][1]["S3Input"]["S3DataType"] = "Folder"
    assert refusal(definition) == (
        "pipeline definition: Steps[1] (CheckDrift).Arguments (CreateProcessingJob)."
        "ProcessingInputs[1].S3Input.S3DataType: 'Folder' is not one of ManifestFile, S3Prefix"
    )


def test_a_parameter_default_must_pass_the_pattern_where_it_is_used() -> None:
    # given a data parameter whose default is not an S3 URI
    definition = pipeline_definition(training_spec(), TRAINING)
    definition["Parameters"][0]["DefaultValue"] = "processed-bucket/churn/train/"
    # then its use as the train channel's URI is refused with the pattern
    assert refusal(definition) == (
        "pipeline definition: Steps[0] (Train).Arguments (CreateTrainingJob)."
        "InputDataConfig[0].DataSource.S3DataSource.S3Uri: 'processed-bucket/churn/train/' "
        "does not match the pattern (https|s3)://([^/]+)/?(.*)"
    )


def test_an_integer_parameter_where_a_string_is_wanted_is_refused() -> None:
    # given the window length passed without turning it into text
    definition = monitor()
    definition["Steps"][0]["Arguments"]["AppSpecification"]["ContainerArguments"][3] = {
        "Get": "Parameters.WindowHours"
    }
    assert refusal(definition) == (
        "pipeline definition: Steps[0] (SelectWindow).Arguments (CreateProcessingJob)."
        'AppSpecification.ContainerArguments[3]: {"Get": "Parameters.WindowHours"} is integer, '
        "the request wants string"
    )


def test_an_undeclared_parameter_or_execution_variable_is_refused() -> None:
    definition = monitor()
    arguments = definition["Steps"][0]["Arguments"]["AppSpecification"]["ContainerArguments"]
    arguments[5] = {"Get": "Parameters.WindowStart"}
    arguments[7] = {"Get": "Execution.PipelineExecutionName"}
    assert refusal(definition) == (
        "pipeline definition: Steps[0] (SelectWindow).Arguments (CreateProcessingJob)."
        "AppSpecification.ContainerArguments[5]: Parameters.WindowStart is not a parameter of "
        "the pipeline; Steps[0] (SelectWindow).Arguments (CreateProcessingJob)."
        "AppSpecification.ContainerArguments[7]: Execution.PipelineExecutionName is not an "
        "execution variable"
    )


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        (
            "Steps.SelectWindow.ProcessingOutputConfig.Outputs['windows'].S3Output.S3Uri",
            ": SelectWindow's request has no 'windows' there",
        ),
        (
            "Steps.SelectWindow.ProcessingOutputConfig.Output['window'].S3Output.S3Uri",
            ": DescribeProcessingJob has no Output there",
        ),
        (
            "Steps.SelectWindow.ProcessingOutputConfig.Outputs['window'].S3Output",
            " is a whole structure, not a value",
        ),
        (
            "Steps.Select.ProcessingOutputConfig.Outputs['window'].S3Output.S3Uri",
            " names no other step of the pipeline",
        ),
        (
            "Steps.CheckDrift.ProcessingOutputConfig.Outputs['results'].S3Output.S3Uri",
            " names no other step of the pipeline",
        ),
    ],
    ids=["output-name", "member", "structure", "step", "itself"],
)
def test_an_unresolvable_step_reference_is_refused(reference: str, problem: str) -> None:
    # given the check's window input read from a step property that does not resolve
    definition = monitor()
    definition["Steps"][1]["Arguments"]["ProcessingInputs"][2]["S3Input"]["S3Uri"] = {
        "Get": reference
    }
    # then the path, the reference and why it does not resolve are named
    assert refusal(definition) == (
        "pipeline definition: Steps[1] (CheckDrift).Arguments (CreateProcessingJob)."
        f"ProcessingInputs[2].S3Input.S3Uri: {reference}{problem}"
    )


def test_a_reference_cycle_is_refused() -> None:
    # given the window step writing where the check's results are, which read the window
    definition = monitor()
    definition["Steps"][0]["Arguments"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"][
        "S3Uri"
    ] = {"Get": "Steps.CheckDrift.ProcessingOutputConfig.Outputs['results'].S3Output.S3Uri"}
    assert refusal(definition) == (
        "pipeline definition: Steps[1] (CheckDrift).Arguments (CreateProcessingJob)."
        "ProcessingInputs[2].S3Input.S3Uri (through SelectWindow): "
        "Steps.CheckDrift.ProcessingOutputConfig.Outputs['results'].S3Output.S3Uri is a "
        "reference cycle"
    )


def test_a_property_only_a_finished_step_has_resolves_through_its_describe_output() -> None:
    # given a model step built from the training step's model artifacts
    definition = pipeline_definition(training_spec(), TRAINING)
    model = {
        "Name": "Model",
        "Type": "Model",
        "Arguments": {
            "ExecutionRoleArn": TRAINING.role_arn,
            "PrimaryContainer": {
                "Image": TRAINING.image_uri,
                "ModelDataUrl": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"},
            },
        },
    }
    definition["Steps"].append(model)
    # then it resolves (DescribeTrainingJob has it, the request does not)
    assert definition_problems(definition) == []
    # and a property DescribeTrainingJob does not have is refused
    model["Arguments"]["PrimaryContainer"]["ModelDataUrl"] = {
        "Get": "Steps.Train.ModelArtifact.S3ModelArtifacts"
    }
    assert definition_problems(definition) == [
        "Steps[1] (Model).Arguments (CreateModel).PrimaryContainer.ModelDataUrl: "
        "Steps.Train.ModelArtifact.S3ModelArtifacts: DescribeTrainingJob has no ModelArtifact "
        "there"
    ]


def test_a_step_property_of_the_wrong_type_is_refused() -> None:
    definition = monitor()
    definition["Steps"][2]["Arguments"]["StoppingCondition"]["MaxRuntimeInSeconds"] = {
        "Get": "Steps.CheckDrift.ProcessingJobArn"
    }
    assert refusal(definition) == (
        "pipeline definition: Steps[2] (PublishMetrics).Arguments (CreateProcessingJob)."
        'StoppingCondition.MaxRuntimeInSeconds: {"Get": "Steps.CheckDrift.ProcessingJobArn"} '
        "is string, the request wants integer"
    )


def test_a_tuning_step_may_not_retry_internal_errors() -> None:
    # given a tuning step whose retry policy lists SageMaker.JOB_INTERNAL_ERROR
    definition = pipeline_definition(training_spec(tuning=tuning("Bayesian")), TRAINING)
    definition["Steps"][0]["RetryPolicies"][0]["ExceptionType"].append(
        "SageMaker.JOB_INTERNAL_ERROR"
    )
    assert refusal(definition) == (
        "pipeline definition: Steps[0] (Tune).RetryPolicies[0].ExceptionType: a Tuning step "
        "does not retry SageMaker.JOB_INTERNAL_ERROR"
    )


def test_retry_policy_fields_are_bounded() -> None:
    definition = monitor()
    definition["Steps"][0]["RetryPolicies"][0].update(
        MaxAttempts=21, ExpireAfterMin=60, IntervalSeconds=1.5, Jitter=True
    )
    assert refusal(definition) == (
        "pipeline definition: Steps[0] (SelectWindow).RetryPolicies[0]: unknown keys Jitter; "
        "Steps[0] (SelectWindow).RetryPolicies[0]: MaxAttempts and ExpireAfterMin exclude "
        "each other; Steps[0] (SelectWindow).RetryPolicies[0].IntervalSeconds: 1.5 is not an "
        "integer; Steps[0] (SelectWindow).RetryPolicies[0].MaxAttempts: 21 is outside 0-20"
    )


def test_pipeline_parameters_and_step_names_are_checked() -> None:
    definition = monitor()
    definition["Parameters"].append({"Name": "WindowEnd", "Type": "String"})
    definition["Parameters"].append({"Name": "Threshold", "Type": "Double", "DefaultValue": 1})
    definition["Parameters"][1]["DefaultValue"] = "24"
    definition["Steps"][2]["Name"] = "Publish Metrics"
    definition["Steps"][1]["DependsOn"] = ["Select"]
    assert refusal(definition) == (
        "pipeline definition: Parameters[1].DefaultValue: '24' is not of type Integer; "
        "Parameters[2].Name: 'WindowEnd' is declared twice; "
        "Parameters[3].Type: 'Double' is not one of String, Integer, Float, Boolean; "
        "Steps[1] (CheckDrift).DependsOn: 'Select' names no other step; "
        r"Steps[2] (Publish Metrics).Name: does not match ^[A-Za-z0-9\-_]{1,64}$"
    )


# --------------------------------------------------------------------------------------------
# schedule targets
# --------------------------------------------------------------------------------------------


def schedule(target: dict[str, Any]) -> dict[str, Any]:
    return schedule_request(
        {
            "name": "mlp-dev-churn-monitor",
            "groupName": "mlp-dev-monitoring",
            "scheduleExpression": "rate(1 day)",
            "flexibleTimeWindow": {"mode": "OFF"},
            "target": {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/scheduler", **target},
        }
    )


def pipeline_target(*parameters: tuple[str, str]) -> dict[str, Any]:
    return {
        "arn": MONITOR_ARN,
        "sagemakerPipelineParameters": {
            "pipelineParameters": [{"name": name, "value": value} for name, value in parameters]
        },
    }


def test_a_pipeline_target_sets_only_declared_parameters_with_values_of_their_type() -> None:
    definitions = {"mlp-dev-churn-monitor": monitor()}
    # given a valid target / then nothing is found
    assert schedule_problems(schedule(pipeline_target(("WindowHours", "6"))), definitions) == []
    # given an unknown parameter and a value of the wrong type
    request = schedule(pipeline_target(("WindowHour", "6"), ("WindowHours", "six")))
    with pytest.raises(RequestError) as raised:
        check_schedule(request, definitions)
    assert str(raised.value) == (
        "CreateSchedule: Target.SageMakerPipelineParameters.PipelineParameterList[0].Name: "
        "'WindowHour' is not a parameter of mlp-dev-churn-monitor; "
        "Target.SageMakerPipelineParameters.PipelineParameterList[1].Value: 'six' is not of "
        "type Integer"
    )


def test_a_pipeline_target_must_be_in_the_plan() -> None:
    request = schedule(pipeline_target(("WindowHours", "6")))
    assert schedule_problems(request, {}) == [
        "Target.Arn: pipeline 'mlp-dev-churn-monitor' is not in the plan"
    ]


def test_a_universal_target_input_is_checked_against_its_operation() -> None:
    arn = "arn:aws:scheduler:::aws-sdk:sagemaker:startPipelineExecution"
    valid = {"PipelineName": "mlp-dev-churn-monitor", "ClientRequestToken": "t" * 32}
    # given a valid input / then nothing is found
    assert schedule_problems(schedule({"arn": arn, "input": json.dumps(valid)}), {}) == []
    # given an input with an unknown member and a too-short token
    broken = {**valid, "ClientRequestToken": "t", "Parameters": []}
    assert schedule_problems(schedule({"arn": arn, "input": json.dumps(broken)}), {}) == [
        "Target.Input (StartPipelineExecution).Parameters: unknown member",
        "Target.Input (StartPipelineExecution).ClientRequestToken: 't' has length 1, less than "
        "the minimum 32",
    ]


def test_the_schedule_itself_is_checked() -> None:
    request = schedule(pipeline_target(("WindowHours", "6")))
    request["FlexibleTimeWindow"] = {"Mode": "Off"}
    request["Name"] = "mlp dev churn"
    definitions = {"mlp-dev-churn-monitor": copy.deepcopy(monitor())}
    assert schedule_problems(request, definitions) == [
        r"Name: 'mlp dev churn' does not match the pattern [0-9a-zA-Z-_.]+",
        "FlexibleTimeWindow.Mode: 'Off' is not one of OFF, FLEXIBLE",
    ]


# --------------------------------------------------------------------------------------------
# condition and fail steps, property files
# --------------------------------------------------------------------------------------------

GATED = dataclasses.replace(
    TRAINING,
    serving_image_uri="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
)


def gated() -> dict[str, Any]:
    """A pipeline that trains, evaluates and registers when valid_rmse <= 2."""
    spec = training_spec(
        registry={},
        evaluation={"test_data": "churn/test/", "thresholds": {"valid_rmse": {"max": 2.0}}},
    )
    return pipeline_definition(spec, GATED)


def test_a_gated_pipeline_is_valid_branches_included() -> None:
    assert definition_problems(gated()) == []


def test_a_json_get_of_an_undeclared_property_file_is_refused() -> None:
    # given the condition reading a property file the evaluation step does not declare
    definition = gated()
    condition = definition["Steps"][2]["Arguments"]["Conditions"][0]
    condition["LeftValue"]["Std:JsonGet"]["PropertyFile"] = {
        "Get": "Steps.Evaluate.PropertyFiles.Missing"
    }
    # then the reference is named
    assert refusal(definition) == (
        "pipeline definition: Steps[2] (CheckThresholds).Arguments.Conditions[0].LeftValue: "
        "Steps.Evaluate.PropertyFiles.Missing is not a property file of the pipeline"
    )


def test_a_property_file_must_name_an_output_of_its_step() -> None:
    # given the property file naming an output the evaluation job does not have
    definition = gated()
    definition["Steps"][1]["PropertyFiles"][0]["OutputName"] = "report"
    assert refusal(definition) == (
        "pipeline definition: Steps[1] (Evaluate).PropertyFiles[0].OutputName: 'report' is not "
        "an output of the step"
    )


def test_an_unknown_condition_type_is_refused() -> None:
    definition = gated()
    definition["Steps"][2]["Arguments"]["Conditions"][0]["Type"] = "AtMost"
    assert refusal(definition) == (
        "pipeline definition: Steps[2] (CheckThresholds).Arguments.Conditions[0].Type: 'AtMost' "
        "is not one of Equals, GreaterThan, GreaterThanOrEqualTo, LessThan, LessThanOrEqualTo"
    )


def test_the_steps_of_a_branch_are_checked_like_the_others() -> None:
    # given the register step (in the condition's true branch) with a bad approval status
    definition = gated()
    register = definition["Steps"][2]["Arguments"]["IfSteps"][0]
    register["Arguments"]["ModelApprovalStatus"] = "Maybe"
    # then its path runs through the branch and the operation's enum is named
    assert refusal(definition).startswith(
        "pipeline definition: Steps[2] (CheckThresholds).IfSteps[0] (Register).Arguments "
        "(CreateModelPackage).ModelApprovalStatus: 'Maybe' is not one of "
    )


def test_a_fail_step_needs_a_message() -> None:
    definition = gated()
    definition["Steps"][2]["Arguments"]["ElseSteps"][0]["Arguments"] = {"ErrorMessage": ""}
    assert refusal(definition) == (
        "pipeline definition: Steps[2] (CheckThresholds).ElseSteps[0] (ThresholdsNotMet)."
        "Arguments.ErrorMessage: expected a non-empty string"
    )
