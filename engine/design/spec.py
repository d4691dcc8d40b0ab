"""The ``analysis.toml`` spec of the design loop: parse, validate against the contract, render.

The spec is flat TOML (see ``problems/ihdp/analysis.toml``)::

    estimand = "ATE"                     # ATE | ATT | ATO
    covariates = "all"                   # "all" allowed controls, or a list of them
    propensity_learner = "auto"          # auto | logistic | gradient_boosting | random_forest
    outcome_learner = "gradient_boosting"  # linear | lasso | gradient_boosting | random_forest
    estimator = "linear_dr"              # linear_dr | dr
    folds = 5                            # cross-fitting folds, at least 2
    min_propensity = 0.01                # clip propensities to [m, 1 − m] in the weights
    trim = [0.0, 1.0]                    # keep units whose propensity lies in [low, high]
    placebo_outcomes = []                # pre-treatment columns the treatment cannot affect
    seed = 0

:func:`parse_spec` turns the text into a frozen :class:`AnalysisSpec` or raises
:class:`~engine.errors.SpecError` listing every problem with what to do about it;
:func:`render_spec` writes a spec back as commented TOML, so agents can propose edits
as whole files and the diff stays readable.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from engine.errors import SpecError
from engine.problem import Contract, Estimand

SPEC_FILE = "analysis.toml"
MIN_FOLDS = 2
MAX_FOLDS = 20
MAX_MIN_PROPENSITY = 0.2
"""Largest allowed clip: beyond it the weights no longer describe the requested population."""
LEGACY_MIN_PROPENSITY = 1e-6
"""The clip every analysis ran with before ``min_propensity`` existed (EconML's default)."""


class PropensityLearner(StrEnum):
    AUTO = "auto"  # whichever of logistic and gradient boosting has the lower cross-validated log-loss
    LOGISTIC = "logistic"
    GRADIENT_BOOSTING = "gradient_boosting"
    RANDOM_FOREST = "random_forest"


class OutcomeLearner(StrEnum):
    LINEAR = "linear"
    LASSO = "lasso"
    GRADIENT_BOOSTING = "gradient_boosting"
    RANDOM_FOREST = "random_forest"


class Estimator(StrEnum):
    LINEAR_DR = "linear_dr"  # econml.dr.LinearDRLearner, constant final stage: the AIPW estimate
    DR = "dr"  # econml.dr.DRLearner, linear CATE in the covariates averaged over the population


@dataclass(frozen=True)
class AnalysisSpec:
    """A validated design-based analysis plan.

    ``covariates`` is ``None`` for "all allowed controls" (so the spec follows the contract
    if the contract grows), or an explicit tuple of controls.

    The defaults are the robust ones PROGRAM.md argues for: the propensity learner chosen
    on the data by cross-validated log-loss of the treatment (``auto``: gradient boosting won on
    ACIC's 58 covariates and LaLonde, logistic regression on IHDP, NHEFS and the retention data;
    no outcome and no truth enters the choice) and propensities clipped to [0.01, 0.99] in the
    weights, so no unit carries more than 99 times another's weight.
    """

    estimand: Estimand = Estimand.ATE
    covariates: tuple[str, ...] | None = None
    propensity_learner: PropensityLearner = PropensityLearner.AUTO
    outcome_learner: OutcomeLearner = OutcomeLearner.GRADIENT_BOOSTING
    estimator: Estimator = Estimator.LINEAR_DR
    folds: int = 5
    trim: tuple[float, float] = (0.0, 1.0)
    placebo_outcomes: tuple[str, ...] = ()
    seed: int = 0
    min_propensity: float = 0.01

    @property
    def trims(self) -> bool:
        """Whether the trimming bounds can drop any unit."""
        return self.trim[0] > 0.0 or self.trim[1] < 1.0

    @property
    def clip(self) -> float:
        """The propensity clip the weights use: ``min_propensity``, never below EconML's 1e-6."""
        return max(self.min_propensity, LEGACY_MIN_PROPENSITY)

    def resolved_covariates(self, contract: Contract) -> tuple[str, ...]:
        """The covariates in contract order: every allowed control for "all".

        Parameters
        ----------
        contract
            The problem's contract.

        Returns
        -------
        tuple of str
            The contract's controls when ``covariates`` is None, else those of them the spec
            lists (names that are not allowed controls are left out).
        """
        if self.covariates is None:
            return contract.controls
        return tuple(c for c in contract.controls if c in self.covariates)

    def with_(self, **changes: Any) -> AnalysisSpec:
        """A copy with some fields changed (used by the design moves).

        Parameters
        ----------
        **changes
            Field names and their new values.

        Returns
        -------
        AnalysisSpec
        """
        return replace(self, **changes)


KNOWN_KEYS = (
    "estimand",
    "covariates",
    "propensity_learner",
    "outcome_learner",
    "estimator",
    "folds",
    "trim",
    "placebo_outcomes",
    "seed",
    "min_propensity",
)


def load_spec(path: str | Path, contract: Contract) -> AnalysisSpec:
    """Read and validate an ``analysis.toml`` file.

    Parameters
    ----------
    path
        The spec file, or a folder holding ``analysis.toml``.
    contract
        The problem's causal contract; covariates and placebo outcomes are checked against it.

    Returns
    -------
    AnalysisSpec

    Raises
    ------
    SpecError
        When the file is missing, is not TOML, or breaks the contract.
    """
    file = Path(path)
    if file.is_dir():
        file = file / SPEC_FILE
    if not file.is_file():
        raise SpecError(f"{file} does not exist; copy analysis.toml from the problem folder")
    return parse_spec(file.read_text(encoding="utf-8"), contract)


def parse_spec(text: str, contract: Contract) -> AnalysisSpec:
    """Parse ``analysis.toml`` text and validate it against ``contract``.

    Parameters
    ----------
    text
        The TOML text (flat keys, see the module docstring).
    contract
        The problem's causal contract.

    Returns
    -------
    AnalysisSpec

    Raises
    ------
    SpecError
        Listing every problem found, each with what to do.

    Examples
    --------
    >>> from engine.problem import Contract, OutcomeType
    >>> c = Contract("t", "y", OutcomeType.CONTINUOUS, Estimand.ATE, ("x1", "x2"))
    >>> parse_spec('estimand = "ATT"\\ntrim = [0.1, 0.9]', c).trim
    (0.1, 0.9)
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"analysis.toml is not valid TOML ({exc}); check quotes, commas and brackets") from None
    issues: list[str] = []
    spec = _parse(raw, contract, issues)
    if issues:
        raise SpecError(issues)
    return spec


def spec_issues(text: str, contract: Contract) -> list[str]:
    """Every problem :func:`parse_spec` would raise, as a list (empty when the spec is valid).

    Parameters
    ----------
    text
        The text of ``analysis.toml``.
    contract
        The problem's contract.

    Returns
    -------
    list of str
        One line per issue; a TOML syntax error is one issue.
    """
    try:
        parse_spec(text, contract)
    except SpecError as exc:
        return exc.issues
    return []


def _parse(raw: dict[str, Any], contract: Contract, issues: list[str]) -> AnalysisSpec:
    unknown = sorted(set(raw) - set(KNOWN_KEYS))
    for key in unknown:
        close = [k for k in KNOWN_KEYS if k.startswith(key[:4])]
        hint = f"did you mean {close[0]!r}? " if close else ""
        issues.append(f"unknown key {key!r}; {hint}known keys: {', '.join(KNOWN_KEYS)}")

    default = AnalysisSpec()
    estimand = _enum(raw, "estimand", Estimand, default.estimand, issues, upper=True)
    propensity = _enum(raw, "propensity_learner", PropensityLearner, default.propensity_learner, issues)
    outcome = _enum(raw, "outcome_learner", OutcomeLearner, default.outcome_learner, issues)
    estimator = _enum(raw, "estimator", Estimator, default.estimator, issues)
    covariates = _covariates(raw.get("covariates", "all"), contract, issues)
    folds = _integer(raw, "folds", default.folds, issues, low=MIN_FOLDS, high=MAX_FOLDS)
    seed = _integer(raw, "seed", default.seed, issues, low=0, high=2**32 - 1)
    trim = _trim(raw.get("trim", [0.0, 1.0]), issues)
    placebo = _placebo(raw.get("placebo_outcomes", []), contract, covariates, issues)
    clip = _min_propensity(raw, default.min_propensity, issues)
    return AnalysisSpec(
        estimand=estimand,
        covariates=covariates,
        propensity_learner=propensity,
        outcome_learner=outcome,
        estimator=estimator,
        folds=folds,
        trim=trim,
        placebo_outcomes=placebo,
        seed=seed,
        min_propensity=clip,
    )


def min_propensity_issue(value: Any) -> str | None:
    """What is wrong with ``value`` as ``min_propensity``, or None when it is a usable clip.

    Parameters
    ----------
    value
        The value read from ``analysis.toml``.

    Returns
    -------
    str or None
        One sentence saying what to write instead; the guard and :func:`parse_spec` share it.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"min_propensity must be a number such as 0.01; got {value!r}"
    if not 0.0 <= value <= MAX_MIN_PROPENSITY:
        return (
            f"min_propensity = {value:g} is out of range; use 0 (no clipping) up to {MAX_MIN_PROPENSITY:g}, "
            "usually 0.01 (weights of at most 99) or 0.05; to drop units instead, set trim"
        )
    return None


def _min_propensity(raw: dict[str, Any], default: float, issues: list[str]) -> float:
    if "min_propensity" not in raw:
        return default
    problem = min_propensity_issue(raw["min_propensity"])
    if problem:
        issues.append(problem)
        return default
    return float(raw["min_propensity"])


def _enum(raw: dict[str, Any], key: str, enum: type[StrEnum], default: Any, issues: list[str], upper: bool = False):
    if key not in raw:
        return default
    value = raw[key]
    choices = " | ".join(m.value for m in enum)
    if not isinstance(value, str):
        issues.append(f"{key} must be a quoted string, one of {choices}; got {value!r}")
        return default
    try:
        return enum(value.upper() if upper else value.lower())
    except ValueError:
        issues.append(f"{key} = {value!r} is not known; choose one of {choices}")
        return default


def _integer(raw: dict[str, Any], key: str, default: int, issues: list[str], *, low: int, high: int) -> int:
    if key not in raw:
        return default
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int):
        issues.append(f"{key} must be a whole number between {low} and {high}; got {value!r}")
        return default
    if not low <= value <= high:
        why = " (cross-fitting needs at least two folds)" if key == "folds" else ""
        issues.append(f"{key} = {value} is out of range{why}; use a whole number between {low} and {high}")
        return default
    return value


