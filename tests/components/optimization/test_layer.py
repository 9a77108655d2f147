"""OptimizationLayer over the real stack files, under the recording mock runtime.

given dev (one routing job, started by hand) and prod (a scheduled routing job and a scheduled
job-shop job) / when the program runs offline / then each job is a one-step pipeline whose
request SageMaker accepts, in the workload's training contract (entrypoint, hyperparameters, the
``problem`` channel, the solution as model output, checkpoints), under the platform's rules (KMS,
VPC, isolation, spot with max_wait >= max_run), with roles reaching only the job's prefixes and
policies valid against AWS's catalog, a failure alarm, and schedules only where configured.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.optimization.pipeline_definition import METRICS
from stacks.offline.mock_runtime import MOCK_ACCOUNT_ID, RecordedResource
from stacks.offline.plan import render
from tests.conftest import Plan, stack_file
from tests.iam_catalog import check_documents, policy_documents
from tests.pipeline_requests import check_definition, check_schedule, schedule_request
from tests.service_models import check_request
from workloads.optimization.results import Improvement, SolveResult, SolveStatus, StopReason

PIPELINE = "aws:sagemaker/pipeline:Pipeline"
SCHEDULE = "aws:scheduler/schedule:Schedule"
GROUP = "aws:scheduler/scheduleGroup:ScheduleGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
JOB = "mlplatform:optimization:OptimizationJob"


@pytest.fixture
def layer(plan: Plan) -> Plan:
    """Each stack's plan, seen through its optimization layer."""
    return plan.layer("optimization")


def configured(plan: Plan) -> list[dict[str, Any]]:
    return stack_file(plan.run.stack)["ml-platform:optimization"]["jobs"]


def full_name(plan: Plan, job: dict[str, Any]) -> str:
    return f"mlp-{plan.run.stack}-opt-{job['name']}"


def component(plan: Plan, job: dict[str, Any]) -> Plan:
    """One job's component and everything below it."""
    (found,) = [r for r in plan.of_type(JOB) if r.name == full_name(plan, job)]
    return Plan(plan.run, [found, *plan.descendants(found)])


def pipeline(plan: Plan, job: dict[str, Any]) -> RecordedResource:
    (found,) = component(plan, job).of_type(PIPELINE)
    return found


def definition(plan: Plan, job: dict[str, Any]) -> dict[str, Any]:
    return json.loads(pipeline(plan, job).inputs["pipelineDefinition"])


def request(plan: Plan, job: dict[str, Any]) -> dict[str, Any]:
    """The ``CreateTrainingJob`` request of the one ``Solve`` step."""
    (step,) = definition(plan, job)["Steps"]
    assert (step["Name"], step["Type"]) == ("Solve", "Training")
    return step["Arguments"]


def data(plan: Plan) -> dict[str, Any]:
    return plan.run.exports["data"]


def bucket(plan: Plan, purpose: str) -> str:
    return data(plan)["bucket_names"][purpose]


def role_policy(plan: Plan, job: dict[str, Any], suffix: str) -> dict[str, Any]:
    (role,) = [r for r in component(plan, job).of_type(ROLE) if r.name.endswith(suffix)]
    (policy,) = plan.children(role, ROLE_POLICY)
    return json.loads(policy.inputs["policy"])


def statement(document: dict[str, Any], sid: str) -> dict[str, Any]:
    (found,) = [s for s in document["Statement"] if s.get("Sid") == sid]
    return found


# --------------------------------------------------------------------------------------------
# what the stacks deploy
# --------------------------------------------------------------------------------------------


def test_one_pipeline_per_configured_job(layer: Plan) -> None:
    # given the stack's configured jobs / then each has one pipeline, exported by its name
    jobs = configured(layer)
    names = sorted(full_name(layer, job) for job in jobs)
    assert sorted(p.inputs["pipelineName"] for p in layer.of_type(PIPELINE)) == names
    exported = layer.run.exports["optimization"]["jobs"]
    assert sorted(exported) == names
    for job in jobs:
        entry = exported[full_name(layer, job)]
        assert entry["kind"] == job["kind"] and entry["problem"] == job["problem"]
        assert entry["arn"] == pipeline(layer, job).outputs["arn"]


