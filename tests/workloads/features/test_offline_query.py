"""training_set_sql: the Athena query, run in DuckDB, gives what point_in_time_join gives."""

from __future__ import annotations

import datetime
import itertools

import duckdb
import pandas as pd
import pytest

from tests.workloads.features.test_point_in_time import (
    ENTITY_ROWS,
    HISTORY,
    customers,
    entities,
    records,
)
from workloads.features.offline_query import training_set_sql
from workloads.features.point_in_time import point_in_time_join

# Athena's (Trino's) two conversions, which DuckDB lacks under these names: the same meaning
# (text with an offset -> instant; epoch seconds -> instant), so the query text runs unchanged.
ATHENA_FUNCTIONS = (
    "CREATE MACRO from_iso8601_timestamp(text) AS CAST(text AS TIMESTAMPTZ)",
    "CREATE MACRO from_unixtime(seconds) AS to_timestamp(seconds)",
)


def offline_store(history: pd.DataFrame, given: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    """A DuckDB with the group's table and the entity table in a 'feature_store' database."""
    connection = duckdb.connect()
    for statement in ATHENA_FUNCTIONS:
        connection.execute(statement)
    connection.execute("CREATE SCHEMA feature_store")
    connection.register("history_frame", history)
    connection.register("entity_frame", given)
    connection.execute("CREATE TABLE feature_store.customers_v1 AS SELECT * FROM history_frame")
    connection.execute("CREATE TABLE feature_store.entity_rows AS SELECT * FROM entity_frame")
    return connection


@pytest.mark.parametrize(
    ("event_time_type", "respect_write_time", "max_age", "include_event_time"),
    list(
        itertools.product(
            ["String", "Fractional"],
            [False, True],
            [None, datetime.timedelta(hours=2)],
            [False, True],
        )
    ),
)
def test_the_query_gives_what_the_pandas_join_gives(
    event_time_type: str,
    respect_write_time: bool,
    max_age: datetime.timedelta | None,
    include_event_time: bool,
) -> None:
    # given the history with ties, late data, a delete, and entities with and without history
    history, given = records(HISTORY, event_time_type), entities(ENTITY_ROWS)
    options = {
        "entity_key": "customer_id",
        "entity_time": "as_of",
        "max_age": max_age,
        "respect_write_time": respect_write_time,
        "include_event_time": include_event_time,
    }
    # when the query runs over the same data
    sql = training_set_sql(
        customers(event_time_type),
        database="feature_store",
        table="customers_v1",
        entity_table="entity_rows",
        entity_columns=["customer_id", "as_of", "label"],
        **options,
    )
    from_sql = offline_store(history, given).sql(sql).df()
    # then it equals the pandas join, ordered by key and time as the query orders it
    expected = point_in_time_join(given, history, customers(event_time_type), **options)
    expected = expected.sort_values(["customer_id", "as_of", "label"], kind="stable")
    if include_event_time:
        # Athena's timestamps are plain (UTC); pandas marks them UTC.
        column = "customers__event_time"
        expected[column] = expected[column].dt.tz_localize(None)
    # duplicates (same key and time) are in no defined order in SQL: compare by label too
    from_sql = from_sql.sort_values(["customer_id", "as_of", "label"], kind="stable")
    pd.testing.assert_frame_equal(
        from_sql.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False
    )
    assert from_sql["spend"].notna().sum() >= 4  # the comparison is not of all-null columns


def test_the_query_is_ordered_by_entity_key_and_time() -> None:
    history, given = records(HISTORY), entities(ENTITY_ROWS)
    sql = training_set_sql(
        customers(),
        database="feature_store",
        table="customers_v1",
        entity_table="entity_rows",
        entity_key="customer_id",
        entity_time="as_of",
    )
    from_sql = offline_store(history, given).sql(sql).df()
    assert list(from_sql.columns) == ["customer_id", "as_of", "spend", "visits", "tier"]
    assert list(zip(from_sql["customer_id"], from_sql["as_of"], strict=True)) == sorted(
        zip(given["customer_id"], given["as_of"], strict=True)
    )


def test_the_athena_text_reads_the_group_table_and_quotes_every_name() -> None:
    # when the query is built for an Athena database and a qualified entity table
    sql = training_set_sql(
        customers(),
        database="ml_features",
        table="customers_v1",
        entity_table="training.labels",
        entity_key="customer_id",
        entity_time="label_time",
        features=["spend"],
        max_age=datetime.timedelta(days=30),
        respect_write_time=True,
        include_event_time=True,
    )
    # then it reads both tables, converts the String event time and ranks the Athena way
    assert 'FROM "ml_features"."customers_v1"' in sql
    assert 'FROM "training"."labels"' in sql
    assert "CAST(from_iso8601_timestamp(\"event_time\") AT TIME ZONE 'UTC' AS timestamp)" in sql
    assert "INTERVAL '30' DAY" in sql
    assert 'r."write_time" <= e."label_time"' in sql
    assert (
        'ORDER BY r."__record_event_time" DESC, r."write_time" DESC NULLS LAST, '
        'r."api_invocation_time" DESC NULLS LAST' in sql
    )
    assert 'CASE WHEN r."is_deleted" THEN NULL ELSE r."spend" END AS "spend"' in sql
    assert sql.rstrip().endswith('ORDER BY "__entity_row"')
    assert '"visits"' not in sql  # only the features asked for are read


def test_a_fractional_event_time_is_converted_from_epoch_seconds() -> None:
    sql = training_set_sql(
        customers("Fractional"),
        database="ml_features",
        table="customers_v1",
        entity_table="labels",
        entity_key="customer_id",
        entity_time="label_time",
    )
    assert "CAST(from_unixtime(\"event_time\") AT TIME ZONE 'UTC' AS timestamp)" in sql
    assert "from_iso8601_timestamp" not in sql
    assert 'FROM "ml_features"."labels"' in sql  # an unqualified entity table is in the database


@pytest.mark.parametrize(
    ("seconds", "literal"),
    [(90 * 60, "INTERVAL '90' MINUTE"), (7200, "INTERVAL '2' HOUR"), (61, "INTERVAL '61' SECOND")],
)
def test_max_age_is_written_in_its_largest_whole_unit(seconds: int, literal: str) -> None:
    sql = training_set_sql(
        customers(),
        database="db",
        table="t",
        entity_table="e",
        entity_key="customer_id",
        entity_time="at",
        max_age=datetime.timedelta(seconds=seconds),
    )
    assert f'e."at" - {literal}' in sql


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"table": 'customers_v1"; DROP TABLE x; --'},
            "table 'customers_v1\"; DROP TABLE x; --' is not a plain identifier (letters, digits and '_', not starting with a digit)",
        ),
        (
            {"database": "db name"},
            "database 'db name' is not a plain identifier (letters, digits and '_', not starting with a digit)",
        ),
        (
            {"entity_table": "a.b.c"},
            "entity_table 'a.b.c' must be 'table' or 'database.table'",
        ),
        (
            {"entity_table": "labels) UNION SELECT 1"},
            "entity_table 'labels) UNION SELECT 1' is not a plain identifier (letters, digits and '_', not starting with a digit)",
        ),
        (
            {"entity_time": "1st"},
            "entity_time '1st' is not a plain identifier (letters, digits and '_', not starting with a digit)",
        ),
        (
            {"entity_columns": ["customer_id", "label--"]},
            "entity_columns 'label--' is not a plain identifier (letters, digits and '_', not starting with a digit)",
        ),
        (
            {"entity_columns": ["customer_id", "Spend"]},
            "entity column(s) ['spend'] clash with the features; rename them",
        ),
        (
            {"max_age": datetime.timedelta(milliseconds=1500)},
            "max_age 0:00:01.500000 must be a whole number of seconds for Athena",
        ),
        ({"features": ["colour"]}, "feature group 'customers' v1 has no feature 'colour'"),
    ],
)
def test_bad_names_are_refused_before_any_sql_is_written(change: dict, message: str) -> None:
    arguments = {
        "database": "db",
        "table": "customers_v1",
        "entity_table": "labels",
        "entity_key": "customer_id",
        "entity_time": "at",
        **change,
    }
    with pytest.raises(ValueError) as raised:
        training_set_sql(customers(), **arguments)
    assert str(raised.value) == message
