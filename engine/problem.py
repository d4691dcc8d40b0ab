"""Problem folders: the causal contract, the gates, and the data the agent may see.

A problem folder holds ``problem.toml`` (machine-readable contract), ``PROBLEM.md`` and
``PROGRAM.md`` (English for the agent and the reviewer), the baseline ``model.py`` and
``analysis.toml``, ``data.csv`` and, for semi-synthetic problems, ``truth.json``.

:func:`load_problem` validates all of it and returns a frozen :class:`Problem`.
Only :meth:`Problem.model_data` hands data to models, and it carries the allowed
controls alone: forbidden columns never reach an agent or a model. ``truth.json`` is
never read here; see :mod:`engine.evaluation`.
"""

from __future__ import annotations

import csv
import hashlib
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engine.errors import ProblemError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

PROBLEM_FILE = "problem.toml"
EDITABLE_FILES = ("PROBLEM.md", "PROGRAM.md", "model.py", "analysis.toml")
"""Files a session copies from the problem folder and lets the principal or agent edit."""


class Estimand(StrEnum):
    """Which population the average effect is taken over."""

    ATE = "ATE"  # everyone
    ATT = "ATT"  # the treated
    ATO = "ATO"  # the overlap population (weights e(x)·(1 − e(x)))


class OutcomeType(StrEnum):
    CONTINUOUS = "continuous"
    BINARY = "binary"
    COUNT = "count"  # non-negative whole numbers: a negative-binomial likelihood, mu the expected count


class ForbiddenReason(StrEnum):
    """Why a column must never be used as a control or predictor."""

    POST_TREATMENT = "post-treatment"  # measured after assignment (a descendant of t)
    MEDIATOR = "mediator"  # on the causal path from treatment to outcome
    LEAKAGE = "leakage"  # carries information from the future or from the outcome
    ORACLE = "oracle"  # simulation truth: propensities, potential outcomes
    OUTCOME = "outcome"  # a secondary outcome or the outcome measured another way


@dataclass(frozen=True)
class ForbiddenVariable:
    name: str
    reason: ForbiddenReason
    note: str = ""


# Defaults follow the Bayesian autoresearch harness: R-hat < 1.01, ESS > 400,
# divergence rate < 0.1 %, keep only on ΔELPD > 2 SE, five minutes of sampling.
RHAT_MAX = 1.01
ESS_MIN = 400.0
DIVERGENCE_RATE_MAX = 0.001
ELPD_SE_MULTIPLE = 2.0
SAMPLING_BUDGET_S = 300.0


class TieBreak(StrEnum):
    """What decides between two models whose ELPDs are within the band (``[gates] tie_break``)."""

    NARROWER_INTERVAL = "narrower_interval"  # the narrower effect interval wins (the seed autoresearcher's rule)
    SIMPLER = "simpler"  # the lower effective number of parameters (p_loo) wins
    NONE = "none"  # nothing within the band is kept: only ΔELPD beyond the band keeps a model

    def short(self) -> str:
        """A few words for tables and plot captions (``lower p_loo``).

        Returns
        -------
        str
        """
        return {
            TieBreak.NARROWER_INTERVAL: "narrower interval",
            TieBreak.SIMPLER: "lower p_loo",
            TieBreak.NONE: "none kept",
        }[self]

    def describe(self) -> str:
        """The rule in words, as :meth:`Gates.keep_rule` states it.

        Returns
        -------
        str
        """
        return {
            TieBreak.NARROWER_INTERVAL: "the narrower effect interval",
            TieBreak.SIMPLER: "the simpler model (lower p_loo)",
            TieBreak.NONE: "none (only ΔELPD beyond the band keeps)",
        }[self]


@dataclass(frozen=True)
class Gates:
    """Thresholds the harness applies to every sampled model; the agent cannot change them."""

    rhat_max: float = RHAT_MAX
    ess_bulk_min: float = ESS_MIN
    ess_tail_min: float = ESS_MIN
    divergence_rate_max: float = DIVERGENCE_RATE_MAX
    elpd_se_multiple: float = ELPD_SE_MULTIPLE
    sampling_budget_s: float = SAMPLING_BUDGET_S
    tie_break: TieBreak = TieBreak.NARROWER_INTERVAL

    def keep_rule(self) -> str:
        """The whole keep rule in one line, as the home screen, plot captions and verdicts state it.

        Returns
        -------
        str
        """
        return (
            f"keep if ΔELPD > {self.elpd_se_multiple:g} SE of the difference; within ±{self.elpd_se_multiple:g} SE "
            f"the tie-break decides: {self.tie_break.describe()}"
        )


