"""A local stand-in for Anthropic's Messages API that refuses what the real one refuses.

:class:`FakeAnthropic` is a small threaded HTTP server on 127.0.0.1 that answers
``POST /v1/messages`` with scripted replies, in order, and records every request (path,
headers, JSON body). The real ``anthropic`` SDK talks to it through ``base_url``. It never
reaches beyond the loopback interface and stops by itself after :data:`LIFETIME_S` seconds
or :data:`MAX_REQUESTS` requests, whichever comes first, so a test that forgets to stop it
cannot leave it running.

Replies
    :func:`message` (any content), :func:`tool_use` (a forced tool call, optionally after a
    text block) and :func:`text_reply` build a ``message`` whose ``usage`` carries
    ``input_tokens``, ``output_tokens``, ``cache_creation_input_tokens`` and
    ``cache_read_input_tokens``, with a ``request-id`` header. The ``model`` field echoes the
    request's model unless one is given. :func:`error` builds Anthropic's error body
    (``{"type": "error", "error": {...}, "request_id": "req_..."}``) with optional
    ``retry-after`` / ``retry-after-ms`` / ``x-should-retry`` headers and an
    ``error.details.error_code`` (the SDK maps some codes to their own exception classes,
    e.g. ``enforced_spend_limit_reached`` on a 429). :func:`slow` delays the answer.

Streaming
    A request with ``"stream": true`` is answered as the real API does, with
    ``text/event-stream``: ``message_start`` (empty content, input and cache usage),
    ``content_block_start`` / ``content_block_delta`` / ``content_block_stop`` for each block
    (``text_delta`` pieces for text, an empty then several ``input_json_delta`` pieces for a
    tool call, ``thinking_delta`` and ``signature_delta`` for thinking), a ``ping`` after the
    first block starts, ``message_delta`` (stop reason, cumulative usage) and
    ``message_stop``. :func:`streamed` sets how many pieces, a pause between events (to
    cancel mid-stream), a mid-stream ``error`` event (``overloaded_error`` by default, as the
    real API sends under load) or a dropped connection. :attr:`FakeAnthropic.streams` says
    how each stream ended, including ``"client_gone"`` when the client hung up.

Validation (the point of it)
    Each request is checked against the real API's rules (:func:`check_request`) before a
    scripted reply is used. A request the real API would refuse gets the 400
    ``invalid_request_error`` (401 for a missing key) with a message worded like the real
    one, does not use up a scripted reply, and is recorded in
    :attr:`FakeAnthropic.violations`. :meth:`FakeAnthropic.assert_valid` fails with every
    violation listed; leaving a ``with FakeAnthropic() as server:`` block calls it, so a
    fixture written as ::

        @pytest.fixture
        def fake():
            with FakeAnthropic(lifetime_s=30) as server:
                yield server

    fails the test whose code sent something the API would refuse, even when that code
    swallowed the 400. A test that sends a bad request on purpose reads the violations with
    :meth:`FakeAnthropic.take_violations`, which also clears them.

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

Use it as above, or::

    with FakeAnthropic() as server:
        server.script(tool_use("plan_next_step", {...}))
        client = anthropic.Anthropic(api_key="test-key", base_url=server.url)
"""

from __future__ import annotations

import enum
import itertools
import json
import math
import re
import threading
import time
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anthropic.types as api_types
import anthropic.types.beta.message_create_params as beta_params
import anthropic.types.message_create_params as create_params
import anthropic.types.tool_result_block_param as tool_result_param

LIFETIME_S = 60.0
MAX_REQUESTS = 200
HOST = "127.0.0.1"  # loopback only: the fake is never reachable from another machine

FAST_RETRY_MS = 5  # retry-after-ms on scripted errors, so the SDK's own retries stay fast
STREAM_PIECES = 8  # how many deltas a streamed text or tool input is cut into by default
MAX_CACHE_BREAKPOINTS = 4  # "A maximum of 4 blocks with cache_control may be provided"
MIN_THINKING_BUDGET = 1024
SAMPLING_PARAMETERS = ("temperature", "top_p", "top_k")
# Models that answer a temperature with "`temperature` is deprecated for this model."
TEMPERATURE_DEPRECATED_MODELS = ("claude-opus-4-7", "claude-opus-4-8")
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
TOOL_USE_ID = re.compile(r"^[a-zA-Z0-9_-]+$")

_ids = itertools.count(1)

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

DEFAULT_ERROR_MESSAGES = {"overloaded_error": "Overloaded", "api_error": "Internal server error"}


class _Default(enum.Enum):
    TOKEN = 0


_DEFAULT = _Default.TOKEN


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


