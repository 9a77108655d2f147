"""Hostile input: every bound of Limits, one class at a time, with the exact reason it gives.

Each bad capture line is counted as malformed (never raised) and the check still writes its
results; a bad baseline or training table stops the command with one line naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.workloads.monitoring.samples import (
    FEATURES,
    capture_line,
    run_check,
    sample_baseline,
    window_lines,
    write_capture,
)
from workloads.monitoring import contract
from workloads.monitoring.baseline import load_baseline, write_baseline
from workloads.monitoring.baseline_files import baseline_problems
from workloads.monitoring.capture import capture_files, read_capture
from workloads.monitoring.check import UNKNOWN_KEYS, CheckResult, check_window
from workloads.monitoring.cli import CommandError, _read_json_lines, main
from workloads.monitoring.limits import Limits
from workloads.monitoring.results import write_results


def reasons(tmp_path: Path, lines: list[str | bytes], limits: Limits | None = None):
    """Read ``lines`` (text or raw bytes) as one capture file: the data and (line, reason)s."""
    path = tmp_path / "main" / "2026" / "11" / "22" / "10" / "capture.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines)
    )
    data = read_capture(capture_files(tmp_path), FEATURES, root=tmp_path, limits=limits)
    return data, [(example.line, example.reason) for example in data.examples]


def checked(tmp_path: Path, lines: list[str], limits: Limits | None = None) -> CheckResult:
    write_capture(tmp_path / "capture", lines)
    return check_window(
        sample_baseline(),
        capture_files(tmp_path / "capture"),
        endpoint="e",
        root=tmp_path / "capture",
        limits=limits,
    )


def test_an_over_long_line_is_skipped_unread_and_the_next_line_is_read(tmp_path: Path) -> None:
    # given a line of 5,000 bytes between two good ones, read with a 1,000-byte bound
    long_line = capture_line("1,2,web", time="2026-11-22T10:15:00Z" + " " * 5_000)
    # when
    data, found = reasons(
        tmp_path,
        [capture_line("1,2,web"), long_line, capture_line("3,4,app")],
        Limits(max_line_bytes=1_000),
    )
    # then
    assert found == [(2, "line longer than 1000 bytes")]
    assert data.rows == [["1", "2", "web"], ["3", "4", "app"]]
    assert (data.capture_lines, data.requests, data.malformed) == (3, 2, 1)


def test_a_payload_past_its_bound_is_refused_before_decoding(tmp_path: Path) -> None:
    # given a request of 120 characters with a 100-character payload bound
    line = capture_line(",".join(["1" * 58, "2" * 58, "web"]))
    # when
    _, found = reasons(tmp_path, [line], Limits(max_payload_bytes=100))
    # then
    assert found == [(1, "endpointInput: data of 121 characters, more than the 100 allowed")]


def test_deep_nesting_in_the_line_or_the_payload_is_malformed(tmp_path: Path) -> None:
    # given a line nested 5,000 deep (past Python's own recursion limit) and a payload 10 deep
    deep_line = '{"a":' * 5_000 + "1" + "}" * 5_000
    deep_payload = capture_line([[[[[[[[[[1]]]]]]]]]])
    # when
    data, found = reasons(tmp_path, [deep_line, deep_payload], Limits(max_json_depth=8))
    # then
    assert found == [
        (1, "nested deeper than 8 levels"),
        (2, "endpointInput: JSON payload: nested deeper than 8 levels"),
    ]
    assert data.malformed == 2


def test_integers_past_the_digit_bound_are_malformed_in_inputs_and_predictions(
    tmp_path: Path,
) -> None:
    # given 400-digit integers in a JSON request and in an answer
    huge = int("9" * 400)
    lines = [capture_line([huge, 3, "web"]), capture_line("1,3,web", prediction=-huge)]
    # when
    _, found = reasons(tmp_path, lines)
    # then
    assert found == [
        (1, "endpointInput: JSON payload: an integer of more than 100 digits"),
        (2, "endpointOutput: JSON payload: an integer of more than 100 digits"),
    ]


def test_a_number_past_float64_in_a_csv_cell_is_a_type_violation_not_a_crash(
    tmp_path: Path,
) -> None:
    # given 400-digit numbers in CSV requests (no JSON integer: read as text, then as a float)
    lines = [capture_line("9" * 400 + ",3,web") for _ in range(10)] + window_lines(90)
    # when
    result = checked(tmp_path, lines)
    # then
    amount = next(feature for feature in result.features if feature.name == "amount")
    assert result.malformed == 0 and result.records == 100
    assert amount.type_violation_rate == pytest.approx(10 / 100)


def test_an_inference_time_past_year_9999_in_utc_is_malformed(tmp_path: Path) -> None:
    # given
    line = capture_line("1,2,web", time="9999-12-31T23:59:59-01:00")
    # when
    _, found = reasons(tmp_path, [line])
    # then
    assert found == [
        (
            1,
            "eventMetadata.inferenceTime: '9999-12-31T23:59:59-01:00' is not an ISO-8601 time "
            "in years 1 to 9999",
        )
    ]


def test_csv_cells_past_the_bound_or_past_the_csv_modules_limit_are_malformed(
    tmp_path: Path,
) -> None:
    # given a cell of 2,000 characters (bound 1,000) and one of 140,000 (csv's own limit)
    lines = [capture_line("x" * 2_000 + ",3,web"), capture_line("y" * 140_000 + ",3,web")]
    # when
    _, found = reasons(tmp_path, lines, Limits(max_csv_cell=1_000))
    # then
    assert found == [
        (1, "endpointInput: CSV line 0 has a cell of 2000 characters, more than the 1000 allowed"),
        (2, "endpointInput: CSV payload: field larger than field limit (131072)"),
    ]


def test_bytes_that_are_not_utf8_are_malformed(tmp_path: Path) -> None:
    # given
    raw = capture_line("1,2,web").encode().replace(b"web", b"w\xffb")
    position = raw.index(b"\xff") + 1
    # when
    _, found = reasons(tmp_path, [raw])
    # then
    assert found == [(1, f"not UTF-8 text (byte {position})")]


def test_a_long_bad_value_is_quoted_short_in_the_reason(tmp_path: Path) -> None:
    # given an encoding of 10,000 characters
    record = json.loads(capture_line("1,2,web"))
    record["captureData"]["endpointInput"]["encoding"] = "Z" * 10_000
    # when
    _, found = reasons(tmp_path, [json.dumps(record)])
    # then
    assert found == [(1, "endpointInput: unknown encoding '" + "Z" * 58 + "\u2026")]


def test_many_unknown_keys_give_one_summarising_violation(tmp_path: Path) -> None:
    # given five requests carrying 20,000 distinct unknown keys each
    lines = [
        capture_line(
            {"amount": 100.0, "items": 3, "channel": "web"}
            | {f"k{r}_{i}": 1 for i in range(20_000)}
        )
        for r in range(5)
    ]
    # when
    result = checked(tmp_path, lines, Limits(max_unknown_keys=3))
    # then
    extra = [v for v in result.violations if v["constraint_check_type"] == "extra_column_check"]
    assert extra == [
        {
            "feature_name": UNKNOWN_KEYS,
            "constraint_check_type": "extra_column_check",
            "description": "rows carry more than 3 distinct keys that no baseline feature is "
            "(100000 occurrences in all); the first 3 seen, sorted: 'k0_0', 'k0_1', 'k0_2'",
        }
    ]


def test_few_unknown_keys_keep_one_violation_each(tmp_path: Path) -> None:
    # given
    lines = [capture_line({"amount": 100.0, "items": 3, "channel": "web", "coupon": "X"})]
    # when
    result = checked(tmp_path, lines)
    # then
    assert [v for v in result.violations if v["constraint_check_type"] == "extra_column_check"] == [
        {
            "feature_name": "coupon",
            "constraint_check_type": "extra_column_check",
            "description": "1 rows carry 'coupon', which no baseline feature is",
        }
    ]


def test_unseen_categories_past_the_bound_keep_the_rate_exact(tmp_path: Path) -> None:
    # given 300 requests in 300 new channels, 100 in a known one, 5 unseen tracked at most
    lines = [capture_line(f"100,3,new{i}") for i in range(300)]
    lines += [capture_line("100,3,web") for _ in range(100)]
    # when
    bounded = checked(tmp_path / "a", lines, Limits(max_unseen_categories=5))
    unbounded = checked(tmp_path / "b", lines)
    # then
    channel = {f.name: f for f in bounded.features}["channel"]
    reference = {f.name: f for f in unbounded.features}["channel"]
    assert channel.unseen_rate == reference.unseen_rate == 0.75
    assert channel.js_distance == reference.js_distance
    assert channel.unseen_categories == ["new0", "new1", "new2", "new3", "new4"]


def test_lone_surrogates_and_long_labels_still_give_a_report(tmp_path: Path) -> None:
    # given a key and a category holding a lone surrogate, and a category of 1,000 characters
    lines = [
        capture_line({"amount": 1.0, "items": 3, "channel": "\ud800", "\udfff": 1}),
        capture_line({"amount": 1.0, "items": 3, "channel": "c" * 1_000}),
    ]
    result = checked(tmp_path, lines, Limits(max_label_chars=10))
    # when
    write_results(result, tmp_path / "out", timestamp=result.end or _now())
    # then
    channel = {f.name: f for f in result.features}["channel"]
    assert sorted(channel.unseen_categories) == ["\\ud800", "ccccccccc\u2026"]
    assert "\\udfff" in (tmp_path / "out" / contract.REPORT_FILE).read_text(encoding="utf-8")


def _now():
    from datetime import UTC, datetime

    return datetime(2026, 11, 22, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_line_bytes": 0}, "limit max_line_bytes must be a whole number >= 1, got 0"),
        ({"max_json_depth": True}, "limit max_json_depth must be a whole number >= 1, got True"),
        (
            {"max_csv_cell": 200_000},
            "limit max_csv_cell must be at most 131072 (the csv module's field limit), got 200000",
        ),
    ],
)
def test_limits_refuse_bounds_that_cannot_hold(changes: dict[str, object], message: str) -> None:
    # given / when / then
    with pytest.raises(ValueError) as raised:
        Limits(**changes)  # type: ignore[arg-type]
    assert str(raised.value) == message


# ------------------------------------------------------------------------------------------
# the command line
# ------------------------------------------------------------------------------------------


@pytest.fixture
def baseline_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "baseline"
    write_baseline(sample_baseline(1_000), folder)
    return folder


def test_the_check_command_takes_the_bounds_as_options(
    baseline_folder: Path, tmp_path: Path
) -> None:
    # given a window with a line of 2,000 bytes
    write_capture(tmp_path / "capture", [*window_lines(20), capture_line("x" * 2_000 + ",1,web")])
    # when
    status = run_check(
        baseline_folder, tmp_path / "capture", tmp_path / "out", "--max-line-bytes", "1500"
    )
    # then
    summary = json.loads((tmp_path / "out" / contract.SUMMARY_FILE).read_text())
    assert status == 0
    assert summary["limits"]["max_line_bytes"] == 1_500
    assert summary["malformed_examples"][0]["reason"] == "line longer than 1500 bytes"
    assert (summary["requests"], summary["malformed"], summary["capture_lines"]) == (20, 1, 21)


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (
            ["--start", "2026-11-22T10:00:00Z", "--end", "2026-11-22T10:00:00Z"],
            "ml-platform-monitor check: the window ends (2026-11-22T10:00:00+00:00) before it "
            "starts (2026-11-22T10:00:00+00:00): nothing to check\n",
        ),
        (
            ["--start", "9999-12-31T23:59:59-01:00"],
            "ml-platform-monitor check: --start: '9999-12-31T23:59:59-01:00' is not an ISO-8601 "
            "time in years 1 to 9999\n",
        ),
        (
            ["--max-json-depth", "0"],
            "ml-platform-monitor check: limit max_json_depth must be a whole number >= 1, got 0\n",
        ),
    ],
)
def test_a_window_or_bound_that_cannot_be_checked_is_one_line_and_writes_nothing(
    window: list[str], message: str, baseline_folder: Path, tmp_path: Path, capsys
) -> None:
    # given
    write_capture(tmp_path / "capture", window_lines(5))
    # when
    status = run_check(baseline_folder, tmp_path / "capture", tmp_path / "out", *window)
    # then
    assert status == 1
    assert capsys.readouterr().err == message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[1, 2]", "not a window description (not a JSON object)"),
        ('{"end": "2026-11-22T11:00:00Z"}', "not a window description (no 'start')"),
        ("[" * 5_000, "not a window description (nested deeper than 64 levels)"),
    ],
)
def test_a_window_json_of_the_wrong_shape_is_one_line(
    document: str, message: str, baseline_folder: Path, tmp_path: Path, capsys
) -> None:
    # given
    (tmp_path / "window").mkdir()
    (tmp_path / "window" / contract.WINDOW_FILE).write_text(document)
    # when
    status = main(
        [
            "check",
            "--baseline",
            str(baseline_folder),
            "--window",
            str(tmp_path / "window"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    # then
    error = capsys.readouterr().err
    assert status == 1 and error.count("\n") == 1
    assert error.endswith(f"window.json: {message}\n")


# ------------------------------------------------------------------------------------------
# baselines and training tables
# ------------------------------------------------------------------------------------------


def test_a_truncated_sample_file_is_one_line(baseline_folder: Path) -> None:
    # given a baseline.npz cut in half
    sample = baseline_folder / contract.SAMPLE_FILE
    sample.write_bytes(sample.read_bytes()[: sample.stat().st_size // 2])
    # when / then
    with pytest.raises(ValueError, match=r"baseline\.npz cannot be read: ") as raised:
        load_baseline(baseline_folder)
    assert "\n" not in str(raised.value)


def test_an_unsorted_sample_is_refused(baseline_folder: Path) -> None:
    # given a sample whose values were shuffled
    with np.load(baseline_folder / contract.SAMPLE_FILE) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["values_0"] = arrays["values_0"][::-1].copy()
    with (baseline_folder / contract.SAMPLE_FILE).open("wb") as handle:
        np.savez(handle, **arrays)
    # when / then
    with pytest.raises(ValueError) as raised:
        load_baseline(baseline_folder)
    assert str(raised.value) == (
        f"baseline {baseline_folder}: baseline.npz cannot be read: feature 'amount': the sample "
        "is not sorted"
    )


def test_a_deeply_nested_constraints_file_is_a_problem_not_a_crash(baseline_folder: Path) -> None:
    # given
    (baseline_folder / contract.CONSTRAINTS_FILE).write_text("[" * 100_000)
    # when / then
    assert baseline_problems(baseline_folder) == [
        "constraints.json is not valid JSON: nested too deep to read"
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"a": 1}\n[1, 2]\n', "line 2: not a JSON object"),
        ('{"a": 1}\n{"a": \n', "line 2: not JSON: Expecting value"),
        ('{"a": ' + "[" * 5_000 + "\n", "line 1: nested deeper than 64 levels"),
        ('{"a": ' + "9" * 400 + "}\n", "line 1: an integer of more than 100 digits"),
    ],
)
def test_a_json_lines_training_table_names_the_bad_line(
    content: str, message: str, tmp_path: Path
) -> None:
    # given
    path = tmp_path / "train.jsonl"
    path.write_text(content)
    # when / then
    with pytest.raises(CommandError) as raised:
        _read_json_lines(path)
    assert str(raised.value) == f"{path}: {message}"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"a": 1}\n{"a": \n', "line 2: not JSON: Expecting value"),
        # pandas' reader raised TypeError on a line that is a list (found by hypothesis)
        ('{"a": 0, "b": ""}\n[0]\n', "line 2: not a JSON object"),
        # and only warned (an error under strict warnings) on lists of unequal length
        ("[1, 2]\n[1]\n", "line 1: not a JSON object"),
    ],
)
def test_a_json_lines_table_that_is_not_one_object_a_line_is_one_line(
    tmp_path: Path, capsys, text: str, reason: str
) -> None:
    # given a JSON Lines table with a line that is not JSON, or not an object
    data = tmp_path / "train.jsonl"
    data.write_text(text)
    # when
    status = main(["baseline", "--data", str(data), "--out", str(tmp_path / "b")])
    # then it stops with one line naming the file and the line, and writes nothing
    assert status == 1
    assert capsys.readouterr().err == f"ml-platform-monitor baseline: {data}: {reason}\n"
    assert not (tmp_path / "b").exists()


def test_a_training_table_with_a_400_digit_number_profiles_it_as_text(tmp_path: Path) -> None:
    # given a column of numbers and one 400-digit integer, which no float64 holds
    from workloads.monitoring.baseline import build_baseline

    column: list[object] = [1, 2, 3, int("9" * 400)]
    # when
    baseline = build_baseline({"a": column})
    # then
    assert baseline.features[0].inferred_type == "String"


def test_infinite_training_values_count_as_missing_not_as_numbers(tmp_path: Path) -> None:
    # given a float column where pandas reads 1e400 and -inf as infinities
    data = tmp_path / "train.csv"
    data.write_text("a,b\n1,x\n1e400,y\n3,z\n-inf,w\n")
    # when
    status = main(["baseline", "--data", str(data), "--out", str(tmp_path / "b")])
    # then
    feature = load_baseline(tmp_path / "b").features[0]
    assert status == 0
    assert (feature.inferred_type, feature.rows, feature.missing) == ("Integral", 4, 2)


def test_a_file_that_cannot_be_opened_is_one_malformed_line(tmp_path: Path) -> None:
    # given a good file and a capture file name that is a dangling link
    write_capture(tmp_path, [capture_line("1,2,web")])
    (tmp_path / "main" / "gone.jsonl").symlink_to(tmp_path / "nowhere")
    files = [*capture_files(tmp_path), tmp_path / "main" / "gone.jsonl"]
    # when
    data = read_capture(files, FEATURES, root=tmp_path)
    # then
    assert (data.capture_lines, data.requests, data.malformed) == (2, 1, 1)
    assert [(e.file, e.line, e.reason) for e in data.examples] == [
        (str(Path("main/gone.jsonl")), 0, "cannot open: No such file or directory")
    ]


def test_every_bound_has_a_help_line() -> None:
    # given / when / then
    from dataclasses import fields

    from workloads.monitoring.limits import HELP

    assert list(HELP) == [item.name for item in fields(Limits)]
