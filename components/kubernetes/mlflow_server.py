"""MlflowServer: an MLflow tracking server in the cluster, with authentication on.

* Metadata (runs, params, metrics, the model registry, and the auth app's users and permissions)
  lives in PostgreSQL: an encrypted RDS instance (``database="rds"``) or, for development, a
  PostgreSQL StatefulSet on an encrypted volume (``database="in_cluster"``). MLflow 3.6+ keeps the
  auth app's migrations in their own version table (``alembic_version_auth``), so both share one
  database.
* Authentication: ``mlflow server --app-name basic-auth``. The auth app reads the ini file named
  by ``MLFLOW_AUTH_CONFIG_PATH`` (section ``[mlflow]``: ``default_permission``, ``database_uri``,
  ``admin_username``, ``admin_password``; mlflow/server/auth/config.py). The file is rendered from
  generated passwords into a Secret and mounted read-only; ``default_permission = NO_PERMISSIONS``
  so a new user sees nothing until granted. The CSRF key (``MLFLOW_FLASK_SERVER_SECRET_KEY``) is
  generated too and shared by every replica, as the auth docs require.
* Artifacts are proxied (``--serve-artifacts --artifacts-destination s3://<bucket>/mlflow``): new
  experiments get ``mlflow-artifacts:/`` locations, clients upload and download through the server
  and need no S3 access of their own; only the server's IRSA role may touch ``mlflow/*`` in the
  experiments bucket. (``--default-artifact-root s3://...`` would hand clients S3 URIs instead.)
* The backend store URI (with the database password) reaches the container only through a
  Secret: ``MLFLOW_BACKEND_STORE_URI`` is the env var click reads for ``--backend-store-uri``.
* MLflow 3.5+ validates the Host header (DNS-rebinding guard; exact match or fnmatch pattern on
  the full header, port included). ``--allowed-hosts`` lists the Service's cluster DNS names and
  localhost (``kubectl port-forward``); ``/health`` is exempt, so the kubelet's probes pass.
* Reached only inside the cluster: a ClusterIP Service, never a LoadBalancer or NodePort.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.kubernetes import network_policies
from components.kubernetes.cluster_access import ClusterAccess
from components.kubernetes.pod_security import (
    container_security_context,
    pinned_image,
    pod_security_context,
    resource_requirements,
    scratch_mount,
    scratch_volume,
)
from components.kubernetes.service_account_role import ServiceAccountRole, ServiceAccountRoleArgs
from components.kubernetes.spec import KubernetesMlflowConfig
from components.shared import iam_policies
from components.shared.retention import DataRetention
from components.shared.vpc_endpoints import allow_tcp_port

#: Where the tracking server listens (MLflow's default port).
MLFLOW_PORT = 5000

#: PostgreSQL's port, on RDS and in the cluster.
POSTGRES_PORT = 5432

#: RDS PostgreSQL, pinned to major.minor; AWS applies newer minors (auto_minor_version_upgrade),
#: so later drift of the live version is ignored rather than "downgraded" by Pulumi.
RDS_ENGINE_VERSION = "17.6"

#: The parameter group family of that major version.
RDS_PARAMETER_FAMILY = "postgres17"

#: The official PostgreSQL image of the in-cluster database, pinned to a patch release. Its
#: ``postgres`` user is uid/gid 999.
POSTGRES_IMAGE = ("docker.io/library/postgres", "17.6-bookworm")
POSTGRES_UID = 999

#: Database, user and MLflow admin names (not secrets; the passwords are generated).
DATABASE_NAME = "mlflow"
DATABASE_USER = "mlflow"
ADMIN_USERNAME = "admin"

#: Key prefix of the artifacts in the experiments bucket.
ARTIFACTS_PREFIX = "mlflow"

#: Where the auth app's ini file is mounted.
AUTH_CONFIG_DIR = "/etc/mlflow/auth"
AUTH_CONFIG_FILE = "basic_auth.ini"

#: Permission of a user on resources nobody granted them: none (MLflow's default is READ).
DEFAULT_PERMISSION = "NO_PERMISSIONS"


@dataclass(frozen=True)
class MlflowServerArgs:
    """What an MlflowServer needs besides its config section: image, namespace, AWS resources."""

    mlflow: KubernetesMlflowConfig
    """The ``kubernetes.mlflow`` section: database kind, RDS sizing and backups, replicas,
    resources."""
    environment: str
    """Environment name, part of AWS resource names."""
    namespace: str
    """Namespace of the server, its Secrets and (in-cluster) its database."""
    image_repository: pulumi.Input[str]
    """Repository URL of the MLflow image in ECR (the section's image, or the default one)."""
    image_tag: str
    """Its immutable tag (never ``latest``)."""
    kms_key_arn: pulumi.Input[str]
    """The platform key: encrypts RDS storage and Performance Insights; S3 objects use it."""
    artifacts_bucket_name: pulumi.Input[str]
    """The experiments bucket; artifacts go under ``mlflow/``."""
    artifacts_bucket_arn: pulumi.Input[str]
    """Its ARN (scopes the server's role)."""
    region: str
    """The stack's region (the key is usable only through S3 in it)."""
    storage_class: str
    """StorageClass of the in-cluster database's volume (encrypted gp3)."""
    retention: DataRetention
    """Whether the database survives ``pulumi destroy``."""
    workers: int = 2
    """Server worker processes per pod (``--workers``)."""
    subnet_ids: pulumi.Input[list[str]] | None = None
    """Private subnets of the RDS instance (required for ``rds``)."""
    vpc_id: pulumi.Input[str] | None = None
    """VPC of the RDS security group (required for ``rds``)."""
    vpc_cidr: pulumi.Input[str] | None = None
    """The VPC's range, the only source allowed to PostgreSQL (required for ``rds``)."""
    postgres_storage_gb: int = 20
    """Size of the in-cluster database's volume."""

    def __post_init__(self) -> None:
        errors = []
        mlflow = self.mlflow
        if mlflow.database == "rds":
            for field in ("subnet_ids", "vpc_id", "vpc_cidr"):
                if getattr(self, field) is None:
                    errors.append(f"{field}: required when database is 'rds'")
        if self.workers < 1:
            errors.append(f"workers: {self.workers} must be at least 1")
        if errors:
            raise ValueError("Invalid MLflow server: " + "; ".join(errors))


def database_uri(host: str, port: int | float, password: str, ssl: bool) -> str:
    """The SQLAlchemy URI of the MLflow database (``sslmode=require`` when the server forces TLS).

    The generated password has letters and digits only, so it needs no URL quoting.
    """
    query = "?sslmode=require" if ssl else ""
    return f"postgresql://{DATABASE_USER}:{password}@{host}:{int(port)}/{DATABASE_NAME}{query}"


def auth_config(database: str, admin_password: str) -> str:
    """The basic-auth app's ini file: no default permission, users in the MLflow database."""
    return (
        "[mlflow]\n"
        f"default_permission = {DEFAULT_PERMISSION}\n"
        f"database_uri = {database}\n"
        f"admin_username = {ADMIN_USERNAME}\n"
        f"admin_password = {admin_password}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )


def allowed_hosts(service: str, namespace: str) -> str:
    """Host headers the server accepts: the Service's cluster names and localhost, any port."""
    names = [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
        "localhost",
        "127.0.0.1",
    ]
    return ",".join([*names, *(f"{name}:*" for name in names)])


def artifact_statements(
    bucket_arn: str, kms_key_arn: str, region: str
) -> list[iam_policies.Statement]:
    """The server's S3 access: read, write and delete under ``mlflow/`` only, the key via S3."""
    return [
        {
            "Sid": "ReadWriteMlflowArtifacts",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": f"{bucket_arn}/{ARTIFACTS_PREFIX}/*",
        },
        {
            "Sid": "ListMlflowArtifacts",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [ARTIFACTS_PREFIX, f"{ARTIFACTS_PREFIX}/*"]}},
        },
        iam_policies.kms_via_s3_statement(kms_key_arn, region),
    ]


class MlflowServer(pulumi.ComponentResource):
    """The tracking server Deployment and Service, its database, Secrets and S3 role."""

    tracking_uri: pulumi.Output[str]
    """``http://<service>.<namespace>.svc.cluster.local:5000``."""
    admin_secret_name: str
    """The Secret holding the admin's username and password (``admin-username``,
    ``admin-password``)."""
    service_name: str
    """The ClusterIP Service."""

    def __init__(
        self,
        name: str,
        args: MlflowServerArgs,
        cluster: ClusterAccess,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlplatform:kubernetes:MlflowServer", name, None, opts)
        self._args, self._cluster, self._name = args, cluster, name
        labels = {
            "app.kubernetes.io/name": "mlflow",
            "app.kubernetes.io/instance": name,
            "app.kubernetes.io/component": "tracking-server",
        }
        image = pinned_image(args.image_repository, args.image_tag)
        self.pod_labels = labels
        self.database_pod_labels: dict[str, str] | None = None
        self.service_name = name
        self.admin_secret_name = f"{name}-auth"
        db_secret_name = f"{name}-database"

        # Letters and digits only: they go into a URI and an ini file unquoted.
        def password(suffix: str, length: int) -> random.RandomPassword:
            return random.RandomPassword(
                f"{name}-{suffix}",
                length=length,
                special=False,
                opts=pulumi.ResourceOptions(parent=self),
            )

        admin_password = password("admin-password", 32)
        db_password = password("database-password", 40)
        flask_secret = password("flask-secret-key", 48)

        uri = self._database(db_password)
        self._secrets(labels, db_secret_name, uri, admin_password, flask_secret)
        role = ServiceAccountRole(
            f"{name}-artifacts",
            ServiceAccountRoleArgs(
                namespace=args.namespace,
                service_account=name,
                statements=pulumi.Output.all(args.artifacts_bucket_arn, args.kms_key_arn).apply(
                    lambda v: artifact_statements(v[0], v[1], args.region)
                ),
                description=f"MLflow tracking server ({args.environment}): artifacts under "
                f"{ARTIFACTS_PREFIX}/ in the experiments bucket",
            ),
            cluster,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._server(image, labels, db_secret_name, role)

        self.tracking_uri = pulumi.Output.from_input(
            f"http://{name}.{args.namespace}.svc.cluster.local:{MLFLOW_PORT}"
        )
        self.register_outputs(
            {"tracking_uri": self.tracking_uri, "admin_secret_name": self.admin_secret_name}
        )

    def _database(self, db_password: random.RandomPassword) -> pulumi.Output[str]:
        """The database the section asks for; returns its URI (a secret: it holds the password)."""
        if self._args.mlflow.database == "rds":
            host, port = self._rds(db_password)
            uri = pulumi.Output.all(host, port, db_password.result).apply(
                lambda v: database_uri(v[0], v[1], v[2], ssl=True)
            )
        else:
            in_cluster_host = self._in_cluster_postgres(db_password)
            uri = db_password.result.apply(
                lambda secret: database_uri(in_cluster_host, POSTGRES_PORT, secret, ssl=False)
            )
        return pulumi.Output.secret(uri)

    def _secrets(
        self,
        labels: dict[str, str],
        db_secret_name: str,
        uri: pulumi.Output[str],
        admin_password: random.RandomPassword,
        flask_secret: random.RandomPassword,
    ) -> None:
        """The database URI's Secret, and the admin's: credentials, CSRF key, auth ini file."""
        args, cluster = self._args, self._cluster
        k8s.core.v1.Secret(
            db_secret_name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=db_secret_name, namespace=args.namespace, labels=labels
            ),
            type="Opaque",
            string_data={"uri": uri},
            opts=cluster.options(self),
        )
        k8s.core.v1.Secret(
            self.admin_secret_name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=self.admin_secret_name, namespace=args.namespace, labels=labels
            ),
            type="Opaque",
            string_data={
                "admin-username": ADMIN_USERNAME,
                "admin-password": admin_password.result,
                "flask-secret-key": flask_secret.result,
                AUTH_CONFIG_FILE: pulumi.Output.all(uri, admin_password.result).apply(
                    lambda v: auth_config(v[0], v[1])
                ),
            },
            opts=cluster.options(self),
        )

    def _server(
        self,
        image: pulumi.Input[str],
        labels: dict[str, str],
        db_secret_name: str,
        role: ServiceAccountRole,
    ) -> None:
        """The tracking server's Deployment (once its role exists) and its ClusterIP Service."""
        args, cluster, name = self._args, self._cluster, self._name
        destination = pulumi.Output.concat(
            "s3://", args.artifacts_bucket_name, "/", ARTIFACTS_PREFIX
        )
        k8s.apps.v1.Deployment(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=args.namespace, labels=labels),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=args.mlflow.replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=self._server_pod(
                        image, labels, destination, db_secret_name, role.service_account_name
                    ),
                ),
            ),
            opts=cluster.options(self, depends_on=[role]),
        )
        k8s.core.v1.Service(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=args.namespace, labels=labels),
            spec=k8s.core.v1.ServiceSpecArgs(
                # Inside the cluster only; people use `kubectl port-forward`.
                type="ClusterIP",
                selector=labels,
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name="http", port=MLFLOW_PORT, target_port="http", protocol="TCP"
                    )
                ],
            ),
            opts=cluster.options(self),
        )

    def _server_pod(
        self,
        image: pulumi.Input[str],
        labels: dict[str, str],
        destination: pulumi.Output[str],
        db_secret_name: str,
        service_account: str,
    ) -> k8s.core.v1.PodSpecArgs:
        """The tracking server's pod: restricted, read-only root, secrets only by reference."""
        args = self._args
        resources = args.mlflow.resources

        def from_secret(env: str, secret: str, key: str) -> k8s.core.v1.EnvVarArgs:
            return k8s.core.v1.EnvVarArgs(
                name=env,
                value_from=k8s.core.v1.EnvVarSourceArgs(
                    secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=secret, key=key)
                ),
            )

        def health(initial: int, period: int, failures: int) -> k8s.core.v1.ProbeArgs:
            return k8s.core.v1.ProbeArgs(
                http_get=k8s.core.v1.HTTPGetActionArgs(path="/health", port="http"),
                initial_delay_seconds=initial,
                period_seconds=period,
                timeout_seconds=5,
                failure_threshold=failures,
            )

        return k8s.core.v1.PodSpecArgs(
            service_account_name=service_account,
            # The pod calls S3 (IRSA's own projected token), never the Kubernetes API.
            automount_service_account_token=False,
            enable_service_links=False,
            security_context=pod_security_context(),
            containers=[
                k8s.core.v1.ContainerArgs(
                    name="mlflow",
                    image=image,
                    command=["mlflow"],
                    args=[
                        "server",
                        "--app-name",
                        "basic-auth",
                        "--host",
                        "0.0.0.0",
                        "--port",
                        str(MLFLOW_PORT),
                        "--workers",
                        str(args.workers),
                        "--serve-artifacts",
                        "--artifacts-destination",
                        destination,
                        "--allowed-hosts",
                        allowed_hosts(self.service_name, args.namespace),
                    ],
                    env=[
                        # Read by click for --backend-store-uri: the password stays in the Secret.
                        from_secret("MLFLOW_BACKEND_STORE_URI", db_secret_name, "uri"),
                        from_secret(
                            "MLFLOW_FLASK_SERVER_SECRET_KEY",
                            self.admin_secret_name,
                            "flask-secret-key",
                        ),
                        k8s.core.v1.EnvVarArgs(
                            name="MLFLOW_AUTH_CONFIG_PATH",
                            value=f"{AUTH_CONFIG_DIR}/{AUTH_CONFIG_FILE}",
                        ),
                        k8s.core.v1.EnvVarArgs(name="HOME", value="/tmp"),
                        k8s.core.v1.EnvVarArgs(name="AWS_DEFAULT_REGION", value=args.region),
                        k8s.core.v1.EnvVarArgs(name="AWS_STS_REGIONAL_ENDPOINTS", value="regional"),
                    ],
                    ports=[
                        k8s.core.v1.ContainerPortArgs(
                            name="http", container_port=MLFLOW_PORT, protocol="TCP"
                        )
                    ],
                    # Database migrations run before the server listens: give them time.
                    startup_probe=health(initial=5, period=10, failures=30),
                    readiness_probe=health(initial=0, period=10, failures=3),
                    liveness_probe=health(initial=0, period=20, failures=6),
                    resources=resource_requirements(
                        resources.cpu, resources.memory, resources.cpu_limit
                    ),
                    security_context=container_security_context(),
                    volume_mounts=[
                        scratch_mount(),
                        k8s.core.v1.VolumeMountArgs(
                            name="auth-config", mount_path=AUTH_CONFIG_DIR, read_only=True
                        ),
                    ],
                )
            ],
            volumes=[
                # Proxied uploads are staged in /tmp before they go to S3.
                scratch_volume(size_limit="4Gi"),
                k8s.core.v1.VolumeArgs(
                    name="auth-config",
                    secret=k8s.core.v1.SecretVolumeSourceArgs(
                        secret_name=self.admin_secret_name,
                        items=[
                            k8s.core.v1.KeyToPathArgs(key=AUTH_CONFIG_FILE, path=AUTH_CONFIG_FILE)
                        ],
                        # Readable by the pod's fsGroup only.
                        default_mode=0o440,
                    ),
                ),
            ],
        )

    def _rds(self, db_password: random.RandomPassword) -> tuple[pulumi.Output[str], pulumi.Output]:
        """An encrypted, private RDS PostgreSQL instance forcing TLS; returns (address, port)."""
        args, name = self._args, self._name
        child = pulumi.ResourceOptions(parent=self)
        subnets = aws.rds.SubnetGroup(
            f"{name}-database",
            description=f"MLflow database subnets ({args.environment})",
            subnet_ids=args.subnet_ids,
            opts=child,
        )
        security_group = aws.ec2.SecurityGroup(
            f"{name}-database",
            description=f"MLflow database ({args.environment}): PostgreSQL from the VPC only",
            vpc_id=args.vpc_id,
            opts=child,
        )
        allow_tcp_port(
            aws.vpc.SecurityGroupIngressRule,
            f"{name}-database-postgres",
            security_group_id=security_group.id,
            port=POSTGRES_PORT,
            description="PostgreSQL from inside the VPC",
            opts=pulumi.ResourceOptions(parent=security_group),
            cidr_ipv4=args.vpc_cidr,
        )
        parameters = aws.rds.ParameterGroup(
            f"{name}-database",
            description=f"MLflow database ({args.environment}): TLS required",
            family=RDS_PARAMETER_FAMILY,
            parameters=[
                aws.rds.ParameterGroupParameterArgs(
                    name="rds.force_ssl", value="1", apply_method="pending-reboot"
                ),
                aws.rds.ParameterGroupParameterArgs(
                    name="log_connections", value="1", apply_method="pending-reboot"
                ),
            ],
            opts=child,
        )
        retain = args.retention.retain
        instance = aws.rds.Instance(
            f"{name}-database",
            engine="postgres",
            engine_version=RDS_ENGINE_VERSION,
            auto_minor_version_upgrade=True,
            instance_class=args.mlflow.rds_instance_class,
            allocated_storage=args.mlflow.rds_storage_gb,
            max_allocated_storage=args.mlflow.rds_storage_gb * 5,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            db_name=DATABASE_NAME,
            username=DATABASE_USER,
            password=db_password.result,
            port=POSTGRES_PORT,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[security_group.id],
            parameter_group_name=parameters.name,
            publicly_accessible=False,
            multi_az=args.mlflow.rds_multi_az,
            backup_retention_period=args.mlflow.backup_retention_days,
            copy_tags_to_snapshot=True,
            iam_database_authentication_enabled=True,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=args.kms_key_arn,
            performance_insights_retention_period=7,
            enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
            # A retaining stack keeps the data twice over: no deletion, and a final snapshot if
            # someone removes the protection; dev deletes outright.
            deletion_protection=retain,
            skip_final_snapshot=not retain,
            final_snapshot_identifier=f"{name}-{args.environment}-final" if retain else None,
            opts=args.retention.stateful(self, ignore_changes=["engine_version"]),
        )
        return instance.address, instance.port

    def _in_cluster_postgres(self, db_password: random.RandomPassword) -> str:
        """A PostgreSQL StatefulSet with its headless Service and Secret; returns its host."""
        args, cluster, name = self._args, self._cluster, self._name
        db_name = f"{name}-postgres"
        labels = {
            "app.kubernetes.io/name": "postgres",
            "app.kubernetes.io/instance": db_name,
            "app.kubernetes.io/component": "database",
        }
        self.database_pod_labels = labels
        k8s.core.v1.Secret(
            db_name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=db_name, namespace=args.namespace, labels=labels
            ),
            type="Opaque",
            string_data={"password": db_password.result},
            opts=cluster.options(self),
        )
        k8s.core.v1.Service(
            db_name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=db_name, namespace=args.namespace, labels=labels
            ),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                cluster_ip="None",
                selector=labels,
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name="postgres", port=POSTGRES_PORT, target_port="postgres"
                    )
                ],
            ),
            opts=cluster.options(self),
        )
        # Only the tracking server may reach the database.
        network_policies.allow(
            db_name,
            direction="ingress",
            namespace=args.namespace,
            pod_labels=labels,
            peers=[
                network_policies.Peer(
                    pod_selector=k8s.meta.v1.LabelSelectorArgs(
                        match_labels={"app.kubernetes.io/instance": name}
                    )
                )
            ],
            ports=[POSTGRES_PORT],
            opts=cluster.options(self),
        )

        def pg_isready() -> list[str]:
            return ["pg_isready", "-h", "127.0.0.1", "-U", DATABASE_USER, "-d", DATABASE_NAME]

        data_path = "/var/lib/postgresql/data"
        retain = args.retention.retain
        k8s.apps.v1.StatefulSet(
            db_name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=db_name, namespace=args.namespace, labels=labels
            ),
            spec=k8s.apps.v1.StatefulSetSpecArgs(
                service_name=db_name,
                replicas=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                # The volume outlives the StatefulSet only where data is retained.
                persistent_volume_claim_retention_policy=(
                    k8s.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicyArgs(
                        when_deleted="Retain" if retain else "Delete", when_scaled="Retain"
                    )
                ),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        automount_service_account_token=False,
                        enable_service_links=False,
                        security_context=pod_security_context(uid=POSTGRES_UID),
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name="postgres",
                                image=pinned_image(*POSTGRES_IMAGE),
                                env=[
                                    k8s.core.v1.EnvVarArgs(
                                        name="POSTGRES_USER", value=DATABASE_USER
                                    ),
                                    k8s.core.v1.EnvVarArgs(name="POSTGRES_DB", value=DATABASE_NAME),
                                    k8s.core.v1.EnvVarArgs(
                                        name="POSTGRES_PASSWORD",
                                        value_from=k8s.core.v1.EnvVarSourceArgs(
                                            secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(
                                                name=db_name, key="password"
                                            )
                                        ),
                                    ),
                                    # A subdirectory: the volume's root holds lost+found, which
                                    # initdb refuses.
                                    k8s.core.v1.EnvVarArgs(
                                        name="PGDATA", value=f"{data_path}/pgdata"
                                    ),
                                ],
                                ports=[
                                    k8s.core.v1.ContainerPortArgs(
                                        name="postgres", container_port=POSTGRES_PORT
                                    )
                                ],
                                readiness_probe=k8s.core.v1.ProbeArgs(
                                    exec_=k8s.core.v1.ExecActionArgs(command=pg_isready()),
                                    period_seconds=10,
                                    timeout_seconds=5,
                                ),
                                liveness_probe=k8s.core.v1.ProbeArgs(
                                    exec_=k8s.core.v1.ExecActionArgs(command=pg_isready()),
                                    initial_delay_seconds=30,
                                    period_seconds=20,
                                    timeout_seconds=5,
                                    failure_threshold=6,
                                ),
                                resources=resource_requirements("250m", "512Mi", "1"),
                                security_context=container_security_context(uid=POSTGRES_UID),
                                volume_mounts=[
                                    k8s.core.v1.VolumeMountArgs(name="data", mount_path=data_path),
                                    scratch_mount(),
                                    # The server's socket and lock file.
                                    scratch_mount("run", "/var/run/postgresql"),
                                ],
                            )
                        ],
                        volumes=[scratch_volume(), scratch_volume("run", size_limit="16Mi")],
                    ),
                ),
                volume_claim_templates=[
                    k8s.core.v1.PersistentVolumeClaimArgs(
                        metadata=k8s.meta.v1.ObjectMetaArgs(name="data"),
                        spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                            access_modes=["ReadWriteOnce"],
                            storage_class_name=args.storage_class,
                            resources=k8s.core.v1.VolumeResourceRequirementsArgs(
                                requests={"storage": f"{args.postgres_storage_gb}Gi"}
                            ),
                        ),
                    )
                ],
            ),
            opts=pulumi.ResourceOptions.merge(cluster.options(self), args.retention.stateful(self)),
        )
        return f"{db_name}.{args.namespace}.svc.cluster.local"
