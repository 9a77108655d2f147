"""IAM and resource policy documents, built as plain Python data and serialised with json.dumps.

Building policies in Python (rather than through the ``get_policy_document`` invoke) keeps them
visible in the offline plan and testable as data.
"""

from __future__ import annotations

import json
from typing import Any

Statement = dict[str, Any]

#: What a service (EC2 Auto Scaling) does with the key for the encrypted EBS volumes it launches
#: (AWS's documented list); shared by the layers that launch instances with encrypted volumes.
VOLUME_KEY_OPERATIONS = (
    "Encrypt",
    "Decrypt",
    "ReEncryptFrom",
    "ReEncryptTo",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "DescribeKey",
    "CreateGrant",
)


def policy_json(*statements: Statement) -> str:
    """Serialise statements into a policy document."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True)


def deny_without_tls(action: str, resource: str | list[str]) -> Statement:
    """Deny ``action`` on ``resource`` to anyone calling without TLS (resource policies)."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": action,
        "Resource": resource,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def deny_insecure_transport(bucket_arn: str) -> list[Statement]:
    """Deny any request to a bucket that is not over TLS 1.2 or newer (S3 best practice)."""
    resources = [bucket_arn, f"{bucket_arn}/*"]
    return [
        deny_without_tls("s3:*", resources),
        {
            "Sid": "DenyOutdatedTls",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Resource": resources,
            "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
        },
    ]


def allow_server_access_log_delivery(bucket_arn: str, account_id: str) -> Statement:
    """Let S3's logging service write access logs of this account's buckets into ``bucket_arn``."""
    return {
        "Sid": "AllowServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{bucket_arn}/*",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    }


def service_trust_policy(service: str, account_id: str, source_arn_like: str | None = None) -> str:
    """A role trust policy for an AWS service, limited to this account (confused-deputy guard)."""
    condition: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": account_id}}
    if source_arn_like:
        condition["ArnLike"] = {"aws:SourceArn": source_arn_like}
    return policy_json(
        {
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": condition,
        }
    )


def platform_key_policy(partition: str, account_id: str, region: str) -> str:
    """The key policy of the platform's KMS key.

    The account root statement is AWS's default: it lets IAM policies in this account grant use of
    the key (without it the key can become unmanageable). CloudWatch Logs gets use of the key only
    for this account's log groups in this region. No statement has a wildcard principal.
    """
    return policy_json(
        {
            "Sid": "EnableIamPoliciesOfThisAccount",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            # AWS's CloudWatch Logs key policy, without its kms:Describe*: DescribeKey carries no
            # encryption context, so under this statement's condition it was never granted.
            # https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
            "Sid": "AllowCloudWatchLogsOfThisAccount",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": [
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
            ],
            "Resource": "*",
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{partition}:logs:{region}:{account_id}:log-group:*"
                    )
                }
            },
        },
        {
            # Alarms publish to the platform's KMS-encrypted SNS topics; SNS asks KMS for a data
            # key on behalf of CloudWatch, so CloudWatch needs these two actions on the key.
            "Sid": "AllowCloudWatchAlarmsToEncryptedTopics",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
    )


def invoke_endpoint_statement(endpoint_arns: list[str]) -> Statement:
    """Allow invoking exactly these SageMaker endpoints (real-time, streaming and async)."""
    return {
        "Sid": "InvokeEndpoints",
        "Effect": "Allow",
        "Action": [
            "sagemaker:InvokeEndpoint",
            "sagemaker:InvokeEndpointAsync",
            "sagemaker:InvokeEndpointWithResponseStream",
        ],
        "Resource": sorted(endpoint_arns),
    }


def alarm_topic_policy(topic_arn: str, account_id: str, partition: str) -> str:
    """The policy of an alarm topic: this account's alarms may publish; never without TLS."""
    return policy_json(
        {
            "Sid": "AllowCloudWatchAlarmsOfThisAccount",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
        {
            "Sid": "AllowThisAccountToManage",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
            "Action": [
                "sns:GetTopicAttributes",
                "sns:SetTopicAttributes",
                "sns:Subscribe",
                "sns:ListSubscriptionsByTopic",
                "sns:Publish",
            ],
            "Resource": topic_arn,
        },
        deny_without_tls("sns:Publish", topic_arn),
    )


def kms_via_s3_statement(
    kms_key_arn: str, region: str, sid: str = "UsePlatformKeyThroughS3"
) -> Statement:
    """Use the platform key only through S3 (to read and write SSE-KMS objects), not directly."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
        "Resource": kms_key_arn,
        "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
    }


#: ECR actions needed to pull an image (GetAuthorizationToken has no resource-level scope).
ECR_PULL_ACTIONS = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
]


def ecr_pull_statements(repository_arns: list[str]) -> list[Statement]:
    """Pull images from exactly these repositories (and the registry login they need)."""
    return [
        {
            "Sid": "PullImages",
            "Effect": "Allow",
            "Action": ECR_PULL_ACTIONS,
            "Resource": sorted(set(repository_arns)),
        },
        {
            "Sid": "EcrLogin",
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*",  # no resource-level permissions exist for this action
        },
    ]


#: EC2 describe calls SageMaker makes for a job or app in a VPC; AWS allows no resource scope.
VPC_DESCRIBE_ACTIONS = [
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
]


def vpc_interface_statements(
    *,
    partition: str,
    region: str,
    account_id: str,
    vpc_id: str,
    subnet_ids: list[str],
    security_group_id: str,
) -> list[Statement]:
    """Let SageMaker create and remove network interfaces in the platform's subnets only."""
    ec2 = f"arn:{partition}:ec2:{region}:{account_id}"
    return [
        {
            "Sid": "DescribeNetwork",
            "Effect": "Allow",
            "Action": VPC_DESCRIBE_ACTIONS,
            "Resource": "*",  # EC2 Describe* calls support no resource-level permissions
        },
        {
            "Sid": "CreateInterfacesInPlatformSubnets",
            "Effect": "Allow",
            "Action": "ec2:CreateNetworkInterface",
            "Resource": [
                f"{ec2}:network-interface/*",
                f"{ec2}:security-group/{security_group_id}",
                *(f"{ec2}:subnet/{subnet}" for subnet in sorted(subnet_ids)),
            ],
        },
        {
            "Sid": "ManageInterfacesInPlatformVpc",
            "Effect": "Allow",
            "Action": [
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
            ],
            "Resource": f"{ec2}:network-interface/*",
            "Condition": {"ArnEquals": {"ec2:Vpc": f"{ec2}:vpc/{vpc_id}"}},
        },
    ]


def write_logs_statement(sid: str, log_group_arns: list[str]) -> Statement:
    """Create (if need be) and write to the log groups ``log_group_arns`` and their streams."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": [
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:DescribeLogStreams",
            "logs:PutLogEvents",
        ],
        "Resource": [arn for group in log_group_arns for arn in (group, f"{group}:log-stream:*")],
    }


def pass_role_to_sagemaker_statement(sid: str, role_arn: str) -> Statement:
    """Pass ``role_arn`` to SageMaker and to no other service."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": role_arn,
        "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    }
