"""``ml-platform models``: run as a user runs it, against moto's server and a local MLflow store."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.ml_platform_cli.aws_server import (
    REGION,
    AwsServer,
    create_endpoint,
    dev_stack,
)
from tests.ml_platform_cli.cli_runner import run_cli

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.*")

GROUP = "mlp-dev-churn"
IMAGE = f"123456789012.dkr.ecr.{REGION}.amazonaws.com/serving:1"
GREEN_PINNED = "            model: { group: churn, version: 1 }\n"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scikit-learn model directory (never changed by the tests)."""
    from tests.workloads.inference import models

    directory = tmp_path_factory.mktemp("cli-models") / "churn"
    models.train_sklearn(directory)
    return directory


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory holding a copy of Pulumi.dev.yaml (green deploys churn version 1)."""
    directory = tmp_path / "project"
    directory.mkdir()
    assert GREEN_PINNED in dev_stack(directory).read_text()
    return directory


def register_versions(
    aws: AwsServer, count: int, *, metrics: dict[str, float] | None = None
) -> Any:
    """Group mlp-dev-churn with ``count`` versions (the last with a metrics report); the client."""
    sagemaker = aws.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    for number in range(1, count + 1):
        request: dict[str, Any] = {
            "ModelPackageGroupName": GROUP,
            "InferenceSpecification": {
                "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://models/{number}.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        }
        if metrics is not None and number == count:
            s3 = aws.client("s3")
            s3.create_bucket(Bucket="reports")
            s3.put_object(
                Bucket="reports", Key="churn/evaluation.json", Body=json.dumps({"metrics": metrics})
            )
            request["ModelMetrics"] = {
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": "s3://reports/churn/evaluation.json",
                    }
                }
            }
        sagemaker.create_model_package(**request)
    return sagemaker


def status_of(sagemaker: Any, version: int) -> str:
    """The version's ModelApprovalStatus in moto."""
    arn = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{GROUP}/{version}"
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    # moto leaves the status out until a decision is recorded; SageMaker's default is pending.
    return str(described.get("ModelApprovalStatus", "PendingManualApproval"))


@pytest.mark.parametrize("command", ["package", "register", "list", "promote", "reject"])
def test_every_command_has_help_with_examples(command: str) -> None:
    # when
    run = run_cli("models", command, "--help")
    # then
    assert run.exit_code == 0
    # the examples unwrapped, one per line, after click's paragraph marker
    assert f"\n  Examples:\n    ml-platform models {command} " in run.stdout
    assert "\\b" not in run.stdout


# package


