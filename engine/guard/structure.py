"""Model-contract rules: build_model, the "t" container, "mu", and what belongs to the harness."""

from __future__ import annotations

import ast
from collections.abc import Callable

from engine.guard import tables as T
from engine.guard.causal import row_kind, row_names
from engine.guard.context import ModelScan, RuleSet, assigned_names, bindings, const_str, first_arg, second_arg
from engine.guard.flow import CONTAINERS, Use, involves_model, model_names, trace

RULES = RuleSet()
rule = RULES.rule


# --------------------------------------------------------------------------- the model contract


def _containers(scan: ModelScan, name: str) -> list[ast.Call]:
    return [
        n
        for n in scan.nodes
        if isinstance(n, ast.Call) and scan.is_pymc_call(n, *CONTAINERS) and const_str(first_arg(n, "name")) == name
    ]


def _deterministics(scan: ModelScan, name: str) -> list[ast.Call]:
    return [
        n
        for n in scan.nodes
        if isinstance(n, ast.Call) and scan.is_pymc_call(n, "Deterministic") and const_str(first_arg(n, "name")) == name
    ]


@rule
def check_structure(scan: ModelScan) -> None:
    """build_model(data), the "t" container and the "mu" Deterministic the harness relies on."""
    build = scan.build_model
    assigned = any(
        isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "build_model" for t in n.targets)
        for n in scan.tree.body
    )
    if build is None and not assigned:
        scan.report(
            "missing-build-model",
            "model.py must define build_model(data) returning a pm.Model; the harness calls it with the problem's data",
        )
    if build is not None:
        args = build.args
        if not (args.posonlyargs or args.args or args.vararg):
            scan.report(
                "build-model-signature", "build_model must take the data argument: def build_model(data):", build
            )
    anchor = build  # missing pieces are reported at the function that should hold them
    if not _containers(scan, "t"):
        scan.report(
            "missing-t",
            'register the treatment as a data container named "t": t = pm.Data("t", data.t, dims="obs"); '
            "the harness computes the effect by setting it to all ones and all zeros",
            anchor,
        )
    if not _deterministics(scan, "mu"):
        scan.report(
            "missing-mu",
            'define the expected outcome as pm.Deterministic("mu", ..., dims="obs") (a probability for a binary '
            "outcome); the harness averages its change under intervention",
            anchor,
        )


def _treatment_source(scan: ModelScan) -> Callable[[ast.AST], bool]:
    """``data.t``, or a container's values read back at build time (``t.get_value()``: the observed treatment)."""
    return lambda node: scan.data_attr(node) == "t" or _reads_back(node)


def _reads_back(node: ast.AST) -> bool:
    # with or without arguments: get_value(True) borrows the same values (red team, round 11)
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("get_value", "eval")
    )


@rule
def check_treatment(scan: ModelScan) -> None:
    """The mean must reach the treatment through the "t" container, or intervention misses it."""
    is_t = _treatment_source(scan)
    models = model_names(scan)
    flow = trace(scan, is_t, models, container="t")
    mus, closure = _mu_closure(scan)
    for occ in flow.occurrences:
        if occ.use is Use.FILTER:
            # Indexing a parameter by the raw treatment (alpha[data.t]) is a predictor, not a row filter.
            subscript = next(
                (p for c, p in scan.ancestors(occ.node) if isinstance(p, ast.Subscript) and c is p.slice), None
            )
            if subscript is None or not involves_model(scan, subscript.value, models):
                continue
        elif occ.use is not Use.PREDICTOR:
            continue
        if mus and not _feeds(scan, occ.node, mus, closure):
            continue  # e.g. a per-arm noise scale: the intervention on mu is unaffected
        what = f"{occ.via!r} (a copy of data.t made on line {flow.tainted[occ.via]})" if occ.via else "data.t"
        scan.report(
            "treatment-not-container",
            f'{what} is used directly in the mean; the harness intervenes on the "t" container, so this term '
            'ignores the intervention. Use the variable returned by pm.Data("t", data.t) instead',
            occ.node,
        )
    for call in _containers(scan, "t"):
        value = second_arg(call, "value")
        fed = value is not None and any(
            is_t(n) or (isinstance(n, ast.Name) and n.id in flow.tainted) for n in ast.walk(value)
        )
        if not fed:
            scan.report(
                "t-container-source",
                'the "t" container must hold the observed treatment: pm.Data("t", data.t, dims="obs")',
                call,
            )


def _mu_closure(scan: ModelScan) -> tuple[list[ast.Call], set[str]]:
    """The mu Deterministic calls, and every name their value depends on (through assignments and functions)."""
    return scan.cached("mu_closure", lambda: _compute_mu_closure(scan))


