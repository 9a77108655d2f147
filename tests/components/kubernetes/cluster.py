"""The cluster the Kubernetes component tests deploy to: a mock provider and an OIDC issuer.

``run_on_cluster`` builds a component on it under the mocks, as a stack's layer would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.kubernetes.cluster_access import ClusterAccess
from stacks.offline.mock_runtime import PlanRun, run_offline

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


def run_on_cluster(
    build: Callable[[ClusterAccess, pulumi.ResourceOptions], Mapping[str, Any]],
) -> PlanRun:
    """Run ``build`` as the program of a dev stack in us-east-1 under the mocks.

    ``build`` gets a mock cluster and options naming an AWS provider of that region, creates
    the component and returns what the program exports.
    """

    def program() -> dict[str, Any]:
        provider = aws.Provider("aws", region="us-east-1")
        return dict(build(mock_cluster(), pulumi.ResourceOptions(providers={"aws": provider})))

    return run_offline("dev", {"aws:region": "us-east-1"}, program)
