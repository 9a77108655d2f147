"""ExperimentTracking: a SageMaker managed MLflow tracking server with artifacts in our bucket.

The server (``mlp-<environment>``) keeps runs, metrics and registered models in a store SageMaker
manages, and artifacts under ``s3://<experiments bucket>/mlflow/``. Its own role, assumed by
SageMaker, reads and writes that prefix and nothing else (and uses the platform key through S3).

Clients (training jobs, notebooks) reach it through the VPC's ``sagemaker.experiments`` interface
endpoint with SigV4 (the ``sagemaker-mlflow`` plugin, tracking URI = the server's ARN). What a
client may do is listed here once, per kind of client, so their roles grant named actions on this
server's ARN only, never ``sagemaker-mlflow:*``. MLflow clients also upload artifacts straight to
the artifact store, so a client role needs the artifact prefix too (:func:`artifact_prefix`).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.platform import PlatformContext
from components.shared import iam_policies
from components.shared.service_role import sagemaker_role_with_policy
from components.training.spec import ExperimentTrackingConfig

#: Key prefix of MLflow's artifacts in the experiments bucket.
ARTIFACT_PREFIX = "mlflow/"

#: What a training job does with MLflow: create its experiment and run, log params, metrics and
#: the model, and register it (https://docs.aws.amazon.com/service-authorization/latest/reference/
#: list_amazonsagemakerwithmlflow.html).
MLFLOW_RUN_ACTIONS = (
    "sagemaker-mlflow:CreateExperiment",
    "sagemaker-mlflow:CreateModelVersion",
    "sagemaker-mlflow:CreateRegisteredModel",
    "sagemaker-mlflow:CreateRun",
    "sagemaker-mlflow:FinalizeLoggedModel",
    "sagemaker-mlflow:GetExperiment",
    "sagemaker-mlflow:GetExperimentByName",
    "sagemaker-mlflow:GetLoggedModel",
    "sagemaker-mlflow:GetMetricHistory",
    "sagemaker-mlflow:GetModelVersion",
    "sagemaker-mlflow:GetRegisteredModel",
    "sagemaker-mlflow:GetRun",
    "sagemaker-mlflow:ListArtifacts",
    "sagemaker-mlflow:LogBatch",
    "sagemaker-mlflow:LogInputs",
    "sagemaker-mlflow:LogMetric",
    "sagemaker-mlflow:LogModel",
    "sagemaker-mlflow:LogOutputs",
    "sagemaker-mlflow:LogParam",
    "sagemaker-mlflow:SearchExperiments",
    "sagemaker-mlflow:SearchRuns",
    "sagemaker-mlflow:SetLoggedModelTags",
    "sagemaker-mlflow:SetTag",
    "sagemaker-mlflow:UpdateRun",
)

#: What a data scientist in a notebook does besides runs: compare and browse models (opening the
#: UI is :func:`mlflow_statements`' ``presigned_ui``).
MLFLOW_NOTEBOOK_ACTIONS = (
    *MLFLOW_RUN_ACTIONS,
    "sagemaker-mlflow:GetLatestModelVersions",
    "sagemaker-mlflow:SearchModelVersions",
    "sagemaker-mlflow:SearchRegisteredModels",
    "sagemaker-mlflow:SetExperimentTag",
)

#: What the server itself needs to register MLflow models in the SageMaker model registry.
_MODEL_REGISTRATION_ACTIONS = [
    "sagemaker:AddTags",
    "sagemaker:CreateModelPackage",
    "sagemaker:CreateModelPackageGroup",
    "sagemaker:DescribeModelPackage",
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:UpdateModelPackage",
]


def tracking_server_name(environment: str) -> str:
    """The server's stable name: ``mlp-<environment>``."""
    return f"mlp-{environment}"


def artifact_store_uri(experiments_bucket: str) -> str:
    """Where MLflow keeps artifacts: ``s3://<experiments bucket>/mlflow/``."""
    return f"s3://{experiments_bucket}/{ARTIFACT_PREFIX}"


def mlflow_statements(
    server_arn: str, actions: tuple[str, ...], *, presigned_ui: bool = False
) -> list[iam_policies.Statement]:
    """Allow ``actions`` on this tracking server only (and, for people, a presigned UI URL)."""
    statements: list[iam_policies.Statement] = [
        {
            "Sid": "UseTrackingServer",
            "Effect": "Allow",
            "Action": sorted(actions),
            "Resource": server_arn,
        }
    ]
    if presigned_ui:
        statements += [
            {
                "Sid": "OpenTrackingServerUi",
                "Effect": "Allow",
                "Action": [
                    "sagemaker:CreatePresignedMlflowTrackingServerUrl",
                    "sagemaker:DescribeMlflowTrackingServer",
                ],
                "Resource": server_arn,
            },
            {
                # AccessUI has no resource type: IAM matches it only against "*", so on the
                # server's ARN it was never granted. The presigned URL above is what ties a
                # person to this server.
                # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemakerwithmlflow.html
                "Sid": "AccessTrackingServerUi",
                "Effect": "Allow",
                "Action": "sagemaker-mlflow:AccessUI",
                "Resource": "*",
            },
        ]
    return statements


