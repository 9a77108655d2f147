"""The framework trainers by algorithm name: ``sklearn``, ``xgboost`` and ``pytorch``.

AutoML trains its trials through this table and ``algorithms`` dispatches the framework
algorithms to it. Each trainer module is imported only when its algorithm runs, so an XGBoost
job never pays for importing torch (and an image without torch can still train XGBoost).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from workloads.model_layout import PYTORCH, SKLEARN, XGBOOST

if TYPE_CHECKING:
    from workloads.training.outcome import Trainer


def _sklearn() -> Trainer:
    # Lazy: keeps scikit-learn out of the jobs of the other frameworks.
    from workloads.training.sklearn_trainer import train_sklearn

    return train_sklearn


def _xgboost() -> Trainer:
    # Lazy: keeps xgboost out of the jobs of the other frameworks.
    from workloads.training.xgboost_trainer import train_xgboost

    return train_xgboost


def _pytorch() -> Trainer:
    # Lazy: torch_trainer imports torch at import time.
    from workloads.training.torch_trainer import train_pytorch

    return train_pytorch


FRAMEWORK_TRAINERS: Mapping[str, Callable[[], Trainer]] = {
    SKLEARN: _sklearn,
    XGBOOST: _xgboost,
    PYTORCH: _pytorch,
}
"""Each framework algorithm's trainer, loaded (its module imported) when called."""
