"""What the feature tests share: one group definition and a runtime client that never reaches AWS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from workloads.features.definitions import Feature, FeatureGroupDefinition
from workloads.features.ingestion import default_client

GROUP = "mlp-test-customers-v1"
CUSTOMERS = FeatureGroupDefinition(
    name="customers",
    record_identifier="customer_id",
    event_time="updated_at",
    features=(
        Feature("customer_id", "String"),
        Feature("updated_at", "String"),
        Feature("orders", "Integral"),
        Feature("spend", "Fractional"),
        Feature("segment", "String"),
    ),
)


def runtime_client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, max_workers: int = 8) -> Any:
    """A real feature-store runtime client with dummy credentials (nothing from ~/.aws)."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    return default_client(max_workers=max_workers, region="us-east-1")
