"""An EKS cluster's identities under the recording mock runtime.

given an EksCluster (dev: no admin roles; prod: one) / when its roles, access entries and OIDC
provider are read / then access is through API entries with cluster-admin for the given roles,
the OIDC provider is the cluster's issuer, and the node role has no CNI or EBS permissions.
"""

from __future__ import annotations

from stacks.offline.mock_runtime import PlanRun
from tests.components.kubernetes.eks_runs import (
    ACCESS_ENTRY,
    ACCESS_POLICY,
    ADMIN_ROLE,
    ATTACHMENT,
    CLUSTER,
    OIDC,
    ROLE,
    named,
)
from tests.components.kubernetes.recorded import of_type, one


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
