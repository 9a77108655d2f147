"""The handlers copied into a model directory's code/, as AWS's PyTorch container loads them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.workloads.inference.conftest import ModelDirs
from tests.workloads.inference.models import predict_with_handler_code
from workloads.inference.handler_code import HANDLER_FILES, handler_files, write_handler_code


def test_code_dir_holds_the_entry_point_and_every_handler_file(tmp_path: Path) -> None:
    # given an empty model directory with a stale module in code/
    (tmp_path / "code" / "workloads").mkdir(parents=True)
    (tmp_path / "code" / "workloads" / "stale.py").write_text("raise SystemExit(1)\n")
    # when the handlers are written
    code = write_handler_code(tmp_path)
    # then code/ holds inference.py and exactly the handler files, nothing stale
    written = sorted(p.relative_to(code) for p in code.rglob("*.py"))
    assert written == sorted([Path("inference.py"), *handler_files()])
    assert Path("workloads/inference/handlers.py") in written
    assert HANDLER_FILES[-1] == "workloads/inference/*.py"


def test_a_missing_handler_file_is_named(tmp_path: Path) -> None:
    # given a source tree without the handlers
    (tmp_path / "workloads").mkdir()
    # when the handlers are copied from it / then the error names the missing file
    with pytest.raises(FileNotFoundError, match=r"workloads/inference/handlers.py is missing"):
        write_handler_code(tmp_path / "model", root=tmp_path)


def test_the_pytorch_container_serves_from_code(model_dirs: ModelDirs, tmp_path: Path) -> None:
    # given a PyTorch model directory with its handlers in code/, copied away from the repository
    model_dir = tmp_path / "model"
    subprocess.run(["cp", "-r", str(model_dirs["pytorch"]), str(model_dir)], check=True)
    code = write_handler_code(model_dir)
    # when the container imports code/inference.py from a neutral working directory
    found = predict_with_handler_code(code, model_dir, tmp_path)
    # then it answers with the copied handlers, not the repository's
    assert json.loads(found["body"])["predictions"][0] in ("no", "yes", "maybe")
    assert found["from"].startswith(str(code))
