"""The heuristic agent's design loop: the next change to ``analysis.toml``, by rule.

The rules themselves live in :func:`engine.design.moves.next_design_move` (trim when
overlap fails, switch learners when balance fails, add a placebo outcome, tighten the
covariates to the contract); this module turns the session history into their inputs
and their answer into a :class:`~engine.records.Proposal`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.agents.base import AgentContext
from engine.errors import AgentError, SpecError
from engine.iteration import IterationRecord
from engine.records import DecisionKind, Loop, Proposal

if TYPE_CHECKING:
    from engine.design.results import DesignResult


def propose_design(context: AgentContext, agent_name: str) -> Proposal:
    """The next design move on the current analysis spec.

    Parameters
    ----------
    context
        A design-loop context; ``best_source`` is the current ``analysis.toml``.
    agent_name
        Recorded as ``Proposal.agent``.

    Returns
    -------
    Proposal
        The move's spec text and id, with a rationale that names the reviewer's last
        rejection, if any.

    Raises
    ------
    AgentError
        When the current spec does not parse, or no rule has anything left to try.
    """
    from engine.design.moves import next_design_move
    from engine.design.spec import edit_spec, parse_spec

    try:
        spec = parse_spec(context.best_source, context.contract)
    except SpecError as exc:
        raise AgentError(f"the current analysis.toml does not parse, so no move can build on it: {exc}") from exc
    history = context.loop_history
    tried = [(r.proposal.move, r.status) for r in history if r.proposal.move]
    move = next_design_move(context.contract, spec, last_result(history), tried)
    if move is None:
        raise AgentError(
            "the offline agent has no design move left for this analysis; press l on home to edit "
            "analysis.toml yourself, or reopen the session with --agent anthropic"
        )
    rejected = [r for r in history if r.decision.kind is DecisionKind.REJECTED and r.decision.reason]
    rationale = move.rationale
    if rejected:
        last = rejected[-1]
        rationale += (
            f" (The reviewer rejected iteration {last.number}: “{last.decision.reason}”; that move is not repeated.)"
        )
    return Proposal(
        loop=Loop.DESIGN,
        hypothesis=move.hypothesis,
        rationale=rationale,
        old_source=context.best_source,
        # the move's settings written into the current file: its comments and layout stay
        new_source=edit_spec(context.best_source, move.spec, context.contract),
        agent=agent_name,
        move=move.move,
    )


def last_result(history: tuple[IterationRecord, ...]) -> DesignResult | None:
    """The design result of the most recent design iteration that ran.

    Parameters
    ----------
    history
        The design loop's iterations, in order.

    Returns
    -------
    DesignResult or None
        None when none has run yet.
    """
    return next((r.design for r in reversed(history) if r.design is not None), None)
