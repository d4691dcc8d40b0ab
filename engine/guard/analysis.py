"""The analysis scan: key/value checks of a proposed ``analysis.toml`` against the contract."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.design.spec import (
    KNOWN_KEYS,
    MAX_FOLDS,
    MIN_FOLDS,
    Estimator,
    OutcomeLearner,
    PropensityLearner,
    min_propensity_issue,
)
from engine.guard.causal import forbidden_message
from engine.guard.codes import finalize, finding, unshowable_findings
from engine.guard.context import IDENT
from engine.problem import Contract, Estimand
from engine.records import Finding

SCHEMA_KEYS = KNOWN_KEYS
"""The flat schema of analysis.toml: the design runner's own keys (engine.design.spec)."""

KNOWN_OPTIONS: dict[str, tuple[str, ...]] = {
    "propensity_learner": tuple(m.value for m in PropensityLearner),
    "outcome_learner": tuple(m.value for m in OutcomeLearner),
    "estimator": tuple(m.value for m in Estimator),
}
"""Names the design runner accepts, read from engine.design.spec's enums."""
FOLDS_RANGE = (MIN_FOLDS, MAX_FOLDS)
SEED_RANGE = (0, 2**32 - 1)

ESTIMAND_WORDS = {
    Estimand.ATE: "the average effect over everyone",
    Estimand.ATT: "the average effect on the treated",
    Estimand.ATO: "the average effect over the overlap population",
}


@dataclass
class AnalysisScan:
    """A parsed ``analysis.toml`` with its text and lines (for line numbers), and the findings rules report."""

    text: str
    spec: dict[str, Any]
    contract: Contract
    findings: list[Finding] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def report(self, code: str, message: str, line: int | None) -> None:
        """Record a finding whose severity comes from :data:`~engine.guard.codes.FINDING_CODES`.

        Parameters
        ----------
        code
            A code of :data:`~engine.guard.codes.FINDING_CODES`.
        message
            What is wrong and what to do about it.
        line
            The 1-based line in ``analysis.toml``, or None for the whole file.
        """
        self.findings.append(finding(code, message, line))

    def key_line(self, key: str) -> int | None:
        """The line that sets ``key`` (``key =``, quoted or bare) or opens a ``[key]`` table.

        Parameters
        ----------
        key
            A top-level key.

        Returns
        -------
        int or None
            The first such line (1-based), or None when the text has none.
        """
        pattern = re.compile(rf"""^\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')\s*=""")
        table = re.compile(rf"^\s*\[+\s*{re.escape(key)}\b")
        for number, line in enumerate(self.lines, start=1):
            if pattern.match(line) or table.match(line):
                return number
        return None

    def value_line(self, key: str, value: str) -> int | None:
        """The line of a string item, searching from its key (lists may span lines).

        Parameters
        ----------
        key
            The key whose value holds the item.
        value
            The string item, matched in double or single quotes outside comments.

        Returns
        -------
        int or None
            The item's line; the key's line when the item is not found on or after it; None when
            the key's line is not found either.
        """
        start = self.key_line(key) or 1
        for number in range(start, len(self.lines) + 1):
            code = _code_part(self.lines[number - 1])
            if f'"{value}"' in code or f"'{value}'" in code:
                return number
        return start if self.key_line(key) else None

    def token_line(self, token: str) -> int | None:
        """The first line whose code (comments excluded) has ``token`` as a whole word.

        Parameters
        ----------
        token
            A column name or other identifier.

        Returns
        -------
        int or None
        """
        word = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(token)}(?![A-Za-z0-9_])")
        for number, line in enumerate(self.lines, start=1):
            if word.search(_code_part(line)):
                return number
        return None


