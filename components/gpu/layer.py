"""GpuCompute: self-managed GPU instances for work outside SageMaker.

Distributed training with ``torchrun`` across machines, interactive GPU boxes reached through SSM
Session Manager: an Auto Scaling group of GPU instances in the platform's private VPC.

* The AMI is the newest AWS deep-learning AMI (NVIDIA driver, CUDA, Docker) matching a name
  filter, owned by Amazon: found at deploy time, so a new AMI rolls in with the next ``pulumi up``
  (the instance refresh replaces running instances gradually).
* The launch template requires IMDSv2, encrypts the root volume with the platform key, gives no
  public IP and names no SSH key pair: people connect through SSM, which the instance profile
  allows, over the SSM interface endpoints this component adds to the VPC (it has no internet).
* EC2 Auto Scaling launches the instances through its own service-linked role, which must be
  able to use the platform key for the encrypted volumes. The component creates a dedicated
  service-linked role and a KMS grant for it, rather than naming AWS's default role in the key
  policy (a key policy naming a role that does not exist yet is refused by KMS).
* The group mixes instance types (more spot pools, fewer interruptions) and buys spot with the
  capacity-optimized strategy above an optional on-demand base; its minimum may be 0 so an idle
  environment costs nothing.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.gpu.spec import GpuConfig
from components.platform import PlatformContext, PlatformLayer
from components.shared import iam_policies
from components.shared.service_role import service_role
from components.shared.vpc_endpoints import allow_aws_apis_and_peers

#: Interface endpoints SSM Session Manager needs in a VPC without internet access.
SSM_ENDPOINT_SERVICES = ("ssm", "ssmmessages", "ec2messages")

#: The AWS-managed policy that lets the SSM agent register and open sessions (AWS's own scoping).
SSM_MANAGED_POLICY = "policy/AmazonSSMManagedInstanceCore"

#: Accounts that publish the AWS deep-learning AMIs.
AMI_OWNERS = ("amazon",)

#: The bucket the instances read training data from, and the one they read and write
#: (checkpoints, runs), by purpose among the platform's buckets.
DATA_BUCKET, WORK_BUCKET = "processed", "experiments"


def instance_policy(
    partition: str,
    region: str,
    account_id: str,
    data_bucket_arn: str,
    work_bucket_arn: str,
    kms_key_arn: str,
    log_group_arn: str,
) -> str:
    """The GPU instances' own permissions: data in, checkpoints out, images, logs.

    ``ecr:GetAuthorizationToken`` has no resource scope in AWS; everything else names its
    resources. The key is usable only through S3 in this region.
    """
    return iam_policies.policy_json(
        {
            "Sid": "ReadTrainingData",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": [data_bucket_arn, f"{data_bucket_arn}/*"],
        },
        {
            "Sid": "ReadWriteExperiments",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
            "Resource": [work_bucket_arn, f"{work_bucket_arn}/*"],
        },
        {
            "Sid": "UsePlatformKeyThroughS3",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": kms_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
        },
        {
            "Sid": "EcrLogin",
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*",
        },
        {
            "Sid": "PullPlatformImages",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            ],
            "Resource": f"arn:{partition}:ecr:{region}:{account_id}:repository/ml-platform/*",
        },
        {
            "Sid": "WriteWorkloadLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [log_group_arn, f"{log_group_arn}:*"],
        },
    )


class GpuCompute(PlatformLayer[GpuConfig]):
    """GPU instances in an Auto Scaling group: DL AMI, IMDSv2, encrypted EBS, SSM, no public IP."""

    TYPE = "mlplatform:gpu:GpuCompute"

    launch_template_id: pulumi.Output[str]
    """The launch template every instance starts from."""
    auto_scaling_group_name: pulumi.Output[str]
    """The Auto Scaling group (scale it with ``aws autoscaling set-desired-capacity``)."""
    instance_role_arn: pulumi.Output[str]
    """The instances' IAM role."""
    security_group_id: pulumi.Output[str]
    """The instances' security group (all traffic among themselves, for NCCL)."""
    ami_id: pulumi.Output[str]
    """The deep-learning AMI the template uses."""

    def build(self, spec: GpuConfig, platform: PlatformContext) -> None:
        """Build the fleet the ``gpu`` section describes in ``platform``'s private VPC."""
        prefix = f"mlp-{platform.environment}-gpu"

        ami = _deep_learning_ami(self, spec)
        security_group = _instance_network(self, prefix, platform)
        role, profile = _instance_role(self, prefix, platform)
        template = _launch_template(self, prefix, spec, platform, ami, profile, security_group)
        scaling_role, volume_key_grant = _scaling_role(self, prefix, platform)
        group = _group(
            self, prefix, spec, platform, template, scaling_role, [profile, volume_key_grant]
        )

        self.launch_template_id = template.id
        self.auto_scaling_group_name = group.name
        self.instance_role_arn = role.arn
        self.security_group_id = security_group.id
        self.ami_id = ami.id

    def exports(self) -> dict[str, pulumi.Output]:
        """The layer's stack outputs."""
        return {
            "auto_scaling_group_name": self.auto_scaling_group_name,
            "launch_template_id": self.launch_template_id,
            "instance_role_arn": self.instance_role_arn,
            "security_group_id": self.security_group_id,
            "ami_id": self.ami_id,
        }


