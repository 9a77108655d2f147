"""Publishing metrics.json to CloudWatch (moto)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.workloads.monitoring.conftest import REGION
from workloads.monitoring.cloudwatch import (
    BATCH_ENTRIES,
    Metric,
    MetricsDocument,
    PublishError,
    default_client,
    load_metrics,
    publish_metrics,
)
from workloads.monitoring.contract import METRIC_NAMESPACE, PSI, RECORDS_CHECKED

ENDPOINT = "mlp-dev-churn"
# A recent whole minute: CloudWatch statistics are asked for by time range.
WHEN = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)


@pytest.fixture
def cloudwatch(aws: None) -> Any:
    """A CloudWatch client inside the mock, made the way the publish command makes it."""
    return default_client(REGION)


class Recorder:
    """A CloudWatch client stand-in that records the size of each PutMetricData batch."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def put_metric_data(self, Namespace: str, MetricData: list[Any]) -> None:
        self.sizes.append(len(MetricData))


def entry(name: str, value: Any, feature: str | None = None, unit: str = "None") -> dict:
    """One entry of metrics.json."""
    dimensions = {"Endpoint": ENDPOINT} | ({"Feature": feature} if feature else {})
    return {"name": name, "dimensions": dimensions, "value": value, "unit": unit}


def write_document(tmp_path: Path, entries: list[Any], **changes: Any) -> Path:
    """A metrics.json with ``entries`` in ``tmp_path``; its path."""
    document = {"namespace": METRIC_NAMESPACE, "timestamp": WHEN.isoformat(), "metrics": entries}
    document.update(changes)
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def statistic(cloudwatch: Any, name: str, dimensions: dict[str, str]) -> list[dict[str, Any]]:
    """The one-minute Sum and SampleCount datapoints of a metric around WHEN."""
    answer = cloudwatch.get_metric_statistics(
        Namespace=METRIC_NAMESPACE,
        MetricName=name,
        Dimensions=[{"Name": key, "Value": value} for key, value in dimensions.items()],
        StartTime=WHEN - timedelta(minutes=1),
        EndTime=WHEN + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum", "SampleCount"],
    )
    return answer["Datapoints"]


def test_published_metrics_carry_namespace_dimensions_and_values(
    cloudwatch: Any, tmp_path: Path
) -> None:
    # given
    path = write_document(
        tmp_path, [entry(RECORDS_CHECKED, 120, unit="Count"), entry(PSI, 0.42, feature="age")]
    )
    # when
    report = publish_metrics(load_metrics(path), cloudwatch)
    # then
    assert (report.published, report.calls, report.skipped) == (2, 1, ())
    listed = cloudwatch.list_metrics(Namespace=METRIC_NAMESPACE)["Metrics"]
    assert sorted(
        (m["MetricName"], tuple(sorted(d["Value"] for d in m["Dimensions"]))) for m in listed
    ) == [
        ("PSI", ("age", ENDPOINT)),
        ("RecordsChecked", (ENDPOINT,)),
    ]
    (psi,) = statistic(cloudwatch, PSI, {"Endpoint": ENDPOINT, "Feature": "age"})
    assert (psi["Sum"], psi["SampleCount"]) == (0.42, 1.0)
    (records,) = statistic(cloudwatch, RECORDS_CHECKED, {"Endpoint": ENDPOINT})
    assert (records["Sum"], records["Unit"]) == (120.0, "Count")


def test_more_metrics_than_one_call_takes_are_all_published(
    cloudwatch: Any, tmp_path: Path
) -> None:
    # given 1200 metrics, one per feature
    path = write_document(tmp_path, [entry(PSI, 0.5, feature=f"f{i}") for i in range(1200)])
    # when
    report = publish_metrics(load_metrics(path), cloudwatch)
    # then
    assert (report.published, report.calls) == (1200, 3)
    paginator = cloudwatch.get_paginator("list_metrics")
    listed = [m for page in paginator.paginate(Namespace=METRIC_NAMESPACE) for m in page["Metrics"]]
    assert len(listed) == 1200


def test_calls_stay_within_the_entry_budget() -> None:
    # given a client that records each call's batch size

    document = MetricsDocument(
        METRIC_NAMESPACE,
        WHEN,
        tuple(Metric(PSI, {"Endpoint": ENDPOINT, "Feature": f"f{i}"}, 0.1) for i in range(1001)),
    )
    recorder = Recorder()
    # when
    publish_metrics(document, recorder)
    # then
    assert recorder.sizes == [BATCH_ENTRIES, BATCH_ENTRIES, 1]


def test_long_dimension_values_split_a_batch_early() -> None:
    # given 500 metrics whose feature names are CloudWatch's longest dimension values

    long_name = "x" * 1020
    document = MetricsDocument(
        METRIC_NAMESPACE,
        WHEN,
        tuple(
            Metric(PSI, {"Endpoint": long_name, "Feature": f"{long_name}{i:03}"}, 0.1)
            for i in range(500)
        ),
    )
    recorder = Recorder()
    # when
    publish_metrics(document, recorder)
    # then
    assert sum(recorder.sizes) == 500
    assert len(recorder.sizes) == 3


