"""Streaming: a window folded into counts gives the figures of the whole sample, in bounded memory."""

from __future__ import annotations

import gc
import itertools
import tracemalloc
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ks_2samp

from tests.workloads.monitoring.samples import (
    FEATURES,
    capture_line,
    sample_baseline,
    window_lines,
    write_capture,
)
from workloads.monitoring.capture import capture_files, read_capture
from workloads.monitoring.check import check_capture, check_window
from workloads.monitoring.limits import Limits
from workloads.monitoring.statistics import PositionCounts, WindowPositions, bin_shares

BASELINE = sample_baseline(2_000)

#: How far a window ten times larger may raise a check's peak traced allocation. The part that
#: may grow is bounded by the baseline (counts per position of its 2,000-value samples), not by
#: the window; holding the larger window's rows alone would take several MB.
MEMORY_BOUND = 1024 * 1024

# Small integers make ties in both samples, the hard case for KS.
samples = st.lists(
    st.one_of(st.integers(-5, 5).map(float), st.floats(-10, 10, allow_nan=False)),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(baseline=samples, window=samples, cuts=st.lists(st.integers(0, 60), max_size=4))
def test_ks_from_counted_positions_is_scipys_bit_for_bit(
    baseline: list[float], window: list[float], cuts: list[int]
) -> None:
    # given a sorted baseline and a window that arrives in pieces
    reference = np.sort(np.array(baseline))
    values = np.array(window)
    counted = WindowPositions(reference)
    # when
    bounds = [0, *sorted(min(cut, len(window)) for cut in cuts), len(window)]
    for first, last in itertools.pairwise(bounds):
        counted.add(values[first:last])
    # then: scipy's asymptotic mode returns the statistic as computed (exact mode rounds it);
    # its p-value divides by zero for one-value samples, which the statistic does not need
    with np.errstate(divide="ignore"):
        expected = ks_2samp(reference, values, method="asymp").statistic
    assert counted.count == len(window)
    assert counted.ks_statistic() == expected


@settings(max_examples=60, deadline=None)
@given(pieces=st.lists(st.lists(st.integers(0, 99), max_size=40), max_size=6))
def test_position_counts_are_exact_sparse_or_dense(pieces: list[list[int]]) -> None:
    # given a counter that stays sparse (10,000 positions) and one that turns dense (100)
    sparse, dense = PositionCounts(10_000), PositionCounts(100)
    everything = [position for piece in pieces for position in piece]
    # when
    for piece in pieces:
        ordered = np.sort(np.array(piece, dtype=np.int64))
        sparse.add(ordered)
        dense.add(ordered)
    # then
    points = np.arange(100)
    expected = np.cumsum(np.bincount(np.array(everything, dtype=np.int64), minlength=100))
    assert sparse.up_to(points).tolist() == expected.tolist()
    assert dense.up_to(points).tolist() == expected.tolist()
    assert sparse.used().tolist() == dense.used().tolist() == sorted(set(everything))


def test_a_window_read_in_chunks_gives_the_figures_of_one_read(tmp_path: Path) -> None:
    # given a window with missing, wrong-typed and unseen values, and JSON rows with extra keys
    lines = window_lines(700, seed=3, shift=4.0)
    lines += [capture_line(",3,kiosk"), capture_line("abc,2.5,web")] * 40
    lines += [capture_line({"amount": 90.0, "items": 2, "channel": "app", "x": 1})] * 30
    write_capture(tmp_path, lines)
    whole = check_capture(BASELINE, read_capture(capture_files(tmp_path), FEATURES), endpoint="e")
    # when
    streamed = check_window(
        BASELINE, capture_files(tmp_path), endpoint="e", limits=Limits(chunk_rows=13)
    )
    # then
    assert streamed.features == whole.features
    assert streamed.violations == whole.violations
    assert streamed.records == whole.records == 810


def test_psi_shares_from_bin_counts_are_those_of_the_sorted_window(tmp_path: Path) -> None:
    # given
    lines = window_lines(500, seed=9)
    write_capture(tmp_path, lines)
    amounts = np.sort([float(line.split('"data": "')[1].split(",")[0]) for line in lines])
    # when
    result = check_window(
        BASELINE, capture_files(tmp_path), endpoint="e", limits=Limits(chunk_rows=50)
    )
    # then
    amount = next(feature for feature in result.features if feature.name == "amount")
    expected = bin_shares(amounts, BASELINE.feature("amount").edges)  # type: ignore[union-attr]
    assert amount.distribution is not None
    assert amount.distribution["current"] == expected.tolist()


def _peak_of_check(folder: Path) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        check_window(BASELINE, capture_files(folder), endpoint="e", limits=Limits(chunk_rows=500))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_window_ten_times_larger_does_not_raise_peak_memory_past_a_fixed_bound(
    tmp_path: Path,
) -> None:
    # given windows of 2,000 and 20,000 requests, and a first check that loads lazy imports
    write_capture(tmp_path / "warm", window_lines(100, seed=1))
    write_capture(tmp_path / "small", window_lines(2_000, seed=2))
    write_capture(tmp_path / "large", window_lines(20_000, seed=3))
    _peak_of_check(tmp_path / "warm")
    # when
    small = _peak_of_check(tmp_path / "small")
    large = _peak_of_check(tmp_path / "large")
    # then
    assert large - small < MEMORY_BOUND, (small, large)
