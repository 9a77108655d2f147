"""An optimization job's pipeline definition and roles' policies as data, for every kind of job.

given job specs the stack files do not cover (on demand capacity, an instance with NVMe storage
and so no EBS volume, every time limit) / when the definition and the policies are built / then
the definition is one SageMaker accepts, spot and the volume key appear exactly when they apply,
and the policies grant the volume key and ask for it exactly then.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.optimization.pipeline_definition import (
    OptimizationPlatform,
    execution_role_policy,
    pipeline_definition,
    pipeline_role_policy,
)
from components.optimization.spec import OptimizationJobConfig
from components.shared.resolved_platform import ResolvedPlatform
from tests.iam_catalog import PolicyDocument, check_documents
from tests.pipeline_requests import definition_problems

ACCOUNT = "123456789012"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k"
PLATFORM = OptimizationPlatform(
    environment="dev",
    role_arn=f"arn:aws:iam::{ACCOUNT}:role/solver",
    image_uri=f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/ml-platform/training:1.1.0",
    processed_bucket="processed-bucket",
    models_bucket="models-bucket",
    experiments_bucket="experiments-bucket",
    kms_key_arn=KEY,
    subnet_ids=["subnet-b", "subnet-a"],
    security_group_id="sg-1",
)
RESOLVED = ResolvedPlatform(
    partition="aws",
    region="us-east-1",
    account_id=ACCOUNT,
    kms_key_arn=KEY,
    vpc_id="vpc-1",
    subnet_ids=["subnet-b", "subnet-a"],
    security_group_id="sg-1",
)


def spec(**overrides: Any) -> OptimizationJobConfig:
    return OptimizationJobConfig.model_validate(
        {
            "name": "routes",
            "kind": "routing",
            "problem": "optimization/routing/",
            "image": {"repository": "ml-platform/training", "tag": "1.1.0"},
            "time_limits": {"total_seconds": 60},
            "max_runtime_seconds": 600,
            "spot": {"max_wait_seconds": 600},
            **overrides,
        }
    )


def policies(job: OptimizationJobConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    execution = execution_role_policy(
        job,
        RESOLVED,
        environment="dev",
        processed_bucket="processed-bucket",
        models_bucket="models-bucket",
        experiments_bucket="experiments-bucket",
        image_repository_arn=f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/ml-platform/training",
    )
    pipeline = pipeline_role_policy(
        job, RESOLVED, environment="dev", execution_role_arn=PLATFORM.role_arn
    )
    documents = [
        PolicyDocument(where=f"{name} policy", kind="inline", text=text, role=name)
        for name, text in (("execution", execution), ("pipeline", pipeline))
    ]
    assert check_documents(documents) == []
    return json.loads(execution), json.loads(pipeline)


@pytest.mark.parametrize(
    "job",
    [
        spec(),
        spec(spot={"enabled": False}),
        spec(instance_type="ml.r5d.2xlarge"),
        spec(
            kind="jobshop",
            time_limits={
                "total_seconds": 60,
                "iteration_seconds": 10,
                "no_improvement_seconds": 20,
            },
        ),
    ],
    ids=["spot", "on-demand", "instance-storage", "every-limit"],
)
def test_each_kind_of_job_is_a_definition_sagemaker_accepts(job: OptimizationJobConfig) -> None:
    assert definition_problems(pipeline_definition(job, PLATFORM)) == []
    policies(job)


def test_on_demand_capacity_sends_no_wait() -> None:
    (step,) = pipeline_definition(spec(spot={"enabled": False}), PLATFORM)["Steps"]
    arguments = step["Arguments"]
    assert arguments["EnableManagedSpotTraining"] is False
    assert arguments["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}


def test_the_volume_key_applies_exactly_to_instances_with_ebs() -> None:
    for instance_type, encrypted in (("ml.c5.xlarge", True), ("ml.r5d.2xlarge", False)):
        job = spec(instance_type=instance_type)
        (step,) = pipeline_definition(job, PLATFORM)["Steps"]
        assert ("VolumeKmsKeyId" in step["Arguments"]["ResourceConfig"]) is encrypted
        execution, pipeline = policies(job)
        grants = [s for s in execution["Statement"] if s["Sid"] == "EncryptJobVolumes"]
        assert bool(grants) is encrypted
        (create,) = [s for s in pipeline["Statement"] if s["Sid"] == "CreateJobsWithGuardrails"]
        assert ("sagemaker:VolumeKmsKey" in create["Condition"]["StringEquals"]) is encrypted


def test_the_subnets_are_sent_as_given_and_conditioned_sorted() -> None:
    job = spec()
    (step,) = pipeline_definition(job, PLATFORM)["Steps"]
    assert step["Arguments"]["VpcConfig"]["Subnets"] == ["subnet-b", "subnet-a"]
    _, pipeline = policies(job)
    (create,) = [s for s in pipeline["Statement"] if s["Sid"] == "CreateJobsWithGuardrails"]
    assert create["Condition"]["ForAllValues:StringEquals"]["sagemaker:VpcSubnets"] == [
        "subnet-a",
        "subnet-b",
    ]
