"""The command line, run in-process against moto: exit statuses, JSON on stdout, errors on stderr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.workloads.dummy_credentials import use_no_aws_configuration
from tests.workloads.ops.conftest import (
    CONFIG,
    IMAGE,
    KMS_KEY,
    ROLE_ARN,
    create_model,
    dev_stack,
    weights_of,
)
from workloads.ops.cli import main
from workloads.ops.registry import register_model_version


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    """Exit status, stdout parsed as JSON (None when empty), and stderr."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, json.loads(out) if out else None, err


def register(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, Any, str]:
    """``register`` the scorer's model (CSV in and out) in group scorer-models, as :func:`run`.

    ``extra`` are further options (approval status, group creation, metadata).
    """
    return run(
        capsys, "register", "--group", "scorer-models", "--image", IMAGE,
        "--model-data", "s3://models/scorer/model.tar.gz", "--content-type", "text/csv",
        "--response-type", "text/csv", *extra,
    )  # fmt: skip


def batch_transform(
    capsys: pytest.CaptureFixture[str], input_uri: str, *extra: str
) -> tuple[int, Any, str]:
    """``batch-transform`` with model scorer from ``input_uri`` to s3://data/out/, as :func:`run`.

    Output and volume encrypted with the test key, on ml.m5.large; ``extra`` are further options.
    """
    return run(
        capsys, "batch-transform", "--model", "scorer", "--input", input_uri,
        "--output", "s3://data/out/", "--kms-key", KMS_KEY, "--instance-type", "ml.m5.large",
        *extra,
    )  # fmt: skip


def test_promote_prints_the_shift(
    capsys: pytest.CaptureFixture[str], sagemaker: Any, endpoint: str
) -> None:
    # given blue 90 / green 10
    # when
    status, output, err = run(capsys, "promote", "--endpoint", endpoint, "--canary", "green")
    # then
    assert (status, err) == (0, "")
    assert output == {
        "endpoint_name": "serving",
        "previous_weights": {"blue": 90.0, "green": 10.0},
        "new_weights": {"blue": 0.0, "green": 1.0},
        "status": None,
    }
    assert weights_of(sagemaker) == {"blue": 0.0, "green": 1.0}


def test_promote_can_wait(capsys: pytest.CaptureFixture[str], endpoint: str) -> None:
    # given / when (moto's endpoint is InService at once, so nothing really waits)
    status, output, _ = run(
        capsys, "promote", "--endpoint", endpoint, "--canary", "green", "--wait", "--timeout", "5"
    )
    # then
    assert status == 0
    assert output["status"] == "InService"


def test_rollback_restores_the_declared_weights(
    capsys: pytest.CaptureFixture[str], sagemaker: Any, endpoint: str
) -> None:
    # given a promoted canary
    run(capsys, "promote", "--endpoint", endpoint, "--canary", "green")
    # when
    status, output, _ = run(capsys, "rollback", "--endpoint", endpoint, "--canary", "green")
    # then
    assert status == 0
    assert output["new_weights"] == {"blue": 90.0, "green": 0.0}
    assert weights_of(sagemaker) == {"blue": 90.0, "green": 0.0}


def test_shift_takes_repeated_weights(
    capsys: pytest.CaptureFixture[str], sagemaker: Any, endpoint: str
) -> None:
    # given / when
    status, output, _ = run(
        capsys, "shift", "--endpoint", endpoint, "--weight", "blue=75", "--weight", "green=25"
    )
    # then
    assert status == 0
    assert output["new_weights"] == {"blue": 75.0, "green": 25.0}
    assert weights_of(sagemaker) == {"blue": 75.0, "green": 25.0}


def test_a_refused_operation_exits_1_with_the_message_and_no_traceback(
    capsys: pytest.CaptureFixture[str], sagemaker: Any, endpoint: str
) -> None:
    # given / when
    status, output, err = run(capsys, "shift", "--endpoint", endpoint, "--weight", "red=10")
    # then
    assert (status, output) == (1, None)
    assert (
        err
        == "error: Cannot shift traffic on endpoint 'serving': unknown variant 'red' (the endpoint has 'blue', 'green')\n"
    )
    assert weights_of(sagemaker) == {"blue": 90.0, "green": 10.0}


def test_a_missing_endpoint_exits_1(capsys: pytest.CaptureFixture[str], aws: None) -> None:
    # given / when
    status, _, err = run(capsys, "verify", "--endpoint", "absent")
    # then
    assert (status, err) == (1, "error: Endpoint 'absent' not found\n")


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["deploy"], "invalid choice: 'deploy'"),
        (["promote", "--canary", "green"], "the following arguments are required: --endpoint"),
        (["shift", "--endpoint", "serving", "--weight", "blue"], "expected KEY=VALUE, got 'blue'"),
        (
            ["shift", "--endpoint", "serving", "--weight", "blue=lots"],
            "weight of 'blue' is not a number: 'lots'",
        ),
        (
            ["verify", "--endpoint", "serving", "--wait", "--timeout", "0"],
            "must be positive, got '0'",
        ),
        (["register", "--group", "g"], "the following arguments are required: --image"),
        (["batch-transform", "--model", "m"], "the following arguments are required: --input"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    capsys: pytest.CaptureFixture[str], argv: list[str], complaint: str
) -> None:
    # given / when
    status, output, err = run(capsys, *argv)
    # then
    assert (status, output) == (2, None)
    assert complaint in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    # given / when
    status = main(["--help"])
    # then
    assert status == 0
    assert "batch-transform" in capsys.readouterr().out


