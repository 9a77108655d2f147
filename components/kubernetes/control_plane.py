"""An EKS cluster's control plane: log group, cluster, private API access, Kubernetes provider.

* The API endpoint is private (reachable from the VPC, whose CIDR the cluster security group
  admits on 443); a public endpoint is opt-in and then limited to the given CIDRs.
* Kubernetes secrets are envelope-encrypted with the platform key; all five control-plane log
  types go to a KMS-encrypted log group created before the cluster (otherwise EKS creates an
  unencrypted one with no retention).
* The interface endpoints a private cluster needs beyond the data layer's: ec2 (CNI and EBS
  CSI), eks, eks-auth, elasticloadbalancing.

Every function creates its resources as children of the cluster component (or of the cluster),
so their URNs are the ones the single constructor gave them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.kubernetes.cluster_identity import ReadyRole
from components.kubernetes.kubernetes_provider import eks_kubeconfig, kubernetes_provider
from components.shared.vpc_endpoints import HTTPS, allow_tcp_port, interface_endpoints

if TYPE_CHECKING:
    # eks_cluster imports this module; its args are only a type here.
    from components.kubernetes.eks_cluster import EksClusterArgs

#: Control-plane logs sent to CloudWatch: all five EKS offers.
CLUSTER_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")

#: Interface endpoints nodes of a private cluster need that the data layer does not add
#: (https://docs.aws.amazon.com/eks/latest/userguide/private-clusters.html).
EKS_ENDPOINT_SERVICES = ("ec2", "eks", "eks-auth", "elasticloadbalancing")


def cluster_log_group_name(cluster_name: str) -> str:
    """The log group EKS writes control-plane logs to (its name is fixed by EKS)."""
    return f"/aws/eks/{cluster_name}/cluster"


def control_plane(
    prefix: str, args: EksClusterArgs, role: ReadyRole, parent: pulumi.Resource
) -> aws.eks.Cluster:
    """The cluster, after its encrypted log group and once ``role`` holds its policies."""
    # Created first, with the key and retention: EKS would otherwise create it on first
    # write, unencrypted and kept forever.
    log_group = aws.cloudwatch.LogGroup(
        f"{prefix}-control-plane-logs",
        name=cluster_log_group_name(args.cluster_name),
        kms_key_id=args.platform.kms_key_arn,
        retention_in_days=args.platform.log_retention_days,
        tags=args.tags,
        opts=args.platform.retention.stateful(parent),
    )
    public = bool(args.spec.public_access_cidrs)
    return aws.eks.Cluster(
        prefix,
        name=args.cluster_name,
        role_arn=role.role.arn,
        version=args.spec.version,
        vpc_config=aws.eks.ClusterVpcConfigArgs(
            subnet_ids=args.platform.subnet_ids,
            endpoint_private_access=True,
            endpoint_public_access=public,
            public_access_cidrs=list(args.spec.public_access_cidrs) if public else None,
        ),
        encryption_config=aws.eks.ClusterEncryptionConfigArgs(
            resources=["secrets"],
            provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=args.platform.kms_key_arn),
        ),
        enabled_cluster_log_types=list(CLUSTER_LOG_TYPES),
        access_config=aws.eks.ClusterAccessConfigArgs(
            authentication_mode="API",
            bootstrap_cluster_creator_admin_permissions=True,
        ),
        # The managed add-ons own vpc-cni, kube-proxy and coredns; self-managed copies would
        # run the CNI with the node role's permissions, which it does not have.
        bootstrap_self_managed_addons=False,
        tags=args.tags,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[log_group, *role.policies]),
    )


def private_api_access(
    prefix: str, args: EksClusterArgs, cluster: aws.eks.Cluster, parent: pulumi.Resource
) -> None:
    """The VPC may reach the private API on 443; the nodes reach the AWS APIs they need."""
    # Private API access from inside the VPC (nodes, VPN or bastions routed into it).
    allow_tcp_port(
        aws.vpc.SecurityGroupIngressRule,
        f"{prefix}-api-from-vpc",
        security_group_id=cluster.vpc_config.apply(lambda config: config.cluster_security_group_id),
        port=HTTPS,
        description="Kubernetes API over HTTPS from the VPC",
        opts=pulumi.ResourceOptions(parent=cluster),
        cidr_ipv4=args.platform.vpc_cidr,
    )
    interface_endpoints(
        prefix,
        EKS_ENDPOINT_SERVICES,
        region=args.platform.region,
        vpc_id=args.platform.vpc_id,
        subnet_ids=args.platform.subnet_ids,
        security_group_id=args.platform.endpoint_security_group_id,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def cluster_provider(
    prefix: str, args: EksClusterArgs, cluster: aws.eks.Cluster, parent: pulumi.Resource
) -> k8s.Provider:
    """The Kubernetes provider of the cluster (``aws eks get-token``), or a renderer."""
    region = args.platform.region
    kubeconfig = (
        None
        if args.render_to
        else pulumi.Output.all(cluster.name, cluster.endpoint, cluster.certificate_authority).apply(
            lambda values: eks_kubeconfig(values[0], values[1], values[2]["data"], region)
        )
    )
    return kubernetes_provider(
        f"{prefix}-kubernetes", kubeconfig, args.render_to, pulumi.ResourceOptions(parent=parent)
    )
