"""The SNS topic a layer's alarms notify: encrypted, publishable only by this account's alarms."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.shared import iam_policies


def alarm_topic(
    name: str,
    *,
    display_name: str,
    kms_key_arn: pulumi.Input[str],
    account_id: pulumi.Input[str],
    partition: pulumi.Input[str],
    emails: Sequence[str],
    parent: pulumi.Resource,
    topic_name: str | None = None,
) -> aws.sns.Topic:
    """Create the topic ``name`` with its policy and one e-mail subscription per address.

    The topic is encrypted with the platform key; its policy lets only CloudWatch alarms of this
    account publish, over TLS (:func:`iam_policies.alarm_topic_policy`). ``topic_name`` fixes the
    topic's AWS name; without it Pulumi names it after ``name``.
    """
    topic = aws.sns.Topic(
        name,
        name=topic_name,
        display_name=display_name,
        kms_master_key_id=kms_key_arn,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    aws.sns.TopicPolicy(
        f"{name}-policy",
        arn=topic.arn,
        policy=pulumi.Output.all(topic.arn, account_id, partition).apply(
            lambda values: iam_policies.alarm_topic_policy(*values)
        ),
        opts=pulumi.ResourceOptions(parent=topic),
    )
    for index, address in enumerate(emails):
        aws.sns.TopicSubscription(
            f"{name}-email-{index}",
            topic=topic.arn,
            protocol="email",
            endpoint=address,
            opts=pulumi.ResourceOptions(parent=topic),
        )
    return topic
