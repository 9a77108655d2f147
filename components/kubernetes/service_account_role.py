"""A Kubernetes service account with its own IAM role (IAM roles for service accounts, IRSA).

Pods that call AWS (S3 artifacts, checkpoints, model downloads) get credentials only through the
service account they run as: EKS's pod identity webhook projects a token that STS exchanges for
this role, and the role's trust names exactly one ``namespace:service-account``, so no other pod
of the cluster can assume it. Nothing uses the node's instance role.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.kubernetes.cluster_access import ClusterAccess
from components.shared import iam_policies

#: The annotation the pod identity webhook reads to inject the role's credentials.
ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"


def service_account_trust_policy(
    oidc_provider_arn: str, oidc_issuer: str, namespace: str, service_account: str
) -> str:
    """Trust only tokens of ``namespace:service_account`` issued for STS by the cluster."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": oidc_provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{oidc_issuer}:sub": (
                                f"system:serviceaccount:{namespace}:{service_account}"
                            ),
                            f"{oidc_issuer}:aud": "sts.amazonaws.com",
                        }
                    },
                }
            ],
        },
        sort_keys=True,
    )


@dataclass(frozen=True)
class ServiceAccountRoleArgs:
    """Inputs of a ServiceAccountRole."""

    namespace: pulumi.Input[str]
    """The service account's namespace."""
    service_account: str
    """The service account's name."""
    statements: pulumi.Input[list[iam_policies.Statement]]
    """What the role may do (least privilege: name the buckets, prefixes and keys)."""
    description: str
    """What the pods with this role do."""


class ServiceAccountRole(pulumi.ComponentResource):
    """An IAM role trusted by one service account, the policy, and the service account itself."""

    role: aws.iam.Role
    """The IAM role."""
    service_account_name: str
    """The service account pods run as (``serviceAccountName``)."""

    def __init__(
        self,
        name: str,
        args: ServiceAccountRoleArgs,
        cluster: ClusterAccess,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlplatform:kubernetes:ServiceAccountRole", name, None, opts)
        self.role = aws.iam.Role(
            name,
            description=args.description,
            assume_role_policy=pulumi.Output.all(
                cluster.oidc_provider_arn, cluster.oidc_issuer, args.namespace
            ).apply(
                lambda values: service_account_trust_policy(
                    values[0], values[1], values[2], args.service_account
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=pulumi.Output.from_input(args.statements).apply(
                lambda statements: iam_policies.policy_json(*statements)
            ),
            opts=pulumi.ResourceOptions(parent=self.role),
        )
        self.service_account_name = args.service_account
        self.service_account = k8s.core.v1.ServiceAccount(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.service_account,
                namespace=args.namespace,
                annotations={ROLE_ARN_ANNOTATION: self.role.arn},
            ),
            # The IRSA token is a projected volume of its own; the Kubernetes API token is not
            # needed by any of the platform's workloads, so it is never mounted.
            automount_service_account_token=False,
            opts=cluster.options(self),
        )
        self.register_outputs({"role_arn": self.role.arn})
