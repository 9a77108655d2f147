"""Feature-group definitions: the one description of a group's schema.

A definition is written once, in the stack's config (``ml-platform:feature_store`` in
``Pulumi.<stack>.yaml``). The Pulumi program builds the SageMaker FeatureGroup from it, and the
feature code (ingestion, point-in-time joins, online lookup) reads the same entry with
:func:`load_definitions`, or rebuilds it from the deployed group with
:meth:`FeatureGroupDefinition.from_describe`. Nobody keeps two lists in sync by hand.

Standard library only: ``stacks/config.py`` validates the config through this module, and the
Pulumi program must not pull in any ML library.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

STRING, INTEGRAL, FRACTIONAL = "String", "Integral", "Fractional"
#: The value types a SageMaker feature can have.
FEATURE_TYPES = (STRING, INTEGRAL, FRACTIONAL)
#: Types SageMaker accepts for the record identifier and for the event time.
RECORD_IDENTIFIER_TYPES = (STRING, INTEGRAL)
EVENT_TIME_TYPES = (STRING, FRACTIONAL)
#: Columns the offline store adds to every record; a feature may not use these names.
OFFLINE_STORE_COLUMNS = ("write_time", "api_invocation_time", "is_deleted")

# SageMaker's FeatureName pattern (CreateFeatureGroup API reference).
_FEATURE_NAME = re.compile(r"^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$")
# Group names become part of a FeatureGroupName (``mlp-<env>-<name>-v<version>``, at most 64
# characters) and of a Glue table name (``<name>_v<version>``), so lower case, digits and '_'.
_GROUP_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_MAX_FEATURES = 2500
_MAX_VERSION = 999


class DefinitionError(ValueError):
    """A feature-group definition that SageMaker would refuse, with every problem found."""

    def __init__(self, where: str, problems: Iterable[str]) -> None:
        self.where = where
        self.problems = tuple(problems)
        super().__init__(f"{where}: " + "; ".join(self.problems))


@dataclass(frozen=True)
class Feature:
    """One feature: its name and SageMaker value type."""

    name: str
    """The feature (column) name."""
    type: str
    """``String``, ``Integral`` or ``Fractional``."""


@dataclass(frozen=True)
class FeatureGroupDefinition:
    """The schema of one version of a feature group.

    ``features`` lists every feature in order, the record identifier and the event time
    included. A group's schema may only grow within a version (see :func:`schema_change`);
    anything else is a new ``version``, which is a new SageMaker feature group.
    """

    name: str
    """The logical group name, e.g. ``customers`` (lower case, digits, '_')."""
    record_identifier: str
    """The feature that identifies a record (one online record per value)."""
    event_time: str
    """The feature that holds when the record's values became true."""
    features: tuple[Feature, ...]
    """Every feature in order, the identifier and event time included."""
    version: int = 1
    """The schema version; a new version is a new feature group."""
    description: str = ""
    """Free text shown on the feature group."""
    _by_name: dict[str, Feature] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        object.__setattr__(self, "_by_name", {feature.name: feature for feature in self.features})
        problems = _problems(self)
        if problems:
            raise DefinitionError(f"feature group '{self.name}'", problems)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> FeatureGroupDefinition:
        """Build a definition from its config form.

        ``{"name", "version", "record_identifier", "event_time", "description",
        "features": {name: type}}`` (or ``features`` as ``[{"name", "type"}]``, the ordered form
        :meth:`to_mapping` gives with ``ordered=True``); other keys are ignored here.
        """
        features = data.get("features")
        if isinstance(features, list | tuple):
            # The ordered form, [{"name": ..., "type": ...}], which survives a protobuf Struct
            # (Pulumi's wire format) where a mapping's order would not.
            features = {str(item.get("name")): item.get("type") for item in features}
        if not isinstance(features, Mapping):
            raise DefinitionError(
                f"feature group '{data.get('name')}'",
                ["'features' must be a mapping of feature name to type"],
            )
        return cls(
            name=str(data.get("name", "")),
            version=data.get("version", 1),
            record_identifier=str(data.get("record_identifier", "")),
            event_time=str(data.get("event_time", "")),
            description=str(data.get("description", "")),
            features=tuple(Feature(str(name), str(kind)) for name, kind in features.items()),
        )

    @classmethod
    def from_describe(cls, response: Mapping[str, Any]) -> FeatureGroupDefinition:
        """Rebuild the definition of a deployed group from its DescribeFeatureGroup response.

        The group's name must follow this platform's ``mlp-<env>-<name>-v<version>`` form.
        """
        group_name = response["FeatureGroupName"]
        # group_name() writes '_' as '-' (SageMaker's names allow no '_'); names have no '-'.
        match = re.fullmatch(r"mlp-[a-z0-9]+-(?P<name>[a-z0-9-]+)-v(?P<version>\d+)", group_name)
        if match is None:
            raise DefinitionError(
                f"feature group '{group_name}'",
                ["is not named mlp-<env>-<name>-v<version> (not created by this platform)"],
            )
        return cls(
            name=match["name"].replace("-", "_"),
            version=int(match["version"]),
            record_identifier=response["RecordIdentifierFeatureName"],
            event_time=response["EventTimeFeatureName"],
            description=response.get("Description", ""),
            features=tuple(
                Feature(item["FeatureName"], item["FeatureType"])
                for item in response["FeatureDefinitions"]
            ),
        )

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Every feature name, in order."""
        return tuple(feature.name for feature in self.features)

    @property
    def value_features(self) -> tuple[Feature, ...]:
        """The features other than the record identifier and the event time."""
        keys = (self.record_identifier, self.event_time)
        return tuple(feature for feature in self.features if feature.name not in keys)

    def type_of(self, feature_name: str) -> str:
        """The type of ``feature_name``; ``KeyError`` naming the group if it has no such feature."""
        try:
            return self._by_name[feature_name].type
        except KeyError:
            raise KeyError(
                f"feature group '{self.name}' v{self.version} has no feature '{feature_name}'"
            ) from None

    def group_name(self, environment: str) -> str:
        """The SageMaker FeatureGroupName of this version in ``environment``."""
        return f"mlp-{environment}-{self.name.replace('_', '-')}-v{self.version}"

    @property
    def table_name(self) -> str:
        """The Glue table of this version's offline store."""
        return f"{self.name}_v{self.version}"

    def to_mapping(self, *, ordered: bool = False) -> dict[str, Any]:
        """The config form (the inverse of :meth:`from_mapping`).

        ``ordered`` lists features as ``[{"name", "type"}]`` so their order survives formats
        with unordered maps.
        """
        features: Any = {feature.name: feature.type for feature in self.features}
        if ordered:
            features = [{"name": f.name, "type": f.type} for f in self.features]
        return {
            "name": self.name,
            "version": self.version,
            "record_identifier": self.record_identifier,
            "event_time": self.event_time,
            "description": self.description,
            "features": features,
        }


