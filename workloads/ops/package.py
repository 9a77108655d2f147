"""Packaging a model directory as the ``model.tar.gz`` SageMaker's containers load; its upload.

The archive holds the model directory's files at its root (``metadata.json`` and the model file,
see ``workloads/model_layout.py``). A PyTorch model also gets ``code/``: ``code/inference.py`` and
the handler files, the ones AWS's PyTorch inference toolkit imports from inside the archive. The
lists are ``workloads/inference/handler_code.py``'s, the same that training copies into a PyTorch
model directory and that the Pulumi program's inference source archive ships; ``code/`` is always
rebuilt from them here, so a ``code/`` already in the directory is replaced, never merged.

The archive is reproducible: members sorted by name, each a regular file stamped mtime 0, uid and
gid 0, owner ``root``, mode 0644, no directory entries, relative names only, and a gzip header with
no time and no file name. The same files (and the same handler code) give the same bytes, so the
sha256 of the archive identifies the model. Symbolic links to files inside the directory are
stored as the file they point at; a link that leads outside the directory, or to a directory, is
refused, as is anything that is not a regular file.

Upload puts the archive at ``<prefix>/<sha256[:16]>/model.tar.gz`` with SSE-KMS, the digest as the
object's ``sha256`` metadata and, where botocore knows it, ``ChecksumSHA256`` (S3 then checks the
bytes it received). An object already at that key with the same digest is left alone; one with
another digest is never overwritten.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from workloads.inference.handler_code import (
    CODE_DIR,
    ENTRY_POINT,
    ENTRY_POINT_SOURCE,
    PACKAGE_ROOT,
    handler_files,
)
from workloads.model_layout import PYTORCH, ModelLayoutError, load_model
from workloads.ops.clients import service_client
from workloads.ops.errors import OpsError, aws_errors, error_code
from workloads.ops.s3_uri import s3_uri_problem

if TYPE_CHECKING:
    import boto3

#: The object name SageMaker's containers expect, under the digest's folder.
ARCHIVE_NAME = "model.tar.gz"

#: Default bound on the model directory's files, in bytes (summed): ``--max-bytes``.
MAX_MODEL_BYTES = 4 * 1024**3

#: The most files a model directory may hold (a model directory holds a handful).
MAX_FILES = 10_000

#: The largest object one PutObject request may carry (5 GiB): the bound on an uploaded archive.
MAX_PUT_BYTES = 5 * 1024**3

#: Digits of the sha256 that name the archive's folder under the upload prefix.
KEY_DIGITS = 16

#: gzip level: 6 (zlib's default) rather than 9, which costs much time on weights and saves little.
_GZIP_LEVEL = 6

_CHUNK = 1024 * 1024
_NOT_FOUND = ("404", "NoSuchKey", "NotFound")


@dataclass(frozen=True)
class _Member:
    """One file of the archive: its name there and the file its bytes come from."""

    name: str
    source: Path
    size: int


@dataclass(frozen=True)
class PackagedModel:
    """A written ``model.tar.gz``: where it is, its digest and what it holds."""

    model_dir: Path
    framework: str
    archive: Path
    sha256: str
    size: int
    members: tuple[str, ...]
    s3_uri: str | None = None
    uploaded: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """The command's JSON result (``s3_uri`` and ``uploaded`` only after an upload)."""
        result: dict[str, Any] = {
            "model_dir": str(self.model_dir),
            "framework": self.framework,
            "archive": str(self.archive),
            "sha256": self.sha256,
            "bytes": self.size,
            "members": list(self.members),
        }
        if self.s3_uri is not None:
            result["s3_uri"] = self.s3_uri
            result["uploaded"] = self.uploaded
        return result


def default_archive_path(model_dir: str | os.PathLike[str]) -> Path:
    """``<model-dir>.tar.gz`` beside the directory (``models/iris`` -> ``models/iris.tar.gz``).

    Beside rather than inside (the archive would pack itself next time) and named after the
    directory, so packaging several models of one folder never overwrites another's archive.
    """
    path = Path(model_dir)
    if path.name in ("", ".", ".."):
        path = path.resolve()
    return path.with_name(f"{path.name}.tar.gz")


def package_model(
    model_dir: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    max_bytes: int = MAX_MODEL_BYTES,
    code_root: Path = PACKAGE_ROOT,
) -> PackagedModel:
    """Write ``model_dir`` as a reproducible ``model.tar.gz`` at ``out``; what was written.

    ``out`` defaults to :func:`default_archive_path`. Refused with an ``OpsError`` naming the
    directory, before anything is written: a directory that is missing or not a directory, that
    fails ``load_model`` (the checks the server makes when it starts), that holds a link out of it,
    a link to a directory or a special file, more than :data:`MAX_FILES` files or more than
    ``max_bytes`` bytes of them; and an ``out`` inside the directory. ``code_root`` is where the
    handler files for a PyTorch model's ``code/`` are read from (this checkout).
    """
    directory = Path(model_dir)
    try:
        target = Path(out) if out is not None else default_archive_path(directory)
        framework, members = _members(directory, target, max_bytes, code_root)
        _write_archive(target, members)
        digest, size = _sha256(target)
    except OpsError as error:
        raise OpsError(f"Cannot package model directory '{directory}': {error}") from None
    except (OSError, RuntimeError) as error:  # RuntimeError: a symbolic link loop (Path.resolve)
        raise OpsError(
            f"Cannot package model directory '{directory}': {_one_line(error)}"
        ) from None
    return PackagedModel(
        model_dir=directory,
        framework=framework,
        archive=target,
        sha256=digest,
        size=size,
        members=tuple(member.name for member in members),
    )


