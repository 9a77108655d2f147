"""An IAM role that one AWS service assumes on this account's behalf: every component's roles."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.shared import iam_policies


def service_role(
    name: str,
    *,
    service: str,
    description: str,
    account_id: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> aws.iam.Role:
    """A role only ``service`` (``sagemaker.amazonaws.com``) may assume, and only for this account.

    The trust policy's ``aws:SourceAccount`` condition is the confused-deputy guard; permissions
    are the caller's to attach.
    """
    return aws.iam.Role(
        name,
        description=description,
        assume_role_policy=pulumi.Output.from_input(account_id).apply(
            lambda account: iam_policies.service_trust_policy(service, account)
        ),
        opts=opts,
    )


def sagemaker_role_with_policy(
    role_name: str,
    policy_name: str,
    *,
    description: str,
    account_id: pulumi.Input[str],
    policy: pulumi.Input[str],
    parent: pulumi.Resource,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """A role only SageMaker may assume, for this account, and its one inline policy.

    The role ``role_name`` is a child of ``parent``; the policy ``policy_name`` (the document
    ``policy``) is a child of the role. Every SageMaker job, pipeline, model, notebook and
    tracking server of the platform runs as a role of its own built this way; a resource that
    must not start before its role may act depends on the returned policy.
    """
    role = service_role(
        role_name,
        service="sagemaker.amazonaws.com",
        description=description,
        account_id=account_id,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    role_policy = aws.iam.RolePolicy(
        policy_name,
        role=role.id,
        policy=policy,
        opts=pulumi.ResourceOptions(parent=role),
    )
    return role, role_policy
