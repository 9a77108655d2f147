"""Reading capture files: every payload format, and malformed lines counted, never raised."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.workloads.monitoring.samples import FEATURES, capture_line, write_capture
from workloads.monitoring.capture import capture_files, parse_time, read_capture


def read(tmp_path: Path, lines: list[str], **window: datetime):
    write_capture(tmp_path, lines)
    return read_capture(capture_files(tmp_path), FEATURES, root=tmp_path, **window)


def test_csv_json_list_and_json_object_requests_become_rows(tmp_path: Path) -> None:
    # given one request in each format, objects in another key order
    lines = [
        capture_line("12.5,3,web"),
        capture_line([[7.0, 1, "app"], [8.0, 2, "store"]], output=json.dumps([0.1, 0.2])),
        capture_line({"channel": "web", "amount": 1.0, "items": 4}),
        capture_line({"instances": [{"amount": 2.0, "items": 5, "channel": "app"}]}),
    ]
    # when
    data = read(tmp_path, lines)
    # then
    assert data.rows == [
        ["12.5", "3", "web"],
        [7.0, 1, "app"],
        [8.0, 2, "store"],
        [1.0, 4, "web"],
        [2.0, 5, "app"],
    ]
    assert data.predictions == [0.3, 0.1, 0.2, 0.3, 0.3]
    assert data.malformed == 0


def test_a_csv_header_line_orders_the_columns(tmp_path: Path) -> None:
    # given a CSV request whose header names the features in another order
    # when
    data = read(tmp_path, [capture_line("channel,amount,items\nweb,1.5,2\napp,2.5,3")])
    # then
    assert data.rows == [["1.5", "2", "web"], ["2.5", "3", "app"]]


def test_base64_payloads_are_decoded_by_their_content_type(tmp_path: Path) -> None:
    # given a request SageMaker captured as BASE64
    record = json.loads(capture_line("1,2,web"))
    request = record["captureData"]["endpointInput"]
    request["encoding"] = "BASE64"
    request["data"] = base64.b64encode(b"4.5,6,store").decode()
    # when
    data = read(tmp_path, [json.dumps(record)])
    # then
    assert data.rows == [["4.5", "6", "store"]]


def test_a_json_object_missing_a_feature_leaves_it_missing_and_extra_keys_are_counted(
    tmp_path: Path,
) -> None:
    # given
    line = capture_line({"amount": 3.0, "channel": "web", "coupon": "X"})
    # when
    data = read(tmp_path, [line])
    # then
    assert data.rows == [[3.0, None, "web"]]
    assert data.extra_columns == {"coupon": 1}


def test_malformed_lines_are_counted_with_file_line_and_reason(tmp_path: Path) -> None:
    # given good lines around every kind of bad one
    bad_base64 = json.loads(capture_line("1,2,web"))
    bad_base64["captureData"]["endpointInput"].update(encoding="BASE64", data="***")
    lines = [
        capture_line("1,2,web"),
        "{not json",
        json.dumps({"captureData": {}}),
        capture_line("1,2"),
        capture_line("1,2,web", time="yesterday"),
        json.dumps(bad_base64),
        capture_line("1,2,web", output=json.dumps({"predictions": [[0.1, 0.9]]})),
        capture_line("5,6,app"),
    ]
    # when
    data = read(tmp_path, lines)
    # then: the good lines are kept and each bad line is explained; a line whose answer cannot
    # be read is dropped whole (its request too), so each line is counted exactly once
    assert data.rows == [["1", "2", "web"], ["5", "6", "app"]]
    assert data.predictions == [0.3, 0.3]
    assert data.capture_lines == 8
    assert data.malformed == 6
    assert data.requests == 2
    reasons = [(e.line, e.reason) for e in data.examples]
    file = data.examples[0].file
    assert file == str(Path("main/2026/11/22/10/capture.jsonl"))
    assert reasons[0][0] == 2 and reasons[0][1].startswith("not JSON")
    assert reasons[1] == (
        3,
        "not a capture record (needs captureData.endpointInput and eventMetadata.inferenceTime)",
    )
    assert reasons[2] == (4, "endpointInput: row 0 has 2 values, expected 3")
    assert reasons[3] == (
        5,
        "eventMetadata.inferenceTime: 'yesterday' is not an ISO-8601 time in years 1 to 9999",
    )
    assert reasons[4] == (6, "endpointInput: BASE64 data that is not UTF-8 text")
    assert reasons[5][0] == 7 and "only scalars or one-element lists" in reasons[5][1]


def test_only_invocations_inside_the_window_are_read(tmp_path: Path) -> None:
    # given invocations before, at the start of, inside and at the end of the window
    lines = [
        capture_line("1,1,web", time="2026-11-22T09:59:59Z"),
        capture_line("2,2,web", time="2026-11-22T10:00:00Z"),
        capture_line("3,3,web", time="2026-11-22T10:30:00+01:00"),
        capture_line("4,4,web", time="2026-11-22T11:00:00Z"),
    ]
    start = datetime(2026, 11, 22, 10, tzinfo=UTC)
    end = datetime(2026, 11, 22, 11, tzinfo=UTC)
    # when
    data = read(tmp_path, lines, start=start, end=end)
    # then: [start, end); 10:30+01:00 is 09:30 UTC
    assert data.rows == [["2", "2", "web"]]
    assert data.outside_window == 3


def test_an_empty_folder_reads_as_an_empty_window(tmp_path: Path) -> None:
    # given / when
    data = read_capture(capture_files(tmp_path), FEATURES)
    # then
    assert data.rows == [] and data.capture_lines == 0 and data.malformed == 0


def test_inference_times_need_a_zone() -> None:
    # given / when / then
    assert parse_time("2026-11-22T10:00:00Z") == datetime(2026, 11, 22, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="has no time zone"):
        parse_time("2026-11-22T10:00:00")


def test_an_answer_in_another_output_keeps_its_inputs_and_drops_its_predictions(
    tmp_path: Path,
) -> None:
    # given an answer the client asked in the other output (marked by the server) and a plain one
    marked = json.loads(capture_line("1.5,2,web", output=json.dumps({"predictions": [[0.1, 0.9]]})))
    response = marked["captureData"]["endpointOutput"]
    response["observedContentType"] = "application/json; output=probability"
    write_capture(tmp_path, [json.dumps(marked), capture_line("2.5,3,app", 0.4)])
    # when read
    data = read_capture(capture_files(tmp_path), FEATURES, root=tmp_path)
    # then both requests' rows count, only the plain answer's prediction does, nothing is malformed
    assert (data.requests, data.malformed, data.other_output) == (2, 0, 1)
    assert len(data.rows) == 2
    assert data.predictions == [0.4]