def _members(
    directory: Path, target: Path, max_bytes: int, code_root: Path
) -> tuple[str, list[_Member]]:
    """The model's framework and the archive's members, sorted; an ``OpsError`` when refused."""
    if not directory.exists():
        raise OpsError("does not exist")
    if not directory.is_dir():
        raise OpsError("is not a directory")
    root = directory.resolve()
    if target.resolve().is_relative_to(root):
        raise OpsError(f"the archive {target} would be inside it; write it elsewhere")
    if target.is_dir():
        raise OpsError(f"the archive path {target} is a directory")
    members = _model_files(root, max_bytes)
    framework = _check_layout(directory)
    if framework == PYTORCH:
        members = [m for m in members if PurePosixPath(m.name).parts[0] != CODE_DIR]
        members += _code_members(code_root)
    return framework, sorted(members, key=lambda member: member.name)


def _one_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return " ".join(text.splitlines())


def _check_layout(directory: Path) -> str:
    """Load the model as the server would; its framework, or an ``OpsError`` saying why not."""
    try:
        return load_model(directory).metadata.framework
    except ModelLayoutError as error:
        raise OpsError(_one_line(error)) from None
    except (ImportError, ValueError) as error:  # a framework missing here, a loader's refusal
        raise OpsError(f"cannot be loaded ({type(error).__name__}: {_one_line(error)})") from None


def _model_files(root: Path, max_bytes: int) -> list[_Member]:
    """Every file under ``root`` as an archive member, after the link, type and size checks."""
    found: list[_Member] = []
    total = 0
    for folder, dirs, names in os.walk(root, followlinks=False, onerror=_raise):
        base = Path(folder)
        for name in sorted(dirs):
            path = base / name
            if path.is_symlink():
                where = _relative(root, path)
                if not _inside(root, path.resolve()):
                    raise OpsError(f"{where} is a symbolic link that leads outside the directory")
                raise OpsError(f"{where} is a symbolic link to a directory (not followed)")
        for name in names:
            path = base / name
            where = _relative(root, path)
            source = path
            if path.is_symlink():
                source = path.resolve()
                if not _inside(root, source):
                    raise OpsError(f"{where} is a symbolic link that leads outside the directory")
            try:
                status = source.stat()
            except FileNotFoundError:
                raise OpsError(f"{where} is a symbolic link to nothing") from None
            if stat.S_ISDIR(status.st_mode):
                raise OpsError(f"{where} is a symbolic link to a directory (not followed)")
            if not stat.S_ISREG(status.st_mode):
                raise OpsError(f"{where} is not a regular file")
            try:
                where.encode("utf-8")
            except UnicodeEncodeError:
                raise OpsError(f"{where!r}: the file name is not UTF-8") from None
            total += status.st_size
            if total > max_bytes:
                raise OpsError(f"its files hold more than {max_bytes:,} bytes (the bound)")
            found.append(_Member(where, source, status.st_size))
            if len(found) > MAX_FILES:
                raise OpsError(f"it holds more than {MAX_FILES:,} files (the bound)")
    return found


def _raise(error: OSError) -> None:
    raise error


def _inside(root: Path, resolved: Path) -> bool:
    return resolved != root and resolved.is_relative_to(root)


def _relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _code_members(code_root: Path) -> list[_Member]:
    """``code/inference.py`` and ``code/<handler file>``, read from ``code_root``.

    The same files in the same places as ``write_handler_code`` copies them, from the lists in
    ``workloads/inference/handler_code.py``.
    """
    try:
        files = handler_files(code_root)
    except FileNotFoundError as error:
        raise OpsError(f"the PyTorch handlers cannot be added: {error}") from None
    entries = [(ENTRY_POINT, code_root / ENTRY_POINT_SOURCE)]
    entries += [(relative.as_posix(), code_root / relative) for relative in files]
    return [
        _Member(f"{CODE_DIR}/{name}", source, source.stat().st_size) for name, source in entries
    ]


