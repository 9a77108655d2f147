"""Packaging a model directory as model.tar.gz: layout, reproducibility, refusals, CLI, upload."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from tests.workloads.dummy_credentials import use_no_aws_configuration
from tests.workloads.inference.conftest import ModelDirs
from tests.workloads.inference.models import predict_with_handler_code
from tests.workloads.ops.conftest import KMS_KEY, REGION
from workloads.inference.handler_code import ENTRY_POINT_SOURCE, PACKAGE_ROOT, handler_files
from workloads.model_layout import load_model
from workloads.ops.cli import main
from workloads.ops.errors import OpsError
from workloads.ops.package import (
    MAX_FILES,
    PackagedModel,
    archive_key,
    default_archive_path,
    package_model,
    upload_package,
)

BUCKET = "models"
CODE_FILES = sorted(["code/inference.py", *(f"code/{p.as_posix()}" for p in handler_files())])


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> ModelDirs:
    """The inference tests' model directories (sklearn, xgboost, pytorch), trained on first use."""
    return ModelDirs(tmp_path_factory.mktemp("models"))


def copy_of(model_dirs: ModelDirs, name: str, where: Path) -> Path:
    """A copy of a trained model directory that a test may break."""
    return Path(shutil.copytree(model_dirs[name], where / name, symlinks=True))


def members(archive: Path) -> list[tarfile.TarInfo]:
    """The archive's entries, in their order."""
    with tarfile.open(archive, "r:gz") as tar:
        return tar.getmembers()


def extract(archive: Path, where: Path) -> Path:
    """The archive unpacked into ``where`` (as SageMaker unpacks it into /opt/ml/model)."""
    where.mkdir(parents=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(where, filter="data")
    return where


# --- what goes in the archive ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "model_file"), [("sklearn", "model.joblib"), ("xgboost", "model.ubj")]
)
def test_a_tree_model_archive_holds_the_directory_at_its_root(
    model_dirs: ModelDirs, tmp_path: Path, name: str, model_file: str
) -> None:
    # given a trained model directory
    model_dir = model_dirs[name]
    # when it is packaged
    packaged = package_model(model_dir, tmp_path / "model.tar.gz")
    # then the archive holds its files at the root, and nothing else
    assert packaged.framework == name
    assert packaged.members == ("metadata.json", model_file)
    assert [entry.name for entry in members(packaged.archive)] == list(packaged.members)
    for entry in members(packaged.archive):
        assert entry.isfile()
        assert (entry.mode, entry.mtime, entry.uid, entry.gid) == (0o644, 0, 0, 0)
        assert (entry.uname, entry.gname) == ("root", "root")
    # and, unpacked, it is the same model directory
    unpacked = extract(packaged.archive, tmp_path / "unpacked")
    for member in packaged.members:
        assert (unpacked / member).read_bytes() == (model_dir / member).read_bytes()
    assert load_model(unpacked).metadata == load_model(model_dir).metadata


def test_a_pytorch_archive_adds_the_handlers_in_code(model_dirs: ModelDirs, tmp_path: Path) -> None:
    # given a PyTorch model directory
    model_dir = model_dirs["pytorch"]
    # when it is packaged
    packaged = package_model(model_dir, tmp_path / "model.tar.gz")
    # then code/ holds inference.py and exactly the handler files handler_code.py lists
    assert packaged.framework == "pytorch"
    assert list(packaged.members) == sorted([*CODE_FILES, "metadata.json", "model.pt"])
    unpacked = extract(packaged.archive, tmp_path / "unpacked")
    assert (unpacked / "code/inference.py").read_bytes() == (
        PACKAGE_ROOT / ENTRY_POINT_SOURCE
    ).read_bytes()
    for relative in handler_files():
        assert (unpacked / "code" / relative).read_bytes() == (PACKAGE_ROOT / relative).read_bytes()