def test_package_writes_the_archive_beside_the_directory(model_dir: Path, tmp_path: Path) -> None:
    # given
    out = tmp_path / "churn.tar.gz"
    # when
    run = run_cli("models", "package", str(model_dir), "--out", str(out), "--json")
    # then
    assert run.exit_code == 0, run.stderr
    packaged = run.json()
    assert packaged["archive"] == str(out)
    assert packaged["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert (packaged["framework"], "s3_uri" in packaged) == ("sklearn", False)


def test_package_uploads_under_the_digest(aws: AwsServer, model_dir: Path, tmp_path: Path) -> None:
    # given a bucket
    aws.client("s3").create_bucket(Bucket="mlp-dev-models")
    # when
    run = run_cli(
        "models", "package", str(model_dir), "--out", str(tmp_path / "churn.tar.gz"),
        "--upload", "s3://mlp-dev-models/churn", "--region", REGION, "--json",
        env=aws.environment(tmp_path),
    )  # fmt: skip
    # then
    assert run.exit_code == 0, run.stderr
    packaged = run.json()
    key = f"churn/{packaged['sha256'][:16]}/model.tar.gz"
    assert (packaged["s3_uri"], packaged["uploaded"]) == (f"s3://mlp-dev-models/{key}", True)
    head = aws.client("s3").head_object(Bucket="mlp-dev-models", Key=key)
    assert head["Metadata"] == {"sha256": packaged["sha256"]}


def test_package_of_a_missing_directory_is_one_line_exit_1(tmp_path: Path) -> None:
    # when
    run = run_cli("models", "package", str(tmp_path / "nothing"))
    # then
    assert run.exit_code == 1
    assert run.stderr == (
        f"ml-platform: error: Cannot package model directory '{tmp_path / 'nothing'}':"
        " does not exist\n"
    )


def test_package_kms_key_without_upload_is_a_usage_error(model_dir: Path) -> None:
    # when
    run = run_cli("models", "package", str(model_dir), "--kms-key-id", "alias/mlp-dev")
    # then
    assert run.exit_code == 2
    assert run.stderr == (
        "ml-platform: error: --kms-key-id is for the upload: pass --upload s3://bucket/prefix too"
        " (see `ml-platform models package --help`)\n"
    )


# register (SageMaker)


def test_register_creates_a_version_in_the_stacks_group(
    aws: AwsServer, project: Path, tmp_path: Path
) -> None:
    # when
    run = run_cli(
        "models", "register", "churn", "--stack", "dev", "--image", IMAGE,
        "--model-data", "s3://mlp-dev-models/churn/0f3a/model.tar.gz", "--create-group",
        "--metadata", "source=test", "--json",
        cwd=project, env=aws.environment(tmp_path),
    )  # fmt: skip
    # then
    assert run.exit_code == 0, run.stderr
    arn = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{GROUP}/1"
    assert run.json() == {"model_package_group_name": GROUP, "version": 1, "model_package_arn": arn}
    package = aws.client("sagemaker").describe_model_package(ModelPackageName=arn)
    assert package["InferenceSpecification"]["SupportedContentTypes"] == [
        "application/json",
        "text/csv",
        "application/x-npy",
    ]
    assert package["CustomerMetadataProperties"] == {"source": "test"}


def test_register_into_a_missing_group_says_how_to_create_it(
    aws: AwsServer, project: Path, tmp_path: Path
) -> None:
    # when
    run = run_cli(
        "models", "register", "churn", "--stack", "dev", "--image", IMAGE,
        "--model-data", "s3://mlp-dev-models/churn/0f3a/model.tar.gz",
        cwd=project, env=aws.environment(tmp_path),
    )  # fmt: skip
    # then
    assert run.exit_code == 1
    assert run.stderr == (
        "ml-platform: error: model package group 'mlp-dev-churn' not found in us-east-1"
        " (stack dev); deploy it with the stack, or pass --create-group\n"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--image", IMAGE], "SageMaker registration needs --model-data (or pass --tracking-uri)"),
        (
            ["--model-dir", "build/models/churn"],
            "--model-dir goes with --tracking-uri (MLflow)",
        ),
        (
            ["--tracking-uri", "sqlite:///x.db", "--image", IMAGE, "--create-group"],
            "--image, --create-group go without --tracking-uri (SageMaker)",
        ),
        (
            ["--tracking-uri", "sqlite:///x.db"],
            "with --tracking-uri pass one of --model-dir or --run-id",
        ),
        (
            ["--image", IMAGE, "--model-data", "s3://b/k", "--metadata", "source"],
            "Invalid value for --metadata: expected KEY=VALUE, got 'source'",
        ),
    ],
)
def test_register_options_of_the_other_registry_are_usage_errors(
    options: list[str], message: str
) -> None:
    # when
    run = run_cli("models", "register", "churn", *options)
    # then
    assert run.exit_code == 2
    assert run.stderr == (
        f"ml-platform: error: {message} (see `ml-platform models register --help`)\n"
    )


# list (SageMaker)


def test_list_shows_versions_newest_first_with_metrics(
    aws: AwsServer, project: Path, tmp_path: Path
) -> None:
    # given two versions, the newer with an evaluation report
    register_versions(aws, 2, metrics={"valid_auc": 0.91, "valid_logloss": 0.3})
    # when
    listed = run_cli(
        "models", "list", "churn", "--stack", "dev", "--json",
        cwd=project, env=aws.environment(tmp_path),
    )  # fmt: skip
    shown = run_cli(
        "models", "list", "churn", "--stack", "dev", cwd=project, env=aws.environment(tmp_path)
    )
    # then
    assert listed.exit_code == 0, listed.stderr
    versions = listed.json()
    assert [(item["version"], item["status"]) for item in versions] == [
        (2, "PendingManualApproval"),
        (1, "PendingManualApproval"),
    ]
    assert versions[0]["metrics"] == {"valid_auc": 0.91, "valid_logloss": 0.3}
    assert versions[0]["metrics_uri"] == "s3://reports/churn/evaluation.json"
    assert (versions[1]["metrics"], versions[1]["metrics_uri"]) == (None, None)
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == GROUP
    assert "valid_auc=0.91, valid_logloss=0.3" in shown.stdout


