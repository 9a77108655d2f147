"""TrainingPipeline: training as a deployable definition, a SageMaker Pipeline per model.

``pulumi up`` deploys the definition (:mod:`components.training.pipeline_definition`); a run is a
pipeline execution (``aws sagemaker start-pipeline-execution --pipeline-name mlp-<env>-<name>``),
which may override the ``TrainData`` / ``ValidationData`` (and ``TestData``) parameters.

SageMaker Pipelines runs the steps as the pipeline's own role, which may do exactly this:

* create, describe and stop this pipeline's training job (the step names it, so SageMaker names
  the jobs ``<pipeline>-<execution>-...``), or its tuning job and the training jobs that one runs
  (SageMaker names those ``pipelines-...``: tuning steps take no name);
* only in the platform's subnets and security group, with the platform key for the output, and
  with isolation and inter-container encryption where the definition asks for them: conditions
  on the create calls, so even an edited definition cannot drop them;
* with an evaluation: create, describe and stop its evaluation jobs (``<pipeline>-...``
  processing jobs), with the same guardrails and the volume key, and network isolation unless a
  threshold compares with the approved version (the job then reads the registry);
* with a registry: create model package versions in its own group only, and only with the
  approval status the config sets (``PendingManualApproval`` unless ``auto_approve``);
* tag what it creates, and pass the training execution role, to SageMaker only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.platform import PlatformContext
from components.shared import iam_policies
from components.shared.images import (
    PREBUILT_FRAMEWORK_TAGS,
    PREBUILT_TRAINING_TAGS,
    PYTORCH_GPU_TRAINING_TAG,
    ContainerImage,
)
from components.shared.service_role import sagemaker_role_with_policy
from components.training.pipeline_definition import (
    TrainingPlatform,
    pipeline_definition,
    pipeline_description,
    pipeline_name,
)
from components.training.pipeline_steps import (
    approval_status,
    model_group_name,
    serving_framework,
)
from components.training.spec import TrainingPipelineConfig

#: Name prefix SageMaker Pipelines gives the jobs of steps that carry no name of their own.
GENERATED_JOB_PREFIX = "pipelines-"


def _guardrails(
    kms_key_arn: str, subnet_ids: list[str], security_group_id: str, flags: dict[str, str]
) -> dict[str, dict[str, object]]:
    """The conditions every job the role creates must meet: the key, the VPC, the flags."""
    guardrails: dict[str, dict[str, object]] = {
        "StringEquals": {"sagemaker:OutputKmsKey": kms_key_arn},
        "ForAllValues:StringEquals": {
            "sagemaker:VpcSubnets": sorted(subnet_ids),
            "sagemaker:VpcSecurityGroupIds": [security_group_id],
        },
        # ForAllValues holds for a request without subnets too: require them.
        "Null": {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"},
    }
    if flags:
        guardrails["Bool"] = dict(flags)
    return guardrails


def evaluation_statements(
    pipeline: TrainingPipelineConfig,
    *,
    name: str,
    sagemaker: str,
    kms_key_arn: str,
    subnet_ids: list[str],
    security_group_id: str,
) -> list[iam_policies.Statement]:
    """The evaluation step's: its processing jobs, isolated in the VPC with the platform key."""
    evaluation = pipeline.evaluation
    if evaluation is None:
        return []
    jobs = [f"{sagemaker}:processing-job/{name}-*"]
    # Isolated, unless it reads the approved version from the registry (VPC endpoints only).
    flags = {} if evaluation.compares_with_approved else {"sagemaker:NetworkIsolation": "true"}
    conditions = _guardrails(kms_key_arn, subnet_ids, security_group_id, flags)
    if evaluation.encrypts_volume:
        conditions["StringEquals"]["sagemaker:VolumeKmsKey"] = kms_key_arn
    return [
        {
            "Sid": "CreateEvaluationJobsWithGuardrails",
            "Effect": "Allow",
            "Action": "sagemaker:CreateProcessingJob",
            "Resource": jobs,
            "Condition": conditions,
        },
        {
            "Sid": "TagEvaluationJobs",
            "Effect": "Allow",
            "Action": "sagemaker:AddTags",
            "Resource": jobs,
        },
        {
            "Sid": "WatchAndStopEvaluationJobs",
            "Effect": "Allow",
            "Action": ["sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob"],
            "Resource": jobs,
        },
    ]


