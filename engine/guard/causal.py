"""Causal rules: forbidden columns, the outcome as a predictor, and selection of rows."""

from __future__ import annotations

import ast
from collections.abc import Callable

from engine.guard import tables as T
from engine.guard.codes import finding
from engine.guard.context import IDENT, ModelScan, RuleSet, assigned_names, bindings, const_str, first_arg
from engine.guard.flow import FILTER_FUNCS, Use, context, model_names, trace
from engine.problem import Contract

RULES = RuleSet()
rule = RULES.rule


# --------------------------------------------------------------------------- the contract


def describe_forbidden(contract: Contract, names: list[str]) -> str:
    """``column 'opened' (mediator: opened the email)``, or several as ``columns …``.

    Parameters
    ----------
    contract
        The contract whose forbidden columns give the reasons.
    names
        Column names; one not listed in the contract is described as just ``forbidden``.

    Returns
    -------
    str
    """
    parts = []
    for name in names:
        entry = contract.forbidden_reason(name)
        reason = (entry.reason.value + (f": {entry.note}" if entry.note else "")) if entry else "forbidden"
        parts.append(f"{name!r} ({reason})")
    return ("column " if len(parts) == 1 else "columns ") + ", ".join(parts)


def forbidden_message(contract: Contract, names: list[str]) -> str:
    """Name each forbidden column with its reason, and say to remove it.

    Parameters
    ----------
    contract
        The contract whose forbidden columns give the reasons.
    names
        The forbidden column names, in the order to name them.

    Returns
    -------
    str
        A finding message.
    """
    one = len(names) == 1
    return (
        f"{describe_forbidden(contract, names)} {'is' if one else 'are'} forbidden by the contract; "
        f"remove {'it' if one else 'them'}. Use only the allowed controls"
    )


def _forbidden_in(scan: ModelScan, node: ast.AST) -> list[str]:
    """Forbidden names a node mentions: a string literal (whole or as a token) or an attribute."""
    forbidden = scan.contract.forbidden_names
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and not scan.is_docstring(node):
        if node.value in forbidden:
            return [node.value]
        return sorted({tok for tok in IDENT.findall(node.value) if tok in forbidden})
    if isinstance(node, ast.Attribute) and node.attr in forbidden:
        return [node.attr]
    return []


@rule
def check_forbidden_columns(scan: ModelScan) -> None:
    """Any mention of a forbidden column; several on one line become one finding naming them all."""
    by_line: dict[int, list[str]] = {}
    for node in scan.nodes:
        if not isinstance(node, ast.expr):
            continue  # only constants and attributes mention a name (see _forbidden_in)
        for name in _forbidden_in(scan, node):
            names = by_line.setdefault(node.lineno, [])
            if name not in names:
                names.append(name)
    for line, names in by_line.items():
        scan.findings.append(finding("forbidden-column", forbidden_message(scan.contract, names), line))


def _outcome_source(scan: ModelScan) -> Callable[[ast.AST], bool]:
    outcome = scan.contract.outcome

    def is_source(node: ast.AST) -> bool:
        if scan.data_attr(node) == "y":
            return True
        return isinstance(node, ast.Subscript) and outcome in _slice_strings(node.slice)

    return is_source


def _slice_strings(node: ast.AST) -> set[str]:
    elts = node.elts if isinstance(node, (ast.Tuple, ast.List)) else [node]
    found: set[str] = set()
    for e in elts:
        for inner in e.elts if isinstance(e, (ast.Tuple, ast.List)) else [e]:
            text = const_str(inner)
            if text is not None:
                found.add(text)
    return found


