"""The script-mode program (train.py in the source archive) and the package's Python 3.10 floor."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workloads.training import contract

ROOT = Path(__file__).resolve().parents[3]
TRAINING = sorted((ROOT / "workloads/training").glob("*.py"))
# Names that exist only from Python 3.11 on; AWS's prebuilt containers may run 3.10.
NEWER_THAN_310 = {
    "Self",
    "tomllib",
    "UTC",
    "StrEnum",
    "ExceptionGroup",
    "BaseExceptionGroup",
    "TaskGroup",
}


@pytest.mark.parametrize(
    "path",
    [*TRAINING, ROOT / "workloads/model_layout.py", ROOT / "workloads/model_network.py"],
    ids=lambda p: p.name,
)
def test_the_training_code_is_python_3_10(path: Path) -> None:
    """Given a training module, when parsed as Python 3.10, then it parses and uses no 3.11 names."""
    tree = ast.parse(path.read_text(), feature_version=(3, 10))
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    used |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    used |= {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    used |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not used & NEWER_THAN_310


def test_train_py_runs_from_the_archive_under_its_own_name_and_reports_a_failure(
    tmp_path: Path,
) -> None:
    # given the source archive as the prebuilt containers unpack it (train.py beside workloads/)
    # and a job whose hyperparameters name an algorithm that does not exist
    source = tmp_path / "code"
    shutil.copytree(
        ROOT / "workloads", source / "workloads", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "workloads/training/sagemaker_program.py", source / "train.py")
    package = source / "workloads/__init__.py"  # says where it was imported from
    package.write_text(
        package.read_text() + "\nimport sys\nprint('workloads from', __file__, file=sys.stderr)\n"
    )
    root = tmp_path / "opt/ml"
    (root / "input/config").mkdir(parents=True)
    (root / "input/config/hyperparameters.json").write_text(
        json.dumps(
            {
                "algorithm": '"catboost"',
                "task": '"regression"',
                "target": '"y"',
                "sagemaker_program": '"train.py"',
            }
        )
    )
    # when the toolkit runs it the way script mode does (hyperparameters again as arguments)
    run = subprocess.run(
        [sys.executable, "train.py", "--algorithm", "catboost", "--task", "regression"],
        cwd=source,
        env={**os.environ, contract.ROOT_ENV: str(root)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    # then it exits 1 with the reason in the failure file, having imported the archive's code
    assert run.returncode == 1
    assert (root / "output/failure").read_text() == (
        "hyperparameters.json: algorithm: 'catboost' is not one of 'sklearn', 'xgboost', "
        "'pytorch', 'automl'"
    )
    assert "Traceback" not in run.stderr
    assert f"workloads from {package}" in run.stderr
