"""Prometheus scraping and the Grafana dashboard of our inference server's predictors.

Two ways a Prometheus finds the predictors (KServe InferenceServices running our server, which
answers ``GET /metrics`` on its one port, 8080):

* without the Prometheus operator, the ``prometheus.io/scrape``, ``/port`` and ``/path`` pod
  annotations that the common ``kubernetes-pods`` scrape job reads; every predictor pod carries
  them (:func:`predictor_pod_annotations`, set through the predictor's ``annotations``, which
  KServe copies onto the pods, as it does ``labels``);
* with the operator (``kubernetes.observability.prometheus_operator``),
  :class:`InferenceMonitoring`: a ``PodMonitor`` (monitoring.coreos.com/v1) in the serving
  namespace selecting the predictor
  pods by :data:`PREDICTOR_POD_LABELS`, a NetworkPolicy letting the monitoring namespace's pods
  reach them on 8080 (the serving namespace denies ingress by default), and a ConfigMap holding
  the Grafana dashboard (``workloads/inference/grafana/inference-server.json``) labelled
  ``grafana_dashboard: "1"`` in the monitoring namespace, where the Grafana sidecar of
  kube-prometheus-stack picks dashboards up.

The PodMonitor names the port by number (``portNumber``, prometheus-operator v0.79 and later):
Knative only lets a user container's port be named ``http1`` or ``h2c``, and ours has no name.
Prometheus scrapes the server's container directly, not through Knative's queue-proxy, so each
pod is one target and its samples are that server's own counters.

The dashboard is read from the repository at plan time (components never import the workloads'
Python modules; a data file is fair).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes import network_policies
from components.kubernetes.cluster_access import ClusterAccess
from components.kubernetes.spec import ObservabilityConfig
from components.shared.spec_rules import PROJECT_ROOT
from workloads.inference import contract

#: The PodMonitor API this component writes (prometheus-operator, checked against v0.93.0's CRD).
POD_MONITOR_API_VERSION = "monitoring.coreos.com/v1"

#: Where the server answers Prometheus.
METRICS_PATH = "/metrics"

#: Labels on every predictor pod of our server: what the PodMonitor and the policy select.
PREDICTOR_POD_LABELS = {
    "app.kubernetes.io/name": "ml-platform-inference-server",
    "app.kubernetes.io/part-of": "ml-platform",
}

#: The Grafana dashboard JSON (the inference server's metrics), and its key in the ConfigMap.
DASHBOARD_FILE = PROJECT_ROOT / "workloads" / "inference" / "grafana" / "inference-server.json"
DASHBOARD_KEY = "inference-server.json"

#: The label the Grafana sidecar (kube-prometheus-stack's default) looks for on ConfigMaps.
GRAFANA_DASHBOARD_LABEL = {"grafana_dashboard": "1"}


def predictor_pod_annotations() -> dict[str, str]:
    """The ``prometheus.io/*`` annotations of a predictor pod: scrape 8080 at /metrics."""
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(contract.DEFAULT_PORT),
        "prometheus.io/path": METRICS_PATH,
    }


def pod_monitor_spec(config: ObservabilityConfig) -> dict[str, object]:
    """The PodMonitor's ``spec``: the predictor pods of its own namespace, 8080 at /metrics."""
    return {
        "selector": {"matchLabels": dict(PREDICTOR_POD_LABELS)},
        "podMetricsEndpoints": [
            {
                "portNumber": contract.DEFAULT_PORT,
                "path": METRICS_PATH,
                "scheme": "http",
                "interval": config.scrape_interval,
            }
        ],
    }


def dashboard_json() -> str:
    """The dashboard file's text, as the ConfigMap carries it."""
    return DASHBOARD_FILE.read_text(encoding="utf-8")


@dataclass(frozen=True)
class InferenceMonitoringArgs:
    """Where the predictors run and how the cluster's Prometheus and Grafana find them."""

    config: ObservabilityConfig
    """The ``kubernetes.observability`` section (its ``prometheus_operator`` is on)."""
    serving_namespace: str
    """The namespace of the InferenceServices (the PodMonitor and the policy go there)."""
    prefix: str
    """The stack's name prefix (``mlp-dev``): one cluster may hold several stacks."""
    endpoints: tuple[str, ...] = field(default=())
    """Names of the InferenceServices monitored (shown in the exports)."""


class InferenceMonitoring(pulumi.ComponentResource):
    """A PodMonitor for the predictors, the policy letting Prometheus in, the Grafana dashboard."""

    pod_monitor: k8s.apiextensions.CustomResource
    """The PodMonitor in the serving namespace."""
    policy: k8s.networking.v1.NetworkPolicy
    """Lets the monitoring namespace's pods reach the predictors on 8080."""
    dashboard: k8s.core.v1.ConfigMap
    """The Grafana dashboard in the monitoring namespace."""

    def __init__(
        self,
        name: str,
        args: InferenceMonitoringArgs,
        cluster: ClusterAccess,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlplatform:kubernetes:InferenceMonitoring", name, None, opts)
        self.args = args
        config = args.config
        self.pod_monitor = k8s.apiextensions.CustomResource(
            f"{name}-pods",
            api_version=POD_MONITOR_API_VERSION,
            kind="PodMonitor",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="ml-platform-inference-server",
                namespace=args.serving_namespace,
                labels={"app.kubernetes.io/part-of": "ml-platform", **config.pod_monitor_labels},
            ),
            spec=pod_monitor_spec(config),
            opts=cluster.options(self),
        )
        self.policy = network_policies.allow(
            f"{args.serving_namespace}/allow-prometheus-to-predictors",
            direction="ingress",
            namespace=args.serving_namespace,
            pod_labels=PREDICTOR_POD_LABELS,
            peers=[network_policies.pods_in(config.namespace)],
            ports=[contract.DEFAULT_PORT],
            opts=cluster.options(self),
        )
        self.dashboard = k8s.core.v1.ConfigMap(
            f"{name}-dashboard",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{args.prefix}-inference-dashboard",
                namespace=config.namespace,
                labels={**GRAFANA_DASHBOARD_LABEL, "app.kubernetes.io/part-of": "ml-platform"},
            ),
            data={DASHBOARD_KEY: dashboard_json()},
            opts=cluster.options(self),
        )
        self.register_outputs({})

    def exports(self) -> Mapping[str, object]:
        """What the stack exports: the PodMonitor and the dashboard ConfigMap, by namespace."""
        return {
            "pod_monitor": f"{self.args.serving_namespace}/ml-platform-inference-server",
            "dashboard_config_map": (
                f"{self.args.config.namespace}/{self.args.prefix}-inference-dashboard"
            ),
            "endpoints": list(self.args.endpoints),
        }
