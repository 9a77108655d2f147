"""The KubernetesLayer's workloads and the traffic each needs on top of default-deny.

A KServe InferenceService per endpoint, a Kubeflow TrainJob per training job, the MLflow
tracking server and JupyterHub, each in its namespace; and the network policies that let
Knative reach the predictors, a training job's workers reach each other, the clients reach
MLflow and MLflow reach its database.

Every function creates its resources as children of the layer component, so their URNs are
the ones the single constructor gave them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pulumi

from components.kubernetes import network_policies
from components.kubernetes.cluster_access import ClusterAccess
from components.kubernetes.cluster_operators import KNATIVE_SERVING_NAMESPACE
from components.kubernetes.inference_service import KServeEndpoint, KServeEndpointArgs
from components.kubernetes.jupyterhub import JupyterHub, JupyterHubArgs
from components.kubernetes.mlflow_server import (
    MLFLOW_PORT,
    POSTGRES_PORT,
    MlflowServer,
    MlflowServerArgs,
)
from components.kubernetes.pod_security import ContainerResources
from components.kubernetes.train_job import KubernetesTrainJob, KubernetesTrainJobArgs
from components.training.repositories import repository_url

if TYPE_CHECKING:
    # kubernetes.layer imports this module; its args and specs are only types here.
    from components.kubernetes.layer import ImageRef, KubernetesLayerArgs

#: Knative's ingress gateway namespace (Kourier) and the queue-proxy ports it and the
#: activator/autoscaler reach a predictor pod on: http, h2c, admin, autoscaler and user metrics.
KOURIER_NAMESPACE = "kourier-system"
QUEUE_PROXY_PORTS = (8012, 8013, 8022, 9090, 9091)


def _resources(resources: ContainerResources) -> dict[str, Any]:
    return {
        "cpu": resources.cpu,
        "memory": resources.memory,
        "cpu_limit": resources.cpu_limit,
    }


def _repository(args: KubernetesLayerArgs, image: ImageRef) -> pulumi.Output[str]:
    return repository_url(args.platform.account_id, args.region, image.repository)


def _uri(args: KubernetesLayerArgs, bucket: str, key: str) -> pulumi.Output[str]:
    return pulumi.Output.concat("s3://", args.platform.buckets[bucket].bucket, "/", key)


def workload_policies(
    names: Mapping[str, str], args: KubernetesLayerArgs, opts: pulumi.ResourceOptions
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


def tracking_policies(
    names: Mapping[str, str],
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


def kserve_endpoints(
    layer: pulumi.Resource,
    args: KubernetesLayerArgs,
    namespace: str,
    access: ClusterAccess,
) -> dict[str, KServeEndpoint]:
    """One InferenceService per ``args.endpoints`` entry in ``namespace``, by name."""
    data, buckets = args.platform, args.platform.buckets
    return {
        spec.name: KServeEndpoint(
            spec.name,
            KServeEndpointArgs(
                name=spec.name,
                namespace=namespace,
                image_repository=_repository(args, spec.image),  # type: ignore[arg-type]
                image_tag=spec.image.tag,
                model_uri=_uri(args, "models", spec.model_artifact),
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
            access,
            opts=pulumi.ResourceOptions(parent=layer),
        )
        for spec in args.endpoints
    }


def train_jobs(
    layer: pulumi.Resource,
    args: KubernetesLayerArgs,
    namespace: str,
    access: ClusterAccess,
) -> dict[str, KubernetesTrainJob]:
    """One TrainJob per ``args.training_jobs`` entry in ``namespace``, by name."""
    data, buckets = args.platform, args.platform.buckets
    return {
        spec.name: KubernetesTrainJob(
            spec.name,
            KubernetesTrainJobArgs(
                name=spec.name,
                namespace=namespace,
                image_repository=_repository(args, spec.image),  # type: ignore[arg-type]
                image_tag=spec.image.tag,
                algorithm=spec.algorithm,
                task=spec.task,
                target=spec.target,
                train_uri=_uri(args, "processed", spec.train_data.rstrip("/")),
                validation_uri=_uri(args, "processed", spec.validation_data.rstrip("/"))
                if spec.validation_data
                else None,
                # Models and checkpoints of Kubernetes jobs, apart from SageMaker's.
                model_uri=_uri(args, "experiments", f"k8s/{spec.name}/model"),
                checkpoint_uri=_uri(args, "experiments", f"k8s/{spec.name}/checkpoints"),
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
            access,
            opts=pulumi.ResourceOptions(parent=layer),
        )
        for spec in args.training_jobs
    }


def mlflow_server(
    layer: pulumi.Resource,
    args: KubernetesLayerArgs,
    namespace: str,
    access: ClusterAccess,
) -> MlflowServer | None:
    """The tracking server ``args.mlflow`` asks for in ``namespace`` (None: none asked)."""
    if args.mlflow is None:
        return None
    spec, data, buckets = args.mlflow, args.platform, args.platform.buckets
    return MlflowServer(
        "mlflow",
        MlflowServerArgs(
            environment=args.environment,
            namespace=namespace,
            image_repository=_repository(args, spec.image),  # type: ignore[arg-type]
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
        access,
        opts=pulumi.ResourceOptions(parent=layer),
    )


def jupyterhub(
    layer: pulumi.Resource,
    args: KubernetesLayerArgs,
    names: Mapping[str, str],
    access: ClusterAccess,
    mlflow: MlflowServer | None,
) -> JupyterHub | None:
    """JupyterHub as ``args.jupyterhub`` asks, pointed at ``mlflow`` if any (None: none asked)."""
    if args.jupyterhub is None:
        return None
    hub = args.jupyterhub
    return JupyterHub(
        "jupyterhub",
        JupyterHubArgs(
            namespace=names["notebooks"],
            storage_class=access.storage_class,
            admin_users=list(hub.admin_users),
            user_image_repository=_repository(args, hub.user_image)  # type: ignore[arg-type]
            if hub.user_image
            else None,
            user_image_tag=hub.user_image.tag if hub.user_image else None,
            storage_gb=hub.storage_gb,
            cpu_profile=hub.cpu_profile,
            gpu_profile=hub.gpu_profile,
            idle_cull_minutes=hub.idle_cull_minutes,
            tracking_uri=mlflow.tracking_uri if mlflow else None,
            tracking_namespace=names["tracking"] if mlflow else None,
            vpc_cidr=args.vpc_cidr,
        ),
        access,
        opts=pulumi.ResourceOptions(parent=layer),
    )
