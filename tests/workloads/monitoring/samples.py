"""Shared data for the monitor's tests: a small baseline and capture lines built like SageMaker's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from workloads.monitoring import contract
from workloads.monitoring.baseline import Baseline, build_baseline
from workloads.monitoring.cli import main

#: The features of the sample endpoint, in the order CSV requests list them.
FEATURES = ("amount", "items", "channel")

CHANNELS = ("web", "app", "store")


def training_table(rows: int = 5_000, seed: int = 0) -> dict[str, object]:
    """A training table: two numeric inputs, one categorical, the label and the model's score."""
    rng = np.random.default_rng(seed)
    amount = rng.normal(100.0, 15.0, rows)
    amount[rng.choice(rows, rows // 50, replace=False)] = np.nan  # 2% missing
    return {
        "amount": amount,
        "items": rng.integers(1, 10, rows).astype(np.float64),
        "channel": rng.choice(CHANNELS, rows, p=[0.5, 0.3, 0.2]).tolist(),
        "label": rng.integers(0, 2, rows).astype(np.float64),
        "score": rng.beta(2, 5, rows),
    }


def sample_baseline(rows: int = 5_000) -> Baseline:
    """The baseline of :func:`training_table`."""
    return build_baseline(training_table(rows), exclude=["label"], prediction="score")


def capture_line(
    row: str | list[object] | dict[str, object],
    prediction: object = 0.3,
    *,
    time: str = "2026-11-22T10:15:00Z",
    output: str | None = None,
) -> str:
    """One capture record: a CSV request when ``row`` is a string, JSON otherwise."""
    if isinstance(row, str):
        request = {
            "observedContentType": "text/csv",
            "mode": "INPUT",
            "data": row,
            "encoding": "CSV",
        }
    else:
        request = {
            "observedContentType": "application/json",
            "mode": "INPUT",
            "data": json.dumps(row),
            "encoding": "JSON",
        }
    answer = output if output is not None else json.dumps({"predictions": [prediction]})
    return json.dumps(
        {
            "captureData": {
                "endpointInput": request,
                "endpointOutput": {
                    "observedContentType": "application/json",
                    "mode": "OUTPUT",
                    "data": answer,
                    "encoding": "JSON",
                },
            },
            "eventMetadata": {"eventId": "e", "inferenceTime": time},
            "eventVersion": "0",
        }
    )


def window_lines(rows: int, *, seed: int = 1, shift: float = 0.0) -> list[str]:
    """Capture lines of ``rows`` CSV requests drawn like the training data, ``amount`` shifted."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(rows):
        amount = rng.normal(100.0 + shift, 15.0)
        items = int(rng.integers(1, 10))
        channel = rng.choice(CHANNELS, p=[0.5, 0.3, 0.2])
        lines.append(capture_line(f"{amount:.4f},{items},{channel}", float(rng.beta(2, 5))))
    return lines


def write_capture(folder: Path, lines: list[str], name: str = "capture.jsonl") -> Path:
    """Write capture lines where SageMaker would (``<variant>/yyyy/mm/dd/hh/``)."""
    path = folder / "main" / "2026" / "11" / "22" / "10" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def stage_window(folder: Path, lines: list[str]) -> Path:
    """A window staged as select-window leaves it in ``folder``: the capture lines and window.json.

    The window is endpoint ``mlp-dev-shop``'s hour from 10:00 to 11:00 UTC on 2026-11-22.
    """
    write_capture(folder / "capture", lines)
    (folder / contract.WINDOW_FILE).write_text(
        json.dumps(
            {
                "endpoint": "mlp-dev-shop",
                "start": "2026-11-22T10:00:00+00:00",
                "end": "2026-11-22T11:00:00+00:00",
            }
        )
    )
    return folder


def run_check(baseline: Path, capture: Path, out: Path, *extra: str) -> int:
    """Run ``ml-platform-monitor check`` on a capture folder for endpoint ``e``; its exit status.

    ``extra`` are further options (``--fail-on-drift``, bounds, window times).
    """
    return main(
        [
            "check",
            "--baseline",
            str(baseline),
            "--capture",
            str(capture),
            "--endpoint",
            "e",
            "--out",
            str(out),
            *extra,
        ]
    )