def test_prod_schedules_a_routing_and_a_jobshop_job_and_dev_schedules_none(
    plans: dict[str, Plan],
) -> None:
    prod, dev = plans["prod"].layer("optimization"), plans["dev"].layer("optimization")
    # then prod's two jobs are scheduled, in the layer's group
    scheduled = {job["kind"]: component(prod, job).of_type(SCHEDULE) for job in configured(prod)}
    assert sorted(scheduled) == ["jobshop", "routing"]
    assert all(len(schedules) == 1 for schedules in scheduled.values())
    (group,) = prod.of_type(GROUP)
    assert group.inputs["name"] == "mlp-prod-optimization"
    for schedules in scheduled.values():
        assert schedules[0].inputs["groupName"] == group.outputs["name"]
    # and dev has neither a schedule nor a group
    assert dev.of_type(SCHEDULE) == [] and dev.of_type(GROUP) == []
    # and the plan lists the jobs and what starts them
    text = render(plans["prod"].run)
    assert "optimization jobs (OR-Tools solves, one pipeline each):" in text
    assert (
        "  mlp-prod-opt-delivery-routes: routing from optimization/routing/depots/, scheduled "
        "cron(0 1 * * ? *) (failures: alarm mlp-prod-opt-delivery-routes-failed)"
    ) in text
    assert "mlp-dev-opt-routing: routing from optimization/routing/sample/, started by hand" in (
        render(plans["dev"].run)
    )


def test_every_request_is_one_aws_accepts(layer: Plan) -> None:
    definitions = {}
    for job in configured(layer):
        inputs = pipeline(layer, job).inputs
        # when the CreatePipeline request and its definition are checked / then both pass
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
        definitions[inputs["pipelineName"]] = json.loads(inputs["pipelineDefinition"])
    # and each schedule starts its pipeline with a parameter it declares
    for schedule in layer.of_type(SCHEDULE):
        check_schedule(schedule_request(schedule.inputs), definitions)


# --------------------------------------------------------------------------------------------
# the workload's contract
# --------------------------------------------------------------------------------------------


def test_the_job_runs_the_workload_from_our_image_with_its_hyperparameters(layer: Plan) -> None:
    for job in configured(layer):
        arguments = request(layer, job)
        algorithm = arguments["AlgorithmSpecification"]
        image = job["image"]
        assert algorithm["TrainingImage"] == (
            f"{MOCK_ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/{image['repository']}:"
            f"{image['tag']}"
        )
        assert algorithm["ContainerEntrypoint"] == ["python3", "-m", "workloads.optimization"]
        limits = job["time_limits"]
        wanted = {
            "kind": job["kind"],
            "total_seconds": str(limits["total_seconds"]),
            "workers": str(job["workers"]),
        }
        for optional in ("iteration_seconds", "no_improvement_seconds"):
            if optional in limits:
                wanted[optional] = str(limits[optional])
        assert arguments["HyperParameters"] == wanted
        # the job's name prefixes the jobs SageMaker Pipelines starts
        assert arguments["TrainingJobName"] == full_name(layer, job)


def test_the_metric_definitions_read_every_figure_a_solve_prints() -> None:
    # given a finished solve with every figure / when its metrics are read
    result = SolveResult(
        problem="routing",
        name="sample",
        status=SolveStatus.FEASIBLE,
        stop_reason=StopReason.TOTAL_TIME_LIMIT,
        objective=100.0,
        bound=90.0,
        elapsed_seconds=2.0,
        history=[Improvement(0.5, 120.0), Improvement(1.5, 100.0)],
    )
    # then the pipeline reads each of them from the log
    assert set(result.metrics()) == set(METRICS)


def test_the_problem_channel_defaults_to_the_configured_prefix(layer: Plan) -> None:
    for job in configured(layer):
        (parameter,) = definition(layer, job)["Parameters"]
        assert parameter == {
            "Name": "Problem",
            "Type": "String",
            "DefaultValue": f"s3://{bucket(layer, 'processed')}/{job['problem']}",
        }
        (channel,) = request(layer, job)["InputDataConfig"]
        assert channel["ChannelName"] == "problem"
        assert channel["DataSource"]["S3DataSource"]["S3Uri"] == {"Get": "Parameters.Problem"}


