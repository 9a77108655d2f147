"""Point-in-time correct training sets in Athena, over a feature group's offline store.

:func:`training_set_sql` writes the Athena (Trino) query that gives the same result as
:func:`workloads.features.point_in_time.point_in_time_join`, for when the records are too many
to bring to pandas: the rules are in that module's docstring. The query reads the group's Glue
table and an entity table whose time column is a ``timestamp`` (UTC).

Two differences from pandas come from SQL itself: tables have no row order, so the output is
ordered by (entity key, entity time), and records equal on event, write and api-invocation
time (which the offline store does not produce) tie in no defined order.

Every name is double-quoted; names that come from the caller (database, tables, entity
columns) must match a strict identifier pattern first, so a name cannot inject SQL.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence

from workloads.features.definitions import FRACTIONAL, OFFLINE_STORE_COLUMNS, FeatureGroupDefinition
from workloads.features.point_in_time import event_time_column, selected_features

WRITE_TIME, API_INVOCATION_TIME, IS_DELETED = OFFLINE_STORE_COLUMNS
# Glue database, table and column names: letters, digits and '_' (Athena lower-cases them).
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
# Internal column names; the double underscore keeps them apart from user columns.
_ROW, _KEY, _EVENT, _RANK = "__entity_row", "__record_key", "__record_event_time", "__rank"
_INTERVAL_UNITS = (("DAY", 86_400), ("HOUR", 3_600), ("MINUTE", 60), ("SECOND", 1))


def training_set_sql(
    definition: FeatureGroupDefinition,
    *,
    database: str,
    table: str,
    entity_table: str,
    entity_key: str,
    entity_time: str,
    entity_columns: Sequence[str] | None = None,
    features: Sequence[str] | None = None,
    max_age: datetime.timedelta | None = None,
    respect_write_time: bool = False,
    include_event_time: bool = False,
) -> str:
    """The Athena query for a point-in-time correct training set.

    ``database``.``table`` is the group's offline-store table (``definition.table_name`` for
    tables this platform creates); ``entity_table`` is ``table`` or ``database.table``, in
    ``database`` when unqualified. The output has ``entity_columns`` (default: the key and the
    time; SQL cannot select "every column but one"), then ``features`` (default: every value
    feature), then ``<group>__event_time`` with ``include_event_time``, one row per entity row,
    ordered by entity key and time. ``max_age`` must be a whole number of seconds and is written
    in its largest whole unit. ``ValueError`` for a bad identifier, an unknown feature, or a
    feature named like an entity column.
    """
    for role, name in (
        ("database", database),
        ("table", table),
        ("entity_key", entity_key),
        ("entity_time", entity_time),
    ):
        _check_identifier(role, name)
    entity_parts = entity_table.split(".")
    if len(entity_parts) > 2:
        raise ValueError(f"entity_table {entity_table!r} must be 'table' or 'database.table'")
    for part in entity_parts:
        _check_identifier("entity_table", part)
    entity_source = ".".join(_quote(part) for part in [database, *entity_parts][-2:])
    passed = list(entity_columns) if entity_columns is not None else [entity_key, entity_time]
    for name in passed:
        _check_identifier("entity_columns", name)
    names = selected_features(definition, features)
    added = [*names, event_time_column(definition)] if include_event_time else names
    # Athena column names ignore case, so 'Spend' and 'spend' would collide.
    taken = {name.lower() for name in passed}
    clashes = [name for name in added if name.lower() in taken]
    if clashes:
        raise ValueError(f"entity column(s) {clashes} clash with the features; rename them")

    key, time = _quote(entity_key), _quote(entity_time)
    conditions = [f"r.{_quote(_KEY)} = e.{key}", f"r.{_quote(_EVENT)} <= e.{time}"]
    if max_age is not None:
        conditions.append(f"r.{_quote(_EVENT)} >= e.{time} - {_interval(max_age)}")
    if respect_write_time:
        conditions.append(f"r.{_quote(WRITE_TIME)} <= e.{time}")
    deleted = f"r.{_quote(IS_DELETED)}"
    outputs = [f"e.{_quote(name)}" for name in passed]
    outputs += [
        f"CASE WHEN {deleted} THEN NULL ELSE r.{_quote(name)} END AS {_quote(name)}"
        for name in names
    ]
    if include_event_time:
        outputs.append(
            f"CASE WHEN {deleted} THEN NULL ELSE r.{_quote(_EVENT)} END AS {_quote(added[-1])}"
        )
    record_columns = [
        f"{_quote(definition.record_identifier)} AS {_quote(_KEY)}",
        f"{_event_time_expression(definition)} AS {_quote(_EVENT)}",
        *(_quote(name) for name in (*OFFLINE_STORE_COLUMNS, *names)),
    ]
    ranking = ", ".join(
        [
            f"r.{_quote(_EVENT)} DESC",
            f"r.{_quote(WRITE_TIME)} DESC NULLS LAST",
            f"r.{_quote(API_INVOCATION_TIME)} DESC NULLS LAST",
        ]
    )
    newline = "\n"
    return f"""WITH entities AS (
  SELECT {", ".join(_quote(name) for name in dict.fromkeys([*passed, entity_key, entity_time]))},
    ROW_NUMBER() OVER (ORDER BY {key}, {time}) AS {_quote(_ROW)}
  FROM {entity_source}
),
records AS (
  SELECT {", ".join(record_columns)}
  FROM {_quote(database)}.{_quote(table)}
),
ranked AS (
  SELECT e.{_quote(_ROW)}, {", ".join(outputs)},
    ROW_NUMBER() OVER (PARTITION BY e.{_quote(_ROW)} ORDER BY {ranking}) AS {_quote(_RANK)}
  FROM entities e
  LEFT JOIN records r
    ON {f"{newline}    AND ".join(conditions)}
)
SELECT {", ".join(_quote(name) for name in [*passed, *added])}
FROM ranked
WHERE {_quote(_RANK)} = 1
ORDER BY {_quote(_ROW)}
"""


def _event_time_expression(definition: FeatureGroupDefinition) -> str:
    """The event time as a UTC ``timestamp``: ISO-8601 text or epoch seconds converted."""
    column = _quote(definition.event_time)
    if definition.type_of(definition.event_time) == FRACTIONAL:
        parsed = f"from_unixtime({column})"
    else:
        parsed = f"from_iso8601_timestamp({column})"
    # Without AT TIME ZONE the cast would keep the text's own offset's wall-clock time.
    return f"CAST({parsed} AT TIME ZONE 'UTC' AS timestamp)"


def _interval(max_age: datetime.timedelta) -> str:
    if not isinstance(max_age, datetime.timedelta) or max_age < datetime.timedelta(0):
        raise ValueError(f"max_age must be a timedelta of zero or more, not {max_age!r}")
    if max_age % datetime.timedelta(seconds=1):
        raise ValueError(f"max_age {max_age} must be a whole number of seconds for Athena")
    seconds = int(max_age.total_seconds())
    for unit, size in _INTERVAL_UNITS:
        if seconds % size == 0:
            return f"INTERVAL '{seconds // size}' {unit}"
    raise AssertionError("unreachable: every whole number of seconds is a whole SECOND")


def _check_identifier(role: str, name: str) -> None:
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ValueError(
            f"{role} {name!r} is not a plain identifier (letters, digits and '_', "
            "not starting with a digit)"
        )


def _quote(name: str) -> str:
    # Definition names are validated (letters, digits, '-', '_'); doubling '"' is belt and braces.
    return '"' + name.replace('"', '""') + '"'
