"""MLflow experiment tracking for a training run: params, metrics per step, the model, the registry.

Tracking is on when a tracking URI is given (``--tracking-uri`` or ``MLFLOW_TRACKING_URI``):
a local SQLite store (``sqlite:///build/mlflow.db``), an MLflow server, or a SageMaker MLflow
tracking server's ARN (which needs the ``sagemaker-mlflow`` plugin). mlflow is imported only
then: a job without tracking never pays for it, and a container without mlflow fails with a
message that says which image to use.

What a run records:

- params: every hyperparameter, defaults included;
- metrics: each reported step (boosting round, epoch, AutoML trial) at its step, and the best
  model's metrics last, as the run's final values (sent in batches, at least every 10 s);
- artifacts: the model directory under ``model/`` (exactly what SageMaker serves), plus the
  output files (``metrics.json``, AutoML's ``trials.json``); the run's ``ml_platform.model_sha256``
  tag is that directory's digest, by which ``ml-platform-lifecycle register --model-dir`` finds
  the run and registers its ``model/`` artifact (``workloads/lifecycle``);
- the model in MLflow's own flavor, in a format that loads without unpickling untrusted code:
  scikit-learn as skops (trusting only scikit-learn's own types, listed explicitly: MLflow 3
  refuses the rest on load), XGBoost as UBJSON, PyTorch as a ``torch.export`` program (pt2);
- optionally a registered model version of that flavor (``--register-model NAME``).

A new experiment in a local SQLite store keeps its artifacts beside the database
(``<db dir>/mlartifacts``) instead of MLflow's default ``./mlruns`` in whatever directory the
command ran from.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workloads.training import contract

if TYPE_CHECKING:
    from workloads.training.data import TabularData
    from workloads.training.outcome import TrainedModel

DEFAULT_EXPERIMENT = "ml-platform"
"""The experiment used when neither ``--experiment`` nor ``MLFLOW_EXPERIMENT_NAME`` names one."""
FLAVOR_ARTIFACT = {
    "sklearn": "sklearn-model",
    "xgboost": "xgboost-model",
    "pytorch": "pytorch-model",
}
"""The name of each framework's MLflow-flavor model."""
MODEL_DIGEST_TAG = "ml_platform.model_sha256"
"""The run tag (and registered version tag) holding :func:`model_dir_digest` of the model."""
_MAX_PARAM_LENGTH = 6000  # MLflow's limit on a param value
_MAX_BATCH = 1000  # MLflow's limit on metrics per log_batch
_FLUSH_SECONDS = 10.0


def model_dir_digest(model_dir: str | os.PathLike[str]) -> str:
    """The sha256 of a directory's files: their relative paths and contents, in path order.

    The same for two directories holding the same files wherever they are; different as soon as
    one file's name or bytes differ.
    """
    root = Path(model_dir)
    digest = hashlib.sha256()
    for path in sorted(found for found in root.rglob("*") if found.is_file()):
        content = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                content.update(chunk)
        digest.update(f"{path.relative_to(root).as_posix()}\0{content.hexdigest()}\n".encode())
    return digest.hexdigest()


class TrackingUnavailable(RuntimeError):
    """Tracking was asked for but cannot work in this container."""


