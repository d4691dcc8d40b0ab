"""Safety rules: imports, files, network, processes, dynamic code, dunders, removed APIs, indirection, monkeypatching."""

from __future__ import annotations

import ast
import re

from engine.guard import tables as T
from engine.guard.context import BUILTIN_NAMES, DEFAULT_ALIASES, ModelScan, RuleSet, const_str
from engine.guard.flow import CONTAINERS

RULES = RuleSet()
rule = RULES.rule


# --------------------------------------------------------------------------- imports and APIs


def _module_risk(name: str) -> str | None:
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        code = T.MODULE_RISKS.get(".".join(parts[:n]))
        if code:
            return code
    return None


def _allowed(name: str) -> bool:
    return any(name == a or name.startswith(a + ".") for a in T.ALLOWED_IMPORTS)


@rule
def check_imports(scan: ModelScan) -> None:
    """Imports outside the allow-list; dangerous and obsolete modules get their own codes."""
    for node in scan.nodes:
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            modules = [base] if any(a.name == "*" for a in node.names) else [f"{base}.{a.name}" for a in node.names]
            if node.module and _module_risk(node.module):
                modules = [node.module]
        else:
            continue
        for module in modules:
            code = _module_risk(module)
            if code == "obsolete-api":
                old = next(m for m in T.OBSOLETE_MODULES if module == m or module.startswith(m + "."))
                scan.report(code, f"{module!r} is gone from PyMC 5; write {T.OBSOLETE_MODULES[old]}", node)
            elif code:
                scan.report(code, f"import of {module!r} is not allowed in model code; {_WHAT_TO_DO[code]}", node)
            elif not _allowed(module):
                allowed = ", ".join(a for a in T.ALLOWED_IMPORTS if a != "__future__")
                scan.report(
                    "import-not-allowed", f"import of {module!r} is outside the allow-list ({allowed}); remove it", node
                )


_WHAT_TO_DO = {
    "process-access": "model code runs in a sandbox and must not touch processes or the interpreter; remove it",
    "file-access": "model code must not read or write files; use the data passed to build_model(data)",
    "network-access": "model code must not use the network; remove it",
    "dynamic-code": "write plain code the guard can read; remove it",
    "harness-overreach": "the harness samples the model, diagnoses it and computes the estimand; model.py only builds the model",
}


@rule
def check_references(scan: ModelScan) -> None:
    """Names and attributes that reach files, processes, the network or the harness's job."""
    for node in scan.nodes:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            code = T.BUILTIN_RISKS.get(node.id)
            if code and node.id not in scan.bound and node.id not in scan.aliases:
                scan.report(code, f"{node.id}() is not allowed in model code; {_WHAT_TO_DO[code]}", node)
        if isinstance(node, (ast.Name, ast.Attribute)) and not isinstance(scan.parents.get(node), ast.Attribute):
            _check_qualified(scan, node)
        if isinstance(node, ast.Attribute):
            code = T.ATTRIBUTE_RISKS.get(node.attr)
            if code:
                scan.report(code, f"'.{node.attr}' reaches the {node.attr} module; {_WHAT_TO_DO[code]}", node)
            parent = scan.parents.get(node)
            code = T.METHOD_RISKS.get(node.attr)
            if code and isinstance(parent, ast.Call) and parent.func is node:
                scan.report(code, f".{node.attr}() is not allowed in model code; {_WHAT_TO_DO[code]}", node)
            if (
                node.attr == "eval"
                and isinstance(parent, ast.Call)
                and parent.func is node
                and any(const_str(a) is not None for a in parent.args)
            ):
                scan.report(
                    "dynamic-code", ".eval() of a string hides what it computes; write the expression in Python", node
                )


