"""EksCluster under the recording mock runtime: the inputs, runs and lookups its tests share.

The cluster's parts (control plane, identity, node groups, add-ons) are plain functions called
by the one component, so each part's tests build the whole cluster and read their resources.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.kubernetes.eks_cluster import EksCluster, EksClusterArgs
from components.kubernetes.spec import EksClusterConfig, GpuNodeGroupConfig, NodeGroupConfig
from components.platform import PlatformContext
from components.shared.retention import DataRetention
from stacks.offline.mock_runtime import MOCK_ACCOUNT_ID, PlanRun, RecordedResource, run_offline
from tests.components.kubernetes.recorded import of_type

REGION = "us-east-1"
KEY_ARN = f"arn:aws:kms:{REGION}:{MOCK_ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VPC_CIDR = "10.20.0.0/16"
ADMIN_ROLE = f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/platform-admins"

CLUSTER = "aws:eks/cluster:Cluster"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ADDON = "aws:eks/addon:Addon"
OIDC = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
ACCESS_POLICY = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
K8S_PROVIDER = "pulumi:providers:kubernetes"


#: The dev-like cluster section: default system nodes, spot GPU nodes of two types.
SPEC = {
    "version": "1.33",
    "system_nodes": NodeGroupConfig(
        instance_types=("m6i.large",), min_size=2, max_size=4, desired_size=2, disk_size_gb=50
    ),
    "gpu_nodes": GpuNodeGroupConfig(
        instance_types=("g5.xlarge", "g6.xlarge"),
        min_size=0,
        max_size=2,
        desired_size=0,
        disk_size_gb=100,
        spot=True,
    ),
}


def platform(**changes: Any) -> PlatformContext:
    """The dev-like platform the cluster joins, with ``changes`` applied."""
    values: dict[str, Any] = {
        "environment": "dev",
        "region": REGION,
        "retention": DataRetention(retain=False),
        "log_retention_days": 30,
        "vpc_cidr": VPC_CIDR,
        "account_id": MOCK_ACCOUNT_ID,
        "partition": "aws",
        "kms_key_arn": KEY_ARN,
        "buckets": {},
        "vpc_id": "vpc-0123456789abcdef0",
        "subnet_ids": ["subnet-0a", "subnet-0b"],
        "workload_security_group_id": "sg-0workloads",
        "endpoint_security_group_id": "sg-0endpoints",
        "s3_prefix_list_id": "pl-0s3",
        "log_group_arn": f"arn:aws:logs:{REGION}:{MOCK_ACCOUNT_ID}:log-group:/mlp/dev",
        "glue_database_name": "mlp_dev",
    }
    return PlatformContext(**{**values, **changes})


def cluster_args(**changes: Any) -> EksClusterArgs:
    """The dev-like inputs, with ``changes`` applied (to the section, the platform or the args).

    The section is built unchecked, so a test of invalid inputs sees the cluster's own checks.
    """
    spec_fields = {
        key: changes.pop(key) for key in list(changes) if key in EksClusterConfig.model_fields
    }
    args_fields = {key: changes.pop(key) for key in ("render_to", "tags") if key in changes}
    spec = EksClusterConfig.model_construct(**{**SPEC, **spec_fields})
    return EksClusterArgs(spec=spec, platform=platform(**changes), **args_fields)


def run_cluster(args: EksClusterArgs) -> PlanRun:
    """Build one EksCluster under the mocks, with an explicit AWS provider."""

    def program() -> dict[str, Any]:
        provider = aws.Provider("aws", region=REGION)
        cluster = EksCluster(
            "kubernetes", args, opts=pulumi.ResourceOptions(providers={"aws": provider})
        )
        return cluster.exports()

    return run_offline("dev", {"aws:region": REGION}, program)


def dev_run() -> PlanRun:
    """Defaults: private, nothing retained, spot GPU nodes."""
    return run_cluster(cluster_args())


def prod_run() -> PlanRun:
    """Retained data, public API to one range, on-demand GPU nodes, one admin role."""
    return run_cluster(
        cluster_args(
            environment="prod",
            retention=DataRetention(retain=True),
            public_access_cidrs=("203.0.113.0/24",),
            gpu_nodes=GpuNodeGroupConfig(
                instance_types=("g5.xlarge",),
                min_size=1,
                max_size=2,
                desired_size=1,
                disk_size_gb=100,
            ),
            admin_role_arns=(ADMIN_ROLE,),
        )
    )


def named(run: PlanRun, type_: str, suffix: str) -> RecordedResource:
    (resource,) = [r for r in of_type(run, type_) if r.name.endswith(suffix)]
    return resource
