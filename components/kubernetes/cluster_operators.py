"""ClusterOperators: the controllers the platform's Kubernetes workloads run on, as pinned charts.

* cert-manager: the webhook certificates of KServe (and Knative's, when asked);
* the Knative operator and one ``KnativeServing`` with the Kourier ingress (no Istio), its
  ``secure-pod-defaults`` feature on so every revision's pod, queue-proxy sidecar included,
  meets the "restricted" Pod Security Standard;
* KServe's CRDs and controller in Serverless (Knative) mode, the mode canary rollouts
  (``canaryTrafficPercent``) need;
* Kubeflow Trainer v2 (``TrainJob``; its chart brings JobSet).

Every chart is pinned to one version (a constant below, with where it comes from). Applied, each
is a Helm release that rolls back on failure (``atomic``); rendered (the provider writes YAML to a
folder) each is a ``helm.v4.Chart`` instead, which renders client-side: a Helm release cannot be
rendered (https://github.com/pulumi/pulumi-kubernetes/issues/1716).

The VPC has no internet. The charts are fetched by the machine running Pulumi, but the nodes pull
the images (quay.io, ghcr.io, gcr.io, docker.io) only if the cluster has egress (a NAT gateway) or
a registry mirror: ECR pull-through caches for those registries, with each chart's image
repositories pointed at them. This component does neither; see the README's Kubernetes section.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.cluster_access import ClusterAccess

#: cert-manager's chart in Jetstack's repository; v1.18.2 (July 2025) is a patch release of
#: the 1.18 line (https://cert-manager.io/docs/releases/), above KServe's minimum (1.15).
CERT_MANAGER_VERSION = "v1.18.2"

#: The Knative operator chart's version (its chart versions carry the ``v``), from the operator's
#: Helm index (https://knative.github.io/operator/index.yaml).
KNATIVE_OPERATOR_VERSION = "v1.17.5"

#: The Knative Serving minor the operator installs (the newest patch it bundles); the same line
#: as the operator, within KServe 0.15's tested range.
KNATIVE_SERVING_VERSION = "1.17"

#: KServe's charts (kserve-crd and kserve) on ghcr.io; v0.15.2 is the release the Kubeflow
#: manifests ship (https://github.com/kubeflow/manifests/pull/3291). Its controller values still
#: name the modes Serverless / RawDeployment.
KSERVE_VERSION = "v0.15.2"

#: Kubeflow Trainer's chart on ghcr.io (versions without the ``v``): v2.1.0, as in Kubeflow's
#: installation guide (https://www.kubeflow.org/docs/components/trainer/operator-guides/installation/).
KUBEFLOW_TRAINER_VERSION = "2.1.0"

#: The Kourier ingress class Knative Serving's network config names.
KOURIER_INGRESS_CLASS = "kourier.ingress.networking.knative.dev"

#: pulumi-kubernetes waits for this condition of a custom resource before its dependents.
WAIT_FOR_ANNOTATION = "pulumi.com/waitFor"


@dataclass(frozen=True)
class HelmChart:
    """One pinned chart and how it is installed."""

    release: str
    """The Helm release name (also the prefix of the rendered objects)."""
    chart: str
    """The chart's name in ``repository``, or its ``oci://`` reference."""
    version: str
    """The pinned chart version (never empty, never ``latest``)."""
    namespace: str
    """The namespace it is installed in (created if missing)."""
    repository: str | None = None
    """The chart repository's URL; None for an OCI chart."""
    values: Mapping[str, Any] = field(default_factory=dict)
    """Values given to the chart."""

    def __post_init__(self) -> None:
        if not self.version or self.version == "latest":
            raise ValueError(f"chart {self.chart}: version '{self.version}' is not pinned")


#: The charts, in the order they are installed.
CERT_MANAGER = HelmChart(
    release="cert-manager",
    chart="cert-manager",
    version=CERT_MANAGER_VERSION,
    namespace="cert-manager",
    repository="https://charts.jetstack.io",
    # The chart installs and upgrades its CRDs (``installCRDs`` is the deprecated spelling).
    values={"crds": {"enabled": True}},
)
KNATIVE_OPERATOR = HelmChart(
    release="knative-operator",
    chart="knative-operator",
    version=KNATIVE_OPERATOR_VERSION,
    namespace="knative-operator",
    repository="https://knative.github.io/operator",
)
KSERVE_CRDS = HelmChart(
    release="kserve-crd",
    chart="oci://ghcr.io/kserve/charts/kserve-crd",
    version=KSERVE_VERSION,
    namespace="kserve",
)
KSERVE = HelmChart(
    release="kserve",
    chart="oci://ghcr.io/kserve/charts/kserve",
    version=KSERVE_VERSION,
    namespace="kserve",
    values={
        "kserve": {
            "controller": {
                "deploymentMode": "Serverless",
                # Kourier, not Istio: KServe must not create Istio VirtualServices.
                "gateway": {"disableIstioVirtualHost": True},
            },
            # The storage initializer KServe injects into each predictor pod (it downloads the
            # model) must pass the serving namespace's restricted Pod Security admission too.
            "storage": {
                "containerSecurityContext": {
                    "allowPrivilegeEscalation": False,
                    "privileged": False,
                    "runAsNonRoot": True,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                }
            },
        }
    },
)
KUBEFLOW_TRAINER = HelmChart(
    release="kubeflow-trainer",
    chart="oci://ghcr.io/kubeflow/charts/kubeflow-trainer",
    version=KUBEFLOW_TRAINER_VERSION,
    namespace="kubeflow-system",
)

