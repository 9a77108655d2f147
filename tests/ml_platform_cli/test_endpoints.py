"""``ml-platform endpoints``: run as a user runs it, against moto's server (Stubber where moto lacks).

moto puts an endpoint InService at once, never reports an update in progress or a failure, and
answers InvokeEndpoint for any name; those paths run in-process with botocore's Stubber.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ml_platform_cli.main import main
from tests.ml_platform_cli.aws_server import (
    REGION,
    AwsServer,
    create_endpoint,
    dev_stack,
)
from tests.ml_platform_cli.cli_runner import run_cli

ENDPOINT = "mlp-dev-churn"
PACKAGE_ARN = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/mlp-dev-churn/3"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory holding a copy of Pulumi.dev.yaml, where the commands run."""
    directory = tmp_path / "project"
    directory.mkdir()
    dev_stack(directory)
    return directory


@pytest.fixture
def churn(aws: AwsServer) -> Any:
    """mlp-dev-churn in moto: blue (90, registered version 3 of mlp-dev-churn), green (10)."""
    sagemaker = aws.client("sagemaker")
    create_endpoint(sagemaker, ENDPOINT, {"blue": 90, "green": 10}, package_arn=PACKAGE_ARN)
    return sagemaker


def weights_of(sagemaker: Any) -> dict[str, float]:
    """Each variant's current weight as moto reports it."""
    variants = sagemaker.describe_endpoint(EndpointName=ENDPOINT)["ProductionVariants"]
    return {variant["VariantName"]: variant.get("CurrentWeight", 0.0) for variant in variants}


@pytest.mark.parametrize("command", ["status", "verify", "shift", "promote", "rollback", "invoke"])
def test_every_command_has_help_with_examples(command: str) -> None:
    # when
    run = run_cli("endpoints", command, "--help")
    # then
    assert run.exit_code == 0
    # the examples unwrapped, one per line, after click's paragraph marker
    assert f"\n  Examples:\n    ml-platform endpoints {command} " in run.stdout
    assert "\\b" not in run.stdout


def test_status_json_shows_variants_weights_instances_and_models(
    aws: AwsServer, churn: Any, project: Path, tmp_path: Path
) -> None:
    # when
    run = run_cli(
        "endpoints", "status", "churn", "--stack", "dev", "--json",
        cwd=project, env=aws.environment(tmp_path),
    )  # fmt: skip
    # then
    assert run.exit_code == 0, run.stderr
    found = run.json()
    assert (found["endpoint_name"], found["status"], found["endpoint_config_name"]) == (
        ENDPOINT,
        "InService",
        "mlp-dev-churn-config-1",
    )
    assert found["variants"] == [
        {
            "name": "blue",
            "current_weight": 90.0,
            "desired_weight": 90.0,
            "current_instances": 1,
            "desired_instances": 1,
            "instance_type": "ml.m5.large",
            "model_name": "mlp-dev-churn-blue",
            "model_source": "mlp-dev-churn/3",
        },
        {
            "name": "green",
            "current_weight": 10.0,
            "desired_weight": 10.0,
            "current_instances": 1,
            "desired_instances": 1,
            "instance_type": "ml.m5.large",
            "model_name": "mlp-dev-churn-green",
            "model_source": "s3://models/green/model.tar.gz",
        },
    ]
    assert (found["pending_config_name"], found["failure_reason"]) == (None, None)


def test_status_table_names_every_variant_in_full(
    aws: AwsServer, churn: Any, project: Path, tmp_path: Path
) -> None:
    # when
    run = run_cli(
        "endpoints", "status", "mlp-dev-churn", "--region", REGION,
        cwd=project, env=aws.environment(tmp_path),
    )  # fmt: skip
    # then
    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[:3] == [
        "endpoint  mlp-dev-churn",
        "status    InService",
        "config    mlp-dev-churn-config-1",
    ]
    assert "mlp-dev-churn-blue" in run.stdout and "mlp-dev-churn/3" in run.stdout
    assert "s3://models/green/model.tar.gz" in run.stdout


def test_a_missing_endpoint_names_the_resolved_name_region_and_stack(
    aws: AwsServer, project: Path, tmp_path: Path
) -> None:
    # when
    run = run_cli(
        "endpoints", "status", "churn", "--stack", "dev",
        cwd=project, env=aws.environment(tmp_path),
    )  # fmt: skip
    # then
    assert run.exit_code == 1
    assert run.stderr == (
        "ml-platform: error: endpoint 'mlp-dev-churn' not found in us-east-1 (stack dev)\n"
    )