def test_the_solution_and_checkpoints_go_to_the_jobs_own_prefixes(layer: Plan) -> None:
    for job in configured(layer):
        arguments, name = request(layer, job), full_name(layer, job)
        assert arguments["OutputDataConfig"] == {
            "S3OutputPath": f"s3://{bucket(layer, 'models')}/optimization/{name}/",
            "KmsKeyId": data(layer)["kms_key_arn"],
        }
        # one checkpoint folder per execution, synced with the contract's folder
        assert arguments["CheckpointConfig"] == {
            "S3Uri": {
                "Std:Join": {
                    "On": "/",
                    "Values": [
                        f"s3://{bucket(layer, 'experiments')}/optimization/{name}",
                        {"Get": "Execution.PipelineExecutionId"},
                    ],
                }
            },
            "LocalPath": "/opt/ml/checkpoints",
        }


# --------------------------------------------------------------------------------------------
# the platform's rules
# --------------------------------------------------------------------------------------------


def test_the_job_runs_isolated_in_the_vpc_with_the_platform_key(layer: Plan) -> None:
    for job in configured(layer):
        arguments = request(layer, job)
        assert arguments["VpcConfig"] == {
            "SecurityGroupIds": [data(layer)["workload_security_group_id"]],
            "Subnets": data(layer)["subnet_ids"],
        }
        assert arguments["EnableNetworkIsolation"] is True
        resources = arguments["ResourceConfig"]
        assert resources == {
            "InstanceType": job["instance_type"],
            "InstanceCount": 1,
            "VolumeSizeInGB": job.get("volume_size_gb", 30),
            # c5 instances have EBS volumes: the platform key encrypts them
            "VolumeKmsKeyId": data(layer)["kms_key_arn"],
        }


def test_spot_waits_at_least_as_long_as_the_run(layer: Plan) -> None:
    for job in configured(layer):
        arguments = request(layer, job)
        assert arguments["EnableManagedSpotTraining"] is True
        assert arguments["StoppingCondition"] == {
            "MaxRuntimeInSeconds": job["max_runtime_seconds"],
            "MaxWaitTimeInSeconds": job["spot"]["max_wait_seconds"],
        }
        stopping = arguments["StoppingCondition"]
        assert stopping["MaxWaitTimeInSeconds"] >= stopping["MaxRuntimeInSeconds"]


def test_the_execution_role_reaches_only_the_jobs_prefixes(layer: Plan) -> None:
    for job in configured(layer):
        name = full_name(layer, job)
        document = role_policy(layer, job, "-execution")
        processed = f"arn:aws:s3:::{bucket(layer, 'processed')}"
        models = f"arn:aws:s3:::{bucket(layer, 'models')}"
        experiments = f"arn:aws:s3:::{bucket(layer, 'experiments')}"
        assert statement(document, "ReadProblem")["Resource"] == f"{processed}/{job['problem']}*"
        assert statement(document, "ListProblem")["Condition"] == {
            "StringLike": {"s3:prefix": [f"{job['problem']}*"]}
        }
        assert statement(document, "WriteSolutions")["Resource"] == (
            f"{models}/optimization/{name}/*"
        )
        assert statement(document, "ReadWriteCheckpoints")["Resource"] == (
            f"{experiments}/optimization/{name}/*"
        )
        # and no S3 statement reaches beyond those
        s3 = [
            s
            for s in document["Statement"]
            if any(action.startswith("s3:") for action in _actions(s))
        ]
        resources = {r for s in s3 for r in _resources(s)}
        assert resources == {
            processed,
            f"{processed}/{job['problem']}*",
            f"{models}/optimization/{name}/*",
            experiments,
            f"{experiments}/optimization/{name}/*",
        }


def _actions(item: dict[str, Any]) -> list[str]:
    action = item["Action"]
    return [action] if isinstance(action, str) else action


def _resources(item: dict[str, Any]) -> list[str]:
    resource = item["Resource"]
    return [resource] if isinstance(resource, str) else resource


