"""The command line in-process: definitions from a stack file, exit statuses, JSON on stdout."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from workloads.features import cli
from workloads.features.cli import main
from workloads.features.limits import InputLimits

STACK = """\
config:
  ml-platform:feature_store:
    groups:
      - name: customers
        version: 2
        record_identifier: customer_id
        event_time: updated_at
        features:
          customer_id: String
          updated_at: String
          orders: Integral
"""


class FakeClient:
    """Records PutRecord calls; refuses the records whose id is in ``refuse``.

    With ``missing_group`` set (a message), every PutRecord fails as AWS answers for a feature
    group that does not exist (ResourceNotFound).
    """

    def __init__(self, refuse: tuple[str, ...] = ()) -> None:
        self.puts: list[dict[str, Any]] = []
        self.refuse = refuse
        self.missing_group: str | None = None

    def put_record(self, **request: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        if self.missing_group is not None:
            error = {"Code": "ResourceNotFound", "Message": self.missing_group}
            raise ClientError({"Error": error}, "PutRecord")
        if request["Record"][0]["ValueAsString"] in self.refuse:
            raise ClientError({"Error": {"Code": "ValidationError", "Message": "no"}}, "PutRecord")
        self.puts.append(request)
        return {}

    def batch_get_record(self, **request: Any) -> dict[str, Any]:
        self.batch_request = request
        return {
            "Records": [
                {
                    "FeatureGroupName": "mlp-test-customers-v2",
                    "RecordIdentifierValueAsString": "c-1",
                    "Record": [{"FeatureName": "orders", "ValueAsString": "3"}],
                }
            ],
            "Errors": [],
            "UnprocessedIdentifiers": [],
        }


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    client = FakeClient()
    monkeypatch.setattr(cli, "make_client", lambda region, max_workers: client)
    return client


@pytest.fixture
def stack_file(tmp_path: Path) -> Path:
    path = tmp_path / "Pulumi.test.yaml"
    path.write_text(STACK, encoding="utf-8")
    return path


def one_record_csv(tmp_path: Path) -> Path:
    """``data.csv`` in ``tmp_path`` with the header and one valid record (``c-1``)."""
    data = tmp_path / "data.csv"
    data.write_text("customer_id,updated_at\nc-1,1714564800\n")
    return data


def ingest_args(stack_file: Path, data: Path, rejects: Path, *extra: str) -> list[str]:
    return [
        "ingest",
        "--stack-file",
        str(stack_file),
        "--environment",
        "test",
        "--group",
        "customers",
        "--input",
        str(data),
        "--reject-file",
        str(rejects),
        *extra,
    ]


def test_ingest_writes_every_record_and_exits_0(
    capsys: pytest.CaptureFixture[str], fake: FakeClient, stack_file: Path, tmp_path: Path
) -> None:
    # given
    data = tmp_path / "data.csv"
    data.write_text("customer_id,updated_at,orders\nc-1,2024-05-01T12:00:00Z,3\nc-2,1714564800,\n")
    # when
    status = main(ingest_args(stack_file, data, tmp_path / "rejects.jsonl", "--max-workers", "2"))
    # then
    out, err = capsys.readouterr()
    assert (status, err) == (0, "")
    report = json.loads(out)
    assert {key: report[key] for key in ("group_name", "read", "written", "rejected")} == {
        "group_name": "mlp-test-customers-v2",
        "read": 2,
        "written": 2,
        "rejected": 0,
    }
    assert sorted(put["Record"][0]["ValueAsString"] for put in fake.puts) == ["c-1", "c-2"]
    assert {put["FeatureGroupName"] for put in fake.puts} == {"mlp-test-customers-v2"}


def test_ingest_with_rejections_exits_2_and_names_the_reject_file(
    capsys: pytest.CaptureFixture[str], fake: FakeClient, stack_file: Path, tmp_path: Path
) -> None:
    # given one bad line and one record the service refuses
    fake.refuse = ("c-3",)
    data = tmp_path / "data.jsonl"
    data.write_text(
        '{"customer_id": "c-1", "updated_at": "2024-05-01T12:00:00Z"}\n'
        "{oops\n"
        '{"customer_id": "c-3", "updated_at": "2024-05-01T12:00:00Z"}\n'
    )
    rejects = tmp_path / "rejects.jsonl"
    # when
    status = main(ingest_args(stack_file, data, rejects))
    # then
    out, err = capsys.readouterr()
    assert status == 2
    assert json.loads(out)["rejected_by_kind"] == {
        "malformed_input": 1,
        "service:ValidationError": 1,
    }
    assert err == f"2 of 3 records rejected; see {rejects}\n"
    assert [json.loads(line)["position"] for line in rejects.read_text().splitlines()] == [2, 3]


def test_an_unknown_group_exits_1_listing_the_defined_ones(
    capsys: pytest.CaptureFixture[str], fake: FakeClient, stack_file: Path, tmp_path: Path
) -> None:
    args = ingest_args(stack_file, tmp_path / "data.csv", tmp_path / "rejects.jsonl")
    args[args.index("customers")] = "orders"
    status = main(args)
    out, err = capsys.readouterr()
    assert (status, out) == (1, "")
    assert err == f"error: {stack_file} defines no feature group 'orders' (it defines: customers)\n"


def test_a_missing_stack_file_exits_1(
    capsys: pytest.CaptureFixture[str], fake: FakeClient, tmp_path: Path
) -> None:
    status = main(
        ingest_args(tmp_path / "nope.yaml", tmp_path / "data.csv", tmp_path / "rejects.jsonl")
    )
    _, err = capsys.readouterr()
    assert status == 1
    assert err.startswith("error: [Errno 2] No such file or directory")


def test_an_unknown_input_type_exits_1(
    capsys: pytest.CaptureFixture[str], fake: FakeClient, stack_file: Path, tmp_path: Path
) -> None:
    status = main(ingest_args(stack_file, tmp_path / "data.xlsx", tmp_path / "rejects.jsonl"))
    _, err = capsys.readouterr()
    assert status == 1
    assert "expected a .csv, .jsonl/.ndjson or .parquet file" in err
    assert fake.puts == []


def test_bad_arguments_exit_1_not_argparse_2(
    capsys: pytest.CaptureFixture[str], fake: FakeClient
) -> None:
    status = main(["ingest", "--group", "customers"])
    _, err = capsys.readouterr()
    assert status == 1
    assert err.startswith(
        "error: python -m workloads.features.cli ingest: the following arguments are required"
    )


def test_a_zero_worker_count_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], fake: FakeClient, stack_file: Path, tmp_path: Path
) -> None:
    status = main(
        ingest_args(stack_file, tmp_path / "d.csv", tmp_path / "r.jsonl", "--max-workers", "0")
    )
    _, err = capsys.readouterr()
    assert status == 1
    assert "argument --max-workers: 0 must be at least 1" in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "ingest" in capsys.readouterr().out


def test_lookup_prints_json_per_id(
    capsys: pytest.CaptureFixture[str], fake: FakeClient, stack_file: Path
) -> None:
    # when
    status = main(
        [
            "lookup",
            "--stack-file",
            str(stack_file),
            "--environment",
            "test",
            "--group",
            "customers@v2",
            "--id",
            "c-1",
            "--id",
            "c-2",
            "--feature",
            "orders",
        ]
    )
    # then
    out, err = capsys.readouterr()
    assert (status, err) == (0, "")
    assert json.loads(out) == {"c-1": {"orders": 3}, "c-2": None}
    assert fake.batch_request == {
        "Identifiers": [
            {
                "FeatureGroupName": "mlp-test-customers-v2",
                "RecordIdentifiersValueAsString": ["c-1", "c-2"],
                "FeatureNames": ["orders"],
            }
        ]
    }


def test_a_missing_group_in_aws_exits_1_with_the_group_named(
    capsys: pytest.CaptureFixture[str], fake: FakeClient, stack_file: Path, tmp_path: Path
) -> None:
    # given the service says the group does not exist
    fake.missing_group = "not found"
    data = one_record_csv(tmp_path)
    # when
    status = main(ingest_args(stack_file, data, tmp_path / "rejects.jsonl"))
    # then
    _, err = capsys.readouterr()
    assert status == 1
    assert err.startswith("error: feature group 'mlp-test-customers-v2' does not exist")


def test_ingest_help_documents_every_bound_with_its_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert set(cli._BOUND_HELP) == {bound.name for bound in fields(InputLimits)}
    assert main(["ingest", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for flag, default in [
        ("--max-line-bytes N", 1048576),
        ("--max-record-bytes N", 1048576),
        ("--max-record-lines N", 100),
        ("--max-field-bytes N", 358400),
        ("--max-json-depth N", 32),
        ("--max-number-digits N", 100),
    ]:
        assert flag in out
        assert f"({default})" in out


def test_a_repeated_header_column_stops_before_writing_with_a_one_line_error(
    capsys: pytest.CaptureFixture[str], fake: FakeClient, stack_file: Path, tmp_path: Path
) -> None:
    # given
    data = tmp_path / "data.csv"
    data.write_text("customer_id,updated_at,orders,orders\nc-1,1714564800,1,2\n")
    rejects = tmp_path / "rejects.jsonl"
    # when
    status = main(ingest_args(stack_file, data, rejects))
    # then nothing written, the report printed, one line naming the column
    out, err = capsys.readouterr()
    assert status == 1
    assert err == f"error: {data}: header column 'orders' is repeated (columns 3, 4)\n"
    report = json.loads(out)
    assert (report["read"], report["written"], report["stopped"]) == (
        0,
        0,
        f"{data}: header column 'orders' is repeated (columns 3, 4)",
    )
    assert fake.puts == []
    assert not rejects.exists()


def test_the_bound_flags_reach_the_reader_and_validation(
    capsys: pytest.CaptureFixture[str], fake: FakeClient, stack_file: Path, tmp_path: Path
) -> None:
    # given a 16-character identifier and a 13-digit order count
    data = tmp_path / "data.csv"
    data.write_text(
        "customer_id,updated_at,orders\nc-12345678901234,1714564800,1\n"
        "c-2,1714564800,1234567890123\nc-3,1714564800,1\n"
    )
    rejects = tmp_path / "rejects.jsonl"
    # when
    status = main(
        ingest_args(
            stack_file, data, rejects, "--max-field-bytes", "15", "--max-number-digits", "12"
        )
    )
    # then
    out, _ = capsys.readouterr()
    assert status == 2
    assert json.loads(out)["rejected_by_kind"] == {"bad_value": 1, "over_limit": 1}
    assert [json.loads(line)["reason"] for line in rejects.read_text().splitlines()] == [
        "line 2: field 'customer_id' is larger than max_field_bytes (15 bytes)",
        "feature 'orders': '1234567890123' has 13 digits, more than max_number_digits (12)",
    ]
    assert [put["Record"][0]["ValueAsString"] for put in fake.puts] == ["c-3"]


def test_a_zero_bound_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], fake: FakeClient, stack_file: Path, tmp_path: Path
) -> None:
    status = main(
        ingest_args(stack_file, tmp_path / "d.csv", tmp_path / "r.jsonl", "--max-json-depth", "0")
    )
    _, err = capsys.readouterr()
    assert status == 1
    assert err.endswith("argument --max-json-depth: 0 must be at least 1\n")


def test_a_run_that_stops_still_prints_its_report(
    capsys: pytest.CaptureFixture[str], fake: FakeClient, stack_file: Path, tmp_path: Path
) -> None:
    # given the group is missing in AWS
    fake.missing_group = "gone"
    data = one_record_csv(tmp_path)
    # when
    status = main(ingest_args(stack_file, data, tmp_path / "rejects.jsonl", "--max-workers", "1"))
    # then
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert status == 1
    assert (report["read"], report["rejected_by_kind"]) == (1, {"stopped": 1})
    assert report["stopped"] == err.removeprefix("error: ").rstrip("\n")
    assert err.count("\n") == 1


def test_an_unexpected_failure_is_one_line_not_a_traceback(
    capsys: pytest.CaptureFixture[str],
    fake: FakeClient,
    stack_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a bug somewhere below the command
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("first line\nsecond line")

    monkeypatch.setattr(cli, "ingest", broken)
    data = one_record_csv(tmp_path)
    # when
    status = main(ingest_args(stack_file, data, tmp_path / "rejects.jsonl"))
    # then
    _, err = capsys.readouterr()
    assert (status, err) == (1, "error: unexpected RuntimeError: first line second line\n")
