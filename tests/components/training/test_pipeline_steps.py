"""The build pipeline after training: evaluate, check the thresholds, register or fail.

given each stack's plan (and definitions built here from specs) / when the training pipeline's
steps are read / then the best tuned model is evaluated in an isolated processing job on the
test channel, the condition checks exactly the configured thresholds over the report's
PropertyFile, and the register step adds a version to the pipeline's own group with the
configured approval, the framework's serving image, the report as its metrics, where it came from
and a model card; otherwise the Fail step names each metric's value and bound.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from components.training.pipeline_definition import pipeline_definition
from components.training.pipeline_steps import PROPERTY_FILE
from stacks.config import load_platform_config
from tests.components.test_pipeline_requests import TRAINING, training_spec, tuning
from tests.conftest import Plan, stack_config, stack_file
from tests.pipeline_requests import definition_problems
from workloads.training import evaluate, objectives

PIPELINE = "aws:sagemaker/pipeline:Pipeline"
REPORT = {"Get": f"Steps.Evaluate.PropertyFiles.{PROPERTY_FILE}"}
SERVING = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312"
REGISTERED = dataclasses.replace(TRAINING, serving_image_uri=SERVING, code_archive_sha256="ab" * 32)


@pytest.fixture
def plan(plan: Plan) -> Plan:
    """Each stack's plan, seen through its training layer."""
    return plan.layer("training")


def configured(plan: Plan) -> Any:
    """The stack file's (only) training pipeline, as the validated config."""
    (pipeline,) = load_platform_config(
        plan.run.stack, stack_config(plan.run.stack)
    ).training.pipelines
    return pipeline


def definition(plan: Plan) -> dict[str, Any]:
    (resource,) = [r for r in plan.of_type(PIPELINE) if "-train-" in r.name]
    return json.loads(resource.inputs["pipelineDefinition"])


