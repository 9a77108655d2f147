"""EksCluster under the recording mock runtime: what holds for the whole cluster.

given an EksCluster built with the platform's usual inputs / when its recorded resources are
read / then every AWS resource uses the stack's provider; and given invalid inputs / when the
args are built / then one error names every problem; and given bad public CIDRs or node groups /
when the config section is validated / then the section refuses them (its rules, checked once
there). Each part of the cluster has its own test file (test_control_plane,
test_cluster_identity, test_node_groups, test_cluster_addons).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from components.kubernetes.spec import EksClusterConfig
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


def section_errors(section: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """Where and why the ``kubernetes.cluster.eks`` section refuses ``section`` (as a stack's)."""
    with pytest.raises(ValidationError) as raised:
        EksClusterConfig.model_validate_json(json.dumps(section))
    return [(error["loc"], error["msg"]) for error in raised.value.errors()]


def test_the_section_refuses_a_public_cidr_open_to_the_whole_internet() -> None:
    # given 0.0.0.0/0 as a public access CIDR / when the section is validated / then it is refused
    assert section_errors({"public_access_cidrs": ["0.0.0.0/0"]}) == [
        (
            ("public_access_cidrs",),
            "Value error, '0.0.0.0/0' opens the API to the whole internet",
        )
    ]


def test_the_section_refuses_a_public_cidr_that_is_not_a_cidr_block() -> None:
    # given a public access CIDR that is no CIDR / when the section is validated / then refused
    assert section_errors({"public_access_cidrs": ["nope"]}) == [
        (("public_access_cidrs",), "Value error, 'nope' is not a CIDR block")
    ]


def test_the_section_refuses_a_node_group_without_types_or_with_max_below_min() -> None:
    # given a node group with no instance types and max_size below min_size
    group = {"instance_types": [], "min_size": 2, "max_size": 1, "desired_size": 2}
    # when the section is validated / then both fields of the group are refused
    assert section_errors({"system_nodes": {**group, "disk_size_gb": 50}}) == [
        (("system_nodes", "instance_types"), "Value error, at least one instance type is required"),
        (("system_nodes", "max_size"), "Value error, must be >= min_size (2)"),
    ]
