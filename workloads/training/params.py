"""Each training algorithm's hyperparameters, declared once: names, types, defaults and bounds.

One frozen dataclass per algorithm (:class:`SklearnParams`, :class:`XGBoostParams`,
:class:`TorchParams`, :class:`AutoMLParams`) and one for what they share (:class:`JobParams`).
Each field's annotation is the type the trainer parses (``hyperparameters.convert``), and its
bounds sit next to it, declared with :func:`setting`; ``problems()`` is derived from those
declarations (:func:`field_problems`), never written by hand. Two readers use the same
declaration: the trainers (through ``hyperparameters.parse_many``) and the stack config
(``components/shared/hyperparameter_tables.py``, which must not import ML libraries). So this
module is standard library only, and Python 3.10 compatible like the rest of the training code.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from workloads.training import objectives

BOUNDS = "bounds"
"""The key of a field's :class:`Bounds` in its ``dataclasses.field`` metadata."""

FAMILIES = ("hist_gradient_boosting", "random_forest", "linear", "xgboost", "pytorch")
"""The AutoML search families, in the order the first trials take them
(``automl.SPACES`` holds one search space for each)."""

TORCH_SEED_LIMIT = 2**32
"""Seeds the PyTorch trainer accepts are below this: numpy's legacy seeding takes 32-bit seeds."""


@dataclass(frozen=True)
class Bounds:
    """What values one hyperparameter accepts beyond its type."""

    minimum: float | None = None
    """The lowest value (of each item, for a list); None: no lower bound."""
    maximum: float | None = None
    """The highest value (of each item, for a list); None: no upper bound."""
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
    """For a list or a string: it may not be empty (nor, for a string, only spaces)."""
    task_metric: bool = False
    """The value names a metric of the task (``objectives.METRICS``)."""
    empty_is_default: bool = False
    """With ``task_metric``: an empty string stands for the task's default metric."""

    def bounds_text(self) -> str:
        """The numeric bounds in words: ``> 0``, ``in (0, 1]``, ``other than 0``."""
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            left = "(" if self.min_exclusive else "["
            right = ")" if self.max_exclusive else "]"
            text = f"in {left}{number_text(low)}, {number_text(high)}{right}"
        elif low is not None:
            text = f"{'>' if self.min_exclusive else '>='} {number_text(low)}"
        elif high is not None:
            text = f"{'<' if self.max_exclusive else '<='} {number_text(high)}"
        elif self.excluded:
            return "other than " + " or ".join(str(number) for number in self.excluded)
        else:
            text = "any value"
        return text + "".join(f" except {number}" for number in self.excluded)

    def within(self, number: float) -> bool:
        """Whether ``number`` lies inside the bounds (``excluded`` values aside); NaN never does."""
        low, high = self.minimum, self.maximum
        # Written as what passes, so that NaN (which compares false) fails every bound.
        if low is not None and not (number > low if self.min_exclusive else number >= low):
            return False
        return high is None or (number < high if self.max_exclusive else number <= high)

    def problem(
        self,
        value: Any,
        *,
        nullable: bool = False,
        task: str | None = None,
        render: Callable[[Any], str] = repr,
    ) -> str | None:
        """Why ``value`` (already of the field's type) is refused, or None when it is accepted.

        ``nullable``: None is a value of the field (said in the bound's words: ``>= 1 or
        none``). ``task``: the task the metric must belong to; None skips that check.
        ``render`` shows a refused number (the trainer shows ``repr``, the config the text the
        user wrote).
        """
        if value is None:
            return None
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if isinstance(item, bool) or not isinstance(item, int | float):
                continue
            if not self.within(item) or item in self.excluded:
                what = "each item must be" if isinstance(value, tuple) else "must be"
                either = " or none" if nullable else ""
                return f"{what} {self.bounds_text()}{either}, not {render(item)}"
        if isinstance(value, tuple):
            return self._list_problem(value)
        if isinstance(value, str):
            return self._text_problem(value, task)
        return None

    def _list_problem(self, value: tuple[Any, ...]) -> str | None:
        choose = f"; choose from {', '.join(self.item_choices)}" if self.item_choices else ""
        if self.non_empty and not value:
            return f"none given{choose}"
        choices = self.item_choices
        if unknown := [item for item in value if choices and item not in choices]:
            return f"{', '.join(repr(item) for item in unknown)}{choose}"
        if self.unique_items and (twice := [item for item in value if value.count(item) > 1]):
            return f"{twice[0]!r} is listed twice"
        return None

    def _text_problem(self, value: str, task: str | None) -> str | None:
        if self.non_empty and not value.strip():
            return "must not be empty"
        if self.empty_is_default and not value:
            return None
        if self.task_metric and task is not None and value not in objectives.METRICS.get(task, {}):
            known = ", ".join(objectives.METRICS.get(task, {}))
            return f"{value!r} is not a {task} metric (known: {known})"
        return None


