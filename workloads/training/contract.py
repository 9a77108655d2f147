"""SageMaker's training container contract: every path and environment variable name, in one place.

A training job's container sees this tree (``/opt/ml`` unless ``ML_PLATFORM_SAGEMAKER_ROOT``
points elsewhere, which the tests do)::

    /opt/ml/input/config/hyperparameters.json   every hyperparameter as a JSON string value
    /opt/ml/input/config/resourceconfig.json    current_host and hosts (distributed jobs)
    /opt/ml/input/data/<channel>/               one directory per input channel
    /opt/ml/model/                              written by training, uploaded as model.tar.gz
    /opt/ml/output/data/                        other outputs, uploaded as output.tar.gz
    /opt/ml/output/failure                      why the job failed (shown as FailureReason)
    /opt/ml/checkpoints/                        synced with S3 when checkpointing is configured

The sagemaker-training toolkit (in AWS's prebuilt containers) also exports ``SM_MODEL_DIR``,
``SM_OUTPUT_DATA_DIR`` and ``SM_CHANNEL_<NAME>``; when set they win over the paths above.

Nothing happens at import: :class:`SageMakerEnvironment` reads the environment when asked, and
describes it as a read-only snapshot.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from workloads.training.hyperparameters import read_json

ROOT_ENV = "ML_PLATFORM_SAGEMAKER_ROOT"
"""Overrides the ``/opt/ml`` root (tests and local dry runs point it at a scratch tree)."""
DEFAULT_ROOT = "/opt/ml"
"""Where SageMaker mounts the training contract."""

INPUT_DIR = "input"
"""Relative to the root: ``config/`` and ``data/``, all SageMaker lays out before training."""
OUTPUT_DIR = "output"
"""Relative to the root: the output data and the failure file."""
HYPERPARAMETERS_FILE = "input/config/hyperparameters.json"
"""Relative to the root: the hyperparameters, each value a string."""
RESOURCE_CONFIG_FILE = "input/config/resourceconfig.json"
"""Relative to the root: ``current_host`` and ``hosts`` of the job."""
DATA_DIR = "input/data"
"""Relative to the root: one subdirectory per input channel."""
MODEL_DIR = "model"
"""Relative to the root: the model directory SageMaker uploads as ``model.tar.gz``."""
OUTPUT_DATA_DIR = "output/data"
"""Relative to the root: other outputs, uploaded as ``output.tar.gz``."""
FAILURE_FILE = "output/failure"
"""Relative to the root: the failure reason SageMaker shows (it keeps the first 1 KB or so)."""
CHECKPOINT_DIR = "checkpoints"
"""Relative to the root: the local side of the job's checkpoint S3 sync."""

MODEL_DIR_ENV = "SM_MODEL_DIR"
"""Set by the sagemaker-training toolkit: the model directory."""
OUTPUT_DATA_DIR_ENV = "SM_OUTPUT_DATA_DIR"
"""Set by the sagemaker-training toolkit: the output data directory."""
CHANNEL_ENV_PREFIX = "SM_CHANNEL_"
"""``SM_CHANNEL_<NAME>`` (upper case) is the directory of channel ``<name>``."""
TRAINING_JOB_NAME_ENV = "TRAINING_JOB_NAME"
"""Set by SageMaker in every training container: the job's name (tagged on the MLflow run)."""

RANK_ENV = "RANK"
"""Set by torchrun: this process's rank (0 is the primary, which alone tracks and saves)."""
WORLD_SIZE_ENV = "WORLD_SIZE"
"""Set by torchrun: how many processes train together."""

TRAIN_CHANNEL = "train"
"""The channel holding the training CSV files."""
VALIDATION_CHANNEL = "validation"
"""The optional channel holding the validation CSV files."""

MLFLOW_TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
"""Turns on MLflow tracking (also ``--tracking-uri``); a SageMaker MLflow server's ARN works."""
MLFLOW_EXPERIMENT_NAME_ENV = "MLFLOW_EXPERIMENT_NAME"
"""The MLflow experiment (also ``--experiment``)."""

CHECKPOINT_S3_URI_ENV = "ML_PLATFORM_CHECKPOINT_S3_URI"
"""``s3://bucket/prefix/``: where checkpoints are uploaded and resumed from (unset: local only).

Set by the Kubernetes TrainJob (components/kubernetes/train_job.py); SageMaker syncs itself."""
MODEL_S3_URI_ENV = "ML_PLATFORM_MODEL_S3_URI"
"""``s3://bucket/prefix/``: where ``model.tar.gz`` is uploaded at the end (unset: not uploaded)."""

