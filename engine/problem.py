"""Problem folders: the causal contract, the gates, and the data the agent may see.

A problem folder holds ``problem.toml`` (machine-readable contract), ``PROBLEM.md`` and
``PROGRAM.md`` (English for the agent and the reviewer), the baseline ``model.py`` and
``analysis.toml``, ``data.csv`` and, for semi-synthetic problems, ``truth.json``.

:func:`engine.problem_load.load_problem` validates all of it and returns a frozen
:class:`Problem`; this module holds the types it returns.
Only :meth:`Problem.model_data` hands data to models, and it carries the allowed
controls alone: forbidden columns never reach an agent or a model. ``truth.json`` is
never read here; see :mod:`engine.evaluation`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

PROBLEM_FILE = "problem.toml"
MISSING_WORDS = frozenset({"na", "n/a", "nan", "null", "none", ".", "#n/a", "missing"})
"""Words that mean "missing" in a column of numbers (R's NA, SAS's and Stata's "."). In a column of
text they stay values: "NA" is North America, "None" a plan (pandas would read both as missing)."""
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
        return read_utf8(self.path / name)

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


def read_utf8(path: Path) -> str:
    """A text file of a problem folder, as UTF-8 (a byte-order mark dropped), or a :class:`ProblemError` that says how to fix it.

    A file saved by a Windows editor in its own code page fails to decode; the error names the
    file, the line and the byte, so the user can re-save it rather than read a traceback.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
    """
    from engine.errors import ProblemError

    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ProblemError(
            path,
            f"{path.name} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}, probably saved as "
            "Windows-1252); save it again as UTF-8",
        ) from exc
