"""The engine works with no terminal (importing it never loads Textual, its code never imports Rich), and its
modules form layers: no circle of imports among them."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import engine

ENGINE_MODULES = sorted(m.name for m in pkgutil.walk_packages(engine.__path__, prefix="engine."))


def test_engine_never_imports_textual() -> None:
    imports = "; ".join(f"import {name}" for name in ENGINE_MODULES)
    # Only textual is checked at run time: PyMC itself loads rich for its progress bars.
    code = f"{imports}; import sys; bad = [m for m in sys.modules if m.split('.')[0] == 'textual']; print(bad); sys.exit(bool(bad))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert result.returncode == 0, result.stdout + result.stderr


def test_engine_source_has_no_textual_imports() -> None:
    root = Path(engine.__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if any(
            line.strip().startswith(("import textual", "from textual", "import rich", "from rich"))
            for line in path.read_text().splitlines()
        )
    ]
    assert offenders == []


def _engine_imports() -> dict[str, set[str]]:
    """Each engine module and the engine modules it imports anywhere in its text (function bodies and
    ``TYPE_CHECKING`` blocks too: a lazy import is still a dependency)."""
    import ast

    modules = set(ENGINE_MODULES) | {"engine"}
    root = Path(engine.__file__).parent.parent
    graph: dict[str, set[str]] = {}
    for name in modules:
        path = root / (name.replace(".", "/") + ("/__init__.py" if (root / name.replace(".", "/")).is_dir() else ".py"))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's own package up
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, *([base] if base else [])])
                for alias in node.names:  # `from engine import harness` names a module, not the package's face
                    sub = f"{base}.{alias.name}"
                    targets.add(sub if sub in modules else base)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def test_no_engine_module_imports_one_that_imports_it_back() -> None:
    """The engine's modules form layers: no circle of imports, lazy or not (Tarjan's strongly connected components)."""
    graph = _engine_imports()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert circles == [], f"import circles: {circles}"
    assert "engine.records" in graph and graph["engine.iteration"] >= {"engine.records", "engine.design.results"}
