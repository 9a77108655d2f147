"""KubernetesLayer: the Kubernetes options, on a cluster the stack creates or one that exists.

It consumes the data layer (VPC, subnets, platform key, buckets) and owns:

* cluster access: an :class:`~components.kubernetes.eks_cluster.EksCluster` (private API
  endpoint, secrets encrypted with the platform key, control-plane logs, system and GPU node
  groups) or an existing cluster given by kubeconfig and its IAM OIDC provider; either way one
  Kubernetes provider, which applies or (``render_to``) writes every manifest to a folder;
* the operators the workloads run on (cert-manager, Knative Serving, KServe, Kubeflow Trainer),
  installed on a created cluster and optional on an existing one;
* the workload namespaces (restricted Pod Security, default-deny network policies) and the
  traffic each workload needs on top;
* a KServe InferenceService per endpoint, a Kubeflow TrainJob per training job, an MLflow
  tracking server and JupyterHub.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from components.data_layer import DataLayer
from components.image_repositories import repository_url
from components.kubernetes import network_policies
from components.kubernetes.cluster_access import ClusterAccess
from components.kubernetes.cluster_operators import KNATIVE_SERVING_NAMESPACE, ClusterOperators
from components.kubernetes.eks_cluster import EksCluster, EksClusterArgs, NodeGroupSpec
from components.kubernetes.inference_service import KServeEndpoint, KServeEndpointArgs
from components.kubernetes.jupyterhub import JupyterHub, JupyterHubArgs
from components.kubernetes.kubernetes_provider import kubernetes_provider
from components.kubernetes.mlflow_server import (
    MLFLOW_PORT,
    POSTGRES_PORT,
    MlflowServer,
    MlflowServerArgs,
)
from components.kubernetes.namespaces import PlatformNamespaces, PlatformNamespacesArgs
from components.kubernetes.pod_security import ContainerResources
from components.kubernetes.train_job import KubernetesTrainJob, KubernetesTrainJobArgs
from components.shared.retention import DataRetention

#: Knative's ingress gateway namespace (Kourier) and the queue-proxy ports it and the
#: activator/autoscaler reach a predictor pod on: http, h2c, admin, autoscaler and user metrics.
KOURIER_NAMESPACE = "kourier-system"
QUEUE_PROXY_PORTS = (8012, 8013, 8022, 9090, 9091)


@dataclass(frozen=True)
class EksSpec:
    """A cluster to create (mirrors ``EksClusterConfig``)."""

    version: str
    """Kubernetes minor version."""
    system_nodes: NodeGroupSpec
    """The on-demand node group."""
    gpu_nodes: NodeGroupSpec | None
    """The GPU node group, if any."""
    admin_role_arns: Sequence[str] = ()
    """Roles given cluster-admin access."""
    public_access_cidrs: Sequence[str] = ()
    """Opt-in public API endpoint CIDRs."""


@dataclass(frozen=True)
class ExistingClusterSpec:
    """A cluster that exists (mirrors ``ExistingClusterConfig``)."""

    oidc_provider_arn: str
    """Its IAM OIDC provider."""
    kubeconfig: str | None = None
    """Its kubeconfig file (None: ``$KUBECONFIG``)."""
    context: str | None = None
    """The kubeconfig context (None: the current one)."""
    storage_class: str = "gp3"
    """The StorageClass of persistent volumes."""

    @property
    def oidc_issuer(self) -> str:
        """The issuer host and path: what follows ``oidc-provider/`` in the provider's ARN."""
        return self.oidc_provider_arn.split(":oidc-provider/", 1)[1]


@dataclass(frozen=True)
class ImageRef:
    """An image of ours in this account's ECR."""

    repository: str
    """Repository name, e.g. ``ml-platform/serving``."""
    tag: str
    """Pinned tag."""


@dataclass(frozen=True)
class KServeSpec:
    """One InferenceService (mirrors ``KServeEndpointConfig``)."""

    name: str
    """Its name."""
    image: ImageRef
    """The inference server image."""
    model_artifact: str
    """Key of the model archive in the models bucket."""
    canary_traffic_percent: int | None
    """The newest revision's share of traffic while it is a canary."""
    min_replicas: int
    """Fewest pods."""
    max_replicas: int
    """Most pods."""
    scale_metric: Literal["concurrency", "rps"]
    """What Knative's autoscaler tracks."""
    scale_target: int
    """The autoscaler's target per pod."""
    resources: ContainerResources
    """Each pod's resources."""


