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


def serving_from_archives(flat: dict[str, str]) -> dict[str, str]:
    """``flat`` with each variant deploying a registered version serving an archive instead.

    For tests that replace the training section: a variant's ``model.group`` must be a group the
    stack's training pipelines register into, which a replaced section may not have.
    """
    serving = json.loads(flat["ml-platform:serving"])
    for endpoint in serving["endpoints"]:
        for variant in [*endpoint["variants"], endpoint.get("shadow_variant") or {}]:
            if variant.pop("model", None) is not None:
                variant["model_artifact"] = "churn/v1/model.tar.gz"
    return {**flat, "ml-platform:serving": json.dumps(serving)}
