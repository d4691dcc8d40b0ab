"""Typed results shared across the engine: proposals, findings, decisions, verdicts.

They are the parts of an iteration's record (:class:`engine.iteration.IterationRecord`),
which also holds the loops' own results; those are typed by the modules that compute them,
which build on the types here, so this module imports none of them. All types are frozen
dataclasses with enums, and round-trip through one adapter, :func:`engine.jsonable.to_json` /
:func:`engine.jsonable.from_dict`: every engine result is already a frozen dataclass, so a
60-line adapter with no dependency serves them all (pydantic would have to be taught numpy
scalars and would wrap types the engine passes between processes as pickles).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from engine.modelspec import ModelPlan
from engine.showable import showable

Json = Any
"""A raw API payload kept verbatim for the transcript (the agent's own business, never read by key elsewhere)."""


class Loop(StrEnum):
    """Which loop a proposal belongs to, and so which file it edits."""

    MODEL = "model"  # edits model.py; judged by gates and PSIS-LOO
    DESIGN = "design"  # edits analysis.toml; judged by design diagnostics and the critic

    @property
    def file(self) -> str:
        return "model.py" if self is Loop.MODEL else "analysis.toml"


class Severity(StrEnum):
    BLOCKER = "blocker"  # approve is disabled unless the principal overrides with a reason
    WARNING = "warning"  # shown to the reviewer; does not block


@dataclass(frozen=True)
class Finding:
    """One thing the guard found in proposed code or spec.

    ``code`` is a stable identifier (e.g. ``forbidden-column``) that tests and agents match
    on; ``message`` says what is wrong and what to do.
    """

    code: str
    severity: Severity
    message: str
    line: int | None = None

    @property
    def is_blocker(self) -> bool:
        """Approve stays disabled until the principal overrides it in writing."""
        return self.severity is Severity.BLOCKER

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"[{self.severity}] {where}{self.message} ({self.code})"


def has_blocker(findings: list[Finding] | tuple[Finding, ...]) -> bool:
    """Whether any of ``findings`` is a blocker.

    Parameters
    ----------
    findings
        The guard's findings.

    Returns
    -------
    bool
    """
    return any(f.is_blocker for f in findings)


def blocker_codes(findings: list[Finding] | tuple[Finding, ...]) -> list[str]:
    """The distinct codes of the blocker findings, sorted: what a reason or a table names.

    Parameters
    ----------
    findings
        The guard's findings.

    Returns
    -------
    list of str
        Empty when nothing blocks.
    """
    return sorted({f.code for f in findings if f.is_blocker})


@dataclass(frozen=True)
class CompileResult:
    """Outcome of building the model and evaluating log-density and gradient once."""

    ok: bool
    seconds: float
    error: str | None = None  # one line: the exception type and message
    traceback: str | None = None  # short, agent code frames only
    hint: str | None = None  # what to change
    n_free: int | None = None  # number of unconstrained parameters
    logp: float | None = None


@dataclass(frozen=True)
class AgentCall:
    """One request to a language model: who asked, what it cost, how it ended."""

    role: str  # orchestrator, coder, coder-repair, critic, …
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None  # None when the model's price is unknown
    stop_reason: str | None = None
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    request_id: str = ""
    model: str = ""  # the model asked (a session can switch models between calls)


@dataclass(frozen=True)
class TranscriptEntry:
    """What was sent and what came back, for one call (clipped to fit a record)."""

    role: str
    attempt: int
    user: Json  # the user turn: text, or content blocks
    response: Json  # the API's reply as JSON
    system: str = ""  # the system prompt, the first time a role speaks


@dataclass(frozen=True)
class AgentUsage:
    """The calls, tokens and cost behind one proposal, repair or review by a language-model agent."""

    model: str
    calls: tuple[AgentCall, ...] = ()
    price_source: str = ""
    transcript: tuple[TranscriptEntry, ...] = ()

    @property
    def input_tokens(self) -> int:
        return sum(c.input_tokens for c in self.calls)

    @property
    def output_tokens(self) -> int:
        return sum(c.output_tokens for c in self.calls)

    @property
    def cost_usd(self) -> float | None:
        """The summed price, or None when any call's price is unknown."""
        costs = [c.cost_usd for c in self.calls]
        return None if any(c is None for c in costs) else round(sum(c for c in costs if c is not None), 6)


def _clean_prose(record: object, *names: str) -> None:
    """Replace the named string fields of a frozen record by :func:`engine.showable.showable` of themselves.

    An agent's prose reaches the terminal, the report and git commit messages; an escape
    sequence or a direction override in it would act there instead of showing (red team, round 12).
    """
    for name in names:
        value = getattr(record, name)
        if isinstance(value, str):
            object.__setattr__(record, name, showable(value))


@dataclass(frozen=True)
class AgentPlan:
    """What a language-model agent's orchestrator decided, and how its coder carried it out."""

    hypothesis: str
    rationale: str
    instructions: str = ""
    label: str = ""  # a short name for the idea (the proposal's move)
    implementation: str = ""  # the coder's own note on the file it wrote

    def __post_init__(self) -> None:
        _clean_prose(self, "hypothesis", "rationale", "instructions", "label", "implementation")


@dataclass(frozen=True)
class Proposal:
    """A change an agent proposes: one file, with a hypothesis and its rationale."""

    loop: Loop
    hypothesis: str
    rationale: str
    old_source: str
    new_source: str
    agent: str  # backend name: heuristic, anthropic, replay, principal
    move: str | None = None  # catalogue move id, so the agent can learn from outcomes
    repair_attempts: int = 0  # how often the agent rewrote it after a failed compile check
    unresolved: tuple[str, ...] = ()  # guard blockers or spec issues the agent left after its corrective retry
    usage: AgentUsage | None = None  # a language-model agent's calls, tokens and cost
    plan: AgentPlan | None = None  # a language-model agent's plan: what its orchestrator asked of its coder
    generated: ModelPlan | None = None  # the offline agent's generator settings (base, variant, spec)
    origin: str = ""  # where a replayed proposal came from (file and entry)
    review: AgentReview | None = None  # the agent's reviewer on this proposal, before the principal decided

    def __post_init__(self) -> None:
        _clean_prose(self, "hypothesis", "rationale", "move", "origin")  # the code itself is the guard's to refuse

    @property
    def file(self) -> str:
        return self.loop.file

    @property
    def diff(self) -> str:
        """Unified diff from the base file to the proposed one."""
        return unified_diff(self.old_source, self.new_source, self.file)


def unified_diff(old: str, new: str, name: str) -> str:
    """Unified diff from ``old`` to ``new``, with ``a/`` and ``b/`` headers for the file ``name``.

    Parameters
    ----------
    old, new
        The file's text before and after.
    name
        The file's name in the headers, e.g. ``model.py``.

    Returns
    -------
    str
        Every line ends in a newline; empty when the texts are equal.
    """
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{name}", f"b/{name}")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


class DecisionKind(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Decision:
    """What the principal (or the policy standing in for them) decided."""

    kind: DecisionKind
    decider: str  # "principal" or "policy:auto" / "policy:guard-clean"
    reason: str = ""
    edited: bool = False  # the principal edited the diff before approving
    override: str = ""  # written reason for approving despite a blocker finding


class VerdictKind(StrEnum):
    """How the harness judged an approved proposal; the four are never conflated."""

    KEPT = "kept"  # passed the gates and beat the current best by the keep rule
    DISCARDED = "discarded"  # passed the gates, did not beat the best
    FAILED_GATE = "failed_gate"  # sampled, but a convergence gate failed
    CRASHED = "crashed"  # did not produce a trace: exception, timeout, memory, killed
    CANCELLED = "cancelled"  # the principal stopped it before it finished: no judgement on the model

    @property
    def scored(self) -> bool:
        """Whether the scorer reached it from validated arrays (so they can become a trace)."""
        return self in (VerdictKind.KEPT, VerdictKind.DISCARDED, VerdictKind.FAILED_GATE)


@dataclass(frozen=True)
class GateResult:
    """One convergence gate: the observed value against its threshold."""

    name: str  # rhat, ess_bulk, ess_tail, divergence_rate
    value: float
    threshold: float
    passed: bool

    def describe(self) -> str:
        """The gate in a few words, e.g. ``rhat 1.03 (needs < 1.01) FAILED``.

        Returns
        -------
        str
        """
        op = "<" if self.name in ("rhat", "divergence_rate") else ">"
        state = "ok" if self.passed else "FAILED"
        return f"{self.name} {self.value:.4g} (needs {op} {self.threshold:g}) {state}"


@dataclass(frozen=True)
class Effect:
    """An estimate of the estimand with its interval: a posterior HDI (model loop) or a CI (design loop)."""

    estimand: str  # ATE, ATT or ATO
    mean: float
    sd: float  # posterior sd, or the standard error of a design estimate
    hdi_low: float
    hdi_high: float
    hdi_prob: float = 0.94
    interval: str = "HDI"  # "HDI" (Bayesian posterior) or "CI" (frequentist confidence interval)

    @property
    def width(self) -> float:
        return self.hdi_high - self.hdi_low

    @property
    def interval_name(self) -> str:
        """``94% HDI`` or ``95% CI``: what the interval is, named wherever it is shown."""
        return f"{self.hdi_prob:.0%} {self.interval}"


@dataclass(frozen=True)
class Metrics:
    """What the harness measured for one sampled model."""

    elpd: float | None = None
    elpd_se: float | None = None
    p_loo: float | None = None
    pareto_k_bad: int | None = None  # observations with k > 0.7
    pareto_k_max: float | None = None
    delta_elpd: float | None = None  # against the best before this iteration
    delta_se: float | None = None
    effect: Effect | None = None
    rhat_max: float | None = None
    ess_bulk_min: float | None = None
    ess_tail_min: float | None = None
    divergences: int | None = None
    divergence_rate: float | None = None
    n_draws: int | None = None  # total post-warmup draws over all chains


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    reason: str  # one sentence: which gate and by how much, why kept or discarded, the crash
    metrics: Metrics = field(default_factory=Metrics)
    gates: tuple[GateResult, ...] = ()
    clause: str = ""  # the rule that decided, one of engine.scoring.CLAUSES ("" for crashes and older records)


@dataclass(frozen=True)
class ParamDiagnostic:
    """Convergence of one scalar parameter, e.g. ``beta_x[bw]``."""

    name: str
    rhat: float
    ess_bulk: float
    ess_tail: float


@dataclass(frozen=True)
class CrashInfo:
    """Why a run produced no verdict worth judging: the exception and its (agent-code) traceback."""

    type: str
    traceback: str = ""


@dataclass(frozen=True)
class AgentReview:
    """A language-model agent's own review of a verdict, or why it could not give one."""

    text: str = ""
    error: str = ""
    usage: AgentUsage | None = None

    def __post_init__(self) -> None:
        _clean_prose(self, "text", "error")
