"""Typed results of the design loop: the estimate, each diagnostic, and the whole run.

Everything here is a frozen dataclass of floats, strings, enums and tuples, so results
are small, picklable (they cross the sandbox's process boundary) and round-trip through
:func:`engine.jsonable.to_json` / :func:`engine.jsonable.from_dict` into the session
record. Thresholds live beside the code that applies them, as named constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from engine.design.spec import AnalysisSpec, PropensityLearner
from engine.records import Effect


class Status(StrEnum):
    """How a diagnostic came out. ``warn`` means: read the message before trusting the estimate."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        return {"pass": 0, "warn": 1, "fail": 2}[self.value]


def worst(statuses: list[Status] | tuple[Status, ...]) -> Status:
    """The most severe status (``pass`` for an empty list).

    Parameters
    ----------
    statuses
        Any number of statuses.

    Returns
    -------
    Status
    """
    return max(statuses, key=lambda s: s.rank, default=Status.PASS)


@dataclass(frozen=True)
class DREstimate:
    """A doubly-robust effect with its 95 % confidence interval.

    ``estimand`` is the label of what was actually estimated: ``ATE`` becomes ``ATO``
    whenever trimming dropped units (the trimmed population is the overlap population),
    ``ATT`` becomes ``ATT-trimmed``. ``requested`` is what the spec asked for.
    """

    estimand: str
    requested: str
    effect: float
    se: float
    ci_low: float
    ci_high: float
    n: int  # units in the analysed population
    n_total: int  # units before trimming
    n_treated: int
    n_control: int
    method: str  # how the number was computed, in words
    unsupported_share: float = 0.0  # of the analysed population, whose other arm has no units like them
    allowance: float = 0.0  # added to each side of the sampling interval for those units' extrapolation

    @property
    def n_dropped(self) -> int:
        return self.n_total - self.n

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2.0

    @property
    def sampling_half_width(self) -> float:
        """The half-width without the extrapolation allowance: sampling uncertainty only."""
        return self.half_width - self.allowance

    def covers(self, value: float) -> bool:
        """Whether the 95 % interval contains ``value`` (bounds included).

        Parameters
        ----------
        value
            A candidate effect (0 for a null, or another estimate).

        Returns
        -------
        bool
        """
        return self.ci_low <= value <= self.ci_high

    def as_effect(self) -> Effect:
        """The estimate as a record :class:`~engine.records.Effect` (``hdi_prob`` 0.95, ``sd`` = SE).

        Returns
        -------
        Effect
        """
        return Effect(self.estimand, self.effect, self.se, self.ci_low, self.ci_high, hdi_prob=0.95, interval="CI")

    def describe(self) -> str:
        """One line: ``ATE 4.02 (95 % CI 3.71 to 4.33; n = 747)``, with the total when units were dropped.

        Returns
        -------
        str
        """
        pop = f"n = {self.n}" + (f" of {self.n_total}" if self.n_dropped else "")
        line = f"{self.estimand} {self.effect:.4g} (95 % CI {self.ci_low:.4g} to {self.ci_high:.4g}; {pop})"
        note = self.extrapolation_note()
        return f"{line}; {note}" if note else line

    def extrapolation_note(self) -> str:
        """Why the interval is wider than sampling alone makes it, or "" when it is not.

        Returns
        -------
        str
        """
        if self.allowance <= 0:
            return ""
        return (
            f"the interval includes ±{self.allowance:.3g} for the {self.unsupported_share:.0%} of units "
            "with no one like them in the other arm, whose missing outcome the outcome model extrapolates"
        )


@dataclass(frozen=True)
class SMDRow:
    """Standardized mean difference of one covariate (design-matrix column)."""

    name: str
    before: float  # raw, whole sample
    after: float  # weighted, analysed population


@dataclass(frozen=True)
class BalanceResult:
    weights: str  # "ATE (inverse propensity)", "ATT (odds)", "ATO (overlap)"
    rows: tuple[SMDRow, ...]
    max_before: float
    max_after: float
    status_before: Status
    status: Status  # after weighting: the one that counts
    pass_below: float
    fail_at: float
    message: str
    ess_treated: float = float("nan")  # Kish effective sample size of the weights, per arm
    ess_control: float = float("nan")
    n_treated: int = 0
    n_control: int = 0

    @property
    def worst_after(self) -> tuple[SMDRow, ...]:
        return tuple(sorted(self.rows, key=lambda r: -abs(r.after))[:5])


