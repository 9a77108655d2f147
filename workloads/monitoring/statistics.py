"""The drift statistics, computed from sorted samples (numpy; scipy only for KS p-values).

* **Kolmogorov-Smirnov** (two-sample, two-sided): the largest distance between the baseline's and
  the window's empirical CDFs, evaluated exactly as ``scipy.stats.ks_2samp`` does (right-continuous
  CDFs at every data point), but in O(m log n) from the sorted baseline: the window's m values are
  located in the baseline with one binary search each (a second only for values the baseline
  also holds) instead of merging both samples. The p-value is Kolmogorov's limiting distribution
  with Stephens' finite-sample correction (see :func:`ks_p_value`).
* **Population stability index**: 10 bins at the baseline's deciles (fewer when deciles tie), the
  outer bins open-ended, values equal to an edge in the bin below it. Each bin's share, of the
  baseline and of the window, is floored at :data:`PSI_FLOOR` so an empty bin gives a large but
  finite term; shares are not renormalised after flooring.
  ``PSI = sum((current - baseline) * ln(current / baseline))``.
* **Streaming**: :class:`WindowPositions` takes a window in pieces and keeps only where its values
  fall in the sorted baseline (counts per position), from which the same KS statistic follows
  exactly; PSI needs only bin counts. Memory is bounded by the baseline, not by the window.
* **Jensen-Shannon distance** (base 2, so 0 to 1) between category shares; categories the
  baseline never saw are one extra "unseen" category.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

#: Quantile bins of the baseline that PSI compares.
PSI_BINS = 10

#: The smallest share a PSI bin counts with (an empty bin would make the index infinite).
PSI_FLOOR = 1e-4


@dataclass(frozen=True)
class KsResult:
    """A two-sample Kolmogorov-Smirnov test."""

    statistic: float
    """The largest distance between the two empirical CDFs (0 to 1)."""
    p_value: float
    """The chance of a distance at least this large if both samples share one distribution."""


def sorted_present(values: np.ndarray) -> np.ndarray:
    """``values`` without NaNs, sorted (float64)."""
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    present.sort()
    return present


def ks_statistic(baseline: np.ndarray, current: np.ndarray) -> float:
    """The two-sided KS statistic of two sorted, NaN-free, non-empty samples.

    The statistic is ``max |F_b(x) - F_c(x)|`` over every value ``x`` of either sample, with
    right-continuous CDFs. ``F_c - F_b`` peaks at a window value; ``F_b - F_c`` peaks just before
    the next window value, where the baseline's CDF is the count of baseline values strictly below
    it: so the window's values alone, found in the baseline, give both extremes.
    """
    n, m = baseline.shape[0], current.shape[0]
    below = np.searchsorted(baseline, current, side="left")
    # Values also in the baseline need a second search for the count at or below them; the
    # others (all of them, for continuous data) have none equal, so the count is the same.
    tied = baseline[np.minimum(below, n - 1)] == current
    tied &= below < n
    if tied.any():
        at_or_below = below.copy()
        at_or_below[tied] = np.searchsorted(baseline, current[tied], side="right")
    else:
        at_or_below = below
    # F_c at each window value: its rank, or for tied window values the count up to the last.
    if m > 1 and np.any(current[1:] == current[:-1]):
        window_cdf = np.searchsorted(current, current, side="right")
    else:
        window_cdf = np.arange(1, m + 1)
    # The same float expressions scipy evaluates (k / n - l / m), so the figures match bit for bit.
    current_above = np.max(window_cdf / m - at_or_below / n)
    previous = np.concatenate(([0], window_cdf[:-1]))
    baseline_above = np.max(below / n - previous / m)
    return float(max(current_above, baseline_above, 0.0))


def ks_p_value(statistic: float, n: int, m: int) -> float:
    """The two-sided p-value of a KS ``statistic`` between samples of ``n`` and ``m`` values.

    Kolmogorov's limiting distribution at ``(sqrt(e) + 0.12 + 0.11 / sqrt(e)) * statistic`` with
    ``e = n*m / (n+m)`` (Stephens' correction for finite samples). Scipy's exact ``kstwo`` takes
    from 0.1 to 15 ms per value at these sizes, which alone would exceed the check's budget; this
    takes microseconds and stays within 0.0015 of it from ``e`` = 10,000 on (0.012 at ``e`` = 100;
    see tests/workloads/monitoring/test_statistics.py). Drift is decided on the statistic itself.
    """
    from scipy.special import kolmogorov  # scipy is slow to import: only here

    effective = math.sqrt(n * m / (n + m))
    scaled = (effective + 0.12 + 0.11 / effective) * statistic
    return float(min(max(kolmogorov(scaled), 0.0), 1.0))


def ks_test(baseline: np.ndarray, current: np.ndarray) -> KsResult:
    """KS statistic and p-value of two sorted, NaN-free, non-empty samples."""
    statistic = ks_statistic(baseline, current)
    return KsResult(statistic, ks_p_value(statistic, baseline.shape[0], current.shape[0]))


class WindowPositions:
    """Where a window's values fall in a sorted baseline sample, counted: enough for exact KS.

    For each window value ``v`` only its position ``p = searchsorted(baseline, v, "left")``
    (baseline values below it) is kept, counted per position (:class:`PositionCounts`), apart
    for values the baseline also holds ("tied"). Values sharing a position form a group between
    two baseline values, inside which both empirical CDFs move monotonically, so the group's
    extremes, and with them the KS statistic, follow from the counts alone (see
    :meth:`ks_statistic`). Memory is at most two 8-byte counters per baseline value (twice the
    sample itself), whatever the window's size.
    """

    def __init__(self, baseline: np.ndarray) -> None:
        """Count window values against ``baseline`` (sorted, NaN-free, non-empty)."""
        self.baseline = baseline
        self.count = 0
        self._apart = PositionCounts(baseline.shape[0] + 1)
        self._tied = PositionCounts(baseline.shape[0] + 1)

    def add(self, values: np.ndarray, *, ordered: bool = False) -> None:
        """Count a piece of the window (float64, NaN-free; ``ordered`` when already sorted)."""
        if values.shape[0] == 0:
            return
        # Sorted keys let numpy's binary search start from the previous answer: ~20x faster
        # into a baseline of a million values, which no cache holds.
        ordered = values if ordered else np.sort(values)
        baseline, n = self.baseline, self.baseline.shape[0]
        below = np.searchsorted(baseline, ordered, side="left")
        tied = baseline[np.minimum(below, n - 1)] == ordered
        tied &= below < n
        if tied.any():
            self._tied.add(below[tied])
            self._apart.add(below[~tied])
        else:
            self._apart.add(below)
        self.count += int(values.shape[0])

    def ks_statistic(self) -> float:
        """The two-sided KS statistic, equal to ``scipy.stats.ks_2samp``'s bit for bit.

        scipy evaluates ``F_c(x) - F_b(x)`` (``#c <= x / m - #b <= x / n``) at every value of
        either sample; the maximum of either sign is reached at a window value (at a baseline
        value, where ``F_b`` jumps, the next window value is at least as far). The window values
        at one position ``p`` that the baseline does not hold lie between ``b[p-1]`` and
        ``b[p]``, where ``#b <= x`` is ``p``: ``F_c - F_b`` peaks at the largest of them
        (``#c <= x`` counts every window value below ``b[p]``) and ``F_b - F_c`` just before the
        smallest (``#c < x`` counts those at or below ``b[p-1]``). Tied values equal ``b[p]``,
        where ``#b <= x`` is the end ``e`` of its run of equal values. The same expressions as
        :func:`ks_statistic` (``k / m - l / n``) at the same counts give the same floats.
        """
        n, m = self.baseline.shape[0], self.count
        if m == 0:
            raise ValueError("no window value counted")
        apart, tied = self._apart, self._tied
        highest = lowest = 0.0
        groups = apart.used()
        if groups.shape[0]:
            # #c < b[p]: values apart at positions <= p, tied ones at positions < p.
            up_to_top = apart.up_to(groups) + tied.up_to(groups - 1)
            # #c <= b[p-1]: every value at a position < p.
            below_bottom = apart.up_to(groups - 1) + tied.up_to(groups - 1)
            highest = max(highest, float(np.max(up_to_top / m - groups / n)))
            lowest = max(lowest, float(np.max(groups / n - below_bottom / m)))
        runs = tied.used()
        if runs.shape[0]:
            ends = np.searchsorted(self.baseline, self.baseline[runs], side="right")
            at_or_below = apart.up_to(runs) + tied.up_to(runs)
            strictly_below = apart.up_to(runs) + tied.up_to(runs - 1)
            highest = max(highest, float(np.max(at_or_below / m - ends / n)))
            lowest = max(lowest, float(np.max(runs / n - strictly_below / m)))
        return float(max(highest, lowest))

    def ks_test(self) -> KsResult:
        """KS statistic and p-value of the counted window against the baseline."""
        statistic = self.ks_statistic()
        return KsResult(statistic, ks_p_value(statistic, self.baseline.shape[0], self.count))


class PositionCounts:
    """How many values landed at each of ``size`` positions, in memory bounded by ``size``.

    Sparse (distinct positions and their counts, 16 bytes each) while few positions are used,
    which is what a small window against a large baseline needs; dense (one 8-byte counter per
    position) once sparse would take more. Either way at most ``8 * size`` bytes are kept.
    """

    def __init__(self, size: int) -> None:
        """Count over positions ``0 .. size - 1``."""
        self.size = size
        self._at = np.empty(0, dtype=np.int64)
        self._count = np.empty(0, dtype=np.int64)
        self._dense: np.ndarray | None = None
        self._totals: np.ndarray | None = None

    def add(self, positions: np.ndarray) -> None:
        """Count ``positions`` (sorted, each in ``0 .. size - 1``)."""
        if positions.shape[0] == 0:
            return
        self._totals = None
        starts = _starts(positions)
        at = positions[starts].astype(np.int64, copy=False)
        count = np.diff(np.append(starts, positions.shape[0])).astype(np.int64)
        if self._dense is not None:
            self._dense[at] += count  # distinct positions: no repeated index to lose
            return
        if self._at.shape[0] == 0:
            self._at, self._count = at, count
            self._switch()
            return
        merged_at = np.concatenate((self._at, at))
        merged_count = np.concatenate((self._count, count))
        # Two sorted runs: a stable sort merges them in linear time (numpy's hash-based unique
        # costs more than everything else here).
        order = np.argsort(merged_at, kind="stable")
        merged_at, merged_count = merged_at[order], merged_count[order]
        starts = _starts(merged_at)
        self._at, self._count = merged_at[starts], np.add.reduceat(merged_count, starts)
        self._switch()

    def _switch(self) -> None:
        """Turn dense once the sparse form would take more memory than the dense one."""
        if 2 * self._at.shape[0] > self.size:
            self._dense = np.zeros(self.size, dtype=np.int64)
            self._dense[self._at] = self._count
            self._at = self._count = np.empty(0, dtype=np.int64)

    def used(self) -> np.ndarray:
        """The positions counted at least once, sorted."""
        return np.flatnonzero(self._dense) if self._dense is not None else self._at

    def up_to(self, points: np.ndarray) -> np.ndarray:
        """For each of ``points`` (sorted, from -1), the total count at positions up to it."""
        if self._totals is None:
            # Running totals with a leading 0, kept until the next add.
            counts = self._dense if self._dense is not None else self._count
            self._totals = np.concatenate(([0], np.cumsum(counts)))
        if self._dense is not None:
            return self._totals[points + 1]
        return self._totals[np.searchsorted(self._at, points, side="right")]


def _starts(ordered: np.ndarray) -> np.ndarray:
    """Where each run of equal values of ``ordered`` (sorted, non-empty) starts."""
    return np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))


def bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """How many of ``sorted_values`` (NaN-free) fall in each bin that ``edges`` bound.

    Right-closed bins, as :func:`bin_shares`: a value equal to an edge is in the bin below it.
    """
    cuts = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(np.concatenate(([0], cuts, [sorted_values.shape[0]]))).astype(np.int64)


def psi_edges(sorted_baseline: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    """The inner edges of PSI's quantile bins (at most ``bins - 1``; ties collapse).

    The quantiles are numpy's default (linear interpolation between the two nearest ranks), read
    straight from the already sorted sample instead of ``np.quantile`` partitioning it again.
    """
    count = sorted_baseline.shape[0]
    if count == 0:
        return np.empty(0)
    positions = (count - 1) * (np.arange(1, bins) / bins)
    lower = np.floor(positions).astype(np.intp)
    upper = np.minimum(lower + 1, count - 1)
    fraction = positions - lower
    low, high = sorted_baseline[lower], sorted_baseline[upper]
    # numpy's own lerp: from the nearer end, so an edge never leaves [low, high].
    quantiles = np.where(
        fraction >= 0.5, high - (high - low) * (1 - fraction), low + (high - low) * fraction
    )
    return np.unique(quantiles)


def bin_shares(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The share of ``sorted_values`` in each bin that ``edges`` bound (right-closed bins)."""
    total = sorted_values.shape[0]
    if total == 0:
        return np.zeros(edges.shape[0] + 1)
    cuts = np.searchsorted(sorted_values, edges, side="right")
    counts = np.diff(np.concatenate(([0], cuts, [total])))
    return counts / total


def psi(baseline_shares: np.ndarray, current_shares: np.ndarray, floor: float = PSI_FLOOR) -> float:
    """The population stability index of two binned distributions (shares floored at ``floor``)."""
    expected = np.maximum(np.asarray(baseline_shares, dtype=np.float64), floor)
    actual = np.maximum(np.asarray(current_shares, dtype=np.float64), floor)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


#: The label the shares of categories outside the baseline are gathered under.
UNSEEN = "<unseen>"


def category_shares(
    baseline_counts: Mapping[str, int], current_counts: Mapping[str, int]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Labels and the baseline's and the window's shares over them.

    The labels are the baseline's categories in its order, then :data:`UNSEEN` when the window
    has categories the baseline never saw.
    """
    unseen = sum(count for label, count in current_counts.items() if label not in baseline_counts)
    return shares_with_unseen(baseline_counts, current_counts, unseen)


def shares_with_unseen(
    baseline_counts: Mapping[str, int], known_counts: Mapping[str, int], unseen: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """:func:`category_shares` from the counts of the baseline's categories and one more count.

    ``unseen`` is the total of every category the baseline never saw, so those need not be kept
    one by one.
    """
    labels = list(baseline_counts)
    baseline = np.array([baseline_counts[label] for label in labels], dtype=np.float64)
    current = np.array([known_counts.get(label, 0) for label in labels], dtype=np.float64)
    if unseen:
        labels.append(UNSEEN)
        baseline = np.append(baseline, 0.0)
        current = np.append(current, float(unseen))
    return labels, _shares(baseline), _shares(current)


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else counts


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """The Jensen-Shannon distance (base 2: 0 for equal, 1 for disjoint) of two share vectors."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.sum() == 0 or q.sum() == 0:
        return float("nan")
    p, q = p / p.sum(), q / q.sum()
    middle = (p + q) / 2
    divergence = 0.5 * _kl(p, middle) + 0.5 * _kl(q, middle)
    return float(math.sqrt(max(divergence, 0.0)))


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    """Kullback-Leibler divergence in bits, with 0 * log(0) = 0."""
    mask = p > 0
    return float(np.sum(p[mask] * np.log2(p[mask] / q[mask])))