def setting(
    default: Any = dataclasses.MISSING,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    excluded: tuple[int, ...] = (),
    item_choices: tuple[str, ...] = (),
    unique_items: bool = False,
    non_empty: bool = False,
    task_metric: bool = False,
    empty_is_default: bool = False,
) -> Any:
    """A params dataclass field and its bounds, declared together next to the field's name.

    For example ``num_round: int = setting(500, gt=0)``. ``gt``/``ge`` and ``lt``/``le`` are the
    lower and upper bound, exclusive or inclusive (of each item, for a list); the other
    arguments are :class:`Bounds`' fields. No ``default``: the field is required.
    """
    if (gt is not None and ge is not None) or (lt is not None and le is not None):
        raise TypeError("give at most one of gt/ge and one of lt/le")
    bounds = Bounds(
        minimum=gt if gt is not None else ge,
        maximum=lt if lt is not None else le,
        min_exclusive=gt is not None,
        max_exclusive=lt is not None,
        excluded=excluded,
        item_choices=item_choices,
        unique_items=unique_items,
        non_empty=non_empty,
        task_metric=task_metric,
        empty_is_default=empty_is_default,
    )
    return dataclasses.field(default=default, metadata={BOUNDS: bounds})


@dataclass(frozen=True)
class Declared:
    """One field of a params dataclass as declared: its name, type annotation and bounds."""

    name: str
    """The hyperparameter's name (the field's)."""
    annotation: Any
    """The field's type annotation, resolved (``int``, ``int | None``, ``tuple[int, ...]``)."""
    bounds: Bounds
    """Its bounds (no bounds: ``Bounds()``)."""

    @property
    def nullable(self) -> bool:
        """Whether None is one of its values (``int | None``)."""
        return type(None) in typing.get_args(self.annotation)


@functools.cache
def declaration(params_type: type) -> Mapping[str, Declared]:
    """Every field of ``params_type`` (a params dataclass) as declared, in field order."""
    hints = typing.get_type_hints(params_type)
    return {
        spec.name: Declared(spec.name, hints[spec.name], spec.metadata.get(BOUNDS, Bounds()))
        for spec in dataclasses.fields(params_type)
    }


