"""ClusterOperators under the recording mock runtime, applied and rendered.

given the operators installed on a cluster that applies (Helm releases) or renders (client-side
charts) / when the recorded charts and the KnativeServing are read / then every chart is pinned,
releases roll back on failure, KServe waits for cert-manager and Knative, Knative uses Kourier
with restricted pod defaults, and rendering uses helm.v4 Charts only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.kubernetes.cluster_operators import (
    ClusterOperators,
    ClusterOperatorsArgs,
    HelmChart,
)
from components.kubernetes.kubernetes_provider import kubernetes_provider
from stacks.offline.mock_runtime import PlanRun, RecordedResource, run_offline
from tests.components.kubernetes.cluster import mock_cluster
from tests.components.kubernetes.recorded import of_type

RELEASE = "kubernetes:helm.sh/v3:Release"
CHART = "kubernetes:helm.sh/v4:Chart"
KNATIVE_SERVING = "kubernetes:operator.knative.dev/v1beta1:KnativeServing"
NAMESPACE = "kubernetes:core/v1:Namespace"

CHARTS = {
    "cert-manager": ("cert-manager", "https://charts.jetstack.io"),
    "knative-operator": ("knative-operator", "https://knative.github.io/operator"),
    "kserve-crd": ("oci://ghcr.io/kserve/charts/kserve-crd", None),
    "kserve": ("oci://ghcr.io/kserve/charts/kserve", None),
    "kubeflow-trainer": ("oci://ghcr.io/kubeflow/charts/kubeflow-trainer", None),
}


def run_operators(render_to: str | None, args: ClusterOperatorsArgs | None = None) -> PlanRun:
    """Install the operators through a provider that applies, or renders to ``render_to``."""

    def program() -> dict[str, Any]:
        provider = kubernetes_provider("cluster", "{}", render_to)
        access = mock_cluster(rendering=render_to is not None, provider=provider)
        operators = ClusterOperators("operators", access, args)
        return {"ready": [resource.urn for resource in operators.ready]}

    return run_offline("dev", {"aws:region": "us-east-1"}, program)


@pytest.fixture(scope="module")
def applied() -> PlanRun:
    """Operators on a cluster that applies."""
    return run_operators(None)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> PlanRun:
    """Operators on a provider that renders manifests to a folder."""
    return run_operators(str(tmp_path_factory.mktemp("manifests")))


def by_release(run: PlanRun, type_: str) -> dict[str, RecordedResource]:
    return {resource.name.removeprefix("operators-"): resource for resource in of_type(run, type_)}


def test_applied_charts_are_pinned_atomic_helm_releases(applied: PlanRun) -> None:
    # given the Helm releases of an applying cluster
    releases = by_release(applied, RELEASE)
    # when their charts, versions and options are read
    # then each is the expected chart at a pinned version, rolled back and cleaned on failure
    assert set(releases) == set(CHARTS)
    for release, resource in releases.items():
        chart, repository = CHARTS[release]
        inputs = resource.inputs
        assert inputs["chart"] == chart
        assert inputs.get("repositoryOpts", {}).get("repo") == repository
        assert inputs["version"] and inputs["version"] != "latest"
        assert inputs["name"] == release
        assert inputs["atomic"] is True
        assert inputs["cleanupOnFail"] is True
        assert inputs["createNamespace"] is True
    assert of_type(applied, CHART) == []


def test_pinned_versions(applied: PlanRun) -> None:
    # given the releases / when their versions are read / then they are the pinned ones
    versions = {name: r.inputs["version"] for name, r in by_release(applied, RELEASE).items()}
    assert versions == {
        "cert-manager": "v1.18.2",
        "knative-operator": "v1.17.5",
        "kserve-crd": "v0.15.2",
        "kserve": "v0.15.2",
        "kubeflow-trainer": "2.1.0",
    }


def test_cert_manager_installs_its_crds(applied: PlanRun) -> None:
    # given cert-manager's release / when its values are read / then the chart owns the CRDs
    assert by_release(applied, RELEASE)["cert-manager"].inputs["values"] == {
        "crds": {"enabled": True}
    }


def test_kserve_runs_serverless_after_cert_manager_knative_and_its_crds(applied: PlanRun) -> None:
    # given KServe's release and what it needs
    releases = by_release(applied, RELEASE)
    (serving,) = of_type(applied, KNATIVE_SERVING)
    kserve = releases["kserve"]
    # when its values and dependencies are read
    controller = kserve.inputs["values"]["kserve"]["controller"]
    # then it runs in Serverless mode without Istio and waits for all three
    assert controller["deploymentMode"] == "Serverless"
    assert controller["gateway"]["disableIstioVirtualHost"] is True
    for needed in (releases["cert-manager"], releases["kserve-crd"], serving):
        assert needed.urn in kserve.depends_on


def test_knative_serving_uses_kourier_and_restricted_pod_defaults(applied: PlanRun) -> None:
    # given the KnativeServing resource and the operator release
    (serving,) = of_type(applied, KNATIVE_SERVING)
    operator = by_release(applied, RELEASE)["knative-operator"]
    inputs = serving.inputs
    # when its spec is read
    # then Kourier is the ingress, revisions get restricted pod defaults, the tag-resolution
    # registries keep Knative's default, and it is created after the operator in its namespace
    assert inputs["apiVersion"] == "operator.knative.dev/v1beta1"
    assert inputs["metadata"]["namespace"] == "knative-serving"
    assert inputs["spec"]["ingress"] == {"kourier": {"enabled": True}}
    config = inputs["spec"]["config"]
    assert config["network"]["ingress-class"] == "kourier.ingress.networking.knative.dev"
    assert config["features"]["secure-pod-defaults"] == "enabled"
    assert "deployment" not in config
    assert inputs["spec"]["version"] == "1.17"
    assert inputs["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"
    assert operator.urn in serving.depends_on


def test_ready_lists_the_operators_and_knative_serving(applied: PlanRun) -> None:
    # given the component's ready list / when compared with the resources / then it names
    # cert-manager, Knative Serving, KServe and Trainer
    names = {urn.rsplit("::", 1)[-1] for urn in applied.exports["ready"]}
    assert names == {
        "operators-cert-manager",
        "operators-knative-serving",
        "operators-kserve",
        "operators-kubeflow-trainer",
    }


def test_rendering_uses_client_side_v4_charts_with_the_same_pins(
    rendered: PlanRun, applied: PlanRun
) -> None:
    # given the same operators rendered to a folder
    charts = by_release(rendered, CHART)
    releases = by_release(applied, RELEASE)
    # when their charts are read
    # then no Helm release is rendered, and each v4 Chart has the release's chart, version,
    # repository, namespace and values
    assert of_type(rendered, RELEASE) == []
    assert set(charts) == set(releases)
    for name, chart in charts.items():
        for key in ("chart", "version", "repositoryOpts", "namespace", "values"):
            assert chart.inputs.get(key) == releases[name].inputs.get(key), (name, key)


def test_rendered_charts_have_their_namespaces_rendered_once(rendered: PlanRun) -> None:
    # given the rendered namespaces and charts
    namespaces = [r.inputs["metadata"]["name"] for r in of_type(rendered, NAMESPACE)]
    charts = by_release(rendered, CHART)
    by_name = {r.inputs["metadata"]["name"]: r for r in of_type(rendered, NAMESPACE)}
    # when compared
    # then every chart's namespace is rendered exactly once, and the chart comes after it
    assert sorted(namespaces) == sorted(set(namespaces))
    for chart in charts.values():
        assert by_name[chart.inputs["namespace"]].urn in chart.depends_on


def test_everything_uses_the_clusters_provider(applied: PlanRun, rendered: PlanRun) -> None:
    # given every Kubernetes resource of both runs / then each goes through the cluster provider
    for run in (applied, rendered):
        for resource in run.resources:
            if resource.type.startswith("kubernetes:"):
                assert resource.provider and resource.provider.endswith("::cluster")


def test_training_only_cluster_skips_knative_and_kserve() -> None:
    # given operators without serving
    run = run_operators(None, ClusterOperatorsArgs(install_serving=False))
    # when the releases are listed
    # then only cert-manager and the Trainer are installed
    assert set(by_release(run, RELEASE)) == {"cert-manager", "kubeflow-trainer"}
    assert of_type(run, KNATIVE_SERVING) == []


@pytest.mark.parametrize("version", ["", "latest"])
def test_unpinned_charts_are_refused(version: str) -> None:
    # given a chart without a pinned version / when declared / then it is refused by name
    with pytest.raises(ValueError, match=f"chart demo: version '{version}' is not pinned"):
        HelmChart(release="demo", chart="demo", version=version, namespace="demo")


def test_render_folder_is_the_providers(tmp_path: Path) -> None:
    # given a rendering provider / when its inputs are read / then it renders to the folder
    run = run_operators(str(tmp_path))
    (provider,) = of_type(run, "pulumi:providers:kubernetes")
    assert provider.inputs["renderYamlToDirectory"] == str(tmp_path)
    assert "kubeconfig" not in provider.inputs