def _code_part(line: str) -> str:
    """The line without its comment (a # outside quotes)."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


Rule = Callable[[AnalysisScan], None]
RULES: list[Rule] = []


def rule(check: Rule) -> Rule:
    """Register ``check`` as an analysis rule (run in order by :func:`scan_analysis`); used as a decorator.

    Each rule takes the :class:`AnalysisScan` and reports findings on it with
    :meth:`AnalysisScan.report`; it returns nothing and should not raise (a rule that does
    becomes a ``guard-error`` finding).

    Parameters
    ----------
    check
        The rule.

    Returns
    -------
    Rule
        ``check`` itself.
    """
    RULES.append(check)
    return check


def scan_analysis(text: str, contract: Contract) -> list[Finding]:
    """Scan a proposed ``analysis.toml`` against the causal contract.

    Never raises: a TOML syntax error is a ``syntax-error`` blocker with its line.

    Parameters
    ----------
    text
        The full text of the proposed ``analysis.toml``.
    contract
        The problem's causal contract.

    Returns
    -------
    list of Finding
        Sorted by line, at most one per code and line; empty for a clean spec.
    """
    if not isinstance(text, str):
        return [finding("syntax-error", f"expected the text of analysis.toml, got {type(text).__name__}")]
    try:
        spec = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"at line (\d+)", str(exc))
        line = int(match.group(1)) if match else (text.count("\n") + 1 if "end of document" in str(exc) else None)
        reason = re.sub(r"\s*\((at line|at end of document).*\)$", "", str(exc))
        return [finding("syntax-error", f"analysis.toml is not valid TOML: {reason}; fix the syntax", line)]
    except (RecursionError, MemoryError, ValueError) as exc:
        return [finding("syntax-error", f"analysis.toml cannot be parsed ({type(exc).__name__}); simplify it")]
    scan = AnalysisScan(text=text, spec=spec, contract=contract, lines=text.splitlines())
    for check in RULES:
        try:
            check(scan)
        except Exception as exc:  # noqa: BLE001 - the guard reports, never raises
            scan.findings.append(
                finding(
                    "guard-error", f"the guard failed in {check.__name__} ({type(exc).__name__}: {exc}); review by hand"
                )
            )
    return finalize([*scan.findings, *unshowable_findings(text, "analysis.toml")])


# --------------------------------------------------------------------------- rules


def _strings(value: Any) -> Iterator[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


@rule
def check_forbidden(scan: AnalysisScan) -> None:
    """A forbidden column named anywhere, in any key or value."""
    forbidden = scan.contract.forbidden_names
    by_line: dict[int | None, list[str]] = {}
    for text in _strings(scan.spec):
        for name in sorted({text} & forbidden or set(IDENT.findall(text)) & forbidden):
            names = by_line.setdefault(scan.token_line(name), [])
            if name not in names:
                names.append(name)
    for line, names in by_line.items():
        scan.report("forbidden-column", forbidden_message(scan.contract, sorted(names)), line)


@rule
def check_unknown_keys(scan: AnalysisScan) -> None:
    """Top-level keys outside :data:`SCHEMA_KEYS`, which the design runner would refuse."""
    for key in scan.spec:
        if key not in SCHEMA_KEYS:
            scan.report(
                "unknown-key",
                f"{key!r} is not an analysis.toml key, so the design runner would refuse the file; "
                f"remove it or use one of {', '.join(SCHEMA_KEYS)}",
                scan.key_line(key),
            )


def _estimand(scan: AnalysisScan) -> Estimand | None:
    value = scan.spec.get("estimand", scan.contract.estimand.value)
    try:
        return Estimand(str(value).upper()) if isinstance(value, str) else None
    except ValueError:
        return None


@rule
def check_estimand(scan: AnalysisScan) -> None:
    """An estimand that is not ATE, ATT or ATO, or that differs from the contract's."""
    if "estimand" not in scan.spec:
        return
    line = scan.key_line("estimand")
    estimand = _estimand(scan)
    if estimand is None:
        scan.report("invalid-value", f"estimand must be one of ATE, ATT, ATO, not {scan.spec['estimand']!r}", line)
    elif estimand is not scan.contract.estimand:
        asked = scan.contract.estimand
        scan.report(
            "estimand-changed",
            f"estimand {estimand.value} changes the question: the contract asks for the {asked.value} "
            f"({ESTIMAND_WORDS[asked]}), this would estimate {ESTIMAND_WORDS[estimand]}. "
            f'Set estimand = "{asked.value}" unless the principal agrees to the new question',
            line,
        )


def _name_list(scan: AnalysisScan, key: str, allow_all: bool) -> list[str] | None:
    value = scan.spec[key]
    if allow_all and isinstance(value, str) and value.lower() == "all":  # as the parser reads it
        return []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    shape = '"all" or a list of column names' if allow_all else "a list of column names"
    scan.report("invalid-value", f"{key} must be {shape}, not {value!r}", scan.key_line(key))
    return None


def _grouped(scan: AnalysisScan, key: str, names: list[str]) -> dict[int | None, list[str]]:
    by_line: dict[int | None, list[str]] = {}
    for name in names:
        by_line.setdefault(scan.value_line(key, name), []).append(name)
    return by_line


