"""PrivateNetwork: a VPC with no route to the internet, reaching AWS services through endpoints.

* private subnets only, one per availability zone, no public IPs, no internet or NAT gateway;
* the VPC's default security group stripped of every rule (nothing can use it by accident);
* a gateway endpoint for S3 and interface endpoints (private DNS) for the APIs SageMaker jobs and
  endpoints call: sagemaker.api, sagemaker.runtime, sts, logs, ecr.api, ecr.dkr, and the
  SageMaker MLflow tracking servers (sagemaker.experiments);
* a workload security group for the platform's jobs and endpoints: HTTPS to the endpoints and S3,
  and any traffic among its own members (multi-node training needs it);
* VPC flow logs into a KMS-encrypted CloudWatch log group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.data.spec import NetworkConfig
from components.shared import iam_policies
from components.shared.retention import DataRetention
from components.shared.vpc_endpoints import (
    HTTPS,
    allow_aws_apis_and_peers,
    allow_tcp_port,
    interface_endpoints,
)

#: Interface endpoints the platform's workloads need without internet access.
INTERFACE_ENDPOINT_SERVICES = (
    "sagemaker.api",
    "sagemaker.runtime",
    "sts",
    "logs",
    "ecr.api",
    "ecr.dkr",
    "sagemaker.experiments",
)


@dataclass(frozen=True)
class PrivateNetworkArgs:
    """What a PrivateNetwork needs beyond its network section: where it lives and its logs."""

    zones: Sequence[str]
    """The availability zones (looked up at deploy), one per subnet of the network section."""
    region: str
    """The region, for endpoint service names."""
    account_id: pulumi.Input[str]
    """This account's id, to scope the flow-log role's trust policy."""
    partition: pulumi.Input[str]
    """The AWS partition (``aws``, ``aws-cn``, ``aws-us-gov``) for ARNs."""
    kms_key_arn: pulumi.Input[str]
    """Key that encrypts the flow-log group."""
    log_retention_days: int
    """Retention of the flow-log group: the data section's, shared by every platform log group."""
    log_group_prefix: str
    """Name prefix of the platform's log groups, e.g. ``/ml-platform/dev``."""
    retention: DataRetention
    """Whether the flow logs survive ``pulumi destroy``."""

    def __post_init__(self) -> None:
        # The zones come from AWS, not the spec: a repeat would give two subnets one name.
        if len(set(self.zones)) != len(self.zones):
            raise ValueError(f"zones: availability zones repeat: {list(self.zones)}")


class PrivateNetwork(pulumi.ComponentResource):
    """A private VPC with endpoints, flow logs and a locked-down default security group."""

    vpc_id: pulumi.Output[str]
    """The VPC's id."""
    subnet_ids: pulumi.Output[list[str]]
    """Private subnet ids, one per availability zone, in zone order."""
    workload_security_group_id: pulumi.Output[str]
    """Security group for the platform's jobs and endpoints."""
    endpoint_security_group_id: pulumi.Output[str]
    """Security group of the interface endpoints."""
    s3_prefix_list_id: pulumi.Output[str]
    """Prefix list of the S3 gateway endpoint (for HTTPS egress rules to S3)."""
    flow_log_group_name: pulumi.Output[str]
    """CloudWatch log group receiving the VPC flow logs."""

    def __init__(
        self,
        name: str,
        spec: NetworkConfig,
        args: PrivateNetworkArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlplatform:network:PrivateNetwork", name, None, opts)
        vpc, route_table, subnets = _private_subnets(self, name, spec, args.zones)
        s3_endpoint, endpoint_sg = _service_endpoints(
            self, name, spec, args.region, vpc, route_table, subnets
        )
        workload_sg = aws.ec2.SecurityGroup(
            f"{name}-workloads",
            vpc_id=vpc.id,
            description="Platform jobs and endpoints: AWS APIs over HTTPS, peers in this group",
            opts=pulumi.ResourceOptions(parent=self),
        )
        allow_aws_apis_and_peers(
            f"{name}-workloads",
            workload_sg,
            endpoint_security_group_id=endpoint_sg.id,
            s3_prefix_list_id=s3_endpoint.prefix_list_id,
            # Distributed training and multi-instance endpoints talk to their peers on any port.
            peers_description="Traffic among members of this group",
        )
        flow_log_group = _flow_logs(self, name, spec, args, vpc)

        self.vpc_id = vpc.id
        self.subnet_ids = pulumi.Output.all(*[subnet.id for subnet in subnets])
        self.workload_security_group_id = workload_sg.id
        self.endpoint_security_group_id = endpoint_sg.id
        self.s3_prefix_list_id = s3_endpoint.prefix_list_id
        self.flow_log_group_name = flow_log_group.name
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "subnet_ids": self.subnet_ids,
                "workload_security_group_id": self.workload_security_group_id,
                "endpoint_security_group_id": self.endpoint_security_group_id,
                "flow_log_group_name": self.flow_log_group_name,
            }
        )


