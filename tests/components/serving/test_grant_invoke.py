"""ServingEndpoint.grant_invoke: another role may invoke one endpoint without writing IAM JSON."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pulumi
import pulumi_aws as aws

from components.platform import PlatformContext
from components.serving.endpoint import ServingEndpoint
from components.serving.spec import ServingEndpointConfig
from components.shared.iam_policies import service_trust_policy
from components.shared.retention import DataRetention
from stacks.offline.mock_runtime import MOCK_ACCOUNT_ID, run_offline


def program_with_a_grant() -> dict[str, Any]:
    """One endpoint on our own image, and a Lambda role granted to invoke it."""
    provider = aws.Provider("aws", region="us-east-1")
    opts = pulumi.ResourceOptions(provider=provider)
    # As the config loader does: JSON, where a list is a valid tuple under strict validation.
    spec = ServingEndpointConfig.model_validate_json(
        json.dumps(
            {
                "name": "churn",
                "variants": [
                    {
                        "name": "main",
                        "image": {"repository": "ml-platform/serving", "tag": "1.0.0"},
                        "model_artifact": "churn/v1/model.tar.gz",
                    }
                ],
            }
        )
    )
    out = pulumi.Output.from_input
    platform = PlatformContext(
        environment="test",
        region="us-east-1",
        retention=DataRetention(retain=False),
        log_retention_days=14,
        vpc_cidr="10.0.0.0/16",
        account_id=out(MOCK_ACCOUNT_ID),
        partition=out("aws"),
        kms_key_arn=out(f"arn:aws:kms:us-east-1:{MOCK_ACCOUNT_ID}:key/k"),
        buckets={
            purpose: SimpleNamespace(bucket=out(purpose), arn=out(f"arn:aws:s3:::{purpose}"))
            for purpose in ("models", "capture")
        },
        vpc_id=out("vpc-1"),
        subnet_ids=out(["subnet-1"]),
        workload_security_group_id=out("sg-1"),
        endpoint_security_group_id=out("sg-2"),
        s3_prefix_list_id=out("pl-1"),
        log_group_arn=out(f"arn:aws:logs:us-east-1:{MOCK_ACCOUNT_ID}:log-group:workloads"),
        glue_database_name=out("catalog"),
    )
    endpoint = ServingEndpoint(
        "churn",
        spec,
        platform,
        alarm_topic_arn=f"arn:aws:sns:us-east-1:{MOCK_ACCOUNT_ID}:alarms",
        code_archive_key=None,
        opts=opts,
    )
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