def registration_statements(
    pipeline: TrainingPipelineConfig, *, environment: str, sagemaker: str
) -> list[iam_policies.Statement]:
    """The register step's: new versions in its own group only, with the configured approval."""
    if pipeline.registry is None:
        return []
    group = model_group_name(environment, pipeline)
    versions = f"{sagemaker}:model-package/{group}/*"
    return [
        {
            # CreateModelPackage authorizes on the new version and on its group.
            "Sid": "RegisterVersionsInItsGroup",
            "Effect": "Allow",
            "Action": "sagemaker:CreateModelPackage",
            "Resource": [versions, f"{sagemaker}:model-package-group/{group}"],
            # Even an edited definition cannot approve what config leaves to a person.
            "Condition": {
                "StringEquals": {"sagemaker:ModelApprovalStatus": approval_status(pipeline)}
            },
        },
        {
            "Sid": "TagVersions",
            "Effect": "Allow",
            "Action": "sagemaker:AddTags",
            "Resource": versions,
        },
    ]


def pipeline_role_policy(
    *,
    pipeline: TrainingPipelineConfig,
    environment: str,
    partition: str,
    region: str,
    account_id: str,
    execution_role_arn: str,
    kms_key_arn: str,
    subnet_ids: list[str],
    security_group_id: str,
) -> str:
    """The pipeline role's policy: its own jobs, created only with the platform's guardrails."""
    sagemaker = f"arn:{partition}:sagemaker:{region}:{account_id}"
    name = pipeline_name(environment, pipeline)
    flags = {}
    if pipeline.network_isolation:
        flags["sagemaker:NetworkIsolation"] = "true"
    if pipeline.instance_count > 1:
        flags["sagemaker:InterContainerTrafficEncryption"] = "true"
    guardrails = _guardrails(kms_key_arn, subnet_ids, security_group_id, flags)
    if pipeline.tuning is None:
        created = [f"{sagemaker}:training-job/{name}-*"]
        create_action = "sagemaker:CreateTrainingJob"
        watch = {
            "Action": ["sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"],
            "Resource": created,
        }
    else:
        created = [f"{sagemaker}:hyper-parameter-tuning-job/{GENERATED_JOB_PREFIX}*"]
        create_action = "sagemaker:CreateHyperParameterTuningJob"
        watch = {
            "Action": [
                "sagemaker:DescribeHyperParameterTuningJob",
                "sagemaker:DescribeTrainingJob",
                "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
                "sagemaker:StopHyperParameterTuningJob",
            ],
            "Resource": [*created, f"{sagemaker}:training-job/{GENERATED_JOB_PREFIX}*"],
        }
    return iam_policies.policy_json(
        {
            "Sid": "CreateJobsWithGuardrails",
            "Effect": "Allow",
            "Action": create_action,
            "Resource": created,
            "Condition": guardrails,
        },
        {
            # Pipelines tags every job it starts with the execution that started it.
            "Sid": "TagJobs",
            "Effect": "Allow",
            "Action": "sagemaker:AddTags",
            "Resource": created,
        },
        {"Sid": "WatchAndStopJobs", "Effect": "Allow", **watch},
        *evaluation_statements(
            pipeline,
            name=name,
            sagemaker=sagemaker,
            kms_key_arn=kms_key_arn,
            subnet_ids=subnet_ids,
            security_group_id=security_group_id,
        ),
        *registration_statements(pipeline, environment=environment, sagemaker=sagemaker),
        iam_policies.pass_role_to_sagemaker_statement(
            "PassExecutionRoleToSageMaker", execution_role_arn
        ),
    )


@dataclass(frozen=True)
class TrainingPipelineArgs:
    """What one TrainingPipeline uses besides its spec and the platform: Outputs of the layer."""

    execution_role_arn: pulumi.Input[str]
    """The role the training jobs run as."""
    image_uri: pulumi.Input[str]
    """The training container image, resolved from the pipeline's image setting."""
    code_archive_key: pulumi.Input[str]
    """Key of the training source archive in the models bucket."""
    tracking_server_arn: pulumi.Input[str] | None = None
    """The MLflow tracking server; set exactly when the pipeline tracks experiments."""
    serving_image_uri: pulumi.Input[str] | None = None
    """The registered model's serving container; set exactly when the pipeline registers."""
    code_archive_sha256: str | None = None
    """The code archive's digest, recorded on each registered version."""


