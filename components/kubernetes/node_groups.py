"""An EKS cluster's managed node groups: Bottlerocket system nodes and, optionally, GPU nodes.

* **GPU device plugin:** the GPU group uses AMI type ``BOTTLEROCKET_x86_64_NVIDIA``, whose OS
  image ships the NVIDIA driver *and* the NVIDIA Kubernetes device plugin (a host service
  advertising ``nvidia.com/gpu``), so no privileged device-plugin DaemonSet (or GPU operator)
  runs in the cluster. GPU nodes carry the taint ``nvidia.com/gpu=true:NoSchedule`` and the
  platform's GPU label, and may be spot.
* Bottlerocket has two volumes: ``/dev/xvda`` (the read-only OS) and ``/dev/xvdb`` (images,
  container storage); the launch templates encrypt both with the platform key and size the
  data volume (https://github.com/bottlerocket-os/bottlerocket#default-volumes).
* The launch templates require IMDSv2 with a hop limit of 1, which keeps pods off the instance
  metadata service (and so off the node role).

Every function creates its resources as children of the cluster component, so their URNs are
the ones the single constructor gave them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from components.kubernetes.cluster_identity import ReadyRole
from components.kubernetes.pod_security import GPU_NODE_LABEL, GPU_TAINT_KEY
from components.kubernetes.spec import NodeGroupConfig
from components.shared import iam_policies

if TYPE_CHECKING:
    # eks_cluster imports this module; its args are only a type here.
    from components.kubernetes.eks_cluster import EksClusterArgs

#: AMI types of the node groups (Bottlerocket; the NVIDIA variant has driver and device plugin).
SYSTEM_AMI_TYPE = "BOTTLEROCKET_x86_64"
GPU_AMI_TYPE = "BOTTLEROCKET_x86_64_NVIDIA"

#: Bottlerocket's OS volume and its data volume (images, container storage, logs).
OS_DEVICE = "/dev/xvda"
DATA_DEVICE = "/dev/xvdb"

#: The taint value and EKS's spelling of NoSchedule on GPU nodes.
GPU_TAINT_VALUE = "true"
GPU_TAINT_EFFECT = "NO_SCHEDULE"


@dataclass(frozen=True)
class NodePool:
    """What sets one managed node group apart: its size, OS image, capacity and scheduling."""

    group: str
    """The group's label, the last part of its resource names (``system``, ``gpu``)."""
    spec: NodeGroupConfig
    """Instances and sizes (the node group's config section)."""
    ami_type: str
    """EKS's AMI type (Bottlerocket, plain or NVIDIA)."""
    capacity_type: str
    """``ON_DEMAND`` or ``SPOT``."""
    labels: dict[str, str]
    """Kubernetes labels of the nodes."""
    taints: list[aws.eks.NodeGroupTaintArgs] | None = None
    """Taints of the nodes; None: none."""


def node_pools(args: EksClusterArgs) -> list[NodePool]:
    """The system pool (always on-demand, untainted), then the GPU pool if the spec has one."""
    pools = [
        NodePool(
            "system",
            args.spec.system_nodes,
            SYSTEM_AMI_TYPE,
            "ON_DEMAND",
            {"ml-platform/pool": "system"},
        )
    ]
    if args.spec.gpu_nodes is not None:
        pools.append(
            NodePool(
                "gpu",
                args.spec.gpu_nodes,
                GPU_AMI_TYPE,
                "SPOT" if args.spec.gpu_nodes.spot else "ON_DEMAND",
                {"ml-platform/pool": "gpu", GPU_NODE_LABEL[0]: GPU_NODE_LABEL[1]},
                [
                    aws.eks.NodeGroupTaintArgs(
                        key=GPU_TAINT_KEY, value=GPU_TAINT_VALUE, effect=GPU_TAINT_EFFECT
                    )
                ],
            )
        )
    return pools


