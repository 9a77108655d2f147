"""Our code as archives: reproducible ``sourcedir.tar.gz`` files of ``workloads/``, and a zip.

Two tar archives, one builder:

* **inference**: AWS's prebuilt framework containers download the archive named by
  ``SAGEMAKER_SUBMIT_DIRECTORY``, unpack it to ``/opt/ml/code``, put that folder on ``sys.path``
  and import ``SAGEMAKER_PROGRAM`` from it. It holds the ``workloads`` package files the handlers
  need and, at its root, a copy of ``workloads/inference/sagemaker_program.py`` named
  ``inference.py`` that re-exports the handlers, so the container finds ``model_fn`` & co.
* **training**: the training containers run in script mode. The archive reaches the job as the
  input channel ``code`` and the hyperparameter ``sagemaker_submit_directory`` names its local
  path, which the sagemaker-training toolkit unpacks before it runs ``sagemaker_program``: a copy
  of ``workloads/training/sagemaker_program.py`` named ``train.py`` at the archive's root, next
  to the ``workloads`` files the training code imports.

And a zip, **monitoring**: the drift monitor's processing jobs get ``workloads/__init__.py`` and
``workloads/monitoring/*.py`` as one zip file that SageMaker downloads (processing inputs are never
unpacked) and Python imports in place (``PYTHONPATH=<zip>``, zipimport).

Each archive is byte-for-byte reproducible (sorted entries, fixed times, owners and permissions, no
gzip timestamp): the same code gives the same digest, so the S3 object and whatever points at it
only change when the code does.

And the one upload, :func:`upload_archive`: every layer that ships an archive puts it in one of
the data layer's buckets the same way (KMS-encrypted with the platform key, a content type from
the file, a key the layer names by the digest) and points its users at the object's key.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.shared.spec_rules import PROJECT_ROOT
from workloads.inference.handler_code import ENTRY_POINT, ENTRY_POINT_SOURCE, HANDLER_FILES

#: Where the program writes the archives it uploads (ignored by git).
ARCHIVE_DIR = PROJECT_ROOT / "build" / "archives"


@dataclass(frozen=True)
class ArchiveLayout:
    """What goes into one kind of source archive."""

    kind: str
    """Names the file (``<kind>-sourcedir-<digest>.tar.gz``) and the error messages."""
    entry_point: str
    """The program at the archive's root that the container runs or imports."""
    entry_point_source: str
    """The repository file copied to ``entry_point``."""
    files: Sequence[str]
    """Repository files in the archive, as glob patterns relative to its root."""
    required: Sequence[str]
    """Files without which the archive is useless; a missing one is an error naming it."""
    purpose: str
    """What a missing required file prevents, for the error message."""


# The inference archive's entry point and files are the handler files that PyTorch model
# directories carry in code/: one list, in the workloads module that copies them there.
INFERENCE_FILES = HANDLER_FILES

#: Files the archive must contain, or the containers could not serve at all.
REQUIRED_FILES = ("workloads/inference/handlers.py", ENTRY_POINT_SOURCE)

#: The inference archive (the prebuilt serving containers).
INFERENCE = ArchiveLayout(
    kind="inference",
    entry_point=ENTRY_POINT,
    entry_point_source=ENTRY_POINT_SOURCE,
    files=INFERENCE_FILES,
    required=REQUIRED_FILES,
    purpose="the inference handlers cannot be shipped",
)

#: The program the training toolkit runs (the hyperparameter ``sagemaker_program``), at the root.
TRAINING_ENTRY_POINT = "train.py"

#: The module that becomes ``train.py`` at the archive's root.
TRAINING_ENTRY_POINT_SOURCE = "workloads/training/sagemaker_program.py"

#: Files of the repository the training code imports (the model layout and network it saves,
#: and the ``with``-block base of its progress display).
TRAINING_FILES = (
    "workloads/__init__.py",
    "workloads/closing.py",
    "workloads/model_layout.py",
    "workloads/tabular_net.py",
    "workloads/training/*.py",
    # PyTorch models carry the inference handlers in code/ (workloads/inference/handler_code.py).
    *HANDLER_FILES,
)

#: The training archive (script mode in the training containers).
TRAINING = ArchiveLayout(
    kind="training",
    entry_point=TRAINING_ENTRY_POINT,
    entry_point_source=TRAINING_ENTRY_POINT_SOURCE,
    files=TRAINING_FILES,
    required=(TRAINING_ENTRY_POINT_SOURCE,),
    purpose="the training code cannot be shipped",
)


@dataclass(frozen=True)
class SourceArchive:
    """A built archive: where it lies and the digest of its bytes."""

    path: Path
    """The ``.tar.gz`` file."""
    sha256: str
    """Hex digest of the file's bytes (names the S3 object, so code changes roll what uses it)."""
    entry_point: str = ENTRY_POINT
    """The program at the archive's root."""


#: The S3 object's Content-Type by the archive file's suffix.
CONTENT_TYPES = {".gz": "application/gzip", ".zip": "application/zip"}


def content_type(archive: SourceArchive) -> str:
    """The Content-Type of ``archive``'s S3 object, from its file's suffix.

    Raises:
        ValueError: naming the file when its suffix is none of :data:`CONTENT_TYPES`.

    """
    suffix = archive.path.suffix
    if suffix not in CONTENT_TYPES:
        known = ", ".join(CONTENT_TYPES)
        raise ValueError(f"{archive.path}: no content type for suffix {suffix!r} (known: {known})")
    return CONTENT_TYPES[suffix]