def test_an_unknown_profile_exits_1(capsys: pytest.CaptureFixture[str], aws: None) -> None:
    # given / when
    status, _, err = run(capsys, "verify", "--endpoint", "serving", "--profile", "nope")
    # then
    assert (status, err) == (1, "error: The config profile (nope) could not be found\n")


def test_verify_exits_0_on_a_good_deployment(
    capsys: pytest.CaptureFixture[str], endpoint: str
) -> None:
    # given / when
    status, output, err = run(
        capsys, "verify", "--endpoint", endpoint, "--expected-config", CONFIG,
        "--expected-weight", "blue=90", "--expected-weight", "green=10",
    )  # fmt: skip
    # then
    assert (status, err) == (0, "")
    assert output["ok"] is True
    assert output["problems"] == []


def test_verify_exits_1_and_lists_problems(
    capsys: pytest.CaptureFixture[str], endpoint: str
) -> None:
    # given / when
    status, output, err = run(
        capsys, "verify", "--endpoint", endpoint, "--expected-config", "serving-config-2"
    )
    # then
    problem = "endpoint config is 'serving-config-1', expected 'serving-config-2' (SageMaker may have rolled the update back)"
    assert status == 1
    assert output["ok"] is False
    assert output["problems"] == [problem]
    assert err == f"problem: endpoint 'serving': {problem}\n"


def test_register_prints_the_package_arn(
    capsys: pytest.CaptureFixture[str], sagemaker: Any
) -> None:
    # given no group yet
    # when
    status, output, _ = register(
        capsys, "--approval-status", "Approved", "--create-group", "--metadata", "git_commit=abc123"
    )
    # then
    assert status == 0
    assert output == {
        "model_package_group_name": "scorer-models",
        "model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/scorer-models/1",
    }
    package = sagemaker.describe_model_package(ModelPackageName=output["model_package_arn"])
    assert package["CustomerMetadataProperties"] == {"git_commit": "abc123"}


def test_register_without_a_group_exits_1(capsys: pytest.CaptureFixture[str], aws: None) -> None:
    # given no group / when
    status, _, err = register(capsys)
    # then
    assert status == 1
    assert err.startswith(
        "error: Cannot register a model version in group 'scorer-models': the model package group does not exist"
    )


def test_batch_transform_prints_the_job_name(
    capsys: pytest.CaptureFixture[str], sagemaker: Any
) -> None:
    # given a model
    create_model(sagemaker)
    # when
    status, output, _ = batch_transform(capsys, "s3://data/in/", "--job-name", "scoring-1")
    # then
    assert status == 0
    assert output == {"transform_job_name": "scoring-1", "model_name": "scorer"}
    job = sagemaker.describe_transform_job(TransformJobName="scoring-1")
    assert job["TransformOutput"]["KmsKeyId"] == KMS_KEY
    assert job["TransformResources"]["VolumeKmsKeyId"] == KMS_KEY


def test_batch_transform_refuses_a_local_path(
    capsys: pytest.CaptureFixture[str], sagemaker: Any
) -> None:
    # given a model
    create_model(sagemaker)
    # when
    status, _, err = batch_transform(capsys, "./data")
    # then
    assert status == 1
    assert (
        err
        == "error: Cannot start batch transform with model 'scorer': input must be an s3://bucket/key URI, got './data'\n"
    )


def churn_versions(sagemaker: Any, count: int = 2) -> None:
    """mlp-dev-churn with ``count`` pending versions."""
    sagemaker.create_model_package_group(ModelPackageGroupName="mlp-dev-churn")
    for _ in range(count):
        register_model_version(
            "mlp-dev-churn", IMAGE, "s3://models/churn.tar.gz", ["text/csv"], ["text/csv"],
            client=sagemaker,
        )  # fmt: skip


def test_promote_a_version_into_the_stack_file(
    capsys: pytest.CaptureFixture[str], sagemaker: Any, tmp_path: Path
) -> None:
    # given blue pinned to version 1 in a copy of the dev stack
    churn_versions(sagemaker)
    stack = dev_stack(tmp_path, blue="model: {group: churn, version: 1}")
    # when
    status, output, err = run(
        capsys, "promote", "--group", "mlp-dev-churn", "--version", "2", "--reason", "AUC 0.91",
        "--stack-file", str(stack), "--endpoint", "churn", "--variant", "blue",
    )  # fmt: skip
    # then
    assert (status, err) == (0, "")
    assert (output["status"], output["previous_version"], output["stack_file_written"]) == (
        "Approved",
        1,
        True,
    )
    assert "model: {group: churn, version: 2}" in stack.read_text()