def _problems(definition: FeatureGroupDefinition) -> list[str]:
    problems = []
    if not _GROUP_NAME.match(definition.name):
        problems.append(
            f"name '{definition.name}' must start with a lower-case letter and have only "
            "lower-case letters, digits and '_' (at most 40 characters)"
        )
    version = definition.version
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= 999:
        problems.append(f"version {version!r} must be a whole number from 1 to {_MAX_VERSION}")
    if not definition.features:
        problems.append("has no features")
    if len(definition.features) > _MAX_FEATURES:
        problems.append(f"has {len(definition.features)} features (at most {_MAX_FEATURES})")
    seen: set[str] = set()
    for feature in definition.features:
        lowered = feature.name.lower()
        if not _FEATURE_NAME.match(feature.name):
            problems.append(
                f"feature name '{feature.name}' must be 1-64 letters, digits, '-' or '_' "
                "starting and ending with a letter or digit"
            )
        elif lowered in OFFLINE_STORE_COLUMNS:
            problems.append(
                f"feature name '{feature.name}' is reserved (the offline store adds "
                f"{', '.join(OFFLINE_STORE_COLUMNS)})"
            )
        if lowered in seen:
            # The offline store's Glue/Athena columns are case-insensitive.
            problems.append(f"feature '{feature.name}' appears twice (names ignore case)")
        seen.add(lowered)
        if feature.type not in FEATURE_TYPES:
            problems.append(
                f"feature '{feature.name}' has type '{feature.type}' "
                f"(expected one of {', '.join(FEATURE_TYPES)})"
            )
    for role, name, allowed in (
        ("record_identifier", definition.record_identifier, RECORD_IDENTIFIER_TYPES),
        ("event_time", definition.event_time, EVENT_TIME_TYPES),
    ):
        feature = definition._by_name.get(name)
        if feature is None:
            problems.append(f"{role} '{name}' is not one of the features")
        elif feature.type in FEATURE_TYPES and feature.type not in allowed:
            problems.append(
                f"{role} '{name}' has type '{feature.type}' (must be {' or '.join(allowed)})"
            )
    if definition.record_identifier and definition.record_identifier == definition.event_time:
        problems.append("record_identifier and event_time must be different features")
    return problems


