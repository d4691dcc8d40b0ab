"""Typed results shared across the engine: proposals, findings, decisions, verdicts.

Every iteration of a session is one :class:`IterationRecord`; the session store writes it
as JSON into the iteration's commit, screens and the report read it back. All types are
frozen dataclasses with enums, and round-trip through :func:`to_json` / ``from_dict``.
"""

from __future__ import annotations

import difflib
import functools
import json
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum, StrEnum
from typing import Any


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

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"[{self.severity}] {where}{self.message} ({self.code})"


def has_blocker(findings: list[Finding] | tuple[Finding, ...]) -> bool:
    return any(f.severity is Severity.BLOCKER for f in findings)


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
class Proposal:
    """A change an agent proposes: one file, with a hypothesis and its rationale."""

    loop: Loop
    hypothesis: str
    rationale: str
    old_source: str
    new_source: str
    agent: str  # backend name: heuristic, anthropic, replay, principal
    move: str | None = None  # catalogue move id, so the agent can learn from outcomes
    meta: dict[str, Any] = field(default_factory=dict)  # tokens, cost, repair attempts

    @property
    def file(self) -> str:
        return self.loop.file

    @property
    def diff(self) -> str:
        """Unified diff from the base file to the proposed one."""
        return unified_diff(self.old_source, self.new_source, self.file)


def unified_diff(old: str, new: str, name: str) -> str:
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


@dataclass(frozen=True)
class GateResult:
    """One convergence gate: the observed value against its threshold."""

    name: str  # rhat, ess_bulk, ess_tail, divergence_rate
    value: float
    threshold: float
    passed: bool

    def describe(self) -> str:
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


SANDBOX_NAMESPACES = "namespaces"
"""The record's code ran inside bubblewrap's namespaces, behind every inner layer too."""
SANDBOX_INNER = "inner layers only"
"""The record's code ran without the namespace sandbox: limits, seccomp, audit hook, guard."""


@dataclass(frozen=True)
class IterationRecord:
    """Everything about one iteration, as committed to the session repository."""

    number: int
    proposal: Proposal
    findings: tuple[Finding, ...]
    compile: CompileResult | None
    decision: Decision
    verdict: Verdict | None  # None when the proposal was not run (rejected or skipped)
    timings: dict[str, float] = field(default_factory=dict)  # compile, sampling, loglik, loo, effect, total
    seeds: dict[str, int] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    data_hash: str = ""
    created_at: str = ""  # ISO 8601, UTC
    extra: dict[str, Any] = field(default_factory=dict)  # loop-specific results (design diagnostics, critic)
    sandbox: str = ""  # how agent code was isolated: SANDBOX_NAMESPACES, SANDBOX_INNER, or "" (older records)
    ran_source: str = ""  # the file that was checked and run: the proposal, or the principal's edit of it

    @property
    def source(self) -> str:
        """The code this iteration is about: what ran (older records: the proposal)."""
        return self.ran_source or self.proposal.new_source

    @property
    def ran_diff(self) -> str:
        """The change that ran, from the file it started from."""
        return unified_diff(self.proposal.old_source, self.source, self.proposal.file)

    @property
    def edited(self) -> bool:
        """The principal changed the agent's proposal before it ran."""
        return bool(self.ran_source) and self.ran_source != self.proposal.new_source

    @property
    def status(self) -> str:
        """The one word a list shows: the verdict, or the decision when nothing ran."""
        return self.verdict.kind.value if self.verdict else self.decision.kind.value


# --------------------------------------------------------------------------- JSON


def to_jsonable(obj: Any) -> Any:
    """Dataclasses and enums to plain JSON values (NaN and inf become None)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return None
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return to_jsonable(obj.item())
    return obj


def to_json(obj: Any) -> str:
    return json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def from_dict(cls: type, data: Any) -> Any:
    """Rebuild a record dataclass (nested dataclasses, enums, tuples) from JSON values."""
    if data is None:
        return None
    hints = _type_hints(cls)
    kwargs = {}
    for f in fields(cls):
        if f.name in data:
            kwargs[f.name] = _coerce(hints[f.name], data[f.name])
    return cls(**kwargs)


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints`` once per class: it dominates reading hundreds of records."""
    import typing

    return typing.get_type_hints(cls)


def _coerce(hint: Any, value: Any) -> Any:
    import types
    import typing

    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _coerce(inner[0], value) if len(inner) == 1 else value
    if origin is tuple:
        (item, *_rest) = typing.get_args(hint)
        return tuple(_coerce(item, v) for v in value)
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_coerce(item, v) for v in value]
    if isinstance(hint, type) and is_dataclass(hint):
        return from_dict(hint, value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    return value


def record_from_json(text: str) -> IterationRecord:
    return from_dict(IterationRecord, json.loads(text))
