"""The KubernetesLayer's cluster access: an EKS cluster it creates, or one that exists.

Either way the layer gets one :class:`~components.kubernetes.cluster_access.ClusterAccess`
whose Kubernetes provider applies every manifest or (``render_to``) writes it to a folder.
The function creates its resources as children of the layer component, so their URNs are the
ones the single constructor gave them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pulumi

from components.kubernetes.cluster_access import ClusterAccess
from components.kubernetes.eks_cluster import EksCluster, EksClusterArgs
from components.kubernetes.kubernetes_provider import kubernetes_provider

if TYPE_CHECKING:
    # kubernetes.layer imports this module; its args are only a type here.
    from components.kubernetes.layer import KubernetesLayerArgs


def cluster_access(
    layer: pulumi.Resource, prefix: str, args: KubernetesLayerArgs
) -> tuple[EksCluster | None, ClusterAccess]:
    """Create the cluster ``args.eks`` asks for, or a provider for ``args.existing``.

    Returns the created cluster (None for an existing one) and the access to the cluster.
    """
    opts = pulumi.ResourceOptions(parent=layer)
    if args.eks is not None:
        data, eks = args.platform, args.eks
        cluster = EksCluster(
            f"{prefix}-eks",
            EksClusterArgs(
                environment=args.environment,
                region=args.region,
                version=eks.version,
                vpc_id=data.vpc_id,
                vpc_cidr=args.vpc_cidr,
                subnet_ids=data.subnet_ids,
                endpoint_security_group_id=data.endpoint_security_group_id,
                kms_key_arn=data.kms_key_arn,
                log_retention_days=args.log_retention_days,
                system_nodes=eks.system_nodes,
                gpu_nodes=eks.gpu_nodes,
                admin_role_arns=eks.admin_role_arns,
                public_access_cidrs=eks.public_access_cidrs,
                account_id=data.account_id,
                partition=data.partition,
                retention=args.retention,
                render_to=args.render_to,
            ),
            opts=opts,
        )
        return cluster, cluster.access
    existing = args.existing
    assert existing is not None  # KubernetesLayerArgs.__post_init__ requires one of the two
    kubeconfig = os.path.expanduser(existing.kubeconfig) if existing.kubeconfig else None
    access = ClusterAccess(
        provider=kubernetes_provider(
            f"{prefix}-kubernetes", kubeconfig, args.render_to, opts, context=existing.context
        ),
        oidc_provider_arn=existing.oidc_provider_arn,
        oidc_issuer=existing.oidc_issuer,
        storage_class=existing.storage_class,
        rendering=bool(args.render_to),
    )
    return None, access