def steps(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every step by name, the condition's branches included."""
    named = {}
    for step in found["Steps"]:
        named[step["Name"]] = step
        for key in ("IfSteps", "ElseSteps"):
            for inner in step.get("Arguments", {}).get(key, []):
                named[inner["Name"]] = inner
    return named


def render(value: Any, report: dict[str, Any], parameters: dict[str, str]) -> Any:
    """An expression as SageMaker evaluates it, with ``report`` as the evaluation.json."""
    if isinstance(value, dict) and "Std:Join" in value:
        join = value["Std:Join"]
        parts = [render(item, report, parameters) for item in join["Values"]]
        return join["On"].join(str(part) for part in parts)
    if isinstance(value, dict) and "Std:JsonGet" in value:
        found: Any = report
        for key in value["Std:JsonGet"]["Path"].split("."):
            found = found[key]
        return found
    if isinstance(value, dict) and "Get" in value:
        scope, _, name = value["Get"].partition(".")
        return parameters[name] if scope == "Parameters" else f"<{value['Get']}>"
    return value


def defaults(found: dict[str, Any]) -> dict[str, str]:
    return {parameter["Name"]: parameter["DefaultValue"] for parameter in found["Parameters"]}


def processed(plan: Plan) -> str:
    return plan.run.exports["data"]["bucket_names"]["processed"]


def models(plan: Plan) -> str:
    return plan.run.exports["data"]["bucket_names"]["models"]


def sample_report(task: str) -> dict[str, Any]:
    metrics = objectives.evaluated_metrics(task)
    return {
        "metrics": {name: round(0.1 * (index + 1), 2) for index, name in enumerate(metrics)},
        "regression": {name: round(0.01 * (index + 1), 2) for index, name in enumerate(metrics)},
        "model": {"framework_version": "3.2.0", "sha256": "ab" * 32},
    }


# --------------------------------------------------------------------------------------------
# the stack files
# --------------------------------------------------------------------------------------------


def test_the_pipeline_tunes_evaluates_then_registers_or_fails(plan: Plan) -> None:
    # given the stack's (tuning, evaluating, registering) pipeline
    found = definition(plan)
    # then the steps run in that order, the condition choosing between registering and failing
    assert [(s["Name"], s["Type"]) for s in found["Steps"]] == [
        ("Tune", "Tuning"),
        ("Evaluate", "Processing"),
        ("CheckThresholds", "Condition"),
    ]
    branches = found["Steps"][2]["Arguments"]
    assert [(s["Name"], s["Type"]) for s in branches["IfSteps"]] == [("Register", "RegisterModel")]
    assert [(s["Name"], s["Type"]) for s in branches["ElseSteps"]] == [("ThresholdsNotMet", "Fail")]
    # and the test channel is a parameter defaulting to the configured prefix
    test_data = configured(plan).evaluation.test_data
    assert defaults(found)["TestData"] == f"s3://{processed(plan)}/{test_data}"


def test_the_evaluation_job_reads_the_best_model_and_the_test_data_in_the_vpc(
    plan: Plan,
) -> None:
    # given the evaluation step and the tuning job it follows
    named = steps(definition(plan))
    request = named["Evaluate"]["Arguments"]
    training_job = named["Tune"]["Arguments"]["TrainingJobDefinition"]
    name = f"mlp-{plan.run.stack}-{configured(plan).name}"
    inputs = {item["InputName"]: item["S3Input"] for item in request["ProcessingInputs"]}
    # then the model is the best tuning job's archive, below the jobs' own output path
    assert inputs["model"]["S3Uri"] == {
        "Std:Join": {
            "On": "/",
            "Values": [
                f"s3://{models(plan)}/training/{name}",
                {"Get": "Steps.Tune.BestTrainingJob.TrainingJobName"},
                "output",
                "model.tar.gz",
            ],
        }
    }
    assert (
        training_job["OutputDataConfig"]["S3OutputPath"] == f"s3://{models(plan)}/training/{name}/"
    )
    # and the test data is the TestData parameter, the code the uploaded training archive
    assert inputs["test"]["S3Uri"] == {"Get": "Parameters.TestData"}
    code_uri = plan.run.exports["training"]["code_archive_uri"]
    assert inputs["code"]["S3Uri"] == code_uri
    # and each lands where the evaluation command looks by default
    assert inputs["model"]["LocalPath"] == evaluate.MODEL_INPUT
    assert inputs["test"]["LocalPath"] == evaluate.TEST_INPUT
    archive = code_uri.rsplit("/", 1)[-1]
    # (prod's also compares with its group's approved version)
    compares = {"dev": "", "prod": " --baseline-group mlp-prod-fraud"}[plan.run.stack]
    assert request["AppSpecification"]["ContainerEntrypoint"] == [
        "/bin/sh",
        "-c",
        f"mkdir -p /tmp/code && tar -xzf /opt/ml/processing/input/code/{archive} -C /tmp/code "
        f"&& cd /tmp/code && exec python3 -m workloads.training.evaluate{compares}",
    ]
    # and it runs the training image as the execution role, under the pipeline's job prefix
    assert (
        request["AppSpecification"]["ImageUri"]
        == training_job["AlgorithmSpecification"]["TrainingImage"]
    )
    assert request["RoleArn"] == training_job["RoleArn"]
    assert request["ProcessingJobName"] == name
    # and writes evaluation.json with the platform key, one folder per execution
    key = plan.run.exports["data"]["kms_key_arn"]
    (output,) = request["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"]["S3Uri"] == {
        "Std:Join": {
            "On": "/",
            "Values": [
                f"s3://{models(plan)}/evaluation/{name}",
                {"Get": "Execution.PipelineExecutionId"},
            ],
        }
    }
    assert output["S3Output"]["LocalPath"] == evaluate.EVALUATION_OUTPUT
    assert request["ProcessingOutputConfig"]["KmsKeyId"] == key
    assert request["ProcessingResources"]["ClusterConfig"] == {
        "InstanceCount": 1,
        "InstanceType": "ml.m5.xlarge",
        "VolumeSizeInGB": 30,
        "VolumeKmsKeyId": key,
    }
    # and it runs in the training jobs' subnets and security group, without any network unless
    # it reads the registry (prod's, which then knows its region)
    assert request["NetworkConfig"] == {
        "EnableNetworkIsolation": not compares,
        "EnableInterContainerTrafficEncryption": False,
        "VpcConfig": training_job["VpcConfig"],
    }
    assert request.get("Environment") == ({"AWS_DEFAULT_REGION": "us-east-1"} if compares else None)
    # and the report is the step's PropertyFile
    assert named["Evaluate"]["PropertyFiles"] == [
        {
            "PropertyFileName": "EvaluationReport",
            "OutputName": "evaluation",
            "FilePath": "evaluation.json",
        }
    ]


def test_the_condition_checks_exactly_the_configured_thresholds(plan: Plan) -> None:
    # given the stack's thresholds
    thresholds = stack_file(plan.run.stack)["ml-platform:training"]["pipelines"][0]["evaluation"][
        "thresholds"
    ]
    # when the condition step is read
    (condition,) = [s for s in definition(plan)["Steps"] if s["Type"] == "Condition"]
    # then each bound is one comparison over the report's flat metric (or its regression from
    # the approved version)
    kinds = {
        "min": ("GreaterThanOrEqualTo", "metrics"),
        "max": ("LessThanOrEqualTo", "metrics"),
        "max_regression": ("LessThanOrEqualTo", "regression"),
    }
    expected = [
        {
            "Type": kinds[bound][0],
            "LeftValue": {
                "Std:JsonGet": {"PropertyFile": REPORT, "Path": f"{kinds[bound][1]}.{metric}"}
            },
            "RightValue": value,
        }
        for metric, bounds in thresholds.items()
        for bound, value in bounds.items()
    ]
    assert condition["Arguments"]["Conditions"] == expected
    assert len(expected) == {"dev": 1, "prod": 3}[plan.run.stack]


def test_the_fail_step_names_each_metric_value_and_bound(plan: Plan) -> None:
    # given the evaluation's report
    config = configured(plan)
    report = sample_report(config.task)
    # when the Fail step's message is evaluated
    message = steps(definition(plan))["ThresholdsNotMet"]["Arguments"]["ErrorMessage"]
    text = render(message, report, {})
    # then it names each bounded metric with its test value and its bound
    prefix = "The model missed its thresholds on the test data (all must hold):"
    expected = {
        "dev": f"{prefix} valid_auc = 0.3 (needs >= 0.8);",
        "prod": f"{prefix} valid_auc = 0.3 (needs >= 0.9); valid_auc worse than the approved "
        "version by 0.03 (allowed 0.02); valid_loss = 0.1 (needs <= 0.25);",
    }[plan.run.stack]
    assert text == expected


def test_the_version_goes_into_its_group_with_the_configured_approval(plan: Plan) -> None:
    # given the register step
    found = definition(plan)
    named = steps(found)
    request = named["Register"]["Arguments"]
    # then it registers into the pipeline's group: dev approves itself, prod waits for a person
    stack = plan.run.stack
    assert request["ModelPackageGroupName"] == f"mlp-{stack}-{configured(plan).model_group}"
    assert (
        request["ModelApprovalStatus"]
        == {
            "dev": "Approved",
            "prod": "PendingManualApproval",
        }[stack]
    )
    # and the model is the one evaluated, served by its framework's prebuilt inference image
    (container,) = request["InferenceSpecification"]["Containers"]
    evaluated = {i["InputName"]: i for i in named["Evaluate"]["Arguments"]["ProcessingInputs"]}
    assert container["ModelDataUrl"] == evaluated["model"]["S3Input"]["S3Uri"]
    image = {
        "dev": ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0", "XGBOOST"),
        "prod": (SERVING, "PYTORCH"),
    }[stack]
    assert (container["Image"], container["Framework"]) == image
    assert request["InferenceSpecification"]["SupportedContentTypes"] == [
        "text/csv",
        "application/json",
    ]
    # and its metrics are the evaluation's report, where the evaluation job wrote it
    output = named["Evaluate"]["Arguments"]["ProcessingOutputConfig"]["Outputs"][0]
    folder = output["S3Output"]["S3Uri"]["Std:Join"]["Values"]
    assert request["ModelMetrics"] == {
        "ModelQuality": {
            "Statistics": {
                "ContentType": "application/json",
                "S3Uri": {"Std:Join": {"On": "/", "Values": [*folder, "evaluation.json"]}},
            }
        }
    }


def test_the_version_records_where_it_came_from(plan: Plan) -> None:
    # given the register step's customer metadata, evaluated against a report
    found = definition(plan)
    config = configured(plan)
    properties = steps(found)["Register"]["Arguments"]["CustomerMetadataProperties"]
    values = {
        key: render(value, sample_report(config.task), defaults(found))
        for key, value in properties.items()
    }
    # then it names the job, the data, the code archive and its digest, framework and image
    code_uri = plan.run.exports["training"]["code_archive_uri"]
    digest = values.pop("code_archive_sha256")
    assert len(digest) == 64 and code_uri.endswith(f"-{digest[:16]}.tar.gz")
    name = f"mlp-{plan.run.stack}-{config.name}"
    image = steps(found)["Register"]["Arguments"]["InferenceSpecification"]["Containers"][0]
    assert values == {
        "pipeline": name,
        "pipeline_execution": "<Execution.PipelineExecutionArn>",
        "training_job": "<Steps.Tune.BestTrainingJob.TrainingJobName>",
        "train_data": defaults(found)["TrainData"],
        "validation_data": defaults(found)["ValidationData"],
        "test_data": defaults(found)["TestData"],
        "code_archive": code_uri,
        "framework": config.algorithm,
        "framework_version": "3.2.0",
        "model_sha256": "ab" * 32,
        "serving_image": image["Image"],
        "evaluation": f"s3://{models(plan)}/evaluation/{name}/<Execution.PipelineExecutionId>"
        "/evaluation.json",
    }


def test_the_version_carries_a_draft_model_card_with_its_test_metrics(plan: Plan) -> None:
    # given the register step's model card, evaluated against a report
    found = definition(plan)
    config = configured(plan)
    report = sample_report(config.task)
    card = steps(found)["Register"]["Arguments"]["ModelCard"]
    content = json.loads(render(card["ModelCardContent"], report, defaults(found)))
    # then it is a draft with the model's purpose and every test metric's value
    assert card["ModelCardStatus"] == "Draft"
    assert content["intended_uses"]["purpose_of_model"] == config.registry.description
    (details,) = content["evaluation_details"]
    assert details["datasets"] == [defaults(found)["TestData"]]
    (group,) = details["metric_groups"]
    assert group["metric_data"] == [
        {"name": name, "type": "number", "value": report["metrics"][name]}
        for name in objectives.evaluated_metrics(config.task)
    ]


# --------------------------------------------------------------------------------------------
# definitions built from specs
# --------------------------------------------------------------------------------------------

EVALUATION = {"test_data": "churn/test/", "thresholds": {"valid_rmse": {"max": 2.0}}}


def test_a_trained_model_is_the_training_step_s_artifact() -> None:
    # given a pipeline that trains once, evaluates and registers
    spec = training_spec(registry={}, evaluation=EVALUATION)
    found = pipeline_definition(spec, REGISTERED)
    named = steps(found)
    # then the evaluation and the version read the training step's artifact and job name
    inputs = {i["InputName"]: i for i in named["Evaluate"]["Arguments"]["ProcessingInputs"]}
    artifact = {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert inputs["model"]["S3Input"]["S3Uri"] == artifact
    request = named["Register"]["Arguments"]
    assert request["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == artifact
    assert request["CustomerMetadataProperties"]["training_job"] == {
        "Get": "Steps.Train.TrainingJobName"
    }
    # and AWS would accept every step
    assert definition_problems(found) == []


def test_a_registry_without_evaluation_registers_right_after_training() -> None:
    # given a pipeline with a registry and no evaluation
    found = pipeline_definition(training_spec(registry={}), REGISTERED)
    # then training is followed by the register step alone, with no test data and no metrics
    assert [s["Name"] for s in found["Steps"]] == ["Train", "Register"]
    assert "TestData" not in defaults(found)
    request = found["Steps"][1]["Arguments"]
    assert "ModelMetrics" not in request
    assert request["ModelApprovalStatus"] == "PendingManualApproval"
    content = json.loads(request["ModelCard"]["ModelCardContent"])
    assert set(content) == {"intended_uses"}
    assert definition_problems(found) == []


def test_without_a_registry_the_pipeline_only_trains() -> None:
    # given a pipeline without a registry / then it has its training step alone
    found = pipeline_definition(training_spec(tuning=tuning("Bayesian")), TRAINING)
    assert [s["Name"] for s in found["Steps"]] == ["Tune"]
    assert list(defaults(found)) == ["TrainData", "ValidationData"]


def test_both_bounds_of_one_metric_are_two_conditions() -> None:
    # given a metric bounded from both sides
    thresholds = {"valid_r2": {"min": 0.5, "max": 0.99}}
    spec = training_spec(registry={}, evaluation={**EVALUATION, "thresholds": thresholds})
    (_, _, condition) = pipeline_definition(spec, REGISTERED)["Steps"]
    # then both are conditions (all must hold)
    assert [(c["Type"], c["RightValue"]) for c in condition["Arguments"]["Conditions"]] == [
        ("GreaterThanOrEqualTo", 0.5),
        ("LessThanOrEqualTo", 0.99),
    ]


def test_registering_needs_the_serving_image() -> None:
    # given a platform without the serving image / then building the definition says so
    with pytest.raises(ValueError, match="pipeline churn: registering needs the serving image"):
        pipeline_definition(training_spec(registry={}), TRAINING)


def test_a_regression_bound_compares_with_the_group_s_approved_version() -> None:
    # given a threshold on how much worse than the approved version RMSE may be
    thresholds = {"valid_rmse": {"max": 2.0, "max_regression": 0.1}}
    spec = training_spec(registry={}, evaluation={**EVALUATION, "thresholds": thresholds})
    found = pipeline_definition(spec, REGISTERED)
    request = found["Steps"][1]["Arguments"]
    # then the evaluation reads the group's approved version, so it runs without isolation
    assert request["AppSpecification"]["ContainerEntrypoint"][-1].endswith(
        "python3 -m workloads.training.evaluate --baseline-group mlp-dev-churn"
    )
    assert request["NetworkConfig"]["EnableNetworkIsolation"] is False
    assert request["Environment"] == {"AWS_DEFAULT_REGION": "us-east-1"}
    # and the condition bounds the value and its regression
    conditions = found["Steps"][2]["Arguments"]["Conditions"]
    assert [(c["LeftValue"]["Std:JsonGet"]["Path"], c["RightValue"]) for c in conditions] == [
        ("metrics.valid_rmse", 2.0),
        ("regression.valid_rmse", 0.1),
    ]
    assert definition_problems(found) == []
