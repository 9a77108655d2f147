"""The strict request checks: what botocore's own validation skips, Java patterns, the boto3 hook.

given a request or a model pattern / when it is checked / then every broken member is named by
its path with what is wrong, and nothing valid is refused.
"""

from __future__ import annotations

import contextlib
import unicodedata
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber
from botocore.validate import ParamValidator
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from tests.service_models import (
    SKIPPED_PATTERNS,
    RequestError,
    StrictParamValidationError,
    StrictRequests,
    check_request,
    operation,
    python_pattern,
    request_problems,
)
from tests.workloads.dummy_credentials import use_dummy_credentials

ROLE = "arn:aws:iam::123456789012:role/training"


def training_job(**changes: Any) -> dict[str, Any]:
    """A valid CreateTrainingJob request with some members replaced."""
    request: dict[str, Any] = {
        "TrainingJobName": "mlp-dev-churn",
        "AlgorithmSpecification": {
            "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/training:1",
            "TrainingInputMode": "File",
        },
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": "s3://models/training/"},
        "ResourceConfig": {
            "InstanceType": "ml.m5.large",
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "HyperParameters": {"epochs": "5"},
    }
    request.update(changes)
    return request


def problems(request: dict[str, Any]) -> list[str]:
    return request_problems(operation("sagemaker", "CreateTrainingJob").input_shape, request)


# --------------------------------------------------------------------------------------------
# requests
# --------------------------------------------------------------------------------------------


def test_a_valid_request_has_no_problem() -> None:
    assert problems(training_job()) == []


def test_a_too_long_name_is_refused_though_botocore_lets_it_through() -> None:
    # given a job name one character over the model's maximum of 63
    request = training_job(TrainingJobName="j" * 50 + "-" + "k" * 13)
    shape = operation("sagemaker", "CreateTrainingJob").input_shape
    # when botocore validates it / then it finds nothing
    assert not ParamValidator().validate(request, shape).has_errors()
    # when the strict checks do / then the length is named
    assert problems(request) == [
        "TrainingJobName: 'jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj-kkkkk... has length 64, "
        "more than the maximum 63"
    ]


def test_unknown_missing_and_mistyped_members_are_named_by_path() -> None:
    request = training_job(
        AlgorithmSpecification={"TrainingImag": "x", "TrainingInputMode": "File"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": "1", "VolumeSizeInGB": 30},
    )
    del request["RoleArn"]
    assert problems(request) == [
        "RoleArn: missing required member",
        "AlgorithmSpecification.TrainingImag: unknown member",
        "ResourceConfig.InstanceCount: expected an integer, got str '1'",
    ]


def test_a_wrong_enum_value_is_refused() -> None:
    request = training_job(
        AlgorithmSpecification={"TrainingImage": "image:1", "TrainingInputMode": "Files"}
    )
    assert problems(request) == [
        "AlgorithmSpecification.TrainingInputMode: 'Files' is not one of Pipe, File, FastFile"
    ]


def test_a_pattern_violation_is_refused_on_the_whole_value() -> None:
    # given a role ARN with a valid ARN inside it (AWS matches the whole value)
    request = training_job(RoleArn=f" {ROLE}")
    assert problems(request) == [
        f"RoleArn: ' {ROLE}' does not match the pattern "
        r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
    ]


def test_list_and_map_sizes_and_number_bounds_are_checked() -> None:
    request = training_job(
        VpcConfig={"SecurityGroupIds": ["sg-1"], "Subnets": [f"subnet-{i}" for i in range(17)]},
        HyperParameters={f"h{i}": "1" for i in range(101)},
        StoppingCondition={"MaxRuntimeInSeconds": 0},
    )
    assert problems(request) == [
        "StoppingCondition.MaxRuntimeInSeconds: value 0, less than the minimum 1",
        "HyperParameters: map has size 101, more than the maximum 100",
        "VpcConfig.Subnets: list has length 17, more than the maximum 16",
    ]


def test_large_bounds_and_fractions_are_written_out() -> None:
    shape = operation("sagemaker", "CreatePipeline").input_shape
    request = {
        "PipelineName": "mlp-dev-churn",
        "RoleArn": ROLE,
        "PipelineDefinition": "x" * 1048577,
        "ParallelismConfiguration": {"MaxParallelExecutionSteps": 0.5},
    }
    assert request_problems(shape, request) == [
        "PipelineDefinition: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... has length "
        "1048577, more than the maximum 1048576",
        "ParallelismConfiguration.MaxParallelExecutionSteps: expected an integer, got float 0.5",
    ]


def test_check_request_raises_one_line_naming_the_operation() -> None:
    with pytest.raises(RequestError) as raised:
        check_request("sagemaker", "CreateTrainingJob", training_job(EnableManagedSpotTraining=1))
    assert str(raised.value) == (
        "CreateTrainingJob: EnableManagedSpotTraining: expected a boolean, got int 1"
    )


def test_an_idempotency_token_may_be_left_to_the_caller() -> None:
    # given StartPipelineExecution, whose ClientRequestToken is required but filled by botocore
    shape = operation("sagemaker", "StartPipelineExecution").input_shape
    assert "ClientRequestToken" in shape.required_members
    # then leaving it out is no problem
    assert request_problems(shape, {"PipelineName": "mlp-dev-churn"}) == []


# --------------------------------------------------------------------------------------------
# Java patterns
# --------------------------------------------------------------------------------------------


def compiled(java: str) -> Any:
    pattern = python_pattern(java)
    assert pattern is not None, SKIPPED_PATTERNS.get(java)
    return pattern


def test_unicode_property_classes_are_translated() -> None:
    tag = compiled(r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)")
    assert tag.fullmatch("Équipe 42 données")
    assert tag.fullmatch("a;b") is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=8))