def test_the_pytorch_container_serves_the_unpacked_archive(
    model_dirs: ModelDirs, tmp_path: Path
) -> None:
    # given a packaged PyTorch model, unpacked as the container unpacks it
    packaged = package_model(model_dirs["pytorch"], tmp_path / "model.tar.gz")
    model_dir = extract(packaged.archive, tmp_path / "opt-ml-model")
    # when the container imports code/inference.py from a neutral working directory
    found = predict_with_handler_code(model_dir / "code", model_dir, tmp_path)
    # then the archive's own handlers answer
    assert json.loads(found["body"])["predictions"][0] in ("no", "yes", "maybe")
    assert found["from"].startswith(str(model_dir / "code"))


def test_a_stale_code_dir_is_replaced_not_merged(model_dirs: ModelDirs, tmp_path: Path) -> None:
    # given a PyTorch model directory whose code/ has a stale module and an old inference.py
    model_dir = copy_of(model_dirs, "pytorch", tmp_path)
    (model_dir / "code" / "workloads").mkdir(parents=True)
    (model_dir / "code" / "workloads" / "stale.py").write_text("raise SystemExit(1)\n")
    (model_dir / "code" / "inference.py").write_text("# old\n")
    # when it is packaged
    packaged = package_model(model_dir, tmp_path / "model.tar.gz")
    # then code/ is exactly this checkout's handlers
    assert [m for m in packaged.members if m.startswith("code/")] == CODE_FILES
    unpacked = extract(packaged.archive, tmp_path / "unpacked")
    assert (unpacked / "code/inference.py").read_bytes() != b"# old\n"


def test_a_symlink_to_a_file_inside_is_stored_as_that_file(
    model_dirs: ModelDirs, tmp_path: Path
) -> None:
    # given a model directory with a link to one of its own files
    model_dir = copy_of(model_dirs, "sklearn", tmp_path)
    (model_dir / "notes").mkdir()
    (model_dir / "notes" / "README.txt").write_text("trained on synthetic data\n")
    (model_dir / "README.txt").symlink_to("notes/README.txt")
    # when it is packaged
    packaged = package_model(model_dir, tmp_path / "model.tar.gz")
    # then the link is a regular file with the target's bytes
    entries = {entry.name: entry for entry in members(packaged.archive)}
    assert entries["README.txt"].isfile()
    assert set(entries) == {"README.txt", "metadata.json", "model.joblib", "notes/README.txt"}
    unpacked = extract(packaged.archive, tmp_path / "unpacked")
    assert (unpacked / "README.txt").read_text() == "trained on synthetic data\n"


# --- reproducibility and digest ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["sklearn", "pytorch"])
def test_the_same_directory_gives_the_same_bytes(
    model_dirs: ModelDirs, tmp_path: Path, name: str
) -> None:
    # given a model directory and a copy of it elsewhere, with other file times
    original = model_dirs[name]
    moved = copy_of(model_dirs, name, tmp_path / "elsewhere")
    for path in moved.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    # when both are packaged (the original twice)
    first = package_model(original, tmp_path / "first.tar.gz")
    again = package_model(original, tmp_path / "again.tar.gz")
    other = package_model(moved, tmp_path / "other.tar.gz")
    # then the archives are byte-identical, with the same digest
    data = first.archive.read_bytes()
    assert again.archive.read_bytes() == data
    assert other.archive.read_bytes() == data
    assert first.sha256 == again.sha256 == other.sha256 == hashlib.sha256(data).hexdigest()
    assert first.size == len(data)
    # and the gzip header has no time and no file name
    assert data[4:8] == b"\0\0\0\0"
    assert not data[3] & 0x08  # FNAME flag
    assert gzip.decompress(data)  # a valid gzip stream


def test_a_changed_model_changes_the_digest(model_dirs: ModelDirs, tmp_path: Path) -> None:
    # given a copy of a model directory with one more metric in its metadata
    changed = copy_of(model_dirs, "xgboost", tmp_path)
    metadata = json.loads((changed / "metadata.json").read_text())
    metadata["metrics"]["recall"] = 0.5
    (changed / "metadata.json").write_text(json.dumps(metadata))
    # when both are packaged
    before = package_model(model_dirs["xgboost"], tmp_path / "before.tar.gz")
    after = package_model(changed, tmp_path / "after.tar.gz")
    # then the digests differ
    assert before.sha256 != after.sha256


