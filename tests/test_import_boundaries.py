"""components/ never imports ML libraries; workloads/ never imports pulumi."""

from __future__ import annotations

import ast
import itertools
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


def _is_type_checking(test: ast.expr) -> bool:
    return ast.unparse(test) in {"TYPE_CHECKING", "typing.TYPE_CHECKING"}


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: module level and inside functions.

    Imports under ``if TYPE_CHECKING:`` never run (they exist for annotations), so they cannot
    make a cycle at run time and are left out.
    """
    found: list[ast.Import | ast.ImportFrom] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                pending.append(ast.Module(body=child.orelse, type_ignores=[]))  # else: does run
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append(child)
            pending.append(child)
    return found


def module_name(path: Path, root: Path) -> str:
    """``<root>/workloads/training/algorithms.py`` -> ``workloads.training.algorithms``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path) -> dict[str, dict[str, int]]:
    """Each module under ``package`` -> the modules under it that it imports, with the first line.

    ``from pkg import name`` counts as importing ``pkg.name`` when that is a module, else ``pkg``;
    relative imports are resolved against the importing module's package.
    """
    paths = {module_name(path, package.parent): path for path in sorted(package.rglob("*.py"))}
    graph: dict[str, dict[str, int]] = {}
    for module, path in paths.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        edges: dict[str, int] = {}
        for node in _runtime_imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths else base
                    for alias in node.names
                ]
            for target in targets:
                while target not in paths and "." in target:
                    target = target.rpartition(".")[0]
                if target in paths and target != module:
                    edges[target] = min(edges.get(target, node.lineno), node.lineno)
        graph[module] = edges
    return graph


def find_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The cycles (``a -> b -> ... -> a``) a depth-first walk meets, in the order it meets them.

    A cycle whose modules all lie on one already named is left out, so each tangle is named once.
    """
    cycles: list[list[str]] = []
    seen: set[str] = set()
    for start in sorted(graph):
        if start in seen:
            continue
        # Depth-first with an explicit stack; a back edge to a module on the path closes a cycle.
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        path.append(start)
        on_path.add(start)
        while stack:
            module, targets = stack[-1]
            if not targets:
                stack.pop()
                path.pop()
                on_path.discard(module)
                seen.add(module)
                continue
            target = targets.pop(0)
            if target in on_path:
                cycle = [*path[path.index(target) :], target]
                if not any(set(cycle) <= set(found) for found in cycles):
                    cycles.append(cycle)
            elif target not in seen:
                stack.append((target, sorted(graph[target])))
                path.append(target)
                on_path.add(target)
    return cycles


def test_the_cycle_finder_names_a_cycle_with_its_lines() -> None:
    """Given a graph with a cycle and a dead end, then the one cycle is named in import order."""
    graph = {"a": {"b": 3}, "b": {"c": 5, "d": 1}, "c": {"a": 7}, "d": {}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b": 1}, "b": {}}) == []


def test_the_graph_holds_relative_and_lazy_imports_but_not_type_checking_ones(
    tmp_path: Path,
) -> None:
    # given a package where a imports b (relatively), b imports a inside a function, and c
    # imports a only for type checking (and b outside that block)
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\nfrom .c import thing\n")
    (package / "b.py").write_text("def f():\n    from pkg.a import x\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from pkg import a\nelse:\n    import pkg.b\n"
    )
    # when its graph is built
    graph = import_graph(package)
    # then every edge that can run is there, with its line, and the one cycle is named
    assert graph == {
        "pkg": {},
        "pkg.a": {"pkg.b": 1, "pkg.c": 2},
        "pkg.b": {"pkg.a": 2},
        "pkg.c": {"pkg.b": 5},
    }
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.a"]]


def test_workloads_have_no_import_cycle() -> None:
    """Given every module of workloads/, then no chain of imports leads back to where it began."""
    graph = import_graph(ROOT / "workloads")
    assert "workloads.tabular_net" in graph["workloads.model_layout"]  # lazy imports count
    named = [
        " -> ".join(f"{a} (line {graph[a][b]})" for a, b in itertools.pairwise(cycle))
        + f" -> {cycle[-1]}"
        for cycle in find_cycles(graph)
    ]
    assert named == []


#: What the ``ml-platform`` command's modules may import when they load: the standard library,
#: the command's own libraries and itself. Everything else (the Pulumi program, the workloads and
#: their ML libraries) is imported inside the commands that need it.
CLI_MODULE_LEVEL_IMPORTS = {"click", "rich", "yaml", "ml_platform_cli", "__future__"}


def module_level_roots(path: Path) -> set[str]:
    """The top-level packages a module imports when it loads (not inside functions)."""
    roots: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_command_loads_without_either_half_of_the_project() -> None:
    """Given every module of ml_platform_cli/, then it loads on stdlib, click, rich and yaml."""
    import sys

    offenders = {
        str(path.relative_to(ROOT)): sorted(extra)
        for path in sorted((ROOT / "ml_platform_cli").rglob("*.py"))
        if (extra := module_level_roots(path) - CLI_MODULE_LEVEL_IMPORTS - sys.stdlib_module_names)
    }
    assert offenders == {}
