"""JupyterHub under the recording mock runtime, applied (Helm v3 Release) and rendered (v4 Chart).

given the component built with a CPU and a GPU profile / when the chart's recorded values are
read / then sign-in is NativeAuthenticator without open sign-up, the proxy is ClusterIP only,
homes are sized volumes of the encrypted class, the GPU profile asks for and tolerates GPUs, the
chart version is pinned, and the hub, proxy and user pods get restricted security contexts.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from components.kubernetes.jupyterhub import (
    CHART_REPOSITORY,
    CHART_VERSION,
    JupyterHub,
    JupyterHubArgs,
    memory_bytes,
)
from components.kubernetes.pod_security import GPU_NODE_LABEL, GPU_TAINT_KEY
from components.kubernetes.spec import JupyterHubConfig, ResourcesConfig
from components.shared.spec_rules import ImageConfig
from stacks.offline.mock_runtime import PlanRun, RecordedResource, run_offline
from tests.components.kubernetes.cluster import mock_cluster
from tests.components.kubernetes.recorded import one

RELEASE = "kubernetes:helm.sh/v3:Release"
CHART = "kubernetes:helm.sh/v4:Chart"
TRACKING_URI = "http://mlflow.tracking.svc.cluster.local:5000"
RESTRICTED = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def hub_args(**overrides: Any) -> JupyterHubArgs:
    """The args with ``overrides`` (to the jupyterhub section or the args; the section unchecked).

    ``user_image_tag`` is the tag of the section's user image.
    """
    section: dict[str, Any] = {
        "admin_users": ("alice", "bob"),
        "storage_gb": 50,
        "cpu_profile": ResourcesConfig(cpu="1", memory="4Gi"),
        "gpu_profile": ResourcesConfig(cpu="4", memory="16Gi", gpus=1),
        "idle_cull_minutes": 45,
    }
    values: dict[str, Any] = {
        "namespace": "notebooks",
        "storage_class": "gp3-encrypted",
        "tracking_uri": TRACKING_URI,
        "tracking_namespace": "tracking",
    }
    if "user_image_tag" in overrides:
        tag = overrides.pop("user_image_tag")
        section["user_image"] = ImageConfig(repository="nb", tag=tag)
    for key, value in overrides.items():
        (section if key in JupyterHubConfig.model_fields else values)[key] = value
    return JupyterHubArgs(hub=JupyterHubConfig().model_copy(update=section), **values)


def run_hub(args: JupyterHubArgs, rendering: bool = False) -> PlanRun:
    """Build the component alone under the mocks."""

    def program() -> dict[str, Any]:
        cluster = mock_cluster(rendering=rendering)
        hub = JupyterHub("jupyterhub", args, cluster)
        return {"proxy_service": hub.proxy_service_name}

    return run_offline("dev", {"aws:region": "us-east-1"}, program)


@pytest.fixture(scope="module")
def release() -> RecordedResource:
    """The Helm release of an applying provider."""
    return one(run_hub(hub_args()), RELEASE)


@pytest.fixture(scope="module")
def values(release: RecordedResource) -> dict[str, Any]:
    """The chart values the release installs."""
    return release.inputs["values"]


def profiles(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {profile["slug"]: profile for profile in values["singleuser"]["profileList"]}


def test_release_pins_the_chart_and_rolls_back_on_failure(release: RecordedResource) -> None:
    # given the release / when its chart settings are read
    inputs = release.inputs
    # then it is zero-to-jupyterhub at an exact 4.x version, atomic and cleaning up on failure
    assert inputs["chart"] == "jupyterhub"
    assert inputs["repositoryOpts"] == {"repo": CHART_REPOSITORY}
    assert inputs["version"] == CHART_VERSION
    assert CHART_VERSION.startswith("4.") and CHART_VERSION.count(".") == 2
    assert inputs["atomic"] is True
    assert inputs["cleanupOnFail"] is True
    assert inputs["namespace"] == "notebooks"


def test_rendering_provider_gets_a_v4_chart_with_the_same_chart_and_values(
    values: dict[str, Any],
) -> None:
    # given the component built for a provider that renders manifests
    run = run_hub(hub_args(), rendering=True)
    # when its resources are read
    chart = one(run, CHART)
    # then a v4 Chart replaces the v3 Release (which cannot render), same chart and values
    assert [r for r in run.resources if r.type == RELEASE] == []
    assert chart.inputs["chart"] == "jupyterhub"
    assert chart.inputs["version"] == CHART_VERSION
    assert chart.inputs["repositoryOpts"] == {"repo": CHART_REPOSITORY}
    assert chart.inputs["values"] == values


def test_sign_in_is_native_authenticator_without_open_sign_up(values: dict[str, Any]) -> None:
    # given the hub's JupyterHub configuration
    config = values["hub"]["config"]
    # when the authenticator settings are read
    # then NativeAuthenticator approves every sign-up, admins come from the args
    assert config["JupyterHub"]["authenticator_class"] == "nativeauthenticator.NativeAuthenticator"
    assert config["NativeAuthenticator"]["open_signup"] is False
    assert config["Authenticator"]["admin_users"] == ["alice", "bob"]
    assert config["Authenticator"]["allow_all"] is True


def test_proxy_is_cluster_ip_only(values: dict[str, Any]) -> None:
    # given the proxy's values / when its Service and HTTPS settings are read
    proxy = values["proxy"]
    # then nothing is exposed outside the cluster
    assert proxy["service"]["type"] == "ClusterIP"
    assert proxy["https"]["enabled"] is False
    assert "ingress" not in values or values["ingress"].get("enabled") is False


def test_homes_are_dynamic_volumes_of_the_encrypted_class(values: dict[str, Any]) -> None:
    # given the user storage settings / when they are read
    storage = values["singleuser"]["storage"]
    # then each user gets a claim of the configured size on the platform's class
    assert storage["type"] == "dynamic"
    assert storage["capacity"] == "50Gi"
    assert storage["dynamic"]["storageClass"] == "gp3-encrypted"
    assert values["hub"]["db"]["pvc"]["storageClassName"] == "gp3-encrypted"


def test_gpu_profile_asks_for_tolerates_and_selects_gpu_nodes(values: dict[str, Any]) -> None:
    # given the profile list
    gpu = profiles(values)["gpu"]["kubespawner_override"]
    # when the GPU profile's overrides are read
    (toleration,) = gpu["tolerations"]
    # then it limits and guarantees one GPU, tolerates the GPU taint, and selects GPU nodes
    assert gpu["extra_resource_limits"] == {"nvidia.com/gpu": "1"}
    assert gpu["extra_resource_guarantees"] == {"nvidia.com/gpu": "1"}
    assert toleration == {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
    assert gpu["node_selector"] == {GPU_NODE_LABEL[0]: GPU_NODE_LABEL[1]}
    assert gpu["mem_limit"] == gpu["mem_guarantee"] == memory_bytes("16Gi")
    assert (gpu["cpu_guarantee"], gpu["cpu_limit"]) == (4, 8)


def test_cpu_profile_is_the_default_and_asks_for_no_gpu(values: dict[str, Any]) -> None:
    # given the profile list / when the CPU profile is read
    cpu = profiles(values)["cpu"]
    # then it is the default, with requests and limits and nothing of the GPU nodes
    assert cpu["default"] is True
    override = cpu["kubespawner_override"]
    assert (override["cpu_guarantee"], override["cpu_limit"]) == (1, 2)
    assert override["mem_limit"] == 4 * 2**30
    assert not {"extra_resource_limits", "tolerations", "node_selector"} & set(override)


def test_without_a_gpu_profile_only_the_cpu_profile_is_offered() -> None:
    # given args without a GPU profile / when the values are read
    values = one(run_hub(hub_args(gpu_profile=None)), RELEASE).inputs["values"]
    # then users can choose the CPU profile only
    assert list(profiles(values)) == ["cpu"]


def test_hub_proxy_and_user_pods_get_restricted_contexts(values: dict[str, Any]) -> None:
    # given the security contexts set for the chart's pods
    spawner = values["hub"]["config"]["KubeSpawner"]
    contexts = {
        "hub": values["hub"]["containerSecurityContext"],
        "proxy": values["proxy"]["chp"]["containerSecurityContext"],
        "user": spawner["container_security_context"],
    }
    # when each is compared with the restricted settings
    # then all of them are restricted, non-root and read-only, with /tmp scratch where needed
    for context in contexts.values():
        assert RESTRICTED.items() <= context.items()
        assert context["runAsUser"] != 0
    assert contexts["user"]["runAsUser"] == 1000
    assert spawner["pod_security_context"]["fsGroup"] == 100
    assert spawner["pod_security_context"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert values["hub"]["podSecurityContext"]["runAsNonRoot"] is True
    assert values["singleuser"]["allowPrivilegeEscalation"] is False
    for where in (values["hub"], values["singleuser"]["storage"]):
        (mount,) = where["extraVolumeMounts"]
        (volume,) = where["extraVolumes"]
        assert (mount["mountPath"], mount["name"]) == ("/tmp", volume["name"])
        assert "emptyDir" in volume
    for resources in (values["hub"]["resources"], values["proxy"]["chp"]["resources"]):
        assert {"cpu", "memory"} <= set(resources["requests"]) & set(resources["limits"])


def test_features_needing_privileges_or_cluster_permissions_are_off(
    values: dict[str, Any],
) -> None:
    # given the chart's optional features / when they are read
    # then no pre-puller DaemonSet, no user-scheduler, no privileged iptables init container
    assert values["prePuller"]["hook"]["enabled"] is False
    assert values["prePuller"]["continuous"]["enabled"] is False
    assert values["scheduling"]["userScheduler"]["enabled"] is False
    assert values["singleuser"]["cloudMetadata"]["blockWithIptables"] is False


def test_user_pods_reach_dns_mlflow_and_aws_but_not_the_metadata_server(
    values: dict[str, Any],
) -> None:
    # given the user pods' network policy
    policy = values["singleuser"]["networkPolicy"]
    rules = policy["egressAllowRules"]
    (mlflow,) = policy["egress"]
    # when its rules are read
    (peer,) = mlflow["to"]
    # then DNS in kube-system, public AWS addresses and MLflow's namespace on 5000 only
    assert policy["enabled"] is True
    assert rules["cloudMetadataServer"] is False
    assert rules["dnsPortsCloudMetadataServer"] is False
    assert rules["privateIPs"] is False
    assert rules["dnsPortsKubeSystemNamespace"] is True
    assert rules["nonPrivateIPs"] is True
    assert peer == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "tracking"}}
    }
    assert mlflow["ports"] == [{"port": 5000, "protocol": "TCP"}]


def test_user_pods_know_the_tracking_server_and_are_culled_when_idle(
    values: dict[str, Any],
) -> None:
    # given the user pods' environment and the culler / when they are read
    # then MLFLOW_TRACKING_URI points at the server, idle servers stop after the configured time
    assert values["singleuser"]["extraEnv"]["MLFLOW_TRACKING_URI"] == TRACKING_URI
    assert values["cull"]["enabled"] is True
    assert values["cull"]["timeout"] == 45 * 60


def test_user_image_is_pinned_when_given() -> None:
    # given a user image in ECR / when the values are read
    args = hub_args(
        user_image_repository="123.dkr.ecr.us-east-1.amazonaws.com/nb", user_image_tag="v7"
    )
    image = one(run_hub(args), RELEASE).inputs["values"]["singleuser"]["image"]
    # then it is the given repository at the given tag
    assert image == {"name": "123.dkr.ecr.us-east-1.amazonaws.com/nb", "tag": "v7"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"user_image_repository": "nb", "chart_version": "4"},
            "Invalid JupyterHub: chart_version: '4' is not an exact x.y.z version; "
            "user_image_repository and user_image_tag: give both or neither",
        ),
    ],
)
def test_invalid_args_are_refused_with_every_error(change: dict, message: str) -> None:
    # given args with wrong fields / when they are built / then every error is named at once
    with pytest.raises(ValueError) as error:
        hub_args(**change)
    assert str(error.value) == message


def test_the_section_refuses_a_gpu_profile_without_gpus() -> None:
    # given the jupyterhub section with a GPU profile of 0 GPUs
    section = {"gpu_profile": {"cpu": "4", "memory": "16Gi", "gpus": 0}}
    # when it is validated as a stack's section is
    with pytest.raises(ValidationError) as error:
        JupyterHubConfig.model_validate_json(json.dumps(section))
    # then the profile is refused with the section's own message
    assert [(problem["loc"], problem["msg"]) for problem in error.value.errors()] == [
        (("gpu_profile",), "Value error, a GPU profile needs gpus >= 1")
    ]