def node_groups(
    prefix: str,
    args: EksClusterArgs,
    cluster: aws.eks.Cluster,
    role: ReadyRole,
    network_addons: Sequence[pulumi.Resource],
    parent: pulumi.Resource,
) -> list[aws.eks.NodeGroup]:
    """One managed node group per pool of :func:`node_pools`, each with its launch template.

    The groups wait for ``network_addons`` (a node turns Ready only once the CNI runs on it),
    the key grant below and ``role``'s policies.
    """
    # Managed node groups launch through EC2 Auto Scaling's default service-linked role; it
    # needs the key for the encrypted volumes (without the grant, instances fail to launch
    # with Client.InternalError).
    autoscaling_grant = aws.kms.Grant(
        f"{prefix}-autoscaling-volumes",
        key_id=args.platform.kms_key_arn,
        grantee_principal=pulumi.Output.all(
            args.platform.partition, args.platform.account_id
        ).apply(
            lambda values: (
                f"arn:{values[0]}:iam::{values[1]}:role/aws-service-role/"
                "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
            )
        ),
        operations=list(iam_policies.VOLUME_KEY_OPERATIONS),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    depends_on = [*network_addons, autoscaling_grant, *role.policies]
    return [
        _node_group(f"{prefix}-{pool.group}", pool, args, cluster, role, depends_on, parent)
        for pool in node_pools(args)
    ]


def _node_group(
    name: str,
    pool: NodePool,
    args: EksClusterArgs,
    cluster: aws.eks.Cluster,
    role: ReadyRole,
    depends_on: list[pulumi.Resource],
    parent: pulumi.Resource,
) -> aws.eks.NodeGroup:
    """The managed node group ``name`` of ``pool``, with its own launch template."""
    spec = pool.spec
    template = node_launch_template(
        name, spec, args.platform.kms_key_arn, args.tags, pulumi.ResourceOptions(parent=parent)
    )
    return aws.eks.NodeGroup(
        name,
        cluster_name=cluster.name,
        node_role_arn=role.role.arn,
        subnet_ids=args.platform.subnet_ids,
        ami_type=pool.ami_type,
        capacity_type=pool.capacity_type,
        instance_types=list(spec.instance_types),
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(
            min_size=spec.min_size,
            max_size=spec.max_size,
            desired_size=spec.initial_size,
        ),
        launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
            id=template.id, version=template.latest_version.apply(str)
        ),
        labels=pool.labels,
        taints=pool.taints,
        update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
        tags=args.tags,
        opts=pulumi.ResourceOptions(
            parent=parent,
            depends_on=list(depends_on),
            # Sized at creation only; afterwards the autoscaler (or an operator) owns it.
            ignore_changes=["scalingConfig.desiredSize"],
        ),
    )


def node_launch_template(
    name: str,
    spec: NodeGroupConfig,
    kms_key_arn: pulumi.Input[str],
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.ec2.LaunchTemplate:
    """A node group's launch template: IMDSv2 with hop limit 1, both volumes encrypted.

    No AMI, user data or network interfaces: EKS fills those in from the node group's AMI type
    (a template that sets them would make the group self-managed in all but name).
    """

    def volume(size: int | None) -> aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs:
        return aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
            volume_type="gp3",
            volume_size=size,
            encrypted="true",
            kms_key_id=kms_key_arn,
            delete_on_termination="true",
        )

    return aws.ec2.LaunchTemplate(
        name,
        description="EKS nodes: IMDSv2 only, hop limit 1, volumes encrypted with the platform key",
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled",
            http_tokens="required",
            # One hop: the node's own processes reach the metadata service, pods (one network
            # hop further) do not, so they can never use the node role's credentials.
            http_put_response_hop_limit=1,
        ),
        block_device_mappings=[
            # The OS volume keeps the AMI's size (Bottlerocket's OS image is read-only).
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(device_name=OS_DEVICE, ebs=volume(None)),
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name=DATA_DEVICE, ebs=volume(spec.disk_size_gb)
            ),
        ],
        tag_specifications=[
            aws.ec2.LaunchTemplateTagSpecificationArgs(
                resource_type=kind, tags={"Name": name, **tags}
            )
            for kind in ("instance", "volume")
        ],
        update_default_version=True,
        tags=tags,
        opts=opts,
    )