def number_text(value: float) -> str:
    """``1`` for 1.0, ``4294967296`` for 2**32, ``0.5`` for 0.5 (no exponent for whole numbers)."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def field_problems(params: Any, task: str | None = None) -> list[str]:
    """``name: reason`` for each field of ``params`` outside its declared bounds, in field order.

    ``task`` is what metric names are checked against; None skips that check.
    """
    problems = []
    for name, declared in declaration(type(params)).items():
        problem = declared.bounds.problem(
            getattr(params, name), nullable=declared.nullable, task=task
        )
        if problem:
            problems.append(f"{name}: {problem}")
    return problems


@dataclass(frozen=True)
class JobParams:
    """The hyperparameters every algorithm shares."""

    algorithm: Literal["sklearn", "xgboost", "pytorch", "automl"]
    """Which algorithm trains the model."""
    task: Literal["classification", "regression"]
    """What the model predicts: a class or a number."""
    target: str = setting(non_empty=True)
    """The target column."""
    features: tuple[str, ...] = ()
    """The feature columns, in order (empty: every column but the target, in file order)."""
    objective: str = setting("", task_metric=True, empty_is_default=True)
    """The metric that picks the best model (empty: ``objectives.DEFAULT_OBJECTIVE``)."""
    validation_fraction: float = setting(0.2, gt=0, lt=1)
    """The share of the training data held out for validation when there is no validation
    channel."""
    seed: int = 0
    """Seeds the validation split (and the algorithms that take a seed)."""
    registered_model_name: str = ""
    """Register the model under this name in MLflow's registry (when tracking)."""

    def problems(self) -> list[str]:
        """Every value outside its declared bounds, each naming its hyperparameter."""
        return field_problems(self, task=self.task)

    @property
    def resolved_objective(self) -> str:
        """``objective``, or the task's default."""
        return self.objective or objectives.DEFAULT_OBJECTIVE[self.task]


@dataclass(frozen=True)
class SklearnParams:
    """The hyperparameters of the scikit-learn path."""

    estimator: Literal["hist_gradient_boosting", "random_forest", "linear"] = (
        "hist_gradient_boosting"
    )
    """Which estimator to train."""
    learning_rate: float = setting(0.1, gt=0)
    """hist_gradient_boosting: the shrinkage of each iteration."""
    max_iter: int = setting(500, gt=0)
    """hist_gradient_boosting: the most boosting iterations; linear: the solver's iterations."""
    n_estimators: int = setting(500, gt=0)
    """random_forest: the most trees."""
    max_depth: int | None = setting(None, ge=1)
    """hist_gradient_boosting, random_forest: the deepest a tree grows (none: no limit)."""
    max_leaf_nodes: int | None = setting(31, ge=2)
    """hist_gradient_boosting: leaves per tree (none: no limit)."""
    min_samples_leaf: int | None = setting(None, ge=1)
    """hist_gradient_boosting, random_forest: rows per leaf (none: the estimator's default,
    20 and 1)."""
    l2_regularization: float = setting(0.0, ge=0)
    """hist_gradient_boosting: L2 penalty on leaf values."""
    max_features: float = setting(1.0, gt=0, le=1)
    """hist_gradient_boosting, random_forest: the fraction of features each split considers."""
    alpha: float = setting(1.0, gt=0)
    """linear: regularisation strength (``Ridge(alpha)``; ``LogisticRegression(C=1/alpha)``)."""
    step: int = setting(10, gt=0)
    """Iterations or trees added between two evaluations."""
    patience: int = setting(5, gt=0)
    """Evaluations without improvement of the objective before training stops."""
    # Negative counts are joblib's "all cores but |n| - 1"; only 0 means no worker at all.
    n_jobs: int = setting(-1, excluded=(0,))
    """random_forest: parallel jobs (-1: every core; -2: all but one, and so on)."""
    seed: int = 0
    """``random_state`` of the estimator."""

    def problems(self) -> list[str]:
        """Every value outside its declared bounds, each naming its hyperparameter."""
        return field_problems(self)


