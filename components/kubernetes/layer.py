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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from components.kubernetes.cluster_operators import ClusterOperators
from components.kubernetes.eks_cluster import EksCluster, NodeGroupSpec
from components.kubernetes.layer_cluster import cluster_access
from components.kubernetes.layer_workloads import (
    jupyterhub,
    kserve_endpoints,
    mlflow_server,
    tracking_policies,
    train_jobs,
    workload_policies,
)
from components.kubernetes.namespaces import PlatformNamespaces, PlatformNamespacesArgs
from components.kubernetes.pod_security import ContainerResources
from components.platform import PlatformContext
from components.shared.retention import DataRetention


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
    platform: PlatformContext
    """The platform the layer is deployed into (built by the data layer)."""
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


class KubernetesLayer(pulumi.ComponentResource):
    """Cluster access, operators, namespaces and the Kubernetes workloads of one stack."""

    def __init__(
        self, name: str, args: KubernetesLayerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlplatform:kubernetes:KubernetesLayer", name, None, opts)
        data, prefix = args.platform, f"mlp-{args.environment}"
        self.cluster: EksCluster | None
        self.cluster, access = cluster_access(self, prefix, args)
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
            PlatformNamespacesArgs(
                environment=args.environment, vpc_cidr=args.vpc_cidr, s3_cidrs=s3_cidrs
            ),
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
        workload_policies(names, args, policy_opts)
        self.endpoints = kserve_endpoints(self, args, names["serving"], workload_access["serving"])
        self.training_jobs = train_jobs(self, args, names["training"], workload_access["training"])
        self.mlflow = mlflow_server(self, args, names["tracking"], workload_access["tracking"])
        if self.mlflow is not None:
            tracking_policies(names, args, self.mlflow, policy_opts)
        self.jupyterhub = jupyterhub(self, args, names, workload_access["notebooks"], self.mlflow)
        self.register_outputs({})

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
