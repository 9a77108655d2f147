"""Who an EKS cluster's parts act as: IAM roles, the service-account OIDC issuer, access entries.

* The control plane and the nodes have plain service roles (trust policies exactly as EKS
  documents them); the node role has neither the CNI nor the EBS policy, so pods that reached it
  could do nothing with the network or the volumes.
* An IAM OIDC provider for the cluster's issuer backs the service-account roles (IRSA): the VPC
  CNI and the EBS CSI driver each get a role that trusts only their own service account.
* Access is through EKS access entries only: cluster-admin for the configured roles (the
  deployer has it as the cluster's creator).

Every function creates its resources as children of the cluster component (or of the resource
the tree reads them under), so their URNs are the ones the single constructor gave them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from components.kubernetes.service_account_role import service_account_trust_policy
from components.shared import iam_policies

if TYPE_CHECKING:
    # eks_cluster imports this module; its args are only a type here.
    from components.kubernetes.eks_cluster import EksClusterArgs

#: Service accounts EKS's add-ons run as (their IRSA roles trust exactly these).
VPC_CNI_SERVICE_ACCOUNT = ("kube-system", "aws-node")
EBS_CSI_SERVICE_ACCOUNT = ("kube-system", "ebs-csi-controller-sa")

#: AWS-managed policies, by role.
CLUSTER_POLICIES = ("AmazonEKSClusterPolicy",)
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly")
VPC_CNI_POLICY = "AmazonEKS_CNI_Policy"
EBS_CSI_POLICY = "service-role/AmazonEBSCSIDriverPolicy"

#: The EKS access policy given to admin roles, across the whole cluster.
CLUSTER_ADMIN_ACCESS_POLICY = "AmazonEKSClusterAdminPolicy"


@dataclass(frozen=True)
class ReadyRole:
    """An IAM role and the policies it must hold before anything may assume it."""

    role: aws.iam.Role
    """The role."""
    policies: list[pulumi.Resource]
    """Its attachments and inline policies: what users of the role depend on."""

    def add_key_policy(
        self,
        name: str,
        kms_key_arn: pulumi.Input[str],
        statements: Callable[[str], Sequence[iam_policies.Statement]],
    ) -> None:
        """Give the role the inline policy ``name``: ``statements`` about the platform key.

        The policy joins :attr:`policies`, so whatever uses the role waits for it.
        """
        self.policies.append(
            aws.iam.RolePolicy(
                name,
                role=self.role.id,
                policy=pulumi.Output.from_input(kms_key_arn).apply(
                    lambda key: iam_policies.policy_json(*statements(key))
                ),
                opts=pulumi.ResourceOptions(parent=self.role),
            )
        )


@dataclass(frozen=True)
class ServiceAccountIssuer:
    """The cluster's OIDC issuer as IAM knows it: what service-account roles trust."""

    provider: aws.iam.OpenIdConnectProvider
    """The IAM OIDC provider of the issuer."""
    issuer: pulumi.Output[str]
    """The issuer's URL without ``https://`` (the prefix of the ``sub`` and ``aud`` claims)."""


def plain_trust_policy(service: str) -> str:
    """A trust policy for ``service`` exactly as EKS documents it for cluster and node roles.

    The platform's other service roles add an ``aws:SourceAccount`` condition; EKS does not
    document that key for these two roles, and a condition the service does not send would
    stop the cluster or the nodes from starting.
    """
    return iam_policies.policy_json(
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    )


def secrets_key_statement(kms_key_arn: str) -> iam_policies.Statement:
    """What the cluster role does with the key that envelope-encrypts Kubernetes secrets."""
    return {
        "Sid": "EncryptKubernetesSecrets",
        "Effect": "Allow",
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"],
        "Resource": kms_key_arn,
    }