#: Where Knative Serving's own components run.
KNATIVE_SERVING_NAMESPACE = "knative-serving"


def knative_serving_spec() -> dict[str, Any]:
    """The ``KnativeServing`` spec: Kourier ingress, restricted pod defaults, pinned minor."""
    return {
        "version": KNATIVE_SERVING_VERSION,
        "ingress": {"kourier": {"enabled": True}},
        "config": {
            "network": {"ingress-class": KOURIER_INGRESS_CLASS},
            # Revisions' pods (and the queue-proxy sidecar) get the restricted security context
            # by default, so they are admitted to the platform's restricted namespaces.
            "features": {
                "secure-pod-defaults": "enabled",
                # GPU predictors select the GPU nodes and tolerate their taint; the platform's
                # containers write only to emptyDir scratch (their root filesystem is read-only).
                "kubernetes.podspec-nodeselector": "enabled",
                "kubernetes.podspec-tolerations": "enabled",
                "kubernetes.podspec-volumes-emptydir": "enabled",
            },
        },
    }


def install_chart(
    prefix: str,
    chart: HelmChart,
    cluster: ClusterAccess,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
    namespaces: dict[str, k8s.core.v1.Namespace] | None = None,
) -> pulumi.Resource:
    """Install ``chart``: a Helm release when applying, a client-side rendered chart otherwise.

    The resource is named ``<prefix>-<release>``. ``namespaces`` holds the namespaces rendered
    so far, so charts sharing one render it once.
    """
    name = f"{prefix}-{chart.release}"
    opts = cluster.options(parent, depends_on=list(depends_on))
    if cluster.rendering:
        # A v4 Chart creates no namespace: render one with the chart's objects.
        namespaces = {} if namespaces is None else namespaces
        namespace = namespaces.get(chart.namespace)
        if namespace is None:
            namespace = namespaces[chart.namespace] = k8s.core.v1.Namespace(
                f"{prefix}-{chart.namespace}-namespace",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=chart.namespace),
                opts=cluster.options(parent),
            )
        return k8s.helm.v4.Chart(
            name,
            chart=chart.chart,
            version=chart.version,
            repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=chart.repository)
            if chart.repository
            else None,
            namespace=chart.namespace,
            values=dict(chart.values),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespace])),
        )
    return k8s.helm.v3.Release(
        name,
        name=chart.release,
        chart=chart.chart,
        version=chart.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repository)
        if chart.repository
        else None,
        namespace=chart.namespace,
        create_namespace=True,
        values=dict(chart.values),
        # A failed install or upgrade rolls back and removes what it created.
        atomic=True,
        cleanup_on_fail=True,
        timeout=900,
        opts=opts,
    )


@dataclass(frozen=True)
class ClusterOperatorsArgs:
    """Inputs of ClusterOperators."""

    install_trainer: bool = True
    """Install Kubeflow Trainer (TrainJob); off for a serving-only cluster."""
    install_serving: bool = True
    """Install Knative Serving and KServe (InferenceService); off for a training-only cluster."""


class ClusterOperators(pulumi.ComponentResource):
    """cert-manager, Knative Serving (Kourier), KServe and Kubeflow Trainer, pinned."""

    ready: list[pulumi.Resource]
    """What workloads wait for: the operators and Knative Serving itself."""

    def __init__(
        self,
        name: str,
        cluster: ClusterAccess,
        args: ClusterOperatorsArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlplatform:kubernetes:ClusterOperators", name, None, opts)
        args = args or ClusterOperatorsArgs()
        self.ready = []
        rendered: dict[str, k8s.core.v1.Namespace] = {}

        cert_manager = install_chart(name, CERT_MANAGER, cluster, self, namespaces=rendered)
        self.ready.append(cert_manager)

        if args.install_serving:
            knative_operator = install_chart(
                name, KNATIVE_OPERATOR, cluster, self, namespaces=rendered
            )
            serving_namespace = k8s.core.v1.Namespace(
                f"{name}-knative-serving",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=KNATIVE_SERVING_NAMESPACE),
                opts=cluster.options(self),
            )
            knative_serving = k8s.apiextensions.CustomResource(
                f"{name}-knative-serving",
                api_version="operator.knative.dev/v1beta1",
                kind="KnativeServing",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name="knative-serving",
                    namespace=KNATIVE_SERVING_NAMESPACE,
                    # Wait until Serving is up: KServe's controller needs its CRDs and webhooks.
                    annotations={WAIT_FOR_ANNOTATION: "condition=Ready"},
                ),
                spec=knative_serving_spec(),
                opts=cluster.options(self, depends_on=[knative_operator, serving_namespace]),
            )
            kserve_crds = install_chart(name, KSERVE_CRDS, cluster, self, namespaces=rendered)
            kserve = install_chart(
                name,
                KSERVE,
                cluster,
                self,
                depends_on=[cert_manager, knative_serving, kserve_crds],
                namespaces=rendered,
            )
            self.ready += [knative_serving, kserve]

        if args.install_trainer:
            self.ready.append(
                install_chart(name, KUBEFLOW_TRAINER, cluster, self, namespaces=rendered)
            )

        self.register_outputs({})
