"""InferenceMonitoring and the predictors' scrape settings, under the recording mock runtime.

given the observability section (and the stack files) / when the recorded PodMonitor, policy,
ConfigMap and InferenceServices are read / then Prometheus with the operator scrapes exactly the
predictor pods on 8080 at /metrics, may reach them through the default deny, Grafana's sidecar
finds the dashboard, and a Prometheus without the operator finds the pods by their annotations.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.kubernetes.monitoring import (
    DASHBOARD_FILE,
    PREDICTOR_POD_LABELS,
    InferenceMonitoring,
    InferenceMonitoringArgs,
)
from components.kubernetes.spec import ObservabilityConfig
from stacks.config import ConfigError, load_platform_config
from stacks.offline.mock_runtime import PlanRun
from tests.components.kubernetes.cluster import run_on_cluster
from tests.components.kubernetes.recorded import one
from tests.conftest import Plan, stack_config, stack_file, with_section

POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"

# What prometheus-operator v0.93.0's CRD (example/prometheus-operator-crd/
# monitoring.coreos.com_podmonitors.yaml) requires and allows of the fields written here: the
# object needs `spec`, the spec needs `selector`; these are the endpoint fields used and their
# types, enums and patterns as the CRD declares them.
CRD_REQUIRED = {"": ["spec"], "spec": ["selector"]}
CRD_SPEC_FIELDS = {"selector", "podMetricsEndpoints", "namespaceSelector", "jobLabel"}
CRD_SELECTOR_FIELDS = {"matchLabels", "matchExpressions"}
CRD_DURATION = re.compile(
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
CRD_SCHEMES = {"http", "https", "HTTP", "HTTPS"}
CRD_ENDPOINT_FIELDS = {"port", "portNumber", "path", "scheme", "interval", "scrapeTimeout"}


def monitoring(config: ObservabilityConfig) -> PlanRun:
    args = InferenceMonitoringArgs(
        config=config, serving_namespace="mlp-dev-serving", prefix="mlp-dev", endpoints=("churn",)
    )
    return run_on_cluster(
        lambda cluster, opts: InferenceMonitoring("mlp-dev-mon", args, cluster, opts).exports()
    )


@pytest.fixture(scope="module")
def base() -> PlanRun:
    return monitoring(
        ObservabilityConfig(
            prometheus_operator=True,
            pod_monitor_labels={"release": "kube-prometheus-stack"},
            scrape_interval="15s",
        )
    )


def crd_problems(pod_monitor: dict[str, Any]) -> list[str]:
    """Where a PodMonitor's inputs break the CRD's required fields, field names, types, formats."""
    problems = [f"missing {name}" for name in CRD_REQUIRED[""] if name not in pod_monitor]
    spec = pod_monitor.get("spec", {})
    problems += [f"spec: missing {name}" for name in CRD_REQUIRED["spec"] if name not in spec]
    problems += [f"spec.{name}: unknown" for name in set(spec) - CRD_SPEC_FIELDS]
    problems += [
        f"spec.selector.{name}: unknown"
        for name in set(spec.get("selector", {})) - CRD_SELECTOR_FIELDS
    ]
    for index, endpoint in enumerate(spec.get("podMetricsEndpoints", [])):
        where = f"spec.podMetricsEndpoints[{index}]"
        problems += [f"{where}.{name}: unknown" for name in set(endpoint) - CRD_ENDPOINT_FIELDS]
        number = endpoint.get("portNumber", 1)
        if not (isinstance(number, int) and 1 <= number <= 65535):
            problems.append(f"{where}.portNumber: {number!r} is not an int32 in 1..65535")
        if endpoint.get("scheme", "http") not in CRD_SCHEMES:
            problems.append(f"{where}.scheme: {endpoint['scheme']!r}")
        for name in ("interval", "scrapeTimeout"):
            if name in endpoint and not CRD_DURATION.match(endpoint[name]):
                problems.append(f"{where}.{name}: {endpoint[name]!r} is not a duration")
    return problems


def test_the_pod_monitor_meets_the_crd_and_scrapes_8080_at_metrics(base: PlanRun) -> None:
    # given the PodMonitor the component records
    monitor = one(base, POD_MONITOR).inputs
    # then the operator's CRD accepts it
    assert crd_problems(monitor) == []
    # and it scrapes the predictor pods of the serving namespace on 8080 at /metrics, every 15 s
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == "mlp-dev-serving"
    assert monitor["spec"] == {
        "selector": {"matchLabels": PREDICTOR_POD_LABELS},
        "podMetricsEndpoints": [
            {"portNumber": 8080, "path": "/metrics", "scheme": "http", "interval": "15s"}
        ],
    }
    # and it carries the labels a kube-prometheus-stack Prometheus selects monitors by
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_the_crd_check_finds_what_the_crd_refuses() -> None:
    # given PodMonitors missing the selector, with an unknown field and a bad interval
    bad = {"spec": {"podMetricsEndpoints": [{"portNumber": 0, "interval": "30 s", "target": 1}]}}
    # when checked / then each problem is named
    assert sorted(crd_problems(bad)) == [
        "spec.podMetricsEndpoints[0].interval: '30 s' is not a duration",
        "spec.podMetricsEndpoints[0].portNumber: 0 is not an int32 in 1..65535",
        "spec.podMetricsEndpoints[0].target: unknown",
        "spec: missing selector",
    ]


def test_prometheus_may_reach_the_predictors_on_8080_only(base: PlanRun) -> None:
    # given the policy the component records
    policy = one(base, POLICY).inputs
    # then it lets the monitoring namespace's pods into the predictor pods on TCP 8080, no more
    assert policy["metadata"] == {
        "name": "allow-prometheus-to-predictors",
        "namespace": "mlp-dev-serving",
    }
    spec = policy["spec"]
    assert spec["podSelector"] == {"matchLabels": PREDICTOR_POD_LABELS}
    assert spec["policyTypes"] == ["Ingress"]
    [rule] = spec["ingress"]
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {},
        }
    ]
    assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]


def test_the_dashboard_config_map_is_for_grafanas_sidecar(base: PlanRun) -> None:
    # given the ConfigMap the component records
    config_map = one(base, CONFIG_MAP).inputs
    # then it carries the sidecar's label, in the monitoring namespace, named for the stack
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["namespace"] == "monitoring"
    assert config_map["metadata"]["name"] == "mlp-dev-inference-dashboard"
    # and it holds the repository's dashboard, byte for byte, a Grafana dashboard model
    [content] = config_map["data"].values()
    assert content == DASHBOARD_FILE.read_text(encoding="utf-8")
    assert json.loads(content)["uid"] == "ml-platform-inference"
    # and a ConfigMap's 1 MiB limit is far off
    assert len(content.encode()) < 256 * 1024


def test_the_predictors_carry_the_scrape_annotations_and_the_monitors_labels(plan: Plan) -> None:
    # given every InferenceService of each stack (operator or not)
    services = plan.of_type(ISVC)
    assert services
    for service in services:
        predictor = service.inputs["spec"]["predictor"]
        # then its pods are annotated for a Prometheus without the operator
        assert predictor["annotations"] == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": "8080",
            "prometheus.io/path": "/metrics",
        }
        # and labelled as the PodMonitor and the policy select them
        assert predictor["labels"] == PREDICTOR_POD_LABELS
        # and 8080 is the one port the predictor container declares (portNumber needs it)
        [container] = predictor["containers"]
        assert [port["containerPort"] for port in container["ports"]] == [8080]


def test_stacks_whose_cluster_has_no_operator_create_no_monitor(plan: Plan) -> None:
    # given each stack's kubernetes layer (neither cluster runs the Prometheus operator: prod's
    # is created by the stack itself, so the CRDs a PodMonitor needs are not there)
    kubernetes = plan.layer("kubernetes")
    # then neither has a PodMonitor or the dashboard ConfigMap
    assert (kubernetes.of_type(POD_MONITOR), kubernetes.of_type(CONFIG_MAP)) == ([], [])


def test_with_the_operator_prod_monitors_its_predictors(run_stack: Any) -> None:
    # given prod with the operator on, as after installing kube-prometheus-stack
    kubernetes = stack_file("prod")["ml-platform:kubernetes"]
    kubernetes["observability"] = {
        "prometheus_operator": True,
        "pod_monitor_labels": {"release": "kube-prometheus-stack"},
    }
    # when planned
    plan = run_stack("prod", with_section(stack_config("prod"), "kubernetes", kubernetes))
    # then one PodMonitor in its serving namespace, selected by the release label, and the
    # dashboard
    [monitor] = plan.of_type(POD_MONITOR)
    assert monitor.inputs["metadata"]["namespace"] == "mlp-prod-serving"
    assert monitor.inputs["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert [c.inputs["metadata"]["name"] for c in plan.of_type(CONFIG_MAP)] == [
        "mlp-prod-inference-dashboard"
    ]


def test_no_endpoint_means_no_monitor(run_stack: Any) -> None:
    # given dev with the operator on but no KServe endpoint
    kubernetes = stack_file("dev")["ml-platform:kubernetes"]
    kubernetes["endpoints"] = []
    kubernetes["observability"] = {"prometheus_operator": True}
    # when planned / then nothing of the monitoring is created
    plan = run_stack("dev", with_section(stack_config("dev"), "kubernetes", kubernetes))
    assert plan.of_type(POD_MONITOR) == []
    assert plan.of_type(CONFIG_MAP) == []


def test_observability_defaults() -> None:
    # given no observability section / then the operator is off, Prometheus in `monitoring`
    config = ObservabilityConfig()
    assert (config.prometheus_operator, config.namespace, config.scrape_interval) == (
        False,
        "monitoring",
        "30s",
    )
    assert config.pod_monitor_labels == {}


@pytest.mark.parametrize(
    ("observability", "problem"),
    [
        ({"scrape_interval": "30 seconds"}, "kubernetes.observability.scrape_interval"),
        ({"namespace": "Monitoring"}, "kubernetes.observability.namespace"),
        (
            {"pod_monitor_labels": {"bad key!": "x"}},
            "kubernetes.observability.pod_monitor_labels.bad key!.[key]",
        ),
        (
            {"pod_monitor_labels": {"release": "-x"}},
            "kubernetes.observability.pod_monitor_labels.release",
        ),
        ({"prometheus_operator": "yes"}, "kubernetes.observability.prometheus_operator"),
        ({"grafana": True}, "kubernetes.observability.grafana"),
    ],
)
def test_bad_observability_settings_are_named(observability: dict[str, Any], problem: str) -> None:
    # given dev with one bad observability setting
    kubernetes = stack_file("dev")["ml-platform:kubernetes"]
    kubernetes["observability"] = observability
    # when validated / then the setting is named
    with pytest.raises(ConfigError) as error:
        load_platform_config("dev", with_section(stack_config("dev"), "kubernetes", kubernetes))
    assert f"\n  - {problem}: " in str(error.value)
