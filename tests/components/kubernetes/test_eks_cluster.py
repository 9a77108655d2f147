"""EksCluster under the recording mock runtime: what holds for the whole cluster.

given an EksCluster built with the platform's usual inputs / when its recorded resources are
read / then every AWS resource uses the stack's provider; and given invalid inputs / when the
args are built / then one error names every problem. Each part of the cluster has its own test
file (test_control_plane, test_cluster_identity, test_node_groups, test_cluster_addons).
"""

from __future__ import annotations

from typing import Any

import pytest

from components.kubernetes.spec import NodeGroupConfig
from stacks.offline.mock_runtime import PlanRun
from tests.components.kubernetes.eks_runs import (
    ADMIN_ROLE,
    cluster_args,
)


def test_every_aws_resource_has_the_explicit_provider(dev: PlanRun) -> None:
    # given every AWS resource / when its provider is read / then it is the stack's
    for resource in dev.resources:
        if resource.type.startswith("aws:"):
            assert resource.provider and resource.provider.endswith("::aws"), resource.name


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"public_access_cidrs": ("0.0.0.0/0",)},
            "public_access_cidrs: '0.0.0.0/0' opens the API to the internet",
        ),
        ({"public_access_cidrs": ("nope",)}, "public_access_cidrs: 'nope' is not a CIDR block"),
        (
            {
                "system_nodes": NodeGroupConfig.model_construct(
                    instance_types=(), min_size=2, max_size=1, desired_size=2, disk_size_gb=50
                )
            },
            "system_nodes.instance_types: at least one instance type is required; "
            "system_nodes: sizes must satisfy 0 <= min_size (2) <= desired_size (2) <= "
            "max_size (1)",
        ),
        (
            {"admin_role_arns": (ADMIN_ROLE, ADMIN_ROLE)},
            f"admin_role_arns: roles repeat: ['{ADMIN_ROLE}', '{ADMIN_ROLE}']",
        ),
    ],
)
def test_invalid_inputs_are_refused_with_every_error(changes: dict[str, Any], message: str) -> None:
    # given invalid inputs / when the args are built / then one error names each problem
    with pytest.raises(ValueError) as raised:
        cluster_args(**changes)
    assert str(raised.value) == f"Invalid EKS cluster: {message}"
