"""Finding codes: one table of every code the guard can emit, with its severity and meaning.

Codes are stable kebab-case ids that tests, agents and screens match on; a code has
exactly one severity, so a reader can tell from the code alone whether it blocks.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.records import Finding, Severity
from engine.showable import unshowable_lines

B, W = Severity.BLOCKER, Severity.WARNING

FINDING_CODES: dict[str, tuple[Severity, str]] = {
    # both scans
    "syntax-error": (B, "the file does not parse"),
    "forbidden-column": (B, "a forbidden column (mediator, leakage, oracle…) is named"),
    "guard-error": (B, "the guard itself failed on this input; review by hand"),
    "unshowable-character": (
        B,
        "a control or direction character (an escape sequence, a right-to-left override) that would show the "
        "file differently from how it runs",
    ),
    # model.py
    "import-not-allowed": (B, "an import outside the allow-list"),
    "obsolete-api": (B, "an API removed from PyMC 5 (pymc3, theano, MutableData, sd=, testval=…)"),
    "file-access": (B, "reads or writes files"),
    "network-access": (B, "talks to the network"),
    "process-access": (B, "touches processes, the interpreter or the OS"),
    "dynamic-code": (B, "builds or runs code at run time (eval, exec, __import__, pickle…)"),
    "dunder-access": (B, "reaches for dunder attributes, the usual sandbox escape"),
    "obfuscated-access": (
        B,
        "reaches a module, builtin or attribute by a route the guard cannot follow: getattr with a module's name, "
        "sys.modules, names built from character codes or decoded text",
    ),
    "monkeypatch": (
        B,
        "assigns onto a module, a library object or a class (pm.stats.az.loo = …, setattr(np, …)), "
        "which could change how the harness measures",
    ),
    "outcome-as-predictor": (B, "the outcome feeds the mean or another predictor"),
    "outcome-filter": (B, "rows are selected on the outcome or a forbidden column"),
    "row-filter": (W, "rows are dropped or reordered, which changes the population"),
    "missing-build-model": (B, "no build_model(data) function"),
    "build-model-signature": (B, "build_model does not accept the data argument"),
    "missing-t": (B, 'no pm.Data("t", …) treatment container'),
    "missing-mu": (B, 'no pm.Deterministic("mu", …) expected outcome'),
    "t-container-source": (W, 'pm.Data("t", …) is not fed data.t'),
    "treatment-not-container": (W, "data.t is used directly, so the intervention on t misses it"),
    "mu-ignores-t": (W, "mu does not depend on the t container, so every effect is exactly zero"),
    "harness-overreach": (B, "the model samples or computes the effect, which is the harness's job"),
    "unbounded-loop": (W, "a while loop or a Python loop over every row"),
    # analysis.toml
    "treatment-as-covariate": (B, "the treatment is listed as a covariate"),
    "outcome-as-covariate": (B, "the outcome is listed as a covariate"),
    "not-a-control": (B, "a covariate that the contract does not allow as a control"),
    "placebo-not-pretreatment": (B, "a placebo outcome that is not fixed before treatment"),
    "estimand-changed": (W, "the estimand differs from the contract's, so the question changes"),
    "trimming-changes-estimand": (W, "propensity trimming turns the estimand into an overlap effect"),
    "invalid-value": (B, "a key has a value of the wrong type or range"),
    "unknown-key": (B, "a key the analysis schema does not know (the design runner refuses it)"),
    "unknown-option": (B, "a learner or estimator name the design runner does not know"),
}


def finding(code: str, message: str, line: int | None = None) -> Finding:
    """Build a finding whose severity comes from :data:`FINDING_CODES`.

    Parameters
    ----------
    code
        A key of :data:`FINDING_CODES`.
    message
        What is wrong and what to do.
    line
        The 1-based line in the scanned file, or None for the whole file.

    Returns
    -------
    Finding

    Raises
    ------
    KeyError
        For a code that is not in the table (a bug in the guard, not in the input).
    """
    severity, _ = FINDING_CODES[code]
    return Finding(code=code, severity=severity, message=message, line=line)


def finalize(findings: Iterable[Finding]) -> list[Finding]:
    """Sort by line (file-level findings first) and keep one finding per code and line.

    Parameters
    ----------
    findings
        Findings in any order, possibly repeated.

    Returns
    -------
    list of Finding
    """
    seen: set[tuple[str, int | None]] = set()
    unique: list[Finding] = []
    for f in findings:
        if (f.code, f.line) not in seen:
            seen.add((f.code, f.line))
            unique.append(f)
    return sorted(unique, key=lambda f: (f.line or 0, f.code))


def unshowable_findings(text: str, file: str) -> list[Finding]:
    """An ``unshowable-character`` blocker for each line of ``text`` that holds one.

    The principal reads the file on a screen before approving it; a right-to-left override or
    an escape sequence makes the screen show one program while Python runs another.

    Parameters
    ----------
    text
        The proposed file.
    file
        Its name, for the message.

    Returns
    -------
    list of Finding
    """
    return [
        finding(
            "unshowable-character",
            f"{file} holds the invisible or control character {code} on this line, which would show the code "
            "differently from how it runs; delete it (write escapes such as \\u202e inside strings instead)",
            line,
        )
        for line, code in unshowable_lines(text)
    ]
