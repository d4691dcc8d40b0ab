"""The offline researcher: deterministic proposals from a catalogue of model moves.

It follows the strategy PROGRAM.md states for the model loop:

- build complexity one step at a time, in the catalogue's order
  (:mod:`engine.agents.catalogue`), always from the current best model;
- after a failed gate, retry the idea simplified (tighter priors, a lighter variant,
  a simpler base, non-centred shrinkage); after a crash, never rerun the same move on
  the same base: try a lighter variant;
- never propose anything already tried (same model code, or same move on the same base);
- avoid families of moves a reviewer's rejection reason speaks about, and say so.

Every proposal is a complete ``model.py`` rendered from a :class:`ModelSpec`, so the
agent can read the spec of the current best back from its docstring. The same context
always gives the same proposal.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from engine.agents.base import Agent, AgentContext, DataSummary
from engine.agents.catalogue import Move, get_move, moves_for, reason_tags, simplifications, tighter
from engine.agents.modelgen import infer_spec, normalise_source, render_model, spec_from_source
from engine.errors import AgentError
from engine.iteration import IterationRecord
from engine.modelspec import ModelPlan, ModelSpec, baseline_spec, spec_with
from engine.records import CompileResult, DecisionKind, Loop, Proposal, VerdictKind

MAX_RETRIES = 1  # simplified retries of one move on one base after it failed a gate or crashed (iterations are dear)
MAX_CRASHES = 2  # a move that crashed this often (on any base) is not tried again
FAILED = ("failed_gate", "crashed")


@dataclass(frozen=True)
class _Attempt:
    """One past iteration, as the agent reads it."""

    number: int
    move: str | None
    base: ModelSpec | None
    spec: ModelSpec | None
    key: str  # normalised new source
    status: str  # verdict kind, or the decision when nothing ran
    reason: str  # the reviewer's words when rejected, else the verdict's reason
    record: IterationRecord


@dataclass(frozen=True)
class _Plan:
    move: Move
    spec: ModelSpec
    hypothesis: str
    reason: str
    variant: str | None = None
    variant_kind: str | None = None
    retry_of: int | None = None


@dataclass
class _State:
    outcome: str
    data: DataSummary
    attempts: list[_Attempt]
    base: ModelSpec
    base_note: str | None
    tried: set[str] = field(default_factory=set)
    pairs: set[tuple[str, ModelSpec]] = field(default_factory=set)
    avoided: dict[str, tuple[int, str]] = field(default_factory=dict)  # tag -> (iteration, reviewer's words)


def _outcome(context: AgentContext) -> str:
    return context.contract.outcome_type.value


def recover_spec(source: str, outcome: str) -> ModelSpec | None:
    """The spec of a generated file (edits a spec can say included), or of an untouched baseline;
    ``None`` for code written or edited beyond what a spec says.

    Parameters
    ----------
    source
        The text of a ``model.py``.
    outcome
        ``"continuous"``, ``"binary"`` or ``"count"``: which baseline to compare with.

    Returns
    -------
    ModelSpec or None
    """
    spec = spec_from_source(source) or infer_spec(source)
    if spec is not None:
        return spec
    baseline = baseline_spec(outcome)
    return baseline if normalise_source(source) == normalise_source(render_model(baseline)) else None


def _read(record: IterationRecord, outcome: str) -> _Attempt:
    proposal = record.proposal
    spec = recover_spec(record.source, outcome)  # what ran: the principal's edit when there was one
    base = proposal.generated.base if proposal.generated is not None else recover_spec(proposal.old_source, outcome)
    if record.verdict is not None:
        status, reason = record.verdict.kind.value, record.verdict.reason
    else:
        status, reason = record.decision.kind.value, record.decision.reason
    if record.decision.kind is DecisionKind.REJECTED:
        reason = record.decision.reason
    return _Attempt(
        number=record.number,
        move=proposal.move if proposal.agent == HeuristicAgent.name else None,
        base=base,
        spec=spec,
        key=normalise_source(record.source),
        status=status,
        reason=reason,
        record=record,
    )


def _state(context: AgentContext) -> _State:
    outcome = _outcome(context)
    attempts = [_read(r, outcome) for r in context.loop_history]
    base = recover_spec(context.best_source, outcome)
    note = None
    if base is None:
        kept = [a for a in attempts if a.status == VerdictKind.KEPT.value and a.spec is not None]
        if kept:
            base = kept[-1].spec
            assert base is not None  # kept holds only attempts with a spec
            note = (
                "The current best model.py has no workbench-spec line that matches its code (it was written or "
                f"edited by hand), so this proposal builds on the last agent-generated kept model (iteration "
                f"{kept[-1].number}) and replaces the hand-written file."
            )
        else:
            base = baseline_spec(outcome)
            note = (
                "The current best model.py has no workbench-spec line that matches its code (it was written by "
                "hand), and no agent-generated model was kept yet, so this proposal builds on the baseline spec "
                "and replaces the hand-written file."
            )
    state = _State(outcome=outcome, data=context.data, attempts=attempts, base=base, base_note=note)
    state.tried.add(normalise_source(context.best_source))
    for a in attempts:
        if a.status in _UNJUDGED:
            continue  # skipped or cancelled: the idea was not judged, so it stays in the queue
        state.tried.add(a.key)
        if a.move and a.base is not None:
            state.pairs.add((a.move, a.base))
        if a.status == DecisionKind.REJECTED.value:
            for tag in sorted(reason_tags(a.reason)):
                state.avoided.setdefault(tag, (a.number, a.reason.strip()))
    return state


_UNJUDGED = (DecisionKind.SKIPPED.value, VerdictKind.CANCELLED.value)


def _status_words(status: str) -> str:
    return {"failed_gate": "failed a gate", "crashed": "crashed"}.get(status, status)


def _avoided_by(move: Move, state: _State) -> list[tuple[str, int, str]]:
    return [(tag, *state.avoided[tag]) for tag in sorted(move.tags & set(state.avoided))]


def _is_new(spec: ModelSpec, state: _State) -> bool:
    return normalise_source(render_model(spec)) not in state.tried


def _fmt_delta(metrics) -> str:
    if metrics is None or metrics.delta_elpd is None:
        return ""
    se = f" ± {metrics.delta_se:.1f}" if metrics.delta_se is not None else ""
    return f"ΔELPD {metrics.delta_elpd:+.1f}{se}"


def _failure_text(a: _Attempt) -> str:
    verdict = a.record.verdict
    if verdict is None:
        return a.reason
    failed = [g.describe() for g in verdict.gates if not g.passed]
    return "; ".join(failed) or verdict.reason


def _merge(base: ModelSpec, first: ModelSpec, second: ModelSpec) -> ModelSpec | None:
    """Both specs' changes relative to ``base``; ``None`` when they clash or are invalid together."""
    changes: dict = {}
    for name in first.__dataclass_fields__:
        ours, a, b = getattr(base, name), getattr(first, name), getattr(second, name)
        if a != ours and b != ours and a != b:
            return None
        if a != ours or b != ours:
            changes[name] = a if a != ours else b
    return spec_with(base, **changes)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


