"""The EKS control plane under the recording mock runtime.

given an EksCluster built with the platform's usual inputs (dev: nothing retained; prod: data
retained, public API to one range) / when its control-plane resources are read / then the API
is private (or open to the given ranges only), reachable from the VPC, secrets are encrypted,
every log type goes to an encrypted group created first, the private cluster has its interface
endpoints, and the Kubernetes provider connects with ``aws eks get-token`` (or renders).
"""

from __future__ import annotations

import json
from typing import Any

from components.kubernetes.control_plane import CLUSTER_LOG_TYPES
from stacks.offline.mock_runtime import PlanRun
from tests.components.kubernetes.eks_runs import (
    CLUSTER,
    ENDPOINT,
    INGRESS,
    K8S_PROVIDER,
    KEY_ARN,
    LOG_GROUP,
    REGION,
    STORAGE_CLASS,
    VPC_CIDR,
    cluster_args,
    named,
    run_cluster,
)
from tests.components.kubernetes.recorded import of_type, one


def test_api_endpoint_is_private_by_default(dev: PlanRun) -> None:
    # given the default cluster
    vpc = one(dev, CLUSTER).inputs["vpcConfig"]
    # when its endpoint settings are read
    # then only the private endpoint is on and no public range is named
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc
    assert vpc["subnetIds"] == ["subnet-0a", "subnet-0b"]


def test_public_endpoint_is_open_only_to_the_given_ranges(prod: PlanRun) -> None:
    # given a cluster with one public range
    vpc = one(prod, CLUSTER).inputs["vpcConfig"]
    # when its endpoint settings are read
    # then the public endpoint is on for that range only, the private one stays on
    assert vpc["endpointPublicAccess"] is True
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert vpc["endpointPrivateAccess"] is True


def test_the_vpc_reaches_the_private_api_on_443(dev: PlanRun) -> None:
    # given the cluster and the ingress rule on its security group
    cluster, rule = one(dev, CLUSTER), named(dev, INGRESS, "api-from-vpc")
    # when compared
    # then HTTPS from the VPC's range is admitted to the cluster security group
    assert (
        rule.inputs["securityGroupId"] == (cluster.outputs["vpcConfig"]["clusterSecurityGroupId"])
    )
    assert rule.inputs["cidrIpv4"] == VPC_CIDR
    assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (443, 443)
    assert rule.inputs["ipProtocol"] == "tcp"


def test_secrets_are_encrypted_with_the_platform_key(dev: PlanRun) -> None:
    # given the cluster
    inputs = one(dev, CLUSTER).inputs
    # when its encryption config is read
    (config,) = [inputs["encryptionConfig"]]
    # then Kubernetes secrets are envelope-encrypted with the platform key
    assert config["resources"] == ["secrets"]
    assert config["provider"]["keyArn"] == KEY_ARN


def test_all_control_plane_logs_go_to_an_encrypted_group_created_first(dev: PlanRun) -> None:
    # given the cluster and its log group
    cluster, group = one(dev, CLUSTER), one(dev, LOG_GROUP)
    # when their settings and order are read
    # then all five log types are on, the group has EKS's name, the key and retention,
    # and the cluster waits for it
    assert cluster.inputs["enabledClusterLogTypes"] == [
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    ]
    assert tuple(cluster.inputs["enabledClusterLogTypes"]) == CLUSTER_LOG_TYPES
    assert cluster.inputs["name"] == "mlp-dev"
    assert group.inputs["name"] == "/aws/eks/mlp-dev/cluster"
    assert group.inputs["kmsKeyId"] == KEY_ARN
    assert group.inputs["retentionInDays"] == 30
    assert group.urn in cluster.depends_on


def test_logs_survive_destroy_only_when_the_stack_retains_data(dev: PlanRun, prod: PlanRun) -> None:
    # given the log group and the cluster of a non-retaining and a retaining stack
    # when their protection is read
    # then only the retained stack's log group is protected; the cluster never is
    assert not one(dev, LOG_GROUP).protect and not one(dev, LOG_GROUP).retain_on_delete
    assert one(prod, LOG_GROUP).protect and one(prod, LOG_GROUP).retain_on_delete
    assert not one(prod, CLUSTER).protect


def test_interface_endpoints_for_a_private_cluster(dev: PlanRun) -> None:
    # given the cluster's VPC endpoints
    endpoints = of_type(dev, ENDPOINT)
    # when their services are listed
    services = sorted(endpoint.inputs["serviceName"] for endpoint in endpoints)
    # then the four the data layer lacks are added, private DNS, in the endpoints' group
    assert services == [
        f"com.amazonaws.{REGION}.{service}"
        for service in ("ec2", "eks", "eks-auth", "elasticloadbalancing")
    ]
    for endpoint in endpoints:
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert endpoint.inputs["securityGroupIds"] == ["sg-0endpoints"]


def test_kubernetes_provider_connects_with_aws_eks_get_token(dev: PlanRun) -> None:
    # given the cluster's Kubernetes provider and the StorageClass it applies
    provider, storage = one(dev, K8S_PROVIDER), one(dev, STORAGE_CLASS)
    cluster = one(dev, CLUSTER)
    kubeconfig = json.loads(provider.inputs["kubeconfig"])
    # when the kubeconfig is read
    (user,) = kubeconfig["users"]
    (entry,) = kubeconfig["clusters"]
    # then it reaches the cluster's endpoint with its CA and a token from the AWS CLI
    assert entry["cluster"]["server"] == cluster.outputs["endpoint"]
    assert (
        entry["cluster"]["certificate-authority-data"]
        == (cluster.outputs["certificateAuthority"]["data"])
    )
    assert user["user"]["exec"]["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert user["user"]["exec"]["command"] == "aws"
    assert user["user"]["exec"]["args"][:4] == ["eks", "get-token", "--cluster-name", "mlp-dev"]
    assert user["user"]["exec"]["args"][4:6] == ["--region", REGION]
    assert provider.inputs["enableServerSideApply"] in (True, "true")
    assert "renderYamlToDirectory" not in provider.inputs
    assert storage.provider == provider.urn


def test_render_mode_writes_manifests_instead_of_connecting(tmp_path: Any) -> None:
    # given a cluster rendered to a folder
    run = run_cluster(cluster_args(render_to=str(tmp_path)))
    provider = one(run, K8S_PROVIDER)
    # when its provider is read
    # then it renders there and carries no kubeconfig
    assert provider.inputs["renderYamlToDirectory"] == str(tmp_path)
    assert "kubeconfig" not in provider.inputs
    assert one(run, STORAGE_CLASS).provider == provider.urn
