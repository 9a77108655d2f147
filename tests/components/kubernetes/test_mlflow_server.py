"""MlflowServer under the recording mock runtime, with RDS and with in-cluster PostgreSQL.

given the component built for a stack that retains data (prod) or not (dev) / when its recorded
resources are read / then authentication is on with no default permission, the server is reached
only through a ClusterIP Service, credentials reach pods only through Secrets, the database is
encrypted, private and (where retained) protected, and every pod template is restricted.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
from pydantic import ValidationError

from components.kubernetes.cluster_access import ClusterAccess
from components.kubernetes.mlflow_server import MlflowServer, MlflowServerArgs
from components.kubernetes.spec import KubernetesMlflowConfig
from components.shared.retention import DataRetention
from stacks.offline.mock_runtime import PlanRun, RecordedResource
from tests.components.kubernetes.cluster import run_on_cluster
from tests.components.kubernetes.pod_templates import pod_template_problems, pod_templates
from tests.components.kubernetes.recorded import of_type

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
BUCKET = "ml-platform-dev-experiments"
VPC_CIDR = "10.20.0.0/16"
NAMESPACE = "tracking"

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
SERVICE = "kubernetes:core/v1:Service"
SECRET = "kubernetes:core/v1:Secret"
INSTANCE = "aws:rds/instance:Instance"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
PASSWORD = "random:index/randomPassword:RandomPassword"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def server_args(**overrides: Any) -> MlflowServerArgs:
    """The args with ``overrides`` (to the mlflow section or the args; the section unchecked)."""
    section: dict[str, Any] = {"database": "rds", "rds_multi_az": True}
    values: dict[str, Any] = {
        "environment": "dev",
        "namespace": NAMESPACE,
        "image_repository": "123456789012.dkr.ecr.us-east-1.amazonaws.com/ml-platform/mlflow",
        "image_tag": "3.17.2",
        "kms_key_arn": KEY_ARN,
        "artifacts_bucket_name": BUCKET,
        "artifacts_bucket_arn": f"arn:aws:s3:::{BUCKET}",
        "region": "us-east-1",
        "storage_class": "gp3-encrypted",
        "retention": DataRetention(retain=False),
        "subnet_ids": ["subnet-0a", "subnet-0b"],
        "vpc_id": "vpc-0123",
        "vpc_cidr": VPC_CIDR,
    }
    for key, value in overrides.items():
        (section if key in KubernetesMlflowConfig.model_fields else values)[key] = value
    return MlflowServerArgs(mlflow=KubernetesMlflowConfig().model_copy(update=section), **values)


def run_server(args: MlflowServerArgs) -> PlanRun:
    """Build the component alone under the mocks, as a stack's kubernetes layer would."""

    def build(cluster: ClusterAccess, opts: pulumi.ResourceOptions) -> dict[str, Any]:
        server = MlflowServer("mlflow", args, cluster, opts)
        return {"tracking_uri": server.tracking_uri, "admin_secret": server.admin_secret_name}

    return run_on_cluster(build)


def unwrap(value: Any) -> Any:
    """A recorded secret's plain value (secrets travel as ``{<sig>: <secret>, "value": ...}``)."""
    if isinstance(value, dict) and "value" in value and len(value) == 2:
        return value["value"]
    return value


def named(run: PlanRun, type_: str, name: str) -> RecordedResource:
    (resource,) = [r for r in of_type(run, type_) if r.name == name]
    return resource