def test_non_finite_values_are_skipped_and_counted(cloudwatch: Any, tmp_path: Path) -> None:
    # given NaN, infinity and null among finite values
    path = tmp_path / "metrics.json"
    path.write_text(
        json.dumps(
            {
                "namespace": METRIC_NAMESPACE,
                "timestamp": WHEN.isoformat(),
                "metrics": [
                    entry(PSI, float("nan"), feature="age"),
                    entry(PSI, 0.1, feature="income"),
                    entry(PSI, float("inf"), feature="tenure"),
                    entry(PSI, None, feature="plan"),
                ],
            }
        ),
        encoding="utf-8",
    )
    # when
    report = publish_metrics(load_metrics(path), cloudwatch)
    # then
    assert report.published == 1
    assert [skipped.describe() for skipped in report.skipped] == [
        f"metrics[0] PSI (Endpoint={ENDPOINT}, Feature=age): value is nan",
        f"metrics[2] PSI (Endpoint={ENDPOINT}, Feature=tenure): value is inf",
        f"metrics[3] PSI (Endpoint={ENDPOINT}, Feature=plan): value is null",
    ]
    listed = cloudwatch.list_metrics(Namespace=METRIC_NAMESPACE)["Metrics"]
    assert [d["Value"] for m in listed for d in m["Dimensions"] if d["Name"] == "Feature"] == [
        "income"
    ]


def test_a_missing_field_names_the_file_and_the_entry(tmp_path: Path) -> None:
    # given
    broken = {"name": PSI, "dimensions": {"Endpoint": ENDPOINT}}
    path = write_document(tmp_path, [entry(PSI, 0.1), broken])
    # when / then
    with pytest.raises(ValueError) as refused:
        load_metrics(path)
    assert str(refused.value) == f"{path}: invalid metrics document:\n  metrics[1]: missing 'value'"


def test_every_broken_entry_is_listed_at_once(tmp_path: Path) -> None:
    # given
    path = write_document(
        tmp_path,
        [
            {"name": "", "dimensions": {"Endpoint": ENDPOINT}, "value": 1},
            {"name": PSI, "dimensions": {"Endpoint": 3}, "value": "high", "unit": "Furlongs"},
            "not an object",
        ],
        timestamp="2025-03-01T10:00:00",
    )
    # when / then
    with pytest.raises(ValueError) as refused:
        load_metrics(path)
    assert str(refused.value).splitlines()[1:] == [
        "  'timestamp' has no UTC offset: '2025-03-01T10:00:00'",
        "  metrics[0]: 'name' must be a string of 1 to 255 characters",
        "  metrics[1]: dimension 'Endpoint' must be a string of 1 to 1024 characters, got 3",
        "  metrics[1]: 'value' must be a number, got 'high'",
        "  metrics[1]: 'unit' must be a CloudWatch unit such as Count, got 'Furlongs'",
        "  metrics[2]: expected an object, got str",
    ]


def test_a_file_that_is_not_json_is_a_clear_error(tmp_path: Path) -> None:
    # given
    path = tmp_path / "metrics.json"
    path.write_text("{not json", encoding="utf-8")
    # when / then
    with pytest.raises(ValueError, match=r"metrics\.json: not a JSON document: "):
        load_metrics(path)


def test_a_z_timestamp_is_read_as_utc(tmp_path: Path) -> None:
    # given
    path = write_document(tmp_path, [], timestamp="2025-03-01T10:00:00Z")
    # when
    document = load_metrics(path)
    # then
    assert document.timestamp == datetime(2025, 3, 1, 10, tzinfo=UTC)


def test_a_failed_call_says_how_much_was_published(tmp_path: Path) -> None:
    # given a client whose second call fails
    class Flaky:
        calls = 0

        def put_metric_data(self, **_: Any) -> None:
            self.calls += 1
            if self.calls == 2:
                raise RuntimeError("Rate exceeded")

    document = MetricsDocument(
        METRIC_NAMESPACE,
        WHEN,
        tuple(Metric(PSI, {"Endpoint": ENDPOINT, "Feature": f"f{i}"}, 0.1) for i in range(600)),
    )
    # when / then
    with pytest.raises(PublishError) as failed:
        publish_metrics(document, Flaky())
    assert str(failed.value) == (
        "PutMetricData to MLPlatform/Monitoring failed after 500 of 600 data points were published: Rate exceeded"
    )


def test_a_metric_cannot_hold_a_non_finite_value() -> None:
    # given / when / then
    with pytest.raises(ValueError, match=r"^metric 'PSI' has a non-finite value nan$"):
        Metric(PSI, {"Endpoint": ENDPOINT}, float("nan"))


def test_the_default_client_uses_standard_retries(aws: None) -> None:
    # given / when
    client = default_client("eu-west-1")
    # then
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.config.retries["mode"] == "standard"
    assert client.meta.service_model.service_name == "cloudwatch"