# --------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a status, a JSON body, extra headers and how to stream it."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # wait this long before answering (to test client timeouts)
    pieces: int = STREAM_PIECES  # deltas per streamed text or tool input
    event_delay_s: float = 0.0  # pause between streamed events (to cancel mid-stream)
    break_after: int | None = None  # events sent before the stream breaks
    break_error: dict[str, Any] | None = None  # the ``error`` event sent then; None drops the connection


@dataclass(frozen=True)
class Request:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # the decoded JSON body (or the raw text if it was not JSON)
    text: str  # the body as text, JSON-decoded and re-encoded without ASCII escapes

    def strings(self) -> str:
        """Every text the request carried, to search for things that must never be sent."""
        return self.text

    @property
    def streamed(self) -> bool:
        """Whether the client asked for server-sent events."""
        return isinstance(self.body, dict) and self.body.get("stream") is True

    def summary(self) -> str:
        """A one-line description for failure messages: model, roles, tools."""
        if not isinstance(self.body, dict):
            return "not a JSON object"
        messages = self.body.get("messages")
        roles = [m.get("role") for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
        tools = [t.get("name") for t in self.body.get("tools") or [] if isinstance(t, dict)]
        return f"model {self.body.get('model')!r}, roles {roles}, tools {tools}"


@dataclass(frozen=True)
class Violation:
    """Something a request carried that the real API would refuse."""

    request: int  # index into ``FakeAnthropic.requests``
    message: str
    status: int = 400
    error_type: str = "invalid_request_error"


@dataclass
class StreamRecord:
    """How one streamed answer went, filled in while it is sent."""

    request: int
    events_sent: int = 0
    outcome: str = "sending"  # then "complete", "error_event", "dropped" or "client_gone"


def message(
    content: list[dict[str, Any]],
    *,
    stop_reason: str = "tool_use",
    model: str | None = None,
    input_tokens: int = 1200,
    output_tokens: int = 300,
    cache_creation_input_tokens: int = 0,
    cache_read_input_tokens: int = 0,
    stop_sequence: str | None = None,
    request_id: str | None = None,
) -> Reply:
    """A 200 reply with a Messages API ``message`` object; ``model=None`` echoes the request's."""
    n = next(_ids)
    usage = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": cache_creation_input_tokens,
        "cache_read_input_tokens": cache_read_input_tokens,
        "cache_creation": {"ephemeral_5m_input_tokens": cache_creation_input_tokens, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }
    body = {
        "id": f"msg_fake{n:04d}",
        "type": "message",
        "role": "assistant",
        "content": content,
        "model": model,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage,
    }
    return Reply(200, body, {"request-id": request_id or f"req_fake{n:04d}"})


def tool_use(name: str, tool_input: Any, *, text: str | None = None, **kwargs: Any) -> Reply:
    """A reply that calls tool ``name`` with ``tool_input`` (optionally after a text block)."""
    content: list[dict[str, Any]] = []
    if text:
        content.append({"type": "text", "text": text})
    content.append({"type": "tool_use", "id": f"toolu_fake{next(_ids):04d}", "name": name, "input": tool_input})
    return message(content, **kwargs)


def text_reply(text: str, **kwargs: Any) -> Reply:
    """A reply with text only: no tool call (what a confused model might send)."""
    return message([{"type": "text", "text": text}], stop_reason=kwargs.pop("stop_reason", "end_turn"), **kwargs)


def error(
    status: int,
    message_text: str | None = None,
    *,
    retry_after_ms: int | None | _Default = _DEFAULT,
    retry_after_s: float | None = None,
    should_retry: bool | None = None,
    error_type: str | None = None,
    error_code: str | None = None,
    request_id: str | None = None,
) -> Reply:
    """An HTTP error with Anthropic's error body and headers.

    ``retry_after_ms`` defaults to :data:`FAST_RETRY_MS` so the SDK's retries stay fast,
    unless ``retry_after_s`` asks for a real ``retry-after`` (then no ``retry-after-ms`` is
    sent unless given: the SDK reads ``retry-after-ms`` first). ``should_retry`` sends
    ``x-should-retry``, which the SDK obeys over the status. ``error_type`` overrides the
    type the status implies (:data:`ERROR_TYPES`); ``error_code`` goes to
    ``error.details.error_code``.
    """
    if retry_after_ms is _DEFAULT:
        retry_after_ms = None if retry_after_s is not None else FAST_RETRY_MS
    kind = error_type or ERROR_TYPES.get(status, "api_error")
    rid = request_id or f"req_err{next(_ids):04d}"
    headers = {"request-id": rid}
    if retry_after_ms is not None:
        headers["retry-after-ms"] = str(retry_after_ms)
    if retry_after_s is not None:
        headers["retry-after"] = str(int(retry_after_s)) if float(retry_after_s).is_integer() else str(retry_after_s)
    if should_retry is not None:
        headers["x-should-retry"] = "true" if should_retry else "false"
    detail: dict[str, Any] = {"type": kind, "message": message_text or DEFAULT_ERROR_MESSAGES.get(kind, f"fake {kind}")}
    if error_code is not None:
        detail["details"] = {"error_code": error_code}
    return Reply(status, {"type": "error", "error": detail, "request_id": rid}, headers)


def slow(reply: Reply, seconds: float) -> Reply:
    """The same reply, sent only after ``seconds``."""
    return replace(reply, delay_s=seconds)


def streamed(
    reply: Reply,
    *,
    pieces: int = STREAM_PIECES,
    event_delay_s: float = 0.0,
    error_after: int | None = None,
    error_type: str = "overloaded_error",
    error_message: str | None = None,
    hang_up_after: int | None = None,
) -> Reply:
    """The same reply, streamed in ``pieces`` deltas per block with ``event_delay_s`` between events.

    ``error_after=n`` sends ``n`` events (``message_start`` counts as the first), then an
    ``error`` event of ``error_type`` and ends the stream, as the real API does when it is
    overloaded mid-answer. ``hang_up_after=n`` sends ``n`` events and closes the connection
    without finishing the body. These apply only when the request asks to stream.
    """
    if error_after is not None and hang_up_after is not None:
        raise ValueError("a stream breaks once: give error_after or hang_up_after")
    if pieces < 1:
        raise ValueError("pieces must be at least 1")
    failure = None
    if error_after is not None:
        failure = {"type": error_type, "message": error_message or DEFAULT_ERROR_MESSAGES.get(error_type, error_type)}
    return replace(
        reply,
        pieces=pieces,
        event_delay_s=event_delay_s,
        break_after=error_after if error_after is not None else hang_up_after,
        break_error=failure,
    )


def _split(text: str, pieces: int) -> list[str]:
    if not text:
        return []
    size = max(1, math.ceil(len(text) / pieces))
    return [text[i : i + size] for i in range(0, len(text), size)]


def stream_events(body: dict[str, Any], pieces: int = STREAM_PIECES) -> list[tuple[str, dict[str, Any]]]:
    """The server-sent events that carry ``body`` (a complete ``message``), in order."""
    usage = body["usage"]
    start_usage = {**usage, "output_tokens": min(1, usage["output_tokens"])}
    start = {**body, "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(body["content"]):
        kind = block.get("type")
        deltas: list[dict[str, Any]]
        if kind == "text":
            skeleton = {**block, "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in _split(block["text"], pieces)]
        elif kind == "tool_use":
            skeleton = {**block, "input": {}}
            raw = json.dumps(block["input"], ensure_ascii=False)
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in ["", *_split(raw, pieces)]]
        elif kind == "thinking":
            skeleton = {**block, "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": p} for p in _split(block["thinking"], pieces)]
            deltas.append({"type": "signature_delta", "signature": block.get("signature", "")})
        else:
            skeleton, deltas = block, []
        events.append(
            ("content_block_start", {"type": "content_block_start", "index": index, "content_block": skeleton})
        )
        if index == 0:
            events.append(("ping", {"type": "ping"}))
        events += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    if not body["content"]:
        events.append(("ping", {"type": "ping"}))
    final_usage = {k: usage[k] for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")}
    final_usage["output_tokens"] = usage["output_tokens"]
    delta = {"stop_reason": body["stop_reason"], "stop_sequence": body.get("stop_sequence")}
    events.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": final_usage}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


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


# --------------------------------------------------------------------------- the server


class FakeAnthropic:
    """The server: ``script`` replies, point the SDK at ``url``, read ``requests`` afterwards.

    Requests beyond the script get a 400 ``invalid_request_error`` (not retried by the SDK)
    that says the script ran out, so a test fails clearly instead of hanging. A request the
    real API would refuse gets its 400 (or 401) before the script is consulted, and is
    recorded in ``violations`` (see the module's docstring).

    Parameters
    ----------
    lifetime_s, max_requests
        When the server stops by itself.
    strict_roles
        Refuse consecutive turns of one role and a first turn that is not the user's (see the
        module's docstring for why this is the default).
    validate
        Check requests at all; off only for a test of the fake itself.
    """

    def __init__(
        self,
        lifetime_s: float = LIFETIME_S,
        max_requests: int = MAX_REQUESTS,
        *,
        strict_roles: bool = True,
        validate: bool = True,
    ) -> None:
        self.requests: list[Request] = []
        self.violations: list[Violation] = []
        self.streams: list[StreamRecord] = []
        self.strict_roles = strict_roles
        self.validate = validate
        self._replies: list[Reply] = []
        self._lock = threading.Lock()
        self._max_requests = max_requests
        self._server = ThreadingHTTPServer((HOST, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._timer = threading.Timer(lifetime_s, self.stop)
        self._timer.daemon = True
        self._stopped = False

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> FakeAnthropic:
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.stop()
        if exc_type is None:
            self.assert_valid()

    def script(self, *replies: Reply) -> None:
        """Queue replies, answered in order."""
        with self._lock:
            self._replies.extend(replies)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._replies)

    def bodies(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests]

    def take_violations(self) -> list[Violation]:
        """The violations so far, cleared: for tests that send a bad request on purpose."""
        with self._lock:
            found, self.violations = self.violations, []
        return found

    def assert_valid(self) -> None:
        """Fail, listing each one, if any request carried something the real API would refuse."""
        with self._lock:
            found = list(self.violations)
            requests = list(self.requests)
        if found:
            lines = [f"  request {v.request} ({requests[v.request].summary()}): {v.message}" for v in found]
            raise AssertionError(
                "the fake Anthropic API received requests the real one would refuse:\n" + "\n".join(lines)
            )

    def _problems(self, request: Request) -> list[tuple[int, str, str]]:
        split = urlsplit(request.path)
        if request.method != "POST" or split.path != "/v1/messages":
            return [(404, "not_found_error", f"fake server: no route {request.method} {split.path}")]
        if not self.validate:
            return []
        beta = parse_qs(split.query).get("beta") == ["true"]
        found = check_headers(request.headers)
        body = request.body if isinstance(request.body, dict) else None
        if body is None:
            found.append((400, "invalid_request_error", "There was an error parsing the body: not a JSON object"))
        else:
            found += [
                (400, "invalid_request_error", m)
                for m in check_request(body, beta=beta, strict_roles=self.strict_roles)
            ]
        return found

    def _next(self, request: Request) -> tuple[int, Reply]:
        with self._lock:
            index = len(self.requests)
            self.requests.append(request)
            if index >= self._max_requests:
                threading.Thread(target=self.stop, daemon=True).start()
                return index, error(400, "fake server: too many requests", retry_after_ms=None)
            problems = self._problems(request)
            if problems:
                self.violations += [Violation(index, m, status, kind) for status, kind, m in problems]
                status, kind, text = problems[0]
                return index, error(status, text, retry_after_ms=None, error_type=kind)
            if not self._replies:
                return index, error(400, "fake server: the script has no reply left", retry_after_ms=None)
            return index, self._replies.pop(0)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
                pass

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
                try:
                    body = json.loads(raw) if raw else None
                    text = json.dumps(body, ensure_ascii=False)
                except json.JSONDecodeError:
                    body, text = raw, raw
                request = Request(method, self.path, {k.lower(): v for k, v in self.headers.items()}, body, text)
                index, reply = server._next(request)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                payload = reply.body
                if payload.get("type") == "message" and payload.get("model") is None:
                    model = request.body.get("model") if isinstance(request.body, dict) else None
                    payload = {**payload, "model": model or "claude-fake"}
                try:
                    if reply.status == 200 and payload.get("type") == "message" and request.streamed:
                        self._stream(index, reply, payload)
                    else:
                        self._json(reply, payload)
                except OSError:
                    self.close_connection = True  # the client gave up: nobody is listening any more

            def _json(self, reply: Reply, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

            def _stream(self, index: int, reply: Reply, payload: dict[str, Any]) -> None:
                record = StreamRecord(index)
                with server._lock:
                    server.streams.append(record)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream; charset=utf-8")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Transfer-Encoding", "chunked")
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                try:
                    for n, (name, data) in enumerate(stream_events(payload, reply.pieces)):
                        if n == reply.break_after:
                            if reply.break_error is None:
                                record.outcome = "dropped"
                                self.close_connection = True
                                return
                            failure = {"type": "error", "error": reply.break_error}
                            self._chunk(f"event: error\ndata: {json.dumps(failure)}\n\n".encode())
                            self._chunk(b"")
                            record.outcome = "error_event"
                            return
                        if n and reply.event_delay_s:
                            time.sleep(reply.event_delay_s)
                        self._chunk(f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode())
                        record.events_sent += 1
                    self._chunk(b"")
                    record.outcome = "complete"
                except OSError:
                    record.outcome = "client_gone"
                    raise

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                self._answer("POST")

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                self._answer("GET")

        return Handler