class TrainingPipeline(pulumi.ComponentResource):
    """A SageMaker Pipeline that trains (or tunes) one model, and the role it runs as."""

    pipeline_name: str
    """The pipeline's name (``mlp-<env>-<name>``)."""
    pipeline_arn: pulumi.Output[str]
    """The pipeline's ARN."""
    role_arn: pulumi.Output[str]
    """The role SageMaker Pipelines assumes to run the step."""
    step_type: str
    """``Training`` or ``Tuning``: the first step."""

    def __init__(
        self,
        name: str,
        pipeline: TrainingPipelineConfig,
        platform: PlatformContext,
        args: TrainingPipelineArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlplatform:training:TrainingPipeline", name, None, opts)
        self.pipeline_name = pipeline_name(platform.environment, pipeline)
        self.step_type = "Training" if pipeline.tuning is None else "Tuning"

        role, policy = sagemaker_role_with_policy(
            f"{name}-role",
            f"{name}-policy",
            description=f"Lets SageMaker Pipelines run {self.pipeline_name}'s jobs",
            account_id=platform.account_id,
            parent=self,
            policy=pulumi.Output.all(
                partition=platform.partition,
                account=platform.account_id,
                execution_role=args.execution_role_arn,
                key=platform.kms_key_arn,
                subnets=platform.subnet_ids,
                security_group=platform.workload_security_group_id,
            ).apply(
                lambda values: pipeline_role_policy(
                    pipeline=pipeline,
                    environment=platform.environment,
                    partition=values["partition"],
                    region=platform.region,
                    account_id=values["account"],
                    execution_role_arn=values["execution_role"],
                    kms_key_arn=values["key"],
                    subnet_ids=list(values["subnets"]),
                    security_group_id=values["security_group"],
                )
            ),
        )
        pipeline_resource = aws.sagemaker.Pipeline(
            f"{name}-pipeline",
            # A fixed name: executions are started by it.
            pipeline_name=self.pipeline_name,
            pipeline_display_name=self.pipeline_name,
            pipeline_description=pipeline_description(pipeline),
            role_arn=role.arn,
            pipeline_definition=definition_json(pipeline, platform, args),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.pipeline_arn = pipeline_resource.arn
        self.role_arn = role.arn
        self.register_outputs(self.exports())

    def exports(self) -> dict[str, object]:
        """The pipeline's outputs as the stack exports them."""
        return {
            "name": self.pipeline_name,
            "arn": self.pipeline_arn,
            "role_arn": self.role_arn,
            "step": self.step_type,
        }


def definition_json(
    pipeline: TrainingPipelineConfig, platform: PlatformContext, args: TrainingPipelineArgs
) -> pulumi.Output[str]:
    """The pipeline definition as SageMaker takes it (JSON), once the Outputs it names resolve."""
    buckets = platform.buckets
    return pulumi.Output.all(
        role=args.execution_role_arn,
        image=args.image_uri,
        processed=buckets["processed"].bucket,
        models=buckets["models"].bucket,
        experiments=buckets["experiments"].bucket,
        code=args.code_archive_key,
        key=platform.kms_key_arn,
        subnets=platform.subnet_ids,
        security_group=platform.workload_security_group_id,
        tracking=args.tracking_server_arn,
        serving_image=args.serving_image_uri,
    ).apply(
        lambda values: json.dumps(
            pipeline_definition(
                pipeline,
                TrainingPlatform(
                    environment=platform.environment,
                    region=platform.region,
                    role_arn=values["role"],
                    image_uri=values["image"],
                    processed_bucket=values["processed"],
                    models_bucket=values["models"],
                    experiments_bucket=values["experiments"],
                    code_archive_key=values["code"],
                    kms_key_arn=values["key"],
                    subnet_ids=list(values["subnets"]),
                    security_group_id=values["security_group"],
                    tracking_server_arn=values["tracking"],
                    serving_image_uri=values["serving_image"],
                    code_archive_sha256=args.code_archive_sha256,
                ),
            ),
            sort_keys=True,
        )
    )


def training_image(pipeline: TrainingPipelineConfig) -> ContainerImage:
    """The pipeline's image: a prebuilt framework container (GPU tag on GPUs) or our own."""
    if pipeline.framework is None:
        assert pipeline.image is not None  # the spec requires one of the two
        return ContainerImage.ours(pipeline.image)
    tag = pipeline.framework_image_tag
    if tag is None:
        gpu = pipeline.framework == "pytorch" and pipeline.uses_gpu
        tag = PYTORCH_GPU_TRAINING_TAG if gpu else PREBUILT_TRAINING_TAGS[pipeline.framework]
    return ContainerImage.prebuilt(pipeline.framework, "training", tag)


def serving_image(pipeline: TrainingPipelineConfig) -> ContainerImage | None:
    """The container a registered version is served with: AWS's inference image of its framework.

    The training tag where the pipeline names a prebuilt one (the framework's training and
    inference tags match), else the framework's default inference tag; None without a registry.
    """
    if pipeline.registry is None:
        return None
    framework = serving_framework(pipeline)
    tag = pipeline.framework_image_tag or PREBUILT_FRAMEWORK_TAGS[framework]
    return ContainerImage.prebuilt(framework, "inference", tag)