def _check_qualified(scan: ModelScan, node: ast.AST) -> None:
    """Check every prefix of a dotted chain: ``np.lib.npyio.load`` is checked at each dot."""
    chain: ast.AST | None = node
    while isinstance(chain, (ast.Attribute, ast.Name)):
        qual = scan.qualname(chain)
        if qual:
            if qual in T.REFERENCE_RISKS:
                code, todo = T.REFERENCE_RISKS[qual]
                scan.report(code, f"{qual} is not allowed in model code; {todo}", chain)
            for prefix, (code, todo) in T.REFERENCE_PREFIX_RISKS.items():
                if qual.startswith(prefix):
                    scan.report(code, f"{qual} is not allowed in model code; {todo}", chain)
            base: ast.expr = chain
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in scan.aliases:
                risk = _module_risk(qual)
                if risk and risk != "obsolete-api":
                    scan.report(risk, f"{qual} is not allowed in model code; {_WHAT_TO_DO[risk]}", chain)
        chain = chain.value if isinstance(chain, ast.Attribute) else None


DUNDER = re.compile(r"^__\w+__$")
FORMAT_DUNDER = re.compile(r"\{[^{}]*\.__\w+")
SAFE_DUNDER_NAMES = frozenset({"__name__", "__doc__", "__all__", "__import__"})  # __import__: dynamic-code


@rule
def check_dunder(scan: ModelScan) -> None:
    """Dunder attributes, names and strings: the classic ways out of a sandbox."""
    for node in scan.nodes:
        if isinstance(node, ast.Attribute) and DUNDER.match(node.attr) and node.attr not in T.SAFE_DUNDER_ATTRIBUTES:
            scan.report("dunder-access", f"access to {node.attr} is not allowed; use the object's public API", node)
        elif isinstance(node, ast.Attribute) and node.attr in T.INTERNAL_ATTRIBUTES:
            scan.report("dunder-access", f"{node.attr} reaches interpreter internals; remove it", node)
        elif isinstance(node, ast.Name) and DUNDER.match(node.id) and node.id not in SAFE_DUNDER_NAMES:
            scan.report("dunder-access", f"{node.id} is not allowed in model code; remove it", node)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and DUNDER.match(node.name):
            scan.report(
                "dunder-access",
                f"defining {node.name} lets the interpreter or a library run this code later, inside the harness "
                "(a finalizer, an attribute lookup, a subclass hook); write plain functions",
                node,
            )
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and not scan.is_docstring(node):
            if (DUNDER.match(node.value) and node.value != "__main__") or FORMAT_DUNDER.search(node.value):
                scan.report(
                    "dunder-access", f"the string {node.value[:40]!r} names a dunder attribute; remove it", node
                )
        elif isinstance(node, ast.Call) and scan.is_builtin(node.func, "getattr", "setattr", "delattr", "hasattr"):
            name = node.args[1] if len(node.args) >= 2 else None
            if name is not None and const_str(name) is None:
                scan.report(
                    "dunder-access",
                    f"{node.func.id}() with a computed attribute name can reach dunder attributes; use plain attribute access",
                    node,
                )


@rule
def check_obsolete(scan: ModelScan) -> None:
    """APIs removed from PyMC 5: they raise at build time, so say the modern spelling now."""
    for node in scan.nodes:
        if isinstance(node, ast.Attribute | ast.Name) and not isinstance(scan.parents.get(node), ast.Attribute):
            chain: ast.AST | None = node
            while isinstance(chain, (ast.Attribute, ast.Name)):
                qual = scan.qualname(chain)
                if qual in T.OBSOLETE_ATTRIBUTES:
                    short = "pm." + qual.split(".", 1)[1]
                    scan.report(
                        "obsolete-api", f"{short} was removed from PyMC 5; use {T.OBSOLETE_ATTRIBUTES[qual]}", chain
                    )
                chain = chain.value if isinstance(chain, ast.Attribute) else None
        if isinstance(node, ast.Call) and (scan.call_name(node) or "").split(".")[0] == "pymc":
            for kw in node.keywords:
                if kw.arg in T.OBSOLETE_KEYWORDS:
                    scan.report(
                        "obsolete-api",
                        f"{kw.arg}= was removed from PyMC 5; use {T.OBSOLETE_KEYWORDS[kw.arg]}",
                        kw.value,
                    )
                if kw.arg in T.CONTAINER_OBSOLETE_KEYWORDS and scan.is_pymc_call(node, *CONTAINERS):
                    scan.report(
                        "obsolete-api",
                        f"{kw.arg}= was removed from pm.Data; use {T.CONTAINER_OBSOLETE_KEYWORDS[kw.arg]}",
                        kw.value,
                    )


