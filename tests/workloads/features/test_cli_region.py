"""``ml-platform-features``: the region (--region, the stack file's, the environment's) and errors.

Without a region or credentials a command ends with one line naming it and what to do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.workloads.dummy_credentials import (
    run_without_aws,
    use_dummy_credentials,
    use_no_aws_configuration,
)
from tests.workloads.features.test_cli import STACK, FakeClient, ingest_args, one_record_csv
from workloads.features import cli
from workloads.features.cli import main

NO_CREDENTIALS = (
    "no AWS credentials found; set AWS_PROFILE, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)


def write_stack(tmp_path: Path, region: object = None) -> Path:
    """Pulumi.test.yaml with the customers group, and ``aws:region`` when ``region`` is given."""
    path = tmp_path / "Pulumi.test.yaml"
    text = (
        STACK
        if region is None
        else STACK.replace("config:\n", f"config:\n  aws:region: {region}\n")
    )
    path.write_text(text, encoding="utf-8")
    return path


def lookup_args(stack_file: Path, *extra: str) -> list[str]:
    return [
        "lookup",
        *("--stack-file", str(stack_file), "--environment", "test"),
        *("--group", "customers", "--id", "c-1", *extra),
    ]


@pytest.fixture
def regions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str | None]:
    """The regions the commands build their client in (the client is a fake that writes)."""
    use_dummy_credentials(monkeypatch, tmp_path, region="us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    seen: list[str | None] = []

    def client(max_workers: int, region: str | None) -> FakeClient:
        seen.append(region)
        return FakeClient()

    monkeypatch.setattr(cli, "default_client", client)
    return seen


@pytest.mark.parametrize(
    ("stack_region", "flag", "region"),
    [
        ("eu-west-1", [], "eu-west-1"),  # the stack file's, over AWS_REGION
        ("eu-west-1", ["--region", "ap-south-1"], "ap-south-1"),  # --region over both
        (None, [], None),  # neither: boto takes the environment's
    ],
)  # fmt: skip
def test_ingest_takes_the_region_from_the_flag_then_the_stack_file_then_the_environment(
    regions: list[str | None],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    stack_region: str | None,
    flag: list[str],
    region: str | None,
) -> None:
    # given a stack file (with or without aws:region) and AWS_REGION=us-east-1
    stack = write_stack(tmp_path, stack_region)
    # when
    status = main(ingest_args(stack, one_record_csv(tmp_path), tmp_path / "rejects.jsonl", *flag))
    # then
    assert (status, capsys.readouterr().err, regions) == (0, "", [region])


def test_lookup_takes_the_stack_files_region(
    regions: list[str | None], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # given
    stack = write_stack(tmp_path, "eu-central-1")
    # when
    status = main(lookup_args(stack))
    # then
    assert (status, capsys.readouterr().err, regions) == (0, "", ["eu-central-1"])


def test_a_client_built_from_the_stack_file_is_in_its_region(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given dummy credentials, AWS_REGION=us-east-1 and a stack in eu-west-1
    use_dummy_credentials(monkeypatch, tmp_path, region="us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    args = cli.build_parser().parse_args(lookup_args(write_stack(tmp_path, "eu-west-1")))
    # when
    client: Any = cli.make_client(cli.region_of(args), max_workers=1)
    # then
    assert client.meta.region_name == "eu-west-1"


@pytest.mark.parametrize("command", ["ingest", "lookup"])
def test_without_a_region_the_command_says_where_one_can_come_from(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: str,
) -> None:
    # given credentials but no region anywhere
    use_no_aws_configuration(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    stack = write_stack(tmp_path)
    argv = (
        ingest_args(stack, one_record_csv(tmp_path), tmp_path / "rejects.jsonl")
        if command == "ingest"
        else lookup_args(stack)
    )
    # when
    status = main(argv)
    # then
    out, err = capsys.readouterr()
    problem = f"no AWS region configured; pass --region, or set aws:region in {stack} or AWS_DEFAULT_REGION"
    assert (status, err) == (1, f"error: {command} failed: {problem}\n")
    if command == "ingest":  # the report says why nothing was written
        assert (json.loads(out)["stopped"], json.loads(out)["written"]) == (problem, 0)
    assert not (tmp_path / "rejects.jsonl").exists()


def test_without_credentials_ingest_stops_before_reading_records(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given a region in the stack file but no credentials anywhere
    use_no_aws_configuration(monkeypatch, tmp_path)
    stack = write_stack(tmp_path, "eu-west-1")
    # when
    status = main(ingest_args(stack, one_record_csv(tmp_path), tmp_path / "rejects.jsonl"))
    # then
    out, err = capsys.readouterr()
    assert (status, err) == (1, f"error: ingest failed: {NO_CREDENTIALS}\n")
    assert (json.loads(out)["read"], json.loads(out)["stopped"]) == (0, NO_CREDENTIALS)


def test_the_console_entry_prints_no_traceback_without_credentials(tmp_path: Path) -> None:
    # given an environment without region or credentials
    stack = write_stack(tmp_path, "eu-west-1")
    # when lookup runs as a process
    result = run_without_aws(tmp_path, "-m", "workloads.features.cli", *lookup_args(stack))
    # then
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        f"error: lookup failed: {NO_CREDENTIALS}\n",
    )


def test_a_stack_region_that_is_not_a_name_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # given (the error comes before any client is made)
    stack = write_stack(tmp_path, "[eu-west-1]")
    # when
    status = main(lookup_args(stack))
    # then
    assert (status, capsys.readouterr().err) == (
        1,
        f"error: {stack}: aws:region must be a region name, got ['eu-west-1']\n",
    )


def test_help_states_the_region_precedence(capsys: pytest.CaptureFixture[str]) -> None:
    # given / when
    status = main(["ingest", "--help"])
    # then
    help_text = " ".join(capsys.readouterr().out.split())
    assert status == 0
    assert (
        "--region REGION AWS region (default: the stack file's aws:region, else the "
        "environment's: AWS_DEFAULT_REGION, the profile's)" in help_text
    )
