"""components/ never imports ML libraries; workloads/ never imports pulumi."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ML_LIBRARIES = {"torch", "sklearn", "xgboost", "mlflow", "sagemaker", "pandas", "numpy", "scipy"}


def imported_roots(folder: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / folder).rglob("*.py"):
        roots = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                roots.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = roots
    return found


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        ("components", ML_LIBRARIES),
        ("stacks", ML_LIBRARIES),
        ("workloads", {"pulumi", "pulumi_aws", "pulumi_kubernetes"}),
    ],
)
def test_layer_imports_stay_on_their_side(folder: str, forbidden: set[str]) -> None:
    offenders = {
        path: roots & forbidden
        for path, roots in imported_roots(folder).items()
        if roots & forbidden
    }
    assert offenders == {}
