"""The KubernetesLayer's workloads and the traffic each needs on top of default-deny.

A KServe InferenceService per endpoint, a Kubeflow TrainJob per training job, a Job per
optimization job, the MLflow
tracking server and JupyterHub, each in its namespace; and the network policies that let
Knative reach the predictors, a training job's workers reach each other, the clients reach
MLflow and MLflow reach its database.

Every function creates its resources as children of the layer component, so their URNs are
the ones the single constructor gave them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi

from components.kubernetes import network_policies
from components.kubernetes.cluster_access import ClusterAccess
from components.kubernetes.cluster_operators import KNATIVE_SERVING_NAMESPACE
from components.kubernetes.images import DEFAULT_MLFLOW_IMAGE
from components.kubernetes.inference_service import KServeEndpoint, KServeEndpointArgs
from components.kubernetes.jupyterhub import JupyterHub, JupyterHubArgs
from components.kubernetes.mlflow_server import (
    MLFLOW_PORT,
    POSTGRES_PORT,
    MlflowServer,
    MlflowServerArgs,
)
from components.kubernetes.monitoring import InferenceMonitoring, InferenceMonitoringArgs
from components.kubernetes.optimization_job import (
    KubernetesOptimizationJob,
    KubernetesOptimizationJobArgs,
)
from components.kubernetes.spec import (
    JupyterHubConfig,
    KServeEndpointConfig,
    KubernetesConfig,
    KubernetesMlflowConfig,
    KubernetesOptimizationJobConfig,
    KubernetesTrainingJobConfig,
)
from components.kubernetes.train_job import KubernetesTrainJob, KubernetesTrainJobArgs
from components.platform import PlatformContext
from components.shared.images import repository_url
from components.shared.spec_rules import ImageConfig

#: Knative's ingress gateway namespace (Kourier) and the queue-proxy ports it and the
#: activator/autoscaler reach a predictor pod on: http, h2c, admin, autoscaler and user metrics.
KOURIER_NAMESPACE = "kourier-system"
QUEUE_PROXY_PORTS = (8012, 8013, 8022, 9090, 9091)


def _repository(platform: PlatformContext, image: ImageConfig) -> pulumi.Output[str]:
    return repository_url(platform.account_id, platform.region, image.repository)


def _uri(platform: PlatformContext, bucket: str, key: str) -> pulumi.Output[str]:
    return pulumi.Output.concat("s3://", platform.buckets[bucket].bucket, "/", key)


def workload_policies(
    names: Mapping[str, str], spec: KubernetesConfig, opts: pulumi.ResourceOptions
) -> None:
    """Predictors reached by Knative; a training job's workers reaching each other."""
    if spec.endpoints:
        network_policies.allow(
            f"{names['serving']}/allow-knative-to-predictors",
            direction="ingress",
            namespace=names["serving"],
            pod_labels=None,
            peers=[
                network_policies.pods_in(KNATIVE_SERVING_NAMESPACE),
                network_policies.pods_in(KOURIER_NAMESPACE),
            ],
            ports=QUEUE_PROXY_PORTS,
            opts=opts,
        )
    if spec.training_jobs:
        network_policies.allow_within_namespace(
            f"{names['training']}/allow-training-workers",
            namespace=names["training"],
            opts=opts,
        )


def tracking_policies(
    names: Mapping[str, str],
    vpc_cidr: str,
    mlflow: MlflowServer,
    opts: pulumi.ResourceOptions,
) -> None:
    """MLflow reached from training and notebooks; MLflow reaching its database."""
    tracking = names["tracking"]
    network_policies.allow(
        f"{tracking}/allow-clients-to-mlflow",
        direction="ingress",
        namespace=tracking,
        pod_labels=mlflow.pod_labels,
        peers=[
            network_policies.pods_in(names["training"]),
            network_policies.pods_in(names["notebooks"]),
        ],
        ports=[MLFLOW_PORT],
        opts=opts,
    )
    database = (
        network_policies.pods_in(tracking, mlflow.database_pod_labels)
        if mlflow.database_pod_labels
        else network_policies.cidr(vpc_cidr)  # RDS, in the VPC's subnets
    )
    network_policies.allow(
        f"{tracking}/allow-mlflow-to-database",
        direction="egress",
        namespace=tracking,
        pod_labels=mlflow.pod_labels,
        peers=[database],
        ports=[POSTGRES_PORT],
        opts=opts,
    )


def kserve_endpoints(
    layer: pulumi.Resource,
    endpoints: Sequence[KServeEndpointConfig],
    platform: PlatformContext,
    namespace: str,
    access: ClusterAccess,
) -> dict[str, KServeEndpoint]:
    """One InferenceService per ``endpoints`` entry in ``namespace``, by name."""
    return {
        endpoint.name: KServeEndpoint(
            endpoint.name,
            KServeEndpointArgs(
                endpoint=endpoint,
                namespace=namespace,
                image_repository=_repository(platform, endpoint.image),
                model_uri=_uri(platform, "models", endpoint.model_artifact),
                models_bucket_arn=platform.buckets["models"].arn,
                kms_key_arn=platform.kms_key_arn,
                region=platform.region,
            ),
            access,
            opts=pulumi.ResourceOptions(parent=layer),
        )
        for endpoint in endpoints
    }