@dataclass(frozen=True)
class TrainJobSpec:
    """One distributed training job (mirrors ``KubernetesTrainingJobConfig``)."""

    name: str
    """Its name."""
    image: ImageRef
    """The training image."""
    algorithm: str
    """The training algorithm."""
    task: Literal["classification", "regression"]
    """Classification or regression."""
    target: str
    """The target column."""
    train_data: str
    """Training channel prefix in the processed bucket."""
    validation_data: str | None
    """Validation channel prefix in the processed bucket."""
    hyperparameters: dict[str, str | int | float | bool]
    """Hyperparameters."""
    nodes: int
    """Pods, one per node."""
    gpus_per_node: int
    """GPUs (and worker processes) per pod."""
    resources: ContainerResources
    """Each pod's CPU and memory."""
    backoff_limit: int
    """Failures tolerated."""
    active_deadline_seconds: int
    """Longest run."""


@dataclass(frozen=True)
class MlflowSpec:
    """The tracking server (mirrors ``KubernetesMlflowConfig``)."""

    image: ImageRef
    """The MLflow image."""
    database: Literal["rds", "in_cluster"]
    """Where its metadata lives."""
    rds_instance_class: str
    """RDS instance class."""
    rds_storage_gb: int
    """RDS storage."""
    rds_multi_az: bool
    """RDS standby in a second zone."""
    backup_retention_days: int
    """RDS backup days."""
    replicas: int
    """Server pods."""
    resources: ContainerResources
    """Each pod's resources."""


@dataclass(frozen=True)
class JupyterHubSpec:
    """JupyterHub (mirrors ``JupyterHubConfig``)."""

    admin_users: Sequence[str]
    """Admins."""
    user_image: ImageRef | None
    """The notebook image (None: the chart's)."""
    storage_gb: int
    """Each user's home volume."""
    cpu_profile: ContainerResources
    """The CPU profile."""
    gpu_profile: ContainerResources | None
    """The GPU profile."""
    idle_cull_minutes: int
    """Idle minutes before a server stops."""


@dataclass(frozen=True)
class KubernetesLayerArgs:
    """Inputs of the KubernetesLayer."""

    environment: str
    """Short environment name."""
    region: str
    """The stack's region."""
    data: DataLayer
    """The data layer: VPC, key, buckets."""
    vpc_cidr: str
    """The VPC's range (what pods reach the VPC's endpoints and RDS in)."""
    retention: DataRetention
    """Whether stateful resources (RDS, volumes, logs) survive ``pulumi destroy``."""
    log_retention_days: int
    """Retention of the control-plane log group."""
    eks: EksSpec | None = None
    """Create this cluster ..."""
    existing: ExistingClusterSpec | None = None
    """... or use this one."""
    render_to: str | None = None
    """Render the Kubernetes manifests to this folder instead of applying them."""
    install_operators: bool = True
    """Install cert-manager, Knative Serving, KServe and Kubeflow Trainer."""
    endpoints: Sequence[KServeSpec] = ()
    """InferenceServices."""
    training_jobs: Sequence[TrainJobSpec] = ()
    """TrainJobs."""
    mlflow: MlflowSpec | None = None
    """The tracking server (None: none)."""
    jupyterhub: JupyterHubSpec | None = None
    """JupyterHub (None: none)."""

    def __post_init__(self) -> None:
        if (self.eks is None) == (self.existing is None):
            raise ValueError("KubernetesLayerArgs: give exactly one of eks and existing")


def _resources(resources: ContainerResources) -> dict[str, Any]:
    return {
        "cpu": resources.cpu,
        "memory": resources.memory,
        "cpu_limit": resources.cpu_limit,
    }


