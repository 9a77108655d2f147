"""What each training algorithm accepts as hyperparameters: one table per algorithm.

The trainers in ``workloads/training/`` declare their hyperparameters as frozen dataclasses
(``JobParams`` in ``entrypoint.py`` for every algorithm, ``SklearnParams``, ``XGBoostParams``,
``TorchParams``, ``AutoMLParams``) whose ``problems()`` methods check ranges. Those modules import
numpy and torch, which ``stacks/`` must not, so this module restates the same declaration (names,
types, bounds) in standard-library Python for the stack config. The type annotations are the
trainer's own, and values are converted with the trainer's own parser
(:func:`workloads.training.hyperparameters.convert`), so the config accepts exactly the strings
the trainer accepts. ``tests/stacks/test_training_hyperparameters.py`` checks against the
dataclasses that every name and type is the trainer's, and that every bound here is where the
trainer's ``problems()`` starts or stops refusing: a change on either side fails that test.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from components.pipeline_definition import as_hyperparameter
from workloads.training.hyperparameters import convert
from workloads.training.objectives import METRICS

#: The hyperparameters a pipeline or TrainJob sets from its own fields (``algorithm``, ``task``,
#: ``target``): set in ``hyperparameters`` too, one copy would silently win over the other.
SET_BY_THE_PIPELINE = ("algorithm", "task", "target")

#: The AutoML search families (``workloads.training.automl.FAMILIES``).
AUTOML_FAMILIES = ("hist_gradient_boosting", "random_forest", "linear", "xgboost", "pytorch")

#: Seeds torch's trainer accepts: numpy's legacy seeding takes 32-bit seeds.
_TORCH_SEED_LIMIT = 2**32


@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter: its name, the trainer's type annotation and its bounds."""

    name: str
    """The name the trainer reads."""
    annotation: Any
    """The trainer's annotation (``int``, ``int | None``, ``Literal[...]``, ``tuple[int, ...]``)."""
    minimum: float | None = None
    """The lowest value (of each item, for a list); None: no lower bound."""
    maximum: float | None = None
    """The highest value; None: no upper bound."""
    min_exclusive: bool = False
    """The minimum itself is refused (``> 0`` rather than ``>= 0``)."""
    max_exclusive: bool = False
    """The maximum itself is refused."""
    excluded: tuple[int, ...] = ()
    """Single values refused inside the bounds (``n_jobs`` cannot be 0)."""
    item_choices: tuple[str, ...] = ()
    """For a list of strings: the values each item may take (empty: any)."""
    unique_items: bool = False
    """For a list: no item may appear twice."""
    non_empty: bool = False
    """For a list or a string: it may not be empty."""
    task_metric: bool = False
    """The value names a metric of the pipeline's task (``objectives.METRICS``)."""
    empty_is_default: bool = False
    """An empty string stands for the default (``JobParams.objective``: the task's default)."""

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
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            left = "(" if self.min_exclusive else "["
            right = ")" if self.max_exclusive else "]"
            text = f"in {left}{_number(low)}, {_number(high)}{right}"
        elif low is not None:
            text = f"{'>' if self.min_exclusive else '>='} {_number(low)}"
        elif high is not None:
            text = f"{'<' if self.max_exclusive else '<='} {_number(high)}"
        elif self.excluded:
            return "other than " + " or ".join(str(number) for number in self.excluded)
        else:
            text = "any value"
        return text + "".join(f" except {number}" for number in self.excluded)

    def within(self, number: float) -> bool:
        """Whether ``number`` lies inside the bounds (``excluded`` values aside)."""
        low, high = self.minimum, self.maximum
        if low is not None and (number < low or (self.min_exclusive and number == low)):
            return False
        return not (high is not None and (number > high or (self.max_exclusive and number == high)))

    def value_problem(self, text: str, task: str | None) -> str | None:
        """Why the trainer would refuse ``text`` (a hyperparameter as SageMaker passes it), or None.

        ``task`` is the pipeline's task (for metric names); None skips that check.
        """
        try:
            value = convert(text, self.annotation)
        except ValueError as error:
            return str(error)
        if value is None:
            return None
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if isinstance(item, bool) or not isinstance(item, int | float):
                continue
            if not self.within(item) or item in self.excluded:
                nullable = " or none" if type(None) in typing.get_args(self.annotation) else ""
                what = "each item must be" if isinstance(value, tuple) else "must be"
                return f"{what} {self.bounds_text()}{nullable}, not {_number(item)}"
        if isinstance(value, tuple):
            if self.non_empty and not value:
                return "must list at least one value"
            if unknown := [
                item for item in value if self.item_choices and item not in self.item_choices
            ]:
                return (
                    f"{', '.join(repr(item) for item in unknown)} not allowed; choose from "
                    f"{', '.join(self.item_choices)}"
                )
            if self.unique_items and len(set(value)) != len(value):
                return "lists a value twice"
        if isinstance(value, str):
            if self.non_empty and not value.strip():
                return "must not be empty"
            if self.empty_is_default and not value:
                return None
            if self.task_metric and task is not None and value not in METRICS.get(task, {}):
                return f"{value!r} is not a {task} metric (known: {', '.join(METRICS[task])})"
        return None