def test_the_default_archive_lies_beside_the_directory(
    model_dirs: ModelDirs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a model directory named iris
    model_dir = Path(shutil.copytree(model_dirs["sklearn"], tmp_path / "models" / "iris"))
    # when it is packaged without --out (also from inside it, as ".")
    packaged = package_model(model_dir)
    monkeypatch.chdir(model_dir)
    # then the archive is models/iris.tar.gz
    assert packaged.archive == tmp_path / "models" / "iris.tar.gz"
    assert packaged.archive.is_file()
    assert default_archive_path(".") == tmp_path / "models" / "iris.tar.gz"
    assert default_archive_path("models/iris/") == Path("models/iris.tar.gz")


# --- refusals ----------------------------------------------------------------------------------


def refusal(model_dir: Path, out: Path, **options: Any) -> str:
    """The OpsError's message for packaging ``model_dir``; asserts nothing was written."""
    with pytest.raises(OpsError) as raised:
        package_model(model_dir, out, **options)
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}.*"))  # no temporary left behind
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    # given / when / then
    message = refusal(tmp_path / "absent", tmp_path / "model.tar.gz")
    assert message == f"Cannot package model directory '{tmp_path / 'absent'}': does not exist"


def test_a_file_is_not_a_model_directory(tmp_path: Path) -> None:
    # given a file
    (tmp_path / "model.joblib").write_bytes(b"x")
    # when / then
    message = refusal(tmp_path / "model.joblib", tmp_path / "model.tar.gz")
    assert message == (
        f"Cannot package model directory '{tmp_path / 'model.joblib'}': is not a directory"
    )


@pytest.mark.parametrize(
    ("damage", "complaint"),
    [
        (lambda d: (d / "metadata.json").write_text("{not json"), "metadata.json: not valid JSON"),
        (
            lambda d: (d / "metadata.json").write_text(
                json.dumps({"framework": "tensorflow", "task": "classification"})
            ),
            "metadata.json: invalid model metadata: feature_names: missing",
        ),
        (lambda d: (d / "metadata.json").unlink(), "metadata.json: missing; a model directory"),
        (lambda d: (d / "model.ubj").unlink(), "model.ubj: missing; metadata.json says"),
        (
            lambda d: (d / "model.ubj").write_bytes(b"\0garbage"),
            "model.ubj: cannot be loaded as a xgboost model",
        ),
    ],
    ids=["not-json", "bad-fields", "no-metadata", "no-model-file", "foreign-model-file"],
)
def test_a_directory_that_fails_the_load_checks_is_refused(
    model_dirs: ModelDirs, tmp_path: Path, damage: Any, complaint: str
) -> None:
    # given a model directory broken one way
    model_dir = copy_of(model_dirs, "xgboost", tmp_path)
    damage(model_dir)
    # when / then the one-line refusal names the directory and what is wrong
    message = refusal(model_dir, tmp_path / "model.tar.gz")
    assert message.startswith(f"Cannot package model directory '{model_dir}': ")
    assert complaint in message


@pytest.mark.parametrize(
    ("link", "target"),
    [("extra.bin", "/etc/hostname"), ("extra.bin", "../outside.bin"), ("notes", "..")],
    ids=["absolute", "relative", "directory"],
)
def test_a_link_out_of_the_directory_is_refused(
    model_dirs: ModelDirs, tmp_path: Path, link: str, target: str
) -> None:
    # given a model directory with a link leading out of it
    model_dir = copy_of(model_dirs, "sklearn", tmp_path)
    (tmp_path / "outside.bin").write_bytes(b"secret")
    (model_dir / link).symlink_to(target)
    # when / then
    message = refusal(model_dir, tmp_path / "model.tar.gz")
    assert message == (
        f"Cannot package model directory '{model_dir}': "
        f"{link} is a symbolic link that leads outside the directory"
    )