MAX_FAILURE_BYTES = 1000
"""SageMaker truncates FailureReason to about 1 KB: we keep the reason shorter than that."""


def root_from(environ: Mapping[str, str]) -> Path:
    """The contract's root directory: ``ML_PLATFORM_SAGEMAKER_ROOT`` or ``/opt/ml``."""
    return Path(environ.get(ROOT_ENV) or DEFAULT_ROOT)


def checkpoint_dir_for(root: Path, training_job_name: str) -> Path:
    """The job's own folder under ``<root>/checkpoints``.

    SageMaker syncs ``/opt/ml/checkpoints`` with one S3 URI, and every training job of a tuning
    job gets the same URI, so a job restarted after a spot interruption would download its
    siblings' checkpoints too. A restarted job keeps its name, so a folder per job name resumes
    exactly its own run. Without a name (a local run of the contract) the folder itself is used.
    """
    base = root / CHECKPOINT_DIR
    return base / training_job_name if training_job_name else base


@dataclass(frozen=True)
class SageMakerEnvironment:
    """A read-only snapshot of the training contract as this container sees it."""

    root: Path
    """The contract's root (``/opt/ml``)."""
    model_dir: Path
    """Where the model directory goes (``SM_MODEL_DIR`` or ``<root>/model``)."""
    output_data_dir: Path
    """Where other outputs go (``SM_OUTPUT_DATA_DIR`` or ``<root>/output/data``)."""
    checkpoint_dir: Path
    """This job's checkpoints: ``<root>/checkpoints/<job name>`` (see checkpoint_dir_for)."""
    channels: Mapping[str, Path] = field(default_factory=dict)
    """Input channels by name: ``SM_CHANNEL_<NAME>`` variables and ``<root>/input/data/*``."""
    training_job_name: str = ""
    """The job's name, when SageMaker set it."""

    @property
    def hyperparameters_file(self) -> Path:
        """``<root>/input/config/hyperparameters.json``."""
        return self.root / HYPERPARAMETERS_FILE

    @property
    def failure_file(self) -> Path:
        """``<root>/output/failure``."""
        return self.root / FAILURE_FILE

    @classmethod
    def detect(cls, environ: Mapping[str, str] | None = None) -> SageMakerEnvironment | None:
        """The contract when this process runs as a SageMaker training job, else ``None``.

        A training job always has ``hyperparameters.json`` (``{}`` when there are none), so its
        presence under the root is what tells a job from a local run.
        """
        environ = os.environ if environ is None else environ
        if not (root_from(environ) / HYPERPARAMETERS_FILE).is_file():
            return None
        return cls.from_environ(environ)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SageMakerEnvironment:
        """The contract's paths from the environment (nothing is created or read but a listing)."""
        environ = os.environ if environ is None else environ
        root = root_from(environ)
        channels: dict[str, Path] = {}
        data_dir = root / DATA_DIR
        if data_dir.is_dir():
            channels.update({entry.name: entry for entry in sorted(data_dir.iterdir())})
        for name, value in environ.items():
            if name.startswith(CHANNEL_ENV_PREFIX) and value:
                channels[name[len(CHANNEL_ENV_PREFIX) :].lower()] = Path(value)
        return cls(
            root=root,
            model_dir=Path(environ.get(MODEL_DIR_ENV) or root / MODEL_DIR),
            output_data_dir=Path(environ.get(OUTPUT_DATA_DIR_ENV) or root / OUTPUT_DATA_DIR),
            checkpoint_dir=checkpoint_dir_for(root, environ.get(TRAINING_JOB_NAME_ENV, "")),
            channels=channels,
            training_job_name=environ.get(TRAINING_JOB_NAME_ENV, ""),
        )

    def read_hyperparameters(self) -> dict[str, str]:
        """``hyperparameters.json`` as strings (errors name the file)."""
        return read_json(self.hyperparameters_file)

    def write_failure(self, reason: str) -> None:
        """Write ``reason`` (cut to :data:`MAX_FAILURE_BYTES`) to the failure file."""
        write_failure(self.failure_file, reason)


def write_failure(path: Path, reason: str) -> None:
    """Write a failure reason, cut to :data:`MAX_FAILURE_BYTES` UTF-8 bytes on a character edge."""
    data = reason.encode("utf-8")
    if len(data) > MAX_FAILURE_BYTES:
        data = data[: MAX_FAILURE_BYTES - 3].decode("utf-8", errors="ignore").encode() + b"..."
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
