"""An EKS cluster's add-ons and default StorageClass under the recording mock runtime.

given an EksCluster (dev: nothing retained; prod: data retained) / when its add-ons and
StorageClass are read / then the VPC CNI enforces network policies with its own role, the CNI
and kube-proxy come before the nodes and coredns and the EBS CSI driver after them, the driver
has its own role with the key, and the StorageClass encrypts with the key and follows retention.
"""

from __future__ import annotations

import json

from stacks.offline.mock_runtime import PlanRun
from tests.components.kubernetes.eks_runs import (
    ADDON,
    ATTACHMENT,
    KEY_ARN,
    NODE_GROUP,
    ROLE,
    STORAGE_CLASS,
    named,
)
from tests.components.kubernetes.recorded import of_type, one


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
