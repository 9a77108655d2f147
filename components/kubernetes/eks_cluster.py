"""EksCluster: a private EKS cluster in the platform's VPC, ready for the Kubernetes components.

* The API endpoint is private (reachable from the VPC, whose CIDR the cluster security group
  admits on 443); a public endpoint is opt-in and then limited to the given CIDRs.
* Kubernetes secrets are envelope-encrypted with the platform key; all five control-plane log
  types go to a KMS-encrypted log group created before the cluster (otherwise EKS creates an
  unencrypted one with no retention). The log group follows the stack's retention; the cluster
  itself holds no data and is destroyed with the stack.
* Access is through EKS access entries only (``authentication_mode="API"``, no ``aws-auth``
  ConfigMap): the deployer as creator, plus cluster-admin for the configured roles.
* An IAM OIDC provider for the cluster's issuer backs the service-account roles (IRSA); the
  VPC CNI and the EBS CSI driver run with their own roles, so the node role has neither the CNI
  nor the EBS policy and pods never get to use it: the launch templates require IMDSv2 with a
  hop limit of 1, which keeps pods off the instance metadata service.
* Both managed node groups run Bottlerocket. **GPU device plugin:** the GPU group uses AMI type
  ``BOTTLEROCKET_x86_64_NVIDIA``, whose OS image ships the NVIDIA driver *and* the NVIDIA
  Kubernetes device plugin (a host service advertising ``nvidia.com/gpu``), so no privileged
  device-plugin DaemonSet (or GPU operator) runs in the cluster. GPU nodes carry the taint
  ``nvidia.com/gpu=true:NoSchedule`` and the platform's GPU label, and may be spot.
* Bottlerocket has two volumes: ``/dev/xvda`` (the read-only OS) and ``/dev/xvdb`` (images,
  container storage); the launch templates encrypt both with the platform key and size the
  data volume (https://github.com/bottlerocket-os/bottlerocket#default-volumes).
* Managed add-ons: vpc-cni (network policy enforcement on) and kube-proxy before the nodes (a
  node only turns Ready once the CNI runs; EKS installs no self-managed add-ons here), coredns
  and the EBS CSI driver after them (their Deployments need nodes). Add-on versions are EKS's
  defaults for the cluster version.
* The interface endpoints a private cluster needs beyond the data layer's: ec2 (CNI and EBS
  CSI), eks, eks-auth, elasticloadbalancing.
* A default StorageClass ``gp3-encrypted``: gp3 volumes encrypted with the platform key,
  retained after their claim is deleted when the stack retains data.

The parts live beside this module as plain functions: ``control_plane`` (log group, cluster,
API access, provider), ``cluster_identity`` (roles, OIDC issuer, access entries),
``node_groups`` and ``cluster_addons``. They create their resources as children of this
component (not of components of their own), so every resource keeps its URN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.kubernetes import cluster_identity as identity
from components.kubernetes.cluster_access import ClusterAccess
from components.kubernetes.cluster_addons import (
    EBS_CSI_CONFIGURATION,
    STORAGE_CLASS,
    VPC_CNI_CONFIGURATION,
    default_storage_class,
    managed_addon,
)
from components.kubernetes.control_plane import (
    cluster_provider,
    control_plane,
    private_api_access,
)
from components.kubernetes.node_groups import node_groups
from components.kubernetes.spec import EksClusterConfig
from components.platform import PlatformContext


@dataclass(frozen=True)
class EksClusterArgs:
    """What an EksCluster is built from: its config section, the platform, and the render mode."""

    spec: EksClusterConfig
    """The ``kubernetes.cluster.eks`` section: version, node groups, admins, public access."""
    platform: PlatformContext
    """The platform the cluster joins: its VPC and subnets, key, account, retention, logs."""
    render_to: str | None = None
    """Render the Kubernetes objects to this folder instead of applying them."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on top of the provider's default tags (node instances and volumes get them too)."""

    def __post_init__(self) -> None:
        # Node groups and public CIDRs are the config section's rules (checked there, once).
        # Not a config rule: a repeated role would name two access entries alike.
        roles = list(self.spec.admin_role_arns)
        if len(set(roles)) != len(roles):
            raise ValueError(f"Invalid EKS cluster: admin_role_arns: roles repeat: {roles}")

    @property
    def cluster_name(self) -> str:
        """The cluster's name, ``mlp-<environment>``.

        Fixed, so its log group's name is known before the cluster exists.
        """
        return f"mlp-{self.platform.environment}"


class EksCluster(pulumi.ComponentResource):
    """A private, encrypted EKS cluster with system and GPU node groups, add-ons and storage."""

    access: ClusterAccess
    """What the Kubernetes components need: provider, OIDC provider, storage class, readiness."""
    cluster_name: pulumi.Output[str]
    """The cluster's name."""
    endpoint: pulumi.Output[str]
    """The API server's URL."""
    oidc_provider_arn: pulumi.Output[str]
    """The IAM OIDC provider of the cluster's service-account issuer."""
    node_group_names: list[pulumi.Output[str]]
    """The managed node groups (system first, then GPU)."""

    def __init__(
        self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlplatform:kubernetes:EksCluster", name, None, opts)
        prefix = f"{args.cluster_name}-eks"

        cluster = control_plane(prefix, args, identity.cluster_role(prefix, args, self), self)
        identity.grant_cluster_admin(prefix, args, cluster)
        private_api_access(prefix, args, cluster, self)
        issuer = identity.service_account_issuer(prefix, args, cluster)

        # The network add-ons come before the nodes: a node turns Ready only once the CNI runs.
        vpc_cni_role = identity.vpc_cni_role(prefix, args, issuer, self)
        vpc_cni = managed_addon(
            prefix,
            "vpc-cni",
            args,
            cluster,
            vpc_cni_role.policies,
            vpc_cni_role,
            VPC_CNI_CONFIGURATION,
        )
        kube_proxy = managed_addon(prefix, "kube-proxy", args, cluster, [])
        nodes = identity.node_role(prefix, args, self)
        groups = node_groups(prefix, args, cluster, nodes, [vpc_cni, kube_proxy], self)

        # coredns and the EBS CSI driver run as Deployments: they need nodes.
        coredns = managed_addon(prefix, "coredns", args, cluster, groups)
        ebs_csi_role = identity.ebs_csi_role(prefix, args, issuer, self)
        ebs_csi = managed_addon(
            prefix,
            "aws-ebs-csi-driver",
            args,
            cluster,
            [*groups, *ebs_csi_role.policies],
            ebs_csi_role,
            EBS_CSI_CONFIGURATION,
        )
        provider = cluster_provider(prefix, args, cluster, self)
        storage_class = default_storage_class(prefix, args, provider, ebs_csi, self)

        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.oidc_provider_arn = issuer.provider.arn
        self.node_group_names = [group.node_group_name for group in groups]
        self.access = ClusterAccess(
            provider=provider,
            oidc_provider_arn=issuer.provider.arn,
            oidc_issuer=issuer.issuer,
            storage_class=STORAGE_CLASS,
            rendering=bool(args.render_to),
            ready=[*groups, vpc_cni, kube_proxy, coredns, ebs_csi, storage_class],
        )
        self.register_outputs(self.exports())

    def exports(self) -> dict[str, Any]:
        """The stack outputs of the cluster."""
        return {
            "cluster_name": self.cluster_name,
            "endpoint": self.endpoint,
            "oidc_provider_arn": self.oidc_provider_arn,
            "node_group_names": self.node_group_names,
        }
