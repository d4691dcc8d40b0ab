"""What every model rule needs to know about a parsed ``model.py``, computed once.

All traversals are iterative (``ast.walk`` and parent chains), so a deeply nested but
valid file cannot overflow the stack.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from engine.guard.codes import finding
from engine.problem import Contract
from engine.records import Finding

# Conventional spellings resolved even when the file forgot the import (it will fail to
# compile, but its intent is clear and the rules should still see pm.sample as pymc.sample).
DEFAULT_ALIASES = {"pm": "pymc", "np": "numpy", "pd": "pandas", "pt": "pytensor.tensor"}
DATA_NAMES = frozenset({"data"})
BUILTIN_NAMES = frozenset(dir(builtins))
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class ModelScan:
    """A parsed model file plus the indexes rules share, and the findings they report."""

    tree: ast.Module
    contract: Contract
    findings: list[Finding] = field(default_factory=list)
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)
    children: dict[ast.AST, list[ast.AST]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # import-bound name -> dotted module path
    bound: set[str] = field(default_factory=set)  # names bound locally (assigned, defined, parameters)
    data_names: set[str] = field(default_factory=set)  # names that hold build_model's data argument
    build_model: ast.FunctionDef | ast.AsyncFunctionDef | None = None
    star_modules: list[str] = field(default_factory=list)  # from pymc import *
    nodes: list[ast.AST] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)  # results several rules share

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """Compute a shared result once per scan (model names, the mu closure, row names…).

        Parameters
        ----------
        key
            The name the result is shared under.
        compute
            Called, with no arguments, the first time ``key`` is asked for.

        Returns
        -------
        Any
            What ``compute`` returned, the same object on every later call.
        """
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]

    @classmethod
    def build(cls, tree: ast.Module, contract: Contract) -> ModelScan:
        """Index a parsed model file: parents, children, import aliases, locally bound names,
        ``build_model`` and the names that hold its data argument.

        Parameters
        ----------
        tree
            The parsed ``model.py``.
        contract
            The problem's causal contract, which the rules check against.

        Returns
        -------
        ModelScan
            With no findings yet.
        """
        scan = cls(tree=tree, contract=contract)
        scan.nodes = list(ast.walk(tree))
        for node in scan.nodes:
            kids = list(ast.iter_child_nodes(node))
            if kids:
                scan.children[node] = kids
            for child in kids:
                scan.parents[child] = node
            scan._index(node)
        scan.data_names = set(DATA_NAMES)
        if scan.build_model is not None:
            params = scan.build_model.args.posonlyargs + scan.build_model.args.args
            if params:
                scan.data_names.add(params[0].arg)
        # `d = data` makes d a data name too.
        for node in scan.nodes:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id in scan.data_names:
                scan.data_names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        return scan

    def _index(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.aliases[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    self.aliases[top] = top
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                if alias.name == "*":
                    self.star_modules.append(module)
                else:
                    self.aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            self.bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.bound.add(node.name)
            if node.name == "build_model" and self.build_model is None and self.parents.get(node) is self.tree:
                if not isinstance(node, ast.ClassDef):
                    self.build_model = node
        elif isinstance(node, ast.arg):
            self.bound.add(node.arg)

    # ------------------------------------------------------------------ reporting

    def report(self, code: str, message: str, node: ast.AST | None = None) -> None:
        """Record a finding whose severity comes from :data:`~engine.guard.codes.FINDING_CODES`.

        Parameters
        ----------
        code
            A code of :data:`~engine.guard.codes.FINDING_CODES`.
        message
            What is wrong and what to do about it.
        node
            Where it is; the finding takes its line (None for a file-level finding).
        """
        self.findings.append(finding(code, message, getattr(node, "lineno", None)))

    # ------------------------------------------------------------------ names

    def qualname(self, node: ast.AST) -> str | None:
        """Dotted name through import aliases: ``pm.math.dot`` -> ``pymc.math.dot``.

        None when the chain does not start at a name, or starts at a local variable.

        Parameters
        ----------
        node
            A name or an attribute chain.

        Returns
        -------
        str or None
        """
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        if node.id in self.aliases:
            base = self.aliases[node.id]
        elif node.id in self.bound:
            return None
        elif node.id in DEFAULT_ALIASES:
            base = DEFAULT_ALIASES[node.id]
        elif self.star_modules and node.id not in BUILTIN_NAMES:
            base = f"{self.star_modules[0]}.{node.id}"  # from pymc import *: sample() is pymc.sample
        else:
            base = node.id
        return ".".join([base, *reversed(parts)])

    def call_name(self, node: ast.AST) -> str | None:
        """The dotted name a call calls (see :meth:`qualname`), or None when ``node`` is not a call.

        Parameters
        ----------
        node
            Any node.

        Returns
        -------
        str or None
        """
        return self.qualname(node.func) if isinstance(node, ast.Call) else None

    def is_pymc_call(self, node: ast.AST, *names: str) -> bool:
        """``pm.<name>(…)`` for one of ``names``, however pymc was imported.

        Parameters
        ----------
        node
            Any node; False unless it is a call.
        *names
            Last components of the callee's dotted name (``"Data"``, ``"Deterministic"``).

        Returns
        -------
        bool
        """
        qual = self.call_name(node)
        # pymc3 counts too: obsolete-api already blocks it, so missing-t would only add noise.
        if not qual:
            return False
        return qual.split(".")[0] in ("pymc", "pymc3") and qual.rsplit(".", 1)[-1] in names

    def is_model_call(self, node: ast.AST) -> bool:
        """A call into PyMC or PyTensor: the expression builds part of the model graph.

        Parameters
        ----------
        node
            Any node; False unless it is a call whose name resolves under ``pymc`` or ``pytensor``.

        Returns
        -------
        bool
        """
        qual = self.call_name(node)
        if not qual:
            return False
        return qual.split(".")[0] in ("pymc", "pytensor")

    def is_builtin(self, node: ast.AST, *names: str) -> TypeGuard[ast.Name]:
        """A bare name that refers to one of the builtins ``names`` (not shadowed by a local binding).

        Parameters
        ----------
        node
            Any node.
        *names
            Builtin names such as ``"getattr"``.

        Returns
        -------
        bool
        """
        return isinstance(node, ast.Name) and node.id in names and node.id not in self.bound

    def data_attr(self, node: ast.AST) -> str | None:
        """The attribute read from the data argument: ``data.y`` -> ``"y"``, ``getattr(data, "t")`` -> ``"t"``.

        Parameters
        ----------
        node
            Any node.

        Returns
        -------
        str or None
            The column name, or None when ``node`` does not read one from the data argument.
        """
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in self.data_names:
            return node.attr
        if (
            isinstance(node, ast.Call)
            and self.is_builtin(node.func, "getattr")
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id in self.data_names
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            return node.args[1].value
        return None

    # ------------------------------------------------------------------ structure

    def ancestors(self, node: ast.AST) -> Iterator[tuple[ast.AST, ast.AST]]:
        """(child, parent) pairs from ``node`` up to the module.

        Parameters
        ----------
        node
            Any node of the scanned tree.

        Yields
        ------
        tuple of ast.AST
            ``(child, parent)``, starting with ``node`` and its parent.
        """
        while node in self.parents:
            parent = self.parents[node]
            yield node, parent
            node = parent

    def statement_of(self, node: ast.AST) -> ast.stmt | None:
        """The nearest statement that contains ``node`` (not ``node`` itself).

        Parameters
        ----------
        node
            Any node of the scanned tree.

        Returns
        -------
        ast.stmt or None
            None for the module and for nodes outside any statement.
        """
        for _, parent in self.ancestors(node):
            if isinstance(parent, ast.stmt):
                return parent
        return None

    def enclosing_function(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The innermost function definition that contains ``node``.

        Parameters
        ----------
        node
            Any node of the scanned tree.

        Returns
        -------
        ast.FunctionDef or ast.AsyncFunctionDef or None
            None at module level.
        """
        for _, parent in self.ancestors(node):
            if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return parent
        return None

    def is_docstring(self, node: ast.AST) -> bool:
        """A bare string statement: a docstring or a comment written as a string.

        Parameters
        ----------
        node
            Usually a string constant.

        Returns
        -------
        bool
            True when its parent is an expression statement.
        """
        return isinstance(self.parents.get(node), ast.Expr)


