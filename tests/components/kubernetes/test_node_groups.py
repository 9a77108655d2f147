"""An EKS cluster's node groups under the recording mock runtime.

given an EksCluster (dev: spot GPU nodes; prod: on-demand GPU nodes; or no GPU spec) / when its
node groups and launch templates are read / then the GPU nodes are Bottlerocket NVIDIA, tainted
and labelled, the system nodes on-demand and untainted, and every group has its own launch
template that keeps pods off the metadata service and encrypts both volumes.
"""

from __future__ import annotations

from components.kubernetes.pod_security import GPU_NODE_LABEL, GPU_TAINT_KEY
from stacks.offline.mock_runtime import PlanRun
from tests.components.kubernetes.eks_runs import (
    KEY_ARN,
    LAUNCH_TEMPLATE,
    NODE_GROUP,
    cluster_args,
    named,
    run_cluster,
)
from tests.components.kubernetes.recorded import of_type


def test_gpu_nodes_are_bottlerocket_nvidia_tainted_labelled_and_spot(dev: PlanRun) -> None:
    # given the GPU node group of a spot configuration
    inputs = named(dev, NODE_GROUP, "-gpu").inputs
    # when its AMI, capacity, taints and labels are read
    # then Bottlerocket's NVIDIA variant (driver and device plugin) runs on spot, tainted
    # so only GPU pods land there, and labelled for their node selector
    assert inputs["amiType"] == "BOTTLEROCKET_x86_64_NVIDIA"
    assert inputs["capacityType"] == "SPOT"
    assert inputs["taints"] == [{"key": GPU_TAINT_KEY, "value": "true", "effect": "NO_SCHEDULE"}]
    assert inputs["labels"][GPU_NODE_LABEL[0]] == GPU_NODE_LABEL[1]
    assert inputs["instanceTypes"] == ["g5.xlarge", "g6.xlarge"]
    assert inputs["scalingConfig"] == {"minSize": 0, "maxSize": 2, "desiredSize": 0}


def test_on_demand_gpu_nodes_when_not_spot(prod: PlanRun) -> None:
    # given a GPU spec without spot / when its group is read / then it buys on-demand
    assert named(prod, NODE_GROUP, "-gpu").inputs["capacityType"] == "ON_DEMAND"


def test_system_nodes_are_on_demand_and_untainted(dev: PlanRun) -> None:
    # given the system node group
    inputs = named(dev, NODE_GROUP, "-system").inputs
    # when read
    # then it is on-demand Bottlerocket without the GPU taint or label
    assert inputs["capacityType"] == "ON_DEMAND"
    assert inputs["amiType"] == "BOTTLEROCKET_x86_64"
    assert "taints" not in inputs
    assert GPU_NODE_LABEL[0] not in inputs["labels"]
    assert "scalingConfig.desiredSize" in named(dev, NODE_GROUP, "-system").ignore_changes


def test_no_gpu_group_without_a_gpu_spec() -> None:
    # given a cluster without GPU nodes
    run = run_cluster(cluster_args(gpu_nodes=None))
    # when its node groups are listed
    # then only the system group exists
    assert [group.name for group in of_type(run, NODE_GROUP)] == ["mlp-dev-eks-system"]
    assert len(run.exports["node_group_names"]) == 1


def test_launch_templates_keep_pods_off_the_metadata_service(dev: PlanRun) -> None:
    # given both node groups' launch templates
    templates = of_type(dev, LAUNCH_TEMPLATE)
    # when their metadata options are read
    # then IMDSv2 tokens are required and one hop is allowed (the node, not its pods)
    assert len(templates) == 2
    for template in templates:
        metadata = template.inputs["metadataOptions"]
        assert metadata["httpTokens"] == "required"
        assert metadata["httpPutResponseHopLimit"] == 1
        assert metadata["httpEndpoint"] == "enabled"
        assert "imageId" not in template.inputs and "userData" not in template.inputs


def test_both_bottlerocket_volumes_are_encrypted_gp3(dev: PlanRun) -> None:
    # given the GPU group's launch template
    template = named(dev, LAUNCH_TEMPLATE, "-gpu")
    # when its block devices are read
    devices = {item["deviceName"]: item["ebs"] for item in template.inputs["blockDeviceMappings"]}
    # then the OS and data volumes are encrypted gp3 with the key, the data volume sized
    assert set(devices) == {"/dev/xvda", "/dev/xvdb"}
    for ebs in devices.values():
        assert ebs["encrypted"] == "true"
        assert ebs["kmsKeyId"] == KEY_ARN
        assert ebs["volumeType"] == "gp3"
    assert devices["/dev/xvdb"]["volumeSize"] == 100
    assert "volumeSize" not in devices["/dev/xvda"]


def test_node_groups_use_their_own_launch_templates(dev: PlanRun) -> None:
    # given each node group's launch template reference
    references = {
        group: named(dev, NODE_GROUP, f"-{group}").inputs["launchTemplate"]
        for group in ("system", "gpu")
    }
    # when read
    # then each names a launch template of its own at a concrete version, and no disk size
    # (which EKS refuses next to a launch template)
    assert all(reference["id"].startswith("lt-") for reference in references.values())
    assert references["system"]["id"] != references["gpu"]["id"]
    assert all(reference["version"] == "1" for reference in references.values())
    assert all("diskSize" not in group.inputs for group in of_type(dev, NODE_GROUP))
