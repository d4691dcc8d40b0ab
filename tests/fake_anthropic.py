"""A local stand-in for Anthropic's Messages API, for tests of the Claude agent.

:class:`FakeAnthropic` is a tiny threaded HTTP server on 127.0.0.1 that answers
``POST /v1/messages`` with scripted replies, in order, and records every request (path,
headers, JSON body). Replies are built with :func:`tool_use` (a message whose content is a
``tool_use`` block, shaped as the real API returns it), :func:`text_reply` or :func:`error`
(an HTTP error status with Anthropic's error body). The real ``anthropic`` SDK talks to it
through ``base_url``. It never reaches beyond the loopback interface and stops by itself
after :data:`LIFETIME_S` seconds or :data:`MAX_REQUESTS` requests, whichever comes first,
so a test that forgets to stop it cannot leave it running.

Use the ``fake_anthropic`` fixture (defined in the test module) or::

    with FakeAnthropic() as server:
        server.script(tool_use("plan_next_step", {...}))
        client = anthropic.Anthropic(api_key="test-key", base_url=server.url)
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LIFETIME_S = 60.0
MAX_REQUESTS = 200

_ids = itertools.count(1)

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a status, a JSON body and extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # wait this long before answering (to test client timeouts)


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


def message(
    content: list[dict[str, Any]],
    *,
    stop_reason: str = "tool_use",
    model: str = "claude-sonnet-4-5",
    input_tokens: int = 1200,
    output_tokens: int = 300,
) -> Reply:
    """A 200 reply with a Messages API ``message`` object."""
    n = next(_ids)
    return Reply(
        200,
        {
            "id": f"msg_fake{n:04d}",
            "type": "message",
            "role": "assistant",
            "content": content,
            "model": model,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        },
        {"request-id": f"req_fake{n:04d}"},
    )


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


def error(status: int, message_text: str | None = None, *, retry_after_ms: int | None = 5) -> Reply:
    """An HTTP error with Anthropic's error body; ``retry-after-ms`` keeps SDK retries fast in tests."""
    kind = ERROR_TYPES.get(status, "api_error")
    headers = {"request-id": f"req_err{next(_ids):04d}"}
    if retry_after_ms is not None:
        headers["retry-after-ms"] = str(retry_after_ms)
    return Reply(status, {"type": "error", "error": {"type": kind, "message": message_text or f"fake {kind}"}}, headers)


def slow(reply: Reply, seconds: float) -> Reply:
    """The same reply, sent only after ``seconds``."""
    return replace(reply, delay_s=seconds)


class FakeAnthropic:
    """The server: ``script`` replies, point the SDK at ``url``, read ``requests`` afterwards.

    Requests beyond the script get a 400 ``invalid_request_error`` (not retried by the SDK)
    that says the script ran out, so a test fails clearly instead of hanging.
    """

    def __init__(self, lifetime_s: float = LIFETIME_S, max_requests: int = MAX_REQUESTS) -> None:
        self.requests: list[Request] = []
        self._replies: list[Reply] = []
        self._lock = threading.Lock()
        self._max_requests = max_requests
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._timer = threading.Timer(lifetime_s, self.stop)
        self._timer.daemon = True
        self._stopped = False

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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

    def __exit__(self, *exc: object) -> None:
        self.stop()

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

    def _next(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            if len(self.requests) > self._max_requests:
                threading.Thread(target=self.stop, daemon=True).start()
                return error(400, "fake server: too many requests", retry_after_ms=None)
            if request.method != "POST" or request.path.split("?")[0] != "/v1/messages":
                return error(404, f"fake server: no route {request.method} {request.path}", retry_after_ms=None)
            if not self._replies:
                return error(400, "fake server: the script has no reply left", retry_after_ms=None)
            return self._replies.pop(0)

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
                reply = server._next(request)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                payload = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (a timeout test): nobody is listening any more

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                self._answer("POST")

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                self._answer("GET")

        return Handler
