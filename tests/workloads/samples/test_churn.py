"""The shipped churn sample: reproducible from its seed, with text columns and a learnable label."""

from __future__ import annotations

import csv
from pathlib import Path

from workloads.samples import churn


def test_the_shipped_files_are_the_generators_output(tmp_path: Path) -> None:
    # given the generator run again with the shipped seeds
    train = churn.write_csv(tmp_path / "train.csv", churn.TRAIN_ROWS, churn.TRAIN_SEED)
    test = churn.write_csv(tmp_path / "test.csv", churn.TEST_ROWS, churn.TEST_SEED)
    # then the files are byte for byte the shipped ones
    assert train.read_bytes() == churn.TRAIN_FILE.read_bytes()
    assert test.read_bytes() == churn.TEST_FILE.read_bytes()


def test_rows_have_every_feature_text_columns_and_both_labels() -> None:
    # when
    rows = churn.rows(500, seed=1)
    # then
    assert all(list(row) == [*churn.FEATURES, churn.LABEL] for row in rows)
    assert {row["contract"] for row in rows} == set(churn.CONTRACTS)
    assert {row["payment_method"] for row in rows} == set(churn.PAYMENT_METHODS)
    assert {row[churn.LABEL] for row in rows} == {0, 1}


def test_month_to_month_customers_churn_more() -> None:
    # given
    rows = churn.rows(2000, seed=2)

    def churn_rate(contract: str) -> float:
        chosen = [row[churn.LABEL] for row in rows if row["contract"] == contract]
        return sum(chosen) / len(chosen)

    # then the label depends on the features (a model has something to learn)
    assert churn_rate("month-to-month") > 2 * churn_rate("two-year")


def test_drift_shifts_charges_and_the_contract_mix() -> None:
    # given
    base, drifted = churn.rows(2000, seed=3), churn.rows(2000, seed=3, drift=True)

    def mean_charges(rows: list) -> float:
        return sum(row["monthly_charges"] for row in rows) / len(rows)

    def monthly_share(rows: list) -> float:
        return sum(row["contract"] == "month-to-month" for row in rows) / len(rows)

    # then
    assert mean_charges(drifted) > mean_charges(base) + 15
    assert monthly_share(drifted) > monthly_share(base) + 0.2


def test_feature_line_is_the_csv_a_client_sends() -> None:
    # given
    row = churn.rows(1, seed=4)[0]
    # when
    line = churn.feature_line(row)
    # then it parses back to the features in order, without the label
    assert next(csv.reader([line])) == [str(row[name]) for name in churn.FEATURES]
