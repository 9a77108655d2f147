"""GpuCompute over the real stack files, for dev and prod.

given a stack file run under the recording mock runtime / when the gpu layer's resources are read /
then the launch template and the Auto Scaling group follow the platform's rules: a deep-learning
AMI found by filter, IMDSv2, encrypted EBS with the platform key, no public IP, no SSH key, SSM
access, mixed instances with capacity-optimized spot, and the sizes the stack asks for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from components.shared.spec_rules import GPU_FAMILIES
from stacks.offline.mock_runtime import MOCK_ACCOUNT_ID, RecordedResource
from tests.conftest import Plan, stack_config, stack_file, with_section

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
GROUP = "aws:autoscaling/group:Group"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
PROFILE = "aws:iam/instanceProfile:InstanceProfile"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
SERVICE_LINKED_ROLE = "aws:iam/serviceLinkedRole:ServiceLinkedRole"
GRANT = "aws:kms/grant:Grant"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


@pytest.fixture
def gpu(plan: Plan) -> Plan:
    """The gpu layer of each stack."""
    return plan.layer("gpu")


def gpu_section(stack: str) -> dict[str, Any]:
    return stack_file(stack)["ml-platform:gpu"]


def one(plan: Plan, type_: str) -> RecordedResource:
    (resource,) = plan.of_type(type_)
    return resource


def test_launch_template_uses_the_deep_learning_ami_found_by_filter(gpu: Plan) -> None:
    # given the gpu layer's launch template
    template = one(gpu, LAUNCH_TEMPLATE)
    # when its image is read
    image = template.inputs["imageId"]
    # then it is the AMI the (mocked) look-up returned for the configured name filter
    assert image.startswith("ami-")
    assert gpu.run.exports["gpu"]["ami_id"] == image


def test_launch_template_requires_imdsv2_and_no_public_ip_and_no_ssh_key(gpu: Plan) -> None:
    # given the launch template
    inputs = one(gpu, LAUNCH_TEMPLATE).inputs
    # when its metadata and network settings are read
    metadata, (interface,) = inputs["metadataOptions"], inputs["networkInterfaces"]
    # then IMDSv2 tokens are required, no public address is assigned and no key pair is named
    assert metadata["httpTokens"] == "required"
    assert metadata["httpEndpoint"] == "enabled"
    assert metadata["httpPutResponseHopLimit"] <= 2
    assert interface["associatePublicIpAddress"] == "false"
    assert "keyName" not in inputs


def test_root_volume_is_encrypted_with_the_platform_key(gpu: Plan, plan: Plan) -> None:
    # given the launch template and the platform key
    inputs = one(gpu, LAUNCH_TEMPLATE).inputs
    key_arn = plan.run.exports["data"]["kms_key_arn"]
    # when its block devices are read
    (device,) = inputs["blockDeviceMappings"]
    # then the root device of the AMI is encrypted with the key at the configured size
    assert device["deviceName"] == "/dev/sda1"
    assert device["ebs"]["encrypted"] == "true"
    assert device["ebs"]["kmsKeyId"] == key_arn
    assert device["ebs"]["volumeSize"] == gpu_section(plan.run.stack)["root_volume_size_gb"]


def test_auto_scaling_can_use_the_key_through_its_own_service_linked_role(
    gpu: Plan, plan: Plan
) -> None:
    # given the group, its service-linked role and the KMS grant
    group, role, grant = one(gpu, GROUP), one(gpu, SERVICE_LINKED_ROLE), one(gpu, GRANT)
    role_arn = (
        f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/aws-service-role/autoscaling.amazonaws.com/"
        f"AWSServiceRoleForAutoScaling_{role.inputs['customSuffix']}"
    )
    # when they are compared
    # then the group launches through that role, which the grant lets encrypt volumes
    assert role.inputs["awsServiceName"] == "autoscaling.amazonaws.com"
    assert group.inputs["serviceLinkedRoleArn"] == role_arn
    assert grant.inputs["granteePrincipal"] == role_arn
    assert grant.inputs["keyId"] == plan.run.exports["data"]["kms_key_arn"]
    assert {"Encrypt", "Decrypt", "GenerateDataKeyWithoutPlaintext", "CreateGrant"} <= set(
        grant.inputs["operations"]
    )
    assert grant.urn in group.depends_on


def test_group_mixes_the_configured_gpu_types_with_capacity_optimized_spot(gpu: Plan) -> None:
    # given the group and the stack's gpu section
    inputs = one(gpu, GROUP).inputs
    section = gpu_section(gpu.run.stack)
    policy = inputs["mixedInstancesPolicy"]
    # when its mixed-instances policy is read
    types = [override["instanceType"] for override in policy["launchTemplate"]["overrides"]]
    distribution = policy["instancesDistribution"]
    # then every configured type is a GPU type, spot is capacity-optimized, on-demand as configured
    assert types == section["instance_types"]
    assert all(name.split(".")[0] in GPU_FAMILIES for name in types)
    assert distribution["spotAllocationStrategy"] == "capacity-optimized"
    assert distribution["onDemandBaseCapacity"] == section.get("on_demand_base_capacity", 0)
    assert (
        distribution["onDemandPercentageAboveBaseCapacity"]
        == (section["on_demand_percentage_above_base"])
    )
    assert inputs["capacityRebalance"] is True


def test_group_sizes_follow_the_stack_and_dev_scales_to_zero(gpu: Plan) -> None:
    # given the group and the stack's section
    inputs, section = one(gpu, GROUP).inputs, gpu_section(gpu.run.stack)
    # when its sizes are read
    # then they are the configured ones; dev's minimum is 0
    assert (inputs["minSize"], inputs["maxSize"]) == (section["min_size"], section["max_size"])
    if gpu.run.stack == "dev":
        assert inputs["minSize"] == 0


def test_group_lives_in_the_private_subnets_and_follows_the_latest_template(
    gpu: Plan, plan: Plan
) -> None:
    # given the group, the template and the data layer's subnets
    inputs, template = one(gpu, GROUP).inputs, one(gpu, LAUNCH_TEMPLATE)
    # when the group's placement and template are read
    spec = inputs["mixedInstancesPolicy"]["launchTemplate"]["launchTemplateSpecification"]
    # then it uses the private subnets and the template's newest version, refreshed on change
    assert inputs["vpcZoneIdentifiers"] == plan.run.exports["data"]["subnet_ids"]
    assert spec["launchTemplateId"].startswith("lt-")
    assert template.outputs["latestVersion"] == 1
    assert spec["version"] == "1"
    assert inputs["instanceRefresh"]["strategy"] == "Rolling"


def test_instances_reach_ssm_through_interface_endpoints(gpu: Plan) -> None:
    # given the gpu layer's endpoints
    services = {
        endpoint.inputs["serviceName"].rsplit(".", 1)[1]: endpoint.inputs
        for endpoint in gpu.of_type(ENDPOINT)
    }
    # when their kinds are read
    # then SSM Session Manager works without internet: ssm, ssmmessages, ec2messages, private DNS
    assert set(services) == {"ssm", "ssmmessages", "ec2messages"}
    assert all(inputs["vpcEndpointType"] == "Interface" for inputs in services.values())
    assert all(inputs["privateDnsEnabled"] is True for inputs in services.values())


def test_instance_role_has_ssm_core_and_a_scoped_policy_without_wildcard_actions(
    gpu: Plan, plan: Plan
) -> None:
    # given the instance role, its attachment, its policy and its instance profile
    role, attachment = one(gpu, ROLE), one(gpu, ATTACHMENT)
    policy = json.loads(one(gpu, ROLE_POLICY).inputs["policy"])
    # when they are read
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    statements = policy["Statement"]
    # then EC2 assumes it, SSM core is attached, no action has a wildcard, "*" only for ECR login
    assert trust["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    assert one(gpu, PROFILE).inputs["role"] == role.outputs["name"]
    actions = [
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert not [action for action in actions if "*" in action]
    wildcard_resources = [s["Action"] for s in statements if s["Resource"] == "*"]
    assert wildcard_resources == ["ecr:GetAuthorizationToken"]
    buckets = plan.run.exports["data"]["bucket_arns"]
    resources = json.dumps(statements)
    assert buckets["processed"] in resources and buckets["experiments"] in resources
    assert buckets["raw"] not in resources


def test_security_group_allows_only_https_out_and_peers(gpu: Plan) -> None:
    # given the instances' security group rules
    egress, ingress = gpu.of_type(EGRESS), gpu.of_type(INGRESS)
    # when they are read
    # then inbound traffic comes only from peers; outbound is HTTPS to endpoints and S3, or peers
    assert [rule.inputs.get("referencedSecurityGroupId") for rule in ingress] == [
        ingress[0].inputs["securityGroupId"]
    ]
    for rule in egress:
        peers = rule.inputs.get("referencedSecurityGroupId") == rule.inputs["securityGroupId"]
        assert peers or (rule.inputs["ipProtocol"], rule.inputs["fromPort"]) == ("tcp", 443)
        assert "cidrIpv4" not in rule.inputs


def test_gpu_config_errors_name_the_field(run_stack: Callable[[str, dict[str, str]], Plan]) -> None:
    # given dev's config with a CPU instance type and inverted bounds
    flat = with_section(
        stack_config("dev"),
        "gpu",
        {"instance_types": ["m5.large", "g5.xlarge"], "min_size": 3, "max_size": 2},
    )
    # when the program runs
    with pytest.raises(Exception) as raised:
        run_stack("dev", flat)
    # then every problem is reported at its path, before any resource exists
    message = str(raised.value)
    assert "gpu.instance_types: not GPU instance types: m5.large (GPU families:" in message
    assert "gpu.max_size: must be >= min_size (3)" in message