def _trim(value: Any, issues: list[str]) -> tuple[float, float]:
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    )
    if not ok:
        issues.append(f"trim must be two numbers [low, high], e.g. [0.1, 0.9]; got {value!r}")
        return (0.0, 1.0)
    low, high = float(value[0]), float(value[1])
    if not (0.0 <= low < high <= 1.0):
        issues.append(
            f"trim = [{low:g}, {high:g}] is not a propensity interval; it needs 0 ≤ low < high ≤ 1 "
            "(use [0.0, 1.0] for no trimming, [0.1, 0.9] for the usual Crump-style rule)"
        )
        return (0.0, 1.0)
    if low >= 0.5 or high <= 0.5:
        issues.append(
            f"trim = [{low:g}, {high:g}] excludes units with propensity 0.5, so one arm would be "
            "dropped almost entirely; keep low < 0.5 < high"
        )
        return (0.0, 1.0)
    return (low, high)


def _column_issue(name: str, contract: Contract, what: str) -> str | None:
    """Why ``name`` cannot serve as ``what``, or None if nothing is wrong with its role."""
    if name == contract.treatment:
        return f"{name!r} is the treatment; it cannot be a {what}"
    if name == contract.outcome:
        return f"{name!r} is the outcome; it cannot be a {what}"
    reason = contract.forbidden_reason(name)
    if reason is not None:
        note = f" ({reason.note})" if reason.note else ""
        return f"{name!r} is forbidden as {reason.reason}{note}; remove it from the {what}s"
    return None


