"""ServingModel: one SageMaker Model (one endpoint variant) with its own least-privilege role.

The image is either AWS's prebuilt inference container for the model's framework, running our
handlers from the source archive, or our own serving image from this account's ECR. The model is
an archive in the models bucket (``model_artifact``) or a registered version (``model``): then the
Model is built from its model package, after a :class:`ModelApproval` check that refuses a
version that is not Approved. Each model
gets a role of its own that can read exactly its model archive (and the code archive), decrypt
with the platform key through S3, pull its own image, write its endpoint's logs and capture, and
run in the platform's VPC: nothing more.

Network isolation is on wherever code and model are in the container before it starts: our own
image, and the PyTorch container (it loads our handlers from ``code/`` in the model archive). The
scikit-learn and XGBoost containers download ``SAGEMAKER_SUBMIT_DIRECTORY`` from S3 at start,
which isolation would forbid; they run in the VPC, whose only way out is the S3 gateway and the
interface endpoints (no internet gateway, no NAT).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.platform import PlatformContext
from components.serving.model_approval import ModelApproval
from components.serving.spec import RegisteredModelConfig, VariantConfig
from components.shared import iam_policies
from components.shared.images import (
    PREBUILT_REPOSITORIES,
    ContainerImage,
    resolve_image,
    tag_version,
)
from components.shared.resolved_platform import ResolvedPlatform, with_resolved_platform
from components.shared.service_role import sagemaker_role_with_policy
from components.shared.spec_rules import platform_name

#: Prebuilt repositories whose toolkit loads handlers only from ``code/`` inside model.tar.gz
#: (the PyTorch inference toolkit); they ignore ``SAGEMAKER_SUBMIT_DIRECTORY``.
CODE_IN_MODEL_ARCHIVE = frozenset({PREBUILT_REPOSITORIES["inference"]["pytorch"]})

#: Where the training pipelines write the models they register, in the models bucket (the
#: training layer's ``MODELS_PREFIX``; a test holds the two equal). A model built from a
#: registered version reads its artifact, a training job's output, from under it.
REGISTERED_ARTIFACTS_PREFIX = "training/"


def downloads_code(image: ContainerImage) -> bool:
    """Whether the container downloads our source archive from S3 when it starts.

    True for the scikit-learn and XGBoost containers; the PyTorch container reads the same
    files from ``code/`` inside the model archive, and our own image has them built in.
    """
    return image.is_prebuilt and image.framework_repository not in CODE_IN_MODEL_ARCHIVE


def model_image(variant: VariantConfig) -> ContainerImage:
    """The variant's container image, as its config names it.

    AWS's prebuilt container for its ``framework`` (at its ``framework_image_tag``, else the tag
    pinned in PREBUILT_FRAMEWORK_TAGS), or our own ``image``.
    """
    if variant.framework is not None and variant.framework_tag is not None:
        return ContainerImage.prebuilt(variant.framework, "inference", variant.framework_tag)
    assert variant.image is not None  # config validation requires one of the two
    return ContainerImage.ours(variant.image)


@dataclass(frozen=True)
class ServingModelArgs:
    """What a model needs beyond its variant's config and the platform, resolved by its layer."""

    endpoint_name: str
    """The endpoint (its full name) this model serves in: scopes its logs and capture."""
    code_archive_key: pulumi.Input[str] | None
    """Key of the layer's inference source archive in the models bucket (None when the layer
    built none); only a container that downloads it (:func:`downloads_code`) gets it."""


def model_package_group(environment: str, model: RegisteredModelConfig) -> str:
    """The model package group a registered version is in: ``mlp-<environment>-<group>``."""
    return platform_name(environment, model.group)


def model_package_arn(
    platform: PlatformContext, model: RegisteredModelConfig
) -> pulumi.Output[str]:
    """The registered version's ARN, ``...:model-package/mlp-<env>-<group>/<version>``."""
    return pulumi.Output.concat(
        "arn:",
        platform.partition,
        ":sagemaker:",
        platform.region,
        ":",
        platform.account_id,
        ":model-package/",
        model_package_group(platform.environment, model),
        f"/{model.version}",
    )


