"""The CVRPLIB .vrp reader, on every shipped instance and on broken files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workloads.optimization import routing
from workloads.optimization.errors import ProblemError
from workloads.optimization.routing.vrp_format import parse_vrp

INSTANCES = Path(__file__).parents[4] / "workloads" / "optimization" / "instances" / "cvrp"
OPTIMA = json.loads((INSTANCES / "optima.json").read_text())


@pytest.mark.parametrize("name", sorted(OPTIMA))
def test_every_shipped_instance_reads_as_its_optima_file_says(name: str) -> None:
    # when
    problem = routing.load(INSTANCES / f"{name}.vrp")
    # then
    expected = OPTIMA[name]
    assert problem.name == name
    assert len(problem.depots) + len(problem.customers) == expected["dimension"]
    assert [(v.capacity, v.count) for v in problem.vehicles] == [
        (expected["capacity"], expected["vehicles"])
    ]
    assert sum(c.demand for c in problem.customers) <= expected["capacity"] * expected["vehicles"]


def test_the_shipped_instances_are_all_tested() -> None:
    assert sorted(p.stem for p in INSTANCES.glob("*.vrp")) == sorted(OPTIMA)


def test_distances_are_nint_of_the_euclidean_distance() -> None:
    # A-n32-k5: depot 1 at (82, 76), node 2 at (96, 44): sqrt(196 + 1024) = 34.93 -> 35
    problem = routing.load(INSTANCES / "A-n32-k5.vrp")
    assert problem.depots[0].id == 1
    assert problem.customers[0].id == 2
    assert problem.distances[0][1] == 35


GOOD = """NAME : tiny-k2
COMMENT : made up
TYPE : CVRP
DIMENSION : 3
EDGE_WEIGHT_TYPE : EUC_2D
CAPACITY : 10
NODE_COORD_SECTION
1 0 0
2 3 4
3 6 8
DEMAND_SECTION
1 0
2 4
3 5
DEPOT_SECTION
1
-1
EOF
"""


def test_a_small_file_reads() -> None:
    problem = parse_vrp(GOOD, "tiny.vrp")
    assert problem.distances == ((0, 5, 10), (5, 0, 5), (10, 5, 0))
    assert [c.demand for c in problem.customers] == [4, 5]


def test_the_vehicle_count_comes_from_the_name_or_the_comment() -> None:
    assert parse_vrp(GOOD, "tiny.vrp").vehicles[0].count == 2
    text = GOOD.replace("tiny-k2", "tiny").replace("made up", "Min no of trucks: 3")
    assert parse_vrp(text, "tiny.vrp").vehicles[0].count == 3
    assert parse_vrp("VEHICLES : 4\n" + text, "tiny.vrp").vehicles[0].count == 4


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("3 6 8", "3 6", "tiny.vrp, line 10: expected `node x y`, got '3 6'"),
        ("3 5", "3 five", "tiny.vrp, line 14: expected `node demand` integers, got '3 five'"),
        ("EUC_2D", "GEO", "tiny.vrp, line 5: EDGE_WEIGHT_TYPE GEO: only EUC_2D is supported"),
        ("CAPACITY : 10", "CAPACITY : -1", "tiny.vrp, line 6: CAPACITY must be a positive integer"),
        ("1 0 0\n", "", "tiny.vrp: NODE_COORD_SECTION must list nodes 1..3 once each, got 2 nodes"),
        ("1 0\n", "1 2\n", "tiny.vrp: the depot (node 1) has demand 2"),
        ("tiny-k2", "tiny", "tiny.vrp: the number of vehicles is in no VEHICLES line"),
        ("DEPOT_SECTION\n1\n", "DEPOT_SECTION\n1\n2\n", "tiny.vrp: DEPOT_SECTION must name one"),
        ("COMMENT", "junk line\nCOMMENT", "tiny.vrp, line 2: not a `KEY : value` line"),
    ],
)
def test_a_broken_file_names_the_line(old: str, new: str, message: str) -> None:
    with pytest.raises(ProblemError) as caught:
        parse_vrp(GOOD.replace(old, new, 1), "tiny.vrp")
    assert str(caught.value).startswith(message)
