"""Reaching AWS from the private VPC: interface endpoints and the security-group rules of jobs.

The VPC has no route to the internet, so every layer that runs something in it adds the interface
endpoints its AWS APIs need and gives its jobs' security group the same rules; both are here so
no layer imports another's package.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

HTTPS = 443

#: Services whose endpoint service name is not ``com.amazonaws.<region>.<service>``: MLflow
#: tracking servers are reached through ``aws.sagemaker.<region>.experiments``
#: (https://docs.aws.amazon.com/sagemaker/latest/dg/mlflow-interface-endpoint.html).
_SERVICE_NAMES = {"sagemaker.experiments": "aws.sagemaker.{region}.experiments"}


def endpoint_service_name(service: str, region: str) -> str:
    """The VPC endpoint service name of ``service`` (as listed above) in ``region``."""
    return _SERVICE_NAMES.get(service, "com.amazonaws.{region}." + service).format(region=region)


def interface_endpoints(
    prefix: str,
    services: Sequence[str],
    *,
    region: str,
    vpc_id: pulumi.Input[str],
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]],
    security_group_id: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> list[aws.ec2.VpcEndpoint]:
    """One private-DNS interface endpoint per service (names as in the lists above).

    Every layer that needs an AWS API in the VPC (which has no internet) adds its endpoints
    through here, into the endpoints' security group.
    """
    return [
        aws.ec2.VpcEndpoint(
            f"{prefix}-{service.replace('.', '-')}",
            vpc_id=vpc_id,
            service_name=endpoint_service_name(service, region),
            vpc_endpoint_type="Interface",
            private_dns_enabled=True,
            subnet_ids=subnet_ids,
            security_group_ids=[security_group_id],
            tags={"Name": f"{prefix}-{service}"},
            opts=opts,
        )
        for service in services
    ]


def allow_tcp_port(
    rule_type: type[aws.vpc.SecurityGroupIngressRule] | type[aws.vpc.SecurityGroupEgressRule],
    name: str,
    *,
    security_group_id: pulumi.Input[str],
    port: int,
    description: str,
    opts: pulumi.ResourceOptions,
    **peer: pulumi.Input[str],
) -> aws.vpc.SecurityGroupIngressRule | aws.vpc.SecurityGroupEgressRule:
    """One security-group rule (``rule_type``: ingress or egress) for TCP on one ``port``.

    ``peer`` names the other side, as the rule's argument: ``cidr_ipv4``,
    ``referenced_security_group_id`` or ``prefix_list_id``.
    """
    return rule_type(
        name,
        security_group_id=security_group_id,
        description=description,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        **peer,
        opts=opts,
    )


def allow_aws_apis_and_peers(
    prefix: str,
    security_group: aws.ec2.SecurityGroup,
    *,
    endpoint_security_group_id: pulumi.Input[str],
    s3_prefix_list_id: pulumi.Input[str],
    peers_description: str,
) -> None:
    """The rules of a security group for jobs in the private VPC.

    HTTPS out to the interface endpoints and to S3 through its gateway endpoint, and any traffic
    in and out among the group's own members (peers pick their ports at run time); nothing else.
    """
    rules = pulumi.ResourceOptions(parent=security_group)
    # HTTPS out, by target: the interface endpoints' group, and S3's prefix list.
    https_targets: dict[str, tuple[str, dict[str, pulumi.Input[str]]]] = {
        "endpoints": (
            "HTTPS to the interface endpoints",
            {"referenced_security_group_id": endpoint_security_group_id},
        ),
        "s3": ("HTTPS to S3 through the gateway endpoint", {"prefix_list_id": s3_prefix_list_id}),
    }
    for target, (description, peer) in https_targets.items():
        allow_tcp_port(
            aws.vpc.SecurityGroupEgressRule,
            f"{prefix}-{target}-out",
            security_group_id=security_group.id,
            port=HTTPS,
            description=description,
            opts=rules,
            **peer,
        )
    for direction, rule_type in (
        ("in", aws.vpc.SecurityGroupIngressRule),
        ("out", aws.vpc.SecurityGroupEgressRule),
    ):
        rule_type(
            f"{prefix}-peers-{direction}",
            security_group_id=security_group.id,
            description=peers_description,
            ip_protocol="-1",
            referenced_security_group_id=security_group.id,
            opts=rules,
        )