def _covariates(value: Any, contract: Contract, issues: list[str]) -> tuple[str, ...] | None:
    if isinstance(value, str):
        if value.lower() == "all":
            return None
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        issues.append(f'covariates must be "all" or a list of column names; got {value!r}')
        return None
    if not value:
        issues.append('covariates is empty; list the confounders to adjust for, or use "all"')
        return None
    chosen: list[str] = []
    for name in value:
        problem = _column_issue(name, contract, "covariate")
        if problem is None and name not in contract.controls:
            if name in contract.pretreatment:
                problem = (
                    f"{name!r} is pre-treatment but not an allowed control; use it as a placebo outcome, "
                    "or ask for it to be added to controls in problem.toml"
                )
            else:
                problem = f"{name!r} is not an allowed control; choose from: {', '.join(contract.controls)}"
        if problem:
            issues.append(problem)
        elif name in chosen:
            issues.append(f"covariate {name!r} is listed more than once; keep one")
        else:
            chosen.append(name)
    return tuple(chosen) if chosen else None


def _placebo(value: Any, contract: Contract, covariates: tuple[str, ...] | None, issues: list[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        issues.append(f"placebo_outcomes must be a list of column names; got {value!r}")
        return ()
    chosen: list[str] = []
    for name in value:
        problem = _column_issue(name, contract, "placebo outcome")
        if problem is None and name not in contract.placebo_candidates:
            candidates = ", ".join(contract.placebo_candidates)
            problem = (
                f"{name!r} is not known to be fixed before treatment, so the treatment could affect it; "
                f"a placebo outcome must be pre-treatment: choose from {candidates}"
            )
        if problem is None and name in contract.categorical:
            problem = f"{name!r} is categorical; a placebo outcome must be numeric (pick a numeric or 0/1 column)"
        if problem:
            issues.append(problem)
        elif name not in chosen:
            chosen.append(name)
    return tuple(chosen)


# --------------------------------------------------------------------------- render

_COMMENTS = {
    "estimand": "ATE | ATT | ATO (overlap-weighted)",
    "covariates": '"all" allowed controls, or a list of them',
    "propensity_learner": "auto (lower CV log-loss) | logistic | gradient_boosting | random_forest",
    "outcome_learner": "linear | lasso | gradient_boosting | random_forest",
    "estimator": "linear_dr (LinearDRLearner) | dr (DRLearner)",
    "folds": "cross-fitting folds",
    "trim": "keep units whose propensity lies in [low, high]",
    "placebo_outcomes": "pre-treatment columns that the treatment cannot affect",
    "seed": "seeds the folds, the learners and the refuters",
    "min_propensity": "clip propensities to [m, 1 - m] in the weights; 0.01 caps a weight at 99",
}


def _toml_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def render_spec(spec: AnalysisSpec, title: str = "Design-based analysis") -> str:
    """Write ``spec`` as commented ``analysis.toml`` text that :func:`parse_spec` reads back.

    Parameters
    ----------
    spec
        The spec to write.
    title
        First comment line, e.g. ``"Design-based analysis of IHDP"``.

    Returns
    -------
    str
        TOML with one key per line and a comment naming the allowed values.
    """
    values: dict[str, str] = {
        "estimand": f'"{spec.estimand.value}"',
        "covariates": '"all"' if spec.covariates is None else _toml_list(spec.covariates),
        "propensity_learner": f'"{spec.propensity_learner.value}"',
        "outcome_learner": f'"{spec.outcome_learner.value}"',
        "estimator": f'"{spec.estimator.value}"',
        "folds": str(spec.folds),
        "trim": f"[{spec.trim[0]!r}, {spec.trim[1]!r}]",
        "placebo_outcomes": _toml_list(spec.placebo_outcomes),
        "seed": str(spec.seed),
        "min_propensity": f"{spec.min_propensity!r}",
    }
    lines = [
        f"# {title}: a doubly-robust estimate and its diagnostics.",
        "# The agent may edit this file; the guard checks it against problem.toml.",
        "",
    ]
    for key in KNOWN_KEYS:
        assignment = f"{key} = {values[key]}"
        if len(assignment) > 60 and key == "covariates":
            # Long lists go one name per line; the comment goes above.
            names = spec.covariates or ()
            lines.append(f"# {_COMMENTS[key]}")
            lines.append("covariates = [")
            lines.extend(f'    "{name}",' for name in names)
            lines.append("]")
            continue
        lines.append(f"{assignment.ljust(max(36, len(assignment) + 2))}# {_COMMENTS[key]}")
    return "\n".join(lines) + "\n"


def edit_spec(text: str, new: AnalysisSpec, contract: Contract) -> str:
    """``text`` with only the settings ``new`` changes rewritten in place (tomlkit keeps the rest).

    A move that changes one setting should show one changed line: the comments that record why
    each default was chosen, the order and the layout of the principal's file stay as they are.
    Falls back to :func:`render_spec` when ``text`` does not parse or the edit would not read back
    as ``new``.

    Parameters
    ----------
    text
        The current ``analysis.toml``.
    new
        The spec the move wants.
    contract
        The causal contract the spec is read against.

    Returns
    -------
    str
        TOML that :func:`parse_spec` reads as ``new``.
    """
    import tomlkit

    try:
        old = parse_spec(text, contract)
        before, after = tomllib.loads(render_spec(old)), tomllib.loads(render_spec(new))
        doc = tomlkit.parse(text)
        for key, value in after.items():
            if value != before.get(key):
                doc[key] = value
        edited = tomlkit.dumps(doc)
        if parse_spec(edited, contract) == new:
            return edited
    except (SpecError, ValueError, tomlkit.exceptions.TOMLKitError):  # write the whole spec instead
        pass
    return render_spec(new)
