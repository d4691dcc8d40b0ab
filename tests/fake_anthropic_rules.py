"""The real Messages API's request rules, as :class:`fake_anthropic.FakeAnthropic` enforces them.

:func:`check_request` and :func:`check_headers` return what the real API would refuse, worded
like its 400s (401 for a missing key).

What is checked, with the shapes taken from the installed SDK's own request types (so
the fake moves with the SDK): top-level parameters (unknown ones are refused as "Extra
inputs are not permitted"; ``model``, ``max_tokens`` and ``messages`` required;
``max_tokens`` a whole number >= 0, 0 being the documented cache pre-warm; ``messages``
non-empty); the headers (an API key, ``anthropic-version``); every message's keys, role
and content; every content block's type, keys and required fields; empty or blank text;
trailing whitespace in a final assistant prefill; roles alternating user/assistant from
a user turn; every ``tool_result`` answering a ``tool_use`` of the turn just before, at
the start of its turn, and every ``tool_use`` (but a final turn's) answered in the next
turn; unique, well-formed tool-use ids; ``tool_use``/``tool_result`` blocks only with
``tools`` defined; tools (name pattern, unique names, an object ``input_schema``, known
server-tool types); ``tool_choice`` (its shape, a named tool among ``tools``, no choice
without tools, no forced tool with thinking on); ``thinking`` (budget >= 1024 and below
``max_tokens``); ``system`` as a string or text blocks; ``cache_control`` (only
``{"type": "ephemeral"}`` with an optional ``ttl`` of ``"5m"`` or ``"1h"``, at most
:data:`MAX_CACHE_BREAKPOINTS` breakpoints counting the top-level one, no 1-hour
breakpoint after a 5-minute one).

Decisions, with the evidence:

* ``temperature``, ``top_p`` and ``top_k`` are accepted. The installed SDK (2.17) has
  no such keyword (they left the typed signature in 1.0, whose migration guide says to
  send them through ``extra_body``), but the API still takes them on models that allow
  sampling settings. Two refusals of the real API are reproduced: ``temperature`` with
  ``top_p`` ("cannot both be specified for this model", Claude 4.5 and later), and
  ``temperature`` on :data:`TEMPERATURE_DEPRECATED_MODELS` ("is deprecated for this
  model").
* Roles. The API reference in the installed SDK says consecutive turns of one role are
  now merged; the API once refused them ("roles must alternate"). ``strict_roles=True``
  (the default) refuses them and a conversation that does not open with a user turn, so
  the workbench keeps to the shape every API version and gateway accepts;
  ``strict_roles=False`` merges them as api.anthropic.com does today. Tool pairing is
  checked on the merged turns either way.
* Model names are not checked: the real API answers an unknown model with 404, but
  tests use invented names on purpose.
"""

from __future__ import annotations

import itertools
import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anthropic.types as api_types
import anthropic.types.beta.message_create_params as beta_params
import anthropic.types.message_create_params as create_params
import anthropic.types.tool_result_block_param as tool_result_param

MAX_CACHE_BREAKPOINTS = 4  # "A maximum of 4 blocks with cache_control may be provided"
MIN_THINKING_BUDGET = 1024
SAMPLING_PARAMETERS = ("temperature", "top_p", "top_k")
# Models that answer a temperature with "`temperature` is deprecated for this model."
TEMPERATURE_DEPRECATED_MODELS = ("claude-opus-4-7", "claude-opus-4-8")
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
TOOL_USE_ID = re.compile(r"^[a-zA-Z0-9_-]+$")


# --------------------------------------------------------------------------- the SDK's request shapes


@dataclass(frozen=True)
class Shape:
    """The keys a request object may carry, read from one of the SDK's ``TypedDict`` params."""

    allowed: frozenset[str]
    required: frozenset[str]
    tags: tuple[str, ...]  # the values of its discriminating field (``type`` or ``role``)


def _annotation(value: Any) -> str:
    return value.__forward_arg__ if isinstance(value, typing.ForwardRef) else str(value)


