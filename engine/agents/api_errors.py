"""What a failed call to the Messages API means, whether to try again, and what the principal should do.

The SDK's own retries are off: :class:`~engine.agents.anthropic.AnthropicAgent` retries here,
capped and counted down on screen, so a wait is never silent, and an error that is not worth
retrying becomes an :class:`~engine.errors.AgentError` whose message says what to do (add
credit, check the key or the model, wait, or switch to the offline agent).
"""

from __future__ import annotations

from typing import Any

from engine.agents import prompts as P
from engine.errors import AgentError

KEY_ENV = "ANTHROPIC_API_KEY"
MODEL_ENV = "ANTHROPIC_MODEL"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"
RETRY_CAP_S = 30.0  # the longest wait before a retry, whatever retry-after asks for


def api_error(exc: Exception, model: str, base_url: str, timeout_s: float) -> AgentError:
    """An SDK exception as an AgentError that says what happened and what to do.

    Parameters
    ----------
    exc
        What the SDK raised, after the retries.
    model
        The model asked, named when the key may not use it or it was not found.
    base_url
        The endpoint, named when it could not be reached.
    timeout_s
        The stream's silence limit, named on a timeout.

    Returns
    -------
    AgentError
        Its message says what happened (status, the API's words, the request id) and what to do.
    """
    import anthropic

    offline = "or switch to the offline agent with --agent heuristic"
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        said = getattr(exc, "api_message", None) or str(exc)
        rid = f"; request id {exc.request_id}" if getattr(exc, "request_id", None) else ""
        what = f"the Anthropic API answered HTTP {status} ({P.clip(said, 300)}{rid})"
        billing = any(w in said.lower() for w in ("credit balance", "spend limit", "billing", "usage limit"))
        if status == 402 or (status in (400, 403) and billing):
            todo = (
                "the account cannot pay for this call (its credit balance or spend limit is exhausted): add credit "
                f"or raise the limit at console.anthropic.com (Settings, Billing and Limits), {offline}"
            )
        elif status == 401:
            todo = (
                f"the API key was not accepted: check {KEY_ENV} (a current key from console.anthropic.com), {offline}"
            )
        elif status == 403:
            todo = (
                f"this key may not use {model}: check the key's permissions or pick another model with "
                f"--model (or {MODEL_ENV}), {offline}"
            )
        elif status == 404:
            todo = (
                f"the model {model!r} or the endpoint was not found: check --model (or {MODEL_ENV}) and "
                f"{BASE_URL_ENV}, {offline}"
            )
        elif status in (400, 413, 422):
            todo = (
                "the request was refused (too long a prompt or a bad parameter); shorten PROBLEM.md or "
                f"PROGRAM.md, {offline}"
            )
        elif status == 429:
            todo = f"rate limited even after the retries: wait a minute and ask again, {offline}"
        elif status == 529:
            todo = f"Anthropic's API is overloaded: ask again in a few minutes, {offline}"
        elif status >= 500:
            todo = f"a server error at Anthropic: ask again later, {offline}"
        else:
            todo = f"ask again, {offline}"
        return AgentError(f"{what}; {todo}")
    if isinstance(exc, anthropic.APITimeoutError):
        return AgentError(
            f"no answer from the Anthropic API within {timeout_s:g} s (after retries): ask again later, {offline}"
        )
    if isinstance(exc, anthropic.APIConnectionError):
        return AgentError(
            f"could not reach the Anthropic API at {base_url} ({exc}): check the network connection and "
            f"{BASE_URL_ENV}, {offline}"
        )
    return AgentError(f"the Anthropic client failed ({type(exc).__name__}: {exc}); {offline}")


def said(exc: Exception) -> str:
    """An API failure in a few words, for the countdown before a retry.

    Parameters
    ----------
    exc
        What the SDK raised.

    Returns
    -------
    str
        ``HTTP 529: Overloaded``, or the error's own words.
    """
    status = getattr(exc, "status_code", None)
    words = P.clip(getattr(exc, "api_message", None) or str(exc) or type(exc).__name__, 120)
    return f"HTTP {status}: {words}" if status else words


def refuses_forced_tool(exc: Exception) -> bool:
    """A 400 saying this model does not take a forced tool_choice (Sonnet 5.5, Opus 5.5, Fable 5.1…).

    Parameters
    ----------
    exc
        What the SDK raised.

    Returns
    -------
    bool
    """
    import anthropic

    return isinstance(exc, anthropic.BadRequestError) and "tool_choice" in str(getattr(exc, "api_message", None) or exc)


def retry_wait(exc: Exception, retries: int) -> float | None:
    """Seconds to wait before retrying ``exc``, capped at :data:`RETRY_CAP_S`; None when it is not worth it.

    The API's ``x-should-retry`` header decides when present; otherwise 408, 409, 429, 5xx and
    529, timeouts and lost connections are retried, after ``retry-after`` (or ``retry-after-ms``)
    or an exponential backoff from 1 s.

    Parameters
    ----------
    exc
        What the SDK raised.
    retries
        How many retries this call has had.

    Returns
    -------
    float or None
        Seconds to wait, at most :data:`RETRY_CAP_S`; None when the error is not worth retrying.
    """
    import anthropic

    if isinstance(exc, anthropic.APIConnectionError):  # timeouts are connection errors too
        return min(2.0**retries, RETRY_CAP_S)
    if not isinstance(exc, anthropic.APIStatusError):
        return None
    if exc.status_code == 200:  # an error event mid-stream: overloaded or a server error, no headers to read
        body: dict[str, Any] = exc.body if isinstance(exc.body, dict) else {}
        inner = body.get("error")
        error: dict[str, Any] = inner if isinstance(inner, dict) else {}
        kind = getattr(exc, "type", None) or error.get("type") or body.get("type")
        return min(2.0**retries, RETRY_CAP_S) if kind in ("overloaded_error", "api_error", "rate_limit_error") else None
    headers = exc.response.headers
    should = headers.get("x-should-retry")
    if should == "false":
        return None
    if should != "true" and not (exc.status_code in (408, 409, 429, 529) or exc.status_code >= 500):
        return None
    asked: float | None = None
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        try:
            asked = float(headers[name]) * scale
            break
        except (KeyError, TypeError, ValueError):
            continue
    return min(asked if asked is not None and asked >= 0 else 2.0**retries, RETRY_CAP_S)
