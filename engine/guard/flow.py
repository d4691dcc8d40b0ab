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
    {
        f"numpy.{name}"
        for name in (
            "mean",
            "std",
            "var",
            "median",
            "quantile",
            "percentile",
            "min",
            "max",
            "amin",
            "amax",
            "ptp",
            "sum",
            "average",
            "any",
            "all",
            "size",
            "shape",
            "ndim",
            "count_nonzero",
            "nanmean",
            "nanstd",
            "nanvar",
            "nanmedian",
            "nanquantile",
            "nanpercentile",
            "nanmin",
            "nanmax",
            "nansum",
        )
    }
    | {"len", "min", "max", "sum"}
)
SUMMARY_METHODS = frozenset(
    {"mean", "std", "var", "median", "quantile", "min", "max", "sum", "any", "all", "ptp", "nunique", "count"}
)
META_ATTRS = frozenset({"shape", "size", "ndim", "dtype", "name"})
FILTER_FUNCS = frozenset({"numpy.nonzero", "numpy.flatnonzero", "numpy.argwhere", "numpy.extract", "numpy.compress"})
# Calls that only convert or wrap a value: passing the outcome through them is not a use.
WRAPPERS = frozenset(
    {
        "pytensor.shared",
        "pytensor.tensor.as_tensor",
        "pytensor.tensor.as_tensor_variable",
        "pytensor.tensor.constant",
        "numpy.asarray",
        "numpy.array",
        "numpy.asanyarray",
        "numpy.float64",
        "numpy.int64",
    }
)
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
        """The occurrences classified as ``use``, in file order.

        Parameters
        ----------
        use
            The kind of use to select.

        Returns
        -------
        list of Occurrence
        """
        return [o for o in self.occurrences if o.use is use]


def model_names(scan: ModelScan) -> set[str]:
    """Names bound to PyMC/PyTensor objects (random variables, containers, the model).

    Parameters
    ----------
    scan
        The scan; the result is cached on it.

    Returns
    -------
    set of str
        Found by following assignments until nothing changes (at most twelve passes).
    """
    return scan.cached("model_names", lambda: _model_names(scan))


def _model_names(scan: ModelScan) -> set[str]:
    names: set[str] = set()
    for _ in range(12):
        before = len(names)
        marked = model_marks(scan, names)
        for target, value in bindings(scan):
            if id(value) in marked:
                names.update(assigned_names(target))
        if len(names) == before:
            break
    return names


def model_marks(scan: ModelScan, names: set[str]) -> set[int]:
    """Ids of every node whose subtree builds part of the model graph, in one bottom-up pass.

    A call into PyMC/PyTensor (other than wrappers and data containers) or a name bound to a
    model object marks its node and all its ancestors.

    Parameters
    ----------
    scan
        The scan.
    names
        Names already known to hold model objects (:func:`model_names`).

    Returns
    -------
    set of int
        ``id()`` of each marked node.
    """
    marked: set[int] = set()
    for node in reversed(scan.nodes):  # ast.walk is breadth-first: children come after parents
        if _builds_model(scan, node, names) or any(id(c) in marked for c in scan.children.get(node, ())):
            marked.add(id(node))
    return marked


def _builds_model(scan: ModelScan, node: ast.AST, names: set[str]) -> bool:
    if isinstance(node, ast.Call) and scan.is_model_call(node):
        return scan.call_name(node) not in WRAPPERS and not scan.is_pymc_call(node, *CONTAINERS)
    return isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in names


def involves_model(scan: ModelScan, expr: ast.AST, names: set[str]) -> bool:
    """Whether ``expr`` builds part of the model graph (one-off questions; see :func:`model_marks`).

    Parameters
    ----------
    scan
        The scan.
    expr
        The expression to look into.
    names
        Names known to hold model objects (:func:`model_names`).

    Returns
    -------
    bool
    """
    return any(_builds_model(scan, node, names) for node in ast.walk(expr))