def shape_of(typed_dict: Any, tag: str = "type") -> Shape:
    """The keys of an SDK ``TypedDict``; ``Required[...]`` marks the required ones."""
    notes = {key: _annotation(value) for key, value in typed_dict.__annotations__.items()}
    literal = re.search(r"Literal\[([^\]]*)\]", notes.get(tag, ""))
    tags = tuple(re.findall(r"'([^']*)'", literal.group(1))) if literal else ()
    required = frozenset(key for key, note in notes.items() if note.startswith("Required["))
    return Shape(frozenset(notes), required, tags)


def _shapes(union: Any, tag: str = "type") -> dict[str, Shape]:
    found: dict[str, Shape] = {}
    for member in typing.get_args(union):
        shape = shape_of(member, tag)
        for value in shape.tags:
            found[value] = shape
    return found


_TOP = shape_of(create_params.MessageCreateParamsBase)
PARAMETERS = _TOP.allowed | {"stream", *SAMPLING_PARAMETERS}
BETA_PARAMETERS = PARAMETERS | (shape_of(beta_params.MessageCreateParamsBase).allowed - {"betas"})
REQUIRED_PARAMETERS = _TOP.required
MESSAGE_SHAPES = _shapes(api_types.MessageParam, tag="role")
BLOCK_SHAPES = _shapes(api_types.ContentBlockParam)
TOOL_RESULT_CONTENT_TYPES = tuple(t for s in _shapes(tool_result_param.Content).values() for t in s.tags)
CUSTOM_TOOL = shape_of(api_types.ToolParam)
SERVER_TOOL_SHAPES = {k: v for k, v in _shapes(api_types.ToolUnionParam).items() if k != "custom"}
TOOL_CHOICE_SHAPES = _shapes(api_types.ToolChoiceParam)
THINKING_SHAPES = _shapes(api_types.ThinkingConfigParam)
TEXT_BLOCK = shape_of(api_types.TextBlockParam)
METADATA = shape_of(api_types.MetadataParam)
CACHE_CONTROL = shape_of(api_types.CacheControlEphemeralParam)
CACHE_TTLS = tuple(re.findall(r"'([^']*)'", _annotation(api_types.CacheControlEphemeralParam.__annotations__["ttl"])))


