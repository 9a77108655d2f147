"""The time limits and the no-improvement window every solve obeys."""

from __future__ import annotations

import pytest

from workloads.optimization.limits import LimitsError, TimeLimits
from workloads.optimization.results import Improvement, StopReason


def test_a_round_gets_the_iteration_limit_or_what_is_left() -> None:
    # given
    limits = TimeLimits(total_seconds=60, iteration_seconds=10)
    # then
    assert limits.round_seconds(0) == 10
    assert limits.round_seconds(55) == 5
    assert limits.round_seconds(70) == 0
    assert TimeLimits(total_seconds=60).round_seconds(20) == 40


def test_the_total_limit_stops_the_run() -> None:
    limits = TimeLimits(total_seconds=30)
    assert limits.stop_reason(29.9, []) is None
    assert limits.stop_reason(30, []) is StopReason.TOTAL_TIME_LIMIT


def test_no_improvement_within_the_window_stops_the_run() -> None:
    # given a 10 s window needing more than 1% improvement
    limits = TimeLimits(total_seconds=100, no_improvement_seconds=10, min_relative_improvement=0.01)
    history = [Improvement(1, 1000), Improvement(5, 900), Improvement(12, 895)]
    # then at 14 s the objective went from 900 (at 4 s... its value 10 s ago) to 895: < 1%
    assert limits.stop_reason(14, history) is None  # 10 s ago (4 s) it was 1000: 10.5% better
    assert limits.stop_reason(16, history) is StopReason.NO_IMPROVEMENT  # 900 -> 895: 0.56%
    # and before a whole window has passed since the first solution, never
    assert limits.stop_reason(10.5, history[:1]) is None


def test_any_improvement_counts_with_a_zero_threshold() -> None:
    limits = TimeLimits(total_seconds=100, no_improvement_seconds=5)
    history = [Improvement(0, 10), Improvement(4, 9.999)]
    assert limits.stop_reason(6, history) is None
    assert limits.stop_reason(9.5, history) is StopReason.NO_IMPROVEMENT


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"total_seconds": 0}, "total_seconds: must be a positive number of seconds, got 0"),
        (
            {"total_seconds": float("inf")},
            "total_seconds: must be a positive number of seconds, got inf",
        ),
        (
            {"iteration_seconds": -1},
            "iteration_seconds: must be a positive number of seconds, got -1",
        ),
        (
            {"min_relative_improvement": 1.5},
            "min_relative_improvement: must be in [0, 1), got 1.5",
        ),
        (
            {"total_seconds": 10, "iteration_seconds": 20},
            "iteration_seconds (20) is more than total_seconds (10)",
        ),
    ],
)
def test_a_bad_limit_is_refused_by_name(settings: dict, message: str) -> None:
    with pytest.raises(LimitsError) as raised:
        TimeLimits(**settings)
    assert str(raised.value) == message
