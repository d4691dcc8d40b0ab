"""What a language-model agent is doing right now, and how the principal stops it.

A call to Claude streams for seconds to minutes. The loop wraps each agent call in
:func:`controlled`, which puts an :class:`AgentControl` in a context variable of the
calling thread; the agent reports an :class:`AgentActivity` as tokens arrive (the coder's
file as it is written, the retry countdown) and raises :class:`AgentCancelled` as soon as
the principal cancels. A context variable, not an argument, so the agent interface stays
what the offline agents implement.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from engine.errors import AgentError
from engine.showable import showable

CHARS_PER_TOKEN = 4.0  # the streamed text's length over its tokens, for the estimate until the API counts


class AgentCancelled(AgentError):
    """The principal cancelled the agent's call: nothing was recorded; ask again when ready."""


class BudgetReached(AgentError):
    """The session's spend on the agent reached the principal's budget."""


@dataclass(frozen=True)
class AgentActivity:
    """One moment of a streamed call, as the screens and the headless progress line show it."""

    role: str  # orchestrator, coder, coder-repair, critic, reviewer
    model: str
    attempt: int = 1
    characters: int = 0  # streamed so far
    output_tokens: int = 0  # exact once the API has counted, else estimated from the characters
    exact: bool = False
    draft: str = ""  # the coder's file as written so far
    retry_in_s: float = 0.0  # > 0 while waiting to retry
    waiting_for: str = ""  # why the retry: the API's words

    def __post_init__(self) -> None:
        # streamed text reaches the screen as it arrives, before the guard has read the file
        object.__setattr__(self, "draft", showable(self.draft))
        object.__setattr__(self, "waiting_for", showable(self.waiting_for))

    def line(self) -> str:
        """One line for a status bar or a headless progress line.

        Returns
        -------
        str
        """
        who = f"{self.role} ({self.model})" + (f", attempt {self.attempt}" if self.attempt > 1 else "")
        if self.retry_in_s > 0:
            return f"{who}: {self.waiting_for}; retrying in {self.retry_in_s:.0f} s (c cancels)"
        if not self.characters:
            return f"{who}: waiting for the first token…"
        tokens = f"{self.output_tokens:,} tokens" if self.exact else f"≈{self.output_tokens:,} tokens"
        return f"{who}: {tokens} so far"


@dataclass
class AgentControl:
    """The principal's hold on an agent call: who hears its progress, and the cancel switch."""

    on_activity: Callable[[AgentActivity], object] | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    budget_left_usd: float | None = None  # what the session may still spend; None for no budget
    _closers: list[Callable[[], Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def cancel(self) -> None:
        """Stop the call now: set the switch and close the open stream, from any thread."""
        self.cancel_event.set()
        with self._lock:
            closers = list(self._closers)
        for close in closers:
            try:
                close()
            except Exception:  # noqa: BLE001 - closing a stream that is ending anyway may fail
                pass

    def check(self) -> None:
        """Raise :class:`AgentCancelled` when the principal has cancelled.

        Raises
        ------
        AgentCancelled
        """
        if self.cancelled:
            raise AgentCancelled("cancelled by the principal: nothing was recorded; ask again when ready")

    @contextmanager
    def closing(self, close: Callable[[], Any]) -> Iterator[None]:
        """Register ``close`` to run if the principal cancels while the block runs.

        Parameters
        ----------
        close
            Closes the open stream (the reading thread then stops at once).

        Yields
        ------
        None
        """
        with self._lock:
            self._closers.append(close)
        try:
            yield
        finally:
            with self._lock:
                self._closers.remove(close)

    def report(self, activity: AgentActivity) -> None:
        """Pass ``activity`` to whoever listens (a listener's failure never stops the call)."""
        if self.on_activity is not None:
            try:
                self.on_activity(activity)
            except Exception:  # noqa: BLE001 - progress is a courtesy
                pass


def throttled(listener: Callable[[AgentActivity], object], every_s: float) -> Callable[[AgentActivity], None]:
    """``listener`` told at most once per ``every_s`` seconds, and at once when the role, attempt or a retry changes.

    Parameters
    ----------
    listener
        Who hears the activity (a headless progress line, a status bar).
    every_s
        The quietest interval between two reports of the same stream.

    Returns
    -------
    callable
    """
    import time

    last: dict[str, Any] = {"at": 0.0, "key": None}

    def report(activity: AgentActivity) -> None:
        key = (activity.role, activity.attempt, activity.retry_in_s > 0, activity.exact)
        now = time.monotonic()
        if key != last["key"] or now - last["at"] >= every_s:
            last["at"], last["key"] = now, key
            listener(activity)

    return report


_CONTROL: ContextVar[AgentControl | None] = ContextVar("agent_control", default=None)


def current_control() -> AgentControl:
    """The control of the agent call running in this thread (a silent one outside :func:`controlled`).

    Returns
    -------
    AgentControl
    """
    return _CONTROL.get() or AgentControl()


@contextmanager
def controlled(control: AgentControl) -> Iterator[AgentControl]:
    """Run the agent calls inside the block under ``control``.

    Parameters
    ----------
    control
        Progress listener, cancel switch and budget for these calls.

    Yields
    ------
    AgentControl
    """
    token = _CONTROL.set(control)
    try:
        yield control
    finally:
        _CONTROL.reset(token)


def partial_string_field(partial_json: str, name: str) -> str:
    """The value of string field ``name`` in JSON that is still arriving, decoded as far as it goes.

    Parameters
    ----------
    partial_json
        The start of a JSON object, e.g. a tool call's input mid-stream.
    name
        The field, e.g. ``source``.

    Returns
    -------
    str
        The decoded characters so far; empty when the field has not started.

    Examples
    --------
    >>> partial_string_field('{"hypothesis": "x", "source": "import numpy\\\\nimport py', "source")
    'import numpy\\nimport py'
    """
    key = f'"{name}"'
    at = partial_json.find(key)
    if at < 0:
        return ""
    i = partial_json.find('"', partial_json.find(":", at + len(key)) + 1)
    if i < 0:
        return ""
    out: list[str] = []
    escapes = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "\\": "\\", "/": "/"}
    i += 1
    while i < len(partial_json):
        ch = partial_json[i]
        if ch == '"':
            break
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= len(partial_json):
            break
        code = partial_json[i + 1]
        if code == "u":
            digits = partial_json[i + 2 : i + 6]
            if len(digits) < 4:
                break
            try:
                out.append(chr(int(digits, 16)))
            except ValueError:
                break
            i += 6
            continue
        out.append(escapes.get(code, code))
        i += 2
    # \uD83D\uDE00 arrives as two halves of a surrogate pair: join them, replace a lone half.
    return "".join(out).encode("utf-16", "surrogatepass").decode("utf-16", "replace")