@dataclass(frozen=True)
class SamplingSettings:
    """nutpie settings: 4 chains × 1000 draws after 1000 tuning steps, seeded.

    What a user types (``[sampling]`` in problem.toml, ``workbench run --chains``) is held
    to :data:`SAMPLING_BOUNDS` by :func:`sampling_issue`; code and tests may build any.
    """

    chains: int = 4
    draws: int = 1000
    tune: int = 1000
    seed: int = 20261122


SAMPLING_BOUNDS: dict[str, tuple[int, int]] = {
    "chains": (1, 64),  # thousands of chains exhaust threads and memory: the child aborts (SIGABRT)
    "draws": (10, 100_000),  # per chain, after tuning
    "tune": (10, 100_000),  # nutpie panics with no tuning steps at all
    "seed": (0, 2**63 - 1),
}
"""Inclusive bounds on sampling settings a user gives."""


def sampling_issue(key: str, value: object, where: str) -> str | None:
    """What is wrong with one sampling setting, or None.

    Parameters
    ----------
    key
        ``chains``, ``draws``, ``tune`` or ``seed``.
    value
        As the user gave it (TOML value or parsed command-line integer).
    where
        How the message names the setting, e.g. ``"[sampling] chains"`` or ``"--chains"``.

    Returns
    -------
    str or None
        The message, or None when the value is a whole number within :data:`SAMPLING_BOUNDS`.

    Examples
    --------
    >>> sampling_issue("chains", 4000, "--chains")
    '--chains 4000 is out of range: chains must be a whole number from 1 to 64'
    """
    low, high = SAMPLING_BOUNDS[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        return f"{where} must be a whole number from {low:,} to {high:,}, not {value!r}"
    if not low <= value <= high:
        return f"{where} {value!r} is out of range: {key} must be a whole number from {low:,} to {high:,}"
    return None


SESSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
"""What ``[problem] name`` may be: it starts every session id (``<name>-<date>-<time>``), a folder name."""


@dataclass(frozen=True)
class Contract:
    """The causal contract: what is asked, and which columns may answer it."""

    treatment: str
    outcome: str
    outcome_type: OutcomeType
    estimand: Estimand
    controls: tuple[str, ...]
    categorical: tuple[str, ...] = ()
    forbidden: tuple[ForbiddenVariable, ...] = ()
    pretreatment: tuple[str, ...] = ()  # measured before treatment, not controls (placebo outcomes)
    ignore: tuple[str, ...] = ()  # identifiers and bookkeeping columns with no causal role

    @property
    def forbidden_names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.forbidden)

    def forbidden_reason(self, name: str) -> ForbiddenVariable | None:
        """The forbidden-column entry for ``name`` (its reason and note).

        Parameters
        ----------
        name
            A column name.

        Returns
        -------
        ForbiddenVariable or None
            None when the contract does not forbid the column.
        """
        return next((f for f in self.forbidden if f.name == name), None)

    @property
    def placebo_candidates(self) -> tuple[str, ...]:
        """Columns fixed before treatment, and so usable as placebo outcomes."""
        return self.controls + self.pretreatment