def test_promote_with_a_stack_name_prints_the_command(
    capsys: pytest.CaptureFixture[str], sagemaker: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    # given Pulumi.dev.yaml here
    churn_versions(sagemaker)
    dev_stack(tmp_path, blue="model: {group: churn, version: 1}")
    monkeypatch.chdir(tmp_path)
    # when
    status, output, _ = run(
        capsys, "promote", "--group", "mlp-dev-churn", "--version", "2", "--reason", "AUC 0.91",
        "--stack", "dev", "--endpoint", "churn", "--variant", "blue",
    )  # fmt: skip
    # then
    assert status == 0
    assert output["config_command"] == (
        "pulumi config set --stack dev --path 'serving.endpoints[0].variants[0].model.version' 2"
    )


def test_reject_refuses_a_deployed_version_with_exit_1(
    capsys: pytest.CaptureFixture[str], sagemaker: Any
) -> None:
    # given version 1 deployed on endpoint serving (variant blue)
    churn_versions(sagemaker, count=1)
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlp-dev-churn/1"
    sagemaker.create_model(
        ModelName="churn-1", ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"ModelPackageName": arn}
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="churn-config",
        ProductionVariants=[
            {"VariantName": "blue", "ModelName": "churn-1", "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large"}
        ],
    )  # fmt: skip
    sagemaker.create_endpoint(EndpointName="churn", EndpointConfigName="churn-config")
    # when
    status, output, err = run(
        capsys, "reject", "--group", "mlp-dev-churn", "--version", "1", "--reason", "leak"
    )
    # then
    assert (status, output) == (1, None)
    assert err == (
        "error: Cannot reject version 1 of model package group 'mlp-dev-churn': it is deployed"
        " on endpoint 'churn' variant 'blue' (config 'churn-config', model 'churn-1');"
        " move those variants to another version first\n"
    )


def test_reject_an_undeployed_version(capsys: pytest.CaptureFixture[str], sagemaker: Any) -> None:
    # given
    churn_versions(sagemaker, count=1)
    # when
    status, output, _ = run(
        capsys, "reject", "--group", "mlp-dev-churn", "--version", "1", "--reason", "leak"
    )
    # then
    assert (status, output["status"], output["reason"]) == (0, "Rejected", "leak")


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["promote", "--endpoint", "e"], "the following arguments are required: --canary"),
        (
            ["promote", "--endpoint", "e", "--canary", "green", "--version", "2"],
            "--version go with --group (approving a registered version)",
        ),
        (
            ["promote", "--group", "g", "--canary", "green", "--version", "1", "--reason", "r"],
            "--canary and --wait promote a canary's traffic, not a registered version (--group)",
        ),
        (["promote", "--group", "g"], "the following arguments are required: --version, --reason"),
        (["promote", "--group", "g", "--version", "0", "--reason", "r"], "must be positive"),
        (
            ["promote", "--group", "g", "--version", "1", "--reason", "r", "--endpoint", "e"],
            "--endpoint and --variant go together",
        ),
        (
            ["promote", "--group", "g", "--version", "1", "--reason", "r", "--endpoint", "e",
             "--variant", "v"],
            "with --endpoint and --variant pass one of --stack-file (edit) or --stack (print)",
        ),
        (
            ["promote", "--group", "g", "--version", "1", "--reason", "r", "--stack", "dev"],
            "--stack-file and --stack need --endpoint and --variant",
        ),
        (["reject", "--group", "g", "--version", "1"], "required: --reason"),
    ],
)  # fmt: skip
def test_promote_and_reject_argument_mistakes_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], complaint: str
) -> None:
    # given / when
    status, output, err = run(capsys, *argv)
    # then
    assert (status, output) == (2, None)
    assert complaint in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["shift", "--endpoint", "churn", "--weight", "blue=1", "--region", "us-east-1"],
            "error: shift failed: no AWS credentials found; pass --profile (or set AWS_PROFILE), "
            "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n",
        ),
        (
            ["verify", "--endpoint", "churn", "--region", "us-east-1"],
            "error: verify failed: no AWS credentials found; pass --profile (or set AWS_PROFILE), "
            "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n",
        ),
    ],
)
def test_without_credentials_a_command_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    argv: list[str],
    message: str,
) -> None:
    # given no credentials anywhere boto looks (environment, files, instance metadata)
    use_no_aws_configuration(monkeypatch, tmp_path)
    # when a command calls AWS
    status, out, err = run(capsys, *argv)
    # then it fails with one line naming the command and what to do, no traceback
    assert (status, out, err) == (1, None, message)