def _deep_learning_ami(parent: GpuCompute, spec: GpuConfig) -> pulumi.Output[aws.ec2.GetAmiResult]:
    """The newest Amazon-owned deep-learning AMI matching the name filter, found at deploy time."""
    return aws.ec2.get_ami_output(
        most_recent=True,
        owners=list(AMI_OWNERS),
        filters=[
            aws.ec2.GetAmiFilterArgs(name="name", values=[spec.ami_name_filter]),
            aws.ec2.GetAmiFilterArgs(name="architecture", values=["x86_64"]),
            aws.ec2.GetAmiFilterArgs(name="state", values=["available"]),
        ],
        opts=pulumi.InvokeOutputOptions(parent=parent),
    )


def _instance_network(
    parent: GpuCompute, prefix: str, platform: PlatformContext
) -> aws.ec2.SecurityGroup:
    """The instances' security group and the SSM interface endpoints they are reached through."""
    child = pulumi.ResourceOptions(parent=parent)
    security_group = aws.ec2.SecurityGroup(
        f"{prefix}-instances",
        vpc_id=platform.vpc_id,
        description="GPU instances: HTTPS to AWS endpoints and S3, any traffic among peers",
        opts=child,
    )
    allow_aws_apis_and_peers(
        prefix,
        security_group,
        endpoint_security_group_id=platform.endpoint_security_group_id,
        s3_prefix_list_id=platform.s3_prefix_list_id,
        # torchrun's rendezvous and NCCL/gloo use ports chosen at run time.
        peers_description="Traffic among the GPU instances (distributed training)",
    )
    platform.interface_endpoints(prefix, SSM_ENDPOINT_SERVICES, opts=child)
    return security_group


