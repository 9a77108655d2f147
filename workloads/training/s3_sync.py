r"""What SageMaker did around a training job, done by the pod itself on Kubernetes.

A SageMaker training job gets its channels downloaded, its checkpoints synced with S3 and its
model uploaded by the service. A Kubeflow TrainJob's pod gets none of that, so this module does
it with boto3 (credentials from the pod's service-account role, IRSA):

- ``stage`` (the pod's init container) rebuilds the training contract under ``/opt/ml``:
  ``hyperparameters.json``, one directory per channel under ``input/data`` downloaded from S3,
  and the newest checkpoint whose bytes match the digest in its name. The training container
  then runs ``python -m workloads.training`` unchanged, in its contract mode::

      python -m workloads.training.s3_sync stage --hyperparameters '{"algorithm": "pytorch"}' \
          --channel train=s3://bucket/prefix/ [--channel validation=s3://...] \
          [--checkpoints s3://bucket/k8s/job/checkpoints/]

- :class:`SyncedOutputs` (inside the entrypoint, rank 0 only) uploads every new checkpoint file
  while training runs and once more at the end, and uploads the model as ``model.tar.gz`` (the
  layout SageMaker and KServe's storage initializer unpack) when training saved one. Both are
  off unless ``ML_PLATFORM_CHECKPOINT_S3_URI`` / ``ML_PLATFORM_MODEL_S3_URI`` are set.

Checkpoint files are only ever renamed into place complete, with the sha256 of their bytes in
their name (:mod:`workloads.training.checkpoints`), so a polling uploader never sends half a
file and a download is verified against the name before it is trusted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import tarfile
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any

from workloads.atomic_files import write_atomically
from workloads.training import contract
from workloads.training.checkpoints import sha256_of

logger = logging.getLogger(__name__)

# The variables that turn uploads on live with the rest of the training contract.
CHECKPOINT_S3_URI_ENV = contract.CHECKPOINT_S3_URI_ENV
MODEL_S3_URI_ENV = contract.MODEL_S3_URI_ENV
MODEL_ARCHIVE = "model.tar.gz"
"""The model's archive name under the model URI (what SageMaker and KServe unpack)."""
UPLOAD_INTERVAL_SECONDS = 30.0
"""How often the uploader looks for new checkpoints (a save is a rename, so polling is safe)."""

# Any checkpoint the stores write: torch's ``.ckpt``, XGBoost's ``.ubj``; step and digest as in
# checkpoints.CheckpointStore (which also hides its temporary files behind a leading dot).
_CHECKPOINT_NAME = re.compile(r"checkpoint-(\d+)-([0-9a-f]{64})(\.[A-Za-z0-9]+)?")


class S3SyncError(RuntimeError):
    """An S3 location is malformed, empty or unreachable (the message names it)."""


@dataclass(frozen=True)
class S3Uri:
    """A bucket and a key prefix (``s3://bucket/prefix/``)."""

    bucket: str
    """The bucket's name."""
    prefix: str
    """The key prefix, ending in ``/`` unless empty (a whole bucket)."""

    @classmethod
    def parse(cls, uri: str, what: str = "S3 URI") -> S3Uri:
        """Parse ``s3://bucket[/prefix]``; the prefix is treated as a folder.

        Raises:
            S3SyncError: naming ``what`` and the value, when it is not an ``s3://`` URI.

        """
        match = re.fullmatch(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(.*))?", uri or "")
        if match is None:
            raise S3SyncError(f"{what}: {uri!r} is not an s3://bucket/prefix URI")
        prefix = (match[2] or "").strip("/")
        return cls(match[1], f"{prefix}/" if prefix else "")

    def key(self, relative: str) -> str:
        """The key of ``relative`` under this prefix."""
        return f"{self.prefix}{relative}"

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def s3_client() -> Any:
    """A boto3 S3 client from the environment's credentials (IRSA in a pod)."""
    import boto3

    return boto3.client("s3")


def _objects(client: Any, uri: S3Uri) -> Iterator[dict[str, Any]]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=uri.bucket, Prefix=uri.prefix
        ):
            yield from page.get("Contents", [])
    except (BotoCoreError, ClientError) as error:
        raise S3SyncError(f"cannot list {uri}: {error}") from error