def test_the_pipeline_role_creates_only_guarded_jobs(layer: Plan) -> None:
    key = data(layer)["kms_key_arn"]
    for job in configured(layer):
        name = full_name(layer, job)
        document = role_policy(layer, job, "-pipeline-role")
        create = statement(document, "CreateJobsWithGuardrails")
        assert create["Action"] == "sagemaker:CreateTrainingJob"
        assert create["Resource"] == [
            f"arn:aws:sagemaker:us-east-1:{MOCK_ACCOUNT_ID}:training-job/{name}-*"
        ]
        assert create["Condition"] == {
            "StringEquals": {"sagemaker:OutputKmsKey": key, "sagemaker:VolumeKmsKey": key},
            "ForAllValues:StringEquals": {
                "sagemaker:InstanceTypes": [job["instance_type"]],
                "sagemaker:VpcSubnets": sorted(data(layer)["subnet_ids"]),
                "sagemaker:VpcSecurityGroupIds": [data(layer)["workload_security_group_id"]],
            },
            "Null": {
                "sagemaker:InstanceTypes": "false",
                "sagemaker:VpcSubnets": "false",
                "sagemaker:VpcSecurityGroupIds": "false",
            },
            "Bool": {"sagemaker:NetworkIsolation": "true"},
            "NumericLessThanEquals": {"sagemaker:MaxRuntimeInSeconds": job["max_runtime_seconds"]},
        }
        # and it passes only this job's execution role, only to SageMaker
        (execution,) = [
            r for r in component(layer, job).of_type(ROLE) if r.name.endswith("-execution")
        ]
        passed = statement(document, "PassExecutionRoleToSageMaker")
        assert passed["Resource"] == execution.outputs["arn"]
        assert passed["Condition"] == {
            "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
        }


def test_the_layers_policies_fit_the_iam_catalog(layer: Plan) -> None:
    # given every policy document of the layer (roles, trusts, the topic's)
    documents = policy_documents(layer.resources)
    assert {document.kind for document in documents} >= {"inline", "trust"}
    # then each is valid against AWS's action catalog
    assert check_documents(documents) == []


def test_a_failed_execution_alarms_the_layers_topic(layer: Plan) -> None:
    (topic,) = layer.of_type(TOPIC)
    assert topic.inputs["name"] == f"mlp-{layer.run.stack}-optimization-alarms"
    assert topic.inputs["kmsMasterKeyId"] == data(layer)["kms_key_arn"]
    for job in configured(layer):
        name = full_name(layer, job)
        (alarm,) = component(layer, job).of_type(ALARM)
        inputs = alarm.inputs
        assert inputs["name"] == f"{name}-failed"
        assert inputs["namespace"] == "AWS/Sagemaker/ModelBuildingPipeline"
        assert inputs["metricName"] == "ExecutionFailed"
        assert inputs["dimensions"] == {"PipelineName": name}
        assert (inputs["statistic"], inputs["threshold"]) == ("Sum", 1)
        assert inputs["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert inputs["treatMissingData"] == "notBreaching"
        assert inputs["alarmActions"] == [topic.outputs["arn"]]
        check_request(
            "cloudwatch",
            "PutMetricAlarm",
            {
                "AlarmName": inputs["name"],
                "AlarmDescription": inputs["alarmDescription"],
                "Namespace": inputs["namespace"],
                "MetricName": inputs["metricName"],
                "Dimensions": [{"Name": "PipelineName", "Value": name}],
                "Statistic": inputs["statistic"],
                "Period": inputs["period"],
                "EvaluationPeriods": inputs["evaluationPeriods"],
                "DatapointsToAlarm": inputs["datapointsToAlarm"],
                "Threshold": float(inputs["threshold"]),
                "ComparisonOperator": inputs["comparisonOperator"],
                "TreatMissingData": inputs["treatMissingData"],
                "AlarmActions": inputs["alarmActions"],
            },
        )


def test_a_schedule_starts_only_its_pipeline_on_the_configured_problem(
    plans: dict[str, Plan],
) -> None:
    layer = plans["prod"].layer("optimization")
    for job in configured(layer):
        parts = component(layer, job)
        (schedule,) = parts.of_type(SCHEDULE)
        target = schedule.inputs["target"]
        assert schedule.inputs["scheduleExpression"] == job["schedule"]
        assert schedule.inputs["scheduleExpressionTimezone"] == "UTC"
        assert target["arn"] == pipeline(layer, job).outputs["arn"]
        assert target["sagemakerPipelineParameters"]["pipelineParameters"] == [
            {"name": "Problem", "value": f"s3://{bucket(layer, 'processed')}/{job['problem']}"}
        ]
        (role,) = [r for r in parts.of_type(ROLE) if r.name.endswith("-scheduler")]
        (policy,) = layer.children(role, ROLE_POLICY)
        start = statement(json.loads(policy.inputs["policy"]), "StartThisPipeline")
        assert start["Resource"] == pipeline(layer, job).outputs["arn"]
