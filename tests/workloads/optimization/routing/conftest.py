"""Small routing problems the routing tests share."""

from __future__ import annotations

from typing import Any

import pytest

from workloads.optimization.routing.model import RoutingProblem, problem_from_dict


def eight_customers() -> dict[str, Any]:
    """One depot, eight customers on two clusters, two trucks of capacity 10 (JSON form)."""
    points = [(10, 10), (12, 11), (11, 13), (13, 12), (-10, -10), (-12, -11), (-11, -13), (-9, -12)]
    return {
        "name": "eight",
        "depots": [{"id": "D", "x": 0, "y": 0}],
        "customers": [
            {"id": i + 1, "x": x, "y": y, "demand": 2} for i, (x, y) in enumerate(points)
        ],
        "vehicles": [{"name": "truck", "capacity": 10, "count": 2, "depot": "D"}],
    }


@pytest.fixture
def eight() -> RoutingProblem:
    """:func:`eight_customers` as a problem."""
    return problem_from_dict(eight_customers(), "eight")
