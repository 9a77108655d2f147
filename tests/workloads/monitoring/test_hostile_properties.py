"""Property: whatever the capture lines hold, every line is counted once and the check completes.

Hypothesis mixes good capture lines with hostile ones of every class the check has met: random
bytes, bad UTF-8, bad BASE64, huge integers, deep nesting, overflowing or absurd inference
times, over-long lines, payloads and CSV cells, unknown keys, odd JSON values. Small bounds make
every bound bite within a few hundred bytes.
"""

from __future__ import annotations

import base64
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.workloads.monitoring.samples import FEATURES, capture_line, sample_baseline
from workloads.monitoring import contract
from workloads.monitoring.capture import capture_files, read_capture
from workloads.monitoring.check import check_window
from workloads.monitoring.limits import Limits
from workloads.monitoring.results import write_results

BASELINE = sample_baseline(500)
LIMITS = Limits(
    max_line_bytes=3_000,
    max_payload_bytes=1_500,
    max_json_depth=8,
    max_number_digits=30,
    max_csv_cell=300,
    max_unknown_keys=3,
    max_unseen_categories=3,
    max_label_chars=20,
    max_examples=3,
    chunk_rows=5,
)
START = datetime(2026, 11, 22, 10, tzinfo=UTC)
END = datetime(2026, 11, 22, 11, tzinfo=UTC)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**40), 10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
cells = st.one_of(
    st.floats(-1e6, 1e6).map(lambda number: f"{number:.3f}"),
    st.integers(0, 12).map(str),
    st.sampled_from(["web", "app", "store", "kiosk", "", " ", "NaN", "inf", "1e400", "\ud800"]),
    st.integers(1, 500).map(lambda digits: "9" * digits),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.integers(250, 400).map(lambda length: "x" * length),
)
times = st.one_of(
    st.just("2026-11-22T10:15:00Z"),
    st.sampled_from(
        [
            "9999-12-31T23:59:59-01:00",
            "0001-01-01T00:00:00+01:00",
            "2026-11-22T10:15:00",
            "2026-11-22T09:59:59Z",
            "2026-11-22T11:00:00Z",
            "",
        ]
    ),
    st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat()),
    json_values,
)


def _record(
    request: str, encoding: str = "CSV", answer: str = '{"predictions": [0.3]}'
) -> dict[str, object]:
    """A capture record whose request is ``request`` as is (any text, any encoding)."""
    record = json.loads(capture_line("1,2,web", output=answer))
    record["captureData"]["endpointInput"].update(data=request, encoding=encoding)
    return record


@st.composite
def good_lines(draw: st.DrawFn) -> str:
    row = ",".join(draw(st.lists(cells, min_size=3, max_size=3)))
    return capture_line(row, draw(json_values), time=draw(times))


@st.composite
def json_requests(draw: st.DrawFn) -> str:
    row = draw(
        st.one_of(
            st.lists(json_values, min_size=1, max_size=4),
            st.dictionaries(
                st.sampled_from([*FEATURES, "a", "b", "c", "d", "e", "\udfff"]), json_values
            ),
            json_values,
        )
    )
    if not isinstance(row, (list, dict)):
        row = [row]
    return capture_line(row, draw(json_values), time=draw(times))


@st.composite
def nested(draw: st.DrawFn) -> str:
    depth = draw(st.integers(1, 3_000))
    opening, closing = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    body = opening * depth + "1" + closing * depth
    if draw(st.booleans()):
        return body
    return json.dumps(_record(body, encoding="JSON"))


@st.composite
def base64_lines(draw: st.DrawFn) -> str:
    data = draw(
        st.one_of(
            st.text(max_size=40),
            st.binary(max_size=40).map(lambda raw: base64.b64encode(raw).decode()),
            st.just(base64.b64encode(b"4.5,6,store").decode()),
        )
    )
    return json.dumps(_record(data, encoding="BASE64"))


@st.composite
def huge_numbers(draw: st.DrawFn) -> str:
    number = "9" * draw(st.integers(1, 5_000))
    where = draw(st.sampled_from(["input", "prediction", "line"]))
    if where == "input":
        return json.dumps(_record(f'[{number}, 2, "web"]', encoding="JSON"))
    if where == "prediction":
        return json.dumps(_record("1,2,web", answer=f'{{"predictions": [{number}]}}'))
    return json.dumps(_record("1,2,web"))[:-1] + f', "extra": {number}}}'


hostile_lines = st.one_of(
    good_lines().map(str.encode),
    json_requests().map(str.encode),
    nested().map(str.encode),
    base64_lines().map(str.encode),
    huge_numbers().map(str.encode),
    st.binary(max_size=200),
    st.integers(3_001, 6_000).map(lambda size: b"x" * size),
    st.integers(1_400, 2_000).map(lambda size: capture_line("1," * (size // 2) + "web").encode()),
    json_values.map(lambda value: json.dumps(value).encode()),
)


def non_blank_lines(content: bytes) -> int:
    """The lines the reader must account for: split at line feeds, not only whitespace."""
    return sum(1 for segment in content.split(b"\n") if segment.strip())


@st.composite
def capture_files_content(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(hostile_lines, min_size=0, max_size=12))
    content = b"\n".join(lines)
    if lines and draw(st.booleans()):
        # a few random bytes anywhere: bad UTF-8, a cut line, a stray line feed
        position = draw(st.integers(0, len(content)))
        content = content[:position] + draw(st.binary(min_size=1, max_size=8)) + content[position:]
    return content + (b"\n" if draw(st.booleans()) else b"")


def write(folder: Path, content: bytes) -> Path:
    path = folder / "main" / "2026" / "11" / "22" / "10" / "capture.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


@settings(max_examples=120, deadline=None)
@given(content=capture_files_content())
def test_every_line_is_a_request_outside_the_window_or_malformed(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        # given
        write(Path(folder), content)
        # when
        data = read_capture(
            capture_files(Path(folder)), FEATURES, start=START, end=END, limits=LIMITS
        )
        # then
        assert data.capture_lines == non_blank_lines(content)
        assert data.requests + data.outside_window + data.malformed == data.capture_lines
        assert len(data.examples) == min(data.malformed, LIMITS.max_examples)
        assert len(data.extra_columns) <= LIMITS.max_unknown_keys


@settings(max_examples=80, deadline=None)
@given(content=capture_files_content())
def test_the_check_always_writes_its_results(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        # given
        root = Path(folder)
        write(root / "capture", content)
        # when
        result = check_window(
            BASELINE,
            capture_files(root / "capture"),
            endpoint="e",
            start=START,
            end=END,
            root=root / "capture",
            limits=LIMITS,
        )
        written = write_results(result, root / "out", timestamp=END)
        # then
        assert [path.name for path in written] == [
            contract.VIOLATIONS_FILE,
            contract.SUMMARY_FILE,
            contract.METRICS_FILE,
            contract.REPORT_FILE,
        ]
        summary = json.loads((root / "out" / contract.SUMMARY_FILE).read_text())
        assert summary["status"] in ("empty", "ok", "drift", "violations")
        assert summary["requests"] + summary["outside_window"] + summary["malformed"] == (
            non_blank_lines(content)
        )
        metrics = json.loads((root / "out" / contract.METRICS_FILE).read_text())["metrics"]
        assert {"name": contract.CHECKS_COMPLETED, "value": 1.0} in [
            {"name": m["name"], "value": m["value"]} for m in metrics
        ]
        (root / "out" / contract.REPORT_FILE).read_text(encoding="utf-8")
