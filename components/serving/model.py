"""ServingModel: one SageMaker Model (one endpoint variant) with its own least-privilege role.

The image is either AWS's prebuilt inference container for the model's framework, running our
handlers from the source archive, or our own serving image from this account's ECR. Each model
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

from components.shared import iam_policies
from components.shared.service_role import service_role
from components.training.repositories import repository_url

#: AWS's prebuilt inference repositories per framework (``get_prebuilt_ecr_image``).
PREBUILT_REPOSITORIES = {
    "sklearn": "sagemaker-scikit-learn",
    "xgboost": "sagemaker-xgboost",
    "pytorch": "pytorch-inference",
}

#: Prebuilt repositories whose toolkit loads handlers only from ``code/`` inside model.tar.gz
#: (the PyTorch inference toolkit); they ignore ``SAGEMAKER_SUBMIT_DIRECTORY``.
CODE_IN_MODEL_ARCHIVE = frozenset({"pytorch-inference"})


@dataclass(frozen=True)
class ModelImage:
    """Where a model's container image comes from: exactly one of the two fields is set."""

    framework_repository: str | None = None
    """An AWS prebuilt inference repository (``sagemaker-scikit-learn``, ...)."""
    framework_tag: str | None = None
    """The prebuilt image's tag."""
    ecr_repository: str | None = None
    """Our own image's repository in this account."""
    ecr_tag: str | None = None
    """Our own image's tag."""

    def __post_init__(self) -> None:
        prebuilt = self.framework_repository is not None
        own = self.ecr_repository is not None
        if prebuilt == own:
            raise ValueError(
                "ModelImage: set exactly one of framework_repository and ecr_repository"
            )

    @property
    def is_prebuilt(self) -> bool:
        """Whether this is an AWS prebuilt framework container."""
        return self.framework_repository is not None

    @property
    def downloads_code(self) -> bool:
        """Whether the container downloads our source archive from S3 when it starts.

        True for the scikit-learn and XGBoost containers; the PyTorch container reads the same
        files from ``code/`` inside the model archive, and our own image has them built in.
        """
        return self.is_prebuilt and self.framework_repository not in CODE_IN_MODEL_ARCHIVE


@dataclass(frozen=True)
class ServingModelArgs:
    """Inputs of one ServingModel."""

    endpoint_name: str
    """The endpoint (its full name) this model serves in: scopes its logs and capture."""
    image: ModelImage
    """The container image."""
    models_bucket: pulumi.Input[str]
    """The models bucket's name."""
    model_artifact_key: str
    """Key of the model archive in the models bucket."""
    code_archive_key: pulumi.Input[str] | None
    """Key of our source archive in the models bucket (prebuilt containers only)."""
    capture_bucket: pulumi.Input[str]
    """The capture bucket's name."""
    kms_key_arn: pulumi.Input[str]
    """The platform key (artifacts and capture are encrypted with it)."""
    subnet_ids: pulumi.Input[list[str]]
    """The private subnets the model runs in."""
    security_group_id: pulumi.Input[str]
    """The workload security group."""
    vpc_id: pulumi.Input[str]
    """The VPC of those subnets (scopes the network-interface permissions)."""
    in_vpc: bool
    """Run in the VPC (serverless variants cannot)."""
    region: str
    """The stack's region."""
    account_id: pulumi.Input[str]
    """The stack's account."""
    partition: pulumi.Input[str]
    """The stack's partition."""