@dataclass(frozen=True)
class SchemaChange:
    """What changing a group's definition in place means for the deployed group."""

    additions: tuple[Feature, ...]
    """Features to add with UpdateFeatureGroup; data is kept."""
    problems: tuple[str, ...]
    """Changes that cannot be applied to a live group without replacing it (and losing its
    online store); each needs a new version instead."""

    @property
    def is_additive(self) -> bool:
        """True when the change only adds features (or changes nothing)."""
        return not self.problems


def schema_change(old: FeatureGroupDefinition, new: FeatureGroupDefinition) -> SchemaChange:
    """Compare two definitions of the same group version.

    SageMaker can add features to a live group (UpdateFeatureGroup ``FeatureAdditions``) but can
    neither remove, rename nor retype one, nor change the record identifier or event time: those
    replace the group, which deletes its online store and orphans its offline data. They are
    returned as problems, each saying what to do instead.
    """
    where = f"feature group '{new.name}' v{new.version}"
    bump = f"add version {new.version + 1} of '{new.name}' with the new schema instead"
    problems = []
    if (old.name, old.version) != (new.name, new.version):
        problems.append(f"{where} is compared with '{old.name}' v{old.version}")
    for role in ("record_identifier", "event_time"):
        before, after = getattr(old, role), getattr(new, role)
        if before != after:
            problems.append(f"{where}: {role} changed from '{before}' to '{after}'; {bump}")
    new_types = {feature.name: feature.type for feature in new.features}
    for feature in old.features:
        if feature.name not in new_types:
            problems.append(f"{where}: feature '{feature.name}' was removed; {bump}")
        elif new_types[feature.name] != feature.type:
            problems.append(
                f"{where}: feature '{feature.name}' changed type from {feature.type} to "
                f"{new_types[feature.name]}; {bump}"
            )
    old_names = set(old.feature_names)
    additions = tuple(feature for feature in new.features if feature.name not in old_names)
    return SchemaChange(additions=additions, problems=tuple(problems))


def definitions_from_config(section: Mapping[str, Any]) -> dict[str, FeatureGroupDefinition]:
    """Every group version of an ``ml-platform:feature_store`` section.

    Keyed ``name`` for the newest version of each group and ``name@vN`` for every version.
    """
    found: dict[str, FeatureGroupDefinition] = {}
    for item in section.get("groups", ()):
        definition = FeatureGroupDefinition.from_mapping(item)
        found[f"{definition.name}@v{definition.version}"] = definition
        newest = found.get(definition.name)
        if newest is None or newest.version < definition.version:
            found[definition.name] = definition
    return found


def load_definitions(stack_file: str | Any) -> dict[str, FeatureGroupDefinition]:
    """The feature groups a stack file (``Pulumi.<stack>.yaml``) defines.

    Keys are group names (newest version) and ``name@vN`` (each version). Reads the file with
    PyYAML, imported here so the rest of this module stays standard library only.
    """
    import yaml

    with open(stack_file, encoding="utf-8") as handle:
        document = yaml.safe_load(handle) or {}
    section = (document.get("config") or {}).get("ml-platform:feature_store") or {}
    return definitions_from_config(section)
