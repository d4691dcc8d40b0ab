"""How a conversation with the Messages API goes on after a reply: the turns, as request params.

A corrective retry sends the unusable reply back with what was wrong with it; the API wants
each tool call answered by a result and thinking blocks returned unchanged, which these
functions see to.
"""

from __future__ import annotations

from typing import Any

from engine.agents.ledger import content_blocks


def with_correction(messages: list[dict[str, Any]], message: Any, corrective: str) -> list[dict[str, Any]]:
    """The conversation continued with the reply and the corrective message.

    Every ``tool_use`` in the reply gets an error ``tool_result`` carrying the correction (the
    API wants one per call); a reply with no usable content is dropped, and the correction is
    added to the last user turn instead.

    Parameters
    ----------
    messages
        The request's messages so far.
    message
        The reply that could not be used.
    corrective
        What was wrong with it and what to send instead.

    Returns
    -------
    list of dict
        The messages for the retry.
    """
    assistant = assistant_content(message)
    calls = [b["id"] for b in assistant if b["type"] == "tool_use"]
    if not any(b["type"] in ("text", "tool_use") for b in assistant):
        assistant = []  # thinking alone is not a turn the API accepts back
    if calls:
        results = [{"type": "tool_result", "tool_use_id": i, "is_error": True, "content": corrective} for i in calls]
        return [*messages, {"role": "assistant", "content": assistant}, {"role": "user", "content": results}]
    if assistant:
        return [*messages, {"role": "assistant", "content": assistant}, {"role": "user", "content": corrective}]
    last = messages[-1]
    content = last["content"] if isinstance(last["content"], list) else [{"type": "text", "text": last["content"]}]
    return [*messages[:-1], {"role": "user", "content": [*content, {"type": "text", "text": corrective}]}]


def user_content(prompt: str | tuple[str, ...]) -> str | list[dict[str, Any]]:
    """A prompt as the user turn: several blocks cache everything up to the last but one.

    Parameters
    ----------
    prompt
        One text, or blocks from the most stable to the most recent.

    Returns
    -------
    str or list of dict
        The text as it is, or text blocks with a cache breakpoint on the last but one.
    """
    if isinstance(prompt, str):
        return prompt
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text} for text in prompt if text.strip()]
    if len(blocks) > 1:
        blocks[-2]["cache_control"] = {"type": "ephemeral"}
    return blocks


def assistant_content(message: Any) -> list[dict[str, Any]]:
    """The reply's text and tool_use blocks as request params, to continue the conversation.

    Parameters
    ----------
    message
        The API's reply.

    Returns
    -------
    list of dict
        Its thinking (unchanged, as adaptive thinking requires), text and tool_use blocks.
    """
    out: list[dict[str, Any]] = []
    for block in content_blocks(message):
        kind = getattr(block, "type", None)
        if kind == "thinking":  # models with adaptive thinking want their blocks back unchanged
            out.append({"type": "thinking", "thinking": block.thinking, "signature": block.signature})
        elif kind == "redacted_thinking":
            out.append({"type": "redacted_thinking", "data": block.data})
        elif kind == "text" and getattr(block, "text", ""):
            out.append({"type": "text", "text": block.text})
        elif kind == "tool_use" and getattr(block, "id", None):
            raw = getattr(block, "input", None)
            tool_input = raw if isinstance(raw, dict) else {}
            out.append({"type": "tool_use", "id": block.id, "name": block.name, "input": tool_input})
    return out
