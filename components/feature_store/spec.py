"""The feature-store layer's input model: the ``feature_store`` section of a stack."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    model_validator,
)

from components.shared.spec_rules import Section, unique_names_validator
from workloads.features.definitions import DefinitionError, FeatureGroupDefinition


class OnlineStoreConfig(Section):
    """A feature group's online store: the latest record per identifier, for inference lookups."""

    enabled: bool = True
    """Keep an online store (GetRecord / BatchGetRecord); fixed for a group version."""
    storage_type: Literal["Standard", "InMemory"] = "Standard"
    """``Standard`` or the ElastiCache-backed ``InMemory`` tier; fixed for a group version."""
    ttl_days: int | None = Field(default=None, ge=1, le=36500)
    """Hard-delete online records this many days after their event time (none: keep them);
    may change in place."""


class OfflineStoreConfig(Section):
    """A feature group's offline store: every record ever written, in the processed bucket."""

    enabled: bool = True
    """Keep an offline store (training sets, point-in-time joins); fixed for a group version."""
    table_format: Literal["Glue", "Iceberg"] = "Glue"
    """The offline table's format; Iceberg allows compaction. Fixed for a group version."""


class FeatureGroupConfig(Section):
    """One version of one feature group; its schema is :mod:`workloads.features.definitions`."""

    name: str
    """The group's name (``customers``); with ``version`` it names the SageMaker group."""
    version: int = 1
    """The schema version. Only adding features changes a version in place; anything else
    (removing, renaming or retyping a feature, other store settings) is a new version entry."""
    description: str = Field(default="", max_length=128)
    """Free text shown on the group."""
    record_identifier: str
    """The feature that identifies a record."""
    event_time: str
    """The feature holding when a record's values became true (ISO-8601 String or epoch
    Fractional)."""
    features: dict[str, str]
    """Every feature and its type (String, Integral, Fractional), identifier and event time
    included, in order."""
    online: OnlineStoreConfig = OnlineStoreConfig()
    """The online store."""
    offline: OfflineStoreConfig = OfflineStoreConfig()
    """The offline store."""

    @model_validator(mode="after")
    def _valid_definition(self) -> FeatureGroupConfig:
        # The schema rules live with the definition the feature code uses (one source of truth).
        try:
            _ = self.definition
        except DefinitionError as error:
            raise ValueError("; ".join(error.problems)) from None
        if not (self.online.enabled or self.offline.enabled):
            raise ValueError("enable the online store, the offline store or both")
        return self

    @property
    def definition(self) -> FeatureGroupDefinition:
        """The schema as the feature code sees it."""
        return FeatureGroupDefinition.from_mapping(self.model_dump())


class AthenaConfig(Section):
    """The Athena workgroup for offline-store queries."""

    bytes_scanned_cutoff_gb: int = Field(default=100, ge=1, le=1_000_000)
    """Cancel a query that scans more than this many GB (a cost guard)."""

    @property
    def bytes_scanned_cutoff(self) -> int:
        """The same cutoff in bytes (GiB, 1024**3 each), the unit Athena's workgroup takes."""
        return self.bytes_scanned_cutoff_gb * 1024**3


class FeatureStoreConfig(Section):
    """Feature groups (the feature-store layer)."""

    groups: tuple[FeatureGroupConfig, ...] = ()
    """Every group version; a newer version of a group is another entry with the same name."""
    athena: AthenaConfig = AthenaConfig()
    """The workgroup for offline queries."""

    _unique_versions = unique_names_validator(
        "groups", "group versions", lambda group: f"{group.name} v{group.version}"
    )
