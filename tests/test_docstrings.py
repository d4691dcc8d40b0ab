"""The public API of ``engine/`` documents its parameters and return values (numpydoc).

Read from the syntax tree, so nothing is imported. The rules:

- a public top-level function (name not starting with ``_``) that takes at least one
  parameter has a ``Parameters`` section;
- a public function, top-level or a method of a public class, whose return annotation is
  present and not ``None`` has a ``Returns`` (or ``Yields``) section — properties and
  dunders excepted.

Guard rules (functions registered with ``@rule``) all take the scan and return nothing;
their contract is documented once, on ``RuleSet.rule`` and ``engine.guard.analysis.rule``,
so each needs only a docstring saying what it checks.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import ROOT

ENGINE = ROOT / "engine"

EXCLUDED = (
    # covered by the agents/records owner; to be added
)

ALLOWED = {
    # One-line Span constructors of the report's document model: the one parameter is the
    # span's text (or a link's anchor), and the return type says the rest.
    "engine/report/blocks.py::t": "a plain-text Span",
    "engine/report/blocks.py::code": "a code Span",
    "engine/report/blocks.py::strong": "a strong Span",
    "engine/report/blocks.py::em": "an emphasised Span",
    "engine/report/blocks.py::status": "a status-badge Span",
    "engine/report/blocks.py::link": "a link Span",
}
"""``path::qualname`` of functions exempt from both rules, each with the reason."""

PROPERTY_DECORATORS = {"property", "cached_property", "setter", "getter", "deleter"}


def _section(doc: str, *names: str) -> bool:
    return any(re.search(rf"^{name}\n-{{3,}}$", doc, flags=re.M) for name in names)


def _decorator_names(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names = set()
    for d in fn.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Attribute):
            names.add(target.attr)
    return names


def _takes_parameters(fn: ast.FunctionDef | ast.AsyncFunctionDef, method: bool) -> bool:
    args = fn.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    if method and names and names[0] in ("self", "cls"):
        names = names[1:]
    return bool(names or args.vararg or args.kwarg)


def _returns_something(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    annotation = fn.returns
    if annotation is None:
        return False  # unannotated: nothing to hold the docstring to
    return not (isinstance(annotation, ast.Constant) and annotation.value is None)


def _modules() -> list[Path]:
    paths = []
    for path in sorted(ENGINE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if "__pycache__" in path.parts or any(rel == e or rel.startswith(e) for e in EXCLUDED if e):
            continue
        paths.append(path)
    return paths


def _public_functions(tree: ast.Module):
    """``(qualname, node, is_method)`` for public top-level functions and public methods of public classes."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            yield node.name, node, False
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                # a leading underscore also covers dunders
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and not item.name.startswith("_"):
                    yield f"{node.name}.{item.name}", item, True


def _offenders() -> tuple[list[str], set[str]]:
    offenders: list[str] = []
    seen: set[str] = set()
    for path in _modules():
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        for qualname, fn, method in _public_functions(tree):
            key = f"{rel}::{qualname}"
            seen.add(key)
            decorators = _decorator_names(fn)
            if key in ALLOWED or decorators & PROPERTY_DECORATORS or "overload" in decorators:
                continue
            doc = ast.get_docstring(fn) or ""
            where = f"{rel}:{fn.lineno} {qualname}"
            if not method and "rule" in decorators:
                if not doc.strip():
                    offenders.append(f"{where}: a guard rule without a docstring saying what it checks")
                continue
            missing = []
            if not method and _takes_parameters(fn, method) and not _section(doc, "Parameters"):
                missing.append("Parameters")
            if _returns_something(fn) and not _section(doc, "Returns", "Yields"):
                missing.append("Returns")
            if missing:
                offenders.append(f"{where}: no {' or '.join(missing)} section")
    return offenders, seen


def test_public_engine_api_has_numpydoc_sections() -> None:
    offenders, _ = _offenders()
    assert not offenders, (
        f"{len(offenders)} public function(s) in engine/ lack numpydoc sections "
        "(add them below the summary, e.g. 'Parameters\\n----------\\nname\\n    What it is.'):\n  "
        + "\n  ".join(offenders)
    )


def test_allow_list_names_existing_functions() -> None:
    _, seen = _offenders()
    stale = sorted(set(ALLOWED) - seen)
    assert not stale, f"ALLOWED names functions that no longer exist; remove them: {', '.join(stale)}"


def test_the_check_catches_a_missing_section() -> None:
    tree = ast.parse(
        "def f(x: int) -> int:\n"
        '    """Summary.\n\n    Returns\n    -------\n    int\n    """\n'
        "class C:\n"
        "    def g(self) -> str:\n"
        '        """Summary."""\n'
        "    @property\n"
        "    def p(self) -> int:\n"
        "        return 1\n"
    )
    found = {q: (m, fn) for q, fn, m in _public_functions(tree)}
    f_method, f = found["f"]
    assert _takes_parameters(f, f_method) and not _section(ast.get_docstring(f) or "", "Parameters")
    assert _section(ast.get_docstring(f) or "", "Returns")
    _, g = found["C.g"]
    assert _returns_something(g) and not _section(ast.get_docstring(g) or "", "Returns", "Yields")
    _, p = found["C.p"]
    assert _decorator_names(p) & PROPERTY_DECORATORS