def _relative(uri: S3Uri, key: str) -> PurePosixPath | None:
    """``key`` relative to the prefix; None for folder markers and keys that would escape."""
    relative = PurePosixPath(key[len(uri.prefix) :])
    if key.endswith("/") or not relative.parts or ".." in relative.parts:
        return None
    return relative


def download_prefix(client: Any, uri: S3Uri, directory: Path) -> list[Path]:
    """Download every object under ``uri`` into ``directory``, keeping sub-folders.

    Raises:
        S3SyncError: when nothing is there (an empty channel is a wrong prefix, not a dataset).

    """
    from botocore.exceptions import BotoCoreError, ClientError

    written = []
    for item in _objects(client, uri):
        relative = _relative(uri, item["Key"])
        if relative is None:
            continue
        target = directory.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            client.download_file(uri.bucket, item["Key"], str(target))
        except (BotoCoreError, ClientError) as error:
            raise S3SyncError(
                f"cannot download s3://{uri.bucket}/{item['Key']}: {error}"
            ) from error
        written.append(target)
    if not written:
        raise S3SyncError(f"no objects under {uri}")
    return written


def upload_file(client: Any, path: Path, uri: S3Uri, relative: str) -> str:
    """Upload one file to ``uri`` + ``relative``; returns its ``s3://`` URI."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client.upload_file(str(path), uri.bucket, uri.key(relative))
    except (BotoCoreError, ClientError) as error:
        raise S3SyncError(f"cannot upload {path} to {uri}{relative}: {error}") from error
    return f"{uri}{relative}"


def download_newest_checkpoint(client: Any, uri: S3Uri, directory: Path) -> Path | None:
    """Download the newest checkpoint under ``uri`` whose bytes match its name; None if none.

    Checkpoints are tried newest first (by step, then upload time); one whose sha256 differs
    from the digest in its name is removed again with a warning, and the next older is tried.
    """
    found = []
    for item in _objects(client, uri):
        relative = _relative(uri, item["Key"])
        if relative is None or len(relative.parts) != 1:
            continue
        match = _CHECKPOINT_NAME.fullmatch(relative.name)
        if match:
            found.append(
                (int(match[1]), item["LastModified"], item["Key"], relative.name, match[2])
            )
    directory.mkdir(parents=True, exist_ok=True)
    for _number, _modified, key, name, digest in sorted(found, reverse=True):
        target = directory / name
        _download_object(client, uri.bucket, key, target)
        if sha256_of(target) == digest:
            return target
        logger.warning("skipping s3://%s/%s: its bytes do not match the digest", uri.bucket, key)
        target.unlink()
    return None


def _download_object(client: Any, bucket: str, key: str, target: Path) -> None:
    """Download one object to ``target`` through a hidden temporary file (never half a file)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        write_atomically(target, lambda part: client.download_file(bucket, key, str(part)))
    except (BotoCoreError, ClientError) as error:
        raise S3SyncError(f"cannot download s3://{bucket}/{key}: {error}") from error


