"""Fixtures for the lifecycle tests: a fresh MLflow store, model directories, a logged run."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tests.workloads.inference import models
from tests.workloads.training.samples import mlflow_store
from workloads.training.tracking import MODEL_DIGEST_TAG, experiment_id_of, model_dir_digest


@pytest.fixture
def store(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URI of an empty SQLite MLflow store of this test's own."""
    return mlflow_store(tmp_path / "mlflow.db", tmp_path_factory)


@pytest.fixture
def client(store: str) -> Any:
    """An MLflow client on ``store`` (tracking and registry)."""
    from workloads.lifecycle.registry import open_registry

    return open_registry(store)


VALIDATION_METRICS = {"valid_accuracy": 0.875, "valid_loss": 0.25}
"""The metrics ``model_dir``'s metadata records, as a trainer's validation metrics."""


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scikit-learn model directory (a 3-class LogisticRegression) with validation metrics.

    Never changed by the tests.
    """
    directory = tmp_path_factory.mktemp("lifecycle-model") / "model"
    metadata = models.train_sklearn(directory)
    dataclasses.replace(metadata, metrics=VALIDATION_METRICS).write(directory)
    return directory


@pytest.fixture(scope="session")
def other_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A different model of the same features (a regressor): other files, other digest."""
    directory = tmp_path_factory.mktemp("lifecycle-other") / "model"
    models.train_sklearn_regressor(directory)
    return directory


def experiment_of(client: Any, name: str) -> str:
    """The id of experiment ``name``, created with its artifacts beside the store's database.

    (MLflow's default would be ./mlruns in the directory pytest runs from.)
    """
    return experiment_id_of(client, name, client.tracking_uri)


def log_as_training_run(client: Any, model_dir: Path, experiment: str = "training") -> str:
    """Log ``model_dir`` under ``model/`` of a finished run tagged as the trainer tags it."""
    run = client.create_run(
        experiment_of(client, experiment), tags={MODEL_DIGEST_TAG: model_dir_digest(model_dir)}
    )
    client.log_artifacts(run.info.run_id, str(model_dir), "model")
    client.set_terminated(run.info.run_id, "FINISHED")
    return str(run.info.run_id)