def test_verify_passes_when_the_weights_are_as_expected(
    aws: AwsServer, churn: Any, project: Path, tmp_path: Path
) -> None:
    # when
    run = run_cli(
        "endpoints", "verify", "churn", "--stack", "dev", "--json",
        "--expected-weight", "blue=9", "--expected-weight", "green=1",
        "--expected-config", "mlp-dev-churn-config-1",
        cwd=project, env=aws.environment(tmp_path),
    )  # fmt: skip
    # then
    assert run.exit_code == 0, run.stderr
    assert run.json() == {
        "endpoint_name": ENDPOINT,
        "ok": True,
        "status": "InService",
        "endpoint_config_name": "mlp-dev-churn-config-1",
        "weights": {"blue": 90.0, "green": 10.0},
        "problems": [],
    }


def test_verify_lists_every_problem_and_exits_1(
    aws: AwsServer, churn: Any, project: Path, tmp_path: Path
) -> None:
    # when
    run = run_cli(
        "endpoints", "verify", "churn", "--stack", "dev", "--expected-weight", "blue=1",
        "--expected-config", "mlp-dev-churn-config-2",
        cwd=project, env=aws.environment(tmp_path),
    )  # fmt: skip
    # then
    assert run.exit_code == 1
    assert run.stderr.splitlines() == [
        "problem: endpoint 'mlp-dev-churn': endpoint config is 'mlp-dev-churn-config-1',"
        " expected 'mlp-dev-churn-config-2' (SageMaker may have rolled the update back)",
        "problem: endpoint 'mlp-dev-churn': variant 'blue' carries 90% of traffic, expected 100%",
        "problem: endpoint 'mlp-dev-churn': variant 'green' carries 10% of traffic, expected 0%",
        "ml-platform: error: endpoint 'mlp-dev-churn' failed verification (3 problems)",
    ]
    assert "weights   blue=90, green=10" in run.stdout


def test_shift_sets_the_named_weights_and_keeps_the_others(
    aws: AwsServer, churn: Any, project: Path, tmp_path: Path
) -> None:
    # when
    run = run_cli(
        "endpoints", "shift", "churn", "blue=50", "--stack", "dev", "--json",
        cwd=project, env=aws.environment(tmp_path),
    )  # fmt: skip
    # then
    assert run.exit_code == 0, run.stderr
    assert run.json() == {
        "endpoint_name": ENDPOINT,
        "previous_weights": {"blue": 90.0, "green": 10.0},
        "new_weights": {"blue": 50.0, "green": 10.0},
        "status": None,
    }
    assert weights_of(churn) == {"blue": 50.0, "green": 10.0}


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (
            ["blue"],
            "Invalid value for VARIANT=WEIGHT: expected KEY=VALUE, got 'blue'",
        ),
        (
            ["blue=lots"],
            "Invalid value for VARIANT=WEIGHT: the weight of 'blue' is not a number: 'lots'",
        ),
        ([], "Missing argument 'VARIANT=WEIGHT...'."),
    ],
)
def test_shift_refuses_malformed_weights_as_usage_errors(
    weights: list[str], message: str, tmp_path: Path
) -> None:
    # when
    run = run_cli("endpoints", "shift", "mlp-dev-churn", *weights)
    # then
    assert run.exit_code == 2
    assert run.stderr == (
        f"ml-platform: error: {message} (see `ml-platform endpoints shift --help`)\n"
    )


def test_shift_to_an_unknown_variant_changes_nothing(
    aws: AwsServer, churn: Any, project: Path, tmp_path: Path
) -> None:
    # when
    run = run_cli(
        "endpoints", "shift", "churn", "purple=5", "--stack", "dev",
        cwd=project, env=aws.environment(tmp_path),
    )  # fmt: skip
    # then
    assert run.exit_code == 1
    assert run.stderr == (
        "ml-platform: error: Cannot shift traffic on endpoint 'mlp-dev-churn': unknown variant"
        " 'purple' (the endpoint has 'blue', 'green')\n"
    )
    assert weights_of(churn) == {"blue": 90.0, "green": 10.0}


