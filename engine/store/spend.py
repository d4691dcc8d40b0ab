"""Every call to a language model, and what it cost: the session's spend ledger.

An iteration's record holds the calls behind its proposal and its critic's review; calls
that never became an iteration (a failed, cancelled or over-budget proposal, a failed
repair) would be lost there. The ledger, ``.workbench/spend.jsonl``, gets one line per
call as each agent interaction ends, flushed to disk, so the cost shown, the budget and
the report's table count every call. Lines are matched to records by request id.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

from engine.jsonable import from_dict
from engine.records import AgentCall


class Purpose(StrEnum):
    """What the agent was asked for."""

    PROPOSAL = "proposal"
    REPAIR = "repair"
    CRITIC = "critic"  # the review after a verdict
    REVIEW = "review"  # the review before the principal decides


class Outcome(StrEnum):
    """How the interaction ended."""

    RETURNED = "returned"
    FAILED = "failed"
    CANCELLED = "cancelled"
    OVER_BUDGET = "over budget"


@dataclass(frozen=True)
class SpendEntry:
    """One call, with what it was for and how the interaction it belonged to ended."""

    at: str  # ISO time the interaction ended
    loop: str
    purpose: Purpose
    outcome: Outcome
    call: AgentCall


@dataclass(frozen=True)
class Spend:
    """The ledger read back, with its sums."""

    entries: tuple[SpendEntry, ...] = ()

    @property
    def known_usd(self) -> float:
        """What the calls with a known price cost."""
        return round(sum(e.call.cost_usd or 0.0 for e in self.entries), 6)

    @property
    def unpriced_calls(self) -> int:
        """Calls of a model without a listed price (their tokens count, their cost cannot)."""
        return sum(1 for e in self.entries if e.call.cost_usd is None)

    @property
    def tokens(self) -> tuple[int, int]:
        """(input, output) tokens over every call; cache reads and writes count as input."""
        c = [e.call for e in self.entries]
        inputs = sum(x.input_tokens + x.cache_creation_input_tokens + x.cache_read_input_tokens for x in c)
        return inputs, sum(x.output_tokens for x in c)

    @property
    def cache_read_tokens(self) -> int:
        return sum(e.call.cache_read_input_tokens for e in self.entries)

    def text(self) -> str:
        """The spend in a few words: ``$0.42 (12 calls)``, with unpriced calls said.

        Returns
        -------
        str
        """
        if not self.entries:
            return "$0.00"
        unpriced = ""
        if self.unpriced_calls:
            c = [e.call for e in self.entries if e.call.cost_usd is None]
            tokens = sum(
                x.input_tokens + x.cache_creation_input_tokens + x.cache_read_input_tokens + x.output_tokens for x in c
            )
            unpriced = f" + {self.unpriced_calls} call(s) of unknown price ({tokens:,} tokens)"
        return f"${self.known_usd:.2f} ({len(self.entries)} call{'s' if len(self.entries) != 1 else ''}){unpriced}"


def append_spend(path: Path, entries: list[SpendEntry]) -> None:
    """Add ``entries`` to the ledger at ``path``, on disk before this returns.

    Parameters
    ----------
    path
        ``.workbench/spend.jsonl`` of the session (its folder is created if missing).
    entries
        The calls of one agent interaction.
    """
    if not entries:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(asdict(e), sort_keys=True) + "\n" for e in entries)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(lines)
        fh.flush()
        os.fsync(fh.fileno())


def read_spend(path: Path) -> Spend:
    """The ledger at ``path``; a line cut by a kill mid-write is skipped.

    Parameters
    ----------
    path
        ``.workbench/spend.jsonl`` of the session.

    Returns
    -------
    Spend
        Empty when there is no ledger (a session from before it, or one without a language model).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Spend()
    entries = []
    for line in text.splitlines():
        try:
            entries.append(from_dict(SpendEntry, json.loads(line)))
        except (ValueError, TypeError, KeyError):
            continue  # the last line of a write a kill interrupted
    return Spend(tuple(entries))