class HeuristicAgent(Agent):
    """Deterministic offline researcher for the model loop (and, by rule, the design loop).

    Parameters
    ----------
    max_retries
        How many simplified retries one move gets on one base after failing a gate or
        crashing before the agent moves on.
    """

    name = "heuristic"
    loops = frozenset({Loop.MODEL, Loop.DESIGN})
    offline = True
    can_repair = True

    def __init__(self, max_retries: int = MAX_RETRIES) -> None:
        self.max_retries = max_retries

    # ------------------------------------------------------------------ propose

    def propose(self, context: AgentContext) -> Proposal:
        """Propose the next model: a simplified retry of a failure, else the next catalogue move.

        Parameters
        ----------
        context
            What the agent may see; a design-loop context goes to
            :func:`~engine.agents.design.propose_design`.

        Returns
        -------
        Proposal
            A whole ``model.py`` rendered from a spec, with the move's id and the generator's
            settings (``generated``); for the design loop, the next design move.

        Raises
        ------
        AgentError
            When every applicable move has been tried on the current best model (for the
            design loop: when the spec does not parse or no design rule is left).
        """
        self.check_loop(context)
        if context.loop is Loop.DESIGN:
            from engine.agents.design import propose_design

            return propose_design(context, self.name)
        state = _state(context)
        plan = self._retry(state) or self._next_move(state) or self._combine_near_misses(state)
        if plan is None:
            raise AgentError(
                "the offline agent has tried every move in its catalogue on the current best model; in the TUI, "
                "press e on a review to write the next model yourself from its proposal, e on home to change "
                "PROGRAM.md, or reopen the session with --agent anthropic"
            )
        return self._proposal(context, state, plan)

    def _retry(self, state: _State) -> _Plan | None:
        if not state.attempts:
            return None
        last = state.attempts[-1]
        move = get_move(last.move)
        if last.status not in FAILED or move is None or last.spec is None or last.base != state.base:
            return None
        if _avoided_by(move, state):
            return None
        failures = sum(1 for a in state.attempts if a.move == move.id and a.base == state.base and a.status in FAILED)
        if failures > self.max_retries:
            return None
        crashed = last.status == VerdictKind.CRASHED.value
        verdict = last.record.verdict
        divergent = verdict is not None and (
            any(g.name.startswith("diverg") and not g.passed for g in verdict.gates)
            or "diverg" in verdict.reason.lower()
        )
        used_kinds = {
            a.record.proposal.generated.variant_kind
            for a in state.attempts
            if a.move == move.id and a.base == state.base and a.record.proposal.generated is not None
        }
        options = [
            (spec, variant, kind)
            for spec, variant, kind in simplifications(
                last.spec, state.base, move, state.data, crashed=crashed, divergent=divergent
            )
            if spec != state.base and _is_new(spec, state)
        ]
        # A different kind of simplification before the same kind twice (tighter, then tighter again).
        options.sort(key=lambda option: option[2] in used_kinds)
        for spec, variant, kind in options:
            if crashed:
                why = (
                    f"Iteration {last.number} ({move.id}) crashed: {_failure_text(last)}. Not running the same move "
                    f"on the same base again; trying a simpler variant: {variant}."
                )
            else:
                why = (
                    f"Iteration {last.number} ({move.id}) failed a convergence gate: {_failure_text(last)}. "
                    f"As PROGRAM.md says, simplify and retry the idea: {variant}."
                )
            # "Tighter priors, with tighter priors (0.5 → 0.25)" read badly: name the retry, then the one change.
            hypothesis = (
                f"{_cap(move.title)} again (iteration {last.number} {_status_words(last.status)}), now with "
                f"{variant}: it should pass the convergence gates and raise ELPD by more than 2 SE."
            )
            return _Plan(move, spec, hypothesis, why, variant=variant, variant_kind=kind, retry_of=last.number)
        return None

    def _next_move(self, state: _State) -> _Plan | None:
        # A cancelled run judged nothing: its move stays available, like one never tried. A skipped
        # move waits until the fresh ones are spent; only a reject (with its reason) retires an idea.
        unjudged = (VerdictKind.KEPT.value, VerdictKind.CANCELLED.value)
        used = {a.move for a in state.attempts if a.move and a.status not in unjudged}
        crashes = Counter(a.move for a in state.attempts if a.move and a.status == VerdictKind.CRASHED.value)
        for fresh in (True, False):
            for move in moves_for(state.outcome, state.data):
                if _avoided_by(move, state) or crashes[move.id] >= MAX_CRASHES:
                    continue
                if fresh and move.id in used:
                    continue
                spec = move.apply(state.base, state.data)
                if spec is None or (move.id, state.base) in state.pairs or not _is_new(spec, state):
                    continue
                why = move.why
                if not fresh:
                    earlier = [a for a in state.attempts if a.move == move.id]
                    if earlier[-1].status == DecisionKind.SKIPPED.value:
                        why += (
                            f" You skipped it at iteration {earlier[-1].number}; every fresh move has been proposed "
                            "since, so it comes back (reject it with a reason to retire it)."
                        )
                    else:
                        why += (
                            f" It was tried before on another base (iteration {earlier[-1].number}: "
                            f"{earlier[-1].status}); the current best differs, so it gets another chance."
                        )
                return _Plan(move, spec, move.hypothesis_for(state.data, state.base, spec), why)
        return None

    def _combine_near_misses(self, state: _State) -> _Plan | None:
        """PROGRAM.md: "if stuck, combine near-misses" — two moves that each gained a little on this base."""
        near = [
            (a, known, a.spec, a.record.verdict)
            for a in state.attempts
            if a.status == VerdictKind.DISCARDED.value
            and a.base == state.base
            and a.spec is not None
            and (known := get_move(a.move)) is not None
            and not _avoided_by(known, state)
            and a.record.verdict is not None
            and (a.record.verdict.metrics.delta_elpd or 0.0) > 0
        ]
        for i, (first, a, first_spec, first_verdict) in enumerate(near):
            for second, b, second_spec, second_verdict in near[i + 1 :]:
                spec = _merge(state.base, first_spec, second_spec)
                if spec is None or spec in (first_spec, second_spec) or not _is_new(spec, state):
                    continue
                move = Move(
                    id="combine",
                    title=f"{a.title} together with {b.title}",
                    tags=a.tags | b.tags,
                    hypothesis="",
                    why="",
                    build=lambda s, d: None,
                )
                why = (
                    f"Every catalogue move has been tried on this base. Iterations {first.number} ({a.id}, "
                    f"{_fmt_delta(first_verdict.metrics)}) and {second.number} ({b.id}, "
                    f"{_fmt_delta(second_verdict.metrics)}) each gained a little without clearing 2 SE; "
                    "PROGRAM.md says to combine near-misses when stuck."
                )
                hypothesis = f"Combining {a.title} with {b.title} will add up to a gain of more than 2 SE in ELPD."
                return _Plan(move, spec, hypothesis, why)
        return None

    # ------------------------------------------------------------------ writing

    def _rationale(self, context: AgentContext, state: _State, plan: _Plan) -> str:
        parts: list[str] = []
        attempts = state.attempts
        if not attempts:
            parts.append(
                "First iteration of this session; building complexity one step at a time from the current model."
            )
        else:
            counts = Counter(a.status for a in attempts)
            listed = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in sorted(counts.items()))
            parts.append(f"{len(attempts)} iteration{'s' if len(attempts) > 1 else ''} so far ({listed}).")
        m = context.best_metrics
        if m is not None and m.elpd is not None:
            best = f"The current best has ELPD {m.elpd:.1f}"
            if m.elpd_se is not None:
                best += f" ± {m.elpd_se:.1f}"
            if m.effect is not None:
                e = m.effect
                best += f" and {e.estimand} {e.mean:.2f} [{e.hdi_low:.2f}, {e.hdi_high:.2f}]"
            parts.append(best + ".")
        kept = [a for a in attempts if a.status == VerdictKind.KEPT.value]
        if kept:
            line = "; ".join(
                f"iteration {a.number} {a.move or 'hand-written'}"
                + (
                    f" ({_fmt_delta(a.record.verdict.metrics)})"
                    if a.record.verdict and _fmt_delta(a.record.verdict.metrics)
                    else ""
                )
                for a in kept
            )
            parts.append(f"Kept so far: {line}.")
        if state.base_note:
            parts.append(state.base_note)
        last = attempts[-1] if attempts else None
        if last is not None and plan.retry_of != last.number:
            what = last.move or last.record.proposal.agent
            if last.status == DecisionKind.REJECTED.value:
                said = f': "{last.reason.strip()}"' if last.reason.strip() else " without a reason"
                parts.append(f"Iteration {last.number} ({what}) was rejected by the reviewer{said}.")
            elif last.status in FAILED:
                parts.append(
                    f"Iteration {last.number} ({what}) {last.status.replace('_', ' ')}: {_failure_text(last)}; "
                    "it is not repeated."
                )
            elif last.status == VerdictKind.DISCARDED.value:
                delta = _fmt_delta(last.record.verdict.metrics if last.record.verdict else None)
                parts.append(
                    f"Iteration {last.number} ({what}) was discarded"
                    + (f" ({delta})" if delta else "")
                    + (f": {last.reason.strip().rstrip('.')}." if last.reason.strip() else ".")
                )
        skipped: dict[tuple[int, str], list[str]] = {}
        for move in moves_for(state.outcome, state.data):
            if move.apply(state.base, state.data) is None:
                continue  # not a candidate anyway: no need to say it is skipped
            for _tag, number, words in _avoided_by(move, state):
                skipped.setdefault((number, words), [])
                if move.title not in skipped[(number, words)]:
                    skipped[(number, words)].append(move.title)
        for (number, words), titles in skipped.items():
            said = words.rstrip(".")
            parts.append(f'Skipping {"; ".join(titles)} because the reviewer said in iteration {number}: "{said}".')
        parts.append(plan.reason)
        return " ".join(p.strip() for p in parts if p.strip())

    def _proposal(self, context: AgentContext, state: _State, plan: _Plan) -> Proposal:
        return Proposal(
            loop=Loop.MODEL,
            hypothesis=plan.hypothesis,
            rationale=self._rationale(context, state, plan),
            old_source=context.best_source,
            new_source=render_model(plan.spec),
            agent=self.name,
            move=plan.move.id,
            generated=ModelPlan(plan.spec, state.base, plan.variant or "", plan.variant_kind or "", plan.retry_of),
        )

    # ------------------------------------------------------------------ repair

    def repair(self, context: AgentContext, proposal: Proposal, compile_result: CompileResult) -> Proposal:
        """Simplify a proposal whose model did not compile (the catalogue's models should; this is the fallback).

        Parameters
        ----------
        context
            The context the proposal was made in.
        proposal
            This agent's proposal whose model failed the compile check.
        compile_result
            The failed check; its error is quoted in the new rationale.

        Returns
        -------
        Proposal
            A simpler rendering not tried before (a lighter variant, a simpler base or tighter
            priors), ``repair_attempts`` one higher.

        Raises
        ------
        AgentError
            When the proposal was not generated by this agent or nothing simpler is left.
        """
        self.check_loop(context)
        spec = spec_from_source(proposal.new_source)
        if spec is None:
            raise AgentError("the heuristic agent can only repair models it generated (no workbench-spec line found)")
        state = _state(context)
        base = proposal.generated.base if proposal.generated is not None else state.base
        move = get_move(proposal.move)
        options = simplifications(spec, base, move, state.data, crashed=True) if move else []
        if not options:
            options = [(*t, "tighter") for t in [tighter(spec)] if t]
        error = compile_result.error or "unknown error"
        for candidate, variant, *_kind in options:
            if candidate in (spec, base) or not _is_new(candidate, state):
                continue
            attempts = proposal.repair_attempts + 1
            return Proposal(
                loop=proposal.loop,
                hypothesis=proposal.hypothesis,
                rationale=f"The compile check failed ({error}); repaired with {variant}. {proposal.rationale}",
                old_source=proposal.old_source,
                new_source=render_model(candidate),
                agent=self.name,
                move=proposal.move,
                repair_attempts=attempts,
                generated=replace(proposal.generated, spec=candidate, variant=variant) if proposal.generated else None,
            )
        raise AgentError(f"the heuristic agent found nothing simpler to try after the compile error: {error}")