URL = re.compile(r"\b(?:https?|ftp|wss?|file)://", re.IGNORECASE)


@rule
def check_urls(scan: ModelScan) -> None:
    """URLs in string literals (docstrings excepted): model code gets its data from ``build_model(data)``."""
    for node in scan.nodes:
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and URL.search(node.value):
            if not scan.is_docstring(node):
                scan.report(
                    "network-access", "a URL in model code; the model gets its data from build_model(data) only", node
                )


# --------------------------------------------------------------------------- indirection and monkeypatching

NAME_TAKERS = ("getattr", "setattr", "delattr", "hasattr")


@rule
def check_indirection(scan: ModelScan) -> None:
    """Routes to modules the guard cannot follow: ``getattr(pm.stats, "sys")``, ``.modules``,
    names built at run time, text decoded at run time."""
    for node in scan.nodes:
        if isinstance(node, ast.Attribute) and node.attr == "modules":
            scan.report(
                "obfuscated-access",
                "'.modules' is sys.modules: every loaded module, the harness's own included; import only what "
                "the model needs from the allow-list, at the top of the file",
                node,
            )
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if scan.is_builtin(func, *NAME_TAKERS) and len(node.args) >= 2:
            name = const_str(node.args[1])
            if name is not None and name in T.INDIRECT_NAMES:
                scan.report(
                    "obfuscated-access",
                    f'{func.id}(…, "{name}") reaches {name} by a name the guard does not follow; remove it and use '
                    "the public API of pm, pt, np or pd",
                    node,
                )
            elif name is None and _built_text(scan, node.args[1]):
                scan.report(
                    "obfuscated-access",
                    f"{func.id}() with a name built at run time hides what it reaches; write the attribute out",
                    node,
                )
        if _is_import_call(scan, node) and node.args and const_str(node.args[0]) is None:
            scan.report(
                "obfuscated-access",
                "a module name computed at run time hides what is imported; import it in plain text at the top of the file",
                node,
            )
        if _decodes_text(scan, node):
            scan.report(
                "obfuscated-access",
                "text decoded or assembled from character codes at run time hides code or names from review; "
                "write them in plain text",
                node,
            )


def _is_import_call(scan: ModelScan, node: ast.Call) -> bool:
    func = node.func
    return scan.is_builtin(func, "__import__") or (isinstance(func, ast.Attribute) and func.attr == "import_module")


