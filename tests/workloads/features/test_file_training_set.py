"""Point-in-time training sets from files: several feature files, typing, and refusals."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workloads.features.file_training_set import (
    FeatureFile,
    TrainingSetError,
    definition_of,
    training_set_from_files,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def entities(tmp_path: Path) -> Path:
    return write(
        tmp_path / "entities.csv",
        "customer_id,product_id,event_time\n"
        "1001,p-1,2024-02-01T00:00:00Z\n"
        "1002,p-2,2024-02-01T00:00:00Z\n",
    )


def test_each_feature_file_joins_on_its_own_key(entities: Path, tmp_path: Path) -> None:
    # given customer history keyed by number and product history keyed by text
    customers = write(
        tmp_path / "customers.csv",
        "customer_id,updated,orders\n1001,2024-01-01T00:00:00Z,3\n1002,2024-03-01T00:00:00Z,9\n",
    )
    products = pd.DataFrame(
        {"product_id": ["p-1", "p-2"], "day": [1704067200.0, 1704067200.0], "price": [9.5, 20.0]}
    )
    products.to_parquet(tmp_path / "products.parquet")
    out = tmp_path / "out.parquet"
    # when
    result = training_set_from_files(
        entities,
        [
            FeatureFile(customers, "customer_id", "updated"),
            FeatureFile(tmp_path / "products.parquet", "product_id", "day"),
        ],
        out,
    )
    # then
    written = pd.read_parquet(out)
    assert result.rows == 2
    assert result.columns == ["customer_id", "product_id", "event_time", "orders", "price"]
    assert result.matched == {str(customers): 1, str(tmp_path / "products.parquet"): 2}
    assert written["orders"].tolist()[0] == 3 and pd.isna(written["orders"].tolist()[1])
    assert written["price"].tolist() == [9.5, 20.0]


def test_text_keys_match_numeric_ones(entities: Path, tmp_path: Path) -> None:
    # given feature records keyed by the text "1001"
    pd.DataFrame(
        {"customer_id": ["1001"], "event_time": ["2024-01-01T00:00:00Z"], "segment": ["gold"]}
    ).to_parquet(tmp_path / "segments.parquet")
    # when
    result = training_set_from_files(
        entities,
        [FeatureFile(tmp_path / "segments.parquet", "customer_id", "event_time")],
        tmp_path / "out.csv",
    )
    # then
    assert result.matched == {str(tmp_path / "segments.parquet"): 1}


def test_a_deleted_record_gives_nulls(entities: Path, tmp_path: Path) -> None:
    # given an offline-store export where 1001's latest record is a deletion
    store = write(
        tmp_path / "store.csv",
        "customer_id,event_time,orders,is_deleted\n"
        "1001,2024-01-01T00:00:00Z,3,false\n"
        "1001,2024-01-15T00:00:00Z,3,true\n",
    )
    # when
    result = training_set_from_files(
        entities, [FeatureFile(store, "customer_id", "event_time")], tmp_path / "out.csv"
    )
    # then: is_deleted is not a feature, and the deletion wins
    assert result.columns == ["customer_id", "product_id", "event_time", "orders"]
    assert result.matched == {str(store): 0}


def test_a_feature_already_in_the_entities_is_refused_before_writing(
    entities: Path, tmp_path: Path
) -> None:
    # given a feature file with a column named like an entity column
    clash = write(
        tmp_path / "clash.csv",
        "customer_id,updated,product_id\n1001,2024-01-01T00:00:00Z,p-9\n",
    )
    # when
    with pytest.raises(TrainingSetError) as error:
        training_set_from_files(
            entities, [FeatureFile(clash, "customer_id", "updated")], tmp_path / "out.csv"
        )
    # then
    assert str(error.value) == (
        f"feature file '{clash}': column(s) ['product_id'] are already in the entity file or an "
        "earlier feature file; rename them"
    )
    assert not (tmp_path / "out.csv").exists()


def test_a_column_sagemaker_could_not_name_is_refused(tmp_path: Path) -> None:
    # given
    frame = pd.DataFrame({"id": ["a"], "t": [1.0], "monthly charges": [2.0]})
    # when
    with pytest.raises(TrainingSetError) as error:
        definition_of(frame, FeatureFile(tmp_path / "f.csv", "id", "t"))
    # then
    assert str(error.value).startswith(f"feature file '{tmp_path / 'f.csv'}': ")
    assert "monthly charges" in str(error.value)


def test_features_are_typed_from_the_file(tmp_path: Path) -> None:
    # given
    frame = pd.DataFrame(
        {"id": [1], "t": ["2024-01-01"], "n": [2], "x": [0.5], "s": ["a"], "write_time": [1.0]}
    )
    # when
    definition = definition_of(frame, FeatureFile(tmp_path / "2024 Customers.csv", "id", "t"))
    # then
    assert [(f.name, f.type) for f in definition.features] == [
        ("id", "Integral"),
        ("t", "String"),
        ("n", "Integral"),
        ("x", "Fractional"),
        ("s", "String"),
    ]
    assert definition.name == "f_2024_customers"