@dataclass
class CheckpointUploader:
    """Upload the checkpoints that appear in a directory, and prune the ones pruned locally."""

    client: Any
    """The S3 client."""
    directory: Path
    """The local checkpoint directory (one writer: rank 0's CheckpointStore)."""
    uri: S3Uri
    """Where the checkpoints go."""
    interval: float = UPLOAD_INTERVAL_SECONDS
    """Seconds between two looks while training runs."""
    uploaded: set[str] = field(default_factory=set)
    """Names uploaded by this process."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def upload_new(self) -> list[str]:
        """Upload the checkpoints not uploaded yet; returns their names."""
        with self._lock:  # the final flush and the background thread never overlap
            local = self._local()
            sent = []
            for name in sorted(set(local) - self.uploaded, key=lambda item: local[item]):
                path = self.directory / name
                if not path.is_file():  # pruned by the store since the listing
                    continue
                upload_file(self.client, path, self.uri, name)
                self.uploaded.add(name)
                sent.append(name)
            if sent:
                self._prune()
            return sent

    def _local(self) -> dict[str, int]:
        if not self.directory.is_dir():
            return {}
        return {
            entry.name: int(match[1])
            for entry in self.directory.iterdir()
            if (match := _CHECKPOINT_NAME.fullmatch(entry.name))
        }

    def _prune(self) -> None:
        # Keep S3 as the store keeps the folder: remove what this process uploaded and the store
        # has since pruned, never anything at or above the newest step just uploaded.
        steps = {name: _step(name) for name in self.uploaded}
        newest = max(steps.values())
        stale = [
            name
            for name, step in steps.items()
            if step < newest and not (self.directory / name).exists()
        ]
        from botocore.exceptions import BotoCoreError, ClientError

        for name in stale:
            try:
                self.client.delete_object(Bucket=self.uri.bucket, Key=self.uri.key(name))
            except (BotoCoreError, ClientError) as error:
                raise S3SyncError(f"cannot remove {self.uri}{name}: {error}") from error
            self.uploaded.discard(name)

    def start(self) -> None:
        """Look for new checkpoints every ``interval`` seconds in a daemon thread."""
        self._thread = threading.Thread(target=self._loop, name="checkpoint-upload", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.upload_new()
            except S3SyncError as error:  # retried at the next look and at the final flush
                logger.warning("checkpoint upload failed, retrying later: %s", error)

    def stop(self) -> list[str]:
        """Stop the thread and upload what is left (the final checkpoint after a SIGTERM)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.upload_new()


def _step(name: str) -> int:
    match = _CHECKPOINT_NAME.fullmatch(name)
    return int(match[1]) if match else -1


def archive_model(model_dir: Path, target: Path) -> Path:
    """``model.tar.gz`` of the model directory, its files at the archive's root (SageMaker's)."""
    with tarfile.open(target, "w:gz") as archive:
        for path in sorted(model_dir.rglob("*")):
            archive.add(path, arcname=str(path.relative_to(model_dir)), recursive=False)
    return target


def upload_model(client: Any, model_dir: Path, uri: S3Uri) -> str:
    """Upload ``model_dir`` as ``<uri>/model.tar.gz``; returns its ``s3://`` URI."""
    with tempfile.TemporaryDirectory() as scratch:
        archive = archive_model(model_dir, Path(scratch) / MODEL_ARCHIVE)
        return upload_file(client, archive, uri, MODEL_ARCHIVE)


def _is_primary(environ: Mapping[str, str]) -> bool:
    return environ.get(contract.RANK_ENV, "0") in ("", "0")


class SyncedOutputs:
    """The checkpoint and model uploads of one training process (a no-op when not configured).

    Use as a context manager around training: checkpoints are uploaded while it runs and once
    more when it ends, however it ends; call :meth:`upload_model` after a successful run.
    """

    def __init__(
        self,
        *,
        checkpoint_dir: Path | None,
        model_dir: Path,
        checkpoint_uri: S3Uri | None,
        model_uri: S3Uri | None,
        client: Any = None,
        interval: float = UPLOAD_INTERVAL_SECONDS,
    ) -> None:
        if checkpoint_uri is not None and checkpoint_dir is None:
            raise S3SyncError(
                f"{CHECKPOINT_S3_URI_ENV} is set but the job has no checkpoint directory"
            )
        needed = checkpoint_uri is not None or model_uri is not None
        self._client = client if client is not None or not needed else s3_client()
        self.model_dir = model_dir
        self.model_uri = model_uri
        self.uploader = (
            CheckpointUploader(self._client, checkpoint_dir, checkpoint_uri, interval)
            if checkpoint_uri is not None and checkpoint_dir is not None
            else None
        )

    @classmethod
    def from_environ(
        cls,
        *,
        checkpoint_dir: Path | None,
        model_dir: Path,
        environ: Mapping[str, str] | None = None,
        client: Any = None,
    ) -> SyncedOutputs:
        """The uploads ``ML_PLATFORM_*_S3_URI`` ask for; none on ranks other than 0."""
        environ = os.environ if environ is None else environ
        primary = _is_primary(environ)
        checkpoints = environ.get(CHECKPOINT_S3_URI_ENV, "") if primary else ""
        model = environ.get(MODEL_S3_URI_ENV, "") if primary else ""
        return cls(
            checkpoint_dir=checkpoint_dir,
            model_dir=model_dir,
            checkpoint_uri=S3Uri.parse(checkpoints, CHECKPOINT_S3_URI_ENV) if checkpoints else None,
            model_uri=S3Uri.parse(model, MODEL_S3_URI_ENV) if model else None,
            client=client,
        )

    def __enter__(self) -> SyncedOutputs:
        if self.uploader is not None:
            self.uploader.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.uploader is None:
            return
        try:
            sent = self.uploader.stop()
        except S3SyncError:
            if kind is None:
                raise
            # Training already failed: keep its error; say why the checkpoints did not go.
            logger.exception("final checkpoint upload failed")
            return
        if sent:
            print(f"checkpoints uploaded to {self.uploader.uri}: {', '.join(sent)}", flush=True)

    def upload_model(self) -> str | None:
        """Upload the model as ``model.tar.gz`` when a URI is set and training saved one."""
        from workloads.model_layout import METADATA_FILE

        if self.model_uri is None:
            return None
        if not (self.model_dir / METADATA_FILE).is_file():
            # A run stopped by SIGTERM saves no model: the restarted job uploads it.
            return None
        return upload_model(self._client, self.model_dir, self.model_uri)