def container(run: PlanRun) -> dict[str, Any]:
    (deployment,) = of_type(run, DEPLOYMENT)
    (main,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
    return main


@pytest.fixture(scope="module")
def rds_dev() -> PlanRun:
    """RDS in a stack that does not retain data."""
    return run_server(server_args())


@pytest.fixture(scope="module")
def rds_prod() -> PlanRun:
    """RDS in a stack that retains data."""
    return run_server(server_args(environment="prod", retention=DataRetention(retain=True)))


@pytest.fixture(scope="module")
def in_cluster() -> PlanRun:
    """The in-cluster PostgreSQL StatefulSet (no VPC inputs needed)."""
    return run_server(
        server_args(database="in_cluster", subnet_ids=None, vpc_id=None, vpc_cidr=None)
    )


@pytest.fixture(params=["rds_dev", "rds_prod", "in_cluster"])
def any_run(request: pytest.FixtureRequest) -> PlanRun:
    """Each of the three variants."""
    return request.getfixturevalue(request.param)


def test_basic_auth_app_is_on_with_no_default_permission(rds_dev: PlanRun) -> None:
    # given the server's container and the auth Secret
    main = container(rds_dev)
    auth = unwrap(named(rds_dev, SECRET, "mlflow-auth").inputs["stringData"])
    env = {item["name"]: item for item in main["env"]}
    # when the command line and the mounted ini file are read
    ini = auth["basic_auth.ini"].splitlines()
    mount = next(m for m in main["volumeMounts"] if m["name"] == "auth-config")
    # then the basic-auth app runs, reads the mounted file, and grants nothing by default
    assert main["command"] == ["mlflow"]
    assert main["args"][:3] == ["server", "--app-name", "basic-auth"]
    assert env["MLFLOW_AUTH_CONFIG_PATH"]["value"] == f"{mount['mountPath']}/basic_auth.ini"
    assert mount["readOnly"] is True
    assert ini[0] == "[mlflow]"
    assert "default_permission = NO_PERMISSIONS" in ini
    assert "admin_username = admin" in ini
    assert any(line.startswith("database_uri = postgresql://") for line in ini)


def test_admin_password_is_generated_and_only_its_secret_name_is_exported(
    rds_dev: PlanRun,
) -> None:
    # given the generated admin password and the auth Secret
    password = named(rds_dev, PASSWORD, "mlflow-admin-password")
    auth = unwrap(named(rds_dev, SECRET, "mlflow-auth").inputs["stringData"])
    # when they are compared with the exports
    generated = password.outputs["result"]
    # then the Secret carries it (letters and digits only), the exports only name the Secret
    assert password.inputs["special"] is False
    assert auth["admin-password"] == generated
    assert f"admin_password = {generated}" in auth["basic_auth.ini"]
    assert rds_dev.exports == {
        "admin_secret": "mlflow-auth",
        "tracking_uri": f"http://mlflow.{NAMESPACE}.svc.cluster.local:5000",
    }
    assert generated not in json.dumps(rds_dev.exports)


def test_server_is_reached_only_through_a_cluster_ip_service(any_run: PlanRun) -> None:
    # given every Service of the component
    services = of_type(any_run, SERVICE)
    # when their types are read
    types = {service.name: service.inputs["spec"].get("type") for service in services}
    (server,) = [s for s in services if s.name == "mlflow"]
    # then the server's is ClusterIP on 5000 and none is a LoadBalancer or a NodePort
    assert server.inputs["spec"]["type"] == "ClusterIP"
    assert [port["port"] for port in server.inputs["spec"]["ports"]] == [5000]
    assert not {"LoadBalancer", "NodePort"} & set(types.values())


def test_database_password_reaches_pods_only_through_secret_references(any_run: PlanRun) -> None:
    # given the generated database password and every pod template
    password = named(any_run, PASSWORD, "mlflow-database-password").outputs["result"]
    templates = [
        (where, pod)
        for resource in [*of_type(any_run, DEPLOYMENT), *of_type(any_run, STATEFUL_SET)]
        for where, pod in pod_templates(resource)
    ]
    # when the pod specs are serialised and their environment read
    env = {
        item["name"]: item
        for _, pod in templates
        for box in pod["containers"]
        for item in box.get("env", [])
    }
    # then the password appears in none of them; the URI and passwords come by secretKeyRef
    assert templates
    assert all(password not in json.dumps(pod) for _, pod in templates)
    assert env["MLFLOW_BACKEND_STORE_URI"]["valueFrom"]["secretKeyRef"] == {
        "name": "mlflow-database",
        "key": "uri",
    }
    assert "value" not in env["MLFLOW_BACKEND_STORE_URI"]
    assert "secretKeyRef" in env["MLFLOW_FLASK_SERVER_SECRET_KEY"]["valueFrom"]
    database_secret = unwrap(named(any_run, SECRET, "mlflow-database").inputs["stringData"])
    assert f":{password}@" in database_secret["uri"]


def test_every_pod_template_is_restricted(any_run: PlanRun) -> None:
    # given every pod template the component writes
    templates = [
        (where, pod) for resource in any_run.resources for where, pod in pod_templates(resource)
    ]
    # when each is checked against the platform's rules
    problems = [
        problem for where, pod in templates for problem in pod_template_problems(where, pod)
    ]
    # then none is broken, and no pod mounts a Kubernetes API token
    assert templates
    assert problems == []
    assert all(pod["automountServiceAccountToken"] is False for _, pod in templates)


def test_server_proxies_artifacts_to_the_mlflow_prefix_and_checks_host_headers(
    rds_dev: PlanRun,
) -> None:
    # given the server's command line and environment
    main = container(rds_dev)
    args = main["args"]
    env = {item["name"]: item.get("value") for item in main["env"]}
    # when the artifact and host options are read
    destination = args[args.index("--artifacts-destination") + 1]
    hosts = args[args.index("--allowed-hosts") + 1].split(",")
    # then clients go through the server to s3://<bucket>/mlflow, by the Service's names
    assert "--serve-artifacts" in args
    assert "--default-artifact-root" not in args
    assert destination == f"s3://{BUCKET}/mlflow"
    assert f"mlflow.{NAMESPACE}.svc.cluster.local:*" in hosts
    assert "*" not in hosts
    assert env["HOME"] == "/tmp"
    probes = [main[probe]["httpGet"]["path"] for probe in ("readinessProbe", "livenessProbe")]
    assert probes == ["/health", "/health"]


def test_artifact_role_is_scoped_to_the_mlflow_prefix(rds_dev: PlanRun) -> None:
    # given the server's role policy
    (policy,) = of_type(rds_dev, ROLE_POLICY)
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    # when its S3 and KMS statements are read
    objects, listing = statements["ReadWriteMlflowArtifacts"], statements["ListMlflowArtifacts"]
    key = statements["UsePlatformKeyThroughS3"]
    # then objects only under mlflow/, listing only that prefix, the key only through S3
    assert objects["Resource"] == f"arn:aws:s3:::{BUCKET}/mlflow/*"
    assert listing["Condition"]["StringLike"]["s3:prefix"] == ["mlflow", "mlflow/*"]
    assert key["Resource"] == KEY_ARN
    assert key["Condition"]["StringEquals"]["kms:ViaService"] == "s3.us-east-1.amazonaws.com"


def test_rds_is_encrypted_private_and_forces_tls(rds_dev: PlanRun) -> None:
    # given the RDS instance, its parameter group and its security group rule
    (instance,) = of_type(rds_dev, INSTANCE)
    (parameters,) = of_type(rds_dev, PARAMETER_GROUP)
    (ingress,) = of_type(rds_dev, INGRESS)
    inputs = instance.inputs
    # when their settings are read
    forced = {p["name"]: p["value"] for p in parameters.inputs["parameters"]}
    # then storage and Performance Insights use the key, nothing is public, TLS is required,
    # and PostgreSQL is open to the VPC's range only
    assert inputs["engine"] == "postgres"
    assert inputs["engineVersion"].count(".") == 1
    assert inputs["storageEncrypted"] is True
    assert inputs["kmsKeyId"] == KEY_ARN
    assert inputs["performanceInsightsKmsKeyId"] == KEY_ARN
    assert inputs["storageType"] == "gp3"
    assert inputs["publiclyAccessible"] is False
    assert inputs["multiAz"] is True
    assert inputs["iamDatabaseAuthenticationEnabled"] is True
    assert inputs["copyTagsToSnapshot"] is True
    assert inputs["autoMinorVersionUpgrade"] is True
    assert inputs["backupRetentionPeriod"] == 7
    assert inputs["parameterGroupName"] == parameters.outputs["name"]
    assert forced["rds.force_ssl"] == "1"
    assert (ingress.inputs["cidrIpv4"], ingress.inputs["fromPort"]) == (VPC_CIDR, 5432)
    assert ingress.inputs["toPort"] == 5432
    assert (
        "sslmode=require"
        in unwrap(named(rds_dev, SECRET, "mlflow-database").inputs["stringData"])["uri"]
    )


@pytest.mark.parametrize(
    ("fixture", "retained"), [("rds_prod", True), ("rds_dev", False)], ids=["prod", "dev"]
)
def test_rds_survives_destroy_only_where_data_is_retained(
    fixture: str, retained: bool, request: pytest.FixtureRequest
) -> None:
    # given the RDS instance of a retaining or a non-retaining stack
    (instance,) = of_type(request.getfixturevalue(fixture), INSTANCE)
    inputs = instance.inputs
    # when its teardown settings are read
    # then protection, retention, deletion protection and a final snapshot go together
    assert instance.protect is retained
    assert instance.retain_on_delete is retained
    assert inputs["deletionProtection"] is retained
    assert inputs["skipFinalSnapshot"] is (not retained)
    assert ("finalSnapshotIdentifier" in inputs) is retained
    assert "engine_version" in instance.ignore_changes or "engineVersion" in instance.ignore_changes


def test_in_cluster_postgres_runs_as_postgres_on_an_encrypted_volume(in_cluster: PlanRun) -> None:
    # given the PostgreSQL StatefulSet and its headless Service
    (stateful_set,) = of_type(in_cluster, STATEFUL_SET)
    spec = stateful_set.inputs["spec"]
    pod = spec["template"]["spec"]
    (postgres,) = pod["containers"]
    (claim,) = spec["volumeClaimTemplates"]
    headless = named(in_cluster, SERVICE, "mlflow-postgres")
    env = {item["name"]: item for item in postgres["env"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in postgres["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    # when its identity, storage and probes are read
    # then it runs as the image's postgres user (999), keeps PGDATA on the claim and writes
    # elsewhere only to emptyDirs, and reports ready through pg_isready
    assert postgres["image"].startswith("docker.io/library/postgres:17.")
    assert pod["securityContext"]["runAsUser"] == 999
    assert pod["securityContext"]["fsGroup"] == 999
    assert postgres["securityContext"]["readOnlyRootFilesystem"] is True
    assert env["PGDATA"]["value"].startswith("/var/lib/postgresql/data/")
    assert mounts["/var/lib/postgresql/data"] == claim["metadata"]["name"]
    assert "emptyDir" in volumes[mounts["/var/run/postgresql"]]
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert claim["spec"]["storageClassName"] == "gp3-encrypted"
    assert postgres["readinessProbe"]["exec"]["command"][0] == "pg_isready"
    assert "secretKeyRef" in env["POSTGRES_PASSWORD"]["valueFrom"]
    assert headless.inputs["spec"]["clusterIP"] == "None"
    assert of_type(in_cluster, INSTANCE) == []
    # and in a non-retaining stack its volume goes with it
    assert spec["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete"
    assert stateful_set.protect is False


def test_in_cluster_database_uri_names_the_headless_service(in_cluster: PlanRun) -> None:
    # given the database Secret of the in-cluster variant
    uri = unwrap(named(in_cluster, SECRET, "mlflow-database").inputs["stringData"])["uri"]
    # when its host is read
    host = uri.split("@", 1)[1].split("/", 1)[0]
    # then it is the StatefulSet's Service in the server's namespace
    assert host == f"mlflow-postgres.{NAMESPACE}.svc.cluster.local:5432"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"vpc_id": None, "vpc_cidr": None},
            "Invalid MLflow server: vpc_id: required when database is 'rds'; "
            "vpc_cidr: required when database is 'rds'",
        ),
    ],
)
def test_invalid_args_are_refused_with_every_error(change: dict, message: str) -> None:
    # given args with one or more wrong fields / when they are built / then all are named at once
    with pytest.raises(ValueError) as error:
        server_args(**change)
    assert str(error.value) == message


def test_the_section_refuses_an_unknown_database_and_backup_days_out_of_range() -> None:
    # given the mlflow section with a database kind it has no support for and 0 backup days
    section = {"database": "sqlite", "backup_retention_days": 0}
    # when it is validated as a stack's section is
    with pytest.raises(ValidationError) as error:
        KubernetesMlflowConfig.model_validate_json(json.dumps(section))
    # then both fields are refused, each with the section's own message
    assert [(problem["loc"], problem["msg"]) for problem in error.value.errors()] == [
        (("database",), "Input should be 'rds' or 'in_cluster'"),
        (("backup_retention_days",), "Input should be greater than or equal to 1"),
    ]


def test_latest_image_tag_is_refused() -> None:
    # given a moving tag / when the component is built / then it refuses before creating anything
    with pytest.raises(ValueError, match="is not pinned"):
        run_server(server_args(image_tag="latest"))
