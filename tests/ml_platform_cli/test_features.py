"""``ml-platform features ...``: ingest and lookup passed through, training-set from files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ml_platform_cli.main import main
from tests.ml_platform_cli.cli_runner import run_cli
from tests.workloads.dummy_credentials import environment_without_aws
from tests.workloads.features.test_cli import STACK, FakeClient, ingest_args
from workloads.features import cli as features_cli

LABELS = """\
customer_id,label_time,churned
c-1,2024-01-10T00:00:00Z,0
c-1,2024-03-01T00:00:00Z,1
c-2,2024-02-01T00:00:00Z,0
c-3,2024-02-01T00:00:00Z,1
"""

CUSTOMERS = """\
customer_id,event_time,tenure_months,segment
c-1,2024-01-01T00:00:00Z,3,basic
c-1,2024-02-15T00:00:00Z,4,premium
c-2,2024-03-01T00:00:00Z,10,basic
"""


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """labels.csv (entity rows) and customers.csv (feature history) in ``tmp_path``."""
    (tmp_path / "labels.csv").write_text(LABELS, encoding="utf-8")
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    return tmp_path


def training_set(folder: Path, *extra: str, out: str = "train.csv", entities: str = "labels.csv"):
    """``ml-platform features training-set`` of the customers file onto ``entities``."""
    return run_cli(
        "features",
        "training-set",
        *("--entities", str(folder / entities), "--entity-time", "label_time"),
        *("--features", str(folder / "customers.csv"), "customer_id", "event_time"),
        *("--out", str(folder / out), *extra),
    )


def test_the_group_lists_its_commands_with_examples() -> None:
    # when
    run = run_cli("features", "--help")
    # then
    assert run.exit_code == 0
    assert "\n  Examples:\n    ml-platform features ingest --stack-file" in run.stdout
    for name in ("ingest", "lookup", "training-set"):
        assert f"\n  {name} " in run.stdout


def test_ingest_and_lookup_help_are_the_feature_commands_own() -> None:
    # when
    ingest = run_cli("features", "ingest", "--help")
    lookup = run_cli("features", "lookup", "--help")
    # then
    assert ingest.exit_code == lookup.exit_code == 0
    assert "--reject-file" in ingest.stdout and "--max-field-bytes" in ingest.stdout
    assert "\nexample:\n  ml-platform-features lookup --stack-file" in lookup.stdout


def test_lookup_without_credentials_is_the_commands_one_line(tmp_path: Path) -> None:
    # given a stack file with the group and a region, and no credentials
    stack = tmp_path / "Pulumi.test.yaml"
    stack.write_text(STACK.replace("config:\n", "config:\n  aws:region: eu-west-1\n"))
    # when
    run = run_cli(
        "features",
        "lookup",
        *("--stack-file", str(stack), "--environment", "test"),
        *("--group", "customers", "--id", "c-1"),
        env=environment_without_aws(tmp_path) | {"NO_COLOR": "1"},
    )
    # then
    assert (run.exit_code, run.stdout) == (1, "")
    assert run.stderr == (
        "error: lookup failed: no AWS credentials found; set AWS_PROFILE, or set "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n"
    )


def test_ingest_passes_its_exit_2_for_rejected_records_through(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given a feature store that refuses one of two records (in-process: no Feature Store in moto)
    client = FakeClient(refuse=("c-2",))
    monkeypatch.setattr(features_cli, "make_client", lambda region, max_workers: client)
    stack = tmp_path / "Pulumi.test.yaml"
    stack.write_text(STACK, encoding="utf-8")
    data = tmp_path / "data.csv"
    data.write_text("customer_id,updated_at\nc-1,1714564800\nc-2,1714564800\n")
    rejects = tmp_path / "rejects.jsonl"
    # when
    status = main(["features", *ingest_args(stack, data, rejects)])
    # then
    out, err = capsys.readouterr()
    assert status == 2
    assert json.loads(out)["written"] == 1
    assert err == f"1 of 2 records rejected; see {rejects}\n"


def test_training_set_joins_point_in_time_and_reports_the_rows(files: Path) -> None:
    # when
    run = training_set(files)
    # then
    assert run.exit_code == 0, run.stderr
    assert run.stdout == (
        f"wrote 4 rows to {files / 'train.csv'}\n  {files / 'customers.csv'}: 2 of 4 rows matched\n"
    )
    written = pd.read_csv(files / "train.csv")
    assert written["tenure_months"].tolist()[:2] == [3, 4]  # never the later record
    assert written["segment"].tolist()[:2] == ["basic", "premium"]
    assert written["segment"].isna().tolist()[2:] == [True, True]  # c-2 only later, c-3 none


def test_training_set_json_with_max_age_to_parquet(files: Path) -> None:
    # when: c-1's record of 2024-01-01 is 9 days before its first label, older than 5 days
    run = training_set(files, "--max-age", "5d", "--json", out="train.parquet")
    # then
    assert run.exit_code == 0, run.stderr
    assert run.json() == {
        "output": str(files / "train.parquet"),
        "rows": 4,
        "columns": ["customer_id", "label_time", "churned", "tenure_months", "segment"],
        "matched": {str(files / "customers.csv"): 0},
    }
    assert len(pd.read_parquet(files / "train.parquet")) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"entities": "missing.csv"},
            "entity file '{folder}/missing.csv' not found",
        ),
        (
            {"entities": "labels.txt"},
            "entity file '{folder}/labels.txt': unknown format '.txt' (use .csv or .parquet)",
        ),
        (
            {"out": "train.json"},
            "output '{folder}/train.json': unknown format '.json' (use .csv or .parquet)",
        ),
    ],
)
def test_training_set_file_problems_are_one_line_exit_1(
    files: Path, args: dict[str, str], message: str
) -> None:
    # when
    run = training_set(files, **args)
    # then
    assert (run.exit_code, run.stdout) == (1, "")
    assert run.stderr == f"ml-platform: error: {message.format(folder=files)}\n"
    assert not (files / "train.csv").exists()


def test_training_set_names_a_missing_column(files: Path) -> None:
    # when
    run = run_cli(
        "features",
        "training-set",
        *("--entities", str(files / "labels.csv"), "--entity-time", "label_time"),
        *("--features", str(files / "customers.csv"), "customer_id", "updated_at"),
        *("--out", str(files / "train.csv")),
    )
    # then
    assert run.exit_code == 1
    assert run.stderr == (
        f"ml-platform: error: feature file '{files / 'customers.csv'}' has no column "
        "'updated_at' (it has customer_id, event_time, tenure_months, segment)\n"
    )


def test_a_file_that_is_not_parquet_says_so(files: Path) -> None:
    # given
    (files / "labels.parquet").write_text(LABELS, encoding="utf-8")
    # when
    run = training_set(files, entities="labels.parquet")
    # then
    assert run.exit_code == 1
    assert run.stderr.startswith(
        f"ml-platform: error: entity file '{files / 'labels.parquet'}' cannot be read as parquet: "
    )
    assert run.stderr.count("\n") == 1


def test_a_bad_max_age_is_a_usage_error(files: Path) -> None:
    # when
    run = training_set(files, "--max-age", "3w")
    # then
    assert run.exit_code == 2
    assert run.stderr == (
        "ml-platform: error: --max-age '3w' is not a duration like 30d, 12h, 90m or 45s\n"
    )


def test_the_group_alone_prints_its_help() -> None:
    # when
    run = run_cli("features")
    # then
    assert (run.exit_code, run.stderr) == (0, "")
    assert run.stdout.startswith("Usage: ml-platform features [OPTIONS] COMMAND [ARGS]...\n")
