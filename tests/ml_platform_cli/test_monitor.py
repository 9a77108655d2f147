"""``ml-platform monitor ...``: the monitor's commands passed through, exit 3 on drift included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ml_platform_cli.aws_server import AwsServer
from tests.ml_platform_cli.cli_runner import CliRun, run_cli
from tests.workloads.dummy_credentials import environment_without_aws
from tests.workloads.monitoring.samples import window_lines, write_capture
from tests.workloads.monitoring.test_cli import write_training_csv
from workloads.monitoring import contract

REGION = "us-east-1"


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A baseline folder made by ``ml-platform monitor baseline`` from a training table."""
    folder = tmp_path_factory.mktemp("monitor")
    data = write_training_csv(folder / "train.csv")
    run = run_cli(
        "monitor",
        "baseline",
        *("--data", str(data), "--exclude", "label", "--prediction-column", "score"),
        *("--out", str(folder / "baseline")),
    )
    assert run.exit_code == 0, run.stderr
    return folder / "baseline"


def check(baseline: Path, capture: Path, out: Path, *extra: str) -> CliRun:
    """``ml-platform monitor check`` of a capture folder."""
    return run_cli(
        "monitor",
        "check",
        *("--baseline", str(baseline), "--capture", str(capture), "--out", str(out)),
        *("--endpoint", "mlp-dev-shop", *extra),
    )


def test_the_group_lists_the_monitors_commands_with_examples() -> None:
    # when
    run = run_cli("monitor", "--help")
    # then
    assert run.exit_code == 0
    assert "\n  Examples:\n    ml-platform monitor baseline --data" in run.stdout
    for name in ("baseline", "check", "report", "publish", "select-window"):
        assert f"\n  {name} " in run.stdout


def test_a_subcommands_help_is_the_monitors_own() -> None:
    # when
    run = run_cli("monitor", "check", "--help")
    # then
    assert run.exit_code == 0
    assert run.stdout.startswith("usage: ml-platform-monitor check ")
    assert "--fail-on-drift" in run.stdout
    assert "\nexample:\n  ml-platform monitor check --baseline" in run.stdout


def test_check_with_fail_on_drift_exits_3_and_without_it_0(baseline: Path, tmp_path: Path) -> None:
    # given captured traffic whose amount drifted
    capture = tmp_path / "capture"
    write_capture(capture, window_lines(300, shift=30.0))
    # when
    failing = check(baseline, capture, tmp_path / "failing", "--fail-on-drift")
    reporting = check(baseline, capture, tmp_path / "reporting")
    # then
    assert failing.exit_code == 3, failing.stderr
    assert reporting.exit_code == 0, reporting.stderr
    summary = json.loads((tmp_path / "reporting" / contract.SUMMARY_FILE).read_text())
    assert summary["status"] == "drift"


def test_report_renders_again_and_a_missing_summary_is_one_line(
    baseline: Path, tmp_path: Path
) -> None:
    # given a check's results
    capture = tmp_path / "capture"
    write_capture(capture, window_lines(100))
    assert check(baseline, capture, tmp_path / "results").exit_code == 0
    (tmp_path / "results" / contract.REPORT_FILE).unlink()
    # when
    again = run_cli("monitor", "report", "--results", str(tmp_path / "results"))
    missing = run_cli("monitor", "report", "--results", str(tmp_path / "nothing"))
    # then
    assert again.exit_code == 0, again.stderr
    assert (tmp_path / "results" / contract.REPORT_FILE).is_file()
    summary = tmp_path / "nothing" / contract.SUMMARY_FILE
    assert (missing.exit_code, missing.stderr) == (
        1,
        f"ml-platform-monitor report: {summary}: [Errno 2] No such file or directory: "
        f"'{summary}'\n",
    )


def test_publish_sends_the_metrics_to_cloudwatch(aws: AwsServer, tmp_path: Path) -> None:
    # given a check's metrics.json
    metrics = tmp_path / "metrics.json"
    metrics.write_text(
        json.dumps(
            {
                "namespace": "MLPlatform/Monitoring",
                "timestamp": "2026-01-01T00:00:00+00:00",
                "metrics": [
                    {"name": "PSI", "dimensions": {"Endpoint": "mlp-dev-churn"}, "value": 0.1}
                ],
            }
        ),
        encoding="utf-8",
    )
    environment = aws.environment(tmp_path, region=REGION)
    # when
    run = run_cli("monitor", "publish", "--results", str(metrics), env=environment)
    # then
    assert run.exit_code == 0, run.stderr
    cloudwatch = aws.client("cloudwatch")
    names = [metric["MetricName"] for metric in cloudwatch.list_metrics()["Metrics"]]
    assert "PSI" in names


def test_select_window_stages_the_hours_capture_files(aws: AwsServer, tmp_path: Path) -> None:
    # given one capture file in the window's hour
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="capture-bucket")
    key = "capture/mlp-dev-churn/main/2026/01/01/00/part-1.jsonl"
    s3.put_object(Bucket="capture-bucket", Key=key, Body=b'{"x": 1}\n')
    # when
    run = run_cli(
        "monitor",
        "select-window",
        *("--capture-uri", "s3://capture-bucket/capture/mlp-dev-churn/"),
        *("--window-hours", "1", "--end", "2026-01-01T01:00:00+00:00"),
        *("--out", str(tmp_path / "window")),
        env=aws.environment(tmp_path, region=REGION),
    )
    # then
    assert run.exit_code == 0, run.stderr
    staged = tmp_path / "window" / "capture" / "main" / "2026" / "01" / "01" / "00" / "part-1.jsonl"
    assert staged.read_bytes() == b'{"x": 1}\n'
    assert json.loads((tmp_path / "window" / contract.WINDOW_FILE).read_text())["files"] == 1


def test_select_window_without_credentials_is_one_line(tmp_path: Path) -> None:
    # when
    run = run_cli(
        "monitor",
        "select-window",
        *("--capture-uri", "s3://capture-bucket/capture/mlp-dev-churn/"),
        *("--window-hours", "1", "--out", str(tmp_path / "window"), "--region", REGION),
        env=environment_without_aws(tmp_path) | {"NO_COLOR": "1"},
    )
    # then
    assert (run.exit_code, run.stdout) == (1, "")
    assert run.stderr == (
        "ml-platform-monitor select-window: no AWS credentials found; pass --profile (or set "
        "AWS_PROFILE), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n"
    )


def test_the_group_alone_prints_its_help() -> None:
    # when
    run = run_cli("monitor")
    # then
    assert (run.exit_code, run.stderr) == (0, "")
    assert run.stdout.startswith("Usage: ml-platform monitor [OPTIONS] COMMAND [ARGS]...\n")
