"""What each training algorithm accepts as hyperparameters: one table per algorithm.

The tables are read from the trainers' own declaration: the params dataclasses in
``workloads/training/params.py`` (``JobParams`` for what every algorithm shares,
``SklearnParams``, ``XGBoostParams``, ``TorchParams``, ``AutoMLParams``), whose fields carry
their type annotation and bounds, and from which the trainers' ``problems()`` are derived. That
module is standard library only, so ``stacks/`` may import it. Values are converted with the
trainer's own parser (:func:`workloads.training.hyperparameters.convert`) and judged by the same
:class:`~workloads.training.params.Bounds`, so the config accepts exactly what the trainer
accepts; only the refused number is shown as the user wrote it (``1``, not ``1.0``).
"""

from __future__ import annotations

import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from workloads.training.hyperparameters import convert
from workloads.training.params import (
    FAMILIES,
    PARAMS_TYPES,
    Bounds,
    JobParams,
    declaration,
    number_text,
)

#: The hyperparameters a pipeline or TrainJob sets from its own fields (``algorithm``, ``task``,
#: ``target``): set in ``hyperparameters`` too, one copy would silently win over the other.
SET_BY_THE_PIPELINE = ("algorithm", "task", "target")

#: The AutoML search families (``workloads.training.params.FAMILIES``).
AUTOML_FAMILIES = FAMILIES


def as_hyperparameter(value: str | int | float | bool) -> str:
    """A config value as SageMaker passes hyperparameters: a string (``true``, ``0.1``, ``64``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter: its name, the trainer's type annotation and its declared bounds."""

    name: str
    """The name the trainer reads."""
    annotation: Any
    """The trainer's annotation (``int``, ``int | None``, ``Literal[...]``, ``tuple[int, ...]``)."""
    bounds: Bounds
    """Its bounds, as the params dataclass declares them."""

    @property
    def minimum(self) -> float | None:
        """The lowest value (of each item, for a list); None: no lower bound."""
        return self.bounds.minimum

    @property
    def maximum(self) -> float | None:
        """The highest value; None: no upper bound."""
        return self.bounds.maximum

    @property
    def excluded(self) -> tuple[int, ...]:
        """Single values refused inside the bounds (``n_jobs`` cannot be 0)."""
        return self.bounds.excluded

    @property
    def base_type(self) -> Any:
        """The annotation without ``| None`` (``int`` for ``int | None``)."""
        arguments = [arg for arg in typing.get_args(self.annotation) if arg is not type(None)]
        if typing.get_origin(self.annotation) in (typing.Union, type(int | None)):
            return arguments[0]
        return self.annotation

    @property
    def kind(self) -> Literal["integer", "continuous", "categorical"]:
        """The SageMaker tuning range type that samples values this parameter accepts."""
        base = self.base_type
        if base is int:
            return "integer"
        if base is float:
            return "continuous"
        return "categorical"

    def bounds_text(self) -> str:
        """The bounds in words: ``> 0``, ``in (0, 1]``, ``>= 1``."""
        return self.bounds.bounds_text()

    def within(self, number: float) -> bool:
        """Whether ``number`` lies inside the bounds (``excluded`` values aside)."""
        return self.bounds.within(number)

    def value_problem(self, text: str, task: str | None) -> str | None:
        """Why the trainer would refuse ``text`` (a hyperparameter as SageMaker passes it), or None.

        ``task`` is the pipeline's task (for metric names); None skips that check.
        """
        try:
            value = convert(text, self.annotation)
        except ValueError as error:
            return str(error)
        nullable = type(None) in typing.get_args(self.annotation)
        return self.bounds.problem(value, nullable=nullable, task=task, render=number_text)


def _table(params_type: type) -> dict[str, Hyperparameter]:
    """The table of one params dataclass: its fields' names, annotations and bounds."""
    return {
        name: Hyperparameter(name, declared.annotation, declared.bounds)
        for name, declared in declaration(params_type).items()
    }


#: ``JobParams``: what every algorithm shares.
SHARED = _table(JobParams)