def ebs_csi_key_statements(kms_key_arn: str) -> list[iam_policies.Statement]:
    """Let the EBS CSI driver create and attach volumes encrypted with the platform key.

    AWS's documented statements: grants only for AWS resources (the attached EC2 volume), and
    the data-key operations on this key alone.
    """
    return [
        {
            "Sid": "GrantVolumeAccessToEc2",
            "Effect": "Allow",
            "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
            "Resource": kms_key_arn,
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
        {
            "Sid": "UsePlatformKeyForVolumes",
            "Effect": "Allow",
            "Action": [
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:DescribeKey",
            ],
            "Resource": kms_key_arn,
        },
    ]


def managed_policy_arn(partition: pulumi.Input[str], policy: str) -> pulumi.Output[str]:
    """The ARN of the AWS-managed policy ``policy`` (``service-role/...`` paths included)."""
    return pulumi.Output.from_input(partition).apply(
        lambda value: f"arn:{value}:iam::aws:policy/{policy}"
    )


def _role_label(role_arn: str) -> str:
    """A resource-name-safe label of a role ARN (its name, without path)."""
    return role_arn.rsplit("/", 1)[-1]


def _service_role(
    name: str,
    description: str,
    service: str,
    policies: Sequence[str],
    partition: pulumi.Input[str],
    parent: pulumi.Resource,
) -> ReadyRole:
    """A role ``service`` assumes, with the AWS-managed ``policies`` attached under it."""
    role = aws.iam.Role(
        name,
        description=description,
        assume_role_policy=plain_trust_policy(service),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    attachments: list[pulumi.Resource] = [
        aws.iam.RolePolicyAttachment(
            f"{name}-{policy}",
            role=role.name,
            policy_arn=managed_policy_arn(partition, policy),
            opts=pulumi.ResourceOptions(parent=role),
        )
        for policy in policies
    ]
    return ReadyRole(role, attachments)


def cluster_role(prefix: str, args: EksClusterArgs, parent: pulumi.Resource) -> ReadyRole:
    """The control plane's role: EKS's cluster policy and the secrets key."""
    ready = _service_role(
        f"{prefix}-cluster",
        f"EKS control plane of {args.cluster_name}",
        "eks.amazonaws.com",
        CLUSTER_POLICIES,
        args.platform.partition,
        parent,
    )
    ready.add_key_policy(
        f"{prefix}-cluster-secrets-key",
        args.platform.kms_key_arn,
        lambda key: [secrets_key_statement(key)],
    )
    return ready


def node_role(prefix: str, args: EksClusterArgs, parent: pulumi.Resource) -> ReadyRole:
    """The nodes' role: join the cluster and pull images, nothing more."""
    return _service_role(
        f"{prefix}-nodes",
        f"Nodes of {args.cluster_name}: join the cluster, pull images",
        "ec2.amazonaws.com",
        NODE_POLICIES,
        args.platform.partition,
        parent,
    )


def grant_cluster_admin(prefix: str, args: EksClusterArgs, cluster: aws.eks.Cluster) -> None:
    """An access entry with cluster-wide admin for each of ``args.spec.admin_role_arns``."""
    for role_arn in args.spec.admin_role_arns:
        label = _role_label(role_arn)
        entry = aws.eks.AccessEntry(
            f"{prefix}-admin-{label}",
            cluster_name=cluster.name,
            principal_arn=role_arn,
            type="STANDARD",
            opts=pulumi.ResourceOptions(parent=cluster),
        )
        aws.eks.AccessPolicyAssociation(
            f"{prefix}-admin-{label}",
            cluster_name=cluster.name,
            principal_arn=entry.principal_arn,
            policy_arn=pulumi.Output.from_input(args.platform.partition).apply(
                lambda partition: (
                    f"arn:{partition}:eks::aws:cluster-access-policy/{CLUSTER_ADMIN_ACCESS_POLICY}"
                )
            ),
            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
            opts=pulumi.ResourceOptions(parent=entry),
        )


def service_account_issuer(
    prefix: str, args: EksClusterArgs, cluster: aws.eks.Cluster
) -> ServiceAccountIssuer:
    """The IAM OIDC provider of the cluster's service-account issuer (IRSA)."""
    issuer_url = cluster.identities.apply(lambda identities: identities[0].oidcs[0].issuer)
    provider = aws.iam.OpenIdConnectProvider(
        f"{prefix}-oidc",
        url=issuer_url,
        client_id_lists=["sts.amazonaws.com"],
        tags=args.tags,
        opts=pulumi.ResourceOptions(parent=cluster),
    )
    return ServiceAccountIssuer(
        provider, issuer_url.apply(lambda url: url.removeprefix("https://"))
    )


def _service_account_role(
    prefix: str,
    role_name: str,
    service_account: tuple[str, str],
    policy: str,
    description: str,
    args: EksClusterArgs,
    issuer: ServiceAccountIssuer,
    parent: pulumi.Resource,
) -> ReadyRole:
    """A role only ``service_account`` (namespace, name) may assume, with one managed policy."""
    namespace, account = service_account
    role = aws.iam.Role(
        f"{prefix}-{role_name}",
        description=description,
        assume_role_policy=pulumi.Output.all(issuer.provider.arn, issuer.issuer).apply(
            lambda values: service_account_trust_policy(values[0], values[1], namespace, account)
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    attachment = aws.iam.RolePolicyAttachment(
        f"{prefix}-{role_name}-managed",
        role=role.name,
        policy_arn=managed_policy_arn(args.platform.partition, policy),
        opts=pulumi.ResourceOptions(parent=role),
    )
    return ReadyRole(role, [attachment])


def vpc_cni_role(
    prefix: str, args: EksClusterArgs, issuer: ServiceAccountIssuer, parent: pulumi.Resource
) -> ReadyRole:
    """The VPC CNI's own role (the node role does not have the CNI policy)."""
    return _service_account_role(
        prefix,
        "vpc-cni",
        VPC_CNI_SERVICE_ACCOUNT,
        VPC_CNI_POLICY,
        "VPC CNI (aws-node): manages the nodes' network interfaces and pod addresses",
        args,
        issuer,
        parent,
    )


def ebs_csi_role(
    prefix: str, args: EksClusterArgs, issuer: ServiceAccountIssuer, parent: pulumi.Resource
) -> ReadyRole:
    """The EBS CSI driver's own role, with the platform key for encrypted volumes."""
    ready = _service_account_role(
        prefix,
        "ebs-csi",
        EBS_CSI_SERVICE_ACCOUNT,
        EBS_CSI_POLICY,
        "EBS CSI driver: creates, attaches and encrypts persistent volumes",
        args,
        issuer,
        parent,
    )
    ready.add_key_policy(f"{prefix}-ebs-csi-key", args.platform.kms_key_arn, ebs_csi_key_statements)
    return ready
