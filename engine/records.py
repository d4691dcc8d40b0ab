"""Typed results shared across the engine: proposals, findings, decisions, verdicts.

Every iteration of a session is one :class:`IterationRecord`; the session store writes it
as JSON into the iteration's commit, screens and the report read it back. All types are
frozen dataclasses with enums, and round-trip through one adapter, :func:`to_json` /
:func:`from_dict`: every engine result is already a frozen dataclass, so a 60-line adapter
with no dependency serves them all (pydantic would have to be taught numpy scalars and
would wrap types the engine passes between processes as pickles).

A record names its layout in ``schema`` (:data:`RECORD_SCHEMA`); :func:`record_from_json`
still reads schema 1, whose loop results sat in untyped ``extra``/``meta`` dicts.
Results that belong to a loop (the design run, the critics' reviews) are typed by the
module that computes them and named here only as types, so this module imports nothing
of theirs until a record is read.
"""

from __future__ import annotations

import difflib
import functools
import json
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from engine.agents.modelspec import ModelPlan
    from engine.design.critic import Critique
    from engine.design.results import DesignResult
    from engine.model_critic import ModelReview

T = TypeVar("T")

RECORD_SCHEMA = 3
"""The record layout: 3 names the design spec's propensity clip; 2 has typed fields; 1 (before
December 2026) had ``extra`` and ``meta`` dicts."""

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


@dataclass(frozen=True)
class AgentPlan:
    """What a language-model agent's orchestrator decided, and how its coder carried it out."""

    hypothesis: str
    rationale: str
    instructions: str = ""
    label: str = ""  # a short name for the idea (the proposal's move)
    implementation: str = ""  # the coder's own note on the file it wrote


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
    sandbox: str = ""  # how agent code was isolated: SANDBOX_NAMESPACES, SANDBOX_INNER, or "" (older records)
    ran_source: str = ""  # the file that was checked and run: the proposal, or the principal's edit of it
    convergence: tuple[ParamDiagnostic, ...] = ()  # model loop: per scalar parameter
    crash: CrashInfo | None = None  # the exception of a run that crashed in the model's code
    design: DesignResult | None = None  # design loop: everything the run measured
    critique: Critique | None = None  # design loop: the critic's tier and reasons
    model_review: ModelReview | None = None  # model loop: the offline critic's credibility and triangulation
    agent_review: AgentReview | None = None  # the agent's own review, when it has a critic
    schema: int = RECORD_SCHEMA

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
    """Dataclasses and enums to plain JSON values (NaN and inf become None).

    Parameters
    ----------
    obj
        A dataclass, enum, dict, list, tuple, NumPy scalar or plain value, nested to any depth.

    Returns
    -------
    Any
        Dicts (a dataclass's fields by name, keys as strings), lists and plain values; a value
        of any other type is returned as it is.
    """
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
    """``obj`` as indented JSON text, through :func:`to_jsonable`.

    Parameters
    ----------
    obj
        Anything :func:`to_jsonable` takes.

    Returns
    -------
    str
        Non-ASCII characters kept as they are, with a final newline.
    """
    return json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def from_dict(cls: type[T], data: Any, *, strict: bool = False) -> T:
    """Rebuild a record dataclass (nested dataclasses, enums, tuples) from JSON values.

    Keys the class does not have are ignored (a newer writer's additions), unless ``strict``:
    then they raise ``ValueError``, for input a person or an agent wrote.

    Parameters
    ----------
    cls
        The dataclass to build.
    data
        Its JSON values: a dict by field name, or None.
    strict
        Refuse keys ``cls`` does not have (at the top level only: nested dataclasses are read
        leniently).

    Returns
    -------
    T
        An instance of ``cls`` (fields missing from ``data`` take their defaults), or None
        when ``data`` is None.

    Raises
    ------
    ValueError
        With ``strict``, for keys ``cls`` does not have.
    """
    if data is None:
        return None  # type: ignore[return-value]
    hints = _type_hints(cls)  # type: ignore[arg-type]  # classes are hashable; typeshed's lru_cache says Hashable
    if strict:
        unknown = sorted(set(data) - {f.name for f in fields(cls)})  # type: ignore[arg-type]
        if unknown:
            raise ValueError(f"unknown keys: {', '.join(unknown)}")
    kwargs = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            kwargs[f.name] = _coerce(hints[f.name], data[f.name])
    return cls(**kwargs)


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints`` once per class: it dominates reading hundreds of records.

    The loops' result types are named in records by string only (see the module docstring);
    they are imported here, the first time a record is read.
    """
    import typing

    from engine.agents.modelspec import ModelPlan
    from engine.design.critic import Critique
    from engine.design.results import DesignResult
    from engine.model_critic import ModelReview

    names = {"ModelPlan": ModelPlan, "Critique": Critique, "DesignResult": DesignResult, "ModelReview": ModelReview}
    return typing.get_type_hints(cls, localns=names)


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
    """Read a record of any schema this code knows (schema 1 is upgraded on the way in).

    Parameters
    ----------
    text
        A ``record.json`` as :func:`to_json` wrote it.

    Returns
    -------
    IterationRecord
        A record of an older schema comes back in the current layout (:data:`RECORD_SCHEMA`).
    """
    data = json.loads(text)
    if data.get("schema", 1) < 2:
        data = _upgrade_schema_1(data)
    if data.get("schema", 1) < 3:
        data = _upgrade_schema_2(data)
    return from_dict(IterationRecord, data)


def _upgrade_schema_2(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 2 → 3: a design run recorded before ``min_propensity`` existed ran with EconML's 1e-6 clip."""
    from engine.design.spec import LEGACY_MIN_PROPENSITY

    data = dict(data)
    design = data.get("design")
    if isinstance(design, dict) and isinstance(design.get("spec"), dict):
        spec = {"min_propensity": LEGACY_MIN_PROPENSITY, **design["spec"]}
        data["design"] = {**design, "spec": spec}
    data["schema"] = RECORD_SCHEMA
    return data