class KubernetesLayer(pulumi.ComponentResource):
    """Cluster access, operators, namespaces and the Kubernetes workloads of one stack."""

    def __init__(
        self, name: str, args: KubernetesLayerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlplatform:kubernetes:KubernetesLayer", name, None, opts)
        data, env = args.data, args.environment
        prefix = f"mlp-{env}"
        self.cluster: EksCluster | None = None
        if args.eks is not None:
            eks = args.eks
            self.cluster = EksCluster(
                f"{prefix}-eks",
                EksClusterArgs(
                    environment=env,
                    region=args.region,
                    version=eks.version,
                    vpc_id=data.vpc_id,
                    vpc_cidr=args.vpc_cidr,
                    subnet_ids=data.subnet_ids,
                    endpoint_security_group_id=data.endpoint_security_group_id,
                    kms_key_arn=data.kms_key_arn,
                    log_retention_days=args.log_retention_days,
                    system_nodes=eks.system_nodes,
                    gpu_nodes=eks.gpu_nodes,
                    admin_role_arns=eks.admin_role_arns,
                    public_access_cidrs=eks.public_access_cidrs,
                    account_id=data.account_id,
                    partition=data.partition,
                    retention=args.retention,
                    render_to=args.render_to,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            access = self.cluster.access
        else:
            existing = args.existing
            assert existing is not None  # __post_init__ requires one of the two
            kubeconfig = os.path.expanduser(existing.kubeconfig) if existing.kubeconfig else None
            access = ClusterAccess(
                provider=kubernetes_provider(
                    f"{prefix}-kubernetes",
                    kubeconfig,
                    args.render_to,
                    pulumi.ResourceOptions(parent=self),
                    context=existing.context,
                ),
                oidc_provider_arn=existing.oidc_provider_arn,
                oidc_issuer=existing.oidc_issuer,
                storage_class=existing.storage_class,
                rendering=bool(args.render_to),
            )
        self.operators: ClusterOperators | None = None
        if args.install_operators:
            self.operators = ClusterOperators(
                f"{prefix}-operators", access, opts=pulumi.ResourceOptions(parent=self)
            )
            access = dataclasses.replace(access, ready=[*access.ready, *self.operators.ready])
        self.access = access
        self.render_to = args.render_to

        s3_cidrs = aws.ec2.get_prefix_list_output(
            prefix_list_id=data.s3_prefix_list_id, opts=pulumi.InvokeOptions(parent=self)
        ).cidr_blocks
        self.namespaces = PlatformNamespaces(
            f"{prefix}-namespaces",
            PlatformNamespacesArgs(environment=env, vpc_cidr=args.vpc_cidr, s3_cidrs=s3_cidrs),
            access,
            opts=pulumi.ResourceOptions(parent=self),
        )
        names = self.namespaces.names
        # Workloads go into their namespace once it (and its policies' owner) exists.
        workload_access = {
            purpose: dataclasses.replace(access, ready=[*access.ready, namespace])
            for purpose, namespace in self.namespaces.namespaces.items()
        }
        policy_opts = access.options(self.namespaces)
        self._workload_policies(names, args, policy_opts)

        def repository(image: ImageRef) -> pulumi.Output[str]:
            return repository_url(data.account_id, args.region, image.repository)

        buckets = data.buckets
        self.endpoints = {
            spec.name: KServeEndpoint(
                spec.name,
                KServeEndpointArgs(
                    name=spec.name,
                    namespace=names["serving"],
                    image_repository=repository(spec.image),  # type: ignore[arg-type]
                    image_tag=spec.image.tag,
                    model_uri=pulumi.Output.concat(
                        "s3://", buckets["models"].bucket, "/", spec.model_artifact
                    ),
                    models_bucket_arn=buckets["models"].arn,
                    kms_key_arn=data.kms_key_arn,
                    region=args.region,
                    canary_traffic_percent=spec.canary_traffic_percent,
                    min_replicas=spec.min_replicas,
                    max_replicas=spec.max_replicas,
                    scale_metric=spec.scale_metric,
                    scale_target=spec.scale_target,
                    gpus=spec.resources.gpus,
                    **_resources(spec.resources),
                ),
                workload_access["serving"],
                opts=pulumi.ResourceOptions(parent=self),
            )
            for spec in args.endpoints
        }

        def uri(bucket: str, key: str) -> pulumi.Output[str]:
            return pulumi.Output.concat("s3://", buckets[bucket].bucket, "/", key)

        self.training_jobs = {
            spec.name: KubernetesTrainJob(
                spec.name,
                KubernetesTrainJobArgs(
                    name=spec.name,
                    namespace=names["training"],
                    image_repository=repository(spec.image),  # type: ignore[arg-type]
                    image_tag=spec.image.tag,
                    algorithm=spec.algorithm,
                    task=spec.task,
                    target=spec.target,
                    train_uri=uri("processed", spec.train_data.rstrip("/")),
                    validation_uri=uri("processed", spec.validation_data.rstrip("/"))
                    if spec.validation_data
                    else None,
                    # Models and checkpoints of Kubernetes jobs, apart from SageMaker's.
                    model_uri=uri("experiments", f"k8s/{spec.name}/model"),
                    checkpoint_uri=uri("experiments", f"k8s/{spec.name}/checkpoints"),
                    data_bucket_arn=buckets["processed"].arn,
                    experiments_bucket_arn=buckets["experiments"].arn,
                    kms_key_arn=data.kms_key_arn,
                    region=args.region,
                    hyperparameters=dict(spec.hyperparameters),
                    nodes=spec.nodes,
                    gpus_per_node=spec.gpus_per_node,
                    backoff_limit=spec.backoff_limit,
                    active_deadline_seconds=spec.active_deadline_seconds,
                    **_resources(spec.resources),
                ),
                workload_access["training"],
                opts=pulumi.ResourceOptions(parent=self),
            )
            for spec in args.training_jobs
        }

        self.mlflow: MlflowServer | None = None
        if args.mlflow is not None:
            spec = args.mlflow
            self.mlflow = MlflowServer(
                "mlflow",
                MlflowServerArgs(
                    environment=env,
                    namespace=names["tracking"],
                    image_repository=repository(spec.image),  # type: ignore[arg-type]
                    image_tag=spec.image.tag,
                    kms_key_arn=data.kms_key_arn,
                    artifacts_bucket_name=buckets["experiments"].bucket,
                    artifacts_bucket_arn=buckets["experiments"].arn,
                    region=args.region,
                    storage_class=access.storage_class,
                    retention=args.retention,
                    replicas=spec.replicas,
                    database=spec.database,
                    rds_instance_class=spec.rds_instance_class,
                    rds_storage_gb=spec.rds_storage_gb,
                    rds_multi_az=spec.rds_multi_az,
                    backup_retention_days=spec.backup_retention_days,
                    subnet_ids=data.subnet_ids,
                    vpc_id=data.vpc_id,
                    vpc_cidr=args.vpc_cidr,
                    **_resources(spec.resources),
                ),
                workload_access["tracking"],
                opts=pulumi.ResourceOptions(parent=self),
            )
            self._tracking_policies(names, args, self.mlflow, policy_opts)

        self.jupyterhub: JupyterHub | None = None
        if args.jupyterhub is not None:
            hub = args.jupyterhub
            self.jupyterhub = JupyterHub(
                "jupyterhub",
                JupyterHubArgs(
                    namespace=names["notebooks"],
                    storage_class=access.storage_class,
                    admin_users=list(hub.admin_users),
                    user_image_repository=repository(hub.user_image)  # type: ignore[arg-type]
                    if hub.user_image
                    else None,
                    user_image_tag=hub.user_image.tag if hub.user_image else None,
                    storage_gb=hub.storage_gb,
                    cpu_profile=hub.cpu_profile,
                    gpu_profile=hub.gpu_profile,
                    idle_cull_minutes=hub.idle_cull_minutes,
                    tracking_uri=self.mlflow.tracking_uri if self.mlflow else None,
                    tracking_namespace=names["tracking"] if self.mlflow else None,
                    vpc_cidr=args.vpc_cidr,
                ),
                workload_access["notebooks"],
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({})

    @staticmethod
    def _workload_policies(
        names: dict[str, str], args: KubernetesLayerArgs, opts: pulumi.ResourceOptions
    ) -> None:
        """Predictors reached by Knative; a training job's workers reaching each other."""
        if args.endpoints:
            network_policies.allow_ingress(
                f"{names['serving']}/allow-knative-to-predictors",
                namespace=names["serving"],
                pod_labels=None,
                sources=[
                    network_policies.pods_in(KNATIVE_SERVING_NAMESPACE),
                    network_policies.pods_in(KOURIER_NAMESPACE),
                ],
                ports=QUEUE_PROXY_PORTS,
                opts=opts,
            )
        if args.training_jobs:
            network_policies.allow_within_namespace(
                f"{names['training']}/allow-training-workers",
                namespace=names["training"],
                opts=opts,
            )

    @staticmethod
    def _tracking_policies(
        names: dict[str, str],
        args: KubernetesLayerArgs,
        mlflow: MlflowServer,
        opts: pulumi.ResourceOptions,
    ) -> None:
        """MLflow reached from training and notebooks; MLflow reaching its database."""
        tracking = names["tracking"]
        network_policies.allow_ingress(
            f"{tracking}/allow-clients-to-mlflow",
            namespace=tracking,
            pod_labels=mlflow.pod_labels,
            sources=[
                network_policies.pods_in(names["training"]),
                network_policies.pods_in(names["notebooks"]),
            ],
            ports=[MLFLOW_PORT],
            opts=opts,
        )
        database = (
            network_policies.pods_in(tracking, mlflow.database_pod_labels)
            if mlflow.database_pod_labels
            else network_policies.cidr(args.vpc_cidr)  # RDS, in the VPC's subnets
        )
        network_policies.allow_egress(
            f"{tracking}/allow-mlflow-to-database",
            namespace=tracking,
            pod_labels=mlflow.pod_labels,
            destinations=[database],
            ports=[POSTGRES_PORT],
            opts=opts,
        )

    def exports(self) -> dict[str, Any]:
        """The layer's outputs as the stack exports them."""
        return {
            "cluster": self.cluster.exports() if self.cluster else None,
            # Where the manifests are written instead of applied (None: they are applied).
            "rendered_to": self.render_to,
            "namespaces": dict(self.namespaces.names),
            "endpoints": {name: endpoint.exports() for name, endpoint in self.endpoints.items()},
            "training_jobs": {name: job.exports() for name, job in self.training_jobs.items()},
            "mlflow_tracking_uri": self.mlflow.tracking_uri if self.mlflow else None,
            "jupyterhub_service": self.jupyterhub.proxy_service_name if self.jupyterhub else None,
        }
