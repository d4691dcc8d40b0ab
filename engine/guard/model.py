"""The model scan: one small check per rule over a parsed ``model.py``.

Rules live in three modules: :mod:`~engine.guard.safety` (what the code may touch),
:mod:`~engine.guard.causal` (forbidden columns, the outcome, row selection) and
:mod:`~engine.guard.structure` (the model contract and the harness's job). Add one by
writing ``def check_something(scan: ModelScan) -> None`` that calls
``scan.report(code, message, node)``, decorating it with that module's ``@rule``, and
adding its code to :data:`engine.guard.codes.FINDING_CODES`.
"""

from __future__ import annotations

import ast

from engine.guard import causal, safety, structure
from engine.guard.codes import finalize, finding, unshowable_findings
from engine.guard.context import ModelScan
from engine.problem import Contract
from engine.records import Finding

RULES = (*safety.RULES, *causal.RULES, *structure.RULES)
"""Every model rule, in the order they run; each module adds its own with ``@rule``."""


def scan_model(source: str, contract: Contract) -> list[Finding]:
    """Statically scan a proposed ``model.py`` against the causal contract.

    Nothing is imported or run. The scan never raises: a file that does not parse is one
    ``syntax-error`` finding, and a failure inside a rule is a ``guard-error`` finding.

    Parameters
    ----------
    source
        The full text of the proposed ``model.py``.
    contract
        The problem's causal contract (treatment, outcome, forbidden columns).

    Returns
    -------
    list of Finding
        Sorted by line, at most one per code and line; empty for a clean model.

    Examples
    --------
    >>> from engine.problem import Contract, Estimand, OutcomeType
    >>> c = Contract("t", "y", OutcomeType.CONTINUOUS, Estimand.ATE, ("x",))
    >>> [f.code for f in scan_model("import os\\n", c)][:1]
    ['process-access']
    """
    if not isinstance(source, str):
        return [finding("syntax-error", f"expected the text of model.py, got {type(source).__name__}")]
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [finding("syntax-error", f"model.py does not parse: {exc.msg}; fix the syntax", exc.lineno)]
    except (RecursionError, MemoryError, ValueError, OverflowError) as exc:
        return [
            finding(
                "syntax-error",
                f"model.py cannot be parsed ({type(exc).__name__}): it is nested too deeply; simplify it",
            )
        ]
    try:
        scan = ModelScan.build(tree, contract)
    except Exception as exc:  # noqa: BLE001 - the guard must report, never raise
        return [_guard_error("indexing", exc)]
    for check in RULES:
        try:
            check(scan)
        except Exception as exc:  # noqa: BLE001 - one broken rule must not hide the others
            scan.findings.append(_guard_error(check.__name__, exc))
    return _drop_shadowed(finalize([*scan.findings, *unshowable_findings(source, "model.py")]))


def _guard_error(where: str, exc: Exception) -> Finding:
    return finding(
        "guard-error",
        f"the guard failed in {where} ({type(exc).__name__}: {exc}); review this code by hand and report the bug",
    )


def _drop_shadowed(findings: list[Finding]) -> list[Finding]:
    """A row-filter warning adds nothing on a line that already has an outcome-filter blocker."""
    filtered = {f.line for f in findings if f.code == "outcome-filter"}
    return [f for f in findings if not (f.code == "row-filter" and f.line in filtered)]
