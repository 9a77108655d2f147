"""A layer's package imports only itself, components/shared/ and components/platform.py.

So a layer can be read, changed and deployed on its own: what two layers share lives in shared/,
and what one layer gives another travels in the PlatformContext or through the program.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

COMPONENTS = Path(__file__).resolve().parents[2] / "components"
LAYERS = sorted(path.name for path in COMPONENTS.iterdir() if (path / "layer.py").is_file())


def imported_modules(path: Path) -> set[str]:
    """Every absolute module a file imports (``from x import y`` and ``import x``)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
    return modules


def test_every_layer_package_has_its_spec_and_its_component() -> None:
    # given the components folder / then eight layer packages, each with spec.py and layer.py
    assert LAYERS == [
        "data", "feature_store", "gpu", "kubernetes", "monitoring", "optimization", "serving",
        "training",
    ]  # fmt: skip
    assert all((COMPONENTS / layer / "spec.py").is_file() for layer in LAYERS)


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_no_other_layer_and_not_the_stacks(layer: str) -> None:
    # given every module of one layer's package
    offenders = {}
    for path in sorted((COMPONENTS / layer).rglob("*.py")):
        # when its imports are read
        foreign = {
            module
            for module in imported_modules(path)
            if module.startswith("stacks")
            or (
                module.startswith("components.")
                and module.split(".")[1] in LAYERS
                and module.split(".")[1] != layer
            )
        }
        if foreign:
            offenders[path.name] = sorted(foreign)
    # then none reaches into another layer's package or into stacks/
    assert offenders == {}


def test_shared_parts_import_no_layer() -> None:
    # given components/shared/ and platform.py / then they import no layer package and no stacks
    paths = [*sorted((COMPONENTS / "shared").glob("*.py")), COMPONENTS / "platform.py"]
    offenders = {
        path.name: sorted(
            module
            for module in imported_modules(path)
            if module.startswith("stacks")
            or (module.startswith("components.") and module.split(".")[1] in LAYERS)
        )
        for path in paths
    }
    assert {name: found for name, found in offenders.items() if found} == {}
