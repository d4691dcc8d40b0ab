"""Agents: one interface (:class:`Agent`), several backends, chosen by name.

- ``heuristic`` (default): the offline, deterministic researcher over a catalogue of
  model moves (:mod:`engine.agents.heuristic`).
- ``replay``: proposals played from a JSON or TOML file (:mod:`engine.agents.replay`).
- ``anthropic``: Claude, imported only when asked for (``engine/agents/anthropic.py``
  must define ``AnthropicAgent``).

Importing this package is cheap: no PyMC, no network client.

Examples
--------
>>> agent = make_agent("heuristic")
>>> agent.offline, sorted(loop.value for loop in agent.loops)
(True, ['model'])
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from engine.agents.base import (
    REVIEWER_HEADING,
    Agent,
    AgentContext,
    DataSummary,
    agent_visible_problem_text,
    build_context,
)
from engine.agents.heuristic import HeuristicAgent
from engine.agents.replay import ReplayAgent
from engine.errors import AgentError

AGENT_NAMES = ("heuristic", "replay", "anthropic")
DEFAULT_AGENT = "heuristic"

__all__ = [
    "AGENT_NAMES",
    "DEFAULT_AGENT",
    "REVIEWER_HEADING",
    "Agent",
    "AgentContext",
    "DataSummary",
    "HeuristicAgent",
    "ReplayAgent",
    "agent_visible_problem_text",
    "build_context",
    "make_agent",
]


def make_agent(name: str = DEFAULT_AGENT, **options: Any) -> Agent:
    """Build an agent backend by name.

    Parameters
    ----------
    name
        ``"heuristic"`` (default), ``"replay"`` (needs ``path``) or ``"anthropic"``.
    **options
        Passed to the backend's constructor: ``max_retries`` for heuristic, ``path``
        for replay, whatever ``AnthropicAgent`` accepts for anthropic.

    Returns
    -------
    Agent

    Raises
    ------
    AgentError
        For an unknown name, missing or unknown options, or a backend that cannot be
        loaded here.
    """
    key = name.strip().lower()
    if key == "heuristic":
        return _construct(HeuristicAgent, key, options)
    if key == "replay":
        if "path" not in options:
            raise AgentError("the replay agent needs a file: make_agent('replay', path='proposals.json')")
        return _construct(ReplayAgent, key, options)
    if key == "anthropic":
        try:
            module = importlib.import_module("engine.agents.anthropic")
            cls = module.AnthropicAgent
        except (ImportError, AttributeError) as exc:
            raise AgentError(
                f"the anthropic agent is not available in this installation ({exc}); "
                "use --agent heuristic (offline) or --agent replay"
            ) from exc
        return _construct(cls, key, options)
    raise AgentError(f"unknown agent {name!r}; choose one of {', '.join(AGENT_NAMES)}")


def _construct(cls: type[Agent], name: str, options: dict[str, Any]) -> Agent:
    try:
        inspect.signature(cls).bind(**options)
    except TypeError as exc:
        raise AgentError(f"bad options for the {name} agent ({', '.join(sorted(options)) or 'none'}): {exc}") from exc
    return cls(**options)
