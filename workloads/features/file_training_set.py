"""Point-in-time training sets from files: an entity table joined with feature tables.

The files' counterpart of :func:`workloads.features.point_in_time.point_in_time_join`, for
feature history kept in CSV or Parquet files rather than a deployed feature group
(``ml-platform features training-set``). Each feature file names its key column and its event
time column; its other columns are its features, typed from the file (integers Integral, other
numbers Fractional, the rest String). The offline store's own columns (``write_time``,
``api_invocation_time``, ``is_deleted``), when a file has them, break ties and mark deletions as
they do in the store; they are not features. Every entity row gets, from each feature file, the
values of the latest record of its key at or before its time (within ``max_age`` when given).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from workloads.atomic_files import write_atomically
from workloads.features.definitions import (
    FRACTIONAL,
    INTEGRAL,
    OFFLINE_STORE_COLUMNS,
    STRING,
    DefinitionError,
    Feature,
    FeatureGroupDefinition,
)
from workloads.features.point_in_time import point_in_time_join

#: File suffixes read and written, and their format.
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class TrainingSetError(ValueError):
    """A file, column or option the join cannot use; the message names it in one line."""


@dataclass(frozen=True)
class FeatureFile:
    """One feature table: where it is, and which of its columns are the key and event time."""

    path: Path
    """A .csv or .parquet file of records."""
    key: str
    """The key column; entity rows are matched on their column of the same name."""
    event_time: str
    """When each record's values became true: ISO-8601 text, epoch seconds or timestamps."""


@dataclass(frozen=True)
class TrainingSetResult:
    """What :func:`training_set_from_files` wrote."""

    output: Path
    """The file written."""
    rows: int
    """Entity rows written (always as many as the entity table has)."""
    columns: list[str]
    """The output's columns: the entity table's, then each feature file's features."""
    matched: dict[str, int]
    """Per feature file (its path as given), the entity rows that found a record in it."""


def read_table(path: Path, what: str) -> pd.DataFrame:
    """A CSV or Parquet file as a frame; a missing or unreadable file is a TrainingSetError."""
    kind = _format_of(path, what)
    if not path.is_file():
        raise TrainingSetError(f"{what} '{path}' not found")
    try:
        if kind == "csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        problem = " ".join(str(error).split())
        raise TrainingSetError(f"{what} '{path}' cannot be read as {kind}: {problem}") from error


def definition_of(frame: pd.DataFrame, feature_file: FeatureFile) -> FeatureGroupDefinition:
    """A feature-group definition of ``frame``: its key, its event time, its other columns."""
    _require(
        frame, f"feature file '{feature_file.path}'", (feature_file.key, feature_file.event_time)
    )
    time_type = (
        FRACTIONAL if pd.api.types.is_numeric_dtype(frame[feature_file.event_time]) else STRING
    )
    features = [
        Feature(feature_file.key, _key_type(frame[feature_file.key])),
        Feature(feature_file.event_time, time_type),
    ]
    features += [
        Feature(str(column), _value_type(frame[column]))
        for column in frame.columns
        if column not in (feature_file.key, feature_file.event_time, *OFFLINE_STORE_COLUMNS)
    ]
    try:
        return FeatureGroupDefinition(
            name=_group_name(feature_file.path),
            record_identifier=feature_file.key,
            event_time=feature_file.event_time,
            features=tuple(features),
        )
    except DefinitionError as error:
        problems = "; ".join(error.problems)
        raise TrainingSetError(f"feature file '{feature_file.path}': {problems}") from error


def training_set_from_files(
    entities_path: Path,
    feature_files: Sequence[FeatureFile],
    output: Path,
    *,
    entity_time: str = "event_time",
    max_age: datetime.timedelta | None = None,
) -> TrainingSetResult:
    """Join ``entities_path`` with every feature file, point in time; write ``output``.

    Every file is read and every column checked before anything is written; ``output`` is
    written whole or not at all (CSV or Parquet, by its suffix).
    """
    out_format = _format_of(output, "output")
    entities = read_table(entities_path, "entity file")
    _require(entities, f"entity file '{entities_path}'", (entity_time,))
    tables = []
    for feature_file in feature_files:
        _require(entities, f"entity file '{entities_path}'", (feature_file.key,))
        records = read_table(feature_file.path, "feature file")
        definition = definition_of(records, feature_file)
        tables.append(
            (feature_file, _comparable_keys(entities, records, feature_file.key), definition)
        )
    result = entities
    matched: dict[str, int] = {}
    for feature_file, records, definition in tables:
        names = [feature.name for feature in definition.value_features]
        clashes = [name for name in names if name in result.columns]
        if clashes:
            raise TrainingSetError(
                f"feature file '{feature_file.path}': column(s) {clashes} are already in the "
                "entity file or an earlier feature file; rename them"
            )
        try:
            joined = point_in_time_join(
                result,
                records,
                definition,
                entity_key=feature_file.key,
                entity_time=entity_time,
                max_age=max_age,
                include_event_time=True,
            )
        except ValueError as error:
            raise TrainingSetError(f"feature file '{feature_file.path}': {error}") from error
        found = joined.columns[-1]  # the matched record's event time: null where none matched
        matched[str(feature_file.path)] = int(joined[found].notna().sum())
        result = joined.drop(columns=[found])
    if out_format == "csv":
        write_atomically(output, lambda path: result.to_csv(path, index=False))
    else:
        write_atomically(output, lambda path: result.to_parquet(path, index=False))
    return TrainingSetResult(output, len(result), [str(c) for c in result.columns], matched)


def _format_of(path: Path, what: str) -> str:
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise TrainingSetError(
            f"{what} '{path}': unknown format '{path.suffix or '(none)'}' (use .csv or .parquet)"
        )
    return kind


def _require(frame: pd.DataFrame, where: str, columns: Sequence[str]) -> None:
    missing = [name for name in dict.fromkeys(columns) if name not in frame.columns]
    if missing:
        raise TrainingSetError(
            f"{where} has no column '{missing[0]}' (it has {', '.join(map(str, frame.columns))})"
        )


def _comparable_keys(entities: pd.DataFrame, records: pd.DataFrame, key: str) -> pd.DataFrame:
    """``records`` with its key as text when the entity key is text and its own is not.

    A CSV reads ``1001`` as a number and a Parquet file may hold ``"1001"``: as text on both
    sides they match, as they would in the store (a record identifier is a string there).
    """
    entity_numeric = pd.api.types.is_numeric_dtype(entities[key])
    record_numeric = pd.api.types.is_numeric_dtype(records[key])
    if entity_numeric == record_numeric:
        return records
    if record_numeric:
        return records.assign(**{key: records[key].astype("string").astype(object)})
    entities[key] = entities[key].astype("string").astype(object)
    return records


def _key_type(column: pd.Series) -> str:
    return INTEGRAL if pd.api.types.is_integer_dtype(column) else STRING


def _value_type(column: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(column):
        return STRING
    if pd.api.types.is_integer_dtype(column):
        return INTEGRAL
    if pd.api.types.is_numeric_dtype(column):
        return FRACTIONAL
    return STRING


def _group_name(path: Path) -> str:
    """A valid group name from the file name (it only names the matched-time column)."""
    name = re.sub(r"[^a-z0-9_]", "_", path.stem.lower())
    if not name[:1].isalpha():
        name = f"f_{name}"
    return name[:40]
