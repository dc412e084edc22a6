"""Read a source tree's imports (with `ast`, running nothing) to check which layer may import which.

The rules are data (`LAYERS`): each top-level package names the packages it may import. Imports under
`if TYPE_CHECKING:` count for the layers (a type still ties one layer to another) but not for cycles,
since they never run. Function-level imports count for both: they run, only later.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

# package -> the packages of ours it may import (itself always). The order is the stack, bottom first.
LAYERS: dict[str, frozenset[str]] = {
    "tasks": frozenset(),
    "blip2": frozenset(),
    "toyworld": frozenset({"tasks", "blip2"}),
    "bench": frozenset({"tasks", "blip2", "toyworld"}),
}


@dataclass(frozen=True)
class Import:
    source: str  # importing module, dotted
    target: str  # imported module of ours, dotted (the deepest module that exists)
    line: int
    type_only: bool


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _existing(root: Path, dotted: str) -> bool:
    base = root.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _resolve(root: Path, module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    keep = len(parts) - node.level + (1 if is_package else 0)
    return ".".join(parts[:keep] + ([node.module] if node.module else []))


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def read_imports(root: Path, packages: Iterable[str]) -> list[Import]:
    """Every import of one of `packages` made by a module of `packages` under `root`."""
    ours = set(packages)
    found: list[Import] = []
    for package in sorted(ours):
        for path in sorted((root / package).rglob("*.py")):
            module = module_name(root, path)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            type_only = _type_checking_lines(tree)
            for node in ast.walk(tree):
                targets: list[str] = []
                if isinstance(node, ast.Import):
                    targets = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = _resolve(root, module, path.name == "__init__.py", node)
                    # `from pkg import sub` imports the module pkg.sub when it exists, else a name of pkg
                    targets = [f"{base}.{a.name}" if _existing(root, f"{base}.{a.name}") else base for a in node.names]
                for target in targets:
                    if target.split(".")[0] in ours:
                        found.append(Import(module, target, node.lineno, node.lineno in type_only))
    return found


def layer_violations(imports: Iterable[Import], layers: Mapping[str, frozenset[str]] = LAYERS) -> list[str]:
    """'module:line imports target' for each import that its layer may not make."""
    bad = []
    for imp in imports:
        source, target = imp.source.split(".")[0], imp.target.split(".")[0]
        if source != target and target not in layers.get(source, frozenset()):
            bad.append(f"{imp.source}:{imp.line} imports {imp.target} ({source} may import only "
                       f"{', '.join(sorted(layers.get(source, ()))) or 'itself'})")
    return bad


def cycles(imports: Iterable[Import]) -> list[list[str]]:
    """The import cycles among modules (strongly connected components of two or more, or a self-import),
    counting only imports that run (not `TYPE_CHECKING` ones)."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if not imp.type_only:
            graph.setdefault(imp.source, set()).add(imp.target)
            graph.setdefault(imp.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found
