"""What the feature tests share: one group definition and a runtime client that never reaches AWS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.workloads.dummy_credentials import use_dummy_credentials
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
    use_dummy_credentials(monkeypatch, tmp_path)
    return default_client(max_workers=max_workers, region="us-east-1")