def trace(
    scan: ModelScan, is_source: Callable[[ast.AST], bool], models: set[str], container: str | None = None
) -> Flow:
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

    Returns
    -------
    Flow
        The names the source was carried into (with the line where each first took it) and
        every occurrence of the source or those names with its :class:`Use`.
    """
    sources = [n for n in scan.nodes if is_source(n)]
    marked = scan.cached(f"marks:{sorted(models)}", lambda: model_marks(scan, models))
    tainted: dict[str, int] = {}
    for _ in range(12):
        changed = False
        for node, _via in _occurrences(scan, sources, tainted):
            use, targets = classify(scan, node, marked, container)
            if use is Use.CARRIER:
                for name in targets:
                    if name not in tainted and name not in scan.data_names:
                        tainted[name] = getattr(node, "lineno", 0)
                        changed = True
        if not changed:
            break
    occurrences = tuple(
        Occurrence(node, classify(scan, node, marked, container)[0], via)
        for node, via in _occurrences(scan, sources, tainted)
    )
    return Flow(tainted, occurrences)


def _occurrences(scan: ModelScan, sources: list[ast.AST], tainted: dict[str, int]):
    for node in sources:
        yield node, None
    for node in scan.nodes:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in tainted:
            yield node, node.id


@dataclass(frozen=True)
class Context:
    """What lies between an expression and its statement, gathered once per node and shared.

    Memoised per node, so classifying every occurrence costs one pass over the tree even
    for a pathologically deep expression.
    """

    meta: bool = False  # read only for metadata: x.shape, x.dtype
    summary: bool = False  # inside a scalar summary: np.mean(x), x.std(), len(x)
    slice: bool = False  # inside the index of a subscript: X[x > 0]
    filter: bool = False  # inside np.nonzero(x), np.where(cond)…
    observed: bool = False  # inside observed= of a likelihood
    container: str | None = None  # the name of the pm.Data(name, x) it feeds
    carried: tuple[str, ...] = ()  # names bound by walrus operators on the way
    stmt: ast.stmt | None = None
    top: ast.AST | None = None  # the outermost expression below the statement

    def under(self, outer: Context) -> Context:
        """This step's context combined with the context of the node above it.

        Flags are or-ed, walrus-carried names concatenated, and the statement and top expression
        come from ``outer``; ``outer``'s container, when it has one, wins.

        Parameters
        ----------
        outer
            The context of the parent node.

        Returns
        -------
        Context
        """
        return Context(
            meta=self.meta or outer.meta,
            summary=self.summary or outer.summary,
            slice=self.slice or outer.slice,
            filter=self.filter or outer.filter,
            observed=self.observed or outer.observed,
            container=outer.container if outer.container is not None else self.container,
            carried=self.carried + outer.carried,
            stmt=outer.stmt,
            top=outer.top,
        )


def context(scan: ModelScan, node: ast.AST) -> Context:
    """The :class:`Context` of ``node``: every step from it up to its statement.

    Parameters
    ----------
    scan
        The scan; contexts are memoised on it.
    node
        Any node of the scanned tree.

    Returns
    -------
    Context
    """
    memo: dict[int, Context] = scan.cache.setdefault("context", {})
    path: list[ast.AST] = []
    current = node
    while id(current) not in memo:
        parent = scan.parents.get(current)
        if parent is None or isinstance(parent, ast.stmt):
            memo[id(current)] = Context(stmt=parent, top=current)
            break
        path.append(current)
        current = parent
    for child in reversed(path):
        parent = scan.parents[child]
        memo[id(child)] = _step(scan, child, parent).under(memo[id(parent)])
    return memo[id(node)]


def _step(scan: ModelScan, child: ast.AST, parent: ast.AST) -> Context:
    """What one step from ``child`` up to ``parent`` says about a value at ``child``."""
    if isinstance(parent, ast.Attribute) and child is parent.value:
        if parent.attr in META_ATTRS:
            return Context(meta=True)
        grand = scan.parents.get(parent)
        if parent.attr in SUMMARY_METHODS and isinstance(grand, ast.Call) and grand.func is parent:
            return Context(summary=True)
    elif isinstance(parent, ast.Subscript) and child is parent.slice:
        return Context(slice=True)
    elif isinstance(parent, ast.Call) and child is not parent.func:
        arg = child.value if isinstance(child, ast.keyword) else child
        qual = scan.call_name(parent)
        if qual in SUMMARY_FUNCS:
            return Context(summary=True)
        if qual in FILTER_FUNCS or (qual == "numpy.where" and len(parent.args) == 1 and not parent.keywords):
            return Context(filter=True)
        if scan.is_pymc_call(parent, *CONTAINERS) and arg is second_arg(parent, "value"):
            return Context(container=const_str(first_arg(parent, "name")) or "?")
    elif isinstance(parent, ast.keyword) and parent.arg == "observed":
        return Context(observed=True)
    elif isinstance(parent, ast.NamedExpr) and child is parent.value:
        return Context(carried=tuple(assigned_names(parent.target)))
    return Context()


def classify(scan: ModelScan, node: ast.AST, marked: set[int], container: str | None = None) -> tuple[Use, list[str]]:
    """How one occurrence of a source is used, and which names it carries into.

    ``marked`` holds the ids of nodes that build the model (from :func:`model_marks`).

    Parameters
    ----------
    scan
        The scan.
    node
        An occurrence of the source, or of a name that carries it.
    marked
        Ids of the nodes that build the model.
    container
        The data container the source is meant to feed (see :func:`trace`).

    Returns
    -------
    tuple of (Use, list of str)
        The use, and the names the value flows into (assignment targets, loop variables, the
        enclosing function for a ``return``, walrus targets on the way).
    """
    ctx = context(scan, node)
    carried = list(ctx.carried)
    stmt, top = ctx.stmt, ctx.top
    if ctx.meta or ctx.summary:
        return Use.ALLOWED, []
    if ctx.slice or ctx.filter:
        return Use.FILTER, carried
    if ctx.observed:
        return Use.ALLOWED, []
    if ctx.container is not None and ctx.container == container:
        return Use.ALLOWED, []
    if stmt is None:
        return Use.ALLOWED, carried
    if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        value = stmt.value  # None only for a bare annotation, ``x: T``, where top (a node) is elsewhere
        if value is None or top is not value:
            return Use.ALLOWED, carried  # the source is assigned to, not read
        if ctx.container is None and id(value) in marked:
            return Use.PREDICTOR, carried
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        return Use.CARRIER, carried + [n for t in targets for n in _paired_targets(t, value, node, scan)]
    if isinstance(stmt, (ast.For, ast.AsyncFor)) and top is stmt.iter:
        return Use.CARRIER, carried + assigned_names(stmt.target)
    if isinstance(stmt, ast.Return):
        func = scan.enclosing_function(stmt)
        return Use.CARRIER, carried + ([func.name] if func else [])
    if ctx.container is not None:
        return Use.CARRIER, carried
    if id(top) in marked:
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
