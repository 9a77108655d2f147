"""Selecting one window's data-capture files from S3 (moto)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.workloads.monitoring.conftest import REGION
from workloads.monitoring.capture_window import (
    Window,
    default_client,
    hour_prefixes,
    parse_capture_uri,
    parse_window_end,
    select_window,
)

BUCKET = "mlp-dev-monitoring"
PREFIX = "datacapture/mlp-dev-churn"
CAPTURE_URI = f"s3://{BUCKET}/{PREFIX}/"
END = datetime(2025, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def s3(aws: None) -> Any:
    """An S3 client made the way the select-window command makes it, and the capture bucket."""
    client = default_client(REGION)
    client.create_bucket(Bucket=BUCKET)
    return client


def put(s3: Any, key: str, body: str = '{"captureData": {}}\n') -> None:
    """An object at ``key`` of the capture bucket."""
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())


def staged(out_dir: Path) -> list[str]:
    """The files under out_dir/capture, as sorted relative paths."""
    root = out_dir / "capture"
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_only_the_windows_capture_files_are_downloaded_in_their_layout(
    s3: Any, tmp_path: Path
) -> None:
    # given a two-hour window [10:00, 12:00) and files in and around it
    inside = [
        f"{PREFIX}/AllTraffic/2025/03/01/09/hour-before.jsonl",
        f"{PREFIX}/AllTraffic/2025/03/01/10/a.jsonl",
        f"{PREFIX}/AllTraffic/2025/03/01/11/b.jsonl",
        f"{PREFIX}/AllTraffic/2025/03/01/12/spilled-over.jsonl",
        f"{PREFIX}/canary/2025/03/01/11/c.jsonl",
    ]
    outside = [
        f"{PREFIX}/AllTraffic/2025/03/01/08/too-early.jsonl",
        f"{PREFIX}/AllTraffic/2025/03/01/13/too-late.jsonl",
        f"{PREFIX}/AllTraffic/2025/02/28/10/day-before.jsonl",
        f"{PREFIX}/AllTraffic/2025/03/01/10/notes.txt",
        f"{PREFIX}/AllTraffic/2025/03/01/10/nested/d.jsonl",
        "datacapture/mlp-dev-churn-sandbox/AllTraffic/2025/03/01/10/other-endpoint.jsonl",
    ]
    for key in inside + outside:
        put(s3, key)
    # when
    selection = select_window(s3, CAPTURE_URI, 2, END, tmp_path)
    # then
    assert staged(tmp_path) == [
        "AllTraffic/2025/03/01/09/hour-before.jsonl",
        "AllTraffic/2025/03/01/10/a.jsonl",
        "AllTraffic/2025/03/01/11/b.jsonl",
        "AllTraffic/2025/03/01/12/spilled-over.jsonl",
        "canary/2025/03/01/11/c.jsonl",
    ]
    assert (selection.files, selection.variants) == (5, ("AllTraffic", "canary"))


def test_a_downloaded_file_keeps_its_content(s3: Any, tmp_path: Path) -> None:
    # given
    put(s3, f"{PREFIX}/AllTraffic/2025/03/01/11/a.jsonl", '{"line": 1}\n{"line": 2}\n')
    # when
    select_window(s3, CAPTURE_URI, 1, END, tmp_path)
    # then
    downloaded = tmp_path / "capture/AllTraffic/2025/03/01/11/a.jsonl"
    assert downloaded.read_text() == '{"line": 1}\n{"line": 2}\n'


def test_window_json_describes_the_selection(s3: Any, tmp_path: Path) -> None:
    # given
    put(s3, f"{PREFIX}/AllTraffic/2025/03/01/11/a.jsonl", "x" * 10)
    put(s3, f"{PREFIX}/AllTraffic/2025/03/01/11/b.jsonl", "x" * 32)
    # when
    selection = select_window(s3, CAPTURE_URI, 3, END, tmp_path)
    # then
    assert selection.window_file == tmp_path / "window.json"
    assert json.loads(selection.window_file.read_text()) == {
        "endpoint": "mlp-dev-churn",
        "start": "2025-03-01T09:00:00+00:00",
        "end": "2025-03-01T12:00:00+00:00",
        "capture_uri": CAPTURE_URI,
        "files": 2,
        "bytes": 42,
        "variants": ["AllTraffic"],
    }


def test_an_empty_window_writes_window_json_with_no_files(s3: Any, tmp_path: Path) -> None:
    # given a capture prefix with nothing in the window
    put(s3, f"{PREFIX}/AllTraffic/2025/02/01/11/a.jsonl")
    # when
    selection = select_window(s3, CAPTURE_URI, 1, END, tmp_path)
    # then
    document = json.loads((tmp_path / "window.json").read_text())
    assert (document["files"], document["bytes"], document["variants"]) == (0, 0, ["AllTraffic"])
    assert selection.files == 0
    assert not (tmp_path / "capture").exists()


def test_an_endpoint_that_never_captured_is_an_empty_window(s3: Any, tmp_path: Path) -> None:
    # given an empty bucket / when
    selection = select_window(s3, CAPTURE_URI, 1, END, tmp_path / "out")
    # then
    assert (selection.files, selection.variants) == (0, ())
    assert json.loads((tmp_path / "out" / "window.json").read_text())["files"] == 0


def test_listings_are_followed_across_pages(s3: Any, tmp_path: Path) -> None:
    # given seven files in one hour, listed two keys per call
    for index in range(7):
        put(s3, f"{PREFIX}/AllTraffic/2025/03/01/11/part-{index}.jsonl")
    calls: list[str] = []
    s3.meta.events.register(
        "before-call.s3.ListObjectsV2", lambda params, **_: calls.append(params["url_path"])
    )
    # when
    selection = select_window(s3, CAPTURE_URI, 1, END, tmp_path, page_size=2)
    # then
    assert selection.files == 7
    assert len(staged(tmp_path)) == 7
    # one call for the variants, 4 for the hour with files, 1 for each of the 2 empty hours
    assert len(calls) == 1 + 4 + 2


def test_keys_that_would_leave_the_output_folder_are_skipped(s3: Any, tmp_path: Path) -> None:
    # given a variant folder named '..' (S3 keys are free text)
    put(s3, f"{PREFIX}/../2025/03/01/11/escape.jsonl")
    put(s3, f"{PREFIX}/AllTraffic/2025/03/01/11/a.jsonl")
    # when
    selection = select_window(s3, CAPTURE_URI, 1, END, tmp_path / "out")
    # then
    assert selection.variants == ("AllTraffic",)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.jsonl")) == [
        "out/capture/AllTraffic/2025/03/01/11/a.jsonl"
    ]


def test_hour_prefixes_span_the_window_and_an_hour_either_side() -> None:
    # given / when
    prefixes = hour_prefixes("capture/ep/", "AllTraffic", END - timedelta(hours=2), END)
    # then
    assert prefixes == [
        "capture/ep/AllTraffic/2025/03/01/09/",
        "capture/ep/AllTraffic/2025/03/01/10/",
        "capture/ep/AllTraffic/2025/03/01/11/",
        "capture/ep/AllTraffic/2025/03/01/12/",
    ]


def test_hour_prefixes_cross_midnight_in_utc() -> None:
    # given a window given in UTC+02:00 that spans midnight UTC
    plus_two = timezone(timedelta(hours=2))
    start = datetime(2025, 3, 1, 1, 30, tzinfo=plus_two)  # 2025-02-28T23:30Z
    end = datetime(2025, 3, 1, 2, 15, tzinfo=plus_two)  # 2025-03-01T00:15Z
    # when
    prefixes = hour_prefixes("ep", "v", start, end)
    # then
    assert prefixes == ["ep/v/2025/02/28/22/", "ep/v/2025/02/28/23/", "ep/v/2025/03/01/00/"]


def test_now_is_floored_to_the_hour_in_utc() -> None:
    # given
    now = datetime(2025, 3, 1, 14, 34, 56, 789, tzinfo=timezone(timedelta(hours=2)))
    # when
    end = parse_window_end("now", now=now)
    # then
    assert end == datetime(2025, 3, 1, 12, tzinfo=UTC)
    assert end.utcoffset() == timedelta(0)


def test_now_without_a_clock_is_the_current_hour() -> None:
    # given
    before = datetime.now(UTC)
    # when
    end = parse_window_end("now")
    # then
    after = datetime.now(UTC)
    assert before.replace(minute=0, second=0, microsecond=0) <= end <= after
    assert (end.minute, end.second, end.microsecond) == (0, 0, 0)


def test_an_iso_time_with_z_or_an_offset_is_taken_in_utc() -> None:
    # given / when / then
    assert parse_window_end("2025-03-01T12:00:00Z") == END
    assert parse_window_end("2025-03-01T14:00:00+02:00") == END


def test_a_naive_window_end_is_refused() -> None:
    # given / when / then
    with pytest.raises(ValueError) as refused:
        parse_window_end("2025-03-01T12:00:00")
    assert str(refused.value) == (
        "window end '2025-03-01T12:00:00' has no UTC offset; add Z or an offset such as +00:00"
    )


def test_a_window_end_that_is_not_a_time_is_refused() -> None:
    # given / when / then
    with pytest.raises(ValueError) as refused:
        parse_window_end("yesterday")
    assert str(refused.value) == (
        "window end must be an ISO-8601 time such as 2025-03-01T10:00:00Z, got 'yesterday'"
    )


@pytest.mark.parametrize(
    "uri",
    [
        "mlp-dev-monitoring/datacapture/mlp-dev-churn/",
        "https://mlp-dev-monitoring.s3.amazonaws.com/datacapture/",
        "s3://mlp-dev-monitoring",
        "s3://mlp-dev-monitoring/",
        "s3://Bad_Bucket/datacapture/mlp-dev-churn/",
    ],
)
def test_a_malformed_capture_uri_is_refused(uri: str) -> None:
    # given / when / then
    with pytest.raises(ValueError) as refused:
        parse_capture_uri(uri)
    assert str(refused.value) == (
        "capture URI must look like s3://<bucket>/<prefix>/<endpoint>/ (the folder data capture "
        f"writes the endpoint's variants to), got {uri!r}"
    )


def test_a_capture_uri_gives_bucket_and_prefix() -> None:
    # given / when / then
    assert parse_capture_uri(CAPTURE_URI) == (BUCKET, PREFIX)


def test_select_window_refuses_a_malformed_uri_before_calling_s3(tmp_path: Path) -> None:
    # given no client at all / when / then
    with pytest.raises(ValueError, match=r"^capture URI must look like"):
        select_window(None, "s3://bucket-only", 1, END, tmp_path)


def test_select_window_refuses_a_window_of_no_hours(tmp_path: Path) -> None:
    # given / when / then
    with pytest.raises(
        ValueError, match=r"^window hours must be a whole number of at least 1, got 0$"
    ):
        select_window(None, CAPTURE_URI, 0, END, tmp_path)


def test_a_window_round_trips_through_json() -> None:
    # given
    window = Window(start=END - timedelta(hours=1), end=END, endpoint="mlp-dev-churn")
    # when
    again = Window.from_json(json.loads(json.dumps(window.to_json())))
    # then
    assert again == window


def test_a_window_is_read_from_a_whole_window_json() -> None:
    # given
    document = {
        "endpoint": "mlp-dev-churn",
        "start": "2025-03-01T11:00:00+00:00",
        "end": "2025-03-01T12:00:00Z",
        "files": 3,
    }
    # when
    window = Window.from_json(document)
    # then
    assert (window.start, window.end) == (END - timedelta(hours=1), END)


def test_a_window_holds_its_start_but_not_its_end() -> None:
    # given
    window = Window(start=END - timedelta(hours=1), end=END, endpoint="mlp-dev-churn")
    # when / then
    assert window.contains(END - timedelta(hours=1))
    assert not window.contains(END)


def test_a_window_with_naive_times_is_refused() -> None:
    # given / when / then
    with pytest.raises(
        ValueError, match=r"^window start must be timezone-aware, got 2025-03-01T11:00:00$"
    ):
        Window(start=datetime(2025, 3, 1, 11), end=END, endpoint="e")


def test_a_window_ending_before_it_starts_is_refused() -> None:
    # given / when / then
    with pytest.raises(ValueError) as refused:
        Window(start=END, end=END, endpoint="e")
    assert str(refused.value) == (
        "window end 2025-03-01T12:00:00+00:00 must be after its start 2025-03-01T12:00:00+00:00"
    )