_SCHEMA_1_RESULTS = {"crash": "error", "design": "design", "critique": "critic", "model_review": "review"}
"""Schema 2 field ← the schema-1 ``extra`` key that held it."""


def _upgrade_schema_1(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 → 2: the ``extra`` and ``meta`` dicts become the typed fields they held."""
    data = dict(data)
    loop_results = data.pop("extra", None) or {}
    data["convergence"] = [
        {
            "name": row.get("name", row.get("parameter", "?")),
            **{k: row.get(k) for k in ("rhat", "ess_bulk", "ess_tail")},
        }
        for row in loop_results.get("convergence") or ()
    ]
    for field_name, key in _SCHEMA_1_RESULTS.items():
        data[field_name] = loop_results.get(key)
    agent_review = loop_results.get("agent_review")
    if agent_review:
        data["agent_review"] = {
            "text": agent_review.get("text") or "",
            "error": agent_review.get("error") or "",
            "usage": _usage_of_schema_1(agent_review.get("meta")),
        }
    proposal = dict(data.get("proposal") or {})
    notes = proposal.pop("meta", None) or {}
    proposal["repair_attempts"] = int(notes.get("repair_attempts", 0))
    proposal["unresolved"] = notes.get("unresolved") or ()
    proposal["usage"] = _usage_of_schema_1(notes)
    if "spec" in notes and "base" in notes:
        proposal["generated"] = {k: notes.get(k) for k in ("spec", "base", "variant", "variant_kind", "retry_of")}
    if isinstance(notes.get("plan"), dict):
        proposal["plan"] = {**notes.get("plan", {}), "implementation": notes.get("implementation") or ""}
    if "replay_file" in notes:
        proposal["origin"] = f"{notes.get('replay_file')} #{notes.get('replay_index', '?')}"
    data["proposal"] = proposal
    data["schema"] = RECORD_SCHEMA
    return data


def _usage_of_schema_1(notes: dict[str, Any] | None) -> dict[str, Any] | None:
    if not notes or "model" not in notes:
        return None
    return {k: notes.get(k) for k in ("model", "calls", "price_source", "transcript") if notes.get(k) is not None}