@dataclass(frozen=True)
class ModelData:
    """What a model sees: the allowed controls, treatment and outcome — nothing else.

    ``X`` is the design matrix: continuous controls standardised to mean 0 and SD 1,
    binary controls coded 0/1, categorical controls one-hot encoded (first level dropped).
    ``y`` stays on its original scale, so ``mu`` and the effect are in outcome units.
    """

    X: pd.DataFrame
    t: np.ndarray
    y: np.ndarray
    continuous: tuple[str, ...]
    binary: tuple[str, ...]
    outcome_type: OutcomeType
    treatment_name: str
    outcome_name: str

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def X_continuous(self) -> np.ndarray:
        return self.X[list(self.continuous)].to_numpy()

    @property
    def X_binary(self) -> np.ndarray:
        return self.X[list(self.binary)].to_numpy()

    def spline_basis(self, name: str, n_basis: int = 6, degree: int = 3) -> np.ndarray:
        """Centred B-spline basis of one continuous control, with knots at quantiles.

        Offered to model code so additive smooth terms need no extra imports.

        Parameters
        ----------
        name
            A column of ``X`` listed in ``continuous``.
        n_basis
            Number of basis functions (``n_basis - degree + 1`` knot intervals).
        degree
            Polynomial degree; 3 gives cubic splines.

        Returns
        -------
        numpy.ndarray
            Shape ``(n, n_basis - 1)``: centred columns with the first dropped, because
            B-splines sum to one and the model already has an intercept.

        Raises
        ------
        KeyError
            When ``name`` is not a continuous control.
        """
        if name not in self.continuous:
            raise KeyError(f"{name!r} is not a continuous control; choose one of {', '.join(self.continuous)}")
        return bspline_basis(self.X[name].to_numpy(), n_basis, degree)


@dataclass(frozen=True)
class Problem:
    """A validated problem folder."""

    path: Path
    name: str
    title: str
    question: str
    kind: str  # "semi-synthetic", "synthetic" or "observational"
    contract: Contract
    gates: Gates
    sampling: SamplingSettings
    data_file: Path
    data: pd.DataFrame = field(repr=False, compare=False)

    @property
    def has_truth(self) -> bool:
        """Whether ground truth exists (for evaluation only; never shown to an agent)."""
        return (self.path / "truth.json").is_file()

    def read_text(self, name: str) -> str:
        """A text file of the problem folder (``PROBLEM.md``, ``model.py``…).

        Parameters
        ----------
        name
            A path relative to the problem folder.

        Returns
        -------
        str
        """
        return (self.path / name).read_text(encoding="utf-8")

    @cached_property
    def data_hash(self) -> str:
        """SHA-256 of the data file, recorded with every iteration for reproducibility."""
        return hashlib.sha256(self.data_file.read_bytes()).hexdigest()

    def model_data(self) -> ModelData:
        """Build what ``build_model(data)`` receives: allowed controls only.

        Returns
        -------
        ModelData
        """
        return build_model_data(self.data, self.contract)


def build_model_data(frame: pd.DataFrame, contract: Contract) -> ModelData:
    """Encode the allowed controls of ``frame`` as a design matrix.

    Parameters
    ----------
    frame
        The validated data, all columns.
    contract
        Decides which columns are kept; every other column is dropped here.

    Returns
    -------
    ModelData
    """
    columns: dict[str, np.ndarray] = {}
    continuous: list[str] = []
    binary: list[str] = []
    for name in contract.controls:
        col = frame[name]
        if name in contract.categorical:
            dummies = pd.get_dummies(col.astype("category"), prefix=name, prefix_sep="=", drop_first=True)
            for dummy in dummies.columns:
                columns[str(dummy)] = dummies[dummy].to_numpy(dtype=float)
                binary.append(str(dummy))
            continue
        values = col.to_numpy(dtype=float)
        levels = np.unique(values)
        if len(levels) <= 2:
            columns[name] = (values == levels[-1]).astype(float) if len(levels) == 2 else np.zeros_like(values)
            binary.append(name)
        else:
            sd = values.std()
            columns[name] = (values - values.mean()) / (sd if sd > 0 else 1.0)
            continuous.append(name)
    X = pd.DataFrame(columns, index=pd.RangeIndex(len(frame)))
    return ModelData(
        X=X,
        t=frame[contract.treatment].to_numpy(dtype=float),
        y=frame[contract.outcome].to_numpy(dtype=float),
        continuous=tuple(continuous),
        binary=tuple(binary),
        outcome_type=contract.outcome_type,
        treatment_name=contract.treatment,
        outcome_name=contract.outcome,
    )