def tracking_uri_from(argument: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The tracking URI: the argument, else ``MLFLOW_TRACKING_URI``, else "" (tracking off)."""
    environ = os.environ if environ is None else environ
    return argument or environ.get(contract.MLFLOW_TRACKING_URI_ENV, "")


def experiment_from(argument: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The experiment name: the argument, else ``MLFLOW_EXPERIMENT_NAME``, else the default."""
    environ = os.environ if environ is None else environ
    return argument or environ.get(contract.MLFLOW_EXPERIMENT_NAME_ENV) or DEFAULT_EXPERIMENT


def _is_sagemaker_arn(uri: str) -> bool:
    return uri.startswith("arn:aws") and ":sagemaker:" in uri


def import_mlflow(tracking_uri: str) -> Any:
    """mlflow, or a :class:`TrackingUnavailable` saying what to install or unset."""
    try:
        import mlflow
    except ImportError:
        raise TrackingUnavailable(
            f"{contract.MLFLOW_TRACKING_URI_ENV} is set but mlflow is not installed in this "
            "container: use the ml-platform/training image (docker/training.Dockerfile) or unset "
            "it" + _arn_hint(tracking_uri)
        ) from None
    if _is_sagemaker_arn(tracking_uri) and importlib.util.find_spec("sagemaker_mlflow") is None:
        raise TrackingUnavailable(
            f"the tracking URI {tracking_uri} is a SageMaker MLflow tracking server, which needs "
            "the sagemaker-mlflow plugin: use the ml-platform/training image "
            "(docker/training.Dockerfile), pip install sagemaker-mlflow, or unset "
            f"{contract.MLFLOW_TRACKING_URI_ENV}"
        )
    return mlflow


def _arn_hint(tracking_uri: str) -> str:
    if not _is_sagemaker_arn(tracking_uri):
        return ""
    return " (a SageMaker MLflow tracking server's ARN also needs the sagemaker-mlflow plugin)"


def local_artifact_location(tracking_uri: str) -> str | None:
    """``<db dir>/mlartifacts`` for a local SQLite store; None (MLflow's default) otherwise."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return None
    database = Path(tracking_uri[len(prefix) :])
    if not database.is_absolute():
        database = Path.cwd() / database
    return (database.parent / "mlartifacts").resolve().as_uri()


def experiment_id_of(client: Any, experiment: str, tracking_uri: str) -> str:
    """The id of ``experiment`` in the client's store, created (artifacts kept local) if missing."""
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        return str(found.experiment_id)
    return str(
        client.create_experiment(
            experiment, artifact_location=local_artifact_location(tracking_uri)
        )
    )


class UnsafeFlavor(ValueError):
    """The model's MLflow flavor would not load without trusting code it should not."""


class ExperimentTracker:
    """One MLflow run (and its nested child runs) that training logs into."""

    def __init__(
        self, mlflow: Any, run_id: str, *, parent: ExperimentTracker | None = None
    ) -> None:
        self.mlflow = mlflow
        self.client = mlflow.MlflowClient()
        self.run_id = run_id
        """The MLflow run's id."""
        self.parent = parent
        self._last_step = 0
        self._last_timestamp = 0
        self._pending: list[Any] = []
        self._flushed = time.monotonic()

    @classmethod
    def start(
        cls,
        tracking_uri: str,
        experiment: str,
        *,
        run_name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ExperimentTracker:
        """Start a run in ``experiment`` (created if missing) of the store at ``tracking_uri``."""
        mlflow = import_mlflow(tracking_uri)
        mlflow.set_tracking_uri(tracking_uri)
        experiment_id = experiment_id_of(mlflow.MlflowClient(), experiment, tracking_uri)
        # The fluent API's active run: MLflow's log_model attaches the flavor model to it.
        run = mlflow.start_run(
            experiment_id=experiment_id, run_name=run_name, tags=dict(tags or {})
        )
        return cls(mlflow, run.info.run_id)

    def child(self, name: str, tags: Mapping[str, str] | None = None) -> ExperimentTracker:
        """A nested run under this one (an AutoML trial)."""
        experiment_id = self.client.get_run(self.run_id).info.experiment_id
        run = self.client.create_run(
            experiment_id,
            run_name=name,
            tags={"mlflow.parentRunId": self.run_id, **dict(tags or {})},
        )
        return ExperimentTracker(self.mlflow, run.info.run_id, parent=self)

    def log_params(self, params: Mapping[str, object]) -> None:
        """Record hyperparameters (as strings)."""
        from mlflow.entities import Param

        entries = [Param(key, str(value)[:_MAX_PARAM_LENGTH]) for key, value in params.items()]
        for start in range(0, len(entries), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=entries[start : start + 100])

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Record metrics at ``step``; without one, as the run's final values.

        Final values are logged at the last step seen with a later timestamp, which is what
        MLflow shows as a run's metric (the latest by step, then time), without adding a point
        after the curve's end.
        """
        from mlflow.entities import Metric

        if step is None:
            step = self._last_step
        self._last_step = max(self._last_step, int(step))
        # Strictly increasing timestamps: "the latest" must not depend on the clock's resolution.
        timestamp = max(int(time.time() * 1000), self._last_timestamp + 1)
        self._last_timestamp = timestamp
        self._pending += [
            Metric(name, float(value), timestamp, int(step)) for name, value in metrics.items()
        ]
        # One request per boosting round would make a remote tracking server the bottleneck:
        # metrics go in batches, at least every few seconds, and all of them at the end.
        if len(self._pending) >= _MAX_BATCH or time.monotonic() - self._flushed >= _FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Send the metrics logged so far."""
        while self._pending:
            batch, self._pending = self._pending[:_MAX_BATCH], self._pending[_MAX_BATCH:]
            self.client.log_batch(self.run_id, metrics=batch)
        self._flushed = time.monotonic()

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        """Upload one file or a directory's contents."""
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), artifact_path)
        else:
            self.client.log_artifact(self.run_id, str(path), artifact_path)

    def log_model(
        self,
        model_dir: Path,
        trained: TrainedModel,
        data: TabularData,
        registered_model_name: str = "",
    ) -> str | None:
        """Log the model directory under ``model/`` and the framework's MLflow flavor.

        Registers a version of the flavor model when ``registered_model_name`` is given.
        Returns the flavor model's URI (None when the flavor could not be logged).
        """
        self.flush()
        self.log_artifact(model_dir, "model")
        self.set_tags({MODEL_DIGEST_TAG: model_dir_digest(model_dir)})
        try:
            info = self._log_flavor(trained, data, registered_model_name or None)
        except Exception as error:  # the model directory is saved and logged: keep the job
            reason = (
                str(error)
                if isinstance(error, UnsafeFlavor)
                else f"{type(error).__name__}: {error}"
            )
            print(
                f"MLflow: the {trained.framework} flavor was not logged ({reason}); only the model "
                "directory was",
                file=sys.stderr,
            )
            if registered_model_name:
                raise TrackingUnavailable(
                    f"cannot register {registered_model_name!r}: {reason}"
                ) from None
            return None
        return str(info.model_uri)

    def _log_flavor(self, trained: TrainedModel, data: TabularData, registered: str | None) -> Any:
        import numpy as np
        import pandas as pd
        from mlflow.models import infer_signature

        mlflow = self.mlflow
        framework, model = trained.framework, trained.model
        example = np.ascontiguousarray(data.x_valid[:5])
        # The flavour's model takes the encoded columns (one-hot for text features).
        frame = pd.DataFrame(example, columns=data.encoded_names)
        name = FLAVOR_ARTIFACT[framework]
        common = {"name": name, "registered_model_name": registered}
        if framework == "sklearn":
            import skops.io

            # Trust exactly the types this model holds, and only scikit-learn's own: anything
            # else would be arbitrary code run on load.
            untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
            foreign = [kind for kind in untrusted if not kind.startswith("sklearn.")]
            if foreign:
                raise UnsafeFlavor(f"skops would have to trust {foreign}")
            return mlflow.sklearn.log_model(
                model,
                serialization_format="skops",
                skops_trusted_types=untrusted,
                signature=infer_signature(frame, model.predict(example)),
                pip_requirements=[f"scikit-learn=={trained.framework_version}", "skops"],
                **common,
            )
        if framework == "xgboost":
            return mlflow.xgboost.log_model(
                model,
                model_format="ubj",
                signature=infer_signature(frame, model.inplace_predict(example)),
                pip_requirements=[f"xgboost=={trained.framework_version}"],
                **common,
            )
        import torch

        with torch.no_grad():
            outputs = model(torch.from_numpy(example)).numpy()
        return mlflow.pytorch.log_model(
            model,
            serialization_format="pt2",
            input_example=example,
            signature=infer_signature(example, outputs),
            pip_requirements=[f"torch=={trained.framework_version}"],
            **common,
        )

    def set_tags(self, tags: Mapping[str, str]) -> None:
        """Set run tags."""
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, value)

    def finish(self, status: str = "FINISHED") -> None:
        """Send what is pending and end the run: ``FINISHED``, ``FAILED`` or ``KILLED``."""
        self.flush()
        if self.parent is None:
            self.mlflow.end_run(status=status)
        else:
            self.client.set_terminated(self.run_id, status=status)
