"""ExperimentTracking: SageMaker managed MLflow with artifacts in our bucket.

Two backends (``experiment_tracking.backend``), both named ``mlp-<environment>``:

* ``serverless`` (the default): an MLflow App (``aws.sagemaker.MlflowApp``), serverless managed
  MLflow with no capacity to size and nothing billed while idle. Its ARN is
  ``arn:<partition>:sagemaker:<region>:<account>:mlflow-app/app-<ID>``: an id SageMaker
  generates, not the name.
* ``server``: a sized MLflow tracking server (``aws.sagemaker.MlflowTrackingServer``) that runs
  all the time, ARN ``...:mlflow-tracking-server/<name>``.

Either keeps runs, metrics and registered models in a store SageMaker manages, and artifacts under
``s3://<experiments bucket>/mlflow/``. Its own role, assumed by SageMaker, reads and writes that
prefix and nothing else (and uses the platform key through S3).

Clients (training jobs, notebooks) reach it through the VPC's ``sagemaker.experiments`` interface
endpoint with SigV4 (the ``sagemaker-mlflow`` plugin, tracking URI = the ARN). What a client may
do is granted on this backend's ARN only. For a server, IAM names each MLflow API
(``sagemaker-mlflow:CreateRun``, ...): the roles get the actions listed here per kind of client,
never ``sagemaker-mlflow:*``. For an app IAM has one action for every MLflow API,
``sagemaker:CallMlflowAppApi`` on the app's ARN (the Service Authorization Reference gives the
``sagemaker-mlflow`` actions the tracking-server resource type only). MLflow clients also upload
artifacts straight to the artifact store, so a client role needs the artifact prefix too.
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

#: What a client of an MLflow App may do: call its MLflow APIs (IAM has no finer split for apps).
MLFLOW_APP_ACTIONS = ("sagemaker:CallMlflowAppApi",)

#: The ARN resource type of an MLflow App (a tracking server's is ``mlflow-tracking-server``).
MLFLOW_APP_ARN_KIND = ":mlflow-app/"

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
    """The server's or app's stable name: ``mlp-<environment>``."""
    return f"mlp-{environment}"


def is_mlflow_app(tracking_arn: str) -> bool:
    """Whether ``tracking_arn`` is an MLflow App's (serverless) rather than a tracking server's."""
    return MLFLOW_APP_ARN_KIND in tracking_arn


def artifact_store_uri(experiments_bucket: str) -> str:
    """Where MLflow keeps artifacts: ``s3://<experiments bucket>/mlflow/``."""
    return f"s3://{experiments_bucket}/{ARTIFACT_PREFIX}"


def mlflow_statements(
    server_arn: str, actions: tuple[str, ...], *, presigned_ui: bool = False
) -> list[iam_policies.Statement]:
    """Allow ``actions`` on this tracking backend only (and, for people, a presigned UI URL).

    ``actions`` are the ``sagemaker-mlflow`` actions a client of a tracking server needs; a
    client of an MLflow App gets :data:`MLFLOW_APP_ACTIONS` on the app instead.
    """
    if is_mlflow_app(server_arn):
        actions = MLFLOW_APP_ACTIONS
        ui_actions = ["sagemaker:CreatePresignedMlflowAppUrl", "sagemaker:DescribeMlflowApp"]
    else:
        ui_actions = [
            "sagemaker:CreatePresignedMlflowTrackingServerUrl",
            "sagemaker:DescribeMlflowTrackingServer",
        ]
    statements: list[iam_policies.Statement] = [
        {
            "Sid": "UseTrackingServer",
            "Effect": "Allow",
            "Action": sorted(actions),
            "Resource": server_arn,
        }
    ]
    if presigned_ui:
        statements.append(
            {
                "Sid": "OpenTrackingServerUi",
                "Effect": "Allow",
                "Action": ui_actions,
                "Resource": server_arn,
            }
        )
    if presigned_ui and not is_mlflow_app(server_arn):
        statements.append(
            {
                # AccessUI has no resource type: IAM matches it only against "*", so on the
                # server's ARN it was never granted. The presigned URL above is what ties a
                # person to this server. (An app's UI calls are CallMlflowAppApi on the app.)
                # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemakerwithmlflow.html
                "Sid": "AccessTrackingServerUi",
                "Effect": "Allow",
                "Action": "sagemaker-mlflow:AccessUI",
                "Resource": "*",
            }
        )
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


def mlflow_backend(
    name: str,
    spec: ExperimentTrackingConfig,
    backend_name: str,
    store: pulumi.Input[str],
    role_arn: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> tuple[pulumi.Output[str], pulumi.Output[str] | None]:
    """The configured backend: an MLflow App or a tracking server; its ARN and URL (server only)."""
    if spec.backend == "serverless":
        app = aws.sagemaker.MlflowApp(
            f"{name}-app",
            name=backend_name,
            artifact_store_uri=store,
            role_arn=role_arn,
            model_registration_mode=(
                "AutoModelRegistrationEnabled"
                if spec.automatic_model_registration
                else "AutoModelRegistrationDisabled"
            ),
            weekly_maintenance_window_start=spec.weekly_maintenance_window_start,
            opts=opts,
        )
        return app.arn, None
    server = aws.sagemaker.MlflowTrackingServer(
        f"{name}-server",
        # A fixed name: clients address the server by it (its ARN carries the name).
        tracking_server_name=backend_name,
        artifact_store_uri=store,
        role_arn=role_arn,
        tracking_server_size=spec.server_size,
        mlflow_version=spec.mlflow_version,
        automatic_model_registration=spec.automatic_model_registration,
        weekly_maintenance_window_start=spec.weekly_maintenance_window_start,
        opts=opts,
    )
    return server.arn, server.tracking_server_url


class ExperimentTracking(pulumi.ComponentResource):
    """Managed MLflow (a serverless app or a sized tracking server) and the role it runs as."""

    server_arn: pulumi.Output[str]
    """The app's or tracking server's ARN (the MLflow tracking URI of clients)."""
    server_name: str
    """The app's or tracking server's name."""
    server_url: pulumi.Output[str] | None
    """The tracking server's URL (opened through a presigned URL); None for an app."""
    role_arn: pulumi.Output[str]
    """The role the app or server runs as."""
    artifact_store_uri: pulumi.Output[str]
    """Where the app or server keeps artifacts."""

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
            description=(
                f"Lets the MLflow {'app' if spec.backend == 'serverless' else 'tracking server'}"
                f" {self.server_name} use its artifacts"
            ),
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
        # Either checks at creation that its role can reach the artifact store: after the policy.
        stateful = platform.retention.stateful(self, depends_on=[policy])
        self.server_arn, self.server_url = mlflow_backend(
            name, spec, self.server_name, store, role.arn, stateful
        )
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
