"""The source archives: what the prebuilt containers download and import or run."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from components.shared.code_archive import (
    ENTRY_POINT,
    TRAINING_ENTRY_POINT,
    TRAINING_ENTRY_POINT_SOURCE,
    SourceArchive,
    build_monitoring_archive,
    build_source_archive,
    build_training_archive,
    content_type,
)
from tests.conftest import ROOT, Plan
from workloads.inference.handler_code import handler_files


def run_unpacked(
    archive: SourceArchive, script: str, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """Unpack a tar archive into ``tmp_path/code`` and run ``script`` on it in a fresh interpreter.

    The script gets the code folder as ``sys.argv[1]`` and runs from ``tmp_path`` (not from the
    repository), as a container that unpacks the archive would; a failing script raises.
    """
    code_dir = tmp_path / "code"
    with tarfile.open(archive.path) as tar:
        tar.extractall(code_dir, filter="data")
    return subprocess.run(
        [sys.executable, "-c", script, str(code_dir)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )


def test_archive_holds_the_entry_point_and_the_handlers(tmp_path: Path) -> None:
    # given the repository / when the archive is built
    archive = build_source_archive(ROOT, tmp_path)
    with tarfile.open(archive.path) as tar:
        names = tar.getnames()
        members = tar.getmembers()
    # then the entry point sits at the root, the handlers beside the package they import
    assert ENTRY_POINT in names
    assert "workloads/__init__.py" in names
    assert "workloads/inference/handlers.py" in names
    assert "workloads/model_layout.py" in names
    # and nothing but Python sources of the inference path: no tests, caches, ops or secrets
    assert all(name.endswith(".py") for name in names), names
    assert not [name for name in names if "__pycache__" in name or "/ops/" in name]
    assert all((member.uid, member.mtime) == (0, 0) for member in members)


def test_same_code_gives_the_same_bytes(tmp_path: Path) -> None:
    first = build_source_archive(ROOT, tmp_path / "a")
    second = build_source_archive(ROOT, tmp_path / "b")
    assert first.sha256 == second.sha256
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.path.name == f"inference-sourcedir-{first.sha256[:16]}.tar.gz"


def test_a_code_change_changes_the_digest(tmp_path: Path) -> None:
    # given a copy of the shipped files, one of them edited
    copy = tmp_path / "repo"
    (copy / "workloads" / "inference").mkdir(parents=True)
    (copy / "workloads" / "__init__.py").write_text("")
    handlers = copy / "workloads" / "inference" / "handlers.py"
    handlers.write_text("A = 1\n")
    (copy / "workloads" / "inference" / "sagemaker_program.py").write_text("")
    before = build_source_archive(copy, tmp_path / "out").sha256
    handlers.write_text("A = 2\n")
    # then the archive (and so the S3 key and the models) change
    assert build_source_archive(copy, tmp_path / "out").sha256 != before


def test_missing_handlers_are_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "workloads").mkdir()
    with pytest.raises(FileNotFoundError, match=r"workloads/inference/handlers.py is missing"):
        build_source_archive(tmp_path, tmp_path / "out")


def test_entry_point_exposes_the_four_handlers_when_unpacked(tmp_path: Path) -> None:
    # given the archive unpacked as the container does (into a code dir on sys.path)
    archive = build_source_archive(ROOT, tmp_path / "out")
    # when a fresh interpreter imports the entry point from there (and not from the repo)
    script = (
        "import sys, importlib; sys.path.insert(0, sys.argv[1]); "
        "m = importlib.import_module('inference'); "
        "h = importlib.import_module('workloads.inference.handlers'); "
        "assert m.__file__.startswith(sys.argv[1]) and h.__file__.startswith(sys.argv[1]); "
        "print(sorted(n for n in ('model_fn','input_fn','predict_fn','output_fn') "
        "if callable(getattr(m, n))))"
    )
    result = run_unpacked(archive, script, tmp_path)
    # then the container finds all four handlers
    assert result.stdout.strip() == "['input_fn', 'model_fn', 'output_fn', 'predict_fn']"


# --------------------------------------------------------------------------------------------
# the training archive (script mode in the training containers)
# --------------------------------------------------------------------------------------------


def test_training_archive_holds_train_py_and_the_training_code(tmp_path: Path) -> None:
    # given the repository / when the training archive is built
    archive = build_training_archive(ROOT, tmp_path)
    with tarfile.open(archive.path) as tar:
        names = tar.getnames()
        members = tar.getmembers()
        program = tar.extractfile(TRAINING_ENTRY_POINT).read()  # type: ignore[union-attr]
    # then train.py at the root is the training program, beside the package it imports
    assert archive.entry_point == TRAINING_ENTRY_POINT == "train.py"
    assert program == (ROOT / TRAINING_ENTRY_POINT_SOURCE).read_bytes()
    assert {"workloads/__init__.py", "workloads/model_layout.py", "workloads/tabular_net.py"} <= (
        set(names)
    )
    assert "workloads/training/entrypoint.py" in names
    # and the inference handlers (PyTorch models carry them in code/), nothing of ops, tests or
    # caches
    assert all(name.endswith(".py") for name in names), names
    inference = sorted(n for n in names if "/inference/" in n)
    assert inference == [str(p) for p in handler_files(ROOT) if "/inference/" in str(p)]
    assert not [n for n in names if "/ops/" in n or "__pycache__" in n or "tests/" in n]
    assert all((member.uid, member.mtime) == (0, 0) for member in members)
    assert archive.path.name == f"training-sourcedir-{archive.sha256[:16]}.tar.gz"


def test_training_archive_is_reproducible(tmp_path: Path) -> None:
    first = build_training_archive(ROOT, tmp_path / "a")
    second = build_training_archive(ROOT, tmp_path / "b")
    assert first.path.read_bytes() == second.path.read_bytes()


def test_missing_training_program_is_a_clear_error(tmp_path: Path) -> None:
    # given training code without its program
    (tmp_path / "workloads" / "training").mkdir(parents=True)
    (tmp_path / "workloads" / "training" / "entrypoint.py").write_text("")
    # then the build names the missing file and what it prevents
    with pytest.raises(
        FileNotFoundError,
        match=r"workloads/training/sagemaker_program.py is missing: the training code cannot be shipped",
    ):
        build_training_archive(tmp_path, tmp_path / "out")


def test_unpacked_training_archive_runs_its_own_code(tmp_path: Path) -> None:
    # given the archive unpacked as the toolkit does (into a directory it runs train.py from)
    archive = build_training_archive(ROOT, tmp_path / "out")
    # when a fresh interpreter imports the program's entrypoint from there (not from the repo)
    script = (
        "import sys, importlib; sys.path.insert(0, sys.argv[1]); "
        "m = importlib.import_module('workloads.training.entrypoint'); "
        "assert m.__file__.startswith(sys.argv[1]); print(callable(m.main))"
    )
    result = run_unpacked(archive, script, tmp_path)
    # then the training code it carries is complete enough to load
    assert result.stdout.strip() == "True"


# --------------------------------------------------------------------------------------------
# the monitoring zip
# --------------------------------------------------------------------------------------------


def test_monitoring_zip_holds_the_package_and_the_monitor_modules(tmp_path: Path) -> None:
    # given the repository / when the monitoring zip is built
    archive = build_monitoring_archive(ROOT, tmp_path)
    with zipfile.ZipFile(archive.path) as bundle:
        infos = bundle.infolist()
    names = [info.filename for info in infos]
    # then it holds workloads/__init__.py, the shared AWS error wording and every module of
    # workloads/monitoring, sorted
    modules = (ROOT / "workloads" / "monitoring").glob("*.py")
    shared = ["workloads/__init__.py", "workloads/aws_errors.py"]
    expected = [*shared, *(f"workloads/monitoring/{p.name}" for p in modules)]
    assert names == sorted(expected)
    assert "workloads/monitoring/contract.py" in names
    # and nothing else: no other workloads package, no caches
    assert all(name.startswith("workloads/monitoring/") or name in shared for name in names)
    # with fixed times and permissions
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}
    assert archive.path.name == f"monitoring-code-{archive.sha256[:16]}.zip"


def test_monitoring_zip_is_reproducible(tmp_path: Path) -> None:
    first = build_monitoring_archive(ROOT, tmp_path / "a")
    second = build_monitoring_archive(ROOT, tmp_path / "b")
    assert first.sha256 == second.sha256
    assert first.path.read_bytes() == second.path.read_bytes()


def test_monitoring_zip_changes_with_the_code(tmp_path: Path) -> None:
    # given a copy of the monitor's files, one of them edited
    copy = tmp_path / "repo"
    (copy / "workloads" / "monitoring").mkdir(parents=True)
    (copy / "workloads" / "__init__.py").write_text("")
    (copy / "workloads" / "monitoring" / "__init__.py").write_text("")
    module = copy / "workloads" / "monitoring" / "check.py"
    module.write_text("A = 1\n")
    before = build_monitoring_archive(copy, tmp_path / "out").sha256
    module.write_text("A = 2\n")
    # then the digest (and so the S3 key the jobs read) changes
    assert build_monitoring_archive(copy, tmp_path / "out").sha256 != before


def test_monitoring_zip_without_the_package_is_refused(tmp_path: Path) -> None:
    (tmp_path / "workloads").mkdir()
    (tmp_path / "workloads" / "__init__.py").write_text("")
    with pytest.raises(FileNotFoundError, match=r"workloads/monitoring/__init__.py is missing"):
        build_monitoring_archive(tmp_path, tmp_path / "out")


def test_monitoring_zip_is_importable_in_place(tmp_path: Path) -> None:
    # given the zip, as a processing job finds it (downloaded, not unpacked), in an empty folder
    archive = build_monitoring_archive(ROOT, tmp_path / "out")
    # when Python runs with only the zip on its path (zipimport)
    result = subprocess.run(
        [
            sys.executable,
            "-I",  # isolated: neither the repository nor the user's site on sys.path
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); "
            "import workloads.monitoring.contract as c; print(c.METRIC_NAMESPACE, c.__file__)",
            str(archive.path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    # then the contract imports from inside the zip
    assert result.returncode == 0, result.stderr
    namespace, origin = result.stdout.split()
    assert namespace == "MLPlatform/Monitoring"
    assert origin.startswith(str(archive.path))


# --------------------------------------------------------------------------------------------
# The one upload (upload_archive) and the content type it takes from the file
# --------------------------------------------------------------------------------------------

CODE_OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"

#: The code object of each layer that ships an archive, by the object's name suffix.
UPLOADS = {
    "inference-code": "mlplatform:serving:ServingLayer",
    "training-code": "mlplatform:training:TrainingLayer",
    "monitoring-code": "mlplatform:monitoring:MonitoringLayer",
}


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        ("inference-sourcedir-0123456789abcdef.tar.gz", "application/gzip"),
        ("monitoring-code-0123456789abcdef.zip", "application/zip"),
    ],
)
def test_content_type_follows_the_file(file_name: str, expected: str) -> None:
    # given an archive file of each kind the builders write
    archive = SourceArchive(path=Path("build/archives") / file_name, sha256="0" * 64)
    # when its content type is asked for, then it is the one its suffix names
    assert content_type(archive) == expected


def test_unknown_archive_suffix_is_a_clear_error() -> None:
    # given an archive file of a kind no builder writes
    archive = SourceArchive(path=Path("build/archives/code.rar"), sha256="0" * 64)
    # when its content type is asked for, then the file and the known suffixes are named
    with pytest.raises(ValueError) as raised:
        content_type(archive)
    assert str(raised.value) == (
        "build/archives/code.rar: no content type for suffix '.rar' (known: .gz, .zip)"
    )


def test_every_layer_uploads_its_archive_the_same_way(plan: Plan) -> None:
    # given a stack's plan
    objects = {
        suffix: [r for r in plan.of_type(CODE_OBJECT) if r.name.endswith(f"-{suffix}")]
        for suffix in UPLOADS
    }
    # when the code objects of the three layers are looked at
    keys = set()
    for suffix, layer_type in UPLOADS.items():
        (code,) = objects[suffix]
        parent = plan.by_urn[code.parent]
        source = code.inputs["source"]["asset"]["path"]
        digest = source.rsplit("-", 1)[1].split(".")[0]
        # then each is its layer's child, KMS-encrypted, typed by its file, named by its digest
        assert parent.type == layer_type
        assert code.inputs["serverSideEncryption"] == "aws:kms"
        assert code.inputs["contentType"] == content_type(
            SourceArchive(path=Path(source), sha256=digest)
        )
        assert source.startswith("build/archives/")
        assert digest in code.inputs["key"]
        keys.add(code.inputs["kmsKeyId"])
    # and all with the one platform key
    assert len(keys) == 1
