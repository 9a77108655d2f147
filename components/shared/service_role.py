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