@dataclass(frozen=True)
class OverlapResult:
    bounds: tuple[float, float]
    share_outside: float  # whole sample
    share_outside_treated: float
    share_outside_control: float
    share_outside_analysed: float  # after the spec's trimming
    share_below: float  # propensity < low bound, whole sample
    share_above: float
    min_propensity: float
    max_propensity: float
    bin_edges: tuple[float, ...]
    counts_treated: tuple[int, ...]
    counts_control: tuple[int, ...]
    status: Status
    pass_below: float
    fail_above: float
    message: str


@dataclass(frozen=True)
class LearnerLoss:
    """A propensity learner's mean out-of-fold log-loss of the treatment."""

    learner: PropensityLearner
    log_loss: float


@dataclass(frozen=True)
class PropensityChoice:
    """The learner ``auto`` chose and the cross-validated log-loss of each candidate."""

    chosen: PropensityLearner
    candidates: tuple[LearnerLoss, ...]

    def describe(self) -> str:
        """One line for the notes: which learner, and the losses it was chosen on.

        Returns
        -------
        str
        """
        losses = ", ".join(f"{c.learner.value} {c.log_loss:.4f}" for c in self.candidates)
        return (
            f"propensity_learner = auto chose {self.chosen.value} (cross-validated log-loss of the treatment: {losses})"
        )


@dataclass(frozen=True)
class SanityCheck:
    """The DR estimate beside the two estimates it combines, and how hard its weights lean.

    ``plug_in`` uses the outcome model alone, ``ipw`` the (normalised) propensity weights
    alone, both over the analysed population for the estimand. ``ess_share`` is the
    smaller arm's Kish effective sample size as a share of that arm; ``top_weight_share``
    the largest single weight's share of its arm's total; ``calibration_error`` the mean
    gap between predicted and observed treatment rates over propensity deciles.
    """

    dr: float
    dr_half_width: float
    plug_in: float
    ipw: float
    outcome_sd: float
    ess_share: float
    top_weight_share: float
    calibration_error: float
    credible: bool
    status: Status
    message: str


@dataclass(frozen=True)
class TrimPoint:
    threshold: float  # keep units with propensity in [threshold, 1 - threshold]
    estimand: str
    effect: float
    ci_low: float
    ci_high: float
    n: int


@dataclass(frozen=True)
class TrimmingResult:
    points: tuple[TrimPoint, ...]
    max_shift_se: float  # largest move of the estimate from the untrimmed one, in untrimmed SEs
    status: Status
    message: str


@dataclass(frozen=True)
class PlaceboOutcomeResult:
    column: str
    effect: float
    ci_low: float
    ci_high: float
    column_sd: float
    std_effect: float  # effect / column SD
    status: Status
    message: str


@dataclass(frozen=True)
class RefuterResult:
    """One DoWhy-style refutation, re-estimated with the same learners.

    ``expected`` is what a sound analysis should give (0, or the original estimate);
    ``reading`` says in plain words what this pass or fail means.
    """

    name: str  # placebo_treatment, random_common_cause, data_subset, dummy_outcome
    title: str
    original: float
    estimate: float
    ci_low: float
    ci_high: float
    expected: float
    passed: bool
    reading: str
    detail: str = ""

    @property
    def status(self) -> Status:
        return Status.PASS if self.passed else Status.FAIL


@dataclass(frozen=True)
class SensitivityResult:
    """Sensitivity to a hidden confounder: E-value and Cinelli–Hazlett robustness value."""

    rr: float  # the estimate as a risk ratio (approximate for continuous outcomes)
    rr_low: float
    rr_high: float
    e_value: float
    e_value_ci: float  # for the CI limit closer to the null (1.0 if the CI includes it)
    conversion: str  # how the effect was turned into a risk ratio
    ols_estimate: float
    ols_se: float
    t_stat: float
    dof: int
    partial_r2: float  # partial R² of treatment with outcome, given the covariates
    rv: float  # RV_q=1: confounding that explains the whole estimate away
    rv_alpha: float  # RV_q=1,α=0.05: confounding that makes it insignificant
    status: Status
    message: str


@dataclass(frozen=True)
class ColumnFact:
    """What the data say about a pre-treatment column (for blind spots and placebo choice)."""

    name: str
    role: str  # "control" or "pretreatment"
    in_covariates: bool
    smd_treatment: float  # |SMD| between arms (max over levels for a categorical)
    corr_outcome: float  # |correlation| with the outcome (max over levels for a categorical)
    numeric: bool
    smd_weighted: float = float("nan")  # |SMD| left after the analysis' weights (analysed population)


