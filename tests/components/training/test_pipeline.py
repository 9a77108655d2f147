"""TrainingPipeline over the real stack files, and the pipeline definition as data.

given a stack file run under the recording mock runtime / when its pipeline definition is read /
then the job it starts is the configured one under the platform's rules: managed spot with
checkpoints, the VPC, the platform key, isolation unless tracking, inter-container encryption on
several instances, our code from the uploaded archive, metrics read from our log lines, and the
configured tuning.
"""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest

from components.shared.hyperparameter_tables import as_hyperparameter
from components.shared.images import PREBUILT_TRAINING_TAGS
from components.shared.instance_storage import has_instance_storage
from components.training.pipeline_definition import (
    TrainingPlatform,
    is_multi_gpu,
    pipeline_definition,
)
from components.training.spec import TrainingPipelineConfig
from stacks.config import ConfigError, load_platform_config
from stacks.offline.mock_runtime import MOCK_ACCOUNT_ID, RecordedResource
from tests.conftest import ROOT, Plan, stack_config, stack_file, with_section
from tests.stacks.samples import without_retraining
from workloads.training import objectives

PIPELINE = "aws:sagemaker/pipeline:Pipeline"
CODE_OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
ROLE = "aws:iam/role:Role"


@pytest.fixture
def plan(plan: Plan) -> Plan:
    """Each stack's plan, seen through its training layer."""
    return plan.layer("training")


def configured(plan: Plan) -> list[dict[str, Any]]:
    return stack_file(plan.run.stack)["ml-platform:training"]["pipelines"]


def full_name(plan: Plan, pipeline: dict[str, Any]) -> str:
    return f"mlp-{plan.run.stack}-{pipeline['name']}"


def pipeline_resource(plan: Plan, pipeline: dict[str, Any]) -> RecordedResource:
    (found,) = [
        resource
        for resource in plan.of_type(PIPELINE)
        if resource.inputs["pipelineName"] == full_name(plan, pipeline)
    ]
    return found


def definition(plan: Plan, pipeline: dict[str, Any]) -> dict[str, Any]:
    return json.loads(pipeline_resource(plan, pipeline).inputs["pipelineDefinition"])


def step(plan: Plan, pipeline: dict[str, Any]) -> dict[str, Any]:
    """The first step: the one that trains (or tunes)."""
    first = definition(plan, pipeline)["Steps"][0]
    assert first["Name"] in ("Train", "Tune")
    return first


def job(plan: Plan, pipeline: dict[str, Any]) -> dict[str, Any]:
    """The training job's request: the step's arguments, or its tuning job's job definition."""
    arguments = step(plan, pipeline)["Arguments"]
    return arguments.get("TrainingJobDefinition", arguments)


def static_hyperparameters(plan: Plan, pipeline: dict[str, Any]) -> dict[str, str]:
    request = job(plan, pipeline)
    return request.get("StaticHyperParameters") or request["HyperParameters"]


def exports(plan: Plan) -> dict[str, Any]:
    return plan.run.exports


def bucket(plan: Plan, purpose: str) -> str:
    return exports(plan)["data"]["bucket_names"][purpose]


def every_pipeline(plan: Plan) -> list[dict[str, Any]]:
    pipelines = configured(plan)
    assert pipelines
    return pipelines


# --------------------------------------------------------------------------------------------
# the stack files deploy what the acceptance asks for
# --------------------------------------------------------------------------------------------


def test_one_named_pipeline_per_configured_pipeline(plan: Plan) -> None:
    # given the stack's pipelines / when the Pipeline resources are read
    names = sorted(resource.inputs["pipelineName"] for resource in plan.of_type(PIPELINE))
    # then one each, under its stable name, run by its own role
    assert names == sorted(full_name(plan, pipeline) for pipeline in configured(plan))
    for pipeline in configured(plan):
        resource = pipeline_resource(plan, pipeline)
        (role,) = plan.children(plan.by_urn[resource.parent], ROLE)
        assert resource.inputs["roleArn"] == role.outputs["arn"]
        assert definition(plan, pipeline)["Version"] == "2020-12-01"


