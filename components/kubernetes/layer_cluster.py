"""The KubernetesLayer's cluster access: an EKS cluster it creates, or one that exists.

Either way the layer gets one :class:`~components.kubernetes.cluster_access.ClusterAccess`
whose Kubernetes provider applies every manifest or (``render_to``) writes it to a folder.
The function creates its resources as children of the layer component, so their URNs are the
ones the single constructor gave them.
"""

from __future__ import annotations

import os

import pulumi

from components.kubernetes.cluster_access import ClusterAccess
from components.kubernetes.eks_cluster import EksCluster, EksClusterArgs
from components.kubernetes.kubernetes_provider import kubernetes_provider
from components.kubernetes.spec import ClusterConfig
from components.platform import PlatformContext


def cluster_access(
    layer: pulumi.Resource, prefix: str, cluster: ClusterConfig, platform: PlatformContext
) -> tuple[EksCluster | None, ClusterAccess]:
    """Create the cluster ``cluster.eks`` asks for, or a provider for ``cluster.existing``.

    Returns the created cluster (None for an existing one) and the access to the cluster.
    """
    opts = pulumi.ResourceOptions(parent=layer)
    if cluster.eks is not None:
        eks = EksCluster(
            f"{prefix}-eks",
            EksClusterArgs(spec=cluster.eks, platform=platform, render_to=cluster.render_to),
            opts=opts,
        )
        return eks, eks.access
    existing = cluster.existing
    assert existing is not None  # ClusterConfig requires exactly one of eks and existing
    kubeconfig = os.path.expanduser(existing.kubeconfig) if existing.kubeconfig else None
    access = ClusterAccess(
        provider=kubernetes_provider(
            f"{prefix}-kubernetes", kubeconfig, cluster.render_to, opts, context=existing.context
        ),
        oidc_provider_arn=existing.oidc_provider_arn,
        oidc_issuer=existing.oidc_issuer,
        storage_class=existing.storage_class,
        rendering=bool(cluster.render_to),
    )
    return None, access
