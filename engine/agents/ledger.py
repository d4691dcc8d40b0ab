"""What an agent's calls cost and said: list prices, token usage and a clipped transcript.

One :class:`Ledger` per proposal, repair or critique records every call as an
:class:`~engine.records.AgentCall` (tokens, cost, request id) and a
:class:`~engine.records.TranscriptEntry` (what was asked and answered), clipped so a record
stays small. Kept apart from :mod:`engine.agents.anthropic`, which makes the calls: the
accounting does not need the SDK, and the prices change on their own schedule.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engine.agents import prompts as P
from engine.jsonable import to_json
from engine.records import AgentCall, AgentUsage, TranscriptEntry

PRICES_USD_PER_MTOK: dict[str, tuple[float, float]] = {
    # model id prefix: (input, output) in US dollars per million tokens, for the models the
    # installed SDK (anthropic 2.17) lists; a longer prefix wins (claude-opus-5-5 over claude-opus-5)
    "claude-fable-5-2": (8.0, 40.0),
    "claude-fable-5-1": (10.0, 50.0),
    "claude-opus-5-5": (4.0, 20.0),
    "claude-opus-5": (5.0, 25.0),
    "claude-opus-4-8": (5.0, 25.0),
    "claude-opus-4-6": (5.0, 25.0),
    "claude-opus-4-5": (5.0, 25.0),  # deprecated: end of life 2027-01-22 (the SDK warns)
    "claude-sonnet-5-5": (2.0, 10.0),
    "claude-sonnet-5": (2.0, 10.0),
    "claude-sonnet-4-6": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
}
PRICES_SOURCE = (
    "estimate from Anthropic's published list prices per million tokens (platform.claude.com model pages, "
    "2026-11); cache writes (5 minutes) at 1.25x and cache reads at 0.1x the input price; no batch or "
    "priority discounts. Haiku 5.5 (banded by prompt length), Mythos and Opus 4.7 are not listed: "
    "their tokens are shown with 'price unknown'"
)
"""Where :data:`PRICES_USD_PER_MTOK` comes from. Models not listed get ``cost_usd = None``;
pass ``price_per_mtok=(input, output)`` to :class:`AnthropicAgent` for them."""

TRANSCRIPT_FIELD_CHARS = 6_000  # one prompt or reply in the transcript, before clipping further
TRANSCRIPT_MAX_CHARS = 40_000  # the whole transcript of one proposal, as JSON, in record.json

# --------------------------------------------------------------------------- prices


def price_for(model: str) -> tuple[float, float] | None:
    """USD per million (input, output) tokens for ``model``, by the longest matching id prefix.

    Parameters
    ----------
    model
        A model id, e.g. ``claude-sonnet-4-6`` or a dated variant of one.

    Returns
    -------
    tuple of float or None
        ``(input, output)`` from :data:`PRICES_USD_PER_MTOK`; None when no listed prefix matches.
    """
    matches = [prefix for prefix in PRICES_USD_PER_MTOK if model.startswith(prefix)]
    return PRICES_USD_PER_MTOK[max(matches, key=len)] if matches else None


def cost_usd(price: tuple[float, float] | None, usage: dict[str, int]) -> float | None:
    """Estimated cost of one call; ``None`` when the model's price is unknown.

    Parameters
    ----------
    price
        ``(input, output)`` USD per million tokens, as :func:`price_for` gives it.
    usage
        The call's token counts under the API's names (``input_tokens``, ``output_tokens``,
        ``cache_creation_input_tokens``, ``cache_read_input_tokens``); a missing one counts 0.

    Returns
    -------
    float or None
        US dollars, rounded to six decimals; cache writes cost 1.25 times and cache reads 0.1
        times the input price.
    """
    if price is None:
        return None
    per_in, per_out = price[0] / 1e6, price[1] / 1e6
    return round(
        usage.get("input_tokens", 0) * per_in
        + usage.get("cache_creation_input_tokens", 0) * per_in * 1.25
        + usage.get("cache_read_input_tokens", 0) * per_in * 0.1
        + usage.get("output_tokens", 0) * per_out,
        6,
    )


# --------------------------------------------------------------------------- the ledger


class Ledger:
    """Calls, tokens, cost and a clipped transcript for one proposal, repair or critique."""

    def __init__(self, model: str, price: tuple[float, float] | None, previous: AgentUsage | None = None) -> None:
        self.model = model
        self.price = price
        self.calls: list[AgentCall] = list(previous.calls) if previous else []
        self.transcript: list[TranscriptEntry] = list(previous.transcript) if previous else []
        self._systems_seen: set[str] = {e.role for e in self.transcript if e.system}

    def record(self, role: str, attempt: int, system: str, user: Any, message: Any) -> AgentCall:
        """Add one answered call: its tokens and cost, and what was asked and answered.

        Parameters
        ----------
        role
            Who spoke (orchestrator, coder, coder-repair, critic, …).
        attempt
            1 for the first try, 2 for the corrective retry.
        system
            The system prompt; kept in the transcript the first time a role speaks only.
        user
            The user turn as sent: text, or content blocks.
        message
            The SDK's reply message.

        Returns
        -------
        AgentCall
            The call as recorded.
        """
        usage = token_usage(message)
        call = AgentCall(
            role=role,
            input_tokens=usage.get("input_tokens", 0),
            output_tokens=usage.get("output_tokens", 0),
            cost_usd=cost_usd(self.price, usage),
            stop_reason=getattr(message, "stop_reason", None),
            cache_creation_input_tokens=usage.get("cache_creation_input_tokens", 0),
            cache_read_input_tokens=usage.get("cache_read_input_tokens", 0),
            request_id=getattr(message, "_request_id", None) or "",
            model=self.model,
        )
        self.calls.append(call)
        first = role not in self._systems_seen  # system prompts are long and fixed: once per role
        self._systems_seen.add(role)
        self.transcript.append(TranscriptEntry(role, attempt, user, _response_json(message), system if first else ""))
        return call

    def usage(self) -> AgentUsage:
        """Everything recorded so far, for ``Proposal.usage``.

        Returns
        -------
        AgentUsage
            The calls, where the prices come from, and the transcript clipped by :func:`fit_transcript`.
        """
        return AgentUsage(self.model, tuple(self.calls), PRICES_SOURCE, fit_transcript(tuple(self.transcript)))

    def cost_so_far(self) -> float | None:
        """What this ledger's calls cost.

        Returns
        -------
        float or None
            US dollars; None when a call's price is unknown.
        """
        return AgentUsage(self.model, tuple(self.calls)).cost_usd


def token_usage(message: Any) -> dict[str, int]:
    """A reply's token counts under the API's names, leaving out any that is missing or malformed.

    Parameters
    ----------
    message
        The SDK's reply message (or anything shaped like it: the SDK does not validate bodies).

    Returns
    -------
    dict of str to int
        ``input_tokens``, ``output_tokens``, ``cache_creation_input_tokens`` and
        ``cache_read_input_tokens``, where present as non-negative integers.
    """
    usage = getattr(message, "usage", None)
    out: dict[str, int] = {}
    for key in ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
        value = getattr(usage, key, None) if usage is not None else None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            out[key] = value
    return out


def content_blocks(message: Any) -> list[Any]:
    """A reply's content blocks.

    Parameters
    ----------
    message
        The SDK's reply message.

    Returns
    -------
    list
        Its ``content`` as a list; empty when it has none, or not a list.
    """
    content = getattr(message, "content", None)
    return list(content) if isinstance(content, list) else []


def _response_json(message: Any) -> dict[str, Any]:
    content = []
    for block in content_blocks(message):
        kind = getattr(block, "type", None)
        if kind == "text":
            content.append({"type": "text", "text": getattr(block, "text", "")})
        elif kind == "tool_use":
            content.append(
                {"type": "tool_use", "name": getattr(block, "name", None), "input": getattr(block, "input", None)}
            )
        else:
            content.append({"type": str(kind)})
    return {"stop_reason": getattr(message, "stop_reason", None), "content": content}


def _clip_json(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return P.clip(value, limit)
    if isinstance(value, dict):
        return {k: _clip_json(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [_clip_json(v, limit) for v in value]
    return value


def fit_transcript(
    entries: tuple[TranscriptEntry, ...], max_chars: int = TRANSCRIPT_MAX_CHARS
) -> tuple[TranscriptEntry, ...]:
    """Clip every text in the transcript until the whole fits in ``max_chars`` of JSON.

    The full files are already in the proposal (``old_source``/``new_source``); the
    transcript is there to show what was asked and answered, so long texts keep their head
    and tail.

    Parameters
    ----------
    entries
        The calls' transcript entries, in order.
    max_chars
        The most characters the transcript may take as :func:`~engine.jsonable.to_json` writes it.

    Returns
    -------
    tuple of TranscriptEntry
        Every user, response and system text clipped to :data:`TRANSCRIPT_FIELD_CHARS`, then
        to half that and so on; the last try (under 200 characters a text) is returned even
        when it is still longer than ``max_chars``.
    """
    limit = TRANSCRIPT_FIELD_CHARS
    while True:
        clipped = tuple(
            replace(
                e,
                user=_clip_json(e.user, limit),
                response=_clip_json(e.response, limit),
                system=_clip_json(e.system, limit),
            )
            for e in entries
        )
        if len(to_json(clipped)) <= max_chars or limit <= 200:
            return clipped
        limit //= 2
