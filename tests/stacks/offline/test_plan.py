"""The offline plan command: the README's first command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stacks.offline.plan import main
from tests.conftest import ROOT

STATEFUL_TYPES = {
    "aws:s3/bucket:Bucket",
    "aws:kms/key:Key",
    "aws:glue/catalogDatabase:CatalogDatabase",
}


def run_plan(tmp_path: Path, *args: str) -> dict:
    assert main([*args, "--out", str(tmp_path)]) == 0
    stack = args[args.index("--stack") + 1]
    return json.loads((tmp_path / f"{stack}.json").read_text())


def test_dev_plan_writes_every_resource_with_its_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # when the dev plan runs
    document = run_plan(tmp_path, "--stack", "dev")
    # then the JSON holds the stack and each resource with urn, type, name, parent, inputs, options
    assert document["stack"] == "dev"
    resources = document["resources"]
    assert len(resources) > 50
    urns = {resource["urn"] for resource in resources}
    for resource in resources:
        assert set(resource) >= {
            "urn",
            "type",
            "name",
            "parent",
            "inputs",
            "protect",
            "retain_on_delete",
        }
        assert resource["parent"] is None or resource["parent"] in urns
        assert isinstance(resource["protect"], bool) and isinstance(
            resource["retain_on_delete"], bool
        )
    # and the printed tree groups resources under their components, with counts
    printed = capsys.readouterr().out
    assert "mlplatform:data:DataLayer  data" in printed
    assert "   └─ mlplatform:storage:SecureBucket  mlp-dev-raw" in printed
    assert f"{len(resources)} resources (" in printed
    assert "deletion_window_days=7" in printed


def test_prod_plan_protects_and_retains_all_data(tmp_path: Path) -> None:
    resources = run_plan(tmp_path, "--stack", "prod")["resources"]
    stateful = [resource for resource in resources if resource["type"] in STATEFUL_TYPES]
    assert {resource["type"] for resource in stateful} == STATEFUL_TYPES
    assert all(resource["protect"] and resource["retain_on_delete"] for resource in stateful)
    buckets = [resource for resource in resources if resource["type"] == "aws:s3/bucket:Bucket"]
    assert len(buckets) == 7
    assert all(resource["inputs"]["forceDestroy"] is False for resource in buckets)


def test_plan_is_deterministic(tmp_path: Path) -> None:
    first = run_plan(tmp_path / "a", "--stack", "dev")
    second = run_plan(tmp_path / "b", "--stack", "dev")
    assert first == second
    # byte for byte, so plans can be diffed
    assert (tmp_path / "a" / "dev.json").read_bytes() == (tmp_path / "b" / "dev.json").read_bytes()


def test_broken_stack_file_fails_with_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a copy of Pulumi.dev.yaml with an unknown key, a negative retention and a bad CIDR
    document = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    data = document["config"]["ml-platform:data"]
    data["network"]["cidr"] = "10.20.0.0/99"
    data["log_retention_days"] = -7
    data["retention_policy"] = "forever"
    broken = tmp_path / "Pulumi.dev.yaml"
    broken.write_text(yaml.safe_dump(document))
    # when the plan runs on it
    status = main(["--stack", "dev", "--config-file", str(broken), "--out", str(tmp_path)])
    # then it exits non-zero, lists all three by path, and writes no plan
    assert status == 2
    error = capsys.readouterr().err
    assert "(3 problems)" in error
    assert "data.network.cidr: '10.20.0.0/99' is not an IPv4 network" in error
    assert "data.log_retention_days: must be one of 0, 1, 3," in error
    assert "data.retention_policy: unknown key" in error
    assert not (tmp_path / "dev.json").exists()


def test_unknown_stack_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "staging", "--out", str(tmp_path)]) == 2
    assert "no stack config Pulumi.staging.yaml" in capsys.readouterr().err


def test_plan_runs_as_the_make_target_runs_it(tmp_path: Path) -> None:
    # `make plan` runs `python -m stacks.offline.plan --stack dev` from the project root
    result = subprocess.run(
        [sys.executable, "-m", "stacks.offline.plan", "--stack", "dev", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"wrote {tmp_path}/dev.json" in result.stdout


def test_dev_plan_shows_an_endpoint_with_two_variants_and_their_shares(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # when the dev plan runs / then the tree shows the variants with shares, and a summary
    run_plan(tmp_path, "--stack", "dev")
    printed = capsys.readouterr().out
    assert (
        "variants=blue:ml.m5.large x1 @90%, green:ml.m5.large x1 @10%  capture_percent=50  kms=on"
        in printed
    )
    assert "endpoints (traffic share = weight / sum of weights):" in printed
    assert "  mlp-dev-churn: blue 90%, green 10%" in printed
    assert "variants=main:serverless 2048MB @100%" in printed
    # and what each variant runs: an archive, or a registered version (checked at `up`)
    assert (
        "what each variant runs (registered versions must be Approved at `up`):\n"
        "  mlp-dev-churn/blue: artifact churn/v1/model.tar.gz\n"
        "  mlp-dev-churn/green: model group mlp-dev-churn version 1\n"
        "  mlp-dev-churn-sandbox/main: artifact churn/v2/model.tar.gz"
    ) in printed
    assert "mlp-dev-churn-green-approval   group=mlp-dev-churn  version=1  serving_version=3.2" in (
        printed
    )


def test_prod_plan_shows_guarded_rollouts_and_autoscaling(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_plan(tmp_path, "--stack", "prod")
    printed = capsys.readouterr().out
    assert (
        "name=mlp-prod-churn  rollout=CANARY  canary_percent=10  baking_s=1800  rollback_alarms=6"
        in printed
    )
    assert "rollout=LINEAR  linear_step_percent=25" in printed
    assert "variant=endpoint/mlp-prod-churn/variant/blue  min=2  max=6" in printed
    assert "metric=SageMakerVariantInvocationsPerInstance  target=200" in printed