def _write_archive(target: Path, members: list[_Member]) -> None:
    """Write ``members`` as a reproducible tar.gz at ``target``, atomically (never a half file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as raw:
            # filename="" keeps the temporary file's name out of the gzip header, mtime=0 the time.
            with (
                gzip.GzipFile(
                    filename="", fileobj=raw, mode="wb", mtime=0, compresslevel=_GZIP_LEVEL
                ) as compressed,
                tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
            ):
                for member in members:
                    info = tarfile.TarInfo(member.name)
                    info.mode, info.mtime = 0o644, 0
                    info.uid = info.gid = 0
                    info.uname = info.gname = "root"
                    with _open_regular(member) as source:
                        info.size = member.size
                        archive.addfile(info, source)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextmanager
def _open_regular(member: _Member) -> Iterator[IO[bytes]]:
    """The member's file, opened without following a link swapped in since the scan."""
    fd = os.open(member.source, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as source:
        status = os.fstat(source.fileno())
        if not stat.S_ISREG(status.st_mode) or status.st_size != member.size:
            raise OpsError(f"{member.name} changed while it was being packaged")
        yield source


def _sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as archive:
        while chunk := archive.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def archive_key(prefix: str, sha256: str) -> str:
    """``<prefix>/<sha256[:16]>/model.tar.gz`` (no leading slash; an empty prefix adds nothing)."""
    folder = f"{sha256[:KEY_DIGITS]}/{ARCHIVE_NAME}"
    return f"{prefix}/{folder}" if prefix else folder


def parse_upload_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` as ``(bucket, prefix)``; an ``OpsError`` for anything else.

    A trailing slash is dropped; empty, ``.`` and ``..`` segments are refused (S3 would keep them
    as literal key characters, never what was meant).
    """
    if problem := s3_uri_problem("--upload", uri):
        raise OpsError(problem)
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    prefix = prefix.rstrip("/")
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        raise OpsError(f"--upload prefix {prefix!r} has an empty, '.' or '..' segment")
    return bucket, prefix


def upload_package(
    packaged: PackagedModel,
    upload_uri: str,
    *,
    kms_key_id: str | None = None,
    client: Any = None,
    session: boto3.Session | None = None,
) -> PackagedModel:
    """Upload ``packaged`` under ``upload_uri``; the package with ``s3_uri`` and ``uploaded`` set.

    The key is :func:`archive_key`. When an object is already there with ``sha256`` metadata
    equal to the archive's digest, nothing is sent (``uploaded`` False); any other object there is
    an ``OpsError`` and is left as it is. The object is encrypted with SSE-KMS: ``kms_key_id``, or
    when None S3's AWS managed key ``aws/s3`` (what S3 does with ``aws:kms`` and no key id; not
    the bucket's default key), so pass the platform key for the platform's buckets.
    """
    bucket, prefix = parse_upload_uri(upload_uri)
    key = archive_key(prefix, packaged.sha256)
    uri = f"s3://{bucket}/{key}"
    if packaged.size > MAX_PUT_BYTES:
        raise OpsError(
            f"Cannot upload {packaged.archive}: {packaged.size:,} bytes is more than one "
            f"PutObject takes ({MAX_PUT_BYTES:,})"
        )
    s3 = service_client("s3", "S3", client, session)
    existing = _existing_digest(s3, bucket, key, uri)
    if existing is not None:
        if existing == packaged.sha256:
            return _with_upload(packaged, uri, uploaded=False)
        recorded = f"sha256 {existing}" if existing else "no sha256 metadata"
        raise OpsError(
            f"Cannot upload to {uri}: an object with {recorded} is already there, not sha256 "
            f"{packaged.sha256}; it is not overwritten"
        )
    request: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "ContentType": "application/gzip",
        "ServerSideEncryption": "aws:kms",
        "Metadata": {"sha256": packaged.sha256},
    }
    if kms_key_id:
        request["SSEKMSKeyId"] = kms_key_id
    if _put_takes_sha256(s3):
        request["ChecksumSHA256"] = base64.b64encode(bytes.fromhex(packaged.sha256)).decode()
    with aws_errors(f"PutObject {uri}"), packaged.archive.open("rb") as body:
        s3.put_object(Body=body, **request)
    return _with_upload(packaged, uri, uploaded=True)


def _with_upload(packaged: PackagedModel, uri: str, *, uploaded: bool) -> PackagedModel:
    return replace(packaged, s3_uri=uri, uploaded=uploaded)


def _existing_digest(s3: Any, bucket: str, key: str, uri: str) -> str | None:
    """The ``sha256`` metadata of the object at ``key`` ('' without it); None when there is none."""
    with aws_errors(f"HeadObject {uri}"):
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error_code(error) in _NOT_FOUND:
                return None
            if error_code(error) == "403":
                # HEAD answers have no body, so S3 can only say 403: name what it needs.
                raise OpsError(
                    f"HeadObject {uri} failed: AccessDenied (403): needs s3:GetObject on the key "
                    "(and s3:ListBucket on the bucket, or a missing key looks like this too)"
                ) from None
            raise
    return str(head.get("Metadata", {}).get("sha256", ""))


def _put_takes_sha256(s3: Any) -> bool:
    """Whether the installed botocore's PutObject has a ``ChecksumSHA256`` member."""
    shape = s3.meta.service_model.operation_model("PutObject").input_shape
    return "ChecksumSHA256" in shape.members
