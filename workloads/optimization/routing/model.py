"""The vehicle routing problem: depots, customers, a fleet of vehicle types, and the distances.

A capacitated VRP with optional time windows, service times, several depots and vehicle types
(capacity, count, fixed cost, home depot). Distances come from coordinates (Euclidean, rounded to
the nearest integer as CVRPLIB does) or from an explicit integer matrix. Travel time equals the
distance; a stop's service time is spent before leaving it. Every value the solver reads is an
integer because the OR-Tools routing library works on integers.

:func:`problem_from_dict` builds and validates a problem from parsed JSON/YAML; every error names
the field (``vehicles[1].capacity: must be a positive integer, got -5``) and all of them are
reported at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from workloads.optimization.errors import ProblemError

#: A node's identifier as the input gives it (``1`` in a .vrp file, ``"D1"`` in JSON).
NodeId = int | str


@dataclass(frozen=True)
class Depot:
    """Where vehicles start and end their routes."""

    id: NodeId
    x: float | None = None
    y: float | None = None
    time_window: tuple[int, int] | None = None
    """When routes may leave and must be back; None: any time."""


@dataclass(frozen=True)
class Customer:
    """A stop to serve exactly once (or drop, where the problem allows it)."""

    id: NodeId
    demand: int
    x: float | None = None
    y: float | None = None
    service_time: int = 0
    """Spent at the stop after service starts, before leaving."""
    time_window: tuple[int, int] | None = None
    """When service may start (arriving earlier means waiting); None: any time."""


@dataclass(frozen=True)
class VehicleType:
    """``count`` identical vehicles based at one depot."""

    name: str
    capacity: int
    count: int
    depot: NodeId
    fixed_cost: int = 0
    """Added to the objective once for every vehicle of this type that is used."""


@dataclass(frozen=True)
class RoutingProblem:
    """A validated problem; nodes are numbered depots first, then customers, in input order."""

    name: str
    depots: tuple[Depot, ...]
    customers: tuple[Customer, ...]
    vehicles: tuple[VehicleType, ...]
    distances: tuple[tuple[int, ...], ...]
    """Between nodes by number; also the travel time."""
    allow_dropping: bool = False
    """Whether customers may be left unserved, each at ``drop_penalty`` in the objective."""
    drop_penalty: int = 0

    @cached_property
    def node_ids(self) -> tuple[NodeId, ...]:
        """Every node's identifier by number (depots, then customers)."""
        return tuple(d.id for d in self.depots) + tuple(c.id for c in self.customers)

    @cached_property
    def node_number(self) -> dict[NodeId, int]:
        """A node's number from its identifier."""
        return {node: number for number, node in enumerate(self.node_ids)}

    @cached_property
    def vehicle_types(self) -> tuple[int, ...]:
        """Each vehicle's type (index into ``vehicles``); vehicles are numbered type by type."""
        return tuple(t for t, kind in enumerate(self.vehicles) for _ in range(kind.count))

    @property
    def has_time_windows(self) -> bool:
        """Whether any depot or customer has a time window (the solver then schedules)."""
        return any(n.time_window for n in (*self.depots, *self.customers))

    @property
    def has_coordinates(self) -> bool:
        """Whether every node has coordinates (the route map uses them)."""
        return all(n.x is not None and n.y is not None for n in (*self.depots, *self.customers))

    def depot_number(self, vehicle: int) -> int:
        """The node number of ``vehicle``'s depot."""
        return self.node_number[self.vehicles[self.vehicle_types[vehicle]].depot]

    def window(self, node: int) -> tuple[int, int] | None:
        """Node ``node``'s time window."""
        if node < len(self.depots):
            return self.depots[node].time_window
        return self.customers[node - len(self.depots)].time_window

    def service(self, node: int) -> int:
        """Node ``node``'s service time (0 at depots)."""
        return (
            0 if node < len(self.depots) else self.customers[node - len(self.depots)].service_time
        )

    def demand(self, node: int) -> int:
        """Node ``node``'s demand (0 at depots)."""
        return 0 if node < len(self.depots) else self.customers[node - len(self.depots)].demand


