"""EksCluster under the recording mock runtime.

given an EksCluster built with the platform's usual inputs (dev: nothing retained; prod: data
retained, public API to one range, GPU on-demand) / when its recorded resources are read / then
the cluster is private, encrypted and fully logged, its nodes keep pods off the node role, the
GPU nodes are Bottlerocket NVIDIA, tainted and labelled, add-ons have their own roles, and the
default StorageClass encrypts with the platform key.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from components.kubernetes.eks_cluster import (
    CLUSTER_LOG_TYPES,
    EksCluster,
    EksClusterArgs,
    NodeGroupSpec,
)
from components.kubernetes.pod_security import GPU_NODE_LABEL, GPU_TAINT_KEY
from components.retention import DataRetention
from stacks.offline.mock_runtime import MOCK_ACCOUNT_ID, PlanRun, RecordedResource, run_offline

REGION = "us-east-1"
KEY_ARN = f"arn:aws:kms:{REGION}:{MOCK_ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VPC_CIDR = "10.20.0.0/16"
ADMIN_ROLE = f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/platform-admins"

CLUSTER = "aws:eks/cluster:Cluster"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ADDON = "aws:eks/addon:Addon"
OIDC = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
ACCESS_POLICY = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
K8S_PROVIDER = "pulumi:providers:kubernetes"


def cluster_args(**changes: Any) -> EksClusterArgs:
    """The dev-like inputs, with ``changes`` applied."""
    args = EksClusterArgs(
        environment="dev",
        region=REGION,
        version="1.33",
        vpc_id="vpc-0123456789abcdef0",
        vpc_cidr=VPC_CIDR,
        subnet_ids=["subnet-0a", "subnet-0b"],
        endpoint_security_group_id="sg-0endpoints",
        kms_key_arn=KEY_ARN,
        log_retention_days=30,
        system_nodes=NodeGroupSpec(("m6i.large",), 2, 4, 2, 50),
        gpu_nodes=NodeGroupSpec(("g5.xlarge", "g6.xlarge"), 0, 2, 0, 100, spot=True),
        account_id=MOCK_ACCOUNT_ID,
        partition="aws",
        retention=DataRetention(retain=False),
    )
    return dataclasses.replace(args, **changes)


def run_cluster(args: EksClusterArgs) -> PlanRun:
    """Build one EksCluster under the mocks, with an explicit AWS provider."""

    def program() -> dict[str, Any]:
        provider = aws.Provider("aws", region=REGION)
        cluster = EksCluster(
            "kubernetes", args, opts=pulumi.ResourceOptions(providers={"aws": provider})
        )
        return cluster.exports()

    return run_offline("dev", {"aws:region": REGION}, program)


@pytest.fixture(scope="module")
def dev() -> PlanRun:
    """Defaults: private, nothing retained, spot GPU nodes."""
    return run_cluster(cluster_args())


@pytest.fixture(scope="module")
def prod() -> PlanRun:
    """Retained data, public API to one range, on-demand GPU nodes, one admin role."""
    return run_cluster(
        cluster_args(
            environment="prod",
            retention=DataRetention(retain=True),
            public_access_cidrs=("203.0.113.0/24",),
            gpu_nodes=NodeGroupSpec(("g5.xlarge",), 1, 2, 1, 100),
            admin_role_arns=(ADMIN_ROLE,),
        )
    )


def of_type(run: PlanRun, type_: str) -> list[RecordedResource]:
    return [resource for resource in run.resources if resource.type == type_]


def one(run: PlanRun, type_: str) -> RecordedResource:
    (resource,) = of_type(run, type_)
    return resource


def named(run: PlanRun, type_: str, suffix: str) -> RecordedResource:
    (resource,) = [r for r in of_type(run, type_) if r.name.endswith(suffix)]
    return resource


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


def test_access_is_through_api_entries_with_admin_roles(prod: PlanRun) -> None:
    # given the cluster, the admin role's access entry and its policy association
    cluster = one(prod, CLUSTER)
    entry, association = one(prod, ACCESS_ENTRY), one(prod, ACCESS_POLICY)
    # when read
    # then authentication is by access entries only, and the role is cluster admin everywhere
    assert cluster.inputs["accessConfig"] == {
        "authenticationMode": "API",
        "bootstrapClusterCreatorAdminPermissions": True,
    }
    assert entry.inputs["principalArn"] == ADMIN_ROLE
    assert association.inputs["principalArn"] == ADMIN_ROLE
    assert association.inputs["policyArn"] == (
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    )
    assert association.inputs["accessScope"] == {"type": "cluster"}


def test_no_admin_entries_by_default(dev: PlanRun) -> None:
    # given the default cluster / when its access entries are listed / then there are none
    assert of_type(dev, ACCESS_ENTRY) == [] and of_type(dev, ACCESS_POLICY) == []


def test_oidc_provider_url_is_the_cluster_issuer(dev: PlanRun) -> None:
    # given the cluster's issuer (as EKS reports it) and the OIDC provider
    issuer = one(dev, CLUSTER).outputs["identities"][0]["oidcs"][0]["issuer"]
    oidc = one(dev, OIDC)
    # when compared
    # then the provider federates exactly that issuer for STS
    assert oidc.inputs["url"] == issuer
    assert oidc.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    assert dev.exports["oidc_provider_arn"] == oidc.outputs["arn"]


def test_gpu_nodes_are_bottlerocket_nvidia_tainted_labelled_and_spot(dev: PlanRun) -> None:
    # given the GPU node group of a spot configuration
    inputs = named(dev, NODE_GROUP, "-gpu").inputs
    # when its AMI, capacity, taints and labels are read
    # then Bottlerocket's NVIDIA variant (driver and device plugin) runs on spot, tainted
    # so only GPU pods land there, and labelled for their node selector
    assert inputs["amiType"] == "BOTTLEROCKET_x86_64_NVIDIA"
    assert inputs["capacityType"] == "SPOT"
    assert inputs["taints"] == [{"key": GPU_TAINT_KEY, "value": "true", "effect": "NO_SCHEDULE"}]
    assert inputs["labels"][GPU_NODE_LABEL[0]] == GPU_NODE_LABEL[1]
    assert inputs["instanceTypes"] == ["g5.xlarge", "g6.xlarge"]
    assert inputs["scalingConfig"] == {"minSize": 0, "maxSize": 2, "desiredSize": 0}


def test_on_demand_gpu_nodes_when_not_spot(prod: PlanRun) -> None:
    # given a GPU spec without spot / when its group is read / then it buys on-demand
    assert named(prod, NODE_GROUP, "-gpu").inputs["capacityType"] == "ON_DEMAND"


def test_system_nodes_are_on_demand_and_untainted(dev: PlanRun) -> None:
    # given the system node group
    inputs = named(dev, NODE_GROUP, "-system").inputs
    # when read
    # then it is on-demand Bottlerocket without the GPU taint or label
    assert inputs["capacityType"] == "ON_DEMAND"
    assert inputs["amiType"] == "BOTTLEROCKET_x86_64"
    assert "taints" not in inputs
    assert GPU_NODE_LABEL[0] not in inputs["labels"]
    assert "scalingConfig.desiredSize" in named(dev, NODE_GROUP, "-system").ignore_changes


def test_no_gpu_group_without_a_gpu_spec() -> None:
    # given a cluster without GPU nodes
    run = run_cluster(cluster_args(gpu_nodes=None))
    # when its node groups are listed
    # then only the system group exists
    assert [group.name for group in of_type(run, NODE_GROUP)] == ["mlp-dev-eks-system"]
    assert len(run.exports["node_group_names"]) == 1


def test_launch_templates_keep_pods_off_the_metadata_service(dev: PlanRun) -> None:
    # given both node groups' launch templates
    templates = of_type(dev, LAUNCH_TEMPLATE)
    # when their metadata options are read
    # then IMDSv2 tokens are required and one hop is allowed (the node, not its pods)
    assert len(templates) == 2
    for template in templates:
        metadata = template.inputs["metadataOptions"]
        assert metadata["httpTokens"] == "required"
        assert metadata["httpPutResponseHopLimit"] == 1
        assert metadata["httpEndpoint"] == "enabled"
        assert "imageId" not in template.inputs and "userData" not in template.inputs


def test_both_bottlerocket_volumes_are_encrypted_gp3(dev: PlanRun) -> None:
    # given the GPU group's launch template
    template = named(dev, LAUNCH_TEMPLATE, "-gpu")
    # when its block devices are read
    devices = {item["deviceName"]: item["ebs"] for item in template.inputs["blockDeviceMappings"]}
    # then the OS and data volumes are encrypted gp3 with the key, the data volume sized
    assert set(devices) == {"/dev/xvda", "/dev/xvdb"}
    for ebs in devices.values():
        assert ebs["encrypted"] == "true"
        assert ebs["kmsKeyId"] == KEY_ARN
        assert ebs["volumeType"] == "gp3"
    assert devices["/dev/xvdb"]["volumeSize"] == 100
    assert "volumeSize" not in devices["/dev/xvda"]


def test_node_groups_use_their_own_launch_templates(dev: PlanRun) -> None:
    # given each node group's launch template reference
    references = {
        group: named(dev, NODE_GROUP, f"-{group}").inputs["launchTemplate"]
        for group in ("system", "gpu")
    }
    # when read
    # then each names a launch template of its own at a concrete version, and no disk size
    # (which EKS refuses next to a launch template)
    assert all(reference["id"].startswith("lt-") for reference in references.values())
    assert references["system"]["id"] != references["gpu"]["id"]
    assert all(reference["version"] == "1" for reference in references.values())
    assert all("diskSize" not in group.inputs for group in of_type(dev, NODE_GROUP))


def test_node_role_has_no_cni_or_ebs_permissions(dev: PlanRun) -> None:
    # given the managed policies attached to the node role
    node_role = named(dev, ROLE, "-nodes")
    attached = [
        attachment.inputs["policyArn"]
        for attachment in of_type(dev, ATTACHMENT)
        if attachment.parent == node_role.urn
    ]
    # when listed
    # then the node role joins the cluster and pulls images, nothing more
    assert sorted(attached) == [
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    ]


def test_vpc_cni_enforces_network_policies_with_its_own_role(dev: PlanRun) -> None:
    # given the vpc-cni add-on and its role
    cni, role = named(dev, ADDON, "-vpc-cni"), named(dev, ROLE, "-vpc-cni")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    # when read
    # then network policies are enforced, and only aws-node's token assumes the CNI role
    assert json.loads(cni.inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}
    assert cni.inputs["serviceAccountRoleArn"] == role.outputs["arn"]
    assert cni.inputs["resolveConflictsOnCreate"] == "OVERWRITE"
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    (sub,) = [v for k, v in trust["Condition"]["StringEquals"].items() if k.endswith(":sub")]
    assert sub == "system:serviceaccount:kube-system:aws-node"
    (policy,) = [a for a in of_type(dev, ATTACHMENT) if a.parent == role.urn]
    assert policy.inputs["policyArn"] == "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"


def test_cni_and_kube_proxy_come_before_the_nodes_coredns_and_ebs_after(dev: PlanRun) -> None:
    # given the add-ons and the node groups
    addons = {addon.name.removeprefix("mlp-dev-eks-"): addon for addon in of_type(dev, ADDON)}
    groups = of_type(dev, NODE_GROUP)
    # when their dependencies are read
    # then nodes wait for the CNI and kube-proxy, coredns and EBS CSI wait for the nodes
    assert set(addons) == {"vpc-cni", "kube-proxy", "coredns", "aws-ebs-csi-driver"}
    for group in groups:
        assert addons["vpc-cni"].urn in group.depends_on
        assert addons["kube-proxy"].urn in group.depends_on
        for late in ("coredns", "aws-ebs-csi-driver"):
            assert group.urn in addons[late].depends_on


def test_ebs_csi_driver_has_its_own_role_with_the_key_and_runs_on_gpu_nodes(dev: PlanRun) -> None:
    # given the EBS CSI add-on, its role and that role's policies
    addon, role = named(dev, ADDON, "-aws-ebs-csi-driver"), named(dev, ROLE, "-ebs-csi")
    children = [r for r in dev.resources if r.parent == role.urn]
    (inline,) = [r for r in children if r.type == "aws:iam/rolePolicy:RolePolicy"]
    statements = json.loads(inline.inputs["policy"])["Statement"]
    # when read
    # then the driver assumes its own role, may use the platform key (grants only for AWS
    # resources), and its node DaemonSet tolerates the GPU taint
    assert addon.inputs["serviceAccountRoleArn"] == role.outputs["arn"]
    assert "ebs-csi-controller-sa" in role.inputs["assumeRolePolicy"]
    assert {a.inputs["policyArn"] for a in children if a.type == ATTACHMENT} == {
        "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
    }
    assert all(statement["Resource"] == KEY_ARN for statement in statements)
    (grant,) = [s for s in statements if "kms:CreateGrant" in s["Action"]]
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert json.loads(addon.inputs["configurationValues"]) == {"node": {"tolerateAllTaints": True}}


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


def test_storage_class_encrypts_with_the_key_and_deletes_in_dev(dev: PlanRun) -> None:
    # given the default StorageClass of a non-retaining stack
    storage = one(dev, STORAGE_CLASS).inputs
    # when read
    # then it is the default, gp3 encrypted with the platform key, zonal binding, expandable
    assert storage["metadata"]["name"] == "gp3-encrypted"
    assert storage["metadata"]["annotations"] == {
        "storageclass.kubernetes.io/is-default-class": "true"
    }
    assert storage["provisioner"] == "ebs.csi.aws.com"
    assert storage["parameters"] == {"type": "gp3", "encrypted": "true", "kmsKeyId": KEY_ARN}
    assert storage["volumeBindingMode"] == "WaitForFirstConsumer"
    assert storage["allowVolumeExpansion"] is True
    assert storage["reclaimPolicy"] == "Delete"


def test_storage_class_retains_volumes_when_the_stack_retains_data(prod: PlanRun) -> None:
    # given a retaining stack / when its StorageClass is read / then released volumes stay
    assert one(prod, STORAGE_CLASS).inputs["reclaimPolicy"] == "Retain"


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


def test_every_aws_resource_has_the_explicit_provider(dev: PlanRun) -> None:
    # given every AWS resource / when its provider is read / then it is the stack's
    for resource in dev.resources:
        if resource.type.startswith("aws:"):
            assert resource.provider and resource.provider.endswith("::aws"), resource.name


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"public_access_cidrs": ("0.0.0.0/0",)},
            "public_access_cidrs: '0.0.0.0/0' opens the API to the internet",
        ),
        ({"public_access_cidrs": ("nope",)}, "public_access_cidrs: 'nope' is not a CIDR block"),
        (
            {"system_nodes": NodeGroupSpec((), 2, 1, 2, 50)},
            "system_nodes.instance_types: at least one instance type is required; "
            "system_nodes: sizes must satisfy 0 <= min_size (2) <= desired_size (2) <= "
            "max_size (1)",
        ),
        (
            {"admin_role_arns": (ADMIN_ROLE, ADMIN_ROLE)},
            f"admin_role_arns: roles repeat: ['{ADMIN_ROLE}', '{ADMIN_ROLE}']",
        ),
    ],
)
def test_invalid_inputs_are_refused_with_every_error(changes: dict[str, Any], message: str) -> None:
    # given invalid inputs / when the args are built / then one error names each problem
    with pytest.raises(ValueError) as raised:
        cluster_args(**changes)
    assert str(raised.value) == f"Invalid EKS cluster: {message}"
