"""Notebooks: where data scientists work, inside the private VPC and with one least-privilege role.

Either or both of:

* a **notebook instance** (``mlp-<env>-notebook``) in a private subnet and the workload security
  group, with no direct internet access, no root, its volume encrypted with the platform key and
  IMDSv2 only; a lifecycle configuration sets ``MLFLOW_TRACKING_URI`` for every terminal and
  kernel and installs an idle auto-stop (a local script run by cron: it asks the local Jupyter
  server whether anything ran lately and stops the instance through the AWS CLI). Nothing in the
  script comes from the internet: the instance has none;
* a **Studio domain** (``mlp-<env>-studio``) with IAM sign-in, VPC-only traffic through the
  private subnets, the platform key, and a user profile per data scientist; its home EFS is
  retained in production and deleted with a destroyable stack.

Both run as the notebook role: read the processed data, read and write the experiments bucket
(where MLflow artifacts live), use the tracking server by named actions, run in the VPC, write
their own logs, and (for the instance) stop itself; for Studio, manage apps and spaces of its
own domain. No managed policy and no wildcard action.
"""

from __future__ import annotations

import base64
import shlex
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.platform import PlatformContext
from components.shared import iam_policies
from components.shared.resolved_platform import ResolvedPlatform, with_resolved_platform
from components.shared.service_role import sagemaker_role_with_policy
from components.training.experiment_tracking import MLFLOW_NOTEBOOK_ACTIONS, mlflow_statements
from components.training.spec import NotebookInstanceConfig, NotebooksConfig, StudioConfig

#: The idle auto-stop program the lifecycle configuration installs on the instance: workload
#: code (it runs on the instance), read here as text, never imported.
IDLE_STOP_PROGRAM = Path(__file__).resolve().parents[2] / "workloads/notebooks/idle_stop.py"

#: Where the start-up script puts the idle auto-stop program on the instance.
IDLE_STOP_PATH = "/usr/local/lib/ml-platform/idle_stop.py"

#: SageMaker's limit on a lifecycle script, base64-encoded (CreateNotebookInstanceLifecycleConfig).
MAX_LIFECYCLE_SCRIPT_LENGTH = 16384

#: Log groups SageMaker writes notebook-instance and Studio logs to.
NOTEBOOK_LOG_GROUP = "/aws/sagemaker/NotebookInstances"
STUDIO_LOG_GROUP = "/aws/sagemaker/studio"

#: Studio apps and spaces the notebook role manages inside its own domain (what the Studio UI
#: does with the user's execution role when a data scientist opens JupyterLab).
_STUDIO_ACTIONS = [
    "sagemaker:AddTags",
    "sagemaker:CreateApp",
    "sagemaker:CreateSpace",
    "sagemaker:DeleteApp",
    "sagemaker:DeleteSpace",
    "sagemaker:DescribeApp",
    "sagemaker:DescribeDomain",
    "sagemaker:DescribeSpace",
    "sagemaker:DescribeUserProfile",
    "sagemaker:UpdateSpace",
]

#: Studio list calls: AWS offers no resource-level permissions for them.
STUDIO_LIST_ACTIONS = ["sagemaker:ListApps", "sagemaker:ListSpaces"]


def notebook_instance_name(environment: str) -> str:
    """The notebook instance's stable name: ``mlp-<environment>-notebook``."""
    return f"mlp-{environment}-notebook"


def studio_domain_name(environment: str) -> str:
    """The Studio domain's stable name: ``mlp-<environment>-studio``."""
    return f"mlp-{environment}-studio"