@rule
def check_outcome(scan: ModelScan) -> None:
    """The outcome may appear only in observed= or in a scalar summary; never as a predictor or a mask."""
    outcome = scan.contract.outcome
    models = model_names(scan)
    flow = trace(scan, _outcome_source(scan), models)
    for occ in flow.uses(Use.PREDICTOR):
        where = (
            f"{occ.via!r} carries the outcome (it was built from {outcome!r} on line {flow.tainted[occ.via]})"
            if occ.via
            else f"the outcome {outcome!r} (data.y)"
        )
        scan.report(
            "outcome-as-predictor",
            f"{where} is used as a predictor; the outcome may appear only in observed= of the likelihood "
            "or in a scalar summary for prior scales (data.y.std()). Remove it from the model's mean",
            occ.node,
        )
    for occ in flow.uses(Use.FILTER):
        where = (
            f"{occ.via!r}, built from the outcome on line {flow.tainted[occ.via]},"
            if occ.via
            else f"the outcome {outcome!r}"
        )
        scan.report(
            "outcome-filter",
            f"rows are selected on {where}: that is selection on the outcome and biases every estimate. "
            "Keep all rows; model the outcome with the likelihood instead",
            occ.node,
        )


def _forbidden_source(scan: ModelScan) -> Callable[[ast.AST], bool]:
    forbidden = scan.contract.forbidden_names

    def is_source(node: ast.AST) -> bool:
        if isinstance(node, ast.Attribute):
            return node.attr in forbidden
        return isinstance(node, ast.Subscript) and bool(_slice_strings(node.slice) & forbidden)

    return is_source


@rule
def check_forbidden_filter(scan: ModelScan) -> None:
    """Rows selected on a forbidden column: conditioning on a mediator or collider."""
    forbidden = scan.contract.forbidden_names
    flow = trace(scan, _forbidden_source(scan), model_names(scan))
    for occ in flow.uses(Use.FILTER):
        if occ.via:
            what = f"{occ.via!r}, built from a forbidden column on line {flow.tainted[occ.via]}"
        else:
            source = occ.node
            if isinstance(source, ast.Attribute):
                names = [source.attr]
            else:
                assert isinstance(source, ast.Subscript)  # the other kind of node _forbidden_source accepts
                names = sorted(_slice_strings(source.slice) & forbidden)
            what = describe_forbidden(scan.contract, names)
        scan.report(
            "outcome-filter",
            f"rows are selected on {what}; conditioning on a post-treatment, mediator or leakage column "
            "biases the effect. Keep all rows and remove the column",
            occ.node,
        )


@rule
def check_query_strings(scan: ModelScan) -> None:
    """``.query("…")`` filters rows with column names hidden in a string."""
    watched = {scan.contract.outcome} | scan.contract.forbidden_names
    for node in scan.nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "query":
            text = const_str(first_arg(node, "expr")) or ""
            named = sorted(set(IDENT.findall(text)) & watched)
            if named:
                scan.report(
                    "outcome-filter",
                    f".query() selects rows on {', '.join(named)} (the outcome or a forbidden column); keep all rows",
                    node,
                )


# --------------------------------------------------------------------------- rows


def row_names(scan: ModelScan) -> dict[str, str]:
    """Names holding one row per unit, and whether each is a "frame" or an "array".

    Parameters
    ----------
    scan
        The scan; the result is cached on it.

    Returns
    -------
    dict of str to str
        Variable name to ``"frame"`` or ``"array"``, found by following assignments until
        nothing changes (at most eight passes).
    """
    return scan.cached("row_names", lambda: _row_names(scan))


def _row_names(scan: ModelScan) -> dict[str, str]:
    names: dict[str, str] = {}
    for _ in range(8):
        before = dict(names)
        for target, value in bindings(scan):
            kind = row_kind(scan, value, names)
            if kind:
                for name in assigned_names(target):
                    names.setdefault(name, kind)
        if names == before:
            break
    return names


