"""Property: a damaged training table or baseline stops its command with one line, never more.

The capture reader counts bad lines; these readers have no line to skip (a baseline is one
document, a training table one table), so the contract is the other one of the brief: accept,
or stop before writing anything with a one-line error naming the file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.workloads.monitoring.samples import sample_baseline
from workloads.monitoring import contract
from workloads.monitoring.baseline import load_baseline, write_baseline
from workloads.monitoring.baseline_files import BaselineError
from workloads.monitoring.cli import CommandError, _read_csv, _read_json_lines, main

table_lines = st.one_of(
    st.binary(max_size=60),
    st.sampled_from(
        [
            b'{"a": 1, "b": "x"}',
            b'{"a": ' + b"9" * 400 + b"}",
            b'{"a": 1e400}',
            b"[" * 3_000,
            b"[1, 2]",
            b"a,b",
            b"1,x",
            b"1,\x00",
            b'"' + b"y" * 140_000 + b'",1',
            b"\xff\xfe",
        ]
    ),
)
tables = st.lists(table_lines, max_size=8).map(lambda lines: b"\n".join(lines))


def one_line(message: str, path: Path) -> bool:
    return "\n" not in message and str(path) in message


@settings(max_examples=80, deadline=None)
@given(content=tables)
def test_the_standard_library_readers_accept_a_table_or_name_the_file(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for name, reader in (("t.jsonl", _read_json_lines), ("t.csv", _read_csv)):
            # given
            path = Path(folder) / name
            path.write_bytes(content)
            # when / then
            try:
                columns = reader(path)
            except CommandError as error:
                assert one_line(str(error), path), str(error)
            else:
                assert isinstance(columns, dict)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=tables, suffix=st.sampled_from([".csv", ".jsonl"]))
def test_baseline_from_any_table_succeeds_or_stops_with_one_line(
    content: bytes, suffix: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        # given
        data = Path(folder) / f"train{suffix}"
        data.write_bytes(content)
        out = Path(folder) / "baseline"
        # when
        import contextlib
        import io

        errors = io.StringIO()
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            status = main(["baseline", "--data", str(data), "--out", str(out)])
        # then
        assert status in (0, 1)
        if status == 1:
            assert errors.getvalue().count("\n") == 1, errors.getvalue()
            assert not out.exists()


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(contract.BASELINE_FILES))
    return name, draw(st.one_of(st.binary(max_size=200), st.sampled_from([b"[" * 5_000, b"{}"])))


@settings(max_examples=60, deadline=None)
@given(change=damaged(), cut=st.integers(0, 4_000))
def test_a_damaged_baseline_is_one_baseline_error(change: tuple[str, bytes], cut: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        # given a baseline with one file replaced, or cut short
        root = Path(folder)
        write_baseline(sample_baseline(200), root)
        name, content = change
        original = (root / name).read_bytes()
        (root / name).write_bytes(content if cut % 2 else original[: cut % len(original)])
        # when / then
        try:
            load_baseline(root)
        except BaselineError as error:
            assert "\n" not in str(error) and str(error).startswith(f"baseline {root}")
