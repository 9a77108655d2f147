"""Regenerate the example baselines the stack files monitor (synthetic data, fixed seeds).

The dev and prod stacks monitor ``churn`` and ``fraud`` with the baselines in this folder. A real
deployment replaces them with baselines of the models' own training data::

    ml-platform-monitor baseline --data train.csv --exclude label --prediction-column score \
        --out baselines/churn

This script writes the examples from synthetic tables shaped like those models' inputs, through
the same command, so the committed files are exactly what the command produces:
``python baselines/generate_examples.py``.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import numpy as np

from workloads.monitoring.cli import main

HERE = Path(__file__).resolve().parent
ROWS = 2_000


def churn_table(rng: np.random.Generator) -> dict[str, list[object]]:
    """Customer features a churn model reads, its predicted probability, and the label."""
    tenure = rng.integers(1, 72, ROWS)
    monthly = rng.normal(65, 20, ROWS).clip(18, 120).round(2)
    contract = rng.choice(["month-to-month", "one-year", "two-year"], ROWS, p=[0.55, 0.25, 0.2])
    calls = rng.poisson(1.5, ROWS)
    total: list[object] = list((tenure * monthly).round(2))
    for index in rng.choice(ROWS, ROWS // 100, replace=False):
        total[index] = ""  # new customers without a first bill: 1% missing
    logit = -1.0 + 0.8 * (contract == "month-to-month") - 0.03 * tenure + 0.25 * calls
    score = (1 / (1 + np.exp(-logit))).round(4)
    return {
        "tenure_months": tenure.tolist(),
        "monthly_charges": monthly.tolist(),
        "total_charges": total,
        "contract": contract.tolist(),
        "support_calls": calls.tolist(),
        "score": score.tolist(),
        "churned": (rng.random(ROWS) < score).astype(int).tolist(),
    }


def fraud_table(rng: np.random.Generator) -> dict[str, list[object]]:
    """Transaction features a fraud model reads, its predicted probability, and the label."""
    amount = rng.lognormal(3.5, 1.1, ROWS).round(2)
    hour = rng.integers(0, 24, ROWS)
    merchant = rng.choice(["grocery", "travel", "online", "fuel", "dining"], ROWS)
    distance = rng.exponential(12, ROWS).round(1)
    velocity = rng.poisson(2, ROWS)
    logit = -4 + 0.5 * (merchant == "online") + 0.0008 * amount + 0.2 * velocity
    score = (1 / (1 + np.exp(-logit))).round(4)
    return {
        "amount": amount.tolist(),
        "hour_of_day": hour.tolist(),
        "merchant_category": merchant.tolist(),
        "distance_from_home_km": distance.tolist(),
        "transactions_last_hour": velocity.tolist(),
        "score": score.tolist(),
        "is_fraud": (rng.random(ROWS) < score).astype(int).tolist(),
    }


def write_csv(table: dict[str, list[object]], path: Path) -> None:
    """Write ``table`` as a CSV file with a header."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(table)
        writer.writerows(zip(*table.values(), strict=True))


def generate() -> None:
    """Write baselines/churn and baselines/fraud."""
    with tempfile.TemporaryDirectory() as scratch:
        for name, make, label in (
            ("churn", churn_table, "churned"),
            ("fraud", fraud_table, "is_fraud"),
        ):
            data = Path(scratch) / f"{name}.csv"
            write_csv(make(np.random.default_rng(7)), data)
            status = main(
                [
                    "baseline",
                    "--data",
                    str(data),
                    "--exclude",
                    label,
                    "--prediction-column",
                    "score",
                    "--out",
                    str(HERE / name),
                ]
            )
            if status:
                raise SystemExit(status)


if __name__ == "__main__":
    generate()
