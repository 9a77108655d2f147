"""Sample stack-config pieces the config tests share."""

from __future__ import annotations

import json
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


def without_retraining(flat: dict[str, str]) -> dict[str, str]:
    """A stack's flat config whose monitors start no training pipeline.

    For tests that change the training section or the layers: a monitor that retrains needs its
    pipeline in ``training.pipelines`` and the training layer listed.
    """
    monitoring = json.loads(flat["ml-platform:monitoring"])
    for entry in monitoring.get("endpoints", []):
        for key in ("retrain_on_drift", "retrain_pipeline", "retrain_schedule"):
            entry.pop(key, None)
    return {**flat, "ml-platform:monitoring": json.dumps(monitoring)}
