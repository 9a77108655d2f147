"""Readers: the standard job-shop text format, and JSON/YAML.

The text format (OR-Library, Taillard's and Lawrence's instances)::

    # comment lines start with '#', anywhere; blank lines are skipped
    6 6                       <- jobs machines
    2 1  0 3  1 6  3 7  5 3  4 6   <- one line per job: machine duration pairs, in order

Every job line holds ``machines`` pairs (each job visits every machine once). JSON/YAML hold
what the text cannot (release and due dates, weights, the objective); see :func:`from_dict`.
Errors name the file and the line (text, JSON and YAML syntax) or the field (JSON/YAML values).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from workloads.optimization.errors import ProblemError
from workloads.optimization.jobshop.model import Job, JobShopProblem, Objective, Operation, is_int

#: The keys a JSON/YAML problem may have, and a job's keys.
PROBLEM_KEYS = ("name", "machines", "objective", "jobs")
JOB_KEYS = ("operations", "release", "due", "weight")


def load(path: Path) -> JobShopProblem:
    """The problem in ``path``: ``.json``, ``.yaml``/``.yml``, anything else the text format.

    The problem's name is the file's stem unless JSON/YAML give a ``name``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ProblemError(f"{path}: cannot be read ({error})") from None
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ProblemError(
                f"{path.name}, line {error.lineno}: not valid JSON ({error.msg})"
            ) from None
        return _from_document(data, path)
    if suffix in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = f", line {mark.line + 1}" if mark is not None else ""
            problem = getattr(error, "problem", None) or "syntax error"
            raise ProblemError(f"{path.name}{line}: not valid YAML ({problem})") from None
        return _from_document(data, path)
    return parse_text(text, path.stem, source=path.name)


def _from_document(data: Any, path: Path) -> JobShopProblem:
    if not isinstance(data, dict):
        raise ProblemError(
            f"{path.name}: must hold a mapping with 'jobs', got {type(data).__name__}"
        )
    try:
        return from_dict(data, str(data.get("name") or path.stem))
    except ProblemError as error:
        raise ProblemError(f"{path.name}: {error}") from None


def parse_text(text: str, name: str, *, source: str | None = None) -> JobShopProblem:
    """The problem in the standard text format; errors start with ``source`` (default ``name``)."""
    source = source or name
    header: tuple[int, int] | None = None
    header_line = 0
    jobs: list[Job] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}, line {number}"
        values = _integers(line, where)
        if header is None:
            if len(values) != 2 or values[0] < 1 or values[1] < 1:
                raise ProblemError(
                    f"{where}: expected 'jobs machines' (two positive integers), got {line!r}"
                )
            header, header_line = (values[0], values[1]), number
            continue
        job_count, machines = header
        if len(jobs) == job_count:
            raise ProblemError(
                f"{where}: more job lines than the {job_count} jobs announced on line {header_line}"
            )
        if len(values) != 2 * machines:
            raise ProblemError(
                f"{where}: expected {2 * machines} numbers ({machines} machine/duration pairs), "
                f"got {len(values)}"
            )
        operations = []
        for pair in range(machines):
            machine, duration = values[2 * pair], values[2 * pair + 1]
            if not 0 <= machine < machines:
                raise ProblemError(
                    f"{where}, pair {pair + 1}: machine {machine} is not in 0..{machines - 1}"
                )
            if duration < 0:
                raise ProblemError(f"{where}, pair {pair + 1}: duration {duration} is negative")
            operations.append(Operation(machine, duration))
        jobs.append(Job(tuple(operations)))
    if header is None:
        raise ProblemError(f"{source}: no 'jobs machines' line (the file is empty or all comments)")
    if len(jobs) < header[0]:
        raise ProblemError(
            f"{source}: expected {header[0]} job lines after line {header_line}, found {len(jobs)}"
        )
    return JobShopProblem(name=name, machines=header[1], jobs=tuple(jobs))


def _integers(line: str, where: str) -> list[int]:
    values = []
    for token in line.split():
        try:
            values.append(int(token))
        except ValueError:
            raise ProblemError(f"{where}: {token!r} is not an integer") from None
    return values