def stage(
    *,
    hyperparameters: Mapping[str, Any],
    channels: Mapping[str, str],
    checkpoints: str | None,
    environ: Mapping[str, str] | None = None,
    client: Any = None,
) -> contract.SageMakerEnvironment:
    """Lay out the training contract under the root: hyperparameters, channels, a checkpoint.

    Hyperparameter values are written as strings, as SageMaker writes them. Returns the
    contract as the training container will see it.
    """
    environ = os.environ if environ is None else environ
    root = contract.root_from(environ)
    channel_uris = {name: S3Uri.parse(uri, f"channel {name}") for name, uri in channels.items()}
    checkpoint_uri = S3Uri.parse(checkpoints, "--checkpoints") if checkpoints else None
    if contract.TRAIN_CHANNEL not in channel_uris:
        raise S3SyncError(f"no {contract.TRAIN_CHANNEL!r} channel to stage")
    client = s3_client() if client is None else client
    config = root / contract.HYPERPARAMETERS_FILE
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        json.dumps({key: _as_string(value) for key, value in hyperparameters.items()}, indent=2)
    )
    for name, uri in channel_uris.items():
        files = download_prefix(client, uri, root / contract.DATA_DIR / name)
        print(f"channel {name}: {len(files)} files from {uri}", flush=True)
    if checkpoint_uri is not None:
        directory = contract.checkpoint_dir_for(
            root, environ.get(contract.TRAINING_JOB_NAME_ENV, "")
        )
        found = download_newest_checkpoint(client, checkpoint_uri, directory)
        print(
            f"resuming from {found.name}" if found else f"no checkpoint in {checkpoint_uri}",
            flush=True,
        )
    return contract.SageMakerEnvironment.from_environ(environ)


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _channel(text: str) -> tuple[str, str]:
    name, separator, uri = text.partition("=")
    if not separator or not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=s3://bucket/prefix")
    return name, uri


def build_parser() -> argparse.ArgumentParser:
    """The command line of the pod's staging step."""
    parser = argparse.ArgumentParser(
        prog="python -m workloads.training.s3_sync",
        description="Stage a training job's inputs from S3 into the training contract.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    staging = commands.add_parser("stage", help="hyperparameters, channels, newest checkpoint")
    staging.add_argument(
        "--hyperparameters", default="{}", help="a JSON object (values become strings)"
    )
    staging.add_argument(
        "--channel", type=_channel, action="append", default=[], metavar="NAME=S3_URI"
    )
    staging.add_argument("--checkpoints", help="resume from the newest checkpoint under this URI")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the staging step; 0 on success, 1 with the reason on stderr."""
    arguments = build_parser().parse_args(argv)
    try:
        hyperparameters = json.loads(arguments.hyperparameters)
        if not isinstance(hyperparameters, dict):
            raise S3SyncError("--hyperparameters must be a JSON object")
        stage(
            hyperparameters=hyperparameters,
            channels=dict(arguments.channel),
            checkpoints=arguments.checkpoints,
        )
    except (S3SyncError, json.JSONDecodeError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