def bspline_basis(x: np.ndarray, n_basis: int = 6, degree: int = 3) -> np.ndarray:
    """Centred B-spline basis with interior knots at quantiles of ``x``.

    Built with scipy's ``BSpline.design_matrix`` (sparse, made dense here) instead of a
    hand-written Cox–de Boor recursion; the numbers are the same (tests/test_bspline.py).
    Knots are ``x.min()`` and ``x.max()``, each repeated ``degree + 1`` times, around the
    quantiles. The first column is dropped and the rest centred, because the full set
    sums to one and the model already has an intercept.

    Parameters
    ----------
    x
        The values of one variable.
    n_basis
        Number of basis functions before the first is dropped.
    degree
        Polynomial degree; 3 gives cubic splines.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(x), n_basis - 1)``.

    Raises
    ------
    ValueError
        When ``n_basis`` does not exceed ``degree``.

    Examples
    --------
    >>> B = bspline_basis(np.linspace(0, 1, 50), n_basis=5)
    >>> B.shape
    (50, 4)
    """
    from scipy.interpolate import BSpline  # here: importing it costs ~0.5 s at startup

    if n_basis <= degree:
        raise ValueError(f"n_basis must exceed the degree ({degree}), got {n_basis}")
    x = np.asarray(x, dtype=float)
    interior = np.quantile(x, np.linspace(0, 1, n_basis - degree + 1)[1:-1])
    lo, hi = x.min(), x.max()
    # Quantile knots tied with the maximum only add basis functions that vanish on
    # [lo, hi]; scipy would put x == hi on that empty interval, so leave them out and
    # give them zero columns. x == hi then takes the limit from the left, as it should.
    interior = interior[interior < hi]
    knots = np.concatenate([[lo] * (degree + 1), interior, [hi] * (degree + 1)])
    basis = BSpline.design_matrix(x, knots, degree).toarray()
    basis = np.pad(basis, ((0, 0), (0, n_basis - basis.shape[1])))
    basis = basis[:, 1:]
    return basis - basis.mean(axis=0)


# --------------------------------------------------------------------------- loading


def load_problem(path: str | Path) -> Problem:
    """Load and validate a problem folder.

    Parameters
    ----------
    path
        The folder holding ``problem.toml``.

    Returns
    -------
    Problem

    Raises
    ------
    ProblemError
        Listing every problem found, each with what to do about it.
    """
    root = Path(path).resolve()
    toml_path = root / PROBLEM_FILE
    if not root.is_dir():
        raise ProblemError(root, "no such folder; pass a problem folder such as problems/ihdp")
    if not toml_path.is_file():
        raise ProblemError(root, f"{PROBLEM_FILE} is missing; every problem folder needs one")
    try:
        raw = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProblemError(toml_path, f"TOML syntax error: {exc}") from exc

    issues: list[str] = []
    header = _table(raw, "problem", issues)
    contract = parse_contract(_table(raw, "contract", issues), issues)
    gates = parse_gates(raw.get("gates", {}), issues)
    sampling = _parse_dataclass(SamplingSettings, raw.get("sampling", {}), "sampling", issues)
    data_name = header.get("data", "data.csv")
    for required in ("name", "question"):
        if not isinstance(header.get(required), str) or not header.get(required):
            issues.append(f"[problem] needs a non-empty string '{required}'")
    if isinstance(header.get("name"), str) and header["name"] and not SESSION_NAME.match(header["name"]):
        issues.append(
            f"[problem] name = {header['name']!r} cannot start a session id (sessions are named "
            "<name>-<date>-<time>, a folder name): use letters, digits, '-', '_' and '.', "
            "starting with a letter or digit, at most 64 characters"
        )
    if not isinstance(data_name, str) or not data_name:
        issues.append(f'[problem] data must name the data file (e.g. "data.csv"), not {data_name!r}')
        data_name = "data.csv"
    for name in EDITABLE_FILES:
        if not (root / name).is_file():
            issues.append(f"{name} is missing from the problem folder; create it (see problems/ihdp for an example)")
    if issues or contract is None:
        raise ProblemError(toml_path, issues)

    data_file = root / data_name
    data = read_data(data_file)
    issues.extend(validate_data(data, contract))
    if issues:
        raise ProblemError(root, issues)
    return Problem(
        path=root,
        name=header["name"],
        title=header.get("title", header["name"]),
        question=header["question"],
        kind=header.get("kind", "observational"),
        contract=contract,
        gates=gates,
        sampling=sampling,
        data_file=data_file,
        data=data,
    )


DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}
"""Delimiters other than the comma that a data file is sometimes saved with."""


def read_data(data_file: Path) -> pd.DataFrame:
    """Read a data CSV, turning parser failures into a :class:`ProblemError`.

    The header is read first, so a file saved with another delimiter or a header naming
    a column twice is named as such (pandas would read one wide column, or rename the
    second ``bw`` to ``bw.1``).

    Parameters
    ----------
    data_file
        The CSV file.

    Returns
    -------
    pandas.DataFrame
        At least one row.

    Raises
    ------
    ProblemError
        When the file is missing or unreadable, looks delimited by something other than
        commas, names a column twice, does not parse, or has no rows.
    """
    if not data_file.is_file():
        raise ProblemError(data_file, "data file is missing; run the folder's make_data.py to regenerate it")
    try:
        with open(data_file, encoding="utf-8", newline="") as fh:
            header_line = fh.readline()
    except (OSError, UnicodeDecodeError) as exc:
        raise ProblemError(data_file, f"cannot read the header: {exc}; save the file as UTF-8 CSV") from exc
    header = next(csv.reader([header_line]), [])
    if len(header) == 1:
        for delimiter, word in DELIMITERS.items():
            if delimiter in header_line:
                shown = repr(delimiter).strip("'")
                raise ProblemError(
                    data_file,
                    f"the header is one column holding {header_line.count(delimiter)} '{shown}' characters: the file "
                    f"looks {word}-delimited, but the workbench reads comma-separated CSV. Re-save it with commas, "
                    f"e.g. pd.read_csv(path, sep='{shown}').to_csv(path, index=False)",
                )
    counts = Counter(name.strip() for name in header)
    duplicates = [name for name, n in counts.items() if n > 1]
    if duplicates:
        where = "; ".join(
            f"{name!r} at columns {', '.join(str(i + 1) for i, h in enumerate(header) if h.strip() == name)}"
            for name in duplicates
        )
        raise ProblemError(
            data_file,
            f"duplicate column names in the header: {where}; rename or drop the duplicate so each name is one column",
        )
    try:
        frame = pd.read_csv(data_file)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise ProblemError(data_file, f"cannot parse CSV: {exc}. Check the delimiter and quoting") from exc
    if frame.empty:
        raise ProblemError(data_file, "the CSV has a header but no rows")
    return frame


