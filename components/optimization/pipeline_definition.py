"""The SageMaker Pipeline of an optimization job, and its roles' policies, as plain Python data.

The pipeline has one ``Training`` step, ``Solve``, whose ``Arguments`` are a ``CreateTrainingJob``
request in SageMaker's training contract (what ``python -m workloads.optimization`` reads):

* our training image, with ``ContainerEntrypoint`` ``python3 -m workloads.optimization`` (the
  image installs the ``workloads`` package and OR-Tools; docker/training.Dockerfile);
* hyperparameters ``kind``, ``total_seconds``, ``iteration_seconds``, ``no_improvement_seconds``,
  ``workers`` (strings, unset limits left out);
* the input channel ``problem``: the pipeline parameter ``Problem``, an S3 URI defaulting to the
  job's prefix in the processed bucket (an execution may name a prefix below it);
* the solution as the job's model output under ``optimization/<pipeline>/`` of the models bucket
  (``<job>/output/model.tar.gz``), encrypted with the platform key;
* checkpoints in ``/opt/ml/checkpoints``, synced to ``optimization/<pipeline>/<execution id>/`` of
  the experiments bucket (a spot restart of the job resumes from them; a new execution does not);
* the platform's rules: VPC subnets and security group, network isolation (the job reads and
  writes only through SageMaker's channels), the platform key on the volume (when the instance
  has EBS) and output, managed spot with ``MaxWaitTimeInSeconds >= MaxRuntimeInSeconds``.

Plain data in, plain data out, deterministic: testable as data, shown in the offline plan exactly
as SageMaker receives it.
Schema: https://aws-sagemaker-mlops.github.io/sagemaker-model-building-pipeline-definition-JSON-schema/
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.optimization.spec import OptimizationJobConfig, optimization_name
from components.shared import iam_policies
from components.shared.pipeline_expressions import execution_folder
from components.shared.resolved_platform import ResolvedPlatform
from workloads.training import contract
from workloads.training.objectives import metric_regex

#: The pipeline definition schema version SageMaker accepts.
SCHEMA_VERSION = "2020-12-01"

#: The step's name.
SOLVE_STEP = "Solve"

#: The input channel of the problem, and the pipeline parameter that feeds it.
PROBLEM_CHANNEL, PROBLEM_PARAMETER = "problem", "Problem"

#: What the container runs: the workload's module, from the image's installed package.
ENTRYPOINT = ("python3", "-m", "workloads.optimization")

#: The figures the workload prints as ``name=value`` (``SolveResult.metrics``), read from the log.
METRICS = (
    "objective",
    "bound",
    "gap",
    "elapsed_seconds",
    "seconds_to_first",
    "seconds_to_best",
    "improvements",
)

#: Key prefix of every optimization job's solutions (models bucket) and checkpoints (experiments
#: bucket).
OPTIMIZATION_PREFIX = "optimization/"

#: The folder SageMaker syncs with the checkpoint URI (and restores on a spot restart).
CHECKPOINT_LOCAL_PATH = f"{contract.DEFAULT_ROOT}/{contract.CHECKPOINT_DIR}"

#: Retries of the job on SageMaker internal errors (CreateTrainingJob allows 30).
JOB_RETRY_ATTEMPTS = 2

#: SageMaker job failures worth retrying the step for: capacity (spot too), limits, internal
#: errors. A bad problem file fails the execution at once.
STEP_RETRY_EXCEPTIONS = (
    "SageMaker.CAPACITY_ERROR",
    "SageMaker.JOB_INTERNAL_ERROR",
    "SageMaker.RESOURCE_LIMIT",
)

#: Where SageMaker writes training job logs (one group for the account and region).
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"

#: The only actions granted on ``"*"``: AWS has no resource-level permissions for them.
UNSCOPED_ACTIONS = frozenset(
    {"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData", *iam_policies.VPC_DESCRIBE_ACTIONS}
)


@dataclass(frozen=True)
class OptimizationPlatform:
    """The resolved Outputs one job is built from, as plain strings inside an ``apply``."""

    environment: str
    """The stack's environment: the pipeline is ``mlp-<environment>-opt-<name>``."""
    role_arn: str
    """The job's execution role."""
    image_uri: str
    """The training image (with OR-Tools)."""
    processed_bucket: str
    """Bucket of the problem files."""
    models_bucket: str
    """Bucket of the solutions."""
    experiments_bucket: str
    """Bucket of the checkpoints."""
    kms_key_arn: str
    """The platform key."""
    subnet_ids: Sequence[str]
    """Private subnets the job runs in."""
    security_group_id: str
    """The workload security group."""