def test_a_link_to_a_directory_inside_is_not_followed(
    model_dirs: ModelDirs, tmp_path: Path
) -> None:
    # given a link to a folder of the model directory
    model_dir = copy_of(model_dirs, "sklearn", tmp_path)
    (model_dir / "notes").mkdir()
    (model_dir / "again").symlink_to("notes")
    # when / then
    message = refusal(model_dir, tmp_path / "model.tar.gz")
    assert message.endswith(": again is a symbolic link to a directory (not followed)")


def test_a_special_file_is_refused(model_dirs: ModelDirs, tmp_path: Path) -> None:
    # given a named pipe in the model directory
    model_dir = copy_of(model_dirs, "sklearn", tmp_path)
    os.mkfifo(model_dir / "pipe")
    # when / then
    assert refusal(model_dir, tmp_path / "model.tar.gz").endswith(": pipe is not a regular file")


def test_a_directory_over_the_size_bound_is_refused(model_dirs: ModelDirs, tmp_path: Path) -> None:
    # given / when a bound smaller than the model / then
    message = refusal(model_dirs["sklearn"], tmp_path / "model.tar.gz", max_bytes=100)
    assert message.endswith(": its files hold more than 100 bytes (the bound)")


def test_a_directory_over_the_file_count_bound_is_refused(
    model_dirs: ModelDirs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a model directory with more files than the (lowered) bound
    monkeypatch.setattr("workloads.ops.package.MAX_FILES", 3)
    model_dir = copy_of(model_dirs, "sklearn", tmp_path)
    for number in range(3):
        (model_dir / f"note-{number}.txt").write_text("x")
    # when / then
    assert refusal(model_dir, tmp_path / "model.tar.gz").endswith(
        ": it holds more than 3 files (the bound)"
    )
    assert MAX_FILES == 10_000


def test_an_archive_inside_the_directory_is_refused(model_dirs: ModelDirs, tmp_path: Path) -> None:
    # given / when the archive would be written into the model directory / then
    model_dir = copy_of(model_dirs, "sklearn", tmp_path)
    message = refusal(model_dir, model_dir / "model.tar.gz")
    assert message.endswith(
        f"the archive {model_dir / 'model.tar.gz'} would be inside it; write it elsewhere"
    )


# --- the command line --------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    """Exit status, stdout parsed as JSON (None when empty), and stderr."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, json.loads(out) if out else None, err


def test_package_prints_the_archive_and_its_digest(
    capsys: pytest.CaptureFixture[str], model_dirs: ModelDirs, tmp_path: Path
) -> None:
    # given a model directory
    out = tmp_path / "iris.tar.gz"
    # when
    status, output, err = run(
        capsys, "package", "--model-dir", str(model_dirs["xgboost"]), "--out", str(out)
    )
    # then
    assert (status, err) == (0, "")
    assert output == {
        "model_dir": str(model_dirs["xgboost"]),
        "framework": "xgboost",
        "archive": str(out),
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "bytes": out.stat().st_size,
        "members": ["metadata.json", "model.ubj"],
    }


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["package"], "the following arguments are required: --model-dir"),
        (["package", "--model-dir", "m", "--max-bytes", "0"], "must be positive, got '0'"),
        (["package", "--model-dir", "m", "--max-bytes", "1e9"], "not a whole number: '1e9'"),
    ],
)
def test_bad_package_arguments_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], complaint: str
) -> None:
    # given / when
    status, output, err = run(capsys, *argv)
    # then
    assert (status, output) == (2, None)
    assert complaint in err