def _compute_mu_closure(scan: ModelScan) -> tuple[list[ast.Call], set[str]]:
    mus = _deterministics(scan, "mu")
    deps: dict[str, set[str]] = {}
    for target, value in bindings(scan):
        used = {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}
        for name in assigned_names(target):
            deps.setdefault(name, set()).update(used)
    for node in scan.nodes:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            deps.setdefault(node.name, set()).update(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
    todo = [
        n.id
        for mu in mus
        for arg in mu.args[1:2] + [k.value for k in mu.keywords if k.arg == "var"]
        for n in ast.walk(arg)
        if isinstance(n, ast.Name)
    ]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(deps.get(name, ()))
    return mus, seen


def _feeds(scan: ModelScan, node: ast.AST, mus: list[ast.Call], closure: set[str]) -> bool:
    """Whether the expression at ``node`` flows into mu."""
    for _, parent in scan.ancestors(node):
        if any(parent is mu for mu in mus):
            return True
    stmt = scan.statement_of(node)
    if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        if {n for t in targets for n in assigned_names(t)} & closure:
            return True
    func = scan.enclosing_function(node)
    return func is not None and func.name in closure and func.name != "build_model"


@rule
def check_mu_depends_on_t(scan: ModelScan) -> None:
    """A mu that never reads the t container makes every estimated effect exactly zero."""
    containers = _containers(scan, "t")
    if not containers:
        return  # missing-t already says so
    t_names = {
        name
        for target, value in bindings(scan)
        if any(n is c for c in containers for n in ast.walk(value))
        for name in assigned_names(target)
    }
    mus, closure = _mu_closure(scan)
    for mu in mus:
        value = second_arg(mu, "var")
        if value is None or _reads_t(value, containers) or closure & t_names:
            continue
        scan.report(
            "mu-ignores-t",
            'mu does not depend on the "t" container, so the effect the harness computes is exactly zero; '
            "add a treatment term built from t",
            mu,
        )


def _reads_t(value: ast.AST, containers: list[ast.Call]) -> bool:
    for node in ast.walk(value):
        if any(node is c for c in containers):
            return True
        if isinstance(node, ast.Subscript) and const_str(node.slice) == "t":
            return True  # model["t"]
    return False


# --------------------------------------------------------------------------- the harness's job


@rule
def check_effect_names(scan: ModelScan) -> None:
    """Computing the estimand in model.py: the harness does that, by intervention on t."""
    message = (
        "{name!r} computes the estimand inside the model; remove it: the harness computes the {estimand} by "
        'setting the "t" container to ones and zeros and averaging the change in mu'
    )
    estimand = scan.contract.estimand.value
    for node in scan.nodes:
        if isinstance(node, ast.Call) and scan.is_pymc_call(node, "Deterministic", "Potential"):
            name = const_str(first_arg(node, "name"))
            if name and name.lower() in T.EFFECT_NAMES:
                scan.report("harness-overreach", message.format(name=name, estimand=estimand), node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            if isinstance(node.value, ast.Call) and (scan.call_name(node.value) or "").startswith("pymc."):
                continue  # ate = pm.Normal(...) names a coefficient, it does not compute an effect
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for name in (n for t in targets for n in assigned_names(t)):
                if name.lower() in T.EFFECT_NAMES:
                    scan.report("harness-overreach", message.format(name=name, estimand=estimand), node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.lower() in T.EFFECT_NAMES:
            scan.report("harness-overreach", message.format(name=node.name, estimand=estimand), node)


@rule
def check_loops(scan: ModelScan) -> None:
    """while loops and Python loops over every row: slow graphs, or no end at all."""
    names = row_names(scan)
    for node in scan.nodes:
        if isinstance(node, ast.While):
            scan.report(
                "unbounded-loop",
                "a while loop in model code may never end; build the model with vectorised operations "
                "(the compile check's time limit will stop it anyway)",
                node,
            )
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)) and _per_row(scan, node.iter, names):
            scan.report(
                "unbounded-loop",
                "a Python loop over every row builds one graph node per unit: slow to compile and sample; "
                "use vectorised array operations over the obs dimension",
                node.iter if isinstance(node, ast.comprehension) else node,
            )


def _per_row(scan: ModelScan, it: ast.AST, names: dict[str, str]) -> bool:
    if row_kind(scan, it, names):
        return True
    if not isinstance(it, ast.Call):
        return False
    if isinstance(it.func, ast.Attribute) and it.func.attr in ("iterrows", "itertuples", "items"):
        return bool(row_kind(scan, it.func.value, names))
    func = scan.call_name(it)
    if func in ("zip", "enumerate"):
        return any(row_kind(scan, a, names) for a in it.args)
    if func == "range":
        for arg in it.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, int) and arg.value > T.LOOP_ROWS_LIMIT:
                return True
            if _row_count(scan, arg, names):
                return True
    return False


def _row_count(scan: ModelScan, node: ast.AST, names: dict[str, str]) -> bool:
    for n in ast.walk(node):
        if scan.data_attr(n) == "n":
            return True
        if isinstance(n, ast.Call) and scan.call_name(n) == "len" and n.args and row_kind(scan, n.args[0], names):
            return True
        if (
            isinstance(n, ast.Subscript)
            and isinstance(n.value, ast.Attribute)
            and n.value.attr == "shape"
            and isinstance(n.slice, ast.Constant)
            and n.slice.value == 0
            and row_kind(scan, n.value.value, names)
        ):
            return True
    return False
