"""Small learnable tabular problems for the training tests, in memory and as CSV files."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from workloads.training.data import TabularData
from workloads.training.outcome import TrainingContext
from workloads.training.reporting import MetricReporter
from workloads.training.spot import StopRequest


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """OpenMP and BLAS on one thread (import this fixture into a test module to use it).

    The cores are shared with other jobs: OpenMP's waiting threads then cost scikit-learn's
    histogram boosting ten times its work.
    """
    with threadpool_limits(limits=1):
        yield


def make_data(
    task: str = "classification",
    rows: int = 300,
    n_classes: int = 2,
    seed: int = 0,
    noise: float = 0.5,
    labels: tuple = (),
) -> TabularData:
    """A linear problem with noise: ``n_classes`` classes (labels optional) or a real target."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4)).astype(np.float32)
    signal = x @ np.array([1.5, -1.0, 0.5, 0.0], dtype=np.float32)
    signal = signal + rng.normal(scale=noise, size=rows).astype(np.float32)
    if task == "classification":
        edges = np.quantile(signal, np.linspace(0, 1, n_classes + 1)[1:-1])
        y: np.ndarray = np.digitize(signal, edges).astype(np.int64)
        classes = labels or tuple(range(n_classes))
    else:
        y = signal.astype(np.float32)
        classes = ()
    cut = int(rows * 0.75)
    return TabularData(
        feature_names=("a", "b", "c", "d"),
        target="y",
        task=task,
        classes=classes,
        x_train=np.ascontiguousarray(x[:cut]),
        y_train=y[:cut].copy(),
        x_valid=np.ascontiguousarray(x[cut:]),
        y_valid=y[cut:].copy(),
    )


def write_csv(path: Path, data: TabularData, split: str = "train", labels: bool = True) -> Path:
    """One split of ``data`` as a CSV file with a header row (labels as the original classes)."""
    x = getattr(data, f"x_{split}")
    y = getattr(data, f"y_{split}")
    if data.task == "classification" and labels:
        y = np.asarray(data.classes, dtype=object)[y]
    buffer = io.StringIO()
    buffer.write(",".join([*data.feature_names, data.target]) + "\n")
    for row, label in zip(x, y, strict=True):
        buffer.write(",".join([*(repr(float(v)) for v in row), str(label)]) + "\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buffer.getvalue())
    return path


def report_lines(text: str) -> list[dict[str, float]]:
    """The metric lines of a log: ``step=3 a=1.0`` as ``{"step": 3.0, "a": 1.0}``."""
    found = []
    for line in text.splitlines():
        pairs = [part.split("=", 1) for part in line.split()]
        if pairs and all(len(pair) == 2 for pair in pairs):
            try:
                found.append({key: float(value) for key, value in pairs})
            except ValueError:
                continue
    return found


def reporting_context(
    objective: str = "valid_loss", stop: StopRequest | None = None, **options: Path | None
) -> tuple[TrainingContext, io.StringIO]:
    """A quiet training context whose metric lines go to the string stream returned beside it.

    No progress bar; ``stop`` is the stop request (e.g. :class:`StopAfter`) and ``options`` are
    further context fields (``output_dir``, ``checkpoint_dir``). Read the metrics back with
    ``report_lines(stream.getvalue())``.
    """
    stream = io.StringIO()
    context = TrainingContext(
        objective=objective,
        reporter=MetricReporter(stream),
        stop=stop,
        show_progress=False,
        **options,  # type: ignore[arg-type]
    )
    return context, stream


class StopAfter:
    """A stop request that turns on after ``polls`` checks (a SIGTERM at a known point)."""

    def __init__(self, polls: int) -> None:
        self.polls = polls
        self.checked = 0

    @property
    def requested(self) -> bool:
        """True from the ``polls + 1``-th check on."""
        self.checked += 1
        return self.checked > self.polls


_STORE_TEMPLATES: dict[str, Path] = {}


def mlflow_store(database: Path, factory: pytest.TempPathFactory) -> str:
    """The URI of a SQLite MLflow store at ``database``, with MLflow's schema already in it.

    Creating MLflow's schema (its database migrations) takes seconds, so it happens once per
    session in a template that each store is copied from.
    """
    key = str(factory.getbasetemp())
    if key not in _STORE_TEMPLATES:
        import mlflow

        template = factory.mktemp("mlflow-template") / "mlflow.db"
        mlflow.MlflowClient(f"sqlite:///{template}").search_experiments()
        _STORE_TEMPLATES[key] = template
    database.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_STORE_TEMPLATES[key], database)
    return f"sqlite:///{database}"