def first_arg(call: ast.Call, keyword: str) -> ast.AST | None:
    """The first positional argument, or the keyword of that name.

    Parameters
    ----------
    call
        The call.
    keyword
        The name of that argument when passed by keyword.

    Returns
    -------
    ast.AST or None
        None when the call passes neither.
    """
    if call.args:
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def second_arg(call: ast.Call, keyword: str) -> ast.AST | None:
    """The second positional argument, or the keyword of that name.

    Parameters
    ----------
    call
        The call.
    keyword
        The name of that argument when passed by keyword.

    Returns
    -------
    ast.AST or None
        None when the call passes neither.
    """
    if len(call.args) >= 2:
        return call.args[1]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def const_str(node: ast.AST | None) -> str | None:
    """The value of a string constant.

    Parameters
    ----------
    node
        Any node, or None.

    Returns
    -------
    str or None
        None unless ``node`` is a string literal.
    """
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def assigned_names(target: ast.AST) -> list[str]:
    """Names bound by an assignment target; for ``obj[k] = …`` and ``obj.a = …`` the object's name
    (and, for a subscript, any name in the index too).

    Parameters
    ----------
    target
        An assignment target.

    Returns
    -------
    list of str
        Every name that occurs in it, in walk order (so ``obj[k] = …`` gives ``obj`` and ``k``).
    """
    names: list[str] = []
    for node in ast.walk(target):
        if isinstance(node, ast.Name):
            names.append(node.id)
    return names


def bindings(scan: ModelScan) -> list[tuple[ast.AST, ast.AST]]:
    """(target, value) pairs of every assignment-like binding in the file.

    Parameters
    ----------
    scan
        The scan; the result is cached on it.

    Returns
    -------
    list of tuple of ast.AST
        From ``=``, annotated and augmented assignments, ``:=``, ``for`` targets and
        comprehensions (paired with the iterable) and ``with … as`` (paired with the context
        expression).
    """
    return scan.cached("bindings", lambda: list(_bindings(scan)))


def _bindings(scan: ModelScan) -> Iterator[tuple[ast.AST, ast.AST]]:
    for node in scan.nodes:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                yield target, node.value
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            yield node.target, node.value
        elif isinstance(node, ast.NamedExpr):
            yield node.target, node.value
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            yield node.target, node.iter
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            yield node.optional_vars, node.context_expr


Rule = Callable[[ModelScan], None]


class RuleSet(list):
    """An ordered list of rules with a decorator that registers one."""

    def rule(self, check: Rule) -> Rule:
        """Append ``check`` to the set; used as a decorator.

        Each rule takes the :class:`ModelScan` and reports findings on it (:meth:`ModelScan.report`);
        it returns nothing and should not raise (a rule that does becomes a ``guard-error`` finding).

        Parameters
        ----------
        check
            A rule: it reads a :class:`ModelScan` and reports findings on it.

        Returns
        -------
        Rule
            ``check`` itself.
        """
        self.append(check)
        return check