@rule
def check_covariates(scan: AnalysisScan) -> None:
    """Covariates must be allowed controls; never the treatment or the outcome."""
    if "covariates" not in scan.spec:
        return
    names = _name_list(scan, "covariates", allow_all=True)
    if not names:
        return
    contract = scan.contract
    for name in names:
        line = scan.value_line("covariates", name)
        if name == contract.treatment:
            scan.report(
                "treatment-as-covariate",
                f"the treatment {name!r} is listed as a covariate; remove it (the estimator adjusts for covariates "
                "to estimate the treatment's effect)",
                line,
            )
        elif name == contract.outcome:
            scan.report(
                "outcome-as-covariate",
                f"the outcome {name!r} is listed as a covariate; remove it: adjusting for the outcome destroys the effect",
                line,
            )
    others = [
        n
        for n in names
        if n not in contract.controls
        and n not in contract.forbidden_names
        and n not in (contract.treatment, contract.outcome)
    ]
    for line, bad in _grouped(scan, "covariates", others).items():
        scan.report(
            "not-a-control",
            f"{', '.join(map(repr, bad))} {'is not an allowed control' if len(bad) == 1 else 'are not allowed controls'}; "
            f'remove {"it" if len(bad) == 1 else "them"} or write covariates = "all". '
            f"Allowed: {', '.join(contract.controls)}",
            line,
        )


@rule
def check_placebos(scan: AnalysisScan) -> None:
    """A placebo outcome must be fixed before treatment, or a real effect shows up as a failed placebo."""
    if "placebo_outcomes" not in scan.spec:
        return
    names = _name_list(scan, "placebo_outcomes", allow_all=False)
    contract = scan.contract
    for name in names or []:
        if name in contract.placebo_candidates:
            continue
        entry = contract.forbidden_reason(name)
        if entry:
            why = f"it is {entry.reason.value}"
        elif name == contract.outcome:
            why = "it is the outcome itself"
        elif name == contract.treatment:
            why = "it is the treatment"
        else:
            why = "the contract does not list it as pre-treatment"
        candidates = ", ".join(contract.placebo_candidates) or "none"
        scan.report(
            "placebo-not-pretreatment",
            f"placebo outcome {name!r} is not measured before treatment ({why}), so the treatment can really "
            f"affect it; use a pre-treatment column instead ({candidates})",
            scan.value_line("placebo_outcomes", name),
        )


@rule
def check_trim(scan: AnalysisScan) -> None:
    """``trim``: a ``[low, high]`` pair with ``0 <= low < 0.5 < high <= 1``, and a warning that
    trimming changes the estimand unless it is ATO.
    """
    if "trim" not in scan.spec:
        return
    value = scan.spec["trim"]
    line = scan.key_line("trim")
    numbers = (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    )
    if not numbers or not 0.0 <= value[0] < value[1] <= 1.0:
        scan.report("invalid-value", f"trim must be [low, high] with 0 <= low < high <= 1, not {value!r}", line)
        return
    if value[0] >= 0.5 or value[1] <= 0.5:
        scan.report(
            "invalid-value",
            f"trim = {value!r} excludes units with propensity 0.5, so one arm would be dropped almost entirely; "
            "keep low < 0.5 < high (e.g. [0.1, 0.9])",
            line,
        )
        return
    estimand = _estimand(scan)
    if (value[0] > 0.0 or value[1] < 1.0) and estimand is not Estimand.ATO:
        shown = estimand.value if estimand else "estimand"
        scan.report(
            "trimming-changes-estimand",
            f"trimming propensities to [{value[0]:g}, {value[1]:g}] drops units, so the result is an overlap-population "
            f"effect (ATO-like), not the {shown}; say so in the hypothesis, or keep trim = [0.0, 1.0]",
            line,
        )


@rule
def check_scalars(scan: AnalysisScan) -> None:
    """folds, seed, the propensity clip and the learner names: types, ranges and known options."""
    spec = scan.spec
    for key, (low, high) in (("folds", FOLDS_RANGE), ("seed", SEED_RANGE)):
        if key in spec:
            value = spec[key]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                scan.report(
                    "invalid-value",
                    f"{key} must be a whole number between {low} and {high}, not {value!r}",
                    scan.key_line(key),
                )
    clip_problem = min_propensity_issue(spec["min_propensity"]) if "min_propensity" in spec else None
    if clip_problem:
        scan.report("invalid-value", clip_problem, scan.key_line("min_propensity"))
    for key, options in KNOWN_OPTIONS.items():
        if key not in spec:
            continue
        value = spec[key]
        if not isinstance(value, str):
            scan.report("invalid-value", f"{key} must be a string, one of {', '.join(options)}", scan.key_line(key))
        elif value.lower() not in {o.lower() for o in options}:  # the parser takes any case
            scan.report(
                "unknown-option",
                f"{key} = {value!r} is not one the design runner knows; use one of {', '.join(options)}",
                scan.key_line(key),
            )
