"""KubernetesLayer: the Kubernetes options, on a cluster the stack creates or one that exists.

It takes its ``kubernetes`` section and the platform the data layer built (VPC, subnets, platform
key, buckets, retention) and owns:

* cluster access: an :class:`~components.kubernetes.eks_cluster.EksCluster` (private API
  endpoint, secrets encrypted with the platform key, control-plane logs, system and GPU node
  groups) or an existing cluster given by kubeconfig and its IAM OIDC provider; either way one
  Kubernetes provider, which applies or (``render_to``) writes every manifest to a folder;
* the operators the workloads run on (cert-manager, Knative Serving, KServe, Kubeflow Trainer),
  installed on a created cluster and optional on an existing one;
* the workload namespaces (restricted Pod Security, default-deny network policies) and the
  traffic each workload needs on top;
* a KServe InferenceService per endpoint, a Kubeflow TrainJob per training job, a Job per
  optimization job (:mod:`components.kubernetes.optimization_job`), an MLflow
  tracking server and JupyterHub;
* with the Prometheus operator, a PodMonitor for the predictors and the inference server's
  Grafana dashboard (:mod:`components.kubernetes.monitoring`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi
import pulumi_aws as aws

from components.kubernetes.cluster_operators import ClusterOperators
from components.kubernetes.eks_cluster import EksCluster
from components.kubernetes.layer_cluster import cluster_access
from components.kubernetes.layer_workloads import (
    inference_monitoring,
    jupyterhub,
    kserve_endpoints,
    mlflow_server,
    optimization_jobs,
    tracking_policies,
    train_jobs,
    workload_policies,
)
from components.kubernetes.namespaces import PlatformNamespaces, PlatformNamespacesArgs
from components.kubernetes.spec import KubernetesConfig
from components.platform import PlatformContext, PlatformLayer


class KubernetesLayer(PlatformLayer[KubernetesConfig]):
    """Cluster access, operators, namespaces and the Kubernetes workloads of one stack."""

    TYPE = "mlplatform:kubernetes:KubernetesLayer"

    def build(self, spec: KubernetesConfig, platform: PlatformContext) -> None:
        """Create the layer from its ``kubernetes`` section on ``platform``."""
        cluster = spec.cluster
        assert cluster is not None  # the stack's config requires it when the layer is deployed
        prefix = f"mlp-{platform.environment}"
        self.cluster: EksCluster | None
        self.cluster, access = cluster_access(self, prefix, cluster, platform)
        self.operators: ClusterOperators | None = None
        if cluster.operators_installed:
            self.operators = ClusterOperators(
                f"{prefix}-operators", access, opts=pulumi.ResourceOptions(parent=self)
            )
            access = dataclasses.replace(access, ready=[*access.ready, *self.operators.ready])
        self.access = access
        self.render_to = cluster.render_to

        s3_cidrs = aws.ec2.get_prefix_list_output(
            prefix_list_id=platform.s3_prefix_list_id, opts=pulumi.InvokeOptions(parent=self)
        ).cidr_blocks
        self.namespaces = PlatformNamespaces(
            f"{prefix}-namespaces",
            PlatformNamespacesArgs(
                environment=platform.environment, vpc_cidr=platform.vpc_cidr, s3_cidrs=s3_cidrs
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
        workload_policies(names, spec, policy_opts)
        self.endpoints = kserve_endpoints(
            self, spec.endpoints, platform, names["serving"], workload_access["serving"]
        )
        self.monitoring = inference_monitoring(
            self, spec, prefix, names["serving"], workload_access["serving"]
        )
        self.training_jobs = train_jobs(
            self, spec.training_jobs, platform, names["training"], workload_access["training"]
        )
        self.optimization_jobs = optimization_jobs(
            self, spec.optimization_jobs, platform, names["training"], workload_access["training"]
        )
        self.mlflow = mlflow_server(
            self, spec.mlflow, platform, names["tracking"], workload_access["tracking"]
        )
        if self.mlflow is not None:
            tracking_policies(names, platform.vpc_cidr, self.mlflow, policy_opts)
        self.jupyterhub = jupyterhub(
            self, spec.jupyterhub, platform, names, workload_access["notebooks"], self.mlflow
        )

    def registered_outputs(self) -> dict[str, Any]:
        """None: this layer registers no outputs; the program exports them to the stack."""
        return {}

    def exports(self) -> dict[str, Any]:
        """The layer's outputs as the stack exports them."""
        return {
            "cluster": self.cluster.exports() if self.cluster else None,
            # Where the manifests are written instead of applied (None: they are applied).
            "rendered_to": self.render_to,
            "namespaces": dict(self.namespaces.names),
            "endpoints": {name: endpoint.exports() for name, endpoint in self.endpoints.items()},
            "training_jobs": {name: job.exports() for name, job in self.training_jobs.items()},
            "optimization_jobs": {
                name: job.exports() for name, job in self.optimization_jobs.items()
            },
            "mlflow_tracking_uri": self.mlflow.tracking_uri if self.mlflow else None,
            "jupyterhub_service": self.jupyterhub.proxy_service_name if self.jupyterhub else None,
            "monitoring": self.monitoring.exports() if self.monitoring else None,
        }
