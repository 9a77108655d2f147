"""The CVRPLIB/TSPLIB ``.vrp`` reader (capacitated VRP, EUC_2D distances, one depot).

Reads ``NAME``, ``DIMENSION``, ``CAPACITY``, ``EDGE_WEIGHT_TYPE : EUC_2D``, ``NODE_COORD_SECTION``,
``DEMAND_SECTION`` and ``DEPOT_SECTION`` (ended by ``-1``); distances are Euclidean rounded to the
nearest integer as CVRPLIB computes them. The number of vehicles comes from a ``VEHICLES`` line,
else the name's ``-kN`` (``A-n32-k5``), else the comment's "No of trucks: N". Every error names
the file and the line.
"""

from __future__ import annotations

import re
from pathlib import Path

from workloads.optimization.errors import ProblemError
from workloads.optimization.routing.model import (
    Customer,
    Depot,
    RoutingProblem,
    VehicleType,
    nint_distance,
)

_SECTIONS = ("NODE_COORD_SECTION", "DEMAND_SECTION", "DEPOT_SECTION")
_TRUCKS = re.compile(r"no\s+of\s+trucks\s*:\s*(\d+)", re.IGNORECASE)
_K_SUFFIX = re.compile(r"-k(\d+)\b")


def _number(text: str) -> float:
    value = float(text)
    return int(value) if value.is_integer() else value


def read_vrp(path: Path) -> RoutingProblem:
    """The problem in the ``.vrp`` file ``path``; :class:`ProblemError` naming file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ProblemError(f"{path}: cannot be read: {error}") from error
    return parse_vrp(text, path.name)


def parse_vrp(text: str, source: str) -> RoutingProblem:
    """The problem in ``text``, a ``.vrp`` file's content; errors name ``source`` and the line."""
    header: dict[str, tuple[str, int]] = {}
    coords: dict[int, tuple[float, float]] = {}
    demands: dict[int, int] = {}
    depots: list[int] = []
    section = None
    depot_ended = False

    def fail(line_number: int, message: str) -> ProblemError:
        return ProblemError(f"{source}, line {line_number}: {message}")

    for line_number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line == "EOF":
            break
        word = line.split(":")[0].strip().upper()
        if word in _SECTIONS:
            section = word
            continue
        if ":" in line and not line[0].isdigit() and not line.startswith("-"):
            key, _, value = line.partition(":")
            header[key.strip().upper()] = (value.strip(), line_number)
            section = None
            continue
        fields = line.split()
        if section == "NODE_COORD_SECTION":
            if len(fields) != 3:
                raise fail(line_number, f"expected `node x y`, got {line!r}")
            try:
                node, x, y = int(fields[0]), _number(fields[1]), _number(fields[2])
            except ValueError:
                raise fail(line_number, f"expected `node x y` numbers, got {line!r}") from None
            coords[node] = (x, y)
        elif section == "DEMAND_SECTION":
            if len(fields) != 2 or not all(f.isdigit() for f in fields):
                raise fail(line_number, f"expected `node demand` integers, got {line!r}")
            demands[int(fields[0])] = int(fields[1])
        elif section == "DEPOT_SECTION":
            if depot_ended:
                continue
            try:
                depot = int(fields[0])
            except ValueError:
                raise fail(line_number, f"expected a depot's node number, got {line!r}") from None
            if depot == -1:
                depot_ended = True
            else:
                depots.append(depot)
        else:
            raise fail(line_number, f"not a `KEY : value` line or in a known section: {line!r}")

    def value(key: str) -> tuple[str, int]:
        if key not in header:
            raise ProblemError(f"{source}: no {key} line")
        return header[key]

    weight_type, line_number = value("EDGE_WEIGHT_TYPE")
    if weight_type.upper() != "EUC_2D":
        raise fail(line_number, f"EDGE_WEIGHT_TYPE {weight_type}: only EUC_2D is supported")
    dimension_text, dimension_line = value("DIMENSION")
    capacity_text, capacity_line = value("CAPACITY")
    if not dimension_text.isdigit() or int(dimension_text) < 2:
        raise fail(dimension_line, f"DIMENSION must be an integer >= 2, got {dimension_text!r}")
    if not capacity_text.isdigit() or int(capacity_text) < 1:
        raise fail(capacity_line, f"CAPACITY must be a positive integer, got {capacity_text!r}")
    dimension, capacity = int(dimension_text), int(capacity_text)
    expected = list(range(1, dimension + 1))
    if sorted(coords) != expected:
        raise ProblemError(
            f"{source}: NODE_COORD_SECTION must list nodes 1..{dimension} once each, "
            f"got {len(coords)} nodes"
        )
    if sorted(demands) != expected:
        raise ProblemError(
            f"{source}: DEMAND_SECTION must list nodes 1..{dimension} once each, "
            f"got {len(demands)} nodes"
        )
    if len(depots) != 1 or depots[0] not in coords:
        raise ProblemError(
            f"{source}: DEPOT_SECTION must name one depot node (several depots: use the "
            f"JSON/YAML format), got {depots}"
        )
    name = header.get("NAME", (Path(source).stem, 0))[0]
    vehicles = _vehicle_count(header, name, source)
    depot = depots[0]
    if demands[depot] != 0:
        raise ProblemError(f"{source}: the depot (node {depot}) has demand {demands[depot]}")
    order = [depot] + [n for n in expected if n != depot]
    points = [coords[n] for n in order]
    return RoutingProblem(
        name=name,
        depots=(Depot(id=depot, x=coords[depot][0], y=coords[depot][1]),),
        customers=tuple(
            Customer(id=n, demand=demands[n], x=coords[n][0], y=coords[n][1]) for n in order[1:]
        ),
        vehicles=(VehicleType(name="truck", capacity=capacity, count=vehicles, depot=depot),),
        distances=tuple(tuple(nint_distance(a, b) for b in points) for a in points),
    )


def _vehicle_count(header: dict[str, tuple[str, int]], name: str, source: str) -> int:
    if "VEHICLES" in header:
        text, line_number = header["VEHICLES"]
        if not text.isdigit() or int(text) < 1:
            raise ProblemError(
                f"{source}, line {line_number}: VEHICLES must be a positive integer, got {text!r}"
            )
        return int(text)
    match = _K_SUFFIX.search(name) or _TRUCKS.search(header.get("COMMENT", ("", 0))[0])
    if match is None or int(match.group(1)) < 1:
        raise ProblemError(
            f"{source}: the number of vehicles is in no VEHICLES line, name (-kN) or COMMENT "
            "(No of trucks: N)"
        )
    return int(match.group(1))
