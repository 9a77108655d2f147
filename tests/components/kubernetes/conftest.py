"""The EksCluster runs that its part tests share, each stack's cluster built once.

The parts' tests (test_control_plane, test_cluster_identity, test_node_groups,
test_cluster_addons, test_eks_cluster) read the same two clusters.
"""

from __future__ import annotations

import pytest

from stacks.offline.mock_runtime import PlanRun
from tests.components.kubernetes.eks_runs import dev_run, prod_run


@pytest.fixture(scope="session")
def dev() -> PlanRun:
    """The EksCluster with defaults: private, nothing retained, spot GPU nodes."""
    return dev_run()


@pytest.fixture(scope="session")
def prod() -> PlanRun:
    """The EksCluster with retained data, a public API to one range, on-demand GPUs, an admin."""
    return prod_run()
