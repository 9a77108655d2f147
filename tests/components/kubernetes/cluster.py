"""The cluster the Kubernetes component tests deploy to: a mock provider and an OIDC issuer."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components.kubernetes.cluster_access import ClusterAccess

#: An EKS cluster's service-account token issuer (host and path, as trust policies name it).
OIDC_ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/ABC"

#: The IAM OIDC provider of that issuer.
OIDC_PROVIDER_ARN = f"arn:aws:iam::123456789012:oidc-provider/{OIDC_ISSUER}"


def mock_cluster(rendering: bool = False, provider: k8s.Provider | None = None) -> ClusterAccess:
    """A ClusterAccess to build a component on (call inside a mocked program)."""
    return ClusterAccess(
        provider=provider or k8s.Provider("k8s"),
        oidc_provider_arn=OIDC_PROVIDER_ARN,
        oidc_issuer=OIDC_ISSUER,
        storage_class="gp3-encrypted",
        rendering=rendering,
    )