def nint_distance(a: tuple[float, float], b: tuple[float, float]) -> int:
    """The Euclidean distance rounded to the nearest integer (TSPLIB's ``nint``, as CVRPLIB)."""
    return int(math.sqrt((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) + 0.5)


class _Errors:
    """Collects every problem of an input so they are reported together."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, field: str, message: str) -> None:
        self.messages.append(f"{field}: {message}")

    def raise_any(self) -> None:
        if self.messages:
            raise ProblemError("; ".join(self.messages))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _int(errors: _Errors, field: str, value: Any, *, minimum: int, what: str) -> int:
    if not _is_int(value) or value < minimum:
        errors.add(field, f"must be {what}, got {value!r}")
        return minimum
    return int(value)


def _coordinate(errors: _Errors, field: str, value: Any) -> float | None:
    if value is None:
        return None
    if not _is_number(value):
        errors.add(field, f"must be a number, got {value!r}")
        return None
    return float(value)


def _window(errors: _Errors, field: str, value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(_is_int(v) and v >= 0 for v in value)
    ):
        errors.add(field, f"must be [earliest, latest], two integers >= 0, got {value!r}")
        return None
    if value[0] > value[1]:
        errors.add(field, f"opens after it closes: {list(value)!r}")
        return None
    return int(value[0]), int(value[1])


def _node_id(errors: _Errors, field: str, value: Any) -> NodeId:
    if not (_is_int(value) or (isinstance(value, str) and value)):
        errors.add(field, f"must be an integer or a non-empty string, got {value!r}")
        return f"<{field}>"
    return value


def _entries(errors: _Errors, data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key)
    if not isinstance(value, list) or not value:
        errors.add(key, f"must be a non-empty list, got {value!r}")
        return []
    entries = []
    for i, entry in enumerate(value):
        if not isinstance(entry, Mapping):
            errors.add(f"{key}[{i}]", f"must be a mapping, got {entry!r}")
            continue
        entries.append(entry)
    return entries


def _unknown(errors: _Errors, field: str, entry: Mapping[str, Any], known: set[str]) -> None:
    for key in entry:
        if key not in known:
            errors.add(f"{field}.{key}" if field else str(key), "unknown field")


_TOP = {"name", "depots", "customers", "vehicles", "matrix", "allow_dropping", "drop_penalty"}
_DEPOT = {"id", "x", "y", "time_window"}
_CUSTOMER = {"id", "x", "y", "demand", "service_time", "time_window"}
_VEHICLE = {"name", "capacity", "count", "depot", "fixed_cost"}


def problem_from_dict(data: Mapping[str, Any], name: str) -> RoutingProblem:
    """A validated :class:`RoutingProblem` from parsed JSON/YAML (the docs show the format).

    ``name`` is used unless the data has its own ``name``. Raises :class:`ProblemError` listing
    every bad field (``customers[7].time_window: opens after it closes: [50, 10]``).
    """
    errors = _Errors()
    if not isinstance(data, Mapping):
        raise ProblemError(f"{name}: must be a mapping of depots, customers and vehicles")
    _unknown(errors, "", data, _TOP)
    depots = []
    for i, entry in enumerate(_entries(errors, data, "depots")):
        field = f"depots[{i}]"
        _unknown(errors, field, entry, _DEPOT)
        depots.append(
            Depot(
                id=_node_id(errors, f"{field}.id", entry.get("id")),
                x=_coordinate(errors, f"{field}.x", entry.get("x")),
                y=_coordinate(errors, f"{field}.y", entry.get("y")),
                time_window=_window(errors, f"{field}.time_window", entry.get("time_window")),
            )
        )
    customers = []
    for i, entry in enumerate(_entries(errors, data, "customers")):
        field = f"customers[{i}]"
        _unknown(errors, field, entry, _CUSTOMER)
        customers.append(
            Customer(
                id=_node_id(errors, f"{field}.id", entry.get("id")),
                x=_coordinate(errors, f"{field}.x", entry.get("x")),
                y=_coordinate(errors, f"{field}.y", entry.get("y")),
                demand=_int(
                    errors,
                    f"{field}.demand",
                    entry.get("demand", 0),
                    minimum=0,
                    what="an integer >= 0",
                ),
                service_time=_int(
                    errors,
                    f"{field}.service_time",
                    entry.get("service_time", 0),
                    minimum=0,
                    what="an integer >= 0",
                ),
                time_window=_window(errors, f"{field}.time_window", entry.get("time_window")),
            )
        )
    seen: dict[NodeId, str] = {}
    for kind, nodes in (("depots", depots), ("customers", customers)):
        for i, node in enumerate(nodes):
            if node.id in seen:
                errors.add(f"{kind}[{i}].id", f"{node.id!r} is also {seen[node.id]}")
            seen.setdefault(node.id, f"{kind}[{i}]")
    depot_ids = {d.id for d in depots}
    vehicles = []
    for i, entry in enumerate(_entries(errors, data, "vehicles")):
        field = f"vehicles[{i}]"
        _unknown(errors, field, entry, _VEHICLE)
        depot = entry.get("depot", depots[0].id if len(depots) == 1 else None)
        if depot not in depot_ids:
            errors.add(f"{field}.depot", f"must be one of the depots' ids, got {depot!r}")
        vehicle_name = entry.get("name", f"type-{i}")
        if not isinstance(vehicle_name, str):
            errors.add(f"{field}.name", f"must be a string, got {vehicle_name!r}")
        vehicles.append(
            VehicleType(
                name=str(vehicle_name),
                capacity=_int(
                    errors,
                    f"{field}.capacity",
                    entry.get("capacity"),
                    minimum=1,
                    what="a positive integer",
                ),
                count=_int(
                    errors,
                    f"{field}.count",
                    entry.get("count", 1),
                    minimum=1,
                    what="a positive integer",
                ),
                depot=depot,
                fixed_cost=_int(
                    errors,
                    f"{field}.fixed_cost",
                    entry.get("fixed_cost", 0),
                    minimum=0,
                    what="an integer >= 0",
                ),
            )
        )
    allow_dropping = data.get("allow_dropping", False)
    if not isinstance(allow_dropping, bool):
        errors.add("allow_dropping", f"must be true or false, got {allow_dropping!r}")
        allow_dropping = False
    drop_penalty = 0
    if allow_dropping:
        drop_penalty = _int(
            errors,
            "drop_penalty",
            data.get("drop_penalty"),
            minimum=1,
            what="a positive integer when allow_dropping is true",
        )
    elif "drop_penalty" in data:
        errors.add("drop_penalty", "only applies when allow_dropping is true")
    distances = _distances(errors, data.get("matrix"), depots, customers)
    errors.raise_any()
    problem_name = data.get("name", name)
    return RoutingProblem(
        name=str(problem_name),
        depots=tuple(depots),
        customers=tuple(customers),
        vehicles=tuple(vehicles),
        distances=distances,
        allow_dropping=allow_dropping,
        drop_penalty=drop_penalty,
    )


def _distances(
    errors: _Errors, matrix: Any, depots: list[Depot], customers: list[Customer]
) -> tuple[tuple[int, ...], ...]:
    size = len(depots) + len(customers)
    if matrix is not None:
        if not isinstance(matrix, list) or len(matrix) != size:
            errors.add(
                "matrix", f"must be a list of {size} rows (depots, then customers), one per node"
            )
            return ()
        rows = []
        for i, row in enumerate(matrix):
            if (
                not isinstance(row, list)
                or len(row) != size
                or not all(_is_int(v) and v >= 0 for v in row)
            ):
                errors.add(f"matrix[{i}]", f"must be {size} integers >= 0")
                return ()
            if row[i] != 0:
                errors.add(
                    f"matrix[{i}][{i}]", f"a node's distance to itself must be 0, got {row[i]}"
                )
            rows.append(tuple(row))
        return tuple(rows)
    points = []
    labelled = [("depots", i, d) for i, d in enumerate(depots)]
    labelled += [("customers", i, c) for i, c in enumerate(customers)]
    for kind, i, node in labelled:
        if node.x is None or node.y is None:
            errors.add(f"{kind}[{i}]", "needs x and y (or give the problem a matrix)")
            return ()
        points.append((node.x, node.y))
    return tuple(tuple(nint_distance(a, b) for b in points) for a in points)


def problem_to_dict(problem: RoutingProblem) -> dict[str, Any]:
    """The JSON/YAML form of ``problem`` (:func:`problem_from_dict` reads it back)."""

    def node(entry: Depot | Customer) -> dict[str, Any]:
        data: dict[str, Any] = {"id": entry.id}
        if entry.x is not None:
            data["x"], data["y"] = entry.x, entry.y
        if isinstance(entry, Customer):
            data["demand"] = entry.demand
            if entry.service_time:
                data["service_time"] = entry.service_time
        if entry.time_window:
            data["time_window"] = list(entry.time_window)
        return data

    data: dict[str, Any] = {
        "name": problem.name,
        "depots": [node(d) for d in problem.depots],
        "customers": [node(c) for c in problem.customers],
        "vehicles": [
            {
                "name": v.name,
                "capacity": v.capacity,
                "count": v.count,
                "depot": v.depot,
                "fixed_cost": v.fixed_cost,
            }
            for v in problem.vehicles
        ],
    }
    if not problem.has_coordinates:
        data["matrix"] = [list(row) for row in problem.distances]
    if problem.allow_dropping:
        data["allow_dropping"] = True
        data["drop_penalty"] = problem.drop_penalty
    return data
