"""A churn-like customer table: numeric and text (categorical) columns and a binary label.

The shipped files (``data/churn-train.csv``, ``data/churn-test.csv``) are this module's output
for :data:`TRAIN_SEED` and :data:`TEST_SEED`; a test regenerates and compares them. Generated
with :class:`random.Random` only (its ``random()`` and ``gauss()`` streams are stable across
Python versions, unlike numpy's distribution methods), so the files are reproducible anywhere.

``drift=True`` draws the same customers as a shifted population: higher monthly charges and more
month-to-month contracts, which the drift monitor should flag (``ml-platform local traffic
--drift`` sends such rows).
"""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

#: The feature columns, in the order the files and the endpoint's CSV rows have them.
FEATURES = (
    "tenure_months",
    "monthly_charges",
    "support_calls",
    "contract",
    "payment_method",
)
#: The label column: 1 if the customer left.
LABEL = "churned"
#: The text columns among :data:`FEATURES`.
CATEGORICAL = ("contract", "payment_method")
CONTRACTS = ("month-to-month", "one-year", "two-year")
PAYMENT_METHODS = ("card", "bank-transfer", "electronic-check")
TRAIN_SEED = 20261208
TEST_SEED = 20261209
TRAIN_ROWS = 2000
TEST_ROWS = 500
DATA_DIR = Path(__file__).resolve().parent / "data"
TRAIN_FILE = DATA_DIR / "churn-train.csv"
TEST_FILE = DATA_DIR / "churn-test.csv"


def rows(count: int, seed: int, *, drift: bool = False) -> list[dict[str, str | int | float]]:
    """``count`` customers drawn with ``seed``; each row has every feature and the label."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    rng = random.Random(seed)
    return [_customer(rng, drift) for _ in range(count)]


def _pick(rng: random.Random, choices: tuple[str, ...], weights: tuple[float, ...]) -> str:
    draw, total = rng.random(), 0.0
    for choice, weight in zip(choices, weights, strict=True):
        total += weight
        if draw < total:
            return choice
    return choices[-1]


def _customer(rng: random.Random, drift: bool) -> dict[str, str | int | float]:
    contract_mix = (0.75, 0.15, 0.10) if drift else (0.45, 0.30, 0.25)
    contract = _pick(rng, CONTRACTS, contract_mix)
    payment = _pick(rng, PAYMENT_METHODS, (0.4, 0.35, 0.25))
    tenure = 1 + int(rng.random() * (24 if contract == "month-to-month" else 72))
    charges = min(max(rng.gauss(95.0 if drift else 70.0, 20.0), 18.0), 150.0)
    # Support calls: a rough Poisson(1.5) by inversion, from random() alone.
    calls, threshold, product = 0, math.exp(-1.5), rng.random()
    while product > threshold and calls < 9:
        calls += 1
        product *= rng.random()
    score = (
        -1.2
        + 1.6 * (contract == "month-to-month")
        - 0.9 * (contract == "two-year")
        + 0.6 * (payment == "electronic-check")
        + 0.025 * (charges - 70.0)
        - 0.04 * tenure
        + 0.45 * calls
    )
    churned = int(rng.random() < 1.0 / (1.0 + math.exp(-score)))
    return {
        "tenure_months": tenure,
        "monthly_charges": round(charges, 2),
        "support_calls": calls,
        "contract": contract,
        "payment_method": payment,
        LABEL: churned,
    }


def write_csv(path: str | Path, count: int, seed: int, *, drift: bool = False) -> Path:
    """Write :func:`rows` to ``path`` as CSV with a header (features, then the label)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*FEATURES, LABEL], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows(count, seed, drift=drift))
    return path


def feature_line(row: dict[str, str | int | float]) -> str:
    """A row's features as one CSV line, the way a client sends it to the endpoint."""
    return ",".join(str(row[name]) for name in FEATURES)


def main() -> None:
    """Regenerate the shipped files (``python -m workloads.samples.churn``)."""
    write_csv(TRAIN_FILE, TRAIN_ROWS, TRAIN_SEED)
    write_csv(TEST_FILE, TEST_ROWS, TEST_SEED)
    print(f"wrote {TRAIN_FILE} ({TRAIN_ROWS} rows) and {TEST_FILE} ({TEST_ROWS} rows)")


if __name__ == "__main__":
    main()