def _private_subnets(
    parent: PrivateNetwork, name: str, spec: NetworkConfig, zones: Sequence[str]
) -> tuple[aws.ec2.Vpc, aws.ec2.RouteTable, list[aws.ec2.Subnet]]:
    """The VPC, its emptied default security group, and one private subnet per zone.

    The subnets share one route table with no route out: the VPC's local route only.
    """
    child = pulumi.ResourceOptions(parent=parent)
    vpc = aws.ec2.Vpc(
        f"{name}-vpc",
        cidr_block=spec.cidr,
        # Interface endpoints with private DNS need both.
        enable_dns_support=True,
        enable_dns_hostnames=True,
        tags={"Name": f"{name}-vpc"},
        opts=child,
    )
    # Adopting the default security group with no rules removes AWS's allow-all defaults.
    aws.ec2.DefaultSecurityGroup(
        f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[], opts=child
    )

    route_table = aws.ec2.RouteTable(
        f"{name}-private-routes", vpc_id=vpc.id, tags={"Name": f"{name}-private"}, opts=child
    )
    subnets = []
    for zone, cidr in zip(zones, spec.subnet_cidrs(), strict=True):
        subnet = aws.ec2.Subnet(
            f"{name}-private-{zone}",
            vpc_id=vpc.id,
            cidr_block=cidr,
            availability_zone=zone,
            map_public_ip_on_launch=False,
            tags={"Name": f"{name}-private-{zone}"},
            opts=child,
        )
        aws.ec2.RouteTableAssociation(
            f"{name}-private-{zone}-routes",
            subnet_id=subnet.id,
            route_table_id=route_table.id,
            opts=pulumi.ResourceOptions(parent=subnet),
        )
        subnets.append(subnet)
    return vpc, route_table, subnets


def _service_endpoints(
    parent: PrivateNetwork,
    name: str,
    spec: NetworkConfig,
    region: str,
    vpc: aws.ec2.Vpc,
    route_table: aws.ec2.RouteTable,
    subnets: list[aws.ec2.Subnet],
) -> tuple[aws.ec2.VpcEndpoint, aws.ec2.SecurityGroup]:
    """The S3 gateway endpoint, and the interface endpoints behind their HTTPS-only group."""
    child = pulumi.ResourceOptions(parent=parent)
    s3_endpoint = aws.ec2.VpcEndpoint(
        f"{name}-s3",
        vpc_id=vpc.id,
        service_name=f"com.amazonaws.{region}.s3",
        vpc_endpoint_type="Gateway",
        route_table_ids=[route_table.id],
        tags={"Name": f"{name}-s3"},
        opts=child,
    )

    endpoint_sg = aws.ec2.SecurityGroup(
        f"{name}-endpoints",
        vpc_id=vpc.id,
        description="Interface endpoints: HTTPS from inside the VPC only",
        opts=child,
    )
    allow_tcp_port(
        aws.vpc.SecurityGroupIngressRule,
        f"{name}-endpoints-https-in",
        security_group_id=endpoint_sg.id,
        port=HTTPS,
        description="HTTPS from the VPC",
        opts=pulumi.ResourceOptions(parent=endpoint_sg),
        cidr_ipv4=spec.cidr,
    )
    interface_endpoints(
        name,
        INTERFACE_ENDPOINT_SERVICES,
        region=region,
        vpc_id=vpc.id,
        subnet_ids=[subnet.id for subnet in subnets],
        security_group_id=endpoint_sg.id,
        opts=child,
    )
    return s3_endpoint, endpoint_sg


def _flow_logs(
    parent: PrivateNetwork,
    name: str,
    spec: NetworkConfig,
    args: PrivateNetworkArgs,
    vpc: aws.ec2.Vpc,
) -> aws.cloudwatch.LogGroup:
    """VPC flow logs of ``spec.flow_log_traffic`` into an encrypted log group, with their role."""
    child = pulumi.ResourceOptions(parent=parent)
    flow_log_group = aws.cloudwatch.LogGroup(
        f"{name}-flow-logs",
        name=f"{args.log_group_prefix}/vpc-flow-logs",
        kms_key_id=args.kms_key_arn,
        retention_in_days=args.log_retention_days,
        opts=args.retention.stateful(parent),
    )
    flow_log_role = aws.iam.Role(
        f"{name}-flow-logs",
        description="Lets VPC Flow Logs write to the platform's flow-log group",
        assume_role_policy=pulumi.Output.all(args.partition, args.account_id).apply(
            lambda values: iam_policies.service_trust_policy(
                "vpc-flow-logs.amazonaws.com",
                values[1],
                f"arn:{values[0]}:ec2:{args.region}:{values[1]}:vpc-flow-log/*",
            )
        ),
        opts=child,
    )
    aws.iam.RolePolicy(
        f"{name}-flow-logs-write",
        role=flow_log_role.id,
        policy=flow_log_group.arn.apply(
            lambda arn: iam_policies.policy_json(
                {
                    "Effect": "Allow",
                    "Action": [
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogStreams",
                    ],
                    "Resource": [arn, f"{arn}:*"],
                }
            )
        ),
        opts=pulumi.ResourceOptions(parent=flow_log_role),
    )
    aws.ec2.FlowLog(
        f"{name}-flow-log",
        vpc_id=vpc.id,
        traffic_type=spec.flow_log_traffic,
        log_destination_type="cloud-watch-logs",
        log_destination=flow_log_group.arn,
        iam_role_arn=flow_log_role.arn,
        max_aggregation_interval=60,
        opts=child,
    )
    return flow_log_group
