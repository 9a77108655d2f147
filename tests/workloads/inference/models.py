"""Small models trained on synthetic data, saved in our layout, shared by the inference tests.

Subprocess servers import this module too (``SlowClassifier`` is unpickled by joblib there), so it
must stay importable from the repository root as ``tests.workloads.inference.models``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from workloads.model_layout import ModelMetadata, save_model

FEATURES = ("a", "b", "c", "d")
LABELS = ("no", "yes", "maybe")
SLOW_MARKER = 1234.5
"""A row whose first value is this makes ``SlowClassifier`` sleep."""


def dataset(rows: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features and a 3-class integer target (0, 1, 2) that the features decide."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(FEATURES)))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5).astype(int)
    return x, y


def classifier_metadata(framework: str, **fields: Any) -> ModelMetadata:
    """The metadata of a classifier of :func:`dataset`: FEATURES in, LABELS out as ``answer``.

    ``fields`` are the framework's own fields (metrics, the network spec).
    """
    return ModelMetadata(
        framework=framework,
        task="classification",
        feature_names=FEATURES,
        target="answer",
        classes=LABELS,
        **fields,
    )


def train_sklearn(model_dir: Path) -> ModelMetadata:
    """A LogisticRegression with string labels, saved with derived metadata."""
    from sklearn.linear_model import LogisticRegression

    x, y = dataset()
    labels = np.asarray(LABELS)[y]
    model = LogisticRegression(max_iter=500).fit(x, labels)
    return save_model(model_dir, model, {"feature_names": list(FEATURES), "target": "answer"})


def train_sklearn_regressor(model_dir: Path) -> ModelMetadata:
    """A LinearRegression on the same features."""
    from sklearn.linear_model import LinearRegression

    x, _ = dataset()
    model = LinearRegression().fit(x, x @ np.array([1.0, -2.0, 0.5, 3.0]) + 1.0)
    return save_model(model_dir, model, {"feature_names": list(FEATURES)})


def train_xgboost(model_dir: Path) -> ModelMetadata:
    """A 3-class XGBClassifier; the metadata maps class indices to labels."""
    import xgboost

    x, y = dataset()
    model = xgboost.XGBClassifier(n_estimators=8, max_depth=3, n_jobs=1).fit(x, y)
    metadata = classifier_metadata(
        "xgboost", metrics={"accuracy": float((model.predict(x) == y).mean())}
    )
    return save_model(model_dir, model, metadata)


def train_pytorch(model_dir: Path) -> ModelMetadata:
    """A small TabularNet trained for a few hundred plain gradient steps."""
    import torch

    from workloads.tabular_net import TabularNet

    torch.manual_seed(0)
    x, y = dataset()
    net = TabularNet(len(FEATURES), [16, 8], len(LABELS), dropout=0.1)
    inputs, targets = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
    # Hand-written SGD: importing torch.optim alone costs seconds, the steps here milliseconds.
    for _ in range(300):
        net.zero_grad()
        torch.nn.functional.cross_entropy(net(inputs), targets).backward()
        with torch.no_grad():
            for parameter in net.parameters():
                parameter -= 0.2 * parameter.grad
    metadata = classifier_metadata("pytorch", network=net.network_spec())
    return save_model(model_dir, net.eval(), metadata)


class SlowClassifier:
    """Answers 'yes' for every row; sleeps ``delay`` seconds when a row starts with SLOW_MARKER."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.classes_ = np.array(["no", "yes"])
        self.n_features_in_ = len(FEATURES)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """'yes' per row, slowly for marked rows."""
        if (x[:, 0] == SLOW_MARKER).any():
            time.sleep(self.delay)
        return np.full(x.shape[0], "yes")


def save_slow(model_dir: Path, delay: float) -> ModelMetadata:
    """A ``SlowClassifier`` in our layout (joblib pickles it by reference to this module)."""
    return save_model(
        model_dir, SlowClassifier(delay), {"framework": "sklearn", "feature_names": list(FEATURES)}
    )


def predict_with_handler_code(code_dir: Path, model_dir: Path, cwd: Path) -> dict[str, Any]:
    """Import ``code_dir``'s ``inference.py`` as the PyTorch toolkit does and predict one row.

    Runs in a fresh, isolated interpreter in ``cwd``; returns the response ``body`` and the file
    the ``workloads`` package was imported ``from`` (to tell copied handlers from the repository's).
    """
    script = f"""
import json, sys
sys.path.insert(0, {str(code_dir)!r})  # what the PyTorch toolkit does with code/
import inference
model = inference.model_fn({str(model_dir)!r})
body, _ = inference.output_fn(
    inference.predict_fn(inference.input_fn("[[0.5, -1, 2, 0.25]]", "application/json"), model),
    "application/json",
)
print(json.dumps({{"body": body.decode(), "from": sys.modules["workloads"].__file__}}))
"""
    run = subprocess.run(
        [sys.executable, "-I", "-c", script], cwd=cwd, capture_output=True, text=True, check=True
    )
    return dict(json.loads(run.stdout))
