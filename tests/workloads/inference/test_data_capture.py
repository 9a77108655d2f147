"""The local server's data capture: SageMaker's JSON Lines, hour folders, sampling."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workloads.inference.data_capture import CaptureWriter, capture_line
from workloads.monitoring.capture import capture_files, read_capture

NOON = datetime(2026, 12, 7, 12, 59, 58, 123000, tzinfo=UTC)


def test_a_line_is_sagemakers_capture_record() -> None:
    # given a CSV request answered with JSON / when it is captured
    line = json.loads(
        capture_line(b"1,2", "text/csv", b'{"predictions": [0]}', "application/json", NOON)
    )
    # then it is the record SageMaker writes
    event_id = line["eventMetadata"]["eventId"]
    assert line == {
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "1,2", "encoding": "CSV"},
            "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT", "data": '{"predictions": [0]}', "encoding": "JSON"},
        },
        "eventMetadata": {"eventId": event_id, "inferenceTime": "2026-12-07T12:59:58Z"},
        "eventVersion": "0",
    }  # fmt: skip
    assert len(event_id) == 36


@pytest.mark.parametrize(
    ("body", "media_type"),
    [(b"\x93NUMPY\x01\x00", "application/x-npy"), (b"\xff\xfe", "text/csv")],
)
def test_other_media_and_bytes_that_are_not_utf8_are_base64(body: bytes, media_type: str) -> None:
    # given a body that is not text / when it is captured / then it is BASE64 of its bytes
    line = json.loads(capture_line(body, media_type, b"0", "text/csv", NOON))
    captured = line["captureData"]["endpointInput"]
    assert (captured["encoding"], captured["observedContentType"]) == ("BASE64", media_type)
    assert base64.b64decode(captured["data"]) == body


def test_files_go_into_hour_folders_and_a_new_hour_starts_a_new_file(tmp_path: Path) -> None:
    # given a clock at 12:59:58, then 13:00:01
    times = iter([NOON, NOON + timedelta(seconds=1), NOON + timedelta(seconds=3)])
    writer = CaptureWriter(tmp_path, clock=lambda: next(times))
    # when three requests are captured
    for _ in range(3):
        writer.record(b"1,2", "text/csv", b"0", "text/csv")
    writer.close()
    # then the first two share the 12 o'clock file and the third starts the 13 o'clock one
    files = capture_files(tmp_path)
    assert [str(path.relative_to(tmp_path).parent) for path in files] == [
        "2026/12/07/12",
        "2026/12/07/13",
    ]
    assert files[0].name.startswith("59-58-123-")
    assert [len(path.read_text().splitlines()) for path in files] == [2, 1]
    assert writer.written == 3


def test_the_monitor_reads_what_is_captured(tmp_path: Path) -> None:
    # given a CSV request of two rows and a JSON request of one, captured
    writer = CaptureWriter(tmp_path)
    writer.record(b"1,2\n3,4", "text/csv", b'{"predictions": [0, 1]}', "application/json")
    writer.record(b"[[5, 6]]", "application/json", b"1\n", "text/csv")
    writer.close()
    # when the monitor reads the folder / then it finds every row and prediction
    data = read_capture(capture_files(tmp_path), ["a", "b"])
    assert (data.requests, data.malformed) == (2, 0)
    assert data.rows == [["1", "2"], ["3", "4"], [5, 6]]  # CSV cells stay text
    assert data.predictions == [0, 1, "1"]


def test_a_percent_below_100_captures_that_share(tmp_path: Path) -> None:
    # given 25 percent and draws of 0.1, 0.3, 0.2, 0.9
    draws = iter([0.1, 0.3, 0.2, 0.9])
    writer = CaptureWriter(tmp_path, 25.0, draw=lambda: next(draws))
    # when four requests come / then the draws under 0.25 are captured
    kept = [writer.record(b"1,2", "text/csv", b"0", "text/csv") for _ in range(4)]
    writer.close()
    assert writer.written == 2
    # and record says which were written (the server counts them in its metrics)
    assert kept == [True, False, True, False]


@pytest.mark.parametrize("percent", [0.0, -1.0, 100.5])
def test_a_percent_outside_0_to_100_is_refused(tmp_path: Path, percent: float) -> None:
    with pytest.raises(ValueError) as raised:
        CaptureWriter(tmp_path, percent)
    assert str(raised.value) == f"capture percent must be in (0, 100], not {percent}"


def test_recorded_lines_are_written_whole_on_flush_and_counted(tmp_path: Path) -> None:
    # given a writer at a fixed time and three recorded invocations
    writer = CaptureWriter(tmp_path, clock=lambda: NOON)
    for row in (b"1,2", b"3,4", b"5,6"):
        assert writer.record(row, "text/csv", b"0", "text/csv")
    # when the pending lines are flushed
    writer.flush()
    # then the file holds the three lines whole, and every recorded line counts as written
    [path] = capture_files(tmp_path)
    lines = path.read_text().splitlines()
    assert [json.loads(line)["captureData"]["endpointInput"]["data"] for line in lines] == [
        "1,2",
        "3,4",
        "5,6",
    ]
    assert (writer.recorded, writer.written, writer.lost) == (3, 3, 0)
    writer.close()


def test_event_ids_are_distinct_uuids(tmp_path: Path) -> None:
    # given a writer / when 500 invocations are captured
    writer = CaptureWriter(tmp_path, clock=lambda: NOON)
    for _ in range(500):
        writer.record(b"1,2", "text/csv", b"0", "text/csv")
    writer.close()
    # then every event id is a UUID, and no two are the same
    [path] = capture_files(tmp_path)
    ids = [json.loads(line)["eventMetadata"]["eventId"] for line in path.read_text().splitlines()]
    assert len(set(ids)) == 500
    assert all(str(uuid.UUID(event)) == event for event in ids)


def test_a_line_that_cannot_be_written_is_counted_lost(tmp_path: Path) -> None:
    # given a file where the capture's year folder should be
    (tmp_path / "2026").write_text("in the way")
    writer = CaptureWriter(tmp_path, clock=lambda: NOON)
    # when an invocation is captured / then the write error is raised and the line counted lost
    with pytest.raises(OSError):
        writer.record(b"1,2", "text/csv", b"0", "text/csv")
    assert (writer.recorded, writer.written, writer.lost) == (0, 0, 1)


def test_a_line_is_the_record_json_dumps_writes() -> None:
    # given an invocation with quotes, a newline and non-ASCII text in its bodies
    request = '{"name": "Zoë \\"Z\\"", "note": "a\\nb"}'.encode()
    response = b'{"predictions": ["ja"]}'
    # when it becomes a line
    line = capture_line(request, "application/json", response, 'text/csv; x="1"', NOON)
    # then it parses to the record, strings intact, and is pure ASCII as json.dumps writes it
    record = json.loads(line)
    assert record["captureData"]["endpointInput"]["data"] == request.decode()
    assert record["captureData"]["endpointOutput"]["observedContentType"] == 'text/csv; x="1"'
    assert record["captureData"]["endpointOutput"]["encoding"] == "BASE64"
    assert line.isascii()


@pytest.mark.parametrize(
    "body",
    [b"[[0.5, -1.25, 3e-05]]", b"1,2\n3,4", b'{"a": "b\\\\c"}', b"x\x7fy", "Zoë".encode(), b"\xff"],
)
def test_the_line_is_byte_for_byte_what_json_dumps_writes(body: bytes) -> None:
    # given a body taking the plain-text path or the escaping one / when it becomes a line
    line = capture_line(body, "text/csv", b"0", "application/json", NOON)
    record = json.loads(line)
    # then json.dumps of the same record writes the very same line
    assert line == json.dumps(record, separators=(",", ":"))
