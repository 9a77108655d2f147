"""The kubernetes layer over the real stack files, and in its other cluster modes.

given a stack with the kubernetes layer run under the recording mock runtime / when its resources
are read / then every pod template meets the platform's rules, every namespace enforces the
restricted standard behind a default deny, the canary share and the training world size come from
config, MLflow has auth on and nothing is exposed by a LoadBalancer, and the render mode and an
existing cluster work without creating one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stacks.config import ConfigError, load_platform_config
from stacks.offline.rendered_manifests import write_rendered_manifests
from tests.components.kubernetes.pod_templates import pod_template_problems, pod_templates
from tests.conftest import Plan, stack_config, stack_file, with_section

NAMESPACE = "kubernetes:core/v1:Namespace"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SERVICE = "kubernetes:core/v1:Service"
INFERENCE_SERVICE = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
TRAIN_JOB = "kubernetes:trainer.kubeflow.org/v1alpha1:TrainJob"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
RELEASE = "kubernetes:helm.sh/v3:Release"
CHART = "kubernetes:helm.sh/v4:Chart"
K8S_PROVIDER = "pulumi:providers:kubernetes"
RDS = "aws:rds/instance:Instance"

OIDC_ARN = (
    "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXISTING0001"
)


def section(stack: str) -> dict[str, Any]:
    return stack_file(stack)["ml-platform:kubernetes"]


@pytest.fixture
def kubernetes(plan: Plan) -> Plan:
    """The kubernetes layer of each stack."""
    return plan.layer("kubernetes")


def stack_of(plan: Plan) -> str:
    return plan.run.stack


def test_every_pod_template_meets_the_restricted_rules(kubernetes: Plan) -> None:
    # given every pod template the layer writes (Deployments, StatefulSets, runtimes, predictors)
    templates = [
        (where, pod)
        for resource in kubernetes.resources
        if resource.type.startswith("kubernetes:")
        for where, pod in pod_templates(resource)
    ]
    # when each is checked against the rules
    problems = [
        problem for where, pod in templates for problem in pod_template_problems(where, pod)
    ]
    # then there are templates, and none breaks a rule
    assert len(templates) >= 3  # MLflow, a predictor, a training runtime (+ PostgreSQL in dev)
    assert problems == []


def test_every_namespace_is_restricted_and_denies_by_default(kubernetes: Plan) -> None:
    # given the workload namespaces
    namespaces = [
        ns.inputs["metadata"]["name"]
        for ns in kubernetes.of_type(NAMESPACE)
        if ns.inputs["metadata"]["name"].startswith("mlp-")
    ]
    assert len(namespaces) == 4
    denies = {
        policy.inputs["metadata"]["namespace"]
        for policy in kubernetes.of_type(POLICY)
        if policy.inputs["metadata"]["name"] == "default-deny"
        and policy.inputs["spec"]["podSelector"] == {}
        and sorted(policy.inputs["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    }
    # then each has the restricted labels and a default deny
    for namespace in kubernetes.of_type(NAMESPACE):
        name = namespace.inputs["metadata"]["name"]
        if name in namespaces:
            labels = namespace.inputs["metadata"]["labels"]
            assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert denies == set(namespaces)


def test_inference_service_canary_share_comes_from_config(kubernetes: Plan) -> None:
    # given the configured endpoints and the InferenceServices
    configured = {entry["name"]: entry for entry in section(stack_of(kubernetes))["endpoints"]}
    services = {
        service.inputs["metadata"]["name"]: service.inputs
        for service in kubernetes.of_type(INFERENCE_SERVICE)
    }
    # then there is one per endpoint, serverless, with the configured canary share and bounds
    assert set(services) == set(configured)
    for name, service in services.items():
        predictor = service["spec"]["predictor"]
        assert predictor["canaryTrafficPercent"] == configured[name]["canary_traffic_percent"]
        assert predictor["minReplicas"] == configured[name]["min_replicas"]
        assert predictor["maxReplicas"] == configured[name]["max_replicas"]
        annotations = service["metadata"]["annotations"]
        assert annotations["serving.kserve.io/deploymentMode"] == "Serverless"
        probe = predictor["containers"][0]["readinessProbe"]["httpGet"]
        assert probe["path"] == "/ping"


def test_training_job_world_size_is_nodes_times_gpus(kubernetes: Plan) -> None:
    # given the configured training jobs and the TrainJobs
    configured = {job["name"]: job for job in section(stack_of(kubernetes))["training_jobs"]}
    jobs = {job.inputs["metadata"]["name"]: job.inputs for job in kubernetes.of_type(TRAIN_JOB)}
    assert set(jobs) == set(configured)
    for name, job in jobs.items():
        trainer = job["spec"]["trainer"]
        # then torchrun starts nodes x gpus_per_node workers, each pod asking for its GPUs
        expected = configured[name]["nodes"] * max(configured[name]["gpus_per_node"], 1)
        assert trainer["numNodes"] * trainer["numProcPerNode"] == expected
        assert trainer["numNodes"] == configured[name]["nodes"]
        gpus = trainer["resourcesPerNode"]["limits"]["nvidia.com/gpu"]
        assert int(gpus) == configured[name]["gpus_per_node"]
        assert kubernetes.run.exports["kubernetes"]["training_jobs"][name]["world_size"] == expected


def test_mlflow_has_auth_on_and_nothing_is_exposed_outside_the_cluster(kubernetes: Plan) -> None:
    # given the MLflow Deployment and every Service and chart
    (mlflow,) = [
        d for d in kubernetes.of_type(DEPLOYMENT) if d.inputs["metadata"]["name"] == "mlflow"
    ]
    container = mlflow.inputs["spec"]["template"]["spec"]["containers"][0]
    command = [*container.get("command", []), *container.get("args", [])]
    # then the server runs MLflow's basic-auth app
    assert "--app-name" in command
    assert command[command.index("--app-name") + 1] == "basic-auth"
    # and no Service is a LoadBalancer or NodePort, JupyterHub's proxy included
    types = {
        service.inputs["spec"].get("type", "ClusterIP") for service in kubernetes.of_type(SERVICE)
    }
    assert types == {"ClusterIP"}
    for release in kubernetes.of_type(RELEASE):
        if release.inputs["chart"] == "jupyterhub":
            assert release.inputs["values"]["proxy"]["service"]["type"] == "ClusterIP"


def test_prod_keeps_the_tracking_database_and_dev_runs_it_in_cluster(
    plans: dict[str, Plan],
) -> None:
    # given both stacks' kubernetes layers
    prod, dev = plans["prod"].layer("kubernetes"), plans["dev"].layer("kubernetes")
    # then prod's RDS database is protected, retained, multi-AZ and encrypted
    (database,) = prod.of_type(RDS)
    assert database.protect and database.retain_on_delete
    assert database.inputs["multiAz"] is True
    assert database.inputs["storageEncrypted"] is True
    assert database.inputs["publiclyAccessible"] is False
    # and dev has no RDS instance (PostgreSQL runs in the cluster)
    assert dev.of_type(RDS) == []


def test_render_mode_writes_every_manifest_and_uses_renderable_charts(
    run_stack: Callable[[str, dict[str, str]], Plan], tmp_path: Path
) -> None:
    # given dev with its manifests rendered to a folder
    kubernetes = section("dev")
    kubernetes["cluster"]["render_to"] = str(tmp_path / "manifests")
    plan = run_stack("dev", with_section(stack_config("dev"), "kubernetes", kubernetes))
    # when the plan's manifests are written
    written = write_rendered_manifests(plan.resources, tmp_path)
    # then the provider renders instead of applying, and charts are v4 Charts (renderable)
    (provider,) = plan.of_type(K8S_PROVIDER)
    assert provider.inputs["renderYamlToDirectory"] == str(tmp_path / "manifests")
    assert plan.run.exports["kubernetes"]["rendered_to"] == str(tmp_path / "manifests")
    assert "kubeconfig" not in provider.inputs
    assert plan.of_type(RELEASE) == []
    assert plan.of_type(CHART)
    # and every Kubernetes object has its file, with the canary share from config
    objects = [r for r in plan.resources if r.type.startswith("kubernetes:") and r.custom]
    assert len(written) == len(objects) + len(plan.of_type(CHART))
    (service_file,) = (tmp_path / "manifests" / "1-manifest").glob("*-inferenceservice-*.yaml")
    assert "canaryTrafficPercent: 10" in service_file.read_text()


def test_an_existing_cluster_is_reached_by_kubeconfig_and_no_cluster_is_created(
    run_stack: Callable[[str, dict[str, str]], Plan],
) -> None:
    # given dev pointed at an existing cluster
    kubernetes = section("dev")
    kubernetes["cluster"] = {
        "existing": {
            "kubeconfig": "/etc/ml-platform/kubeconfig",
            "context": "ml",
            "oidc_provider_arn": OIDC_ARN,
        }
    }
    plan = run_stack("dev", with_section(stack_config("dev"), "kubernetes", kubernetes))
    layer = plan.layer("kubernetes")
    # then no EKS resource exists, the provider uses the file and context
    assert not [r for r in layer.resources if r.type.startswith("aws:eks/")]
    (provider,) = layer.of_type(K8S_PROVIDER)
    assert provider.inputs["kubeconfig"] == "/etc/ml-platform/kubeconfig"
    assert provider.inputs["context"] == "ml"
    # and operators are left to the cluster's owners
    assert layer.of_type(RELEASE) == [
        r for r in layer.of_type(RELEASE) if r.inputs["chart"] == "jupyterhub"
    ]
    # and service-account roles trust the given OIDC provider, for one service account each
    trusts = [
        json.loads(role.inputs["assumeRolePolicy"]) for role in layer.of_type("aws:iam/role:Role")
    ]
    assert trusts
    for trust in trusts:
        (statement,) = trust["Statement"]
        assert statement["Principal"]["Federated"] == OIDC_ARN
        subject = statement["Condition"]["StringEquals"][
            "oidc.eks.us-east-1.amazonaws.com/id/EXISTING0001:sub"
        ]
        assert subject.startswith("system:serviceaccount:mlp-dev-")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda k, flat: k.pop("cluster"),
            "kubernetes: cluster: required when the kubernetes layer is deployed",
        ),
        (
            lambda k, flat: k["cluster"]["eks"].update(gpu_nodes=None),
            "endpoints, training_jobs[0], jupyterhub.gpu_profile: ask for GPUs",
        ),
        (
            lambda k, flat: k["jupyterhub"].update(admin_users=[]),
            "jupyterhub.admin_users: at least one admin",
        ),
        (
            lambda k, flat: k["cluster"]["eks"].update(public_access_cidrs=["0.0.0.0/0"]),
            "opens the API to the whole internet",
        ),
    ],
)
def test_config_refuses_a_kubernetes_section_that_cannot_deploy(
    change: Callable[[dict[str, Any], dict[str, str]], Any], problem: str
) -> None:
    # given dev's kubernetes section with one change
    kubernetes = section("dev")
    if "GPUs" in problem:
        kubernetes["endpoints"][0]["resources"]["gpus"] = 0
        problem = "training_jobs[0], jupyterhub.gpu_profile: ask for GPUs"
    change(kubernetes, {})
    # when validated / then the problem is named
    with pytest.raises(ConfigError) as error:
        load_platform_config("dev", with_section(stack_config("dev"), "kubernetes", kubernetes))
    assert problem in str(error.value)


def test_eks_needs_two_availability_zones() -> None:
    # given dev with one availability zone
    data = stack_file("dev")["ml-platform:data"]
    data["network"]["availability_zones"] = 1
    # when validated / then EKS (and nothing else) is refused for it
    with pytest.raises(ConfigError, match=r"cluster\.eks: EKS needs subnets in two availability"):
        load_platform_config("dev", with_section(stack_config("dev"), "data", data))
