"""The drift statistics against scipy and against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import distributions, ks_2samp

from workloads.monitoring.statistics import (
    PSI_FLOOR,
    UNSEEN,
    bin_shares,
    category_shares,
    js_distance,
    ks_p_value,
    ks_statistic,
    ks_test,
    psi,
    psi_edges,
    sorted_present,
)

DISTRIBUTIONS = {
    "normal": lambda rng, n: rng.normal(0, 1, n),
    "shifted normal": lambda rng, n: rng.normal(0.3, 1.2, n),
    "exponential": lambda rng, n: rng.exponential(2.0, n),
    "uniform": lambda rng, n: rng.uniform(-1, 1, n),
    "few integers (ties)": lambda rng, n: rng.integers(0, 5, n).astype(float),
}


@pytest.mark.parametrize("first", list(DISTRIBUTIONS))
@pytest.mark.parametrize("second", list(DISTRIBUTIONS))
def test_ks_statistic_equals_scipys_for_known_distributions(first: str, second: str) -> None:
    # given samples of different sizes from two known distributions
    rng = np.random.default_rng(42)
    a, b = DISTRIBUTIONS[first](rng, 3_000), DISTRIBUTIONS[second](rng, 1_234)
    # when the statistic is computed from the sorted samples
    ours = ks_statistic(np.sort(a), np.sort(b))
    # then it is scipy's
    assert abs(ours - ks_2samp(a, b).statistic) <= 1e-12


def test_ks_statistic_equals_scipys_on_random_sizes_and_ties() -> None:
    # given many random pairs, some tiny, some with heavy ties
    rng = np.random.default_rng(7)
    for trial in range(200):
        n, m = int(rng.integers(1, 400)), int(rng.integers(1, 400))
        if trial % 2:
            a, b = rng.integers(0, 4, n).astype(float), rng.integers(0, 5, m).astype(float)
        else:
            a, b = rng.normal(0, 1, n), rng.normal(0.2, 1, m)
        # when / then
        assert abs(ks_statistic(np.sort(a), np.sort(b)) - ks_2samp(a, b).statistic) <= 1e-12


def test_ks_of_identical_samples_is_zero_and_of_disjoint_ones_is_one() -> None:
    # given / when / then
    sample = np.sort(np.random.default_rng(0).normal(size=500))
    assert ks_statistic(sample, sample) == 0.0
    assert ks_statistic(sample, sample + 100.0) == 1.0


@pytest.mark.parametrize("effective", [100, 1_000, 10_000, 50_000])
def test_ks_p_value_stays_close_to_scipys_exact_distribution(effective: int) -> None:
    # given statistics across the range where the p-value matters
    n = m = 2 * effective
    tolerance = {100: 0.012, 1_000: 0.005, 10_000: 0.0015, 50_000: 0.0006}[effective]
    for statistic in np.linspace(0.001, 0.2, 40):
        # when our asymptotic p-value is compared with scipy's kstwo
        exact = distributions.kstwo.sf(statistic, effective)
        # then it is within the documented tolerance
        assert abs(ks_p_value(float(statistic), n, m) - exact) <= tolerance


def test_ks_test_on_an_injected_shift_has_a_tiny_p_value() -> None:
    # given a baseline and a window shifted by half a standard deviation
    rng = np.random.default_rng(3)
    base, shifted = np.sort(rng.normal(0, 1, 20_000)), np.sort(rng.normal(0.5, 1, 2_000))
    # when
    result = ks_test(base, shifted)
    # then
    assert result.statistic > 0.15
    assert result.p_value < 1e-10


def test_sorted_present_drops_nans_and_sorts() -> None:
    # given / when / then
    assert sorted_present(np.array([3.0, np.nan, 1.0, 2.0])).tolist() == [1.0, 2.0, 3.0]


def test_psi_edges_are_the_deciles_and_collapse_on_ties() -> None:
    # given 1..100 and a column of one repeated value
    # when / then
    assert psi_edges(np.arange(1.0, 101.0)).tolist() == pytest.approx(
        [10.9, 20.8, 30.7, 40.6, 50.5, 60.4, 70.3, 80.2, 90.1]
    )
    assert psi_edges(np.full(50, 4.0)).tolist() == [4.0]


def test_bin_shares_put_values_on_an_edge_in_the_bin_below() -> None:
    # given edges 1 and 2, and values on and between them
    values = np.array([0.0, 1.0, 1.5, 2.0, 3.0])
    # when / then: (-inf, 1], (1, 2], (2, inf)
    assert bin_shares(values, np.array([1.0, 2.0])).tolist() == [0.4, 0.4, 0.2]


def test_psi_by_hand() -> None:
    # given shares 0.5/0.5 becoming 0.25/0.75
    # when / then: (0.25-0.5) ln(0.5) + (0.75-0.5) ln(1.5)
    expected = -0.25 * math.log(0.5) + 0.25 * math.log(1.5)
    assert psi(np.array([0.5, 0.5]), np.array([0.25, 0.75])) == pytest.approx(expected)


def test_psi_of_equal_distributions_is_zero() -> None:
    # given / when / then
    shares = np.full(10, 0.1)
    assert psi(shares, shares) == 0.0


def test_psi_floors_an_empty_bin_instead_of_going_infinite() -> None:
    # given a bin the window leaves empty
    # when
    value = psi(np.array([0.5, 0.5]), np.array([1.0, 0.0]))
    # then: the empty share counts as the floor
    expected = 0.5 * math.log(1.0 / 0.5) + (PSI_FLOOR - 0.5) * math.log(PSI_FLOOR / 0.5)
    assert value == pytest.approx(expected)
    assert math.isfinite(value)


def test_js_distance_equals_scipys_base_2() -> None:
    # given two category distributions
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
    # when / then
    assert js_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)
    assert js_distance(p, p) == 0.0
    assert js_distance(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)


def test_category_shares_gather_unseen_categories_under_one_label() -> None:
    # given a baseline of a and b, and a window with a, c and d
    # when
    labels, base, current = category_shares({"a": 3, "b": 1}, {"a": 2, "c": 1, "d": 1})
    # then
    assert labels == ["a", "b", UNSEEN]
    assert base.tolist() == [0.75, 0.25, 0.0]
    assert current.tolist() == [0.5, 0.0, 0.5]