@dataclass(frozen=True)
class PopulationShift:
    """How the population an estimate averages over differs from all units, in one column."""

    column: str
    level: str  # the category (a categorical column) or "1" (a 0/1 column), read as shares; "" for a numeric one
    everyone: float  # the mean over all units (a level's share, for a categorical)
    population: float  # the same, weighted as the estimand weighs units
    shift_sd: float  # (population − everyone) in standard deviations of the column over all units

    def describe(self) -> str:
        """``age mean 31.2 against 27.4 (+0.61 sd)``, or ``site = b 45% against 30%``.

        Returns
        -------
        str
        """
        if self.level:
            return f"{self.column} = {self.level} {self.population:.0%} against {self.everyone:.0%}"
        return f"{self.column} mean {self.population:g} against {self.everyone:g} ({self.shift_sd:+.2f} sd)"


@dataclass(frozen=True)
class DataFacts:
    """Features of the data that open alternative measurement strategies."""

    lagged_outcomes: tuple[str, ...] = ()  # pre-treatment columns that look like the outcome measured earlier
    thresholds: tuple[tuple[str, float, float], ...] = ()  # (column, cutoff, jump in treated share)
    instruments: tuple[str, ...] = ()  # columns whose name suggests an assignment lever


@dataclass(frozen=True)
class Triangulation:
    """The doubly-robust estimate beside the Bayesian one."""

    bayes_estimand: str
    dr_estimand: str
    bayes_mean: float
    bayes_low: float
    bayes_high: float
    dr_effect: float
    dr_low: float
    dr_high: float
    gap: float  # |difference of the point estimates|
    overlap: float  # length of the intersection of the intervals (0 if disjoint)
    level: str  # "agree", "disagree" (gap beyond a half-width) or "conflict" (intervals barely overlap)
    message: str

    @property
    def loud(self) -> bool:
        return self.level != "agree"


@dataclass(frozen=True)
class Diagnostic:
    """A one-line view of any diagnostic, for tables and the critic."""

    name: str
    status: Status
    message: str


@dataclass(frozen=True)
class DesignResult:
    """Everything one design run measured; small and picklable."""

    spec: AnalysisSpec
    contract_estimand: str
    outcome_type: str
    estimate: DREstimate
    balance: BalanceResult
    overlap: OverlapResult
    trimming: TrimmingResult | None
    placebo: tuple[PlaceboOutcomeResult, ...]
    refuters: tuple[RefuterResult, ...]
    sensitivity: SensitivityResult | None
    columns: tuple[ColumnFact, ...]
    facts: DataFacts
    treatment: str
    outcome: str
    covariates: tuple[str, ...]
    n_total: int
    bayesian_effect: Effect | None = None
    triangulation: Triangulation | None = None
    sanity: SanityCheck | None = None  # None in records written before the sanity net existed
    propensity_choice: PropensityChoice | None = None  # how ``propensity_learner = "auto"`` chose
    # whose effect it is: the columns in which the estimand's population differs most from all
    # units (empty for an untrimmed ATE, and in records written before it was measured)
    population: tuple[PopulationShift, ...] = ()
    notes: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def diagnostics(self) -> tuple[Diagnostic, ...]:
        """Each diagnostic as (name, status, message), in the order a reader should see them.

        Returns
        -------
        tuple of Diagnostic
            The sanity net (when run), balance, overlap, trimming (when run), each placebo outcome (``placebo:<column>``),
            each refuter (``refuter:<name>``) and sensitivity (when run).
        """
        rows = [
            Diagnostic("balance", self.balance.status, self.balance.message),
            Diagnostic("overlap", self.overlap.status, self.overlap.message),
        ]
        if self.sanity is not None:
            rows.insert(0, Diagnostic("sanity", self.sanity.status, self.sanity.message))
        if self.trimming is not None:
            rows.append(Diagnostic("trimming", self.trimming.status, self.trimming.message))
        rows += [Diagnostic(f"placebo:{p.column}", p.status, p.message) for p in self.placebo]
        rows += [Diagnostic(f"refuter:{r.name}", r.status, r.reading) for r in self.refuters]
        if self.sensitivity is not None:
            rows.append(Diagnostic("sensitivity", self.sensitivity.status, self.sensitivity.message))
        return tuple(rows)

    def gate_failures(self) -> tuple[str, ...]:
        """Names of the gating diagnostics that failed: sanity, balance, overlap, placebo outcomes.

        The design loop's verdict treats these like the model loop's convergence gates.

        Returns
        -------
        tuple of str
            Diagnostic names as :meth:`diagnostics` gives them; empty when none failed.
        """
        return tuple(
            d.name
            for d in self.diagnostics()
            if d.status is Status.FAIL and (d.name in ("sanity", "balance", "overlap") or d.name.startswith("placebo:"))
        )