def parse_contract(table: dict[str, Any], issues: list[str]) -> Contract | None:
    """Parse the ``[contract]`` table, appending what is wrong to ``issues``.

    Parameters
    ----------
    table
        The ``[contract]`` table as TOML parsed it.
    issues
        Where each problem is appended, as a sentence that says what to do.

    Returns
    -------
    Contract or None
        None when the table is empty or lacks a string ``treatment`` or ``outcome``; a
        contract with issues may still be returned (defaults stand in for bad values).
    """
    if not table:
        return None
    try:
        estimand = Estimand(str(table.get("estimand", "ATE")).upper())
    except ValueError:
        issues.append(f"[contract] estimand must be one of ATE, ATT, ATO, not {table.get('estimand')!r}")
        estimand = Estimand.ATE
    try:
        outcome_type = OutcomeType(table.get("outcome_type", "continuous"))
    except ValueError:
        allowed = ", ".join(repr(t.value) for t in OutcomeType)
        issues.append(f"[contract] outcome_type must be one of {allowed}, not {table.get('outcome_type')!r}")
        outcome_type = OutcomeType.CONTINUOUS
    forbidden: list[ForbiddenVariable] = []
    for entry in table.get("forbidden", []):
        if not isinstance(entry, dict) or "name" not in entry:
            issues.append("each [[contract.forbidden]] entry needs a 'name' and a 'reason'")
            continue
        try:
            reason = ForbiddenReason(entry.get("reason", ""))
        except ValueError:
            allowed = ", ".join(r.value for r in ForbiddenReason)
            issues.append(f"forbidden variable {entry['name']!r}: reason must be one of {allowed}")
            continue
        forbidden.append(ForbiddenVariable(entry["name"], reason, entry.get("note", "")))

    def names(key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            issues.append(f"[contract] {key} must be a list of column names")
            return ()
        return tuple(value)

    for key in ("treatment", "outcome"):
        if not isinstance(table.get(key), str):
            issues.append(f"[contract] needs '{key}', the name of a data column")
    if not isinstance(table.get("treatment"), str) or not isinstance(table.get("outcome"), str):
        return None
    contract = Contract(
        treatment=table["treatment"],
        outcome=table["outcome"],
        outcome_type=outcome_type,
        estimand=estimand,
        controls=names("controls"),
        categorical=names("categorical"),
        forbidden=tuple(forbidden),
        pretreatment=names("pretreatment"),
        ignore=names("ignore"),
    )
    issues.extend(contract_issues(contract))
    return contract


def contract_issues(contract: Contract) -> list[str]:
    """Logical errors in a contract that need no data to find.

    Parameters
    ----------
    contract
        The contract.

    Returns
    -------
    list of str
        Empty controls; a control that is forbidden; the treatment or outcome listed as a
        control or as forbidden; a categorical column that is not a control; duplicated controls.
    """
    issues: list[str] = []
    forbidden = contract.forbidden_names
    if not contract.controls:
        issues.append("[contract] controls is empty; list the pre-treatment confounders the model may use")
    for name in contract.controls:
        if name in forbidden:
            reason = contract.forbidden_reason(name)
            assert reason is not None  # forbidden_names is built from the same contract.forbidden entries
            issues.append(
                f"{name!r} is listed as an allowed control but is forbidden ({reason.reason}); remove it from controls"
            )
    for role in ("treatment", "outcome"):
        name = getattr(contract, role)
        if name in contract.controls:
            issues.append(f"the {role} {name!r} is also listed as a control; remove it from controls")
        if name in forbidden:
            issues.append(f"the {role} {name!r} is also listed as forbidden; remove it from forbidden")
    for name in contract.categorical:
        if name not in contract.controls:
            issues.append(f"categorical column {name!r} is not an allowed control; add it to controls or drop it")
    duplicates = sorted({c for c in contract.controls if contract.controls.count(c) > 1})
    if duplicates:
        issues.append(f"controls lists {', '.join(duplicates)} more than once")
    return issues


def validate_data(frame: pd.DataFrame, contract: Contract) -> list[str]:
    """Check the data against the contract: columns present, types, missing values.

    Parameters
    ----------
    frame
        The data, as read by :func:`read_data`.
    contract
        The contract.

    Returns
    -------
    list of str
        One sentence per problem: a named column missing, a column without a role, infinite
        values, a treatment (or binary outcome) not coded 0/1, missing values in the outcome or
        a control, a non-numeric outcome or non-categorical control. Empty when the data fits.
    """
    issues: list[str] = []
    columns = set(frame.columns)
    # Forbidden names need not be in the data: oracle columns, for one, live only in truth.json,
    # and naming them lets the guard catch code that reaches for them.
    required = {contract.treatment, contract.outcome, *contract.controls, *contract.pretreatment, *contract.ignore}
    for name in sorted(required - columns):
        issues.append(f"column {name!r} is named in problem.toml but the data has no such column")
    for name in sorted(columns - required - contract.forbidden_names):
        issues.append(
            f"column {name!r} has no role in problem.toml; list it under controls, forbidden, pretreatment or ignore"
        )
    roles = [("treatment", contract.treatment), ("outcome", contract.outcome)]
    roles += [("control", name) for name in contract.controls if name not in contract.categorical]
    roles += [("pre-treatment column", name) for name in contract.pretreatment]
    for role, name in roles:
        if name in columns:
            issues.extend(_infinite_issues(frame[name], role, name))
    if contract.treatment in columns:
        issues.extend(_binary_issues(frame[contract.treatment], "treatment", contract.treatment))
    if contract.outcome in columns:
        y = frame[contract.outcome]
        missing = int(y.isna().sum())
        if missing:
            issues.append(
                f"outcome {contract.outcome!r} has {missing} missing values; drop those rows in make_data.py "
                "(complete-case analysis) or impute them before the workbench sees the data"
            )
        elif not pd.api.types.is_numeric_dtype(y):
            issues.append(f"outcome {contract.outcome!r} is not numeric (dtype {y.dtype})")
        elif contract.outcome_type is OutcomeType.BINARY:
            issues.extend(_binary_issues(y, "binary outcome", contract.outcome))
        elif contract.outcome_type is OutcomeType.COUNT:
            issues.extend(_count_issues(y, contract.outcome))
    for name in contract.controls:
        if name not in columns:
            continue
        col = frame[name]
        if col.isna().any():
            issues.append(f"control {name!r} has {int(col.isna().sum())} missing values; impute or drop those rows")
        if name not in contract.categorical and not pd.api.types.is_numeric_dtype(col):
            issues.append(f"control {name!r} is not numeric; list it under categorical or encode it")
    return issues


def _infinite_issues(col: pd.Series, role: str, name: str) -> list[str]:
    """``inf`` and ``-inf`` read as numbers: name the column and the rows, before any model sees them."""
    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return []
    rows = np.flatnonzero(np.isinf(col.to_numpy(dtype=float))) + 1
    if not len(rows):
        return []
    shown = ", ".join(str(r) for r in rows[:8]) + (f" and {len(rows) - 8} more" if len(rows) > 8 else "")
    return [
        f"{role} {name!r} has {len(rows)} infinite value{'s' if len(rows) > 1 else ''} (inf or -inf) in data "
        f"row{'s' if len(rows) > 1 else ''} {shown} (row 1 is the line after the header); make them finite "
        "numbers or drop those rows in make_data.py"
    ]


def _count_issues(col: pd.Series, name: str) -> list[str]:
    values = col.to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0) | (values != np.round(values)))
    if len(bad):
        return [
            f"count outcome {name!r} must be whole numbers >= 0; data row {bad[0] + 1} holds {values[bad[0]]:g} "
            f'({len(bad)} such rows); use outcome_type = "continuous" or fix those values'
        ]
    if not values.any():
        return [f"count outcome {name!r} is 0 everywhere; there is nothing to model"]
    return []