def _built_text(scan: ModelScan, node: ast.AST) -> bool:
    """A string assembled at run time: concatenation, formatting, join, character codes, decoding."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.BinOp) and isinstance(sub.op, (ast.Add, ast.Mod)):
            return True
        if isinstance(sub, ast.JoinedStr):
            return True
        if isinstance(sub, ast.Call):
            if isinstance(sub.func, ast.Attribute) and sub.func.attr in (
                "join",
                "format",
                "decode",
                "replace",
                "lower",
                "upper",
            ):
                return True
            if scan.is_builtin(sub.func, "chr", "str", "bytes", "bytearray"):
                return True
        if isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Slice) and sub.slice.step is not None:
            return True  # "so"[::-1]
    return False


def _decodes_text(scan: ModelScan, node: ast.Call) -> bool:
    """``b64decode(…)``, ``bytes.fromhex(…)``, ``map(chr, …)``, ``chr(…) + …``, ``bytes([…]).decode()``…"""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name in T.DECODERS:
        return True
    if isinstance(func, ast.Attribute) and func.attr in ("decode", "encode"):
        codec = const_str(node.args[0]) if node.args else None
        if codec is not None and codec.lower().replace("-", "_") in T.TEXT_CODECS:
            return True
        inner = func.value
        if isinstance(inner, ast.Call) and scan.is_builtin(inner.func, "bytes", "bytearray") and inner.args:
            return not isinstance(inner.args[0], ast.Constant)
    if scan.is_builtin(func, "map") and node.args and scan.is_builtin(node.args[0], "chr"):
        return True
    if scan.is_builtin(func, "chr"):
        for _child, parent in scan.ancestors(node):
            if isinstance(parent, ast.stmt):
                break
            if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Add):
                return True
            if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Attribute) and parent.func.attr == "join":
                return True
    return False


def module_handles(scan: ModelScan) -> set[str]:
    """Local names that hold a module, a library object or a class: bound from an import alias chain
    (``az = pm.stats.az``), ``getattr`` of one, ``sys.modules[…]``, ``import_module(…)``…

    Parameters
    ----------
    scan
        The scan; the result is cached on it.

    Returns
    -------
    set of str
        Found by following assignments until nothing changes (at most eight passes).
    """
    return scan.cached("module_handles", lambda: _module_handles(scan))


def _module_handles(scan: ModelScan) -> set[str]:
    from engine.guard.context import assigned_names, bindings

    handles: set[str] = set()
    for _ in range(8):
        before = len(handles)
        for target, value in bindings(scan):
            if isinstance(target, ast.Name) and _module_like(scan, value, handles):
                handles.update(assigned_names(target))
        if len(handles) == before:
            break
    return handles


def _module_like(scan: ModelScan, node: ast.AST, handles: set[str], depth: int = 0) -> bool:
    if depth > 60:
        return False
    if isinstance(node, ast.Name):
        if node.id in handles:
            return True
        return (
            node.id not in scan.bound
            and scan.qualname(node) is not None
            and (node.id in scan.aliases or node.id in DEFAULT_ALIASES or bool(scan.star_modules))
            and node.id not in BUILTIN_NAMES
        )
    if isinstance(node, ast.Attribute):
        return node.attr == "modules" or _module_like(scan, node.value, handles, depth + 1)
    if isinstance(node, ast.Subscript):
        return _module_like(scan, node.value, handles, depth + 1)
    if isinstance(node, ast.Call):
        if _is_import_call(scan, node):
            return True
        if scan.is_builtin(node.func, "getattr") and node.args:
            return _module_like(scan, node.args[0], handles, depth + 1)
    return False


@rule
def check_monkeypatch(scan: ModelScan) -> None:
    """Assignments onto modules, library objects and classes: they change the code the harness runs
    in the same process (``pm.stats.az.loo = …``, ``np.var = …``, ``setattr(scoring, "loo", …)``)."""
    handles = module_handles(scan)
    for node in scan.nodes:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        else:
            targets = []
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, (ast.Attribute, ast.Subscript)) and isinstance(sub.ctx, (ast.Store, ast.Del)):
                    if _module_like(scan, sub.value, handles):
                        scan.report("monkeypatch", _patch_message(scan, sub), sub)
        if isinstance(node, ast.Call) and scan.is_builtin(node.func, "setattr", "delattr") and node.args:
            if _module_like(scan, node.args[0], handles):
                scan.report("monkeypatch", _patch_message(scan, node), node)


def _patch_message(scan: ModelScan, node: ast.AST) -> str:
    shown = scan.qualname(node) if isinstance(node, ast.Attribute) else None
    if shown is None:
        try:
            shown = ast.unparse(node)
        except Exception:  # noqa: BLE001 - a description only
            shown = "a library attribute"
    shown = shown if len(shown) <= 60 else shown[:59] + "…"
    return (
        f"{shown} changes a library inside the process where the harness samples and scores the model; "
        "model.py may only build the model: remove the assignment and write the change into the model itself"
    )
