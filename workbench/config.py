"""The user's own settings file: which Claude model, and how much a session may spend on it.

``~/.config/causal-workbench/config.toml`` (or ``$WORKBENCH_CONFIG``)::

    [agent]
    model = "claude-sonnet-4-6"   # the Claude model --agent anthropic asks
    budget_usd = 5.0              # the most one session may spend on it

Flags (``--model``, ``--budget-usd``) win over the file; ``$ANTHROPIC_MODEL`` is read only
when neither names a model.
"""

from __future__ import annotations

import argparse
import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from engine.errors import WorkbenchError

DEFAULT_CONFIG_PATH = Path("~/.config/causal-workbench/config.toml")
CONFIG_ENV = "WORKBENCH_CONFIG"


@dataclass(frozen=True)
class AgentSettings:
    """What the principal chose for the language-model agent."""

    model: str | None = None
    budget_usd: float | None = None


def load_agent_settings(path: Path | None = None) -> AgentSettings:
    """The ``[agent]`` table of the user's config file; defaults when there is none.

    Parameters
    ----------
    path
        The file; defaults to ``$WORKBENCH_CONFIG`` or :data:`DEFAULT_CONFIG_PATH`.

    Returns
    -------
    AgentSettings

    Raises
    ------
    WorkbenchError
        When the file exists but is not valid TOML, or a value has the wrong type.
    """
    explicit = path is not None or bool(os.environ.get(CONFIG_ENV))
    file = (path or Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)).expanduser()
    if not file.is_file():
        if explicit:
            raise WorkbenchError(f"{file}: no such config file; create it or unset {CONFIG_ENV}")
        return AgentSettings()
    try:
        table = tomllib.loads(file.read_text(encoding="utf-8")).get("agent", {})
    except tomllib.TOMLDecodeError as exc:
        raise WorkbenchError(f"{file}: not valid TOML ({exc}); fix or remove it") from exc
    if not isinstance(table, dict):
        raise WorkbenchError(f"{file}: [agent] must be a table with model and budget_usd")
    model = table.get("model")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise WorkbenchError(f'{file}: [agent] model must be a model id such as "claude-sonnet-4-6"')
    budget = table.get("budget_usd")
    if budget is not None:
        budget = check_budget(budget, f"{file}: [agent] budget_usd")
    return AgentSettings(model=model.strip() if model else None, budget_usd=budget)


def check_budget(value: object, where: str) -> float:
    """A budget in US dollars: a finite number above zero.

    Parameters
    ----------
    value
        What the user gave.
    where
        Where it came from, for the message.

    Returns
    -------
    float

    Raises
    ------
    WorkbenchError
        For anything else.
    """
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or number <= 0:
        raise WorkbenchError(f"{where} must be a number of US dollars above 0, e.g. 5 or 2.50; got {value!r}")
    return number


def resolve_agent_settings(model: str | None, budget_usd: str | None, agent: str) -> AgentSettings:
    """The flags over the config file, checked against the agent they are for.

    Parameters
    ----------
    model, budget_usd
        ``--model`` and ``--budget-usd`` as typed (None when absent).
    agent
        ``--agent``: a model is only for ``anthropic``.

    Returns
    -------
    AgentSettings

    Raises
    ------
    WorkbenchError
        For a model with another agent, or a budget that is not a positive number.
    """
    if model is not None and agent != "anthropic":
        raise WorkbenchError(f"--model picks Claude's model; it needs --agent anthropic (the {agent} agent has none)")
    saved = load_agent_settings()
    return AgentSettings(
        model=(model.strip() if model else None) or (saved.model if agent == "anthropic" else None),
        budget_usd=check_budget(budget_usd, "--budget-usd") if budget_usd is not None else saved.budget_usd,
    )


def add_agent_arguments(parser: argparse.ArgumentParser) -> None:
    """``--model`` and ``--budget-usd``, shared by ``open`` and ``run``.

    Parameters
    ----------
    parser
        The command's parser.
    """
    parser.add_argument(
        "--model",
        help="the Claude model for --agent anthropic (default: config file, $ANTHROPIC_MODEL, or the default)",
    )
    parser.add_argument(
        "--budget-usd",
        metavar="USD",
        help="stop asking the agent once the session has spent this much on it (warns at 80 %%; config: [agent] budget_usd)",
    )
