"""What every Kubernetes component needs from the cluster: its provider and its identity issuer.

The cluster is either created by the stack (:mod:`components.kubernetes.eks_cluster`) or one that
exists (a kubeconfig and its IAM OIDC provider); both end up as one :class:`ClusterAccess`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class ClusterAccess:
    """The cluster the Kubernetes components deploy to."""

    provider: k8s.Provider
    """The stack's Kubernetes provider (it applies, or renders to a folder)."""
    oidc_provider_arn: pulumi.Input[str]
    """The IAM OIDC provider of the cluster's service-account token issuer."""
    oidc_issuer: pulumi.Input[str]
    """The issuer without ``https://`` (``oidc.eks.<region>.amazonaws.com/id/<id>``): the
    prefix of the ``:sub`` and ``:aud`` condition keys in a service-account role's trust."""
    storage_class: str
    """The StorageClass of persistent volumes (encrypted gp3 on a created cluster)."""
    rendering: bool
    """True when the provider writes manifests to a folder instead of applying them."""
    ready: Sequence[pulumi.Resource] = field(default_factory=list)
    """Resources the workloads must wait for (node groups, operators, the storage class)."""

    def options(self, parent: pulumi.Resource, **extra: object) -> pulumi.ResourceOptions:
        """Options of a Kubernetes resource: this cluster's provider, after what must be ready."""
        depends_on = list(self.ready) + list(extra.pop("depends_on", None) or [])  # type: ignore[call-overload]
        return pulumi.ResourceOptions(
            parent=parent,
            provider=self.provider,
            depends_on=depends_on or None,
            **extra,  # type: ignore[arg-type]
        )
