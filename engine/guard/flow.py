"""Where a value from the data goes: into a summary, the likelihood, a row mask, or the mean.

A small, flow-insensitive taint analysis. A *source* (``data.y``, ``data.t``…) is followed
through plain assignments (``y = data.y``, ``mask = data.y > 0``) to every place it is
used, and each use is classified:

- ``ALLOWED``: a scalar summary (``data.y.std()``), metadata (``data.y.shape``), the
  ``observed=`` of a likelihood, or the treatment container itself;
- ``CARRIER``: a plain data-preparation assignment or a data container: the names it
  binds carry the source on, and their own uses are classified in turn;
- ``FILTER``: the source selects rows (a subscript mask, ``np.where(cond)``…);
- ``PREDICTOR``: the source enters an expression that builds the model graph.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from engine.guard.context import ModelScan, assigned_names, bindings, const_str, first_arg, second_arg

SUMMARY_FUNCS = frozenset(
    {f"numpy.{name}" for name in (
        "mean", "std", "var", "median", "quantile", "percentile", "min", "max", "amin", "amax", "ptp",
        "sum", "average", "any", "all", "size", "shape", "ndim", "count_nonzero",
        "nanmean", "nanstd", "nanvar", "nanmedian", "nanquantile", "nanpercentile", "nanmin", "nanmax", "nansum",
    )}
    | {"len", "min", "max", "sum"}
)
SUMMARY_METHODS = frozenset({"mean", "std", "var", "median", "quantile", "min", "max", "sum", "any", "all", "ptp", "nunique", "count"})
META_ATTRS = frozenset({"shape", "size", "ndim", "dtype", "name"})
FILTER_FUNCS = frozenset({"numpy.nonzero", "numpy.flatnonzero", "numpy.argwhere", "numpy.extract", "numpy.compress"})
# Calls that only convert or wrap a value: passing the outcome through them is not a use.
WRAPPERS = frozenset({
    "pytensor.shared", "pytensor.tensor.as_tensor", "pytensor.tensor.as_tensor_variable", "pytensor.tensor.constant",
    "numpy.asarray", "numpy.array", "numpy.asanyarray", "numpy.float64", "numpy.int64",
})
CONTAINERS = ("Data", "MutableData", "ConstantData")


class Use(Enum):
    ALLOWED = "allowed"
    CARRIER = "carrier"
    FILTER = "filter"
    PREDICTOR = "predictor"


@dataclass(frozen=True)
class Occurrence:
    node: ast.AST
    use: Use
    via: str | None  # the tainted name this use goes through, None for the source itself


@dataclass(frozen=True)
class Flow:
    tainted: dict[str, int]  # name -> line where it first took the source
    occurrences: tuple[Occurrence, ...]

    def uses(self, use: Use) -> list[Occurrence]:
        return [o for o in self.occurrences if o.use is use]


def model_names(scan: ModelScan) -> set[str]:
    """Names bound to PyMC/PyTensor objects (random variables, containers, the model)."""
    names: set[str] = set()
    for _ in range(12):
        before = len(names)
        for target, value in bindings(scan):
            if involves_model(scan, value, names):
                names.update(assigned_names(target))
        if len(names) == before:
            break
    return names


def involves_model(scan: ModelScan, expr: ast.AST, names: set[str]) -> bool:
    for node in ast.walk(expr):
        if isinstance(node, ast.Call) and scan.is_model_call(node):
            if scan.call_name(node) not in WRAPPERS and not scan.is_pymc_call(node, *CONTAINERS):
                return True
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in names:
            return True
    return False


def trace(scan: ModelScan, is_source: Callable[[ast.AST], bool], models: set[str], container: str | None = None) -> Flow:
    """Follow a source through the file and classify each use.

    Parameters
    ----------
    scan
        The parsed file.
    is_source
        Whether a node reads the source (``data.y``).
    models
        Names bound to model objects (from :func:`model_names`).
    container
        Name of the data container this source is meant to feed (``"t"`` for the
        treatment): feeding it is allowed and does not carry the source on.
    """
    sources = [n for n in scan.nodes if is_source(n)]
    tainted: dict[str, int] = {}
    for _ in range(12):
        changed = False
        for node, via in _occurrences(scan, sources, tainted):
            use, targets = classify(scan, node, models, container)
            if use is Use.CARRIER:
                for name in targets:
                    if name not in tainted and name not in scan.data_names:
                        tainted[name] = getattr(node, "lineno", 0)
                        changed = True
        if not changed:
            break
    occurrences = tuple(
        Occurrence(node, classify(scan, node, models, container)[0], via) for node, via in _occurrences(scan, sources, tainted)
    )
    return Flow(tainted, occurrences)


def _occurrences(scan: ModelScan, sources: list[ast.AST], tainted: dict[str, int]):
    for node in sources:
        yield node, None
    for node in scan.nodes:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in tainted:
            yield node, node.id


def classify(scan: ModelScan, node: ast.AST, models: set[str], container: str | None = None) -> tuple[Use, list[str]]:
    """How one occurrence of a source is used, and which names it carries into."""
    in_summary = in_slice = in_filter = in_observed = False
    fed_container: str | None = None
    carried: list[str] = []
    stmt: ast.stmt | None = None
    top: ast.AST = node  # the outermost expression below the statement
    for child, parent in scan.ancestors(node):
        if isinstance(parent, ast.stmt):
            stmt = parent
            top = child
            break
        if isinstance(parent, ast.Attribute) and child is parent.value:
            if parent.attr in META_ATTRS:
                return Use.ALLOWED, []
            grand = scan.parents.get(parent)
            if parent.attr in SUMMARY_METHODS and isinstance(grand, ast.Call) and grand.func is parent:
                in_summary = True
        elif isinstance(parent, ast.Subscript) and child is parent.slice:
            in_slice = True
        elif isinstance(parent, ast.Call) and child is not parent.func:
            arg = child.value if isinstance(child, ast.keyword) else child
            qual = scan.call_name(parent)
            if qual in SUMMARY_FUNCS:
                in_summary = True
            elif qual in FILTER_FUNCS or (qual == "numpy.where" and len(parent.args) == 1 and not parent.keywords):
                in_filter = True
            elif scan.is_pymc_call(parent, *CONTAINERS) and arg is second_arg(parent, "value"):
                fed_container = const_str(first_arg(parent, "name")) or "?"
        elif isinstance(parent, ast.keyword) and parent.arg == "observed":
            in_observed = True
        elif isinstance(parent, ast.NamedExpr) and child is parent.value:
            carried.extend(assigned_names(parent.target))
    if in_summary:
        return Use.ALLOWED, []
    if in_slice or in_filter:
        return Use.FILTER, carried
    if in_observed:
        return Use.ALLOWED, []
    if fed_container is not None and fed_container == container:
        return Use.ALLOWED, []
    if stmt is None:
        return Use.ALLOWED, carried
    if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        if top is not stmt.value:
            return Use.ALLOWED, carried  # the source is assigned to, not read
        if fed_container is None and involves_model(scan, stmt.value, models):
            return Use.PREDICTOR, carried
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        return Use.CARRIER, carried + [n for t in targets for n in _paired_targets(t, stmt.value, node, scan)]
    if isinstance(stmt, (ast.For, ast.AsyncFor)) and top is stmt.iter:
        return Use.CARRIER, carried + assigned_names(stmt.target)
    if isinstance(stmt, ast.Return):
        func = scan.enclosing_function(stmt)
        return Use.CARRIER, carried + ([func.name] if func else [])
    if fed_container is not None:
        return Use.CARRIER, carried
    if involves_model(scan, top, models):
        return Use.PREDICTOR, carried
    return Use.ALLOWED, carried


def _paired_targets(target: ast.AST, value: ast.AST, node: ast.AST, scan: ModelScan) -> list[str]:
    """``a, b = x, data.y`` carries into ``b`` only."""
    if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)):
        if len(target.elts) == len(value.elts):
            for child, parent in scan.ancestors(node):
                if parent is value:
                    index = next(i for i, e in enumerate(value.elts) if e is child)
                    return assigned_names(target.elts[index])
    return assigned_names(target)
