"""What a reply of Claude's must be before the agent accepts it.

Each tool input is checked by its pydantic model (:mod:`engine.agents.tools`), then by what the
workbench itself would refuse. *Hard* problems (wrong types, empty fields, Python or TOML that
does not parse, a missing tool call, a reply cut off at its token limit) make the reply unusable;
*soft* ones (guard blockers, a spec the contract rejects, a file identical to the current one)
are worth one corrective retry, but the reply can still be shown to the reviewer.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Callable
from typing import Any, TypeVar

from engine.agents.base import AgentContext
from engine.agents.ledger import content_blocks
from engine.agents.tools import AnalysisSubmission, ModelSubmission, Plan, ToolReply

R = TypeVar("R", bound=ToolReply)
Checked = tuple[R | None, list[str], list[str]]
"""A tool input checked: (the reply, hard problems, soft problems).

Hard problems (wrong types, empty fields, code that does not parse) make the reply unusable;
soft ones (guard blockers, contract violations, an unchanged file) are worth one retry but
the reply can still be shown to the reviewer.
"""


def check_plan(raw: Any) -> Checked[Plan]:
    """The orchestrator's plan: hypothesis, rationale, instructions and a kebab-case label.

    Parameters
    ----------
    raw
        The ``plan_next_step`` tool input as the API returned it.

    Returns
    -------
    Checked[Plan]
        The plan (None when unusable), its hard problems as sentences, and no soft ones.
    """
    plan, hard = Plan.check(raw)
    return plan, hard, []


def hard_only(reply: type[R]) -> Callable[[Any], Checked[R]]:
    """The checker of a reply whose every problem is hard: its own validation, no soft problems.

    Parameters
    ----------
    reply
        The tool's reply model.

    Returns
    -------
    callable
        Takes the raw tool input and returns it checked by ``reply.check`` alone.
    """

    def check(raw: Any) -> Checked[R]:
        value, hard = reply.check(raw)
        return value, hard, []

    return check


def model_checker(context: AgentContext) -> Callable[[Any], Checked[ModelSubmission]]:
    """Check ``submit_model`` input: its fields, Python that parses, and what the guard would block.

    Parameters
    ----------
    context
        The proposal's context: its contract for the guard, its best file to compare with.

    Returns
    -------
    callable
        Takes the raw tool input and returns it checked: hard problems for invalid fields or
        source that does not parse, soft ones for guard blockers and a file identical to the
        current one.
    """

    def check(raw: Any) -> Checked[ModelSubmission]:
        reply, hard = ModelSubmission.check(raw)
        if reply is None:
            return None, hard, []
        try:
            ast.parse(reply.source)
        except SyntaxError as exc:
            return reply, [f"'source' is not valid Python: {exc.msg} on line {exc.lineno}"], []
        except (ValueError, RecursionError, MemoryError) as exc:
            return reply, [f"'source' cannot be parsed as Python ({type(exc).__name__})"], []
        from engine.guard import scan_model

        soft = [f"the guard blocks it: {f}" for f in scan_model(reply.source, context.contract) if f.is_blocker]
        if reply.source.strip() == context.best_source.strip():
            soft.append("the file is identical to the current model.py; implement the hypothesis")
        return reply, [], soft

    return check


def analysis_checker(context: AgentContext) -> Callable[[Any], Checked[AnalysisSubmission]]:
    """Check ``submit_analysis`` input: its fields, TOML that parses, and the spec against the contract.

    Parameters
    ----------
    context
        The proposal's context: its contract for the spec and the guard, its best file to
        compare with.

    Returns
    -------
    callable
        Takes the raw tool input and returns it checked: hard problems for invalid fields or
        TOML that does not parse, soft ones (each once) for spec issues, guard blockers and a
        file identical to the current one.
    """

    def check(raw: Any) -> Checked[AnalysisSubmission]:
        reply, hard = AnalysisSubmission.check(raw)
        if reply is None:
            return None, hard, []
        try:
            tomllib.loads(reply.toml)
        except tomllib.TOMLDecodeError as exc:
            return reply, [f"'toml' is not valid TOML: {exc}"], []
        from engine.design.spec import spec_issues
        from engine.guard import scan_analysis

        soft = [f"the spec is invalid: {issue}" for issue in spec_issues(reply.toml, context.contract)]
        soft += [f"the guard blocks it: {f}" for f in scan_analysis(reply.toml, context.contract) if f.is_blocker]
        if reply.toml.strip() == context.best_source.strip():
            soft.append("the file is identical to the current analysis.toml; implement the hypothesis")
        return reply, [], list(dict.fromkeys(soft))

    return check


def checked_reply(message: Any, tool_name: str, check: Callable[[Any], Checked[R]], max_tokens: int) -> Checked[R]:
    """The reply's call of ``tool_name``, checked; a missing call or a cut reply is a hard problem.

    Parameters
    ----------
    message
        The API's reply.
    tool_name
        The tool it was asked to call.
    check
        The tool input's checker.
    max_tokens
        The reply's token limit, named when the reply was cut off at it.

    Returns
    -------
    Checked
        The reply's value (None when unusable), hard problems and soft ones.
    """
    block = next(
        (
            b
            for b in content_blocks(message)
            if getattr(b, "type", None) == "tool_use" and getattr(b, "name", None) == tool_name
        ),
        None,
    )
    value: R | None
    hard: list[str]
    soft: list[str]
    if block is None:
        value, hard, soft = None, [f"no {tool_name} tool call in the reply"], []
    else:
        value, hard, soft = check(getattr(block, "input", None))
    stop = getattr(message, "stop_reason", None)
    if stop == "max_tokens" and hard:
        hard.insert(0, f"the reply was cut off at the {max_tokens}-token limit; write something shorter")
    elif stop == "refusal":
        hard.insert(0, "the model declined to answer")
    return value, hard, soft
