"""``ml-platform-monitor``'s AWS commands without region, credentials or network: one line, exit 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from tests.workloads.dummy_credentials import (
    run_without_aws,
    use_dummy_credentials,
    use_no_aws_configuration,
)
from workloads.monitoring import capture_window, cloudwatch
from workloads.monitoring.cli import main

NO_CREDENTIALS = (
    "no AWS credentials found; pass --profile (or set AWS_PROFILE), or set AWS_ACCESS_KEY_ID "
    "and AWS_SECRET_ACCESS_KEY"
)
CAPTURE_URI = "s3://capture-bucket/capture/mlp-dev-churn/"


def metrics_file(tmp_path: Path) -> Path:
    """A results folder's metrics.json with one data point."""
    path = tmp_path / "metrics.json"
    document = {
        "namespace": "MLPlatform/Monitoring",
        "timestamp": "2026-01-01T00:00:00+00:00",
        "metrics": [{"name": "PSI", "dimensions": {"Endpoint": "mlp-dev-churn"}, "value": 0.1}],
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def select_args(tmp_path: Path) -> list[str]:
    """select-window of one hour of CAPTURE_URI into tmp_path/window."""
    return [
        "select-window",
        *("--capture-uri", CAPTURE_URI, "--window-hours", "1"),
        *("--end", "2026-01-01T01:00:00+00:00", "--out", str(tmp_path / "window")),
    ]


class Refusing:
    """A boto client whose every call raises ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def put_metric_data(self, **_: Any) -> None:
        raise self.error

    def get_paginator(self, _: str) -> Refusing:
        return self

    def paginate(self, **_: Any) -> Any:
        raise self.error


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_publish_without_a_region_says_how_to_give_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given no region (and no credentials) anywhere boto looks
    use_no_aws_configuration(monkeypatch, tmp_path)
    # when
    status, out, err = run(capsys, ["publish", "--results", str(metrics_file(tmp_path))])
    # then
    assert (status, out, err) == (
        1,
        "",
        "ml-platform-monitor publish: no AWS region configured; set AWS_DEFAULT_REGION or pass --region\n",
    )


def test_the_console_entry_prints_no_traceback_without_a_region(tmp_path: Path) -> None:
    # given a check's metrics and an environment without region or credentials
    results = metrics_file(tmp_path)
    # when the command runs as a process
    result = run_without_aws(
        tmp_path, "-m", "workloads.monitoring", "publish", "--results", str(results)
    )
    # then
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "ml-platform-monitor publish: no AWS region configured; set AWS_DEFAULT_REGION or pass --region\n",
    )


def test_publish_without_credentials_says_where_they_come_from(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given a region but no credentials
    use_no_aws_configuration(monkeypatch, tmp_path)
    argv = ["publish", "--results", str(metrics_file(tmp_path)), "--region", "eu-west-1"]
    # when
    status, out, err = run(capsys, argv)
    # then
    assert (status, out, err) == (
        1,
        "",
        "ml-platform-monitor publish: PutMetricData to MLPlatform/Monitoring failed after 0 of 1 "
        f"data points were published: {NO_CREDENTIALS}\n",
    )


def test_publish_with_an_unknown_profile_names_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given no profiles configured
    use_no_aws_configuration(monkeypatch, tmp_path)
    argv = ["publish", "--results", str(metrics_file(tmp_path)), "--profile", "ml-dev"]
    # when
    status, out, err = run(capsys, argv)
    # then
    assert (status, out, err) == (
        1,
        "",
        "ml-platform-monitor publish: The config profile (ml-dev) could not be found\n",
    )


@pytest.mark.parametrize(
    ("error", "problem"),
    [
        (
            ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, "PutMetricData"
            ),
            "AccessDenied: not authorized",
        ),
        (
            EndpointConnectionError(endpoint_url="https://monitoring.eu-west-1.amazonaws.com/"),
            'Could not connect to the endpoint URL: "https://monitoring.eu-west-1.amazonaws.com/"; '
            "check the network connection and the region",
        ),
    ],
)  # fmt: skip
def test_publish_refused_or_unreachable_is_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    error: Exception,
    problem: str,
) -> None:
    # given CloudWatch refuses or cannot be reached
    use_dummy_credentials(monkeypatch, tmp_path, region="eu-west-1")
    monkeypatch.setattr(cloudwatch, "default_client", lambda region, profile: Refusing(error))
    # when
    status, out, err = run(capsys, ["publish", "--results", str(metrics_file(tmp_path))])
    # then
    assert (status, out, err) == (
        1,
        "",
        "ml-platform-monitor publish: PutMetricData to MLPlatform/Monitoring failed after 0 of 1 "
        f"data points were published: {problem}\n",
    )


def test_select_window_without_credentials_says_where_they_come_from(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given no credentials anywhere boto looks
    use_no_aws_configuration(monkeypatch, tmp_path)
    # when
    status, out, err = run(capsys, [*select_args(tmp_path), "--region", "eu-west-1"])
    # then
    assert (status, out, err) == (1, "", f"ml-platform-monitor select-window: {NO_CREDENTIALS}\n")


def test_select_window_refused_names_the_call_and_the_code(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given S3 refuses the listing
    error = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "ListObjectsV2"
    )
    monkeypatch.setattr(capture_window, "default_client", lambda region, profile: Refusing(error))
    # when
    status, out, err = run(capsys, select_args(tmp_path))
    # then
    assert (status, out, err) == (
        1,
        "",
        "ml-platform-monitor select-window: ListObjectsV2 failed: AccessDenied: Access Denied\n",
    )


def test_aws_commands_take_a_region_and_a_profile() -> None:
    # given / when
    from workloads.monitoring.cli import parser

    args = parser().parse_args(
        ["publish", "--results", "r", "--region", "eu-west-1", "--profile", "ml-dev"]
    )
    # then
    assert (args.region, args.profile) == ("eu-west-1", "ml-dev")
