"""Regenerate the example baselines the stack files monitor (synthetic data, fixed seeds).

The dev and prod stacks monitor ``churn`` and ``fraud`` with the baselines in this folder. A real
deployment replaces them with baselines of the models' own training data and model::

    ml-platform-monitor baseline --data train.csv --model model/ --out baselines/churn

``--model`` takes the model's features from the table and predicts the baseline's predictions
with the inference server's own prediction function in the model's ``default_output``, so the
baseline holds what the endpoint answers. This script does the same with synthetic tables shaped
like those models' inputs and small scikit-learn models trained on them (answering the
probability of churn and of fraud), through the same command, so the committed files are exactly
what the command produces: ``python baselines/generate_examples.py``.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import numpy as np

from workloads.model_layout import PROBABILITY, save_sklearn_model
from workloads.monitoring.cli import main

HERE = Path(__file__).resolve().parent
ROWS = 2_000

#: Contract lengths in months (a categorical feature the endpoint receives as a number).
CONTRACT_MONTHS = (1, 12, 24)


def churn_table(rng: np.random.Generator) -> dict[str, list[object]]:
    """Customer features a churn model reads (numbers, as the endpoint takes them) and the label."""
    tenure = rng.integers(1, 72, ROWS)
    monthly = rng.normal(65, 20, ROWS).clip(18, 120).round(2)
    contract = rng.choice(CONTRACT_MONTHS, ROWS, p=[0.55, 0.25, 0.2])
    calls = rng.poisson(1.5, ROWS)
    total = (tenure * monthly).round(2)
    total[rng.choice(ROWS, ROWS // 100, replace=False)] = 0.0  # new customers: no first bill yet
    logit = -1.0 + 0.8 * (contract == 1) - 0.03 * tenure + 0.25 * calls
    churned = rng.random(ROWS) < 1 / (1 + np.exp(-logit))
    return {
        "tenure_months": tenure.tolist(),
        "monthly_charges": monthly.tolist(),
        "total_charges": total.tolist(),
        "contract_months": contract.tolist(),
        "support_calls": calls.tolist(),
        "churned": churned.astype(int).tolist(),
    }


def fraud_table(rng: np.random.Generator) -> dict[str, list[object]]:
    """Transaction features a fraud model reads (merchant category as a code) and the label."""
    amount = rng.lognormal(3.5, 1.1, ROWS).round(2)
    hour = rng.integers(0, 24, ROWS)
    merchant = rng.integers(0, 5, ROWS)  # grocery, travel, online, fuel, dining
    distance = rng.exponential(12, ROWS).round(1)
    velocity = rng.poisson(2, ROWS)
    logit = -4 + 1.5 * (merchant == 2) + 0.0008 * amount + 0.4 * velocity
    fraud = rng.random(ROWS) < 1 / (1 + np.exp(-logit))
    return {
        "amount": amount.tolist(),
        "hour_of_day": hour.tolist(),
        "merchant_code": merchant.tolist(),
        "distance_from_home_km": distance.tolist(),
        "transactions_last_hour": velocity.tolist(),
        "is_fraud": fraud.astype(int).tolist(),
    }


def write_csv(table: dict[str, list[object]], path: Path) -> None:
    """Write ``table`` as a CSV file with a header."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(table)
        writer.writerows(zip(*table.values(), strict=True))


def train(table: dict[str, list[object]], label: str, model_dir: Path, name: str) -> None:
    """A scaled logistic regression on the table's features, answering probabilities."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features = [column for column in table if column != label]
    x = np.column_stack([np.asarray(table[column], dtype=np.float64) for column in features])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(x, np.asarray(table[label]))
    save_sklearn_model(model_dir, model, features, default_output=PROBABILITY, name=name)


def generate() -> None:
    """Train the example models and write baselines/churn and baselines/fraud with them."""
    with tempfile.TemporaryDirectory() as scratch:
        for name, make, label, categorical in (
            ("churn", churn_table, "churned", "contract_months"),
            ("fraud", fraud_table, "is_fraud", "merchant_code"),
        ):
            table = make(np.random.default_rng(7))
            data, model_dir = Path(scratch) / f"{name}.csv", Path(scratch) / f"{name}-model"
            write_csv(table, data)
            train(table, label, model_dir, name)
            status = main(
                [
                    "baseline",
                    "--data",
                    str(data),
                    "--model",
                    str(model_dir),
                    "--categorical",
                    categorical,
                    "--out",
                    str(HERE / name),
                ]
            )
            if status:
                raise SystemExit(status)


if __name__ == "__main__":
    generate()