def test_list_of_a_missing_group_names_it_region_and_stack(
    aws: AwsServer, project: Path, tmp_path: Path
) -> None:
    # when
    run = run_cli(
        "models", "list", "churn", "--stack", "dev", cwd=project, env=aws.environment(tmp_path)
    )
    # then
    assert run.exit_code == 1
    assert run.stderr == (
        "ml-platform: error: model package group 'mlp-dev-churn' not found in us-east-1"
        " (stack dev)\n"
    )


# promote and reject (SageMaker)


def test_promote_approves_and_pins_the_version_in_the_stack_file(
    aws: AwsServer, project: Path, tmp_path: Path
) -> None:
    # given versions 1 and 2; the stack pins green to version 1
    sagemaker = register_versions(aws, 2)
    stack_file = project / "Pulumi.dev.yaml"
    before = stack_file.read_text()
    # when
    run = run_cli(
        "models", "promote", "churn", "2", "--reason", "AUC 0.91", "--stack", "dev", "--json",
        cwd=project, env=aws.environment(tmp_path),
    )  # fmt: skip
    # then
    assert run.exit_code == 0, run.stderr
    promoted = run.json()
    assert (promoted["status"], promoted["previous_version"], promoted["variant"]) == (
        "Approved",
        1,
        "green",
    )
    assert promoted["stack_file_written"] is True
    assert status_of(sagemaker, 2) == "Approved"
    assert stack_file.read_text() == before.replace(
        GREEN_PINNED, "            model: { group: churn, version: 2 }\n"
    )


def test_promote_without_a_stack_only_approves(aws: AwsServer, tmp_path: Path) -> None:
    # given
    sagemaker = register_versions(aws, 1)
    # when
    run = run_cli(
        "models", "promote", GROUP, "1", "--reason", "first", "--region", REGION,
        env=aws.environment(tmp_path),
    )  # fmt: skip
    # then
    assert run.exit_code == 0, run.stderr
    assert run.stdout == "mlp-dev-churn: version 1 Approved (first)\n"
    assert status_of(sagemaker, 1) == "Approved"


def test_promote_of_a_missing_version_changes_nothing(
    aws: AwsServer, project: Path, tmp_path: Path
) -> None:
    # given
    register_versions(aws, 1)
    before = (project / "Pulumi.dev.yaml").read_text()
    # when
    run = run_cli(
        "models", "promote", "churn", "9", "--reason", "r", "--stack", "dev",
        cwd=project, env=aws.environment(tmp_path),
    )  # fmt: skip
    # then
    assert run.exit_code == 1
    assert run.stderr == (
        "ml-platform: error: version 9 of model package group 'mlp-dev-churn' not found in"
        " us-east-1 (stack dev)\n"
    )
    assert (project / "Pulumi.dev.yaml").read_text() == before


def test_promote_asks_which_variant_when_several_deploy_the_group(
    project: Path, tmp_path: Path
) -> None:
    # given blue also deploys churn
    stack_file = project / "Pulumi.dev.yaml"
    text = stack_file.read_text()
    blue = "            model_artifact: churn/v1/model.tar.gz\n"
    stack_file.write_text(text.replace(blue, "            model: { group: churn, version: 1 }\n"))
    # when
    run = run_cli("models", "promote", "churn", "2", "--reason", "r", "--stack", "dev", cwd=project)
    # then
    assert run.exit_code == 2
    assert run.stderr == (
        "ml-platform: error: several variants deploy 'churn' (churn/blue, churn/green): pick one"
        " with --endpoint and --variant (see `ml-platform models promote --help`)\n"
    )


