"""The report's cost table: every language-model call of the session, by iteration.

The spend ledger holds every call (failed, cancelled and over-budget interactions too);
the records hold the calls behind each iteration. Calls are matched by request id, so a
call counts once: under its iteration when it became one, under "no iteration" otherwise.
A record call the ledger lacks (a session older than the ledger) still counts, from the
record. The total is the sum of the rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.iteration import IterationRecord
from engine.records import AgentCall
from engine.store.spend import Spend


@dataclass(frozen=True)
class CostRow:
    """Calls, tokens and cost under one label."""

    label: str
    calls: int
    input_tokens: int  # uncached input
    cache_write_tokens: int
    cache_read_tokens: int
    output_tokens: int
    cost_usd: float | None  # None when any call's price is unknown
    models: tuple[str, ...] = ()


@dataclass(frozen=True)
class CostTable:
    """Rows by iteration, then the calls that became no iteration, and their total."""

    rows: tuple[CostRow, ...]
    total: CostRow


def _row(label: str, calls: Iterable[AgentCall]) -> CostRow:
    calls = list(calls)
    costs = [c.cost_usd for c in calls]
    return CostRow(
        label=label,
        calls=len(calls),
        input_tokens=sum(c.input_tokens for c in calls),
        cache_write_tokens=sum(c.cache_creation_input_tokens for c in calls),
        cache_read_tokens=sum(c.cache_read_input_tokens for c in calls),
        output_tokens=sum(c.output_tokens for c in calls),
        cost_usd=None if any(c is None for c in costs) else round(sum(c or 0.0 for c in costs), 6),
        models=tuple(sorted({c.model for c in calls if c.model})),
    )


def record_calls(record: IterationRecord) -> tuple[AgentCall, ...]:
    """The calls behind one iteration: its proposal (repairs included), the reviewer's and the critic's reviews.

    Parameters
    ----------
    record
        One iteration.

    Returns
    -------
    tuple of AgentCall
    """
    review = record.proposal.review
    usages = (
        record.proposal.usage,
        review.usage if review else None,
        record.agent_review.usage if record.agent_review else None,
    )
    return tuple(c for u in usages if u is not None for c in u.calls)


def cost_table(records: list[IterationRecord], spend: Spend) -> CostTable | None:
    """Every call of the session, once, by iteration.

    Parameters
    ----------
    records
        The session's iterations.
    spend
        Its spend ledger.

    Returns
    -------
    CostTable or None
        None when no language model was ever called.
    """
    by_iteration: dict[int, list[AgentCall]] = {}
    owner: dict[str, int] = {}
    for r in records:
        calls = record_calls(r)
        if calls:
            by_iteration[r.number] = list(calls)
        owner.update({c.request_id: r.number for c in calls if c.request_id})
    elsewhere: dict[str, list[AgentCall]] = {}
    for entry in spend.entries:
        if entry.call.request_id and entry.call.request_id in owner:
            continue  # counted under its iteration
        label = f"no iteration: {entry.purpose} ({entry.outcome})"
        elsewhere.setdefault(label, []).append(entry.call)
    rows = [_row(f"iteration {n}", calls) for n, calls in sorted(by_iteration.items())]
    rows += [_row(label, calls) for label, calls in sorted(elsewhere.items())]
    if not rows:
        return None
    every = [c for calls in (*by_iteration.values(), *elsewhere.values()) for c in calls]
    return CostTable(tuple(rows), _row("total", every))