def test_a_refused_package_exits_1_with_one_line(
    capsys: pytest.CaptureFixture[str], model_dirs: ModelDirs, tmp_path: Path
) -> None:
    # given a model directory whose metadata is broken
    model_dir = copy_of(model_dirs, "sklearn", tmp_path)
    (model_dir / "metadata.json").write_text('{"framework": "sklearn"')
    # when
    status, output, err = run(capsys, "package", "--model-dir", str(model_dir))
    # then one line, no traceback, no archive
    assert (status, output) == (1, None)
    assert err.startswith(f"error: Cannot package model directory '{model_dir}': ")
    assert "metadata.json: not valid JSON" in err
    assert err.count("\n") == 1
    assert not default_archive_path(model_dir).exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--kms-key-id", KMS_KEY],
            "error: --kms-key-id is for the upload: pass --upload s3://bucket/prefix too\n",
        ),
        (
            ["--upload", "models/prefix"],
            "error: --upload must be an s3://bucket/key URI, got 'models/prefix'\n",
        ),
        (
            ["--upload", "s3://models/a//b"],
            "error: --upload prefix 'a//b' has an empty, '.' or '..' segment\n",
        ),
    ],
)
def test_bad_upload_options_are_refused_before_anything_is_written(
    capsys: pytest.CaptureFixture[str],
    model_dirs: ModelDirs,
    tmp_path: Path,
    extra: list[str],
    message: str,
) -> None:
    # given / when
    out = tmp_path / "model.tar.gz"
    status, _, err = run(
        capsys, "package", "--model-dir", str(model_dirs["sklearn"]), "--out", str(out), *extra
    )
    # then
    assert (status, err) == (1, message)
    assert not out.exists()


# --- upload ------------------------------------------------------------------------------------


@pytest.fixture
def s3(aws: None) -> Any:
    """An S3 client inside moto, with the bucket ``models``."""
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def sent(s3: Any) -> Iterator[list[dict[str, str]]]:
    """The headers of every PutObject request the ``s3`` client sends."""
    requests: list[dict[str, str]] = []

    def record(request: Any, **_: Any) -> None:
        requests.append({k.lower(): _text(v) for k, v in request.headers.items()})

    s3.meta.events.register("before-send.s3.PutObject", record)
    yield requests
    s3.meta.events.unregister("before-send.s3.PutObject", record)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


@pytest.fixture
def packaged(model_dirs: ModelDirs, tmp_path: Path) -> PackagedModel:
    """The sklearn model, packaged."""
    return package_model(model_dirs["sklearn"], tmp_path / "model.tar.gz")


def test_upload_puts_the_archive_under_its_digest_with_sse_kms(
    s3: Any, sent: list[dict[str, str]], packaged: PackagedModel
) -> None:
    # given a packaged model / when it is uploaded under a prefix with a KMS key
    result = upload_package(packaged, "s3://models/churn/", kms_key_id=KMS_KEY, client=s3)
    # then the key is <prefix>/<sha256[:16]>/model.tar.gz
    key = f"churn/{packaged.sha256[:16]}/model.tar.gz"
    assert (result.s3_uri, result.uploaded) == (f"s3://{BUCKET}/{key}", True)
    assert archive_key("churn", packaged.sha256) == key
    # and the request asked for SSE-KMS with the key, the digest as metadata, S3's own check
    (headers,) = sent
    assert headers["x-amz-server-side-encryption"] == "aws:kms"
    assert headers["x-amz-server-side-encryption-aws-kms-key-id"] == KMS_KEY
    assert headers["x-amz-meta-sha256"] == packaged.sha256
    digest = bytes.fromhex(packaged.sha256)
    assert headers["x-amz-checksum-sha256"] == base64.b64encode(digest).decode()
    # and the object holds the archive's bytes
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["Metadata"] == {"sha256": packaged.sha256}
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", KMS_KEY)
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert body == packaged.archive.read_bytes()


def test_without_a_key_id_sse_kms_is_still_asked_for(
    s3: Any, sent: list[dict[str, str]], packaged: PackagedModel
) -> None:
    # given / when uploaded to the bucket's root without a key id
    result = upload_package(packaged, "s3://models", client=s3)
    # then
    assert result.s3_uri == f"s3://{BUCKET}/{packaged.sha256[:16]}/model.tar.gz"
    (headers,) = sent
    assert headers["x-amz-server-side-encryption"] == "aws:kms"
    assert "x-amz-server-side-encryption-aws-kms-key-id" not in headers


def test_the_same_digest_is_not_uploaded_again(
    s3: Any, sent: list[dict[str, str]], packaged: PackagedModel
) -> None:
    # given the archive already uploaded
    upload_package(packaged, "s3://models/churn", client=s3)
    # when it is uploaded again
    result = upload_package(packaged, "s3://models/churn", client=s3)
    # then nothing is sent
    assert result.uploaded is False
    assert len(sent) == 1