def on_start_script(
    *,
    notebook_name: str,
    region: str,
    tracking_server_arn: str | None,
    idle_stop_minutes: int | None,
    idle_stop_program: str,
) -> str:
    """The lifecycle configuration's start-up script (runs as root at every start).

    SageMaker gives it 5 minutes and the instance has no internet: it only writes files.
    """
    lines = [
        "#!/bin/bash",
        f"# ml-platform: start-up of notebook instance {notebook_name} (runs as root).",
        "set -euo pipefail",
        "",
        "# Every terminal and kernel gets the stack's region and, if any, its MLflow server.",
        "cat > /etc/profile.d/ml-platform.sh <<'ENV'",
        f"export AWS_DEFAULT_REGION={shlex.quote(region)}",
    ]
    if tracking_server_arn is not None:
        # The sagemaker-mlflow plugin takes the server's ARN as the tracking URI.
        lines.append(f"export MLFLOW_TRACKING_URI={shlex.quote(tracking_server_arn)}")
    lines += [
        "ENV",
        "chmod 644 /etc/profile.d/ml-platform.sh",
    ]
    if idle_stop_minutes is not None:
        program = idle_stop_program.rstrip("\n")
        if "\nIDLE_STOP\n" in f"\n{program}\n":
            raise ValueError("the idle-stop program must not contain the heredoc marker")
        command = " ".join(
            shlex.quote(part)
            for part in (
                "/usr/bin/python3", IDLE_STOP_PATH,
                "--notebook-name", notebook_name,
                "--region", region,
                "--idle-minutes", str(idle_stop_minutes),
            )
        )  # fmt: skip
        lines += [
            "",
            f"# Stop the instance after {idle_stop_minutes} idle minutes (checked every 5).",
            "mkdir -p /usr/local/lib/ml-platform /var/lib/ml-platform",
            "touch /var/lib/ml-platform/started",
            f"cat > {IDLE_STOP_PATH} <<'IDLE_STOP'",
            program,
            "IDLE_STOP",
            "cat > /etc/cron.d/ml-platform-idle-stop <<'CRON'",
            "PATH=/usr/local/bin:/usr/bin:/bin",
            f"*/5 * * * * root {command} >> /var/log/ml-platform-idle-stop.log 2>&1",
            "CRON",
            "chmod 644 /etc/cron.d/ml-platform-idle-stop",
        ]
    lines += [
        "",
        "# Jupyter reads the environment when it starts: restart it without waiting.",
        "systemctl --no-block restart jupyter-server.service || true",
        "",
    ]
    return "\n".join(lines)


def encode_lifecycle_script(script: str) -> str:
    """The script as SageMaker takes it (base64), refused here when longer than SageMaker allows."""
    encoded = base64.b64encode(script.encode()).decode()
    if len(encoded) > MAX_LIFECYCLE_SCRIPT_LENGTH:
        raise ValueError(
            f"the notebook start-up script is {len(encoded)} characters in base64; SageMaker "
            f"allows {MAX_LIFECYCLE_SCRIPT_LENGTH}"
        )
    return encoded