def _params(*entries: Hyperparameter) -> dict[str, Hyperparameter]:
    return {entry.name: entry for entry in entries}


#: ``JobParams`` (workloads/training/entrypoint.py): what every algorithm shares.
SHARED = _params(
    Hyperparameter("algorithm", Literal["sklearn", "xgboost", "pytorch", "automl"]),
    Hyperparameter("task", Literal["classification", "regression"]),
    Hyperparameter("target", str, non_empty=True),
    Hyperparameter("features", tuple[str, ...]),
    Hyperparameter("objective", str, task_metric=True, empty_is_default=True),
    Hyperparameter(
        "validation_fraction", float, minimum=0, maximum=1, min_exclusive=True, max_exclusive=True
    ),
    Hyperparameter("seed", int),
    Hyperparameter("registered_model_name", str),
)

#: ``SklearnParams`` (workloads/training/sklearn_trainer.py).
SKLEARN = _params(
    Hyperparameter("estimator", Literal["hist_gradient_boosting", "random_forest", "linear"]),
    Hyperparameter("learning_rate", float, minimum=0, min_exclusive=True),
    Hyperparameter("max_iter", int, minimum=1),
    Hyperparameter("n_estimators", int, minimum=1),
    Hyperparameter("max_depth", int | None, minimum=1),
    Hyperparameter("max_leaf_nodes", int | None, minimum=2),
    Hyperparameter("min_samples_leaf", int | None, minimum=1),
    Hyperparameter("l2_regularization", float, minimum=0),
    Hyperparameter("max_features", float, minimum=0, maximum=1, min_exclusive=True),
    Hyperparameter("alpha", float, minimum=0, min_exclusive=True),
    Hyperparameter("step", int, minimum=1),
    Hyperparameter("patience", int, minimum=1),
    # Negative counts are joblib's "all cores but |n| - 1"; only 0 means nothing.
    Hyperparameter("n_jobs", int, excluded=(0,)),
    Hyperparameter("seed", int),
)

#: ``XGBoostParams`` (workloads/training/xgboost_trainer.py).
XGBOOST = _params(
    Hyperparameter("num_round", int, minimum=1),
    Hyperparameter("learning_rate", float, minimum=0, min_exclusive=True),
    Hyperparameter("max_depth", int, minimum=1),
    Hyperparameter("min_child_weight", float, minimum=0),
    Hyperparameter("subsample", float, minimum=0, maximum=1, min_exclusive=True),
    Hyperparameter("colsample_bytree", float, minimum=0, maximum=1, min_exclusive=True),
    Hyperparameter("reg_lambda", float, minimum=0),
    Hyperparameter("reg_alpha", float, minimum=0),
    Hyperparameter("gamma", float, minimum=0),
    Hyperparameter("max_bin", int, minimum=1),
    Hyperparameter("tree_method", Literal["hist", "approx", "exact"]),
    Hyperparameter("early_stopping_rounds", int, minimum=0),
    Hyperparameter("checkpoint_every", int, minimum=1),
    Hyperparameter("nthread", int, minimum=0),
    Hyperparameter("seed", int),
)

#: ``TorchParams`` (workloads/training/torch_trainer.py).
PYTORCH = _params(
    Hyperparameter("hidden_sizes", tuple[int, ...], minimum=1),
    Hyperparameter("dropout", float, minimum=0, maximum=1, max_exclusive=True),
    Hyperparameter("learning_rate", float, minimum=0, min_exclusive=True),
    Hyperparameter("weight_decay", float, minimum=0),
    Hyperparameter("batch_size", int, minimum=1),
    Hyperparameter("epochs", int, minimum=1),
    Hyperparameter("patience", int, minimum=1),
    Hyperparameter("objective", str, task_metric=True),
    Hyperparameter("seed", int, minimum=0, maximum=_TORCH_SEED_LIMIT, max_exclusive=True),
    Hyperparameter("checkpoint_every", int, minimum=1),
    Hyperparameter("num_threads", int, minimum=0),
    Hyperparameter("mixed_precision", bool),
)

#: ``AutoMLParams`` (workloads/training/automl.py).
AUTOML = _params(
    Hyperparameter("max_trials", int, minimum=1),
    Hyperparameter("max_seconds", float, minimum=0, min_exclusive=True),
    Hyperparameter(
        "families", tuple[str, ...], item_choices=AUTOML_FAMILIES, unique_items=True, non_empty=True
    ),
    Hyperparameter("seed", int),
)

#: Each algorithm's own table (the shared ``JobParams`` apart).
ALGORITHM_TABLES: dict[str, dict[str, Hyperparameter]] = {
    "sklearn": SKLEARN,
    "xgboost": XGBOOST,
    "pytorch": PYTORCH,
    "automl": AUTOML,
}


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
                    (label, f"{name} must be {entry.bounds_text()}, not {_number(bound)}")
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


def _number(value: float) -> str:
    """``1`` for 1.0, ``4294967296`` for 2**32, ``0.5`` for 0.5 (no exponent for whole numbers)."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