def from_dict(data: dict[str, Any], name: str) -> JobShopProblem:
    """The problem from parsed JSON/YAML; :class:`ProblemError` naming the bad field.

    ``{"machines": 3, "objective": "makespan", "jobs": [{"operations": [[0, 3], [1, 2]],
    "release": 0, "due": 10, "weight": 1}]}``: operations as ``[machine, duration]`` pairs or
    ``{"machine": m, "duration": d}``; ``machines`` defaults to the highest machine used + 1;
    ``objective`` to ``makespan``; ``release`` to 0, ``due`` to none, ``weight`` to 1.
    """
    if not isinstance(data, dict):
        raise ProblemError(f"must be a mapping with 'jobs', got {type(data).__name__}")
    _no_unknown_keys(data, PROBLEM_KEYS, "")
    raw_jobs = data.get("jobs")
    if not isinstance(raw_jobs, list) or not raw_jobs:
        raise ProblemError(f"jobs: must be a non-empty list of jobs, got {raw_jobs!r}")
    jobs = tuple(_job(raw, f"jobs[{j}]") for j, raw in enumerate(raw_jobs))
    machines = data.get("machines")
    if machines is None:
        machines = 1 + max(op.machine for job in jobs for op in job.operations)
    elif not is_int(machines) or machines < 1:
        raise ProblemError(f"machines: must be a positive integer, got {machines!r}")
    raw_objective = data.get("objective", Objective.MAKESPAN.value)
    try:
        objective = Objective(raw_objective)
    except ValueError:
        known = ", ".join(item.value for item in Objective)
        raise ProblemError(f"objective: must be one of {known}, got {raw_objective!r}") from None
    if "name" in data and not isinstance(data["name"], str):
        raise ProblemError(f"name: must be a string, got {data['name']!r}")
    problem_name = str(data.get("name") or name)
    try:
        return JobShopProblem(name=problem_name, machines=machines, jobs=jobs, objective=objective)
    except ProblemError as error:
        # The model prefixes its name; a field path alone reads better here.
        raise ProblemError(str(error).removeprefix(f"{problem_name}: ")) from None


def _job(raw: Any, where: str) -> Job:
    if not isinstance(raw, dict):
        raise ProblemError(f"{where}: must be a mapping with 'operations', got {raw!r}")
    _no_unknown_keys(raw, JOB_KEYS, f"{where}.")
    raw_operations = raw.get("operations")
    if not isinstance(raw_operations, list) or not raw_operations:
        raise ProblemError(
            f"{where}.operations: must be a non-empty list of [machine, duration], "
            f"got {raw_operations!r}"
        )
    operations = tuple(
        _operation(item, f"{where}.operations[{k}]") for k, item in enumerate(raw_operations)
    )
    fields = {key: raw[key] for key in ("release", "due", "weight") if key in raw}
    if fields.get("due", 0) is None:
        del fields["due"]
    for key, value in fields.items():
        if not is_int(value):
            raise ProblemError(f"{where}.{key}: must be an integer, got {value!r}")
    return Job(operations=operations, **fields)


def _operation(raw: Any, where: str) -> Operation:
    if isinstance(raw, dict):
        _no_unknown_keys(raw, ("machine", "duration"), f"{where}.")
        missing = [key for key in ("machine", "duration") if key not in raw]
        if missing:
            raise ProblemError(f"{where}.{missing[0]}: missing")
        machine, duration = raw["machine"], raw["duration"]
    elif isinstance(raw, list) and len(raw) == 2:
        machine, duration = raw
    else:
        raise ProblemError(f"{where}: must be [machine, duration] or a mapping, got {raw!r}")
    if not is_int(machine) or machine < 0:
        raise ProblemError(f"{where}.machine: must be a non-negative integer, got {machine!r}")
    if not is_int(duration) or duration < 0:
        raise ProblemError(f"{where}.duration: must be a non-negative integer, got {duration!r}")
    return Operation(machine, duration)


def _no_unknown_keys(mapping: dict[str, Any], known: tuple[str, ...], prefix: str) -> None:
    for key in mapping:
        if key not in known:
            raise ProblemError(f"{prefix}{key}: unknown field (known: {', '.join(known)})")
