"""An EKS cluster's managed add-ons and its default StorageClass.

* vpc-cni (network policy enforcement on) and kube-proxy come before the nodes (a node only
  turns Ready once the CNI runs; EKS installs no self-managed add-ons here), coredns and the EBS
  CSI driver after them (their Deployments need nodes). Add-on versions are EKS's defaults for
  the cluster version.
* A default StorageClass ``gp3-encrypted``: gp3 volumes encrypted with the platform key,
  retained after their claim is deleted when the stack retains data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.kubernetes.cluster_identity import ReadyRole

if TYPE_CHECKING:
    # eks_cluster imports this module; its args are only a type here.
    from components.kubernetes.eks_cluster import EksClusterArgs

#: The default StorageClass of a created cluster.
STORAGE_CLASS = "gp3-encrypted"

#: vpc-cni settings: enforce Kubernetes NetworkPolicies with the CNI's eBPF agent.
VPC_CNI_CONFIGURATION = {"enableNetworkPolicy": "true"}

#: EBS CSI settings: the node DaemonSet must run on the tainted GPU nodes too, or pods there
#: could not mount volumes.
EBS_CSI_CONFIGURATION = {"node": {"tolerateAllTaints": True}}


def managed_addon(
    prefix: str,
    addon_name: str,
    args: EksClusterArgs,
    cluster: aws.eks.Cluster,
    depends_on: Sequence[pulumi.Resource],
    role: ReadyRole | None = None,
    configuration: dict[str, Any] | None = None,
) -> aws.eks.Addon:
    """EKS's add-on ``addon_name`` at its default version, running as ``role`` if given.

    ``depends_on`` is what must exist first (``role``'s policies are not added: callers list
    them, in the order they need).
    """
    return aws.eks.Addon(
        f"{prefix}-{addon_name}",
        cluster_name=cluster.name,
        addon_name=addon_name,
        service_account_role_arn=role.role.arn if role else None,
        configuration_values=json.dumps(configuration) if configuration else None,
        # The stack owns the add-ons' settings: overwrite any drift EKS finds.
        resolve_conflicts_on_create="OVERWRITE",
        resolve_conflicts_on_update="OVERWRITE",
        tags=args.tags,
        opts=pulumi.ResourceOptions(parent=cluster, depends_on=list(depends_on)),
    )


def default_storage_class(
    prefix: str,
    args: EksClusterArgs,
    provider: k8s.Provider,
    ebs_csi: aws.eks.Addon,
    parent: pulumi.Resource,
) -> k8s.storage.v1.StorageClass:
    """The cluster's default StorageClass: encrypted gp3 through the EBS CSI driver."""
    return k8s.storage.v1.StorageClass(
        f"{prefix}-{STORAGE_CLASS}",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=STORAGE_CLASS,
            annotations={"storageclass.kubernetes.io/is-default-class": "true"},
        ),
        provisioner="ebs.csi.aws.com",
        parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": args.platform.kms_key_arn},
        # Bind where the pod lands: an EBS volume lives in one availability zone.
        volume_binding_mode="WaitForFirstConsumer",
        allow_volume_expansion=True,
        reclaim_policy="Retain" if args.platform.retention.retain else "Delete",
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=[ebs_csi]),
    )
