"""The recording mock runtime: engine URNs, recorded options, realistic answers, strictness."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pytest
from pulumi.runtime import settings

from stacks.offline.mock_runtime import (
    PlatformMocks,
    RecordingMonitor,
    _engine_urn,
    flatten_stack_file,
    normalize,
)


def run_under_mocks(program) -> RecordingMonitor:
    mocks = PlatformMocks("eu-west-1")
    monitor = RecordingMonitor(mocks, "dev")
    settings.set_root_resource(None)
    pulumi.runtime.set_mocks(
        mocks, project="ml-platform", stack="dev", preview=False, monitor=monitor
    )
    pulumi.runtime.test(program)()
    return monitor


def test_urns_follow_the_engine_rule() -> None:
    stack_urn = "urn:pulumi:dev::ml-platform::pulumi:pulumi:Stack::ml-platform-dev"
    component = _engine_urn("dev", stack_urn, "my:mod:Comp", "c")
    assert component == "urn:pulumi:dev::ml-platform::my:mod:Comp::c"
    child = _engine_urn("dev", component, "aws:s3/bucket:Bucket", "b")
    assert child == "urn:pulumi:dev::ml-platform::my:mod:Comp$aws:s3/bucket:Bucket::b"
    grandchild = _engine_urn("dev", child, "aws:s3/bucketPolicy:BucketPolicy", "p")
    assert grandchild == (
        "urn:pulumi:dev::ml-platform::my:mod:Comp$aws:s3/bucket:Bucket$aws:s3/bucketPolicy:BucketPolicy::p"
    )


def test_records_options_parent_and_realistic_outputs() -> None:
    # given a protected bucket under a component, on an explicit provider
    def program():
        provider = aws.Provider("aws", region="eu-west-1")
        parent = pulumi.ComponentResource(
            "my:mod:Comp", "c", None, pulumi.ResourceOptions(providers={"aws": provider})
        )
        bucket = aws.s3.Bucket(
            "b",
            force_destroy=False,
            opts=pulumi.ResourceOptions(parent=parent, protect=True, retain_on_delete=True),
        )
        return bucket.arn

    # when it runs under the recording mocks
    records = {record.name: record for record in run_under_mocks(program).records}
    # then the bucket is recorded with its parent, options, provider and an AWS-shaped ARN
    bucket = records["b"]
    assert bucket.parent == records["c"].urn
    assert bucket.protect is True and bucket.retain_on_delete is True
    assert bucket.provider == "urn:pulumi:dev::ml-platform::pulumi:providers:aws::aws"
    assert bucket.inputs == {"forceDestroy": False}
    assert bucket.outputs["arn"] == f"arn:aws:s3:::{bucket.outputs['bucket']}"
    assert bucket.outputs["bucket"].startswith("b-")
    assert records["c"].parent is None and records["c"].custom is False


def test_a_resource_on_the_default_provider_fails_as_in_the_stacks() -> None:
    with pytest.raises(ValueError, match=r"aws:s3/bucket:Bucket 'loose' has no explicit provider"):
        run_under_mocks(lambda: aws.s3.Bucket("loose").arn)


def test_an_invoke_on_the_default_provider_fails_as_in_the_stacks() -> None:
    with pytest.raises(
        Exception, match=r"getCallerIdentity:getCallerIdentity' has no explicit provider"
    ):
        run_under_mocks(lambda: aws.get_caller_identity_output().account_id)


def test_invokes_get_realistic_answers() -> None:
    answers = {}

    def program():
        provider = aws.Provider("aws", region="eu-west-1")
        opts = pulumi.InvokeOptions(provider=provider)
        answers["zones"] = aws.get_availability_zones(state="available", opts=opts).names
        answers["account"] = aws.get_caller_identity(opts=opts).account_id
        answers["partition"] = aws.get_partition(opts=opts).partition

    run_under_mocks(program)
    assert answers == {
        "zones": [f"eu-west-1{letter}" for letter in "abcdef"],
        "account": "123456789012",
        "partition": "aws",
    }


def test_an_unknown_invoke_fails_loudly() -> None:
    def program():
        provider = aws.Provider("aws", region="eu-west-1")
        aws.ec2.get_vpc(default=True, opts=pulumi.InvokeOptions(provider=provider))

    with pytest.raises(Exception, match=r"no answer for the invoke 'aws:ec2/getVpc:getVpc'"):
        run_under_mocks(program)


def test_numbers_come_back_as_written() -> None:
    assert normalize({"a": [30.0, 0.5], "b": {"c": 7.0}}) == {"a": [30, 0.5], "b": {"c": 7}}


def test_stack_files_flatten_like_the_cli_passes_them() -> None:
    flat = flatten_stack_file(
        {"config": {"p:a": {"x": 1}, "p:b": [1], "p:c": True, "p:d": 30, "p:e": "s"}}
    )
    assert flat == {"p:a": '{"x": 1}', "p:b": "[1]", "p:c": "true", "p:d": "30", "p:e": "s"}


def test_secrets_cannot_be_planned_offline() -> None:
    with pytest.raises(ValueError, match="p:token: secrets cannot be decrypted offline"):
        flatten_stack_file({"config": {"p:token": {"secure": "AAAB"}}})