def model_execution_policy(
    platform: ResolvedPlatform,
    *,
    endpoint_name: str,
    models_bucket: str,
    readable_keys: list[str],
    capture_bucket: str,
    ecr_repository: str | None,
    in_vpc: bool,
) -> str:
    """The execution role's policy: each statement names its actions and resources exactly.

    ``in_vpc``: whether the model runs in the platform's VPC (and so creates network interfaces).
    """
    log_group = platform.arn("logs", f"log-group:/aws/sagemaker/Endpoints/{endpoint_name}")
    statements: list[iam_policies.Statement] = [
        {
            "Sid": "ReadModelAndCode",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [platform.s3_arn(models_bucket, key) for key in readable_keys],
        },
        {
            "Sid": "WriteCapture",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": platform.s3_arn(capture_bucket, f"{endpoint_name}/*"),
        },
        # Through S3 only: the key cannot be used directly by this role.
        iam_policies.kms_via_s3_statement(platform.kms_key_arn, platform.region),
        {
            "Sid": "WriteEndpointLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            "Resource": [log_group, f"{log_group}:log-stream:*"],
        },
        {
            "Sid": "PublishEndpointMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",  # PutMetricData has no resource scope; the namespace condition is it
            "Condition": {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints*"}},
        },
    ]
    if ecr_repository is not None:
        repository = platform.arn("ecr", f"repository/{ecr_repository}")
        statements += [
            {
                "Sid": "PullOwnImage",
                "Effect": "Allow",
                "Action": iam_policies.ECR_PULL_ACTIONS,
                "Resource": repository,
            },
            {
                "Sid": "EcrLogin",
                "Effect": "Allow",
                "Action": "ecr:GetAuthorizationToken",
                "Resource": "*",  # no resource-level permissions exist for this action
            },
        ]
    if in_vpc:
        statements += platform.vpc_interface_statements()
    return iam_policies.policy_json(*statements)


class ServingModel(pulumi.ComponentResource):
    """A SageMaker Model for one variant, with its execution role and policy."""

    model_name: pulumi.Output[str]
    """The model's auto-generated name (a new model gets a new name: create-before-destroy)."""
    role_arn: pulumi.Output[str]
    """The execution role."""
    role_name: pulumi.Output[str]
    """The execution role's name (for policies other layers attach, e.g. feature reads)."""
    image_uri: pulumi.Output[str]
    """The container image the model runs."""
    network_isolation: bool
    """Whether the container runs without any network access."""
    model_package_arn: pulumi.Output[str] | None
    """The registered version the model is built from, or None (a ``model_artifact``)."""

    def __init__(
        self,
        name: str,
        variant: VariantConfig,
        platform: PlatformContext,
        args: ServingModelArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Deploy the model of ``variant`` (and its role) into ``platform``."""
        super().__init__("mlplatform:serving:ServingModel", name, None, opts)
        image = model_image(variant)
        # Only a container that downloads our code may read (and is pointed at) the archive.
        code_key = args.code_archive_key if downloads_code(image) else None
        # Serverless inference cannot run in a VPC.
        in_vpc = not variant.is_serverless
        image_uri = resolve_image(
            image,
            region=platform.region,
            account_id=platform.account_id,
            partition=platform.partition,
            parent=self,
        ).uri

        role, policy = sagemaker_role_with_policy(
            f"{name}-role",
            f"{name}-policy",
            description=f"SageMaker execution role of a model of endpoint {args.endpoint_name}",
            account_id=platform.account_id,
            parent=self,
            policy=_policy_document(
                variant, image, code_key, platform, args.endpoint_name, in_vpc=in_vpc
            ),
        )

        # Isolated unless the container must download our code at start (isolation forbids it).
        self.network_isolation = not downloads_code(image)
        container, self.model_package_arn, approval = _primary_container(
            name, variant, image, image_uri, code_key, platform, args, parent=self
        )
        model = aws.sagemaker.Model(
            f"{name}-model",
            # No `name`: an auto-name makes a changed model a new model, created before the old
            # one is deleted, which the endpoint configuration then picks up (see DESIGN.md).
            execution_role_arn=role.arn,
            primary_container=container,
            enable_network_isolation=self.network_isolation,
            vpc_config=aws.sagemaker.ModelVpcConfigArgs(
                subnets=platform.subnet_ids,
                security_group_ids=[platform.workload_security_group_id],
            )
            if in_vpc
            else None,
            # SageMaker checks the role can read the artifact when the model is created.
            # Retained in every tier, like the endpoint configuration that references it: after a
            # rollback Pulumi deletes the replaced model on the next `up` (pulumi/pulumi#9979,
            # pulumi/pulumi#2948) while the endpoint still runs it; the gate's reaper
            # (workloads/ops/reaper.py) deletes it once no kept or used configuration does.
            # A registered version's Model also waits for its approval check: a refused version
            # changes nothing the endpoint runs on.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[policy, *approval], retain_on_delete=True
            ),
        )

        self.model_name = model.name
        self.role_arn = role.arn
        self.role_name = role.name
        self.image_uri = image_uri
        self.register_outputs(
            {
                "model_name": self.model_name,
                "role_arn": self.role_arn,
                "image_uri": image_uri,
                "model_package_arn": self.model_package_arn,
            }
        )


def _primary_container(
    name: str,
    variant: VariantConfig,
    image: ContainerImage,
    image_uri: pulumi.Output[str],
    code_key: pulumi.Input[str] | None,
    platform: PlatformContext,
    args: ServingModelArgs,
    *,
    parent: pulumi.Resource,
) -> tuple[aws.sagemaker.ModelPrimaryContainerArgs, pulumi.Output[str] | None, list[ModelApproval]]:
    """The Model's container, the registered version's ARN, and the check the Model waits for.

    From the model package (which names image and artifact) after its approval check for a
    registered version; else ``image_uri`` serving the variant's ``model_artifact``.
    """
    models_bucket = platform.buckets["models"].bucket
    environment = container_environment(name, image, platform.region, models_bucket, code_key)
    if variant.model is None:
        return (
            aws.sagemaker.ModelPrimaryContainerArgs(
                image=image_uri,
                mode="SingleModel",
                model_data_url=pulumi.Output.concat(
                    "s3://", models_bucket, "/", model_artifact_keys(variant)
                ),
                environment=environment,
            ),
            None,
            [],
        )
    package_arn = model_package_arn(platform, variant.model)
    approval = _approval(f"{name}-approval", variant, image, package_arn, platform, args, parent)
    container = aws.sagemaker.ModelPrimaryContainerArgs(
        model_package_name=package_arn, environment=environment
    )
    return container, package_arn, [approval]


def _approval(
    name: str,
    variant: VariantConfig,
    image: ContainerImage,
    package_arn: pulumi.Output[str],
    platform: PlatformContext,
    args: ServingModelArgs,
    parent: pulumi.Resource,
) -> ModelApproval:
    """The check that the registered version ``variant`` deploys is Approved (and servable)."""
    assert variant.model is not None  # only variants of registered versions get a check
    return ModelApproval(
        name,
        endpoint_name=args.endpoint_name,
        variant_name=variant.name,
        group_name=model_package_group(platform.environment, variant.model),
        version=variant.model.version,
        package_arn=package_arn,
        region=platform.region,
        framework=variant.framework,
        serving_version=tag_version(image.tag) if image.is_prebuilt and image.tag else None,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def model_artifact_keys(variant: VariantConfig) -> str:
    """The key (pattern) of the model archive the variant's role may read.

    Its ``model_artifact``; for a registered version every training output (the package names
    one of them, which only the deploy-time Describe knows).
    """
    if variant.model is not None:
        return f"{REGISTERED_ARTIFACTS_PREFIX}*"
    assert variant.model_artifact is not None  # config validation requires one of the two
    return variant.model_artifact


def _policy_document(
    variant: VariantConfig,
    image: ContainerImage,
    code_key: pulumi.Input[str] | None,
    platform: PlatformContext,
    endpoint_name: str,
    *,
    in_vpc: bool,
) -> pulumi.Output[str]:
    """The execution policy once the platform's outputs are known (see model_execution_policy)."""
    readable = [pulumi.Output.from_input(model_artifact_keys(variant))]
    if code_key is not None:
        readable.append(pulumi.Output.from_input(code_key))
    return with_resolved_platform(
        platform,
        lambda resolved, values: model_execution_policy(
            resolved,
            endpoint_name=endpoint_name,
            models_bucket=values["models_bucket"],
            readable_keys=list(values["readable"]),
            capture_bucket=values["capture_bucket"],
            ecr_repository=image.ecr_repository,
            in_vpc=in_vpc,
        ),
        models_bucket=platform.buckets["models"].bucket,
        capture_bucket=platform.buckets["capture"].bucket,
        readable=pulumi.Output.all(*readable),
    )


def container_environment(
    name: str,
    image: ContainerImage,
    region: str,
    models_bucket: pulumi.Input[str],
    code_key: pulumi.Input[str] | None,
) -> dict[str, pulumi.Input[str]]:
    """The container's environment: where the prebuilt toolkit finds our handlers.

    Raises ValueError (naming the model ``name``) when the container downloads our code archive
    and ``code_key`` is None.
    """
    environment: dict[str, pulumi.Input[str]] = {
        "SAGEMAKER_REGION": region,
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
    }
    if image.is_prebuilt:
        # The prebuilt containers import this module (from code/ in the model archive for
        # PyTorch, from the downloaded source archive for the others).
        environment["SAGEMAKER_PROGRAM"] = "inference.py"
    if downloads_code(image):
        if code_key is None:
            raise ValueError(
                f"{name}: the {image.framework_repository} container needs the code archive"
            )
        environment["SAGEMAKER_SUBMIT_DIRECTORY"] = pulumi.Output.concat(
            "s3://", models_bucket, "/", code_key
        )
    return environment