def _instance_role(
    parent: GpuCompute, prefix: str, platform: PlatformContext
) -> tuple[aws.iam.Role, aws.iam.InstanceProfile]:
    """The instances' role (SSM's managed policy and :func:`instance_policy`) and its profile."""
    role = service_role(
        f"{prefix}-instance",
        service="ec2.amazonaws.com",
        description="GPU instances: SSM sessions, training data, checkpoints, images, logs",
        account_id=platform.account_id,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    aws.iam.RolePolicyAttachment(
        f"{prefix}-ssm",
        role=role.name,
        policy_arn=pulumi.Output.from_input(platform.partition).apply(
            lambda partition: f"arn:{partition}:iam::aws:{SSM_MANAGED_POLICY}"
        ),
        opts=pulumi.ResourceOptions(parent=role),
    )
    aws.iam.RolePolicy(
        f"{prefix}-access",
        role=role.id,
        policy=pulumi.Output.all(
            platform.partition,
            platform.account_id,
            platform.buckets[DATA_BUCKET].arn,
            platform.buckets[WORK_BUCKET].arn,
            platform.kms_key_arn,
            platform.log_group_arn,
        ).apply(
            lambda values: instance_policy(
                values[0], platform.region, values[1], values[2], values[3], values[4], values[5]
            )
        ),
        opts=pulumi.ResourceOptions(parent=role),
    )
    profile = aws.iam.InstanceProfile(
        f"{prefix}-instance", role=role.name, opts=pulumi.ResourceOptions(parent=role)
    )
    return role, profile


def _launch_template(
    parent: GpuCompute,
    prefix: str,
    spec: GpuConfig,
    platform: PlatformContext,
    ami: pulumi.Output[aws.ec2.GetAmiResult],
    profile: aws.iam.InstanceProfile,
    security_group: aws.ec2.SecurityGroup,
) -> aws.ec2.LaunchTemplate:
    """The launch template: IMDSv2 only, encrypted root volume, no public IP, no SSH key."""
    return aws.ec2.LaunchTemplate(
        f"{prefix}-template",
        description=f"ml-platform {platform.environment}: GPU instances",
        image_id=ami.id,
        iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=profile.arn),
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled",
            http_tokens="required",  # IMDSv2 only
            # Containers on the box (NGC images) reach IMDS through Docker's bridge: one
            # extra hop. Tokens still cannot leave the instance.
            http_put_response_hop_limit=2,
            instance_metadata_tags="disabled",
        ),
        block_device_mappings=[
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name=ami.root_device_name,
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    encrypted="true",
                    kms_key_id=platform.kms_key_arn,
                    volume_size=spec.root_volume_size_gb,
                    volume_type="gp3",
                    delete_on_termination="true",
                ),
            )
        ],
        network_interfaces=[
            aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                device_index=0,
                associate_public_ip_address="false",
                security_groups=[security_group.id],
                delete_on_termination="true",
            )
        ],
        monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True),
        ebs_optimized="true",
        update_default_version=True,
        tag_specifications=[
            aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags={"Name": prefix})
            for kind in ("instance", "volume")
        ],
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _scaling_role(
    parent: GpuCompute, prefix: str, platform: PlatformContext
) -> tuple[aws.iam.ServiceLinkedRole, aws.kms.Grant]:
    """The group's own Auto Scaling service-linked role, and its grant on the platform key.

    A grant rather than a key-policy statement: KMS refuses a key policy naming a role that does
    not exist yet.
    """
    scaling_role = aws.iam.ServiceLinkedRole(
        f"{prefix}-autoscaling",
        aws_service_name="autoscaling.amazonaws.com",
        custom_suffix=prefix,
        description=f"EC2 Auto Scaling for the ml-platform {platform.environment} GPU group",
        opts=pulumi.ResourceOptions(parent=parent),
    )
    volume_key_grant = aws.kms.Grant(
        f"{prefix}-volume-key",
        key_id=platform.kms_key_arn,
        grantee_principal=scaling_role.arn,
        operations=list(iam_policies.VOLUME_KEY_OPERATIONS),
        opts=pulumi.ResourceOptions(parent=scaling_role),
    )
    return scaling_role, volume_key_grant


def _group(
    parent: GpuCompute,
    prefix: str,
    spec: GpuConfig,
    platform: PlatformContext,
    template: aws.ec2.LaunchTemplate,
    scaling_role: aws.iam.ServiceLinkedRole,
    depends_on: list[pulumi.Resource],
) -> aws.autoscaling.Group:
    """The Auto Scaling group: mixed instance types, capacity-optimized spot, rolling refresh."""
    return aws.autoscaling.Group(
        f"{prefix}-group",
        min_size=spec.min_size,
        max_size=spec.max_size,
        desired_capacity=spec.desired_capacity,
        vpc_zone_identifiers=platform.subnet_ids,
        service_linked_role_arn=scaling_role.arn,
        capacity_rebalance=True,  # replace spot instances AWS warns about, before they go
        health_check_type="EC2",
        mixed_instances_policy=aws.autoscaling.GroupMixedInstancesPolicyArgs(
            instances_distribution=aws.autoscaling.GroupMixedInstancesPolicyInstancesDistributionArgs(
                on_demand_base_capacity=spec.on_demand_base_capacity,
                on_demand_percentage_above_base_capacity=spec.on_demand_percentage_above_base,
                spot_allocation_strategy="capacity-optimized",
            ),
            launch_template=aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateArgs(
                launch_template_specification=aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecificationArgs(
                    launch_template_id=template.id,
                    version=template.latest_version.apply(str),
                ),
                overrides=[
                    aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs(
                        instance_type=instance_type
                    )
                    for instance_type in spec.instance_types
                ],
            ),
        ),
        # A new template version (a new AMI) replaces instances gradually.
        instance_refresh=aws.autoscaling.GroupInstanceRefreshArgs(
            strategy="Rolling",
            preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(
                min_healthy_percentage=50
            ),
        ),
        tags=[aws.autoscaling.GroupTagArgs(key="Name", value=prefix, propagate_at_launch=True)],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on),
    )