def test_promote_sends_all_traffic_to_the_canary(
    aws: AwsServer, churn: Any, project: Path, tmp_path: Path
) -> None:
    # when
    run = run_cli(
        "endpoints", "promote", "churn", "--canary", "green", "--stack", "dev",
        cwd=project, env=aws.environment(tmp_path),
    )  # fmt: skip
    # then
    assert run.exit_code == 0, run.stderr
    assert weights_of(churn) == {"blue": 0.0, "green": 1.0}
    assert "mlp-dev-churn (updating)" in run.stdout


def test_rollback_gives_the_others_their_declared_weights(
    aws: AwsServer, churn: Any, project: Path, tmp_path: Path
) -> None:
    # given the canary promoted
    churn.update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT,
        DesiredWeightsAndCapacities=[
            {"VariantName": "blue", "DesiredWeight": 0.0},
            {"VariantName": "green", "DesiredWeight": 1.0},
        ],
    )
    # when
    run = run_cli(
        "endpoints", "rollback", "churn", "--canary", "green", "--stack", "dev", "--json",
        cwd=project, env=aws.environment(tmp_path),
    )  # fmt: skip
    # then
    assert run.exit_code == 0, run.stderr
    assert run.json()["new_weights"] == {"blue": 90.0, "green": 0.0}
    assert weights_of(churn)["blue"] == 90.0


def test_invoke_prints_the_answer_and_json_names_the_variant(
    aws: AwsServer, churn: Any, project: Path, tmp_path: Path
) -> None:
    # given the answers the endpoint will give
    answer = {
        "Body": '{"predictions": ["yes"]}',
        "ContentType": "application/json",
        "InvokedProductionVariant": "green",
        "CustomAttributes": "",
    }
    aws.queue_invocation_results(answer, {**answer, "Body": "yes\n", "ContentType": "text/csv"})
    rows = project / "rows.csv"
    rows.write_text("12,70.5\n")
    # when
    plain = run_cli(
        "endpoints", "invoke", "churn", "--stack", "dev", "--body", '{"instances": [[12, 70.5]]}',
        cwd=project, env=aws.environment(tmp_path),
    )  # fmt: skip
    wrapped = run_cli(
        "endpoints", "invoke", "churn", "--stack", "dev", "--file", str(rows),
        "--content-type", "text/csv", "--variant", "green", "--json",
        cwd=project, env=aws.environment(tmp_path),
    )  # fmt: skip
    # then
    assert (plain.exit_code, plain.stdout) == (0, '{"predictions": ["yes"]}\n')
    assert wrapped.exit_code == 0, wrapped.stderr
    assert wrapped.json() == {
        "endpoint_name": ENDPOINT,
        "variant": "green",
        "content_type": "text/csv",
        "body": "yes\n",
    }


@pytest.mark.parametrize(
    "body_options", [[], ["--body", "{}", "--file", "rows.csv"]], ids=["neither", "both"]
)
def test_invoke_needs_exactly_one_of_body_and_file(body_options: list[str]) -> None:
    # when
    run = run_cli("endpoints", "invoke", "mlp-dev-churn", *body_options)
    # then
    assert run.exit_code == 2
    assert run.stderr == (
        "ml-platform: error: pass the request as one of --body TEXT or --file PATH"
        " (see `ml-platform endpoints invoke --help`)\n"
    )


def test_no_region_is_one_line_exit_1(aws: AwsServer, tmp_path: Path) -> None:
    # given no stack, no --region and no AWS_REGION
    # when
    run = run_cli("endpoints", "status", "churn", env=aws.environment(tmp_path))
    # then
    assert run.exit_code == 1
    assert run.stderr == (
        "ml-platform: error: no AWS region configured; pass --region or --stack,"
        " or set AWS_DEFAULT_REGION\n"
    )


def test_no_credentials_is_one_line_exit_1(project: Path, tmp_path: Path) -> None:
    # given no AWS configuration at all
    from tests.workloads.dummy_credentials import environment_without_aws

    environment = environment_without_aws(tmp_path) | {"PYTHONPATH": str(Path.cwd())}
    # when
    run = run_cli("endpoints", "status", "churn", "--stack", "dev", cwd=project, env=environment)
    # then
    assert run.exit_code == 1
    assert run.stderr == (
        "ml-platform: error: no AWS credentials found; pass --profile (or set AWS_PROFILE),"
        " or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n"
    )


