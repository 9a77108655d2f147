"""ServingEndpoint.grant_invoke: another role may invoke one endpoint without writing IAM JSON."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from components.serving.alarms import AlarmThresholds
from components.serving.endpoint import (
    EndpointSpec,
    RolloutSpec,
    ServingEndpoint,
    ServingPlatform,
    VariantSpec,
)
from components.serving.model import ModelImage
from components.shared.iam_policies import service_trust_policy
from components.shared.retention import DataRetention
from stacks.offline.mock_runtime import MOCK_ACCOUNT_ID, run_offline


def program_with_a_grant() -> dict[str, Any]:
    """One endpoint on our own image, and a Lambda role granted to invoke it."""
    provider = aws.Provider("aws", region="us-east-1")
    opts = pulumi.ResourceOptions(provider=provider)
    spec = EndpointSpec(
        endpoint_name="mlp-test-churn",
        variants=[
            VariantSpec(
                name="main",
                image=ModelImage(ecr_repository="ml-platform/serving", ecr_tag="1.0.0"),
                model_artifact_key="churn/v1/model.tar.gz",
            )
        ],
        rollout=RolloutSpec(),
        alarms=AlarmThresholds(1, 5, 500, 60, 3),
    )
    platform = ServingPlatform(
        alarm_topic_arn=f"arn:aws:sns:us-east-1:{MOCK_ACCOUNT_ID}:alarms",
        models_bucket="models",
        capture_bucket="capture",
        kms_key_arn=f"arn:aws:kms:us-east-1:{MOCK_ACCOUNT_ID}:key/k",
        code_archive_key=None,
        subnet_ids=["subnet-1"],
        security_group_id="sg-1",
        vpc_id="vpc-1",
        region="us-east-1",
        account_id=MOCK_ACCOUNT_ID,
        partition="aws",
        log_retention_days=14,
        retention=DataRetention(retain=False),
    )
    endpoint = ServingEndpoint("churn", spec, platform, opts=opts)
    caller = aws.iam.Role(
        "scoring-lambda",
        assume_role_policy=service_trust_policy("lambda.amazonaws.com", MOCK_ACCOUNT_ID),
        opts=opts,
    )
    endpoint.grant_invoke("scoring-lambda-invokes-churn", caller)
    return {"endpoint_arn": endpoint.endpoint_arn}


def test_grant_invoke_allows_exactly_this_endpoint() -> None:
    # given an endpoint and a caller role / when the caller is granted invoke
    run = run_offline("test", {"aws:region": "us-east-1"}, program_with_a_grant)
    (grant,) = [r for r in run.resources if r.name == "scoring-lambda-invokes-churn"]
    (caller,) = [r for r in run.resources if r.name == "scoring-lambda"]
    # then the policy sits on the caller's role and names only this endpoint's ARN
    assert grant.type == "aws:iam/rolePolicy:RolePolicy"
    assert grant.parent == caller.urn
    assert grant.inputs["role"] == caller.outputs["name"]
    (statement,) = json.loads(grant.inputs["policy"])["Statement"]
    assert statement == {
        "Sid": "InvokeEndpoints",
        "Effect": "Allow",
        "Action": [
            "sagemaker:InvokeEndpoint",
            "sagemaker:InvokeEndpointAsync",
            "sagemaker:InvokeEndpointWithResponseStream",
        ],
        "Resource": [run.exports["endpoint_arn"]],
    }
    assert run.exports["endpoint_arn"] == (
        f"arn:aws:sagemaker:us-east-1:{MOCK_ACCOUNT_ID}:endpoint/mlp-test-churn"
    )
