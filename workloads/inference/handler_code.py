"""The inference handlers as files: what a model directory carries in ``code/`` for PyTorch.

AWS's PyTorch inference container imports the handlers only from ``code/inference.py`` inside
``model.tar.gz`` (it ignores ``SAGEMAKER_SUBMIT_DIRECTORY``). A SageMaker training job tars its
model directory into that archive, so training writes the handlers there for PyTorch models;
the other containers get the same files from the inference source archive. This module names the
files once: the Pulumi program's source archive (components/shared/code_archive.py) ships the same
list. Standard library only.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

#: The program the prebuilt inference containers import (``SAGEMAKER_PROGRAM``).
ENTRY_POINT = "inference.py"

#: The module that becomes ``inference.py``: it re-exports the four handlers.
ENTRY_POINT_SOURCE = "workloads/inference/sagemaker_program.py"

#: The files the handlers import, as glob patterns relative to the repository root. The
#: containers have the standard library, numpy and their framework, nothing else of ours.
HANDLER_FILES = (
    "workloads/__init__.py",
    "workloads/atomic_files.py",
    "workloads/model_layout.py",
    "workloads/model_network.py",
    "workloads/tabular_net.py",
    "workloads/inference/*.py",
)

#: The folder of a model directory that the PyTorch container loads the handlers from.
CODE_DIR = "code"

#: The root the ``workloads`` package was imported from (the repository, or an unpacked archive).
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def handler_files(root: Path = PACKAGE_ROOT) -> list[Path]:
    """The handler files under ``root`` (relative paths, sorted); a clear error if one is gone."""
    found = {path.relative_to(root) for pattern in HANDLER_FILES for path in root.glob(pattern)}
    files = sorted(path for path in found if (root / path).is_file())
    for required in ("workloads/inference/handlers.py", ENTRY_POINT_SOURCE):
        if Path(required) not in files:
            raise FileNotFoundError(f"{root / required} is missing: the handlers cannot be copied")
    return files


def write_handler_code(model_dir: str | os.PathLike[str], root: Path = PACKAGE_ROOT) -> Path:
    """Copy the handlers into ``<model_dir>/code`` (``inference.py`` + ``workloads/``).

    The folder is rebuilt from scratch so no stale module survives; returns its path.
    """
    code = Path(model_dir) / CODE_DIR
    files = handler_files(root)
    if code.exists():
        shutil.rmtree(code)
    for relative in files:
        target = code / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / relative, target)
    shutil.copyfile(root / ENTRY_POINT_SOURCE, code / ENTRY_POINT)
    return code