# In-process, with botocore's Stubber: what moto cannot show.


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, Stubber]]:
    """Every SageMaker and SageMaker runtime client the command makes is a stubbed one."""
    from tests.workloads.dummy_credentials import use_dummy_credentials

    use_dummy_credentials(monkeypatch, tmp_path, REGION)
    clients = {
        service: boto3.client(service, region_name=REGION)
        for service in ("sagemaker", "sagemaker-runtime")
    }
    stubbers = {service: Stubber(client) for service, client in clients.items()}
    monkeypatch.setattr(boto3.Session, "client", lambda _, service, **__: clients[service])
    for stubber in stubbers.values():
        stubber.activate()
    yield stubbers
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()
        stubber.deactivate()


def test_status_shows_an_update_in_progress_and_a_failure_reason(
    stubbed: dict[str, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    # given an endpoint updating to a new config after a failed one
    from datetime import UTC, datetime

    when = datetime(2026, 12, 1, tzinfo=UTC)
    sagemaker = stubbed["sagemaker"]
    sagemaker.add_response(
        "describe_endpoint",
        {
            "EndpointName": ENDPOINT,
            "EndpointArn": f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/{ENDPOINT}",
            "EndpointConfigName": "mlp-dev-churn-config-1",
            "EndpointStatus": "Updating",
            "FailureReason": "The primary container for production variant green did not pass"
            " the ping health check.",
            "CreationTime": when,
            "LastModifiedTime": when,
            "ProductionVariants": [
                {
                    "VariantName": "blue",
                    "CurrentWeight": 1.0,
                    "DesiredWeight": 1.0,
                    "CurrentInstanceCount": 1,
                    "DesiredInstanceCount": 2,
                }
            ],
            "PendingDeploymentSummary": {
                "EndpointConfigName": "mlp-dev-churn-config-2",
                "ProductionVariants": [
                    {
                        "VariantName": "blue",
                        "VariantStatus": [{"Status": "Creating", "StartTime": when}],
                    }
                ],
            },
        },
        {"EndpointName": ENDPOINT},
    )
    sagemaker.add_client_error(
        "describe_endpoint_config",
        "ValidationException",
        "Could not find endpoint configuration.",
        expected_params={"EndpointConfigName": "mlp-dev-churn-config-1"},
    )
    # when
    status = main(["endpoints", "status", ENDPOINT, "--region", REGION])
    # then
    assert status == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[:5] == [
        "endpoint  mlp-dev-churn",
        "status    Updating",
        "config    mlp-dev-churn-config-1",
        "updating  to mlp-dev-churn-config-2 (Creating)",
        "failure   The primary container for production variant green did not pass the ping"
        " health check.",
    ]
    assert printed[-1].split() == ["blue", "│", "1", "│", "1", "->", "2", "│", "serverless",
                                   "│", "-", "│", "-"]  # fmt: skip


def test_invoking_a_missing_endpoint_names_it_and_the_region(
    stubbed: dict[str, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    # given SageMaker's answer for an endpoint that does not exist
    stubbed["sagemaker-runtime"].add_client_error(
        "invoke_endpoint",
        "ValidationException",
        f"Endpoint {ENDPOINT} of account 123456789012 not found.",
        http_status_code=400,
    )
    # when
    status = main(["endpoints", "invoke", ENDPOINT, "--region", REGION, "--body", "{}"])
    # then
    assert status == 1
    assert capsys.readouterr().err == (
        "ml-platform: error: endpoint 'mlp-dev-churn' not found in us-east-1\n"
    )


def test_a_model_error_is_one_line_with_the_code(
    stubbed: dict[str, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    # given the container answering 415
    stubbed["sagemaker-runtime"].add_client_error(
        "invoke_endpoint",
        "ModelError",
        'Received client error (415) from primary with message "unsupported content type".',
        http_status_code=424,
    )
    # when
    status = main(
        ["endpoints", "invoke", ENDPOINT, "--region", REGION, "--file", "-"],
    )
    # then
    assert status == 1
    assert capsys.readouterr().err == (
        "ml-platform: error: InvokeEndpoint on 'mlp-dev-churn' failed: ModelError: Received client"
        ' error (415) from primary with message "unsupported content type".\n'
    )


@pytest.fixture(autouse=True)
def _empty_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process runs read ``--file -`` from an empty stdin, never the terminal."""
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"")))