def artifact_statements(
    *, partition: str, bucket: str, prefix: str, sid: str
) -> list[iam_policies.Statement]:
    """Read and write objects under ``prefix`` of ``bucket`` and list that prefix.

    Objects are SSE-KMS: the caller also needs the key through S3
    (:func:`components.shared.iam_policies.kms_via_s3_statement`), granted once per policy.
    """
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    return [
        {
            "Sid": f"ReadWrite{sid}",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
            "Resource": f"{bucket_arn}/{prefix}*",
        },
        {
            "Sid": f"List{sid}",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}},
        },
    ]


def tracking_server_policy(
    *,
    partition: str,
    region: str,
    account_id: str,
    experiments_bucket: str,
    kms_key_arn: str,
    registers_models: bool,
) -> str:
    """The server role's policy: the artifact prefix, and the model registry when it registers."""
    statements = [
        *artifact_statements(
            partition=partition, bucket=experiments_bucket, prefix=ARTIFACT_PREFIX, sid="Artifacts"
        ),
        iam_policies.kms_via_s3_statement(kms_key_arn, region),
    ]
    if registers_models:
        sagemaker = f"arn:{partition}:sagemaker:{region}:{account_id}"
        statements.append(
            {
                "Sid": "RegisterModels",
                "Effect": "Allow",
                "Action": _MODEL_REGISTRATION_ACTIONS,
                "Resource": [f"{sagemaker}:model-package-group/*", f"{sagemaker}:model-package/*"],
            }
        )
    return iam_policies.policy_json(*statements)


class ExperimentTracking(pulumi.ComponentResource):
    """A managed MLflow tracking server and the role it runs as."""

    server_arn: pulumi.Output[str]
    """The tracking server's ARN (the MLflow tracking URI of clients)."""
    server_name: str
    """The tracking server's name."""
    server_url: pulumi.Output[str]
    """The server's URL (opened through a presigned URL)."""
    role_arn: pulumi.Output[str]
    """The role the server runs as."""
    artifact_store_uri: pulumi.Output[str]
    """Where the server keeps artifacts."""

    def __init__(
        self,
        name: str,
        spec: ExperimentTrackingConfig,
        platform: PlatformContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlplatform:training:ExperimentTracking", name, None, opts)
        self.server_name = tracking_server_name(platform.environment)
        experiments_bucket = platform.buckets["experiments"].bucket
        role, policy = sagemaker_role_with_policy(
            f"{name}-role",
            f"{name}-policy",
            description=f"Lets the MLflow tracking server {self.server_name} use its artifacts",
            account_id=platform.account_id,
            parent=self,
            policy=pulumi.Output.all(
                platform.partition, platform.account_id, experiments_bucket, platform.kms_key_arn
            ).apply(
                lambda values: tracking_server_policy(
                    partition=values[0],
                    region=platform.region,
                    account_id=values[1],
                    experiments_bucket=values[2],
                    kms_key_arn=values[3],
                    registers_models=spec.automatic_model_registration,
                )
            ),
        )
        store = pulumi.Output.from_input(experiments_bucket).apply(artifact_store_uri)
        server = aws.sagemaker.MlflowTrackingServer(
            f"{name}-server",
            # A fixed name: clients address the server by it (its ARN carries the name).
            tracking_server_name=self.server_name,
            artifact_store_uri=store,
            role_arn=role.arn,
            tracking_server_size=spec.server_size,
            mlflow_version=spec.mlflow_version,
            automatic_model_registration=spec.automatic_model_registration,
            weekly_maintenance_window_start=spec.weekly_maintenance_window_start,
            # The server checks at creation that its role can reach the artifact store.
            opts=platform.retention.stateful(self, depends_on=[policy]),
        )
        self.server_arn = server.arn
        self.server_url = server.tracking_server_url
        self.role_arn = role.arn
        self.artifact_store_uri = store
        self.register_outputs(
            {
                "server_arn": self.server_arn,
                "server_url": self.server_url,
                "role_arn": self.role_arn,
                "artifact_store_uri": self.artifact_store_uri,
            }
        )
