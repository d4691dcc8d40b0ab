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

    What is checked, and the decisions behind it, are in :mod:`fake_anthropic_rules`.

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
import threading
import time
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fake_anthropic_rules import check_headers, check_request  # noqa: E402

LIFETIME_S = 60.0
MAX_REQUESTS = 200
HOST = "127.0.0.1"  # loopback only: the fake is never reachable from another machine

FAST_RETRY_MS = 5  # retry-after-ms on scripted errors, so the SDK's own retries stay fast
STREAM_PIECES = 8  # how many deltas a streamed text or tool input is cut into by default

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
