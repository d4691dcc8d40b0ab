"""What a session report shows, as typed values: built by :mod:`engine.report.build`,
drawn by :mod:`engine.report.html` and :mod:`engine.report.markdown`.

Every number here is copied from the session's records (or the design result a record
carries); the renderers only format. Nothing in this module imports a plotting library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.iteration import IterationRecord
from engine.problem import Contract, Gates
from engine.records import CompileResult, Effect, Finding, GateResult, Loop
from engine.report.costs import CostTable

if TYPE_CHECKING:
    from engine.batch.series import EffectSeries
    from engine.batch.store import StoredBatch
    from engine.design.critic import Critique
    from engine.design.results import DesignResult, DREstimate, Triangulation
    from engine.evaluation import Scored
    from engine.model_critic import ModelReview
    from engine.plots import ConvergenceRow, ParetoKCounts
    from engine.stacking import StackedEffect


@dataclass(frozen=True)
class Figure:
    """One rendered plot: a PNG, with the words a reader needs to read it."""

    name: str  # file stem, e.g. "elpd_trajectory"
    title: str
    caption: str
    png: bytes = field(repr=False)
    width: int = 0  # pixels
    height: int = 0

    @property
    def filename(self) -> str:
        return f"{self.name}.png"


@dataclass(frozen=True)
class IterationRow:
    """One iteration as the report's table and details show it (values from its record)."""

    number: int
    loop: Loop
    commit: str | None  # the sha of the commit that recorded it
    hypothesis: str
    rationale: str
    agent: str
    agent_model: str | None  # the language model behind the agent, when its backend records one
    move: str | None
    decision: str  # approved / rejected / skipped
    decider: str
    reason: str  # the decider's words (rejection reason, override reason)
    edited: bool
    status: str  # kept / discarded / failed_gate / crashed, or the decision when nothing ran
    verdict_reason: str  # the harness's sentence ("" when nothing ran)
    deciding_rule: str  # the rule that decided the verdict, in one line ("" when nothing ran)
    elpd: float | None
    elpd_se: float | None
    delta_elpd: float | None
    delta_se: float | None
    effect: Effect | None  # the posterior summary, or a design run's DR estimate as an Effect
    effect_source: str  # "posterior" or "doubly robust"
    rhat_max: float | None
    ess_bulk_min: float | None
    ess_tail_min: float | None
    divergences: int | None
    seconds: float | None  # the iteration's total time
    tokens: int | None  # agent tokens, when the backend records them
    cost_usd: float | None
    findings: tuple[Finding, ...]
    compile: CompileResult | None
    gates: tuple[GateResult, ...]
    diff: str  # the proposal's diff
    edit_diff: str  # the principal's edit on top of the proposal ("" when none)
    error: str  # a crash's traceback ("" when none)
    record: IterationRecord = field(repr=False, compare=False)

    @property
    def kept(self) -> bool:
        return self.status == "kept"

    @property
    def source_is_posterior(self) -> bool:
        return self.effect_source == "posterior"

    @property
    def interval_label(self) -> str:
        """``94 % HDI`` for a posterior, ``95 % CI`` for a doubly-robust estimate."""
        if self.effect is None:
            return ""
        return f"{self.effect.hdi_prob:.0%} " + ("HDI" if self.source_is_posterior else "CI")


@dataclass(frozen=True)
class FinalEstimate:
    """The answer: the kept Bayesian model's posterior beside the design loop's DR estimate."""

    contract_estimand: str
    bayes: Effect | None
    bayes_iteration: int | None
    bayes_kept: bool  # False: no model was kept; ``bayes`` is then None
    dr: DREstimate | None
    dr_iteration: int | None
    dr_kept: bool  # False: the DR estimate is the latest design run, not a kept one
    triangulation: Triangulation | None  # as the design run / critic recorded it
    triangulation_final: Triangulation | None  # the same rule on the final pair, when the recorded one used another
    notes: tuple[str, ...] = ()
    stacked: StackedEffect | None = None  # the effect over every scored model, by LOO stacking weight