def test_reject_records_the_reason(aws: AwsServer, project: Path, tmp_path: Path) -> None:
    # given
    sagemaker = register_versions(aws, 1)
    # when
    run = run_cli(
        "models", "reject", "churn", "1", "--reason", "AUC fell", "--stack", "dev", "--json",
        cwd=project, env=aws.environment(tmp_path),
    )  # fmt: skip
    # then
    assert run.exit_code == 0, run.stderr
    assert run.json() == {
        "model_package_group_name": GROUP,
        "version": 1,
        "model_package_arn": f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{GROUP}/1",
        "previous_status": "PendingManualApproval",
        "status": "Rejected",
        "reason": "AUC fell",
    }
    assert status_of(sagemaker, 1) == "Rejected"


def test_reject_of_a_deployed_version_is_refused(
    aws: AwsServer, project: Path, tmp_path: Path
) -> None:
    # given version 1 serving on mlp-dev-churn's blue variant
    sagemaker = register_versions(aws, 1)
    arn = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{GROUP}/1"
    create_endpoint(sagemaker, "mlp-dev-churn", {"blue": 1}, package_arn=arn)
    # when
    run = run_cli(
        "models", "reject", "churn", "1", "--reason", "r", "--stack", "dev",
        cwd=project, env=aws.environment(tmp_path),
    )  # fmt: skip
    # then
    assert run.exit_code == 1
    assert run.stderr == (
        "ml-platform: error: Cannot reject version 1 of model package group 'mlp-dev-churn': it"
        " is deployed on endpoint 'mlp-dev-churn' variant 'blue' (config 'mlp-dev-churn-config-1',"
        " model 'mlp-dev-churn-blue'); move those variants to another version first\n"
    )
    assert status_of(sagemaker, 1) == "PendingManualApproval"


# MLflow (--tracking-uri)


@pytest.fixture
def store(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URI of an empty SQLite MLflow store of this test's own."""
    from tests.workloads.training.samples import mlflow_store

    return mlflow_store(tmp_path / "mlflow.db", tmp_path_factory)


def registered(store: str, model_dir: Path) -> Any:
    """Register ``model_dir`` as version 1 of churn in ``store`` (in this process); the client."""
    from workloads.lifecycle.registry import open_registry, register

    client = open_registry(store)
    register(client, "churn", model_dir)
    return client


def test_register_with_a_tracking_uri_registers_in_mlflow(store: str, model_dir: Path) -> None:
    # when
    run = run_cli(
        "models", "register", "churn", "--model-dir", str(model_dir), "--tracking-uri", store,
        "--json",
    )  # fmt: skip
    # then
    assert run.exit_code == 0, run.stderr
    done = run.json()
    assert (done["name"], done["version"], done["reused_run"]) == ("churn", 1, False)
    assert done["source"] == f"runs:/{done['run_id']}/model"


def test_list_with_a_tracking_uri_shows_aliases(store: str, model_dir: Path) -> None:
    # given version 1, the champion
    registered(store, model_dir).set_registered_model_alias("churn", "champion", "1")
    # when
    run = run_cli("models", "list", "churn", "--tracking-uri", store, "--json")
    # then
    assert run.exit_code == 0, run.stderr
    [version] = run.json()
    assert (version["version"], version["aliases"]) == (1, ["champion"])


def test_promote_with_a_tracking_uri_moves_the_alias(store: str, model_dir: Path) -> None:
    # given version 1
    client = registered(store, model_dir)
    # when
    run = run_cli("models", "promote", "churn", "1", "--reason", "first", "--tracking-uri", store)
    # then
    assert run.exit_code == 0, run.stderr
    assert run.stdout == "churn@champion: unset -> version 1\n"
    assert int(client.get_model_version_by_alias("churn", "champion").version) == 1


def test_mlflow_errors_are_one_line_exit_1(store: str) -> None:
    # when
    run = run_cli("models", "list", "churn", "--tracking-uri", store)
    # then
    assert run.exit_code == 1
    assert run.stderr == "ml-platform: error: no registered model 'churn' in this tracking store\n"