def test_another_object_at_the_key_is_not_overwritten(
    s3: Any, sent: list[dict[str, str]], packaged: PackagedModel
) -> None:
    # given another object where the archive would go
    key = f"churn/{packaged.sha256[:16]}/model.tar.gz"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"other", Metadata={"sha256": "0" * 64})
    sent.clear()
    # when / then
    with pytest.raises(OpsError) as raised:
        upload_package(packaged, "s3://models/churn", client=s3)
    assert str(raised.value) == (
        f"Cannot upload to s3://{BUCKET}/{key}: an object with sha256 {'0' * 64} is already "
        f"there, not sha256 {packaged.sha256}; it is not overwritten"
    )
    assert sent == []
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"other"


def answer(status: int, code: str, message: str) -> Any:
    """A botocore before-call handler that answers with an error instead of calling S3."""

    def handler(**_: Any) -> tuple[Any, dict[str, Any]]:
        parsed = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return SimpleNamespace(status_code=status, headers={}), parsed

    return handler


@pytest.mark.parametrize(
    ("operation", "status", "code", "message"),
    [
        (
            "PutObject",
            403,
            "AccessDenied",
            "PutObject s3://models/churn/{short}/model.tar.gz failed: AccessDenied: Access Denied",
        ),
        (
            "HeadObject",
            403,
            "403",
            "HeadObject s3://models/churn/{short}/model.tar.gz failed: AccessDenied (403): needs "
            "s3:GetObject on the key (and s3:ListBucket on the bucket, or a missing key looks "
            "like this too)",
        ),
    ],
)
def test_access_denied_is_one_line(
    s3: Any, packaged: PackagedModel, operation: str, status: int, code: str, message: str
) -> None:
    # given S3 denying the call
    s3.meta.events.register(f"before-call.s3.{operation}", answer(status, code, "Access Denied"))
    # when / then
    with pytest.raises(OpsError) as raised:
        upload_package(packaged, "s3://models/churn", client=s3)
    assert str(raised.value) == message.format(short=packaged.sha256[:16])


def test_the_command_uploads_once_per_digest(
    capsys: pytest.CaptureFixture[str], s3: Any, model_dirs: ModelDirs, tmp_path: Path
) -> None:
    # given a model directory
    argv = [
        "package", "--model-dir", str(model_dirs["pytorch"]), "--out", str(tmp_path / "m.tar.gz"),
        "--upload", "s3://models/churn", "--kms-key-id", KMS_KEY, "--region", REGION,
    ]  # fmt: skip
    # when it is packaged and uploaded twice
    first_status, first, _ = run(capsys, *argv)
    second_status, second, err = run(capsys, *argv)
    # then the first uploads, the second finds it there
    key = f"churn/{first['sha256'][:16]}/model.tar.gz"
    assert (first_status, first["s3_uri"], first["uploaded"]) == (0, f"s3://models/{key}", True)
    assert (second_status, err, second["uploaded"]) == (0, "", False)
    assert second["sha256"] == first["sha256"]
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["Metadata"] == {"sha256": first["sha256"]}
    assert head["ServerSideEncryption"] == "aws:kms"


def test_no_credentials_is_one_line(
    capsys: pytest.CaptureFixture[str],
    model_dirs: ModelDirs,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given an environment without any AWS credentials (and no instance metadata to ask)
    use_no_aws_configuration(monkeypatch, tmp_path)
    # when
    status, _, err = run(
        capsys, "package", "--model-dir", str(model_dirs["sklearn"]),
        "--out", str(tmp_path / "m.tar.gz"), "--upload", "s3://models/churn", "--region", REGION,
    )  # fmt: skip
    # then
    assert status == 1
    assert err.startswith("error: HeadObject s3://models/churn/")
    assert err.endswith(
        "failed: no AWS credentials found; pass --profile (or set AWS_PROFILE), or set "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n"
    )