def solution_prefix(pipeline_name: str) -> str:
    """Key prefix of a job's solutions in the models bucket."""
    return f"{OPTIMIZATION_PREFIX}{pipeline_name}/"


def checkpoint_prefix(pipeline_name: str) -> str:
    """Key prefix of a job's checkpoints in the experiments bucket (one folder per execution)."""
    return f"{OPTIMIZATION_PREFIX}{pipeline_name}/"


def metric_definitions() -> list[dict[str, str]]:
    """Every figure the workload prints, read from the job's log."""
    return [{"Name": name, "Regex": metric_regex(name)} for name in METRICS]


def solve_job_request(job: OptimizationJobConfig, platform: OptimizationPlatform) -> dict[str, Any]:
    """The ``CreateTrainingJob`` request of the ``Solve`` step."""
    name = optimization_name(platform.environment, job.name)
    resources: dict[str, Any] = {
        "InstanceType": job.instance_type,
        "InstanceCount": 1,
        "VolumeSizeInGB": job.volume_size_gb,
    }
    if job.encrypts_volume:
        resources["VolumeKmsKeyId"] = platform.kms_key_arn
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": job.max_runtime_seconds}
    if job.spot.enabled:
        # Includes the time spent waiting for spot capacity, so never below the runtime.
        stopping["MaxWaitTimeInSeconds"] = job.spot.max_wait_seconds
    return {
        # With a name in the step's arguments, SageMaker Pipelines uses it as the prefix of the
        # job names it generates: the pipeline role is scoped to exactly these jobs.
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": platform.image_uri,
            "TrainingInputMode": "File",
            "ContainerEntrypoint": list(ENTRYPOINT),
            "MetricDefinitions": metric_definitions(),
            "EnableSageMakerMetricsTimeSeries": True,
        },
        "HyperParameters": job.hyperparameters,
        "RoleArn": platform.role_arn,
        "InputDataConfig": [
            {
                "ChannelName": PROBLEM_CHANNEL,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": {"Get": f"Parameters.{PROBLEM_PARAMETER}"},
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "CompressionType": "None",
            }
        ],
        "OutputDataConfig": {
            "S3OutputPath": f"s3://{platform.models_bucket}/{solution_prefix(name)}",
            "KmsKeyId": platform.kms_key_arn,
        },
        "ResourceConfig": resources,
        "StoppingCondition": stopping,
        "EnableManagedSpotTraining": job.spot.enabled,
        "CheckpointConfig": {
            # One folder per execution: a spot restart resumes its own incumbent, a new
            # execution starts afresh.
            "S3Uri": execution_folder(
                f"s3://{platform.experiments_bucket}/{checkpoint_prefix(name)}"
            ),
            "LocalPath": CHECKPOINT_LOCAL_PATH,
        },
        "VpcConfig": {
            "SecurityGroupIds": [platform.security_group_id],
            "Subnets": list(platform.subnet_ids),
        },
        "EnableNetworkIsolation": True,
        "EnableInterContainerTrafficEncryption": False,  # one instance: no traffic between
        "RetryStrategy": {"MaximumRetryAttempts": JOB_RETRY_ATTEMPTS},
    }


def pipeline_description(job: OptimizationJobConfig) -> str:
    """What the pipeline does, as the console shows it."""
    return (
        f"Solves the {job.kind} problem under {job.problem} with OR-Tools "
        f"({job.workers} workers, {job.time_limits.total_seconds} s) on {job.instance_type}"
    )


def pipeline_definition(
    job: OptimizationJobConfig, platform: OptimizationPlatform
) -> dict[str, Any]:
    """The whole pipeline definition document (schema ``2020-12-01``)."""
    return {
        "Version": SCHEMA_VERSION,
        "Metadata": {},
        "Parameters": [
            {
                "Name": PROBLEM_PARAMETER,
                "Type": "String",
                "DefaultValue": f"s3://{platform.processed_bucket}/{job.problem}",
            }
        ],
        "Steps": [
            {
                "Name": SOLVE_STEP,
                "Type": "Training",
                "Arguments": solve_job_request(job, platform),
                "RetryPolicies": [
                    {
                        "ExceptionType": list(STEP_RETRY_EXCEPTIONS),
                        "IntervalSeconds": 60,
                        "BackoffRate": 2.0,
                        "MaxAttempts": 3,
                    }
                ],
            }
        ],
    }


