"""The SAGEMAKER_PROGRAM shim, run from a source archive laid out as the Pulumi program ships it."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.workloads.inference.conftest import ModelDirs
from workloads.inference import handlers, sagemaker_program

ROOT = Path(__file__).resolve().parents[3]
HANDLER_PATH = [
    "workloads/__init__.py",
    "workloads/atomic_files.py",
    "workloads/model_layout.py",
    "workloads/model_network.py",
    "workloads/tabular_net.py",
    "workloads/inference/__init__.py",
    "workloads/inference/codecs.py",
    "workloads/inference/errors.py",
    "workloads/inference/handlers.py",
    "workloads/inference/sagemaker_program.py",
]
# What a prebuilt container must not be asked to import (it has only numpy and its framework).
FOREIGN = ["pandas", "pulumi", "boto3", "uvloop", "hypothesis"]


def test_the_shim_exports_the_four_handlers() -> None:
    """Given the shim, then it re-exports exactly the four handler functions."""
    assert sagemaker_program.__all__ == ["input_fn", "model_fn", "output_fn", "predict_fn"]
    assert sagemaker_program.model_fn is handlers.model_fn
    assert sagemaker_program.output_fn is handlers.output_fn


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    """The source archive's contents: workloads/ plus the shim at the root as inference.py."""
    source = tmp_path / "code"
    shutil.copytree(
        ROOT / "workloads", source / "workloads", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "workloads/inference/sagemaker_program.py", source / "inference.py")
    return source


# xgboost imports scikit-learn itself when it is installed (its sklearn API); our code does not.
@pytest.mark.parametrize(
    ("framework", "expected"),
    [("sklearn", {"sklearn"}), ("xgboost", {"xgboost", "sklearn"}), ("pytorch", {"torch"})],
)
def test_inference_py_serves_from_the_archive_importing_only_its_framework(
    source_dir: Path, model_dirs: ModelDirs, framework: str, expected: set[str]
) -> None:
    # given the archive unpacked as a container's code directory, and a model directory
    # The foreign libraries are made unimportable, as in a container that lacks them: the
    # frameworks import some of them only when present (scikit-learn 1.9 picks up pandas), so
    # what must hold is that the handlers work without them.
    script = f"""
import importlib, importlib.abc, json, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {FOREIGN!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Absent())
inference = importlib.import_module("inference")  # what the toolkits do with SAGEMAKER_PROGRAM
model = inference.model_fn({str(model_dirs[framework])!r})
body, content_type = inference.output_fn(
    inference.predict_fn(inference.input_fn("[[0.5, -1, 2, 0.25]]", "application/json"), model),
    "application/json",
)
frameworks = sorted({{"sklearn", "xgboost", "torch"}} & set(sys.modules))
foreign = sorted(set({FOREIGN!r}) & set(sys.modules))
print(json.dumps({{"body": body.decode(), "type": content_type, "frameworks": frameworks,
                  "foreign": foreign, "from": sys.modules["workloads"].__file__}}))
"""
    # when the container imports inference.py and calls the handlers
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=source_dir, capture_output=True, text=True, check=True
    )
    found = json.loads(run.stdout)
    # then it answers from the archive's own code, having imported only its framework
    assert json.loads(found["body"])["predictions"][0] in ("no", "yes", "maybe")
    assert found["type"] == "application/json"
    assert set(found["frameworks"]) == expected
    assert found["foreign"] == []
    assert found["from"].startswith(str(source_dir))


@pytest.mark.parametrize("relative", HANDLER_PATH)
def test_the_handler_path_parses_as_python_3_10(relative: str) -> None:
    """Given a handler-path module, when parsed as Python 3.10, then it parses."""
    # The prebuilt containers' oldest current interpreter is 3.10: no 3.11-only syntax here.
    ast.parse((ROOT / relative).read_text(), feature_version=(3, 10))
