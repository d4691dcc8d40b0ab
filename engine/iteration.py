"""One iteration as the session commits it: the proposal, what ran, and every loop's result.

An :class:`IterationRecord` composes the shared parts (:mod:`engine.records`) with the
loops' own typed results (the design run, the critics' reviews, the model plan), so it sits
above all of them. The session store writes it as JSON into the iteration's commit; screens
and the report read it back with :func:`record_from_json`, which also reads the older
layouts (:data:`RECORD_SCHEMA`): schema 1 kept the loop results in untyped
``extra``/``meta`` dicts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.design.critic import Critique
from engine.design.results import DesignResult, DREstimate
from engine.design.spec import LEGACY_MIN_PROPENSITY
from engine.jsonable import from_dict
from engine.model_critic import ModelReview
from engine.records import (
    AgentReview,
    CompileResult,
    CrashInfo,
    Decision,
    Finding,
    ParamDiagnostic,
    Proposal,
    Verdict,
    VerdictKind,
    unified_diff,
)

__all__ = [
    "RECORD_SCHEMA",
    "SANDBOX_INNER",
    "SANDBOX_NAMESPACES",
    "IterationRecord",
    "latest_dr_estimate",
    "record_from_json",
]

RECORD_SCHEMA = 3
"""The record layout: 3 names the design spec's propensity clip; 2 has typed fields; 1 (before
December 2026) had ``extra`` and ``meta`` dicts."""

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


def latest_dr_estimate(records: Sequence[IterationRecord]) -> DREstimate | None:
    """The doubly-robust estimate of the best design run (else the latest that ran), from the records.

    Parameters
    ----------
    records
        The session's iterations in order; design runs are those with a ``design`` result.

    Returns
    -------
    DREstimate or None
        From the most recent kept design run, else the most recent design run; None when no
        design run was recorded.
    """
    design = [r for r in records if r.design is not None]
    if not design:
        return None
    kept = [r for r in design if r.verdict is not None and r.verdict.kind is VerdictKind.KEPT]
    chosen = (kept or design)[-1].design
    return chosen.estimate if chosen is not None else None
