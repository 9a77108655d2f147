"""The inference code as a source archive: a reproducible ``sourcedir.tar.gz`` of ``workloads/``.

AWS's prebuilt framework containers download the archive named by ``SAGEMAKER_SUBMIT_DIRECTORY``,
unpack it to ``/opt/ml/code``, put that folder on ``sys.path`` and import ``SAGEMAKER_PROGRAM``
from it. The archive holds the ``workloads`` package files the handlers need and, at its root, a
copy of ``workloads/inference/sagemaker_program.py`` named ``inference.py`` that re-exports the
handlers, so the container finds ``model_fn`` & co.

The archive is byte-for-byte reproducible (sorted entries, fixed times and owners, no gzip
timestamp): the same code gives the same digest, so the S3 object and the models that point at it
only change when the code does.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: The program the prebuilt containers import (``SAGEMAKER_PROGRAM``), at the archive's root.
ENTRY_POINT = "inference.py"

#: The module that becomes ``inference.py`` at the archive's root: it re-exports the handlers.
ENTRY_POINT_SOURCE = "workloads/inference/sagemaker_program.py"

#: Files of the repository the handlers import, as glob patterns relative to its root. The
#: containers have the standard library, numpy and their framework, nothing else of ours.
INFERENCE_FILES = (
    "workloads/__init__.py",
    "workloads/model_layout.py",
    "workloads/tabular_net.py",
    "workloads/inference/*.py",
)

#: Files the archive must contain, or the containers could not serve at all.
REQUIRED_FILES = ("workloads/inference/handlers.py", ENTRY_POINT_SOURCE)


@dataclass(frozen=True)
class SourceArchive:
    """A built archive: where it lies and the digest of its bytes."""

    path: Path
    """The ``.tar.gz`` file."""
    sha256: str
    """Hex digest of the file's bytes (names the S3 object, so code changes roll the models)."""


def archive_members(root: Path, patterns: Iterable[str] = INFERENCE_FILES) -> list[Path]:
    """The files (relative to ``root``) that go into the archive, sorted."""
    files = {path.relative_to(root) for pattern in patterns for path in root.glob(pattern)}
    members = sorted(path for path in files if (root / path).is_file())
    for required in REQUIRED_FILES:
        if Path(required) not in members:
            raise FileNotFoundError(
                f"{root / required} is missing: the inference handlers cannot be shipped"
            )
    return members


def build_source_archive(root: Path, out_dir: Path) -> SourceArchive:
    """Write ``out_dir/inference-sourcedir-<digest>.tar.gz`` from ``root`` and return it."""
    members = archive_members(root)  # fails first, and clearly, when the handlers are missing
    buffer = io.BytesIO()
    # mtime=0 keeps gzip's header free of the build time.
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=9) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        entries = [(ENTRY_POINT, (root / ENTRY_POINT_SOURCE).read_bytes())]
        entries += [(member.as_posix(), (root / member).read_bytes()) for member in members]
        for name, content in sorted(entries):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), 0o644, 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            archive.addfile(info, io.BytesIO(content))
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"inference-sourcedir-{digest[:16]}.tar.gz"
    if not path.exists():
        path.write_bytes(data)
    return SourceArchive(path=path, sha256=digest)
