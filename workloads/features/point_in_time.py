"""Point-in-time correct training sets from a feature group's records, in pandas.

A training row (an *entity row*: a key and a time) may only see feature values that were true at
its time, never later ones: otherwise the model trains on the future and fails in production
("leakage"). :func:`point_in_time_join` gives each entity row the values of the latest record of
its key at or before its time, exactly as :func:`workloads.features.offline_query.training_set_sql`
does in Athena over the offline store.

Rules, shared with the SQL:

- A record qualifies for an entity row when its record identifier equals the entity key and its
  event time is at or before the entity time; with ``max_age`` also at or after the entity time
  minus ``max_age``; with ``respect_write_time`` also written (``write_time``) at or before the
  entity time, which leaves out late-arriving data the model could not have seen then.
- The latest qualifying record wins, by event time, then ``write_time``, then
  ``api_invocation_time`` (a missing time loses a tie). Records without the offline-store
  columns (a local frame) tie-break by row order, the later row winning; SQL has no row order, so
  frames compared with the SQL carry ``write_time``.
- When the winner has ``is_deleted`` true the record was deleted as of that time: nulls.
- No qualifying record, a null key or a null entity time: nulls. Entity rows are never dropped,
  duplicated or reordered, and keep their index.

Times become UTC instants: an event time is ISO-8601 text (``String``; an offset or ``Z``, none
meaning UTC) or epoch seconds (``Fractional``), kept to the millisecond as Athena's
``timestamp(3)`` keeps it; entity times may be datetimes (naive meaning UTC), ISO text or epoch
seconds. Unknown identifier values, null identifiers and null event times simply never match.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Sequence
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from workloads.features.definitions import (
    FRACTIONAL,
    INTEGRAL,
    OFFLINE_STORE_COLUMNS,
    FeatureGroupDefinition,
)

WRITE_TIME, API_INVOCATION_TIME, IS_DELETED = OFFLINE_STORE_COLUMNS
_MISSING = np.iinfo(np.int64).min  # a null time: below every real instant, so it loses ties
# Keys pack (code, time) into one int64 below this; wider ranges use dense ranks of the times.
_PACKED_LIMIT = 2**62


def point_in_time_join(
    entities: pd.DataFrame,
    records: pd.DataFrame,
    definition: FeatureGroupDefinition,
    *,
    entity_key: str | None = None,
    entity_time: str = "event_time",
    features: Sequence[str] | None = None,
    max_age: datetime.timedelta | None = None,
    respect_write_time: bool = False,
    include_event_time: bool = False,
) -> pd.DataFrame:
    """The entity rows with the feature values each could have seen at its time.

    ``entities`` has a key column (``entity_key``, default the group's record identifier) and a
    time column (``entity_time``); its other columns pass through. ``records`` holds the group's
    records as the offline store does (see the module docstring for the rules). Returns the
    entity rows in their order and with their index, plus the ``features`` asked for (default:
    every value feature of the group) as nullable ``Int64`` (Integral), ``float64``
    (Fractional) or text (String), plus ``<group>__event_time`` (UTC) with
    ``include_event_time``. A feature named like an entity column is a ``ValueError``: rename
    the entity column (no silent suffixes).
    """
    entity_key = entity_key or definition.record_identifier
    names = selected_features(definition, features)
    added = [*names, event_time_column(definition)] if include_event_time else names
    _require(entities, "entities", (entity_key, entity_time))
    _require(records, "records", (definition.record_identifier, definition.event_time, *names))
    clashes = [name for name in added if name in entities.columns]
    if clashes:
        raise ValueError(
            f"entities already have column(s) {clashes} that the join adds; rename them"
        )
    if respect_write_time and WRITE_TIME not in records.columns:
        raise ValueError(f"records: respect_write_time needs the '{WRITE_TIME}' column")
    window = None if max_age is None else _micros_of(max_age)

    chosen, chosen_event = _latest_records(
        records,
        definition,
        keys=entities[entity_key],
        times=to_utc_micros(entities[entity_time], "entities", entity_time),
        max_age=window,
        respect_write_time=respect_write_time,
    )
    matched = chosen >= 0
    take = np.where(matched, chosen, 0)
    # Assigning arrays, not Series: no index alignment, so duplicate labels are fine.
    result = entities.copy()
    for name in names:
        result[name] = _gathered(records[name], definition.type_of(name), take, matched).array
    if include_event_time:
        stamps = chosen_event.astype("datetime64[us]")  # _MISSING is NaT's own bit pattern
        result[added[-1]] = pd.Series(stamps).dt.tz_localize("UTC").array
    return result


def selected_features(
    definition: FeatureGroupDefinition, features: Sequence[str] | None = None
) -> list[str]:
    """The value features asked for, checked: all value features when ``features`` is None."""
    if features is None:
        return [feature.name for feature in definition.value_features]
    if isinstance(features, str):
        raise ValueError(f"features must be a list of names, not the string {features!r}")
    names = list(features)
    keys = (definition.record_identifier, definition.event_time)
    for name in names:
        if name not in definition.feature_names:
            raise ValueError(
                f"feature group '{definition.name}' v{definition.version} has no feature '{name}'"
            )
        if name in keys:
            raise ValueError(
                f"'{name}' is the group's record identifier or event time, not a value feature "
                "(the key is the entity key; use include_event_time for the event time)"
            )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"features {duplicates} are asked for more than once")
    return names


def event_time_column(definition: FeatureGroupDefinition) -> str:
    """The name of the matched record's event time column: ``<group name>__event_time``."""
    return f"{definition.name}__event_time"


def to_utc_micros(values: pd.Series, frame: str, column: str) -> np.ndarray:
    """Microseconds since the epoch (UTC) of datetimes, ISO-8601 text or epoch seconds.

    A naive datetime or text without an offset is UTC; a null becomes the int64 minimum.
    Anything else is a ``ValueError`` naming ``frame``, ``column``, the row and the value.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values):
        stamps = (
            values if isinstance(values.dtype, pd.DatetimeTZDtype) else values.dt.tz_localize("UTC")
        )
        return _datetimes_to_micros(stamps)
    if pd.api.types.is_bool_dtype(values):
        raise ValueError(f"{frame}: column '{column}' holds booleans, not timestamps")
    if pd.api.types.is_numeric_dtype(values):
        seconds = values.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(seconds) & ~np.isnan(seconds)
        if bad.any():
            _raise_bad(values, bad, frame, column, "is not a finite number of epoch seconds")
        micros = np.full(len(seconds), _MISSING, dtype=np.int64)
        present = ~np.isnan(seconds)
        micros[present] = np.round(seconds[present] * 1e6).astype(np.int64)
        return micros
    parsed = pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")
    bad = (parsed.isna() & values.notna()).to_numpy()
    if bad.any():
        _raise_bad(values, bad, frame, column, "is not an ISO-8601 timestamp")
    return _datetimes_to_micros(parsed)


def read_offline_records(
    paths: str | PathLike[str] | Iterable[str | PathLike[str]],
    *,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """A feature group's records from offline-store Parquet files or directories.

    A directory is read recursively (the store's ``data/year=/month=/day=/hour=/`` layout); the
    partition directories do not become columns, and files starting with ``.`` or ``_`` are
    skipped. With ``columns`` only those are read (see :func:`record_columns`); one missing is a
    ``ValueError`` naming it. An Iceberg-format store's folder also holds data files that later
    commits replaced: read those through Athena (:mod:`workloads.features.offline_query`).
    """
    import pyarrow.dataset as ds

    if isinstance(paths, (str, PathLike)):
        paths = [paths]
    sources = [Path(path) for path in paths]
    missing_paths = [str(path) for path in sources if not path.exists()]
    if missing_paths:
        raise ValueError(f"offline records: {missing_paths} do not exist")
    files = [str(file) for source in sources for file in _parquet_files(source)]
    if not files:
        raise ValueError(f"offline records: no .parquet files in {[str(s) for s in sources]}")
    # A list of files, not directories: no partition columns (year=, month=...) are added.
    dataset = ds.dataset(files, format="parquet")
    if columns is not None:
        absent = [name for name in columns if name not in dataset.schema.names]
        if absent:
            raise ValueError(
                f"offline records: column(s) {absent} are not in the files "
                f"(they have {dataset.schema.names})"
            )
    return dataset.to_table(columns=None if columns is None else list(columns)).to_pandas()


def record_columns(
    definition: FeatureGroupDefinition, features: Sequence[str] | None = None
) -> list[str]:
    """The offline-store columns a join of ``features`` reads.

    The identifier, the event time, the features and the three columns the offline store adds.
    """
    return [
        definition.record_identifier,
        definition.event_time,
        *selected_features(definition, features),
        *OFFLINE_STORE_COLUMNS,
    ]


def _parquet_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    # Hidden and '_' files and folders (_SUCCESS, .crc, _temporary) are not data.
    return sorted(
        path
        for path in source.rglob("*.parquet")
        if not any(part.startswith((".", "_")) for part in path.relative_to(source).parts)
    )


def _latest_records(
    records: pd.DataFrame,
    definition: FeatureGroupDefinition,
    *,
    keys: pd.Series,
    times: np.ndarray,
    max_age: int | None,
    respect_write_time: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Each entity's winning record: its position in ``records`` (-1: nulls) and event time.

    The event time is in microseconds, the int64 minimum where there is no winner.

    Sort + binary search, never a key merge: records are sorted once by (key, event time) with
    ties put in (write time, api time, row) order, so the last record at or before a time is the
    winner; each entity is then one binary search for (its key, its time). With
    ``respect_write_time`` a record is available from the later of its event and write time;
    records are sorted a second time by (key, availability), and a running maximum of their
    place in the first order gives, at each point, the winner among all available by then.
    """
    codes, uniques = pd.factorize(records[definition.record_identifier])
    event = to_utc_micros(records[definition.event_time], "records", definition.event_time)
    event_ms = np.where(event != _MISSING, event // 1000, _MISSING)
    del event
    usable = (codes >= 0) & (event_ms != _MISSING)
    if respect_write_time:
        write = _optional_times(records, WRITE_TIME)
        usable &= write != _MISSING
    kept = np.flatnonzero(usable)
    if len(kept) < len(usable):
        codes, event_ms = codes[kept], event_ms[kept]
        if respect_write_time:
            write = write[kept]
    chosen = np.full(len(keys), -1, dtype=np.int64)
    chosen_event = np.full(len(keys), _MISSING, dtype=np.int64)
    if len(kept) == 0:
        return chosen, chosen_event
    codes = codes.astype(np.int64)

    entity_codes = uniques.get_indexer(pd.Index(keys)).astype(np.int64)
    asked = np.flatnonzero((entity_codes >= 0) & (times != _MISSING))
    entity_codes, entity_times = entity_codes[asked], times[asked]

    def tie_breakers(members: np.ndarray) -> list[np.ndarray]:
        # Only records tied on (key, event time) need these: converted for those alone.
        rows = records.iloc[kept[members]]
        return [_optional_times(rows, WRITE_TIME), _optional_times(rows, API_INVOCATION_TIME)]

    latest, sorted_key, stride, probe_times = _order_by_key_and_time(codes, event_ms, tie_breakers)
    if respect_write_time:
        place = np.empty(len(latest), dtype=np.int64)
        place[latest] = np.arange(len(latest))
        available = np.maximum(event_ms * 1000, write)
        by_available, sorted_key, stride, probe_times = _order_by_key_and_time(
            codes, available, lambda members: []
        )
        # Places in `latest` ascend with the key, so the running maximum stays inside a key.
        best = latest[np.maximum.accumulate(place[by_available])]
        probes = entity_codes * stride + probe_times(entity_times)
    else:
        best = latest
        probes = entity_codes * stride + probe_times(entity_times // 1000)  # event times are ms

    # Probing in ascending order lets each binary search start where the previous one ended.
    probe_order = np.argsort(probes)
    position = np.empty(len(probes), dtype=np.int64)
    position[probe_order] = np.searchsorted(sorted_key, probes[probe_order], "right") - 1
    safe = np.maximum(position, 0)
    found = (position >= 0) & (sorted_key[safe] // stride == entity_codes)
    winner = best[safe]
    winner_event = event_ms[winner] * 1000
    if max_age is not None:
        # The winner has the latest event time of all qualifying records: if it is too old,
        # every other one is too.
        found &= winner_event >= entity_times - max_age
    if IS_DELETED in records.columns:
        deleted = records[IS_DELETED].to_numpy(dtype=bool, na_value=False)
        found &= ~deleted[kept[winner]]
    chosen[asked[found]] = kept[winner[found]]
    chosen_event[asked[found]] = winner_event[found]
    return chosen, chosen_event


def _order_by_key_and_time(
    codes: np.ndarray,
    times: np.ndarray,
    tie_breakers: Callable[[np.ndarray], list[np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, int, Callable[[np.ndarray], np.ndarray]]:
    """Positions sorted by (code, time, *tie_breakers, position), and how to probe them.

    ``tie_breakers(positions)`` gives the tie-breaking columns, most significant first, of the
    records at those positions.

    Returns the order, the sorted one-int64 keys ``code * stride + scaled time``, the stride,
    and the function turning probe times into scaled times (the last scaled time at or before
    each, -1 for none) so that ``code * stride + probe_times(t)`` finds the last record of the
    code at or before ``t`` with one ``searchsorted(..., "right") - 1``.
    """
    low, high = int(times.min()), int(times.max())
    span = high - low + 1
    if (int(codes.max()) + 1) * span < _PACKED_LIMIT:
        scaled = times - low

        def probe_times(probe: np.ndarray) -> np.ndarray:
            return np.clip(probe - low, -1, span - 1)

        stride = span
    else:
        # Too wide a range for one int64 with the code: dense ranks of the times instead.
        distinct = np.sort(times)
        distinct = distinct[np.concatenate(([True], distinct[1:] != distinct[:-1]))]
        scaled = np.searchsorted(distinct, times)

        def probe_times(probe: np.ndarray) -> np.ndarray:
            return np.searchsorted(distinct, probe, "right") - 1

        stride = len(distinct)
    key = codes * stride + scaled
    order = np.argsort(key)  # not stable: records with equal keys are ordered below
    sorted_key = key[order]
    tied = sorted_key[1:] == sorted_key[:-1]
    if tied.any():
        in_tie = np.zeros(len(key), dtype=bool)
        in_tie[1:] |= tied
        in_tie[:-1] |= tied
        spots = np.flatnonzero(in_tie)
        members = order[spots]
        # lexsort: the last key is the primary one; the row position breaks full ties.
        columns = [members, *reversed(tie_breakers(members))]
        order[spots] = members[np.lexsort((*columns, sorted_key[spots]))]
    return order, sorted_key, stride, probe_times


def _gathered(column: pd.Series, kind: str, take: np.ndarray, matched: np.ndarray) -> pd.Series:
    """``column`` at ``take``, null where not ``matched``, in the dtype of the feature type."""
    if len(column) == 0:
        values = pd.Series([None] * len(take), dtype=object)
    else:
        values = pd.Series(column.array.take(take))
    if kind == INTEGRAL:
        values = values.astype("Int64")
    elif kind == FRACTIONAL:
        values = values.astype(np.float64)
    return values.mask(~matched)


def _optional_times(records: pd.DataFrame, column: str) -> np.ndarray:
    if column not in records.columns:
        return np.full(len(records), _MISSING, dtype=np.int64)
    return to_utc_micros(records[column], "records", column)


def _datetimes_to_micros(stamps: pd.Series) -> np.ndarray:
    naive = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return naive.to_numpy(dtype="datetime64[us]").view(np.int64)


def _micros_of(max_age: datetime.timedelta) -> int:
    if not isinstance(max_age, datetime.timedelta) or max_age < datetime.timedelta(0):
        raise ValueError(f"max_age must be a timedelta of zero or more, not {max_age!r}")
    return max_age // datetime.timedelta(microseconds=1)


def _require(frame: pd.DataFrame, what: str, columns: Iterable[str]) -> None:
    missing = [name for name in dict.fromkeys(columns) if name not in frame.columns]
    if missing:
        raise ValueError(
            f"{what}: missing column(s) {missing} (it has {[str(c) for c in frame.columns]})"
        )


def _raise_bad(values: pd.Series, bad: np.ndarray, frame: str, column: str, problem: str) -> None:
    first = int(np.flatnonzero(bad)[0])
    value = values.iloc[first]
    value = value.item() if isinstance(value, np.generic) else value  # 'inf', not 'np.float64(inf)'
    raise ValueError(f"{frame}: column '{column}' row {values.index[first]!r}: {value!r} {problem}")
