"""The fake Messages API itself: streams the real SDK reassembles, errors shaped as the API's,
and validation that refuses — and records — what the real API would refuse.

Every test drives the fake through the installed ``anthropic`` SDK or, where a request must
break a rule the SDK's own types would not let through, through ``urllib`` with the SDK's
headers. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import copy
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import anthropic
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_anthropic import (  # noqa: E402
    HOST,
    FakeAnthropic,
    error,
    message,
    slow,
    stream_events,
    streamed,
    text_reply,
    tool_use,
)
from fake_anthropic_rules import BLOCK_SHAPES, CACHE_TTLS, MESSAGE_SHAPES, PARAMETERS  # noqa: E402

TOOL = {"name": "submit_model", "description": "Submit model.py.", "input_schema": {"type": "object"}}
FORCED = {"type": "tool", "name": "submit_model"}
SOURCE = (
    'import pymc as pm\n\ndef build_model(data):\n    """Doc with "quotes", a tab\\t and é."""\n    return pm.Model()\n'
)
SUBMISSION = {"hypothesis": "h", "rationale": "r", "source": SOURCE, "tags": ["a", {"b": None}], "n": 3}


@pytest.fixture
def fake():
    with FakeAnthropic(lifetime_s=30) as server:
        yield server


@pytest.fixture
def client(fake):
    return anthropic.Anthropic(api_key="test-key", base_url=fake.url, max_retries=0)


def ask(**overrides: Any) -> dict[str, Any]:
    """A request the real API accepts: one user turn, one forced tool."""
    request = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "Propose the next model."}],
        "tools": [TOOL],
        "tool_choice": FORCED,
    }
    request.update(overrides)
    return request


def post(server: FakeAnthropic, body: Any, *, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """POST ``body`` as JSON with the SDK's headers (or ``headers``), outside the SDK."""
    sent = {"content-type": "application/json", "x-api-key": "test-key", "anthropic-version": "2023-06-01"}
    if headers is not None:
        sent = headers
    request = urllib.request.Request(f"{server.url}/v1/messages", json.dumps(body).encode(), sent, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


# --------------------------------------------------------------------------- streaming


def test_a_stream_reassembles_exactly_the_scripted_message(fake, client):
    reply = tool_use(
        "submit_model",
        SUBMISSION,
        text="Here is the file.",
        input_tokens=5000,
        output_tokens=1500,
        cache_creation_input_tokens=1200,
        cache_read_input_tokens=3400,
    )
    fake.script(reply, reply)
    with client.messages.stream(**ask()) as stream:
        progress = [event.type for event in stream]
        final = stream.get_final_message()
        assert stream.request_id == reply.headers["request-id"]
    whole = client.messages.create(**ask())

    expected = anthropic.types.Message.model_validate({**reply.body, "model": "claude-sonnet-4-6"})
    assert final.model_dump() == expected.model_dump() == whole.model_dump()
    assert final.content[1].input == SUBMISSION  # the JSON cut into pieces came back whole
    assert final.usage.cache_read_input_tokens == 3400 and final.usage.cache_creation_input_tokens == 1200
    assert whole._request_id == reply.headers["request-id"]
    assert progress.count("input_json") >= 8 and progress.count("text") >= 1  # a client sees the file grow
    assert [r.streamed for r in fake.requests] == [True, False]
    assert [s.outcome for s in fake.streams] == ["complete"]


def test_the_events_follow_the_real_apis_order(fake, client):
    fake.script(streamed(tool_use("submit_model", SUBMISSION, text="Thinking aloud.", output_tokens=321), pieces=5))
    events = [e.model_dump() for e in client.messages.create(**ask(), stream=True)]
    kinds = [e["type"] for e in events]

    start = events[0]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert start["message"]["content"] == [] and start["message"]["stop_reason"] is None
    assert {"input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"} <= start["message"][
        "usage"
    ].keys()
    assert kinds[1] == "content_block_start" and "ping" not in kinds  # the SDK drops pings; the wire has them
    assert kinds.count("content_block_start") == kinds.count("content_block_stop") == 2
    text = [e["delta"]["text"] for e in events if e["type"] == "content_block_delta" and e["index"] == 0]
    pieces = [e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta" and e["index"] == 1]
    assert "".join(text) == "Thinking aloud." and len(text) == 5
    assert pieces[0] == "" and len(pieces) == 6 and json.loads("".join(pieces)) == SUBMISSION
    tool_start = next(e for e in events if e["type"] == "content_block_start" and e["index"] == 1)
    assert tool_start["content_block"]["input"] == {} and tool_start["content_block"]["name"] == "submit_model"
    assert events[-2]["delta"]["stop_reason"] == "tool_use" and events[-2]["usage"]["output_tokens"] == 321


def test_the_wire_carries_named_events_and_pings(fake):
    fake.script(streamed(text_reply("Hello there."), pieces=2))
    request = urllib.request.Request(
        f"{fake.url}/v1/messages",
        json.dumps(ask(tool_choice={"type": "auto"}, stream=True)).encode(),
        {"content-type": "application/json", "x-api-key": "k", "anthropic-version": "2023-06-01"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["request-id"].startswith("req_fake")
        frames = response.read().decode().strip().split("\n\n")
    names = [frame.split("\n")[0] for frame in frames]
    assert names == [
        "event: message_start",
        "event: content_block_start",
        "event: ping",
        "event: content_block_delta",
        "event: content_block_delta",
        "event: content_block_stop",
        "event: message_delta",
        "event: message_stop",
    ]
    for frame in frames:  # each event's data names its own type, as the API's do
        name, data = frame.split("\n")
        assert json.loads(data.removeprefix("data: "))["type"] == name.removeprefix("event: ")


def test_thinking_and_an_empty_reply_stream_too():
    body = message(
        [{"type": "thinking", "thinking": "Let me see.", "signature": "sig"}, {"type": "text", "text": "Done."}],
        stop_reason="end_turn",
        model="m",
    ).body
    deltas = [d["delta"] for name, d in stream_events(body, pieces=2) if name == "content_block_delta"]
    assert [d["type"] for d in deltas] == ["thinking_delta"] * 2 + ["signature_delta"] + ["text_delta"] * 2
    empty = stream_events(message([], stop_reason="end_turn", model="m").body)
    assert [name for name, _ in empty] == ["message_start", "ping", "message_delta", "message_stop"]


def test_an_overloaded_error_mid_stream_reaches_the_client(fake, client):
    fake.script(streamed(tool_use("submit_model", SUBMISSION), error_after=4))
    seen = []
    with pytest.raises(anthropic.APIStatusError) as caught, client.messages.stream(**ask()) as stream:
        for event in stream:
            seen.append(event.type)
    # The SDK raises the error event with the stream's own status (200), so it is not an OverloadedError.
    assert caught.value.type == "overloaded_error" and caught.value.status_code == 200
    assert "Overloaded" in str(caught.value)
    # Four events were sent: message_start, content_block_start, a ping (the SDK drops it) and the empty
    # first input_json_delta (the SDK adds its own input_json event for it).
    assert seen == ["message_start", "content_block_start", "content_block_delta", "input_json"]
    deadline = time.monotonic() + 5  # the server thread notes how the stream ended just after the client raises
    while fake.streams[0].outcome == "sending" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.streams[0].outcome == "error_event" and fake.streams[0].events_sent == 4
    assert len(fake.requests) == 1  # nothing retried a broken stream


def test_a_dropped_connection_mid_stream_is_a_connection_error(fake, client):
    fake.script(streamed(tool_use("submit_model", SUBMISSION), hang_up_after=3))
    with pytest.raises(anthropic.APIConnectionError, match="incomplete chunked read"):
        with client.messages.stream(**ask()) as stream:
            stream.until_done()
    assert fake.streams[0].outcome == "dropped"


def test_a_client_can_cancel_a_paced_stream(fake, client):
    fake.script(streamed(tool_use("submit_model", SUBMISSION), pieces=60, event_delay_s=0.05))  # about 3.5 s whole
    began = time.monotonic()
    with client.messages.stream(**ask()) as stream:
        for n, _ in enumerate(stream):
            if n == 4:
                break
    assert time.monotonic() - began < 1.5
    deadline = time.monotonic() + 3
    while fake.streams[0].outcome == "sending" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake.streams[0].outcome == "client_gone"  # the server saw the hang-up, not a finished stream


def test_slow_delays_the_answer(fake):
    client = anthropic.Anthropic(api_key="k", base_url=fake.url, max_retries=0, timeout=0.2)
    fake.script(slow(text_reply("late"), 0.6))
    with pytest.raises(anthropic.APITimeoutError):
        client.messages.create(**ask(tools=[TOOL], tool_choice={"type": "auto"}))


# --------------------------------------------------------------------------- errors and retries


def test_error_bodies_carry_the_request_id_and_billing_has_its_type(fake, client):
    fake.script(error(402, "Your credit balance is too low."))
    with pytest.raises(anthropic.PaymentRequiredError) as caught:
        client.messages.create(**ask())
    body = caught.value.body
    assert body["type"] == "error" and body["error"]["type"] == "billing_error" == caught.value.type
    assert body["request_id"] == caught.value.request_id and body["request_id"].startswith("req_")


def test_error_codes_pick_the_sdks_own_classes(fake, client):
    fake.script(error(429, "spend limit", error_code="enforced_spend_limit_reached"))
    with pytest.raises(anthropic.EnforcedSpendLimitReachedError) as caught:
        client.messages.create(**ask())
    assert caught.value.error_code == "enforced_spend_limit_reached"


def test_retry_headers(fake):
    client = anthropic.Anthropic(api_key="k", base_url=fake.url, max_retries=2)
    fake.script(error(529, retry_after_s=120, should_retry=False))
    with pytest.raises(anthropic.OverloadedError) as caught:
        client.messages.create(**ask())
    headers = caught.value.response.headers
    assert headers["retry-after"] == "120" and "retry-after-ms" not in headers
    assert headers["x-should-retry"] == "false" and len(fake.requests) == 1  # the SDK obeyed: no 120 s wait

    fake.script(error(400, "transient", should_retry=True), text_reply("ok"))
    assert client.messages.create(**ask()).content[0].text == "ok"
    assert len(fake.requests) == 3  # a 400 the server says to retry, retried


def test_the_old_helpers_still_work():
    assert error(500, "boom", retry_after_ms=7).headers["retry-after-ms"] == "7"
    assert (
        error(429).headers["retry-after-ms"] == "5" and "retry-after-ms" not in error(429, retry_after_ms=None).headers
    )
    assert (
        error(413).body["error"]["type"] == "request_too_large" and error(504).body["error"]["type"] == "timeout_error"
    )
    reply = message([{"type": "text", "text": "x"}], stop_reason="end_turn", model="claude-haiku-4-5", input_tokens=9)
    assert reply.body["model"] == "claude-haiku-4-5" and reply.body["usage"]["input_tokens"] == 9
    assert reply.body["usage"]["cache_read_input_tokens"] == 0 and reply.headers["request-id"].startswith("req_fake")
    assert slow(reply, 2).delay_s == 2 and tool_use("t", {}).body["stop_reason"] == "tool_use"


# --------------------------------------------------------------------------- validation


def _messages(*turns: tuple[str, Any]) -> list[dict[str, Any]]:
    return [{"role": role, "content": content} for role, content in turns]


USE = {"type": "tool_use", "id": "toolu_1", "name": "submit_model", "input": {}}
RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "'source' must be a string", "is_error": True}
EPHEMERAL = {"type": "ephemeral"}


def _cached(n: int) -> list[dict[str, Any]]:
    return [{"type": "text", "text": f"part {i}", "cache_control": EPHEMERAL} for i in range(n)]


REFUSED = {
    "missing max_tokens": ({"max_tokens": None}, "max_tokens: Field required"),
    "negative max_tokens": ({"max_tokens": -1}, "max_tokens: Input should be greater than or equal to 0"),
    "no messages": ({"messages": []}, "messages: at least one message is required"),
    "unknown parameter": ({"reasoning": "high"}, "reasoning: Extra inputs are not permitted"),
    "temperature and top_p": ({"temperature": 0.2, "top_p": 0.9}, "`temperature` and `top_p` cannot both be specified"),
    "temperature on opus 4.7": (
        {"model": "claude-opus-4-7", "temperature": 0.2},
        "`temperature` is deprecated for this model.",
    ),
    "temperature out of range": ({"temperature": 1.5}, "temperature: Input should be between 0 and 1"),
    "two user turns": (
        {"messages": _messages(("user", "a"), ("user", "b"))},
        'roles must alternate between "user" and "assistant", but found multiple "user" roles in a row',
    ),
    "assistant first": (
        {"messages": _messages(("assistant", "a"), ("user", "b"))},
        'messages: first message must use the "user" role',
    ),
    "an unknown role": ({"messages": _messages(("tool", "a"))}, "messages.0.role: Input should be"),
    "a result with no use": (
        {"messages": _messages(("user", "a"), ("assistant", "b"), ("user", [RESULT]))},
        "messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_1",
    ),
    "a use with no result": (
        {"messages": _messages(("user", "a"), ("assistant", [USE]), ("user", "again"))},
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1",
    ),
    "text before the result": (
        {"messages": _messages(("user", "a"), ("assistant", [USE]), ("user", [{"type": "text", "text": "x"}, RESULT]))},
        "messages.2: Did not find 1 `tool_result` block(s) at the beginning of this message",
    ),
    "a result two turns late": (
        {
            "messages": _messages(
                ("user", "a"), ("assistant", [USE]), ("user", [RESULT]), ("assistant", "b"), ("user", [RESULT])
            )
        },
        "messages.4.content.0: unexpected `tool_use_id`",
    ),
    "a repeated tool use id": (
        {
            "messages": _messages(
                ("user", "a"), ("assistant", [USE]), ("user", [RESULT]), ("assistant", [USE]), ("user", [RESULT])
            )
        },
        "messages.3.content.0: `tool_use` ids must be unique",
    ),
    "a malformed tool use id": (
        {"messages": _messages(("user", "a"), ("assistant", [{**USE, "id": "toolu 1"}]))},
        "messages.1.content.0.tool_use.id: String should match pattern",
    ),
    "a tool use in a user turn": ({"messages": _messages(("user", [USE]))}, "may only appear in assistant messages"),
    "tool blocks without tools": (
        {"tools": [], "tool_choice": {"type": "none"}, "messages": _messages(("user", "a"), ("assistant", [USE]))},
        "messages.1.content.0: Requests which include `tool_use` or `tool_result` blocks must define tools.",
    ),
    "a choice naming another tool": (
        {"tool_choice": {"type": "tool", "name": "plan_next_step"}},
        "tool_choice.tool.name: no tool named 'plan_next_step'",
    ),
    "a choice without tools": ({"tools": None}, "tool_choice may only be specified while providing tools."),
    "an unknown choice": ({"tool_choice": {"type": "required"}}, "tool_choice: Input tag 'required'"),
    "a tool without a schema": ({"tools": [{"name": "submit_model"}]}, "tools.0.custom.input_schema: Field required"),
    "a schema that is not an object": (
        {"tools": [{**TOOL, "input_schema": {"type": "array"}}]},
        "tools.0.custom.input_schema.type: Input should be 'object'",
    ),
    "a tool name with a space": (
        {"tools": [{**TOOL, "name": "submit model"}], "tool_choice": {"type": "auto"}},
        "tools.0.custom.name: String should match pattern",
    ),
    "an extra key on a tool": ({"tools": [{**TOOL, "parameters": {}}]}, "tools.0.custom.parameters: Extra inputs"),
    "two tools of one name": ({"tools": [TOOL, TOOL]}, "tools: Tool names must be unique."),
    "five breakpoints": (
        {"system": _cached(3), "messages": _messages(("user", _cached(2)))},
        "A maximum of 4 blocks with cache_control may be provided. Found 5.",
    ),
    "a top-level breakpoint counts": (
        {"system": _cached(2), "messages": _messages(("user", _cached(2))), "cache_control": EPHEMERAL},
        "Found 5.",
    ),
    "a persistent cache": (
        {"system": [{"type": "text", "text": "s", "cache_control": {"type": "persistent"}}]},
        "system.0.cache_control: Input tag 'persistent'",
    ),
    "a ten-minute cache": (
        {"tools": [{**TOOL, "cache_control": {"type": "ephemeral", "ttl": "10m"}}]},
        "tools.0.cache_control.ephemeral.ttl: Input should be '5m' or '1h'",
    ),
    "a cache scope": (
        {"system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral", "scope": "global"}}]},
        "system.0.cache_control.ephemeral.scope: Extra inputs are not permitted",
    ),
    "an hour after five minutes": (
        {
            "tools": [{**TOOL, "cache_control": EPHEMERAL}],
            "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        },
        "a ttl='1h' cache_control block must not come after a ttl='5m'",
    ),
    "an image in system": (
        {"system": [{"type": "image", "source": {"type": "url", "url": "http://x"}}]},
        "system.0.type: Input should be 'text'",
    ),
    "system as a number": ({"system": 3}, "system: Input should be a valid string or a list of text blocks"),
    "an unknown block": ({"messages": _messages(("user", [{"type": "picture", "url": "x"}]))}, "Input tag 'picture'"),
    "an extra key on a block": (
        {"messages": _messages(("user", [{"type": "text", "text": "x", "name": "me"}]))},
        "messages.0.content.0.text.name: Extra inputs are not permitted",
    ),
    "a block missing its text": (
        {"messages": _messages(("user", [{"type": "text"}]))},
        "messages.0.content.0.text.text: Field required",
    ),
    "an empty text block": (
        {"messages": _messages(("user", [{"type": "text", "text": ""}]))},
        "messages: text content blocks must be non-empty",
    ),
    "a blank text block": (
        {"messages": _messages(("user", [{"type": "text", "text": " \n"}]))},
        "text content blocks must contain non-whitespace text",
    ),
    "an empty turn": (
        {"messages": _messages(("user", "a"), ("assistant", ""), ("user", "b"))},
        "messages.1: all messages must have non-empty content except for the optional final assistant message",
    ),
    "a prefill ending in a space": (
        {"messages": _messages(("user", "a"), ("assistant", "The answer is ")), "tool_choice": {"type": "auto"}},
        "final assistant content cannot end with trailing whitespace",
    ),
    "thinking with a forced tool": (
        {"thinking": {"type": "enabled", "budget_tokens": 2048}},
        "Thinking may not be enabled when tool_choice forces tool use.",
    ),
    "a small thinking budget": (
        {"thinking": {"type": "enabled", "budget_tokens": 500}, "tool_choice": {"type": "auto"}},
        "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
    ),
    "a budget above max_tokens": (
        {"thinking": {"type": "enabled", "budget_tokens": 8000}, "tool_choice": {"type": "auto"}},
        "`max_tokens` must be greater than `thinking.budget_tokens`",
    ),
    "a metadata key the API lacks": (
        {"metadata": {"session": "x"}},
        "metadata.session: Extra inputs are not permitted",
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_requests_the_api_refuses_are_refused_and_recorded(fake, case):
    changes, expected = REFUSED[case]
    body = ask(**copy.deepcopy(changes))
    body = {k: v for k, v in body.items() if v is not None}
    fake.script(text_reply("never sent"))

    status, answer = post(fake, body)

    assert status == 400, answer
    assert answer["type"] == "error" and answer["error"]["type"] == "invalid_request_error"
    assert answer["request_id"].startswith("req_")
    found = fake.take_violations()
    assert any(expected in v.message for v in found), [v.message for v in found]
    assert answer["error"]["message"] == found[0].message
    assert fake.remaining == 1  # the scripted reply is kept for a request the API would answer


def test_a_full_conversation_the_api_accepts_passes(fake):
    body = ask(
        system=[
            {"type": "text", "text": "You write PyMC models.", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
            {"type": "text", "text": "Contract: ..."},
        ],
        tools=[
            {**TOOL, "cache_control": {"type": "ephemeral", "ttl": "1h"}},
            {"name": "plan_next_step", "input_schema": {"type": "object"}},
        ],
        messages=_messages(
            ("user", [{"type": "text", "text": "Write model.py.", "cache_control": EPHEMERAL}]),
            ("assistant", [{"type": "text", "text": "Here it is."}, {**USE, "input": {"source": 42}}]),
            ("user", [RESULT, {"type": "text", "text": "Send it again as a string."}]),
        ),
        cache_control=EPHEMERAL,
        temperature=0.3,
        top_k=40,
        metadata={"user_id": "workbench"},
        stop_sequences=["</done>"],
        stream=False,
    )
    fake.script(tool_use("submit_model", SUBMISSION))
    status, answer = post(fake, body)
    assert status == 200 and answer["model"] == "claude-sonnet-4-6"  # the request's model is echoed
    assert fake.violations == []

    fake.script(text_reply("prefilled"))
    prefill = ask(messages=_messages(("user", "a"), ("assistant", "The answer is")), tool_choice={"type": "auto"})
    assert post(fake, prefill)[0] == 200
    fake.script(text_reply("warm"))
    assert post(fake, ask(max_tokens=0))[0] == 200  # 0 pre-warms the cache (the SDK's documentation)


def test_lenient_roles_merge_turns_and_still_pair_tools():
    with FakeAnthropic(lifetime_s=10, strict_roles=False) as server:
        server.script(text_reply("ok"))
        merged = _messages(("user", "a"), ("user", "b"), ("assistant", [USE]), ("user", [RESULT]), ("user", "more"))
        assert post(server, ask(messages=merged))[0] == 200
        unpaired = _messages(("user", "a"), ("assistant", [USE]), ("assistant", "b"), ("user", "c"))
        status, answer = post(server, ask(messages=unpaired))
        assert status == 400 and "messages.2: `tool_use` ids were found without" in answer["error"]["message"]
        server.take_violations()


def test_headers_the_api_requires(fake):
    fake.script(text_reply("never sent"))
    status, answer = post(fake, ask(), headers={"content-type": "application/json", "anthropic-version": "2023-06-01"})
    assert status == 401 and answer["error"]["type"] == "authentication_error"
    status, answer = post(fake, ask(), headers={"content-type": "application/json", "x-api-key": "k"})
    assert status == 400 and answer["error"]["message"] == "anthropic-version: header is required"
    assert [v.status for v in fake.take_violations()] == [401, 400] and fake.remaining == 1


def test_an_sdk_call_the_api_refuses(fake, client):
    fake.script(text_reply("never sent"))
    with pytest.raises(anthropic.BadRequestError, match="reasoning: Extra inputs are not permitted"):
        client.messages.create(**ask(), extra_body={"reasoning": "high"})
    assert [v.request for v in fake.take_violations()] == [0]
    fake.script(tool_use("submit_model", SUBMISSION))  # temperature goes through extra_body in this SDK, and is valid
    client.messages.create(**ask(), extra_body={"temperature": 0.2})
    assert fake.bodies()[-1]["temperature"] == 0.2 and fake.violations == []


def test_leaving_the_server_fails_on_violations():
    with pytest.raises(AssertionError) as caught:
        with FakeAnthropic(lifetime_s=10) as server:
            post(server, ask(messages=_messages(("user", "a"), ("user", "b"))))
    text = str(caught.value)
    assert "request 0 (model 'claude-sonnet-4-6', roles ['user', 'user'], tools ['submit_model'])" in text
    assert "roles must alternate" in text


def test_script_exhaustion_and_unknown_routes(fake, client):
    with pytest.raises(anthropic.BadRequestError, match="the script has no reply left"):
        client.messages.create(**ask())
    assert fake.violations == []  # a test that scripted too little is not the workbench's fault
    with pytest.raises(anthropic.NotFoundError):
        client.models.list()
    assert fake.take_violations()[0].status == 404


def test_the_shapes_come_from_the_installed_sdk():
    assert {"model", "max_tokens", "messages", "system", "tools", "tool_choice", "cache_control"} <= PARAMETERS
    assert {"temperature", "top_p", "top_k", "stream"} <= PARAMETERS and "betas" not in PARAMETERS
    assert set(MESSAGE_SHAPES) == {"user", "assistant", "system"}
    assert BLOCK_SHAPES["tool_result"].required == {"tool_use_id", "type"}
    assert BLOCK_SHAPES["tool_use"].required == {"id", "input", "name", "type"}
    assert CACHE_TTLS == ("5m", "1h")


# --------------------------------------------------------------------------- safety


def test_loopback_only_and_a_request_cap():
    server = FakeAnthropic(lifetime_s=10, max_requests=1).start()
    try:
        assert server.host == HOST == "127.0.0.1"
        server.script(text_reply("one"))
        assert post(server, ask())[0] == 200
        status, answer = post(server, ask())
        assert status == 400 and "too many requests" in answer["error"]["message"]
        server._thread.join(timeout=5)
        assert not server._thread.is_alive()
    finally:
        server.stop()