def test_instance_types_and_images_per_environment(plans: dict[str, Plan]) -> None:
    # given both stacks / when their jobs' compute and images are read
    dev, prod = plans["dev"].layer("training"), plans["prod"].layer("training")
    churn, fraud = configured(dev)[0], configured(prod)[0]
    dev_job, prod_job = job(dev, churn), job(prod, fraud)
    # then dev tunes on one CPU instance of AWS's XGBoost container
    assert dev_job["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    assert dev_job["ResourceConfig"]["InstanceCount"] == 1
    image = dev_job["AlgorithmSpecification"]["TrainingImage"]
    assert re.fullmatch(
        rf"\d{{12}}\.dkr\.ecr\.us-east-1\.amazonaws\.com/sagemaker-xgboost:"
        rf"{re.escape(PREBUILT_TRAINING_TAGS['xgboost'])}",
        image,
    )
    # and prod on two GPU instances of our own training image
    assert prod_job["ResourceConfig"]["InstanceType"] == "ml.g5.2xlarge"
    assert prod_job["ResourceConfig"]["InstanceCount"] == 2
    assert prod_job["AlgorithmSpecification"]["TrainingImage"] == (
        f"{MOCK_ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/ml-platform/training:1.0.0-gpu"
    )


# --------------------------------------------------------------------------------------------
# spot, checkpoints, VPC, KMS, encryption, isolation
# --------------------------------------------------------------------------------------------


def test_managed_spot_waits_at_least_as_long_as_the_run(plan: Plan) -> None:
    for pipeline in every_pipeline(plan):
        # given the job / when its stopping condition is read
        request = job(plan, pipeline)
        stopping = request["StoppingCondition"]
        # then spot is on, and the wait (which includes the run) covers the runtime
        assert request["EnableManagedSpotTraining"] is True
        assert stopping["MaxRuntimeInSeconds"] == pipeline["max_runtime_seconds"]
        assert stopping["MaxWaitTimeInSeconds"] == pipeline["spot"]["max_wait_seconds"]
        assert stopping["MaxWaitTimeInSeconds"] >= stopping["MaxRuntimeInSeconds"]


def test_checkpoints_sync_to_one_folder_per_execution(plan: Plan) -> None:
    for pipeline in every_pipeline(plan):
        checkpoints = job(plan, pipeline)["CheckpointConfig"]
        # then the local folder the training code writes is synced under the experiments bucket
        assert checkpoints["LocalPath"] == "/opt/ml/checkpoints"
        assert checkpoints["S3Uri"] == {
            "Std:Join": {
                "On": "/",
                "Values": [
                    f"s3://{bucket(plan, 'experiments')}/checkpoints/{full_name(plan, pipeline)}",
                    {"Get": "Execution.PipelineExecutionId"},
                ],
            }
        }


def test_jobs_run_in_the_private_subnets(plan: Plan) -> None:
    data = exports(plan)["data"]
    for pipeline in every_pipeline(plan):
        vpc = job(plan, pipeline)["VpcConfig"]
        assert vpc["Subnets"] == data["subnet_ids"]
        assert vpc["SecurityGroupIds"] == [data["workload_security_group_id"]]


def test_output_and_volumes_use_the_platform_key(plan: Plan) -> None:
    key = exports(plan)["data"]["kms_key_arn"]
    for pipeline in every_pipeline(plan):
        request = job(plan, pipeline)
        # then the model is written encrypted, under the pipeline's prefix of the models bucket
        assert request["OutputDataConfig"] == {
            "S3OutputPath": f"s3://{bucket(plan, 'models')}/training/{full_name(plan, pipeline)}/",
            "KmsKeyId": key,
        }
        # and the volumes get the key, except on NVMe instance-store types (SageMaker refuses it)
        resources = request["ResourceConfig"]
        if has_instance_storage(pipeline["instance_type"]):
            assert "VolumeKmsKeyId" not in resources
        else:
            assert resources["VolumeKmsKeyId"] == key


def test_volume_key_per_environment(plans: dict[str, Plan]) -> None:
    # given dev on ml.m5 (EBS volumes) and prod on ml.g5 (NVMe instance store)
    dev, prod = plans["dev"].layer("training"), plans["prod"].layer("training")
    # then only dev's job names a volume key
    assert "VolumeKmsKeyId" in job(dev, configured(dev)[0])["ResourceConfig"]
    assert "VolumeKmsKeyId" not in job(prod, configured(prod)[0])["ResourceConfig"]


def test_inter_container_traffic_is_encrypted_on_several_instances(plan: Plan) -> None:
    for pipeline in every_pipeline(plan):
        several = pipeline.get("instance_count", 1) > 1
        assert job(plan, pipeline)["EnableInterContainerTrafficEncryption"] is several
    if plan.run.stack == "prod":
        assert job(plan, configured(plan)[0])["EnableInterContainerTrafficEncryption"] is True


def test_network_isolation_unless_the_job_logs_to_mlflow(plan: Plan) -> None:
    server = exports(plan)["training"]["tracking_server_arn"]
    for pipeline in every_pipeline(plan):
        request = job(plan, pipeline)
        tracked = pipeline.get("track_experiments", False)
        # then an untracked job has no network at all; a tracked one reaches the tracking server
        assert request["EnableNetworkIsolation"] is (not tracked)
        if tracked:
            assert request["Environment"] == {
                "MLFLOW_TRACKING_URI": server,
                "MLFLOW_EXPERIMENT_NAME": full_name(plan, pipeline),
            }
        else:
            assert "Environment" not in request


def test_isolation_per_environment(plans: dict[str, Plan]) -> None:
    dev, prod = plans["dev"].layer("training"), plans["prod"].layer("training")
    assert job(dev, configured(dev)[0])["EnableNetworkIsolation"] is True
    assert job(prod, configured(prod)[0])["EnableNetworkIsolation"] is False


# --------------------------------------------------------------------------------------------
# code, data, hyperparameters, metrics
# --------------------------------------------------------------------------------------------


def channels_of(request: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {channel["ChannelName"]: channel for channel in request["InputDataConfig"]}


def test_code_channel_and_submit_directory_match_the_uploaded_archive(plan: Plan) -> None:
    # given the archive the layer uploads
    (code_object,) = plan.of_type(CODE_OBJECT)
    key = code_object.inputs["key"]
    archive = Path(code_object.inputs["source"]["asset"]["path"])
    assert key == f"code/{archive.name}"
    assert re.fullmatch(r"code/training-sourcedir-[0-9a-f]{16}\.tar\.gz", key)
    assert code_object.inputs["bucket"] == bucket(plan, "models")
    assert code_object.inputs["serverSideEncryption"] == "aws:kms"
    assert exports(plan)["training"]["code_archive_uri"] == f"s3://{bucket(plan, 'models')}/{key}"
    # and it holds the program the toolkit runs
    with tarfile.open(ROOT / archive) as tar:
        assert "train.py" in tar.getnames()
    for pipeline in every_pipeline(plan):
        # when the job's code channel and script-mode hyperparameters are read
        request = job(plan, pipeline)
        source = channels_of(request)["code"]["DataSource"]["S3DataSource"]
        hyperparameters = static_hyperparameters(plan, pipeline)
        # then SageMaker downloads that object before the container starts
        assert source["S3Uri"] == f"s3://{bucket(plan, 'models')}/{key}"
        assert source["S3DataType"] == "S3Prefix"
        # and the toolkit unpacks it from where the channel puts it, and runs train.py
        assert hyperparameters["sagemaker_program"] == "train.py"
        assert hyperparameters["sagemaker_submit_directory"] == (
            f"/opt/ml/input/data/code/{archive.name}"
        )


def test_data_channels_come_from_parameters_defaulting_to_the_processed_bucket(
    plan: Plan,
) -> None:
    for pipeline in every_pipeline(plan):
        parameters = {
            parameter["Name"]: parameter for parameter in definition(plan, pipeline)["Parameters"]
        }
        processed = bucket(plan, "processed")
        assert parameters["TrainData"]["DefaultValue"] == (
            f"s3://{processed}/{pipeline['train_data']}"
        )
        assert parameters["ValidationData"]["DefaultValue"] == (
            f"s3://{processed}/{pipeline['validation_data']}"
        )
        channels = channels_of(job(plan, pipeline))
        assert set(channels) == {"train", "validation", "code"}
        for name, parameter in (("train", "TrainData"), ("validation", "ValidationData")):
            assert channels[name]["ContentType"] == "text/csv"
            assert channels[name]["DataSource"]["S3DataSource"]["S3Uri"] == {
                "Get": f"Parameters.{parameter}"
            }


def test_hyperparameters_are_strings_with_what_to_train(plan: Plan) -> None:
    for pipeline in every_pipeline(plan):
        hyperparameters = static_hyperparameters(plan, pipeline)
        assert all(isinstance(value, str) for value in hyperparameters.values())
        assert hyperparameters["algorithm"] == pipeline["algorithm"]
        assert hyperparameters["task"] == pipeline["task"]
        assert hyperparameters["target"] == pipeline["target"]
        for name, value in pipeline.get("hyperparameters", {}).items():
            assert hyperparameters[name] == as_hyperparameter(value)


def test_pytorch_on_several_instances_runs_distributed(plans: dict[str, Plan]) -> None:
    dev, prod = plans["dev"].layer("training"), plans["prod"].layer("training")
    assert static_hyperparameters(prod, configured(prod)[0])[
        "sagemaker_torch_distributed_enabled"
    ] == ("true")
    assert "sagemaker_torch_distributed_enabled" not in static_hyperparameters(
        dev, configured(dev)[0]
    )


def test_metric_definitions_read_the_lines_training_prints(plan: Plan) -> None:
    for pipeline in every_pipeline(plan):
        # given the job's metric definitions
        definitions = job(plan, pipeline)["AlgorithmSpecification"]["MetricDefinitions"]
        task = pipeline["task"]
        assert [item["Name"] for item in definitions] == list(objectives.METRICS[task])
        # when a log line carries every metric the way the training code prints them
        values = {name: 0.125 + index for index, name in enumerate(objectives.METRICS[task])}
        line = "epoch=3 " + " ".join(objectives.format_metric(n, v) for n, v in values.items())
        # then each definition reads exactly its own value
        for item in definitions:
            match = re.search(item["Regex"], line)
            assert match is not None, item
            assert float(match.group(1)) == values[item["Name"]]
        # and never a metric whose name merely ends like it
        assert re.search(definitions[0]["Regex"], f"x{line.split()[1]}") is None


# --------------------------------------------------------------------------------------------
# tuning
# --------------------------------------------------------------------------------------------


def test_tuning_is_configured_as_asked(plan: Plan) -> None:
    for pipeline in every_pipeline(plan):
        wanted = pipeline["tuning"]
        # given the tuning step / when its configuration is read
        assert step(plan, pipeline)["Type"] == "Tuning"
        config = step(plan, pipeline)["Arguments"]["HyperParameterTuningJobConfig"]
        # then strategy, objective with its direction, and limits are the configured ones
        assert config["Strategy"] == wanted["strategy"]
        assert config["HyperParameterTuningJobObjective"] == {
            "MetricName": wanted["objective"],
            "Type": objectives.direction(pipeline["task"], wanted["objective"]),
        }
        assert config["ResourceLimits"] == {
            "MaxNumberOfTrainingJobs": wanted["max_jobs"],
            "MaxParallelTrainingJobs": wanted["max_parallel_jobs"],
        }
        # and every range is there with its bounds and scaling
        ranges = {
            item["Name"]: (kind, item)
            for kind, items in config["ParameterRanges"].items()
            for item in items
        }
        assert set(ranges) == {item["name"] for item in wanted["ranges"]}
        for item in wanted["ranges"]:
            kind, recorded = ranges[item["name"]]
            assert kind == f"{item['type'].capitalize()}ParameterRanges"
            if item["type"] == "categorical":
                assert recorded["Values"] == item["values"]
                continue
            assert float(recorded["MinValue"]) == item["min"]
            assert float(recorded["MaxValue"]) == item["max"]
            assert recorded["ScalingType"] == item.get("scaling", "Auto")
            if item["type"] == "integer":
                assert "." not in recorded["MinValue"] + recorded["MaxValue"]
        # and the tuned hyperparameters are not fixed as well
        assert not set(ranges) & set(static_hyperparameters(plan, pipeline))
        assert static_hyperparameters(plan, pipeline)["objective"] == wanted["objective"]


def test_hyperband_in_prod_and_bayesian_in_dev(plans: dict[str, Plan]) -> None:
    dev, prod = plans["dev"].layer("training"), plans["prod"].layer("training")
    bayesian = step(dev, configured(dev)[0])["Arguments"]["HyperParameterTuningJobConfig"]
    hyperband = step(prod, configured(prod)[0])["Arguments"]["HyperParameterTuningJobConfig"]
    # then Hyperband has its resources and no other early stopping (SageMaker requires it)
    assert hyperband["Strategy"] == "Hyperband"
    assert hyperband["StrategyConfig"] == {
        "HyperbandStrategyConfig": {"MinResource": 2, "MaxResource": 20}
    }
    assert hyperband["TrainingJobEarlyStoppingType"] == "Off"
    # and the jobs it keeps may run all its epochs
    assert static_hyperparameters(prod, configured(prod)[0])["epochs"] == "20"
    # and Bayesian search stops trailing jobs early and has no Hyperband settings
    assert bayesian["Strategy"] == "Bayesian"
    assert bayesian["TrainingJobEarlyStoppingType"] == "Auto"
    assert "StrategyConfig" not in bayesian


def test_steps_retry_capacity_and_limit_errors_only(plan: Plan) -> None:
    for pipeline in every_pipeline(plan):
        (policy,) = step(plan, pipeline)["RetryPolicies"]
        # a tuning step never retries internal errors (its jobs do, through RetryStrategy)
        expected = ["SageMaker.CAPACITY_ERROR", "SageMaker.RESOURCE_LIMIT"]
        if step(plan, pipeline)["Type"] == "Training":
            expected.insert(1, "SageMaker.JOB_INTERNAL_ERROR")
        assert policy["ExceptionType"] == expected
        assert job(plan, pipeline)["RetryStrategy"] == {"MaximumRetryAttempts": 2}


# --------------------------------------------------------------------------------------------
# the definition as data (no stack)
# --------------------------------------------------------------------------------------------

PLATFORM = TrainingPlatform(
    environment="x",
    region="us-east-1",
    role_arn="arn:aws:iam::123456789012:role/training",
    image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/ml-platform/training:1.0.0",
    processed_bucket="processed",
    models_bucket="models",
    experiments_bucket="experiments",
    code_archive_key="code/training-sourcedir-0123456789abcdef.tar.gz",
    kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
    subnet_ids=["subnet-a", "subnet-b"],
    security_group_id="sg-1",
    tracking_server_arn="arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/mlp-x",
)


def pipeline_values(**overrides: Any) -> dict[str, Any]:
    """A pipeline ``mlp-x-model`` (in PLATFORM's environment) on our own image, without spot."""
    values: dict[str, Any] = {
        "name": "model",
        "algorithm": "pytorch",
        "task": "regression",
        "target": "price",
        "train_data": "p/train/",
        "validation_data": "p/valid/",
        "image": {"repository": "ml-platform/training", "tag": "1.0.0"},
        "instance_type": "ml.m5.xlarge",
        "spot": {"enabled": False},
    }
    return {**values, **overrides}


def spec(**overrides: Any) -> TrainingPipelineConfig:
    # Through JSON, as the program reads config (strict models take lists as JSON arrays).
    return TrainingPipelineConfig.model_validate_json(json.dumps(pipeline_values(**overrides)))


def test_a_pipeline_without_tuning_trains_once_under_its_own_job_prefix() -> None:
    # given a pipeline without tuning and without spot
    document = pipeline_definition(spec(hyperparameters={"epochs": 5}), PLATFORM)
    # when its step is read
    (only,) = document["Steps"]
    arguments = only["Arguments"]
    # then it is a training step whose job name prefixes the jobs SageMaker Pipelines starts
    assert (only["Name"], only["Type"]) == ("Train", "Training")
    assert arguments["TrainingJobName"] == "mlp-x-model"
    assert arguments["AlgorithmSpecification"]["EnableSageMakerMetricsTimeSeries"] is True
    assert arguments["HyperParameters"]["epochs"] == "5"
    # and without spot there is no wait time (SageMaker refuses one)
    assert arguments["EnableManagedSpotTraining"] is False
    assert arguments["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert json.loads(json.dumps(document)) == document


def test_one_multi_gpu_instance_also_runs_distributed() -> None:
    # given PyTorch on one 4-GPU instance, and XGBoost on the same instance
    torch = pipeline_definition(spec(instance_type="ml.g5.12xlarge"), PLATFORM)
    xgboost = pipeline_definition(
        spec(algorithm="xgboost", instance_type="ml.g5.12xlarge"), PLATFORM
    )
    # then only PyTorch asks the container for torchrun
    assert torch["Steps"][0]["Arguments"]["HyperParameters"][
        "sagemaker_torch_distributed_enabled"
    ] == ("true")
    assert (
        "sagemaker_torch_distributed_enabled"
        not in (xgboost["Steps"][0]["Arguments"]["HyperParameters"])
    )
    assert is_multi_gpu("ml.p4d.24xlarge") and not is_multi_gpu("ml.g5.2xlarge")


def test_parameter_ranges_leave_out_empty_kinds_and_keep_integers_whole() -> None:
    # given a tuning with one integer and one categorical range
    tuning = {
        "strategy": "Bayesian",
        "objective": "valid_rmse",
        "max_jobs": 4,
        "max_parallel_jobs": 2,
        "ranges": [
            {"name": "batch_size", "type": "integer", "min": 32.0, "max": 512.0},
            {"name": "hidden_sizes", "type": "categorical", "values": ["64", "128"]},
        ],
    }
    # when the definition is built
    document = pipeline_definition(spec(tuning=tuning), PLATFORM)
    config = document["Steps"][0]["Arguments"]["HyperParameterTuningJobConfig"]
    # then the ranges are grouped by kind, with integer bounds as whole numbers
    assert config["ParameterRanges"] == {
        "IntegerParameterRanges": [
            {"Name": "batch_size", "MinValue": "32", "MaxValue": "512", "ScalingType": "Auto"}
        ],
        "CategoricalParameterRanges": [{"Name": "hidden_sizes", "Values": ["64", "128"]}],
    }
    assert config["HyperParameterTuningJobObjective"]["Type"] == "Minimize"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"spot": {"enabled": True, "max_wait_seconds": 60}},
            "training.pipelines[0].spot: max_wait_seconds (60) must be >= max_runtime_seconds "
            "(3600): it includes the run itself",
        ),
        (
            {
                "hyperparameters": {"dropout": 0.1},
                "tuning": {
                    "strategy": "Bayesian",
                    "objective": "valid_loss",
                    "max_jobs": 2,
                    "max_parallel_jobs": 1,
                    "ranges": [{"name": "dropout", "type": "continuous", "min": 0, "max": 0.5}],
                },
            },
            "training.pipelines[0].tuning: dropout both fixed in hyperparameters and tuned",
        ),
    ],
)
def test_a_spec_the_service_would_refuse_fails_at_construction(
    overrides: dict[str, Any], message: str
) -> None:
    # The pipeline's spec model refuses it (reported as the stack's config loader reports it).
    section = {"pipelines": [pipeline_values(**overrides)]}
    with pytest.raises(ConfigError) as raised:
        load_platform_config(
            "dev", with_section(without_retraining(stack_config("dev")), "training", section)
        )
    assert raised.value.problems == [message]


def test_hyperparameter_values_become_strings() -> None:
    assert [as_hyperparameter(value) for value in (True, False, 3, 0.25, "hist")] == [
        "true",
        "false",
        "3",
        "0.25",
        "hist",
    ]


def test_a_training_step_also_retries_internal_errors() -> None:
    # given a pipeline that trains once / when its definition is built
    document = pipeline_definition(spec(), PLATFORM)
    # then its step retries internal errors too, which a training step does retry
    (policy,) = document["Steps"][0]["RetryPolicies"]
    assert document["Steps"][0]["Type"] == "Training"
    assert policy["ExceptionType"] == [
        "SageMaker.CAPACITY_ERROR",
        "SageMaker.JOB_INTERNAL_ERROR",
        "SageMaker.RESOURCE_LIMIT",
    ]
