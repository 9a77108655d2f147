"""Sample stack-config pieces the config tests share."""

from __future__ import annotations

from typing import Any


def pipeline(name: str = "churn", **overrides: Any) -> dict[str, Any]:
    """A valid training pipeline: XGBoost in its prebuilt container."""
    return {
        "name": name,
        "algorithm": "xgboost",
        "framework": "xgboost",
        "task": "classification",
        "target": "churned",
        "train_data": "churn/train/",
        "validation_data": "churn/validation/",
        **overrides,
    }
