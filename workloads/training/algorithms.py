"""The dispatch table from the ``algorithm`` hyperparameter to its trainer and params type.

The algorithms are ``sklearn`` (``sklearn_trainer``), ``xgboost`` (``xgboost_trainer``),
``pytorch`` (``torch_trainer``), the three in ``frameworks.FRAMEWORK_TRAINERS``, and ``automl``
(``automl``, which searches over the other three and imports no framework itself). Each
framework's module is imported only when its algorithm runs, so an XGBoost job never pays for
importing torch. What a trainer takes and gives back (``TrainingContext``, ``TrainedModel``)
lives in ``outcome``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from workloads.model_layout import PYTORCH, SKLEARN, XGBOOST
from workloads.training.automl import run_automl
from workloads.training.frameworks import FRAMEWORK_TRAINERS
from workloads.training.params import PARAMS_TYPES

if TYPE_CHECKING:
    from workloads.training.data import TabularData
    from workloads.training.outcome import TrainedModel, Trainer, TrainingContext

ALGORITHMS = (SKLEARN, XGBOOST, PYTORCH, "automl")
"""Every value the ``algorithm`` hyperparameter takes."""


def _automl() -> Trainer:
    return run_automl


TRAINERS: Mapping[str, Callable[[], Trainer]] = {**FRAMEWORK_TRAINERS, "automl": _automl}
"""Each algorithm's trainer, loaded (its module imported) when called."""


def _unknown(algorithm: str) -> ValueError:
    return ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}, not {algorithm!r}")


def params_type(algorithm: str) -> type:
    """The hyperparameters dataclass of an algorithm."""
    if algorithm not in PARAMS_TYPES:
        raise _unknown(algorithm)
    return PARAMS_TYPES[algorithm]


def train(algorithm: str, data: TabularData, params: Any, context: TrainingContext) -> TrainedModel:
    """Train ``algorithm`` with its parsed ``params`` on ``data``."""
    if algorithm not in TRAINERS:
        raise _unknown(algorithm)
    return TRAINERS[algorithm]()(data, params, context)