def notebook_role_policy(
    platform: ResolvedPlatform,
    *,
    processed_bucket: str,
    experiments_bucket: str,
    tracking_server_arn: str | None,
    notebook_name: str | None,
    stops_itself: bool,
    studio: bool,
) -> str:
    """The notebook role's policy (Studio's apps and spaces are in :func:`studio_apps_policy`)."""
    log_groups = [
        group
        for group, used in (
            (NOTEBOOK_LOG_GROUP, notebook_name is not None),
            (STUDIO_LOG_GROUP, studio),
        )
        if used
    ]
    processed = platform.s3_arn(processed_bucket)
    experiments = platform.s3_arn(experiments_bucket)
    statements: list[iam_policies.Statement] = [
        {
            "Sid": "ReadProcessedData",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{processed}/*",
        },
        {
            "Sid": "ReadWriteExperiments",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
            "Resource": f"{experiments}/*",
        },
        {
            "Sid": "ListDataAndExperiments",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": [experiments, processed],
        },
        iam_policies.kms_via_s3_statement(platform.kms_key_arn, platform.region),
        iam_policies.write_logs_statement(
            "WriteNotebookLogs",
            [platform.arn("logs", f"log-group:{group}") for group in log_groups],
        ),
        *platform.vpc_interface_statements(),
    ]
    if tracking_server_arn is not None:
        statements += mlflow_statements(
            tracking_server_arn, MLFLOW_NOTEBOOK_ACTIONS, presigned_ui=True
        )
    if stops_itself and notebook_name is not None:
        statements.append(
            {
                # The idle auto-stop on the instance: this instance and nothing else.
                "Sid": "StopThisNotebookWhenIdle",
                "Effect": "Allow",
                "Action": ["sagemaker:DescribeNotebookInstance", "sagemaker:StopNotebookInstance"],
                "Resource": platform.arn("sagemaker", f"notebook-instance/{notebook_name.lower()}"),
            }
        )
    return iam_policies.policy_json(*statements)


def studio_apps_policy(*, partition: str, region: str, account_id: str, domain_id: str) -> str:
    """What the Studio UI does as the execution role: apps and spaces of this domain only."""
    sagemaker = f"arn:{partition}:sagemaker:{region}:{account_id}"
    return iam_policies.policy_json(
        {
            "Sid": "UseAppsAndSpacesOfThisDomain",
            "Effect": "Allow",
            "Action": _STUDIO_ACTIONS,
            "Resource": [
                f"{sagemaker}:app/{domain_id}/*",
                f"{sagemaker}:domain/{domain_id}",
                f"{sagemaker}:space/{domain_id}/*",
                f"{sagemaker}:user-profile/{domain_id}/*",
            ],
        },
        {
            "Sid": "ListAppsAndSpaces",
            "Effect": "Allow",
            "Action": STUDIO_LIST_ACTIONS,
            "Resource": "*",  # List calls support no resource-level permissions
        },
    )


class Notebooks(pulumi.ComponentResource):
    """A notebook instance and/or a Studio domain in the VPC, and the role they run as."""

    role_arn: pulumi.Output[str]
    """The notebook role."""
    role_name: pulumi.Output[str]
    """The notebook role's name (for policies other layers attach, e.g. feature access)."""
    notebook_name: str | None
    """The notebook instance's name, if any."""
    notebook_url: pulumi.Output[str] | None
    """The notebook instance's URL (opened through a presigned URL)."""
    domain_id: pulumi.Output[str] | None
    """The Studio domain's id, if any."""
    domain_url: pulumi.Output[str] | None
    """The Studio domain's URL."""
    user_profiles: list[str]
    """The Studio user profiles."""

    def __init__(
        self,
        name: str,
        spec: NotebooksConfig,
        platform: PlatformContext,
        *,
        tracking_server_arn: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlplatform:training:Notebooks", name, None, opts)
        instance, studio = spec.instance, spec.studio
        # Without either, all that would be built is a role nothing runs as.
        if instance is None and studio is None:
            raise ValueError("Notebooks: set instance, studio or both")
        self.notebook_name = notebook_instance_name(platform.environment) if instance else None
        stops_itself = instance is not None and instance.idle_stop_minutes is not None

        role, policy = sagemaker_role_with_policy(
            f"{name}-role",
            f"{name}-policy",
            description=f"Execution role of the ml-platform {platform.environment} notebooks",
            account_id=platform.account_id,
            parent=self,
            policy=with_resolved_platform(
                platform,
                lambda resolved, values: notebook_role_policy(
                    resolved,
                    processed_bucket=values["processed"],
                    experiments_bucket=values["experiments"],
                    tracking_server_arn=values["tracking"],
                    notebook_name=self.notebook_name,
                    stops_itself=stops_itself,
                    studio=studio is not None,
                ),
                processed=platform.buckets["processed"].bucket,
                experiments=platform.buckets["experiments"].bucket,
                tracking=tracking_server_arn,
            ),
        )
        self.role_arn = role.arn
        self.role_name = role.name

        self.notebook_url = None
        if instance is not None:
            self.notebook_url = self._notebook_instance(
                name, instance, platform, tracking_server_arn, role, policy
            )

        self.domain_id = self.domain_url = None
        self.user_profiles = list(studio.user_profiles) if studio else []
        if studio is not None:
            self._studio(name, studio, platform, role, policy)
        self.register_outputs(self.exports())

    def _notebook_instance(
        self,
        name: str,
        spec: NotebookInstanceConfig,
        platform: PlatformContext,
        tracking_server_arn: pulumi.Input[str] | None,
        role: aws.iam.Role,
        policy: aws.iam.RolePolicy,
    ) -> pulumi.Output[str]:
        """The instance and its lifecycle configuration; returns the instance's URL."""
        notebook_name = self.notebook_name or ""
        script = pulumi.Output.from_input(tracking_server_arn).apply(
            lambda tracking: encode_lifecycle_script(
                on_start_script(
                    notebook_name=notebook_name,
                    region=platform.region,
                    tracking_server_arn=tracking,
                    idle_stop_minutes=spec.idle_stop_minutes,
                    idle_stop_program=IDLE_STOP_PROGRAM.read_text(),
                )
            )
        )
        lifecycle = aws.sagemaker.NotebookInstanceLifecycleConfiguration(
            f"{name}-lifecycle",
            on_start=script,
            opts=pulumi.ResourceOptions(parent=self),
        )
        notebook = aws.sagemaker.NotebookInstance(
            f"{name}-instance",
            # A fixed name: people open the instance by it, and the idle stop names it.
            name=notebook_name,
            role_arn=role.arn,
            instance_type=spec.instance_type,
            volume_size=spec.volume_size_gb,
            platform_identifier=spec.platform_identifier,
            subnet_id=pulumi.Output.from_input(platform.subnet_ids).apply(lambda ids: ids[0]),
            security_groups=[platform.workload_security_group_id],
            # All traffic through the VPC: its endpoints are the only way out.
            direct_internet_access="Disabled",
            root_access="Disabled",
            kms_key_id=platform.kms_key_arn,
            instance_metadata_service_configuration=aws.sagemaker.NotebookInstanceInstanceMetadataServiceConfigurationArgs(
                minimum_instance_metadata_service_version="2"
            ),
            lifecycle_config_name=lifecycle.name,
            # SageMaker creates the network interface with the role as the instance starts.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        return notebook.url

    def _studio(
        self,
        name: str,
        spec: StudioConfig,
        platform: PlatformContext,
        role: aws.iam.Role,
        policy: aws.iam.RolePolicy,
    ) -> None:
        """The domain, its user profiles and the role's permissions on the domain's apps."""
        domain = aws.sagemaker.Domain(
            f"{name}-studio",
            # A fixed name: people pick the domain by it in the console.
            domain_name=studio_domain_name(platform.environment),
            auth_mode="IAM",
            # Apps reach AWS through the VPC's endpoints only, never the internet.
            app_network_access_type="VpcOnly",
            vpc_id=platform.vpc_id,
            subnet_ids=platform.subnet_ids,
            kms_key_id=platform.kms_key_arn,
            default_user_settings=aws.sagemaker.DomainDefaultUserSettingsArgs(
                execution_role=role.arn,
                security_groups=[platform.workload_security_group_id],
            ),
            default_space_settings=aws.sagemaker.DomainDefaultSpaceSettingsArgs(
                execution_role=role.arn,
                security_groups=[platform.workload_security_group_id],
            ),
            retention_policy=aws.sagemaker.DomainRetentionPolicyArgs(
                # The home directories are people's work: kept in production.
                home_efs_file_system="Retain" if platform.retention.retain else "Delete"
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        aws.iam.RolePolicy(
            f"{name}-studio-apps",
            role=role.id,
            policy=pulumi.Output.all(platform.partition, platform.account_id, domain.id).apply(
                lambda values: studio_apps_policy(
                    partition=values[0],
                    region=platform.region,
                    account_id=values[1],
                    domain_id=values[2],
                )
            ),
            opts=pulumi.ResourceOptions(parent=role),
        )
        for profile in spec.user_profiles:
            aws.sagemaker.UserProfile(
                f"{name}-user-{profile}",
                domain_id=domain.id,
                user_profile_name=profile,
                opts=pulumi.ResourceOptions(parent=domain),
            )
        self.domain_id = domain.id
        self.domain_url = domain.url

    def exports(self) -> dict[str, object]:
        """The notebooks' outputs as the stack exports them."""
        return {
            "role_arn": self.role_arn,
            "notebook_name": self.notebook_name,
            "notebook_url": self.notebook_url,
            "studio_domain_id": self.domain_id,
            "studio_domain_url": self.domain_url,
            "studio_user_profiles": self.user_profiles,
        }