#: Each algorithm's own table (the shared ``JobParams`` apart), from its params dataclass.
ALGORITHM_TABLES: dict[str, dict[str, Hyperparameter]] = {
    algorithm: _table(params_type) for algorithm, params_type in PARAMS_TYPES.items()
}

#: Each algorithm's own table by name (``SklearnParams``, ``XGBoostParams``, ``TorchParams``,
#: ``AutoMLParams``).
SKLEARN = ALGORITHM_TABLES["sklearn"]
XGBOOST = ALGORITHM_TABLES["xgboost"]
PYTORCH = ALGORITHM_TABLES["pytorch"]
AUTOML = ALGORITHM_TABLES["automl"]


def table(algorithm: str) -> dict[str, Hyperparameter]:
    """Every hyperparameter ``algorithm`` accepts: the shared ones, then its own.

    A name in both (``seed``, ``objective`` for pytorch) reaches both dataclasses in the trainer,
    so a value must satisfy both entries; :func:`value_problems` checks each.
    """
    return {**SHARED, **ALGORITHM_TABLES[algorithm]}


def _entries(algorithm: str, name: str) -> list[Hyperparameter]:
    return [entries[name] for entries in (SHARED, ALGORITHM_TABLES[algorithm]) if name in entries]


def value_problems(
    algorithm: str, task: str | None, values: Mapping[str, str | int | float | bool]
) -> list[tuple[str, str]]:
    """``(name, reason)`` for every fixed hyperparameter the trainer of ``algorithm`` would refuse.

    Unknown names, the names the pipeline sets itself, and values of the wrong type or outside
    the bounds, in the order given.
    """
    known = table(algorithm)
    problems = []
    for name, value in values.items():
        if name in SET_BY_THE_PIPELINE:
            problems.append((name, f"set by the '{name}' field, not in hyperparameters"))
            continue
        if name not in known:
            problems.append((name, _unknown(algorithm, name)))
            continue
        for entry in _entries(algorithm, name):
            if problem := entry.value_problem(as_hyperparameter(value), task):
                problems.append((name, problem))
                break
    return problems


def _unknown(algorithm: str, name: str) -> str:
    allowed = [key for key in table(algorithm) if key not in SET_BY_THE_PIPELINE]
    return f"not a hyperparameter of {algorithm} (known: {', '.join(allowed)})"


def range_problems(
    algorithm: str,
    task: str | None,
    name: str,
    kind: str,
    low: float | None,
    high: float | None,
    values: tuple[str, ...],
) -> list[tuple[str, str]]:
    """``(field, reason)`` for each way a tuning range would hand the trainer a value it refuses.

    ``field`` is the range's key the reason is about; an empty list means none.

    Its type must sample what the parameter takes (integer ranges for integers, continuous for
    floats, categorical for the rest), its bounds lie inside the parameter's, and a categorical
    range's every value must be one the trainer accepts. ``min < max``, finite bounds and the
    scaling rules are the range model's own checks.
    """
    if name in SET_BY_THE_PIPELINE:
        return [("name", f"{name} is set by its own '{name}' field and cannot be tuned")]
    if name not in table(algorithm):
        return [("name", f"'{name}' is {_unknown(algorithm, name)}")]
    problems: list[tuple[str, str]] = []
    for entry in _entries(algorithm, name):
        if kind == "categorical":
            for value in values:
                if problem := entry.value_problem(value, task):
                    problems.append(("values", f"{value!r}: {problem}"))
            continue
        if entry.kind != kind:
            problems.append(
                ("type", f"{name} takes {_a(entry)}, so its range must be {entry.kind}, not {kind}")
            )
            continue
        for label, bound in (("min", low), ("max", high)):
            if bound is not None and math.isfinite(bound) and not entry.within(bound):
                problems.append(
                    (label, f"{name} must be {entry.bounds_text()}, not {number_text(bound)}")
                )
        if (
            low is not None
            and high is not None
            and (inside := [number for number in entry.excluded if low <= number <= high])
        ):
            problems.append(("min", f"the range includes {inside[0]}, which {name} refuses"))
    return list(dict.fromkeys(problems))


def _a(entry: Hyperparameter) -> str:
    base = entry.base_type
    return {int: "integers", float: "numbers"}.get(base, "a choice of values")