def model_execution_policy(
    *,
    partition: str,
    region: str,
    account_id: str,
    endpoint_name: str,
    models_bucket: str,
    readable_keys: list[str],
    capture_bucket: str,
    kms_key_arn: str,
    ecr_repository: str | None,
    vpc_id: str | None,
    subnet_ids: list[str],
    security_group_id: str | None,
) -> str:
    """The execution role's policy: each statement names its actions and resources exactly."""
    logs = f"arn:{partition}:logs:{region}:{account_id}"
    log_group = f"{logs}:log-group:/aws/sagemaker/Endpoints/{endpoint_name}"
    statements: list[iam_policies.Statement] = [
        {
            "Sid": "ReadModelAndCode",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [f"arn:{partition}:s3:::{models_bucket}/{key}" for key in readable_keys],
        },
        {
            "Sid": "WriteCapture",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": f"arn:{partition}:s3:::{capture_bucket}/{endpoint_name}/*",
        },
        # Through S3 only: the key cannot be used directly by this role.
        iam_policies.kms_via_s3_statement(kms_key_arn, region),
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
        repository = f"arn:{partition}:ecr:{region}:{account_id}:repository/{ecr_repository}"
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
    if vpc_id is not None and security_group_id is not None:
        statements += iam_policies.vpc_interface_statements(
            partition=partition,
            region=region,
            account_id=account_id,
            vpc_id=vpc_id,
            subnet_ids=subnet_ids,
            security_group_id=security_group_id,
        )
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

    def __init__(
        self, name: str, args: ServingModelArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlplatform:serving:ServingModel", name, None, opts)
        image = args.image
        child = pulumi.ResourceOptions(parent=self)
        if image.is_prebuilt:
            prebuilt = aws.sagemaker.get_prebuilt_ecr_image_output(
                repository_name=image.framework_repository,
                image_tag=image.framework_tag,
                region=args.region,
                opts=pulumi.InvokeOutputOptions(parent=self),
            )
            image_uri: pulumi.Output[str] = prebuilt.registry_path
        else:
            image_uri = pulumi.Output.concat(
                repository_url(args.account_id, args.region, image.ecr_repository or ""),
                ":",
                image.ecr_tag or "",
            )

        role = service_role(
            f"{name}-role",
            service="sagemaker.amazonaws.com",
            description=f"SageMaker execution role of a model of endpoint {args.endpoint_name}",
            account_id=args.account_id,
            opts=child,
        )
        readable = [pulumi.Output.from_input(args.model_artifact_key)]
        if args.code_archive_key is not None:
            readable.append(pulumi.Output.from_input(args.code_archive_key))
        policy_document = pulumi.Output.all(
            partition=args.partition,
            account=args.account_id,
            models_bucket=args.models_bucket,
            capture_bucket=args.capture_bucket,
            key=args.kms_key_arn,
            vpc=args.vpc_id,
            subnets=args.subnet_ids,
            security_group=args.security_group_id,
            readable=pulumi.Output.all(*readable),
        ).apply(
            lambda values: model_execution_policy(
                partition=values["partition"],
                region=args.region,
                account_id=values["account"],
                endpoint_name=args.endpoint_name,
                models_bucket=values["models_bucket"],
                readable_keys=list(values["readable"]),
                capture_bucket=values["capture_bucket"],
                kms_key_arn=values["key"],
                ecr_repository=image.ecr_repository,
                vpc_id=values["vpc"] if args.in_vpc else None,
                subnet_ids=list(values["subnets"]),
                security_group_id=values["security_group"] if args.in_vpc else None,
            )
        )
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=policy_document,
            opts=pulumi.ResourceOptions(parent=role),
        )

        environment: dict[str, pulumi.Input[str]] = {
            "SAGEMAKER_REGION": args.region,
            "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        }
        if image.is_prebuilt:
            # The prebuilt containers import this module (from code/ in the model archive for
            # PyTorch, from the downloaded source archive for the others).
            environment["SAGEMAKER_PROGRAM"] = "inference.py"
        if image.downloads_code:
            if args.code_archive_key is None:
                raise ValueError(
                    f"{name}: the {image.framework_repository} container needs the code archive"
                )
            environment["SAGEMAKER_SUBMIT_DIRECTORY"] = pulumi.Output.concat(
                "s3://", args.models_bucket, "/", args.code_archive_key
            )
        # Isolated unless the container must download our code at start (isolation forbids it).
        self.network_isolation = not image.downloads_code
        model = aws.sagemaker.Model(
            f"{name}-model",
            # No `name`: an auto-name makes a changed model a new model, created before the old
            # one is deleted, which the endpoint configuration then picks up (see DESIGN.md).
            execution_role_arn=role.arn,
            primary_container=aws.sagemaker.ModelPrimaryContainerArgs(
                image=image_uri,
                mode="SingleModel",
                model_data_url=pulumi.Output.concat(
                    "s3://", args.models_bucket, "/", args.model_artifact_key
                ),
                environment=environment,
            ),
            enable_network_isolation=self.network_isolation,
            vpc_config=aws.sagemaker.ModelVpcConfigArgs(
                subnets=args.subnet_ids, security_group_ids=[args.security_group_id]
            )
            if args.in_vpc
            else None,
            # SageMaker checks the role can read the artifact when the model is created.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

        self.model_name = model.name
        self.role_arn = role.arn
        self.role_name = role.name
        self.image_uri = image_uri
        self.register_outputs(
            {"model_name": self.model_name, "role_arn": self.role_arn, "image_uri": image_uri}
        )