def _binary_issues(col: pd.Series, role: str, name: str) -> list[str]:
    if col.isna().any():
        return [f"{role} {name!r} has {int(col.isna().sum())} missing values; drop those rows"]
    if not pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        return [f"{role} {name!r} must be coded 0/1, but it is {col.dtype}"]
    levels = sorted(pd.unique(col.astype(float)))
    if levels != [0.0, 1.0]:
        shown = ", ".join(f"{v:g}" for v in levels[:6]) + (", …" if len(levels) > 6 else "")
        return [f"{role} {name!r} must be binary, coded 0/1 with both values present; found values {shown}"]
    return []


def _table(raw: dict[str, Any], key: str, issues: list[str]) -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        issues.append(f"problem.toml needs a [{key}] table")
        return {}
    return value


def parse_gates(table: Any, issues: list[str]) -> Gates:
    """The ``[gates]`` table of ``problem.toml`` (missing keys take their defaults); problems go to ``issues``.

    Parameters
    ----------
    table
        The ``[gates]`` table as TOML parsed it (anything else is an issue).
    issues
        Where each problem is appended; a bad value keeps its default.

    Returns
    -------
    Gates
    """
    gates: Gates = _parse_dataclass(Gates, table, "gates", issues)
    return gates


def _parse_dataclass(cls: type[DataclassInstance], table: Any, section: str, issues: list[str]) -> Any:
    if not isinstance(table, dict):
        issues.append(f"[{section}] must be a table")
        return cls()
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(table) - known)
    if unknown:
        issues.append(f"[{section}] has unknown keys {', '.join(unknown)}; known keys: {', '.join(sorted(known))}")
    values: dict[str, Any] = {}
    for key in known & set(table):
        value = table[key]
        default: Any = cls.__dataclass_fields__[key].default  # every field of Gates and SamplingSettings has one
        if isinstance(default, TieBreak):
            try:
                values[key] = TieBreak(value)
            except ValueError:
                choices = ", ".join(t.value for t in TieBreak)
                issues.append(f"[{section}] {key} must be one of {choices}, not {value!r}")
            continue
        if cls is SamplingSettings:
            issue = sampling_issue(key, value, f"[{section}] {key}")
            if issue:
                issues.append(issue)
            else:
                values[key] = int(value)
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            issues.append(f"[{section}] {key} must be a positive number, not {value!r}")
            continue
        values[key] = type(default)(value)
    return cls(**values)