def archive_members(root: Path, layout: ArchiveLayout = INFERENCE) -> list[Path]:
    """The files (relative to ``root``) that go into the archive, sorted.

    Raises:
        FileNotFoundError: naming the first required file that is missing.

    """
    files = {path.relative_to(root) for pattern in layout.files for path in root.glob(pattern)}
    members = sorted(path for path in files if (root / path).is_file())
    for required in layout.required:
        if Path(required) not in members:
            raise FileNotFoundError(f"{root / required} is missing: {layout.purpose}")
    return members


def _save_archive(data: bytes, out_dir: Path, file_name: str, entry_point: str) -> SourceArchive:
    """Write an archive's bytes ``data`` once to ``out_dir`` and return it as a SourceArchive.

    ``file_name`` holds ``{digest}``, replaced by the first 16 hex digits of the bytes' SHA-256,
    so the same code always lands in the same file (an existing one is left as it is).
    """
    digest = hashlib.sha256(data).hexdigest()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / file_name.format(digest=digest[:16])
    if not path.exists():
        path.write_bytes(data)
    return SourceArchive(path=path, sha256=digest, entry_point=entry_point)


def build_archive(root: Path, out_dir: Path, layout: ArchiveLayout) -> SourceArchive:
    """Write ``out_dir/<kind>-sourcedir-<digest>.tar.gz`` from ``root`` and return it."""
    members = archive_members(root, layout)  # fails first, and clearly, when code is missing
    buffer = io.BytesIO()
    # mtime=0 keeps gzip's header free of the build time.
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=9) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        entries = [(layout.entry_point, (root / layout.entry_point_source).read_bytes())]
        entries += [(member.as_posix(), (root / member).read_bytes()) for member in members]
        for name, content in sorted(entries):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), 0o644, 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            archive.addfile(info, io.BytesIO(content))
    return _save_archive(
        buffer.getvalue(), out_dir, f"{layout.kind}-sourcedir-{{digest}}.tar.gz", layout.entry_point
    )


def build_source_archive(root: Path, out_dir: Path) -> SourceArchive:
    """Write ``out_dir/inference-sourcedir-<digest>.tar.gz`` from ``root`` and return it."""
    return build_archive(root, out_dir, INFERENCE)


def build_training_archive(root: Path, out_dir: Path) -> SourceArchive:
    """Write ``out_dir/training-sourcedir-<digest>.tar.gz`` from ``root`` and return it."""
    return build_archive(root, out_dir, TRAINING)


#: Files of the monitoring zip: the package and the monitor's modules (no tests, no subfolders).
#: ``workloads/aws_errors.py`` gives the job's AWS errors the same wording as the commands'.
MONITORING_FILES = ("workloads/__init__.py", "workloads/aws_errors.py", "workloads/monitoring/*.py")

#: Files without which the monitor's jobs could not even import their contract.
MONITORING_REQUIRED = ("workloads/__init__.py", "workloads/monitoring/__init__.py")

#: The zip's fixed entry time: the earliest a zip can record (its epoch).
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def build_monitoring_archive(root: Path, out_dir: Path) -> SourceArchive:
    """Write ``out_dir/monitoring-code-<digest>.zip`` from ``root`` and return it.

    Entries are sorted, dated 1980-01-01 and ``-rw-r--r--``, so the same code gives the same bytes.

    Raises:
        FileNotFoundError: naming the first required file that is missing.

    """
    layout = ArchiveLayout(
        kind="monitoring",
        entry_point="",
        entry_point_source="",
        files=MONITORING_FILES,
        required=MONITORING_REQUIRED,
        purpose="the monitoring code cannot be shipped",
    )
    members = archive_members(root, layout)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member in members:
            info = zipfile.ZipInfo(member.as_posix(), date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the permissions below are what readers see
            info.external_attr = (0o100644 & 0xFFFF) << 16
            archive.writestr(info, (root / member).read_bytes(), compresslevel=9)
    return _save_archive(buffer.getvalue(), out_dir, "monitoring-code-{digest}.zip", "")


def project_relative(path: Path) -> str:
    """``path`` relative to the working directory (the project) when it lies inside it.

    What an uploaded archive's ``FileAsset`` names, so plans do not depend on where the clone is.
    """
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


@dataclass(frozen=True)
class UploadedArchive:
    """An archive uploaded as an S3 object."""

    resource: aws.s3.BucketObjectv2
    """The S3 object, for ``depends_on`` where an input alone would not order the deploy."""
    key: pulumi.Output[str]
    """The object's key, as the object's output: what uses it waits for the upload."""
    uri: pulumi.Output[str]
    """``s3://<bucket>/<key>``."""


def upload_archive(
    name: str,
    archive: SourceArchive,
    *,
    bucket: pulumi.Input[str],
    key: str,
    kms_key_arn: pulumi.Input[str],
    parent: pulumi.Resource,
) -> UploadedArchive:
    """Upload ``archive`` to ``bucket`` under ``key`` as the S3 object ``name``, under ``parent``.

    The object is encrypted with the platform key (``kms_key_arn``), like everything in the data
    layer's buckets. ``key`` should change with the archive's digest, so that what runs the code
    rolls when the code changes and stays put when it does not.
    """
    code_object = aws.s3.BucketObjectv2(
        name,
        bucket=bucket,
        key=key,
        # Relative to the project, so plans do not depend on where the clone lives.
        source=pulumi.FileAsset(project_relative(archive.path)),
        content_type=content_type(archive),
        server_side_encryption="aws:kms",
        kms_key_id=kms_key_arn,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return UploadedArchive(
        resource=code_object,
        key=code_object.key,
        uri=pulumi.Output.concat("s3://", bucket, "/", code_object.key),
    )