@dataclass(frozen=True)
class XGBoostParams:
    """The hyperparameters of the XGBoost path (XGBoost's own names where it has one)."""

    num_round: int = setting(500, gt=0)
    """The most boosting rounds."""
    learning_rate: float = setting(0.1, gt=0)
    """``eta``: the shrinkage of each round."""
    max_depth: int = setting(6, gt=0)
    """The deepest a tree grows."""
    min_child_weight: float = setting(1.0, ge=0)
    """The least hessian weight in a child."""
    subsample: float = setting(1.0, gt=0, le=1)
    """The fraction of rows each tree samples."""
    colsample_bytree: float = setting(1.0, gt=0, le=1)
    """The fraction of columns each tree samples."""
    reg_lambda: float = setting(1.0, ge=0)
    """L2 regularisation on leaf weights (``lambda``)."""
    reg_alpha: float = setting(0.0, ge=0)
    """L1 regularisation on leaf weights (``alpha``)."""
    gamma: float = setting(0.0, ge=0)
    """The least loss reduction a split must bring."""
    max_bin: int = setting(256, gt=0)
    """Histogram bins per feature (hist and approx tree methods)."""
    tree_method: Literal["hist", "approx", "exact"] = "hist"
    """How trees are built."""
    early_stopping_rounds: int = setting(20, ge=0)
    """Rounds without improvement of the objective before training stops (0: never)."""
    checkpoint_every: int = setting(10, gt=0)
    """Rounds between checkpoints (when there is a checkpoint directory)."""
    nthread: int = setting(0, ge=0)
    """Threads (0: every core)."""
    seed: int = 0
    """XGBoost's random seed (row and column sampling)."""

    def problems(self) -> list[str]:
        """Every value outside its declared bounds, each naming its hyperparameter."""
        return field_problems(self)


@dataclass(frozen=True)
class TorchParams:
    """The hyperparameters of a ``TabularNet`` training (simple types: parsed from strings)."""

    hidden_sizes: tuple[int, ...] = setting((64, 32), ge=1)
    """Units of each hidden layer, input side first."""
    dropout: float = setting(0.1, ge=0, lt=1)
    """Dropout probability after each hidden layer, in [0, 1)."""
    learning_rate: float = setting(1e-3, gt=0)
    """AdamW's learning rate."""
    weight_decay: float = setting(0.0, ge=0)
    """AdamW's decoupled weight decay."""
    batch_size: int = setting(256, ge=1)
    """Rows per minibatch, per process (the global batch is this times the world size)."""
    epochs: int = setting(50, ge=1)
    """The most epochs to train."""
    patience: int = setting(5, ge=1)
    """Early stopping: epochs without improvement of ``objective`` before training stops
    (a value >= ``epochs`` turns early stopping off)."""
    objective: str = setting("valid_loss", task_metric=True)
    """The metric early stopping watches and the best epoch is chosen by (its direction comes
    from ``objectives.METRICS``)."""
    seed: int = setting(0, ge=0, lt=TORCH_SEED_LIMIT)
    """Seeds weights, dropout and data order: the same seed (and thread count) gives the same
    run."""
    checkpoint_every: int = setting(1, ge=1)
    """Epochs between periodic checkpoints (when a checkpoint directory is given)."""
    num_threads: int = setting(0, ge=0)
    """``torch.set_num_threads`` for the run; 0 keeps torch's default."""
    mixed_precision: bool = True
    """bf16/fp16 autocast on CUDA; ignored on CPU."""

    def problems(self, task: str) -> list[str]:
        """Every problem with these values for ``task``, each naming its field (empty if valid)."""
        return field_problems(self, task=task)


@dataclass(frozen=True)
class AutoMLParams:
    """The hyperparameters of an AutoML search."""

    max_trials: int = setting(20, ge=1)
    """The most trials."""
    max_seconds: float = setting(600.0, gt=0)
    """No new trial starts once this many seconds have passed since the search began."""
    families: tuple[str, ...] = setting(
        FAMILIES, item_choices=FAMILIES, unique_items=True, non_empty=True
    )
    """The families to search (a subset of hist_gradient_boosting, random_forest, linear,
    xgboost, pytorch)."""
    seed: int = 0
    """Seeds the search (family choice and hyperparameters)."""

    def problems(self) -> list[str]:
        """Every value outside its declared bounds, each naming its hyperparameter."""
        return field_problems(self)


PARAMS_TYPES: dict[str, type] = {
    "sklearn": SklearnParams,
    "xgboost": XGBoostParams,
    "pytorch": TorchParams,
    "automl": AutoMLParams,
}
"""Each algorithm's own params dataclass (``JobParams`` holds what they share)."""
