"""Crash-safe checkpoints: saved atomically, verified by digest, resumed from the newest valid one.

Managed spot training may stop the instance at any moment: SageMaker sends SIGTERM, gives about
120 seconds, syncs ``/opt/ml/checkpoints`` to S3 and, on the next instance, downloads it again
before the job restarts. A checkpoint interrupted half way, or damaged on the way through S3, must
never be the one a restart trusts, and must never cost the checkpoints written before it.

So each checkpoint is one file whose name carries its step and the sha256 of its bytes::

    checkpoint-000000042-<64 hex digits>.ckpt

A save writes the payload to a hidden temporary file in the same directory, fsyncs it, hashes
what is on disk, renames it into place (one atomic ``os.replace``: the digest travels in the
name, so there is no second file to keep in step) and fsyncs the directory; only then are older
checkpoints pruned. A reader trusts a file only when its bytes hash to the digest in its name and
its loader succeeds; anything else is skipped with a warning naming the file.

One writer per directory (rank 0 in distributed training): a save removes the hidden temporary
files that a crashed earlier save left behind. Framework-neutral: the caller says how to write and
read its payload (``torch.save``, an XGBoost booster, ...). Standard library only.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from workloads.atomic_files import give_normal_mode

logger = logging.getLogger(__name__)

T = TypeVar("T")

_PREFIX = "checkpoint-"
# Hidden, so neither a reader nor a glob for checkpoints ever picks up a half-written file.
_TEMPORARY_PREFIX = f".{_PREFIX}"
_TEMPORARY_SUFFIX = ".tmp"
_STEP_DIGITS = 9
_CHUNK = 1 << 20


@dataclass(frozen=True, order=True)
class CheckpointFile:
    """One checkpoint file as named on disk (not yet verified)."""

    step: int
    """The step the checkpoint was saved at (the caller's unit: batches, boosting rounds, ...)."""
    mtime_ns: int
    """Modification time: orders two files of the same step (a re-save after a resume)."""
    path: Path
    """Where the file is."""
    sha256: str
    """The hex digest the file's bytes must have."""


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file's bytes, read in chunks (checkpoints may be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_file(path: Path) -> None:
    with path.open("rb") as stream:
        os.fsync(stream.fileno())


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; some filesystems cannot open a directory, then the
    # rename's durability is theirs to give.
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


class CheckpointStore:
    """Numbered checkpoints in one directory, each saved atomically and verified on load.

    ``keep`` is how many checkpoints survive a save (the one just written and the newest older
    ones): 2 means a checkpoint damaged after its save still leaves one to fall back to.
    ``suffix`` ends every checkpoint's name, temporary files included (some writers, such as
    XGBoost's ``save_model``, pick a format from the extension).
    """

    def __init__(self, directory: Path, keep: int = 2, *, suffix: str = ".ckpt") -> None:
        if keep < 1:
            raise ValueError(f"keep must be >= 1, not {keep}")
        if "/" in suffix or (suffix and not suffix.startswith(".")):
            raise ValueError(f"suffix must be empty or start with '.', not {suffix!r}")
        self.directory = Path(directory)
        self.keep = keep
        self.suffix = suffix
        self._name = re.compile(
            rf"{re.escape(_PREFIX)}(\d+)-([0-9a-f]{{64}}){re.escape(suffix)}",
        )

    def path_for(self, step: int, sha256: str) -> Path:
        """Where the checkpoint of ``step`` whose bytes hash to ``sha256`` lives."""
        return self.directory / f"{_PREFIX}{step:0{_STEP_DIGITS}d}-{sha256}{self.suffix}"

    def checkpoints(self) -> list[CheckpointFile]:
        """Every file named like a checkpoint, oldest first (by step, then time); unverified."""
        if not self.directory.is_dir():
            return []
        found = []
        for entry in os.scandir(self.directory):
            match = self._name.fullmatch(entry.name)
            if match is None or not entry.is_file():
                continue
            try:
                mtime_ns = entry.stat().st_mtime_ns
            except FileNotFoundError:  # pruned by another process since the scan
                continue
            found.append(CheckpointFile(int(match[1]), mtime_ns, Path(entry.path), match[2]))
        return sorted(found)

    def save(self, step: int, write: Callable[[Path], None]) -> Path:
        """Save a checkpoint of ``step``; returns its path.

        ``write`` writes the payload to the temporary path it is given. The store fsyncs it,
        hashes it, renames it atomically into place, fsyncs the directory and then prunes to the
        newest ``keep``. A crash at any moment leaves the previous checkpoints valid; an
        exception from ``write`` leaves no file behind and propagates.
        """
        if step < 0:
            raise ValueError(f"step must be >= 0, not {step}")
        self.directory.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temporaries()
        handle, name = tempfile.mkstemp(
            dir=self.directory,
            prefix=f"{_TEMPORARY_PREFIX}{step:0{_STEP_DIGITS}d}-",
            suffix=f"{_TEMPORARY_SUFFIX}{self.suffix}",
        )
        os.close(handle)
        temporary = Path(name)
        try:
            write(temporary)
            # Not mkstemp's 0600: a checkpoint is a model too (a notebook or another user's
            # job may load it), and a user who wants it private sets the umask, as for any file.
            give_normal_mode(temporary)
            _fsync_file(temporary)
            # Hash the bytes the file holds (what a reader will check), not what was meant.
            path = self.path_for(step, sha256_of(temporary))
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _fsync_directory(self.directory)
        self._prune(keeping=path)
        return path

    def load_latest(self, load: Callable[[Path], T]) -> tuple[int, T] | None:
        """``(step, payload)`` of the newest checkpoint that verifies and loads; else ``None``.

        A newest checkpoint whose bytes do not match its digest (truncated, bit-flipped), or
        that ``load`` raises on, is skipped with a warning naming the file, and the next older
        one is tried.
        """
        for checkpoint in reversed(self.checkpoints()):
            try:
                actual = sha256_of(checkpoint.path)
            except OSError as error:
                logger.warning(
                    "skipping checkpoint %s: cannot read it (%s)", checkpoint.path, error
                )
                continue
            if actual != checkpoint.sha256:
                logger.warning(
                    "skipping checkpoint %s: its sha256 is %s, not the %s it was saved with "
                    "(truncated or corrupted)",
                    checkpoint.path,
                    actual,
                    checkpoint.sha256,
                )
                continue
            try:
                payload = load(checkpoint.path)
            except Exception as error:
                logger.warning(
                    "skipping checkpoint %s: it does not load (%s: %s)",
                    checkpoint.path,
                    type(error).__name__,
                    error,
                )
                continue
            return checkpoint.step, payload
        return None

    def _prune(self, keeping: Path) -> None:
        found = [checkpoint for checkpoint in self.checkpoints() if checkpoint.path != keeping]
        step = int(self._name.fullmatch(keeping.name)[1])  # type: ignore[index]
        # The checkpoint just written always stays, even if an abandoned run left higher steps;
        # an older file of the same step (saved again after a resume) adds nothing.
        duplicates = [checkpoint for checkpoint in found if checkpoint.step == step]
        others = [checkpoint for checkpoint in found if checkpoint.step != step]
        surplus = others[: max(0, len(others) - (self.keep - 1))]
        for old in duplicates + surplus:
            old.path.unlink(missing_ok=True)

    def _remove_stale_temporaries(self) -> None:
        # Left by a save that crashed (or was killed) between mkstemp and the rename.
        for entry in os.scandir(self.directory):
            if entry.name.startswith(_TEMPORARY_PREFIX) and entry.name.endswith(
                f"{_TEMPORARY_SUFFIX}{self.suffix}"
            ):
                Path(entry.path).unlink(missing_ok=True)
