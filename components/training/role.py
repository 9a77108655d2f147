"""TrainingRole: the execution role every training job of a stack runs as, least privilege.

What a training job does, and so all its role may do:

* read the training data (the processed bucket) and the training code archive;
* write the trained model under ``training/`` of the models bucket and sync checkpoints under
  ``checkpoints/`` of the experiments bucket; the platform key only through S3;
* with an evaluating pipeline, the evaluation jobs too (same role): read the trained models under
  ``training/``, write ``evaluation.json`` under ``evaluation/`` of the models bucket, and log
  under ``/aws/sagemaker/ProcessingJobs``; where a threshold compares with the approved version,
  list and describe the versions of that pipeline's group and read the reports under
  ``evaluation/``;
* give its volumes the platform key (a grant for the EC2 volume, nothing else), on instance
  types that have volumes to encrypt;
* pull its images (ours, and AWS's prebuilt training repositories, each by ARN);
* write its logs under ``/aws/sagemaker/TrainingJobs`` and its metrics to that namespace;
* run in the platform's VPC (network interfaces in its subnets and security group only);
* log to this stack's MLflow tracking server: named actions on that server's ARN only, and its
  artifact prefix (MLflow clients upload artifacts straight to S3).

Creating and stopping jobs is not the job's business: the pipelines' own roles do that.
No managed policy (``AmazonSageMakerFullAccess`` grants far more), no wildcard action, and ``"*"``
resources only where AWS offers no resource scope (:data:`UNSCOPED_ACTIONS`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.platform import PlatformContext
from components.shared import iam_policies
from components.shared.resolved_platform import ResolvedPlatform, with_resolved_platform
from components.shared.service_role import sagemaker_role_with_policy
from components.training.experiment_tracking import (
    ARTIFACT_PREFIX,
    MLFLOW_RUN_ACTIONS,
    artifact_statements,
    mlflow_statements,
)
from components.training.pipeline_definition import CHECKPOINTS_PREFIX, MODELS_PREFIX
from components.training.pipeline_steps import EVALUATIONS_PREFIX

#: Where SageMaker writes training job logs (one group for the whole account and region).
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"

#: Where SageMaker writes processing job logs (the evaluation jobs').
PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"

#: The only actions granted on ``"*"``: AWS has no resource-level permissions for them.
UNSCOPED_ACTIONS = frozenset(
    {"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData", *iam_policies.VPC_DESCRIBE_ACTIONS}
)


def training_execution_policy(
    platform: ResolvedPlatform,
    *,
    processed_bucket: str,
    models_bucket: str,
    experiments_bucket: str,
    code_archive_key: str,
    image_repository_arns: list[str],
    encrypts_volumes: bool,
    tracking_server_arn: str | None,
    evaluates: bool = False,
    baseline_groups: tuple[str, ...] = (),
) -> str:
    """The execution role's policy: each statement names its actions and resources exactly."""
    kms_key_arn = platform.kms_key_arn
    log_groups = [TRAINING_LOG_GROUP, *([PROCESSING_LOG_GROUP] if evaluates else [])]
    log_group_arns = [platform.arn("logs", f"log-group:{group}") for group in log_groups]
    statements: list[iam_policies.Statement] = [
        {
            "Sid": "ReadTrainingData",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": platform.s3_arn(processed_bucket, "*"),
        },
        {
            # S3Prefix channels list their prefix before downloading it.
            "Sid": "ListTrainingData",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": platform.s3_arn(processed_bucket),
        },
        {
            "Sid": "ReadTrainingCode",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": platform.s3_arn(models_bucket, code_archive_key),
        },
        {
            "Sid": "ListTrainingCode",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": platform.s3_arn(models_bucket),
            "Condition": {"StringEquals": {"s3:prefix": code_archive_key}},
        },
        {
            "Sid": "WriteModels",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
            "Resource": platform.s3_arn(models_bucket, f"{MODELS_PREFIX}*"),
        },
        *artifact_statements(
            partition=platform.partition,
            bucket=experiments_bucket,
            prefix=CHECKPOINTS_PREFIX,
            sid="Checkpoints",
        ),
        iam_policies.kms_via_s3_statement(kms_key_arn, platform.region),
        iam_policies.write_logs_statement("WriteTrainingLogs", log_group_arns),
        {
            "Sid": "PublishTrainingMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",  # PutMetricData has no resource scope; the namespace condition is it
            "Condition": {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs*"}},
        },
        *iam_policies.ecr_pull_statements(image_repository_arns),
        *platform.vpc_interface_statements(),
    ]
    if evaluates:
        statements += evaluation_statements(platform, models_bucket)
    if baseline_groups:
        statements += baseline_statements(platform, models_bucket, baseline_groups)
    if encrypts_volumes:
        statements.append(
            {
                # EC2 encrypts the instances' volumes with the key through a grant. A volume key
                # needs kms:CreateGrant alone (AWS's execution-role permissions for training,
                # tuning and processing jobs); kms:DescribeKey never carries the grant condition.
                # https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html
                "Sid": "EncryptTrainingVolumes",
                "Effect": "Allow",
                "Action": ["kms:CreateGrant"],
                "Resource": kms_key_arn,
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            }
        )
    if tracking_server_arn is not None:
        statements += [
            *mlflow_statements(tracking_server_arn, MLFLOW_RUN_ACTIONS),
            *artifact_statements(
                partition=platform.partition,
                bucket=experiments_bucket,
                prefix=ARTIFACT_PREFIX,
                sid="MlflowArtifacts",
            ),
        ]
    return iam_policies.policy_json(*statements)


def evaluation_statements(
    platform: ResolvedPlatform, models_bucket: str
) -> list[iam_policies.Statement]:
    """What an evaluation job reads and writes: the trained models, then its report."""
    return [
        {
            "Sid": "ReadTrainedModels",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": platform.s3_arn(models_bucket, f"{MODELS_PREFIX}*"),
        },
        {
            # The model input is an S3Prefix: SageMaker lists it before downloading.
            "Sid": "ListTrainedModels",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": platform.s3_arn(models_bucket),
            "Condition": {"StringLike": {"s3:prefix": f"{MODELS_PREFIX}*"}},
        },
        {
            "Sid": "WriteEvaluations",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
            "Resource": platform.s3_arn(models_bucket, f"{EVALUATIONS_PREFIX}*"),
        },
    ]


def baseline_statements(
    platform: ResolvedPlatform, models_bucket: str, groups: tuple[str, ...]
) -> list[iam_policies.Statement]:
    """What comparing with a group's approved version reads: its versions, then their reports."""
    return [
        {
            "Sid": "ReadApprovedVersions",
            "Effect": "Allow",
            "Action": ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"],
            "Resource": [platform.arn("sagemaker", f"model-package/{group}/*") for group in groups],
        },
        {
            "Sid": "ReadEvaluations",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": platform.s3_arn(models_bucket, f"{EVALUATIONS_PREFIX}*"),
        },
    ]


@dataclass(frozen=True)
class TrainingRoleArgs:
    """What the TrainingRole's policy needs besides the platform: what the layer built and derived.

    The code archive's key and the image repositories are Outputs of the layer's own resources;
    whether volumes are encrypted follows from the pipelines' instance types.
    """

    code_archive_key: pulumi.Input[str]
    """Key of the training source archive in the models bucket."""
    image_repository_arns: list[pulumi.Input[str]]
    """Every ECR repository a training image comes from."""
    encrypts_volumes: bool
    """Whether any job gives its volumes the platform key."""
    tracking_server_arn: pulumi.Input[str] | None = None
    """The stack's MLflow tracking server; None when there is none."""
    evaluates: bool = False
    """Whether any pipeline evaluates its models (its processing jobs run as this role)."""
    baseline_groups: tuple[str, ...] = ()
    """The model package groups whose approved versions an evaluation compares with."""

    def __post_init__(self) -> None:
        if not self.image_repository_arns:
            raise ValueError("image_repository_arns: at least one repository is required")


class TrainingRole(pulumi.ComponentResource):
    """The SageMaker execution role of the stack's training jobs, with its inline policy."""

    role_arn: pulumi.Output[str]
    """The role's ARN (``RoleArn`` of every training job)."""
    role_name: pulumi.Output[str]
    """The role's name."""
    policy: aws.iam.RolePolicy
    """The role's policy (jobs must not start before it exists)."""

    def __init__(
        self,
        name: str,
        platform: PlatformContext,
        args: TrainingRoleArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlplatform:training:TrainingRole", name, None, opts)
        buckets = platform.buckets
        document = with_resolved_platform(
            platform,
            lambda resolved, values: training_execution_policy(
                resolved,
                processed_bucket=values["processed"],
                models_bucket=values["models"],
                experiments_bucket=values["experiments"],
                code_archive_key=values["code"],
                image_repository_arns=list(values["repositories"]),
                encrypts_volumes=args.encrypts_volumes,
                tracking_server_arn=values["tracking"],
                evaluates=args.evaluates,
                baseline_groups=args.baseline_groups,
            ),
            processed=buckets["processed"].bucket,
            models=buckets["models"].bucket,
            experiments=buckets["experiments"].bucket,
            code=args.code_archive_key,
            repositories=pulumi.Output.all(*args.image_repository_arns),
            tracking=args.tracking_server_arn,
        )
        role, self.policy = sagemaker_role_with_policy(
            f"{name}-role",
            f"{name}-policy",
            description="SageMaker execution role of the platform's training jobs",
            account_id=platform.account_id,
            parent=self,
            policy=document,
        )
        self.role_arn = role.arn
        self.role_name = role.name
        self.register_outputs({"role_arn": self.role_arn, "role_name": self.role_name})