def execution_role_policy(
    job: OptimizationJobConfig,
    platform: ResolvedPlatform,
    *,
    environment: str,
    processed_bucket: str,
    models_bucket: str,
    experiments_bucket: str,
    image_repository_arn: str,
) -> str:
    """The job's execution role: its problem prefix, its solutions, its checkpoints; no more."""
    name = optimization_name(environment, job.name)
    solutions = solution_prefix(name)
    checkpoints = checkpoint_prefix(name)
    log_group = platform.arn("logs", f"log-group:{TRAINING_LOG_GROUP}")
    statements: list[iam_policies.Statement] = [
        {
            "Sid": "ReadProblem",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": platform.s3_arn(processed_bucket, f"{job.problem}*"),
        },
        {
            # S3Prefix channels list their prefix before downloading it.
            "Sid": "ListProblem",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": platform.s3_arn(processed_bucket),
            "Condition": {"StringLike": {"s3:prefix": [f"{job.problem}*"]}},
        },
        {
            "Sid": "WriteSolutions",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
            "Resource": platform.s3_arn(models_bucket, f"{solutions}*"),
        },
        {
            # SageMaker uploads new checkpoints and restores them after a spot interruption.
            "Sid": "ReadWriteCheckpoints",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
            "Resource": platform.s3_arn(experiments_bucket, f"{checkpoints}*"),
        },
        {
            "Sid": "ListCheckpoints",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": platform.s3_arn(experiments_bucket),
            "Condition": {"StringLike": {"s3:prefix": [checkpoints, f"{checkpoints}*"]}},
        },
        iam_policies.kms_via_s3_statement(platform.kms_key_arn, platform.region),
        iam_policies.write_logs_statement("WriteJobLogs", [log_group]),
        {
            "Sid": "PublishJobMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",  # PutMetricData has no resource scope; the namespace condition is it
            "Condition": {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs*"}},
        },
        *iam_policies.ecr_pull_statements([image_repository_arn]),
        *platform.vpc_interface_statements(),
    ]
    if job.encrypts_volume:
        statements.append(
            {
                # EC2 encrypts the instance's volume with the key through a grant.
                "Sid": "EncryptJobVolumes",
                "Effect": "Allow",
                "Action": ["kms:CreateGrant"],
                "Resource": platform.kms_key_arn,
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            }
        )
    return iam_policies.policy_json(*statements)


def pipeline_role_policy(
    job: OptimizationJobConfig,
    platform: ResolvedPlatform,
    *,
    environment: str,
    execution_role_arn: str,
) -> str:
    """The pipeline's role: this job's training jobs, created only with the platform's rules.

    Conditions on CreateTrainingJob, so even an edited definition cannot drop the key, the VPC,
    the isolation, or pick another instance type or a longer runtime.
    """
    name = optimization_name(environment, job.name)
    jobs = [platform.arn("sagemaker", f"training-job/{name}-*")]
    equals: dict[str, object] = {"sagemaker:OutputKmsKey": platform.kms_key_arn}
    if job.encrypts_volume:
        equals["sagemaker:VolumeKmsKey"] = platform.kms_key_arn
    # Multivalued keys (lists in the request): every value must be the configured one.
    every = {
        "sagemaker:InstanceTypes": [job.instance_type],
        "sagemaker:VpcSubnets": sorted(platform.subnet_ids),
        "sagemaker:VpcSecurityGroupIds": [platform.security_group_id],
    }
    conditions: dict[str, dict[str, object]] = {
        "StringEquals": equals,
        "ForAllValues:StringEquals": dict(every),
        # ForAllValues holds for a request without the key too: require each.
        "Null": {key: "false" for key in every},
        "Bool": {"sagemaker:NetworkIsolation": "true"},
        "NumericLessThanEquals": {"sagemaker:MaxRuntimeInSeconds": job.max_runtime_seconds},
    }
    return iam_policies.policy_json(
        {
            "Sid": "CreateJobsWithGuardrails",
            "Effect": "Allow",
            "Action": "sagemaker:CreateTrainingJob",
            "Resource": jobs,
            "Condition": conditions,
        },
        {
            # Pipelines tags every job it starts with the execution that started it.
            "Sid": "TagJobs",
            "Effect": "Allow",
            "Action": "sagemaker:AddTags",
            "Resource": jobs,
        },
        {
            "Sid": "WatchAndStopJobs",
            "Effect": "Allow",
            "Action": ["sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"],
            "Resource": jobs,
        },
        iam_policies.pass_role_to_sagemaker_statement(
            "PassExecutionRoleToSageMaker", execution_role_arn
        ),
    )