@dataclass(frozen=True)
class Credibility:
    """How much to trust the final estimate: the critic's review and the model's own checks."""

    critique: Critique | None
    critique_iteration: int | None
    critique_recorded: bool  # False: computed by the offline critic's rules when the report was written
    model_checks: tuple[tuple[str, str, str], ...]  # (check, status, detail) for the final model
    pareto: ParetoKCounts | None
    convergence: tuple[ConvergenceRow, ...]  # the final model's worst parameters first
    model_review: ModelReview | None = None  # the offline critic's review of the final model
    agent_review: str | None = None  # the agent's own review of the final model, when it wrote one


@dataclass(frozen=True)
class DesignView:
    """The design run the report describes: the kept one, else the latest."""

    iteration: int
    kept: bool
    result: DesignResult


@dataclass(frozen=True)
class CodeView:
    """The final files and how they differ from the baseline the session started from."""

    final_model: str
    baseline_model: str
    model_diff: str
    model_iteration: int | None  # None: nothing kept, the final model is the baseline
    final_analysis: str | None
    baseline_analysis: str
    analysis_diff: str
    analysis_iteration: int | None


@dataclass(frozen=True)
class Command:
    what: str
    text: str


@dataclass(frozen=True)
class Reproducibility:
    session_path: str
    problem_path: str
    created_at: str
    head: str | None
    best_commit: str | None
    best_design_commit: str | None
    root_commit: str | None
    data_file: str
    data_hash: str
    data_hash_now: str | None  # the problem folder's data file today, when it can be read
    seeds: dict[str, int]
    draws: int | None  # post-warmup draws of the final model
    versions: dict[str, str]  # session.json: when the session started
    final_versions: dict[str, str]  # the final model's iteration
    commands: tuple[Command, ...]


@dataclass(frozen=True)
class Evaluation:
    """Error against the ground truth of a semi-synthetic problem: never shown to an agent."""

    source: str
    truth: dict[str, float]
    rows: tuple[Scored, ...]


@dataclass(frozen=True)
class BatchView:
    """One batch of the session: its committed plan and results, and the effect along its axis."""

    batch: StoredBatch
    series: tuple[EffectSeries, ...]  # from :func:`engine.batch.series.effect_series`

    @property
    def figure_name(self) -> str:
        """The file stem of its figure (batch ids hold only letters, digits, ``_`` and ``-``)."""
        return f"batch-{self.batch.plan.id}"


@dataclass(frozen=True)
class Report:
    """Everything a session report shows."""

    session_id: str
    problem: str
    title: str
    question: str
    kind: str  # semi-synthetic, synthetic, observational
    contract: Contract
    gates: Gates
    generated_at: str
    iterations: tuple[IterationRow, ...]
    final: FinalEstimate
    credibility: Credibility
    design: DesignView | None
    code: CodeView
    focus_iteration: int | None  # whose draws and Pareto k the plots show
    focus_kept: bool
    figures: tuple[Figure, ...]
    reproducibility: Reproducibility
    evaluation: Evaluation | None
    evaluation_note: str  # why there is no evaluation appendix, or how to read it
    problem_md: str
    program_md: str
    notes: tuple[str, ...] = ()
    costs: CostTable | None = None  # every language-model call, by iteration; None when none was made
    batches: tuple[BatchView, ...] = ()  # oldest first; empty when the session ran none

    def figure(self, name: str) -> Figure | None:
        """The figure named ``name`` (for example ``"forest"``), or None when it was not drawn.

        Parameters
        ----------
        name
            A :attr:`Figure.name`.

        Returns
        -------
        Figure or None
        """
        return next((f for f in self.figures if f.name == name), None)

    def counts(self) -> dict[str, int]:
        """Iterations by status, in the order they first appear.

        Returns
        -------
        dict of str to int
            Number of iterations per status.
        """
        out: dict[str, int] = {}
        for row in self.iterations:
            out[row.status] = out.get(row.status, 0) + 1
        return out