def inference_monitoring(
    layer: pulumi.Resource,
    spec: KubernetesConfig,
    prefix: str,
    namespace: str,
    access: ClusterAccess,
) -> InferenceMonitoring | None:
    """The PodMonitor, policy and dashboard of the predictors (None: no operator or no endpoint)."""
    if not (spec.observability.prometheus_operator and spec.endpoints):
        return None
    return InferenceMonitoring(
        f"{prefix}-inference-monitoring",
        InferenceMonitoringArgs(
            config=spec.observability,
            serving_namespace=namespace,
            prefix=prefix,
            endpoints=tuple(endpoint.name for endpoint in spec.endpoints),
        ),
        access,
        opts=pulumi.ResourceOptions(parent=layer),
    )


def train_jobs(
    layer: pulumi.Resource,
    jobs: Sequence[KubernetesTrainingJobConfig],
    platform: PlatformContext,
    namespace: str,
    access: ClusterAccess,
) -> dict[str, KubernetesTrainJob]:
    """One TrainJob per ``jobs`` entry in ``namespace``, by name."""
    buckets = platform.buckets
    return {
        job.name: KubernetesTrainJob(
            job.name,
            KubernetesTrainJobArgs(
                job=job,
                namespace=namespace,
                image_repository=_repository(platform, job.image),
                train_uri=_uri(platform, "processed", job.train_data.rstrip("/")),
                validation_uri=_uri(platform, "processed", job.validation_data.rstrip("/"))
                if job.validation_data
                else None,
                # Models and checkpoints of Kubernetes jobs, apart from SageMaker's.
                model_uri=_uri(platform, "experiments", f"k8s/{job.name}/model"),
                checkpoint_uri=_uri(platform, "experiments", f"k8s/{job.name}/checkpoints"),
                data_bucket_arn=buckets["processed"].arn,
                experiments_bucket_arn=buckets["experiments"].arn,
                kms_key_arn=platform.kms_key_arn,
                region=platform.region,
            ),
            access,
            opts=pulumi.ResourceOptions(parent=layer),
        )
        for job in jobs
    }


def optimization_jobs(
    layer: pulumi.Resource,
    jobs: Sequence[KubernetesOptimizationJobConfig],
    platform: PlatformContext,
    namespace: str,
    access: ClusterAccess,
) -> dict[str, KubernetesOptimizationJob]:
    """One Job per ``jobs`` entry in ``namespace``, by name."""
    buckets = platform.buckets
    return {
        job.name: KubernetesOptimizationJob(
            # Apart from the TrainJobs' logical names, which the same short names may take.
            f"opt-{job.name}",
            KubernetesOptimizationJobArgs(
                job=job,
                namespace=namespace,
                image_repository=_repository(platform, job.image),
                problem_uri=_uri(platform, "processed", job.problem.rstrip("/")),
                # Apart from the training jobs' k8s/<name>/ (the same names are allowed).
                solution_uri=_uri(platform, "experiments", f"k8s/optimization/{job.name}/solution"),
                checkpoint_uri=_uri(
                    platform, "experiments", f"k8s/optimization/{job.name}/checkpoints"
                ),
                data_bucket_arn=buckets["processed"].arn,
                experiments_bucket_arn=buckets["experiments"].arn,
                kms_key_arn=platform.kms_key_arn,
                region=platform.region,
            ),
            access,
            opts=pulumi.ResourceOptions(parent=layer),
        )
        for job in jobs
    }


def mlflow_server(
    layer: pulumi.Resource,
    mlflow: KubernetesMlflowConfig,
    platform: PlatformContext,
    namespace: str,
    access: ClusterAccess,
) -> MlflowServer | None:
    """The tracking server ``mlflow`` asks for in ``namespace`` (None: not enabled)."""
    if not mlflow.enabled:
        return None
    image = mlflow.image or DEFAULT_MLFLOW_IMAGE
    buckets = platform.buckets
    return MlflowServer(
        "mlflow",
        MlflowServerArgs(
            mlflow=mlflow,
            environment=platform.environment,
            namespace=namespace,
            image_repository=_repository(platform, image),
            image_tag=image.tag,
            kms_key_arn=platform.kms_key_arn,
            artifacts_bucket_name=buckets["experiments"].bucket,
            artifacts_bucket_arn=buckets["experiments"].arn,
            region=platform.region,
            storage_class=access.storage_class,
            retention=platform.retention,
            subnet_ids=platform.subnet_ids,
            vpc_id=platform.vpc_id,
            vpc_cidr=platform.vpc_cidr,
        ),
        access,
        opts=pulumi.ResourceOptions(parent=layer),
    )


def jupyterhub(
    layer: pulumi.Resource,
    hub: JupyterHubConfig,
    platform: PlatformContext,
    names: Mapping[str, str],
    access: ClusterAccess,
    mlflow: MlflowServer | None,
) -> JupyterHub | None:
    """JupyterHub as ``hub`` asks, pointed at ``mlflow`` if any (None: not enabled)."""
    if not hub.enabled:
        return None
    return JupyterHub(
        "jupyterhub",
        JupyterHubArgs(
            hub=hub,
            namespace=names["notebooks"],
            storage_class=access.storage_class,
            user_image_repository=_repository(platform, hub.user_image) if hub.user_image else None,
            tracking_uri=mlflow.tracking_uri if mlflow else None,
            tracking_namespace=names["tracking"] if mlflow else None,
            vpc_cidr=platform.vpc_cidr,
        ),
        access,
        opts=pulumi.ResourceOptions(parent=layer),
    )