def row_kind(scan: ModelScan, node: ast.AST, names: dict[str, str], depth: int = 0) -> str | None:
    """``"frame"`` or ``"array"`` when ``node`` holds one row per unit (data.X, data.t, X.to_numpy()…).

    Parameters
    ----------
    scan
        The scan.
    node
        An expression.
    names
        Variables already known to hold rows, as from :func:`row_names`.
    depth
        Recursion depth so far; beyond 40 the answer is None.

    Returns
    -------
    str or None
        ``"frame"``, ``"array"``, or None when ``node`` does not hold one row per unit.
    """
    if depth > 40:
        return None
    attr = scan.data_attr(node)
    if attr == "X":
        return "frame"
    if attr in ("t", "y", "X_continuous", "X_binary"):
        return "array"
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        return names.get(node.id)
    if isinstance(node, ast.Attribute) and node.attr == "values":
        return "array" if row_kind(scan, node.value, names, depth + 1) else None
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute):
            if func.attr == "spline_basis" and scan.data_attr(func) == "spline_basis":
                return "array"
            base = row_kind(scan, func.value, names, depth + 1)
            if base and func.attr in ("to_numpy", "astype", "copy"):
                return "array" if func.attr == "to_numpy" else base
        if scan.call_name(node) in ("numpy.asarray", "numpy.array", "numpy.column_stack", "numpy.hstack"):
            args = [e for a in node.args for e in (a.elts if isinstance(a, (ast.List, ast.Tuple)) else [a])]
            if any(row_kind(scan, a, names, depth + 1) for a in args):
                return "array"
    if isinstance(node, ast.BinOp):
        return row_kind(scan, node.left, names, depth + 1) or row_kind(scan, node.right, names, depth + 1)
    if isinstance(node, ast.Subscript):
        base = row_kind(scan, node.value, names, depth + 1)
        if base == "frame" and isinstance(node.slice, (ast.List, ast.Name)):
            return "frame"
        return "array" if base else None
    return None


def _mask_names(scan: ModelScan) -> set[str]:
    masks: set[str] = set()
    for target, value in bindings(scan):
        if _looks_like_mask(value):
            masks.update(assigned_names(target))
    return masks


def _looks_like_mask(node: ast.AST) -> bool:
    if isinstance(node, (ast.Compare, ast.BoolOp)) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert))
    ):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in T.MASK_METHODS


def _is_full_slice(node: ast.AST) -> bool:
    if isinstance(node, ast.Slice):
        return node.lower is None and node.upper is None and node.step is None
    return isinstance(node, ast.Constant) and node.value in (None, Ellipsis)


def _first_index(node: ast.AST) -> ast.AST:
    return node.elts[0] if isinstance(node, ast.Tuple) and node.elts else node


def is_summarised(scan: ModelScan, node: ast.AST) -> bool:
    """Inside a scalar summary (np.mean(…), ….std(), len(…)) before reaching the statement.

    Parameters
    ----------
    scan
        The scan.
    node
        An expression in it.

    Returns
    -------
    bool
    """
    return context(scan, node).summary


ROW_FILTER_MESSAGE = (
    "{what} keeps only some rows, which changes the population the effect is averaged over and can "
    "misalign rows with t and y; use every row (the harness computes the estimand over the contract's population)"
)


@rule
def check_row_filter(scan: ModelScan) -> None:
    """Rows dropped or selected from data that holds one row per unit (a subscript that is not a
    full slice, ``.dropna()`` and the like), outside scalar summaries.
    """
    names = row_names(scan)
    masks = _mask_names(scan)
    for node in scan.nodes:
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and not is_summarised(scan, node):
            if _selects_rows(scan, node, names, masks):
                scan.report("row-filter", ROW_FILTER_MESSAGE.format(what="this subscript"), node)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not is_summarised(scan, node):
            method = node.func.attr
            by_index = method == "drop" and any(k.arg == "index" for k in node.keywords)
            if (method in T.ROW_METHODS or by_index) and row_kind(scan, node.func.value, names):
                scan.report("row-filter", ROW_FILTER_MESSAGE.format(what=f".{method}()"), node)


def _selects_rows(scan: ModelScan, node: ast.Subscript, names: dict[str, str], masks: set[str]) -> bool:
    value, index = node.value, node.slice
    if isinstance(value, ast.Attribute) and value.attr in ("iloc", "loc") and row_kind(scan, value.value, names):
        return not _is_full_slice(_first_index(index))
    kind = row_kind(scan, value, names)
    if kind == "array":
        return not _is_full_slice(_first_index(index))
    if kind == "frame":
        if isinstance(index, ast.Slice) or _looks_like_mask(index):
            return True
        if isinstance(index, ast.Name) and index.id in masks:
            return True
        return isinstance(index, ast.Call) and scan.call_name(index) in FILTER_FUNCS
    return False