# --------------------------------------------------------------------------- validation


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _tags(values: typing.Iterable[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _extras(obj: dict[str, Any], shape: Shape, path: str, out: list[str]) -> None:
    out += [f"{path}.{key}: Extra inputs are not permitted" for key in obj if key not in shape.allowed]
    out += [f"{path}.{key}: Field required" for key in sorted(shape.required) if key not in obj]


def check_headers(headers: dict[str, str]) -> list[tuple[int, str, str]]:
    """What the real API refuses in the headers, as (status, error type, message)."""
    found = []
    if not headers.get("x-api-key") and not headers.get("authorization"):
        found.append((401, "authentication_error", "x-api-key header is required"))
    if not headers.get("anthropic-version"):
        found.append((400, "invalid_request_error", "anthropic-version: header is required"))
    if not headers.get("content-type", "").startswith("application/json"):
        found.append((400, "invalid_request_error", "content-type: the request body must be application/json"))
    return found


def check_request(body: Any, *, beta: bool = False, strict_roles: bool = True) -> list[str]:
    """Every reason the real Messages API would refuse ``body`` with a 400, worded like its messages."""
    if not isinstance(body, dict):
        return ["request body must be a JSON object"]
    out: list[str] = []
    allowed = BETA_PARAMETERS if beta else PARAMETERS
    out += [f"{key}: Extra inputs are not permitted" for key in body if key not in allowed]
    out += [f"{key}: Field required" for key in sorted(REQUIRED_PARAMETERS) if key not in body]
    model = body.get("model")
    if "model" in body and (not isinstance(model, str) or not model):
        out.append("model: Input should be a valid string")
    max_tokens = body.get("max_tokens")
    if "max_tokens" in body:
        if not _is_int(max_tokens):
            out.append("max_tokens: Input should be a valid integer")
        elif max_tokens < 0:
            out.append("max_tokens: Input should be greater than or equal to 0")
    if "stream" in body and not isinstance(body["stream"], bool):
        out.append("stream: Input should be a valid boolean")
    _check_sampling(body, model, out)
    if "stop_sequences" in body and not (
        isinstance(body["stop_sequences"], list) and all(isinstance(s, str) for s in body["stop_sequences"])
    ):
        out.append("stop_sequences: Input should be a valid list of strings")
    if "metadata" in body:
        if isinstance(body["metadata"], dict):
            _extras(body["metadata"], METADATA, "metadata", out)
        else:
            out.append("metadata: Input should be a valid dictionary")
    tool_names = _check_tools(body["tools"], out) if "tools" in body else []
    _check_tool_choice(body, tool_names, out)
    _check_thinking(body, max_tokens, out)
    if "system" in body:
        _check_system(body["system"], out)
    if "messages" in body:
        _check_messages(body["messages"], bool(body.get("tools")), strict_roles, out)
    _check_cache_control(body, out)
    return out


def _check_sampling(body: dict[str, Any], model: Any, out: list[str]) -> None:
    given = {k: body[k] for k in SAMPLING_PARAMETERS if body.get(k) is not None}
    for key in ("temperature", "top_p"):
        if key in given:
            if not _is_number(given[key]):
                out.append(f"{key}: Input should be a valid number")
            elif not 0 <= given[key] <= 1:
                out.append(f"{key}: Input should be between 0 and 1")
    if "top_k" in given and (not _is_int(given["top_k"]) or given["top_k"] < 0):
        out.append("top_k: Input should be a whole number greater than or equal to 0")
    if "temperature" in given and "top_p" in given:
        out.append("`temperature` and `top_p` cannot both be specified for this model. Please use only one.")
    if "temperature" in given and isinstance(model, str) and model.startswith(TEMPERATURE_DEPRECATED_MODELS):
        out.append("`temperature` is deprecated for this model.")


def _check_tools(tools: Any, out: list[str]) -> list[str]:
    if not isinstance(tools, list):
        out.append("tools: Input should be a valid list")
        return []
    names: list[str] = []
    for i, tool in enumerate(tools):
        path = f"tools.{i}"
        if not isinstance(tool, dict):
            out.append(f"{path}: Input should be a valid dictionary")
            continue
        kind = tool.get("type")
        if kind in (None, "custom"):
            _extras(tool, CUSTOM_TOOL, f"{path}.custom", out)
            name = tool.get("name")
            if "name" in tool and (not isinstance(name, str) or not TOOL_NAME.match(name)):
                out.append(f"{path}.custom.name: String should match pattern '{TOOL_NAME.pattern}'")
            schema = tool.get("input_schema")
            if "input_schema" in tool:
                if not isinstance(schema, dict):
                    out.append(f"{path}.custom.input_schema: Input should be a valid dictionary")
                elif schema.get("type") != "object":
                    out.append(f"{path}.custom.input_schema.type: Input should be 'object'")
            if "description" in tool and not isinstance(tool["description"], str):
                out.append(f"{path}.custom.description: Input should be a valid string")
        elif kind in SERVER_TOOL_SHAPES:
            _extras(tool, SERVER_TOOL_SHAPES[kind], f"{path}.{kind}", out)
        else:
            expected = _tags(["custom", *SERVER_TOOL_SHAPES])
            out.append(
                f"{path}: Input tag '{kind}' found using 'type' does not match any of the expected tags: {expected}"
            )
            continue
        if isinstance(tool.get("name"), str):
            names.append(tool["name"])
    if len(set(names)) != len(names):
        out.append("tools: Tool names must be unique.")
    return names


def _forces_tool(choice: Any) -> bool:
    return isinstance(choice, dict) and choice.get("type") in ("any", "tool")


def _check_tool_choice(body: dict[str, Any], tool_names: list[str], out: list[str]) -> None:
    if "tool_choice" not in body:
        return
    choice = body["tool_choice"]
    if not isinstance(choice, dict):
        out.append("tool_choice: Input should be a valid dictionary")
        return
    kind = choice.get("type")
    shape = TOOL_CHOICE_SHAPES.get(kind) if isinstance(kind, str) else None
    if shape is None:
        expected = _tags(TOOL_CHOICE_SHAPES)
        out.append(
            f"tool_choice: Input tag '{kind}' found using 'type' does not match any of the expected tags: {expected}"
        )
        return
    _extras(choice, shape, f"tool_choice.{kind}", out)
    if not body.get("tools") and kind != "none":
        out.append("tool_choice may only be specified while providing tools.")
    elif kind == "tool" and "name" in choice and choice["name"] not in tool_names:
        out.append(f"tool_choice.tool.name: no tool named {choice['name']!r} in tools (tools: {tool_names})")


def _check_thinking(body: dict[str, Any], max_tokens: Any, out: list[str]) -> None:
    thinking = body.get("thinking")
    if thinking is None:
        return
    if not isinstance(thinking, dict) or thinking.get("type") not in THINKING_SHAPES:
        kind = thinking.get("type") if isinstance(thinking, dict) else thinking
        expected = _tags(THINKING_SHAPES)
        out.append(
            f"thinking: Input tag '{kind}' found using 'type' does not match any of the expected tags: {expected}"
        )
        return
    kind = thinking["type"]
    _extras(thinking, THINKING_SHAPES[kind], f"thinking.{kind}", out)
    budget = thinking.get("budget_tokens")
    if kind == "enabled" and "budget_tokens" in thinking:
        if not _is_int(budget) or budget < MIN_THINKING_BUDGET:
            out.append(
                f"thinking.enabled.budget_tokens: Input should be greater than or equal to {MIN_THINKING_BUDGET}"
            )
        elif _is_int(max_tokens) and max_tokens <= budget:
            out.append("`max_tokens` must be greater than `thinking.budget_tokens`")
    if kind != "disabled" and _forces_tool(body.get("tool_choice")):
        out.append("Thinking may not be enabled when tool_choice forces tool use.")


def _check_text(block: dict[str, Any], where: str, out: list[str]) -> None:
    text = block.get("text")
    if "text" not in block:
        return
    if not isinstance(text, str):
        out.append(f"{where}: text must be a string")
    elif not text:
        out.append(f"{where}: text content blocks must be non-empty")
    elif not text.strip():
        out.append(f"{where}: text content blocks must contain non-whitespace text")


def _check_system(system: Any, out: list[str]) -> None:
    if isinstance(system, str):
        return
    if not isinstance(system, list):
        out.append("system: Input should be a valid string or a list of text blocks")
        return
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            kind = block.get("type") if isinstance(block, dict) else type(block).__name__
            out.append(f"system.{i}.type: Input should be 'text' (got {kind!r})")
            continue
        _extras(block, TEXT_BLOCK, f"system.{i}", out)
        _check_text(block, "system", out)


def _check_block(block: Any, path: str, role: str, out: list[str]) -> None:
    if not isinstance(block, dict):
        out.append(f"{path}: Input should be a valid dictionary")
        return
    kind = block.get("type")
    shape = BLOCK_SHAPES.get(kind) if isinstance(kind, str) else None
    if shape is None:
        out.append(
            f"{path}: Input tag '{kind}' found using 'type' does not match any of the expected tags: {_tags(BLOCK_SHAPES)}"
        )
        return
    _extras(block, shape, f"{path}.{kind}", out)
    if kind == "text":
        _check_text(block, "messages", out)
    elif kind == "tool_use":
        if role != "assistant":
            out.append(f"{path}: `tool_use` blocks may only appear in assistant messages")
        if "id" in block and (not isinstance(block["id"], str) or not TOOL_USE_ID.match(block["id"])):
            out.append(f"{path}.tool_use.id: String should match pattern '{TOOL_USE_ID.pattern}'")
        if "input" in block and not isinstance(block["input"], dict):
            out.append(f"{path}.tool_use.input: Input should be a valid dictionary")
    elif kind == "tool_result":
        if role != "user":
            out.append(f"{path}: `tool_result` blocks may only appear in user messages")
        if "is_error" in block and not isinstance(block["is_error"], bool):
            out.append(f"{path}.tool_result.is_error: Input should be a valid boolean")
        content = block.get("content")
        if isinstance(content, list):
            for j, inner in enumerate(content):
                if not isinstance(inner, dict) or inner.get("type") not in TOOL_RESULT_CONTENT_TYPES:
                    kind_in = inner.get("type") if isinstance(inner, dict) else inner
                    expected = _tags(TOOL_RESULT_CONTENT_TYPES)
                    out.append(
                        f"{path}.tool_result.content.{j}: Input tag '{kind_in}' found using 'type' does not match any of the expected tags: {expected}"
                    )
                elif inner["type"] == "text":
                    _extras(inner, TEXT_BLOCK, f"{path}.tool_result.content.{j}.text", out)
                    _check_text(inner, "messages", out)
        elif content is not None and not isinstance(content, str):
            out.append(f"{path}.tool_result.content: Input should be a valid string or list of blocks")


@dataclass
class _Turn:
    role: str
    blocks: list[tuple[int, int, dict[str, Any]]]  # (message index, block index, block)
    last_message: int


def _check_messages(messages: Any, tools_defined: bool, strict_roles: bool, out: list[str]) -> None:
    if not isinstance(messages, list):
        out.append("messages: Input should be a valid list")
        return
    if not messages:
        out.append("messages: at least one message is required")
        return
    turns: list[_Turn] = []
    previous: str | None = None
    last = len(messages) - 1
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            out.append(f"messages.{i}: Input should be a valid dictionary")
            continue
        role = msg.get("role")
        shape = MESSAGE_SHAPES.get(role) if isinstance(role, str) else None
        if shape is None:
            out.append(f"messages.{i}.role: Input should be {_tags(MESSAGE_SHAPES)} (got {role!r})")
            continue
        _extras(msg, shape, f"messages.{i}", out)
        content = msg.get("content")
        final_prefill = i == last and role == "assistant"
        if content in ("", []) and not final_prefill:
            out.append(
                f"messages.{i}: all messages must have non-empty content except for the optional final assistant message"
            )
        blocks: list[tuple[int, int, dict[str, Any]]] = []
        if isinstance(content, str):
            if content and not content.strip() and not final_prefill:
                out.append("messages: text content blocks must contain non-whitespace text")
            final_text = content
        elif isinstance(content, list):
            for j, block in enumerate(content):
                if role == "system":
                    if not isinstance(block, dict) or block.get("type") != "text":
                        out.append(f"messages.{i}.content.{j}.type: Input should be 'text'")
                        continue
                _check_block(block, f"messages.{i}.content.{j}", role, out)
                if isinstance(block, dict):
                    blocks.append((i, j, block))
            tail = content[-1] if content else None
            final_text = tail.get("text", "") if isinstance(tail, dict) and tail.get("type") == "text" else ""
        else:
            if "content" in msg:
                out.append(f"messages.{i}.content: Input should be a valid string or a list of content blocks")
            continue
        if final_prefill and isinstance(final_text, str) and final_text != final_text.rstrip():
            out.append("final assistant content cannot end with trailing whitespace")
        if role == "system":
            continue
        if strict_roles:
            if previous is None and role != "user":
                out.append('messages: first message must use the "user" role')
            elif role == previous:
                out.append(
                    f'messages: roles must alternate between "user" and "assistant", but found multiple "{role}" roles in a row'
                )
        previous = role
        if turns and turns[-1].role == role:
            turns[-1].blocks += blocks
            turns[-1].last_message = i
        else:
            turns.append(_Turn(role, blocks, i))
    _check_tool_pairs(turns, tools_defined, out)


def _check_tool_pairs(turns: list[_Turn], tools_defined: bool, out: list[str]) -> None:
    seen: set[str] = set()
    for t, turn in enumerate(turns):
        for i, j, block in turn.blocks:
            if block.get("type") in ("tool_use", "tool_result") and not tools_defined:
                out.append(
                    f"messages.{i}.content.{j}: Requests which include `tool_use` or `tool_result` blocks must define tools."
                )
        if turn.role == "assistant":
            uses = [(i, j, b.get("id")) for i, j, b in turn.blocks if b.get("type") == "tool_use"]
            for i, j, use_id in uses:
                if use_id in seen:
                    out.append(f"messages.{i}.content.{j}: `tool_use` ids must be unique")
                seen.add(use_id)
            if not uses or t + 1 >= len(turns):
                continue  # a final assistant turn may end with a tool call
            following = turns[t + 1]
            answered = {b.get("tool_use_id") for _, _, b in following.blocks if b.get("type") == "tool_result"}
            missing = [str(u) for _, _, u in uses if u not in answered]
            if missing:
                out.append(
                    f"messages.{turn.last_message}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                    f"{', '.join(missing)}. Each `tool_use` block must have a corresponding `tool_result` block in the next message."
                )
                continue
            leading = list(itertools.takewhile(lambda entry: entry[2].get("type") == "tool_result", following.blocks))
            if len(leading) < len(uses):
                first = following.blocks[0][0] if following.blocks else following.last_message
                out.append(
                    f"messages.{first}: Did not find {len(uses)} `tool_result` block(s) at the beginning of this message. "
                    "Messages following `tool_use` blocks must begin with a matching number of `tool_result` blocks."
                )
        elif turn.role == "user":
            before = turns[t - 1] if t > 0 and turns[t - 1].role == "assistant" else None
            offered = {b.get("id") for _, _, b in before.blocks if b.get("type") == "tool_use"} if before else set()
            for i, j, block in turn.blocks:
                if block.get("type") == "tool_result" and block.get("tool_use_id") not in offered:
                    out.append(
                        f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                        f"{block.get('tool_use_id')}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                    )


def _cache_marks(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every ``cache_control`` in the order the API reads the prompt: tools, system, messages."""
    for i, tool in enumerate(body.get("tools") or []):
        if isinstance(tool, dict) and "cache_control" in tool:
            yield f"tools.{i}", tool["cache_control"]
    system = body.get("system")
    for i, block in enumerate(system if isinstance(system, list) else []):
        if isinstance(block, dict) and "cache_control" in block:
            yield f"system.{i}", block["cache_control"]
    messages = body.get("messages")
    for i, msg in enumerate(messages if isinstance(messages, list) else []):
        content = msg.get("content") if isinstance(msg, dict) else None
        for j, block in enumerate(content if isinstance(content, list) else []):
            if not isinstance(block, dict):
                continue
            if "cache_control" in block:
                yield f"messages.{i}.content.{j}", block["cache_control"]
            inner = block.get("content") if block.get("type") == "tool_result" else None
            for k, sub in enumerate(inner if isinstance(inner, list) else []):
                if isinstance(sub, dict) and "cache_control" in sub:
                    yield f"messages.{i}.content.{j}.content.{k}", sub["cache_control"]
    if "cache_control" in body:
        yield "cache_control", body["cache_control"]


def _check_cache_control(body: dict[str, Any], out: list[str]) -> None:
    count = 0
    seen_short = False
    for path, mark in _cache_marks(body):
        if mark is None:
            continue
        if not isinstance(mark, dict):
            out.append(f"{path}.cache_control: Input should be a valid dictionary")
            continue
        count += 1
        kind = mark.get("type")
        if kind not in CACHE_CONTROL.tags:
            expected = _tags(CACHE_CONTROL.tags)
            out.append(
                f"{path}.cache_control: Input tag '{kind}' found using 'type' does not match any of the expected tags: {expected}"
            )
            continue
        _extras(mark, CACHE_CONTROL, f"{path}.cache_control.{kind}", out)
        ttl = mark.get("ttl", "5m")
        if ttl not in CACHE_TTLS:
            out.append(f"{path}.cache_control.{kind}.ttl: Input should be {' or '.join(repr(t) for t in CACHE_TTLS)}")
        elif ttl == "1h" and seen_short:
            out.append(
                f"{path}.cache_control: a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block "
                "(tools, then system, then messages)"
            )
        seen_short = seen_short or ttl == "5m"
    if count > MAX_CACHE_BREAKPOINTS:
        out.append(f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found {count}.")