def test_a_letter_class_matches_exactly_the_unicode_letters(text: str) -> None:
    letters = compiled(r"\p{L}*")
    is_letters = all(unicodedata.category(char).startswith("L") for char in text)
    assert (letters.fullmatch(text) is not None) == is_letters


def test_posix_classes_are_ascii_as_in_java() -> None:
    printable = compiled(r"\p{Print}+")
    assert printable.fullmatch("abc ~!")
    assert printable.fullmatch("é") is None
    assert compiled(r"\w+").fullmatch("é") is None  # Java's \w is ASCII-only too


def test_utf16_surrogate_pairs_become_code_points() -> None:
    text = compiled(r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*")
    assert text.fullmatch("emoji \U0001f600 ok")
    assert text.fullmatch("bell \x07") is None


def test_a_hyphen_after_a_class_escape_is_a_literal() -> None:
    assert compiled(r"[\w-_]*").fullmatch("a-b_c")


def test_java_end_anchors() -> None:
    assert compiled(r"\Aab\z").fullmatch("ab")
    assert python_pattern(r"ab\z").search("ab\n") is None  # \z: the very end
    assert python_pattern(r"ab\Z").search("ab\n")  # \Z: before a final line terminator


def test_untranslatable_patterns_are_skipped_with_their_reason() -> None:
    # given constructs Python's re has no equivalent for
    nested, intersection = "[a-z[0-9]]+", "[a-z&&[^aeiou]]+"
    # when / then they are not checked, and each is listed with why
    assert python_pattern(nested) is None
    assert python_pattern(intersection) is None
    assert SKIPPED_PATTERNS[nested] == "nested character class"
    assert SKIPPED_PATTERNS[intersection] == "character class intersection &&"


def test_every_pattern_of_the_services_we_call_is_checked_but_two() -> None:
    # given every pattern of the services the platform and its workloads call
    session = botocore.session.get_session()
    services = (
        "sagemaker",
        "scheduler",
        "s3",
        "cloudwatch",
        "sagemaker-featurestore-runtime",
        "sagemaker-runtime",
        "application-autoscaling",
    )
    skipped = set()
    for service in services:
        model = session.get_service_model(service)
        for name in model.shape_names:
            pattern = model.shape_for(name).metadata.get("pattern")
            if pattern is not None and python_pattern(pattern) is None:
                skipped.add((service, name, SKIPPED_PATTERNS[pattern]))
    # then only two SageMaker model-package metadata patterns are skipped (each quantifies "$",
    # which Python refuses), and they are listed
    assert skipped == {
        ("sagemaker", "CustomerMetadataKey", "Python's re refuses it: nothing to repeat"),
        ("sagemaker", "CustomerMetadataValue", "Python's re refuses it: nothing to repeat"),
    }


# --------------------------------------------------------------------------------------------
# the hook on every botocore call of a test
# --------------------------------------------------------------------------------------------


@pytest.fixture
def sagemaker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    use_dummy_credentials(monkeypatch, tmp_path, "us-east-1")
    return boto3.client("sagemaker")


def test_the_hook_checks_every_call_after_botocore(
    sagemaker: Any, strict_requests: StrictRequests
) -> None:
    # given a stubbed client and a call that botocore accepts but AWS refuses
    with Stubber(sagemaker) as stub:
        stub.add_response("list_pipelines", {"PipelineSummaries": []})
        stub.add_client_error("describe_training_job")
        # when a valid call is made / then it reaches the stub
        assert sagemaker.list_pipelines(MaxResults=10) == {"PipelineSummaries": []}
        # when an invalid one is / then it fails naming the service, operation and member
        with pytest.raises(StrictParamValidationError) as raised:
            sagemaker.describe_training_job(TrainingJobName="bad_name")
    message = (
        "sagemaker.DescribeTrainingJob: TrainingJobName: 'bad_name' does not match the pattern "
        "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
    )
    assert str(raised.value) == f"Strict parameter validation failed: {message}"
    assert strict_requests.checked == ["sagemaker.ListPipelines", "sagemaker.DescribeTrainingJob"]
    # and the failure is kept for the test's end even if the code had caught it
    assert strict_requests.failures == [message]
    strict_requests.failures.clear()  # this test wanted it


def test_a_refused_call_is_reported_at_the_end_of_the_test_even_if_caught(
    sagemaker: Any, strict_requests: StrictRequests
) -> None:
    # given no refusal yet
    assert strict_requests.report() is None
    # when the code under test swallows a refusal
    with Stubber(sagemaker) as stub:
        stub.add_response("list_pipelines", {"PipelineSummaries": []})
        with contextlib.suppress(ParamValidationError):
            sagemaker.list_pipelines(MaxResults=1000)
    # then the report the fixture fails the test with still names it
    assert strict_requests.report() == (
        "requests AWS would refuse: sagemaker.ListPipelines: MaxResults: value 1000, more than "
        "the maximum 100"
    )
    strict_requests.failures.clear()  # this test wanted it


def test_botocore_s_own_errors_come_first(sagemaker: Any, strict_requests: StrictRequests) -> None:
    with pytest.raises(ParamValidationError) as raised:
        sagemaker.describe_training_job()
    assert not isinstance(raised.value, StrictParamValidationError)
    assert strict_requests.checked == []


def test_the_hook_checks_calls_that_moto_answers(
    sagemaker: Any, strict_requests: StrictRequests
) -> None:
    # given moto in place of AWS
    with mock_aws():
        # when a valid call is made / then moto answers it
        sagemaker.create_model_package_group(ModelPackageGroupName="mlp-dev-churn")
        # when a group name breaks the model's pattern / then the call never reaches moto
        with pytest.raises(StrictParamValidationError):
            sagemaker.create_model_package_group(ModelPackageGroupName="mlp_dev_churn")
        names = [
            group["ModelPackageGroupName"]
            for group in sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
        ]
    assert names == ["mlp-dev-churn"]
    assert strict_requests.failures == [
        "sagemaker.CreateModelPackageGroup: ModelPackageGroupName: 'mlp_dev_churn' does not "
        "match the pattern [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
    ]
    strict_requests.failures.clear()  # this test wanted it
