"""Claude as the workbench's agent: an orchestrator, a coder and a critic over the Messages API.

One proposal is two calls:

1. the **orchestrator** reads the whole :class:`~engine.agents.base.AgentContext` (contract,
   agent-visible PROBLEM.md, PROGRAM.md, the current best file and metrics, the recent history
   with verdicts and the reviewer's words) and picks one hypothesis (tool ``plan_next_step``);
2. the **coder**, in a fresh context with only that plan, the contract, the column names, the
   current file and the rules the guard enforces, writes the whole new file (tool
   ``submit_model`` or ``submit_analysis``).

:meth:`AnthropicAgent.repair` sends the compile check's error, traceback and hint back to the
coder; :meth:`AnthropicAgent.critique` asks the critic for a short structured review of a
verdict. Every tool is forced with ``tool_choice`` and every tool input is validated here
(the SDK does not validate response bodies): a missing or malformed tool call gets one
corrective retry, then :class:`~engine.errors.AgentError`. Code that parses but that the
guard would block (or a spec that breaks the contract) also gets one corrective retry; if it
is still blocked it is returned as it is, so the reviewer sees the guard's findings.

Every call's role, tokens, estimated cost, stop reason and request id, and a clipped
transcript of prompts and replies, go into ``Proposal.usage`` (:class:`~engine.records.AgentUsage`, kept by :class:`~engine.agents.ledger.Ledger`) and so into the session's
record. API failures become :class:`~engine.errors.AgentError` with a message that says what
to do; the SDK retries at most :data:`DEFAULT_MAX_RETRIES` times with a
:data:`DEFAULT_TIMEOUT_S` timeout, so a call never hangs for long.

Importing this module is cheap: the ``anthropic`` SDK (about 2 s to import) is loaded when an
agent is built.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, cast

from engine.agents import prompts as P
from engine.agents.activity import (
    CHARS_PER_TOKEN,
    AgentActivity,
    AgentCancelled,
    AgentControl,
    BudgetReached,
    current_control,
    partial_string_field,
)
from engine.agents.api_errors import BASE_URL_ENV, KEY_ENV, MODEL_ENV, api_error, refuses_forced_tool, retry_wait, said
from engine.agents.base import Agent, AgentContext
from engine.agents.conversation import user_content, with_correction
from engine.agents.ledger import PRICES_SOURCE, Ledger, price_for, token_usage
from engine.agents.replies import Checked, R, analysis_checker, check_plan, checked_reply, hard_only, model_checker
from engine.agents.tools import AnalysisSubmission, CritiqueReply, ModelSubmission, Plan, ProposalReview
from engine.errors import AgentError
from engine.iteration import IterationRecord
from engine.records import AgentPlan, AgentReview, AgentUsage, CompileResult, Finding, Loop, Proposal

DEFAULT_MODEL = "claude-sonnet-4-6"

DEFAULT_MAX_TOKENS = 8192  # the coder writes whole files
ROLE_MAX_TOKENS = 2048  # the orchestrator's plan and the critic's review are short
DEFAULT_TIMEOUT_S = 60.0  # the longest silence within a stream (the API pings every few seconds)
CONNECT_TIMEOUT_S = 10.0
DEFAULT_MAX_RETRIES = 2  # our own retries on 408/409/429/5xx/529 and connection errors, each shown
PROGRESS_EVERY_S = 0.25  # the most often a streamed call reports its progress
FORCED_TOOL_CHOICE_REFUSED = ("claude-sonnet-5-5", "claude-opus-5-5", "claude-fable-5-1", "claude-fable-5-2")
"""Models that answer a forced ``tool_choice`` with HTTP 400 (their migration guides): asked with
``auto`` and a prompt that names the tool; a 400 naming tool_choice adds a model at run time."""


# --------------------------------------------------------------------------- the agent


class AnthropicAgent(Agent):
    """Claude with orchestrator, coder and critic roles, for the model and design loops.

    Parameters
    ----------
    model
        Model id; defaults to ``$ANTHROPIC_MODEL`` or :data:`DEFAULT_MODEL`.
    api_key
        Defaults to ``$ANTHROPIC_API_KEY``; without one (and without ``client``) the
        constructor raises :class:`AgentError`.
    base_url
        Defaults to ``$ANTHROPIC_BASE_URL``, else Anthropic's API.
    max_tokens
        Output limit of a coder call (the orchestrator and critic use at most
        :data:`ROLE_MAX_TOKENS`).
    client
        A ready ``anthropic.Anthropic`` client (then ``api_key`` and ``base_url`` are unused).
    timeout_s, max_retries
        Per request timeout and the SDK's retries, small so a call never hangs for minutes.
    price_per_mtok
        (input, output) USD per million tokens, for a model :data:`~engine.agents.ledger.PRICES_USD_PER_MTOK`
        does not list.

    Attributes
    ----------
    totals
        Calls, tokens and cost summed over this agent's lifetime, failed calls included.

    Raises
    ------
    AgentError
        When no API key is set or the SDK is not installed.
    """

    name = "anthropic"
    loops = frozenset({Loop.MODEL, Loop.DESIGN})
    offline = False
    can_repair = True
    can_critique = True
    can_review = True

    def __init__(
        self,
        model: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        client: Any = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        price_per_mtok: tuple[float, float] | None = None,
    ) -> None:
        self.model = (model or os.environ.get(MODEL_ENV) or DEFAULT_MODEL).strip()
        if not isinstance(max_tokens, int) or max_tokens < 256:
            raise AgentError(
                f"max_tokens must be a whole number of at least 256 for the anthropic agent; got {max_tokens!r}"
            )
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.forced_tools = not self.model.startswith(FORCED_TOOL_CHOICE_REFUSED)
        self._repair_errors: list[str] = []  # errors of the repairs of the current proposal, oldest first
        self.price: tuple[float, float] | None = (
            cast("tuple[float, float]", tuple(price_per_mtok)) if price_per_mtok is not None else price_for(self.model)
        )
        self.base_url = base_url or os.environ.get(BASE_URL_ENV) or "https://api.anthropic.com"
        self.totals = AgentUsage(self.model, price_source=PRICES_SOURCE)
        if client is not None:
            self.client = client
            return
        key = api_key or os.environ.get(KEY_ENV)
        if not key:
            raise AgentError(
                f"the anthropic agent needs an API key: set {KEY_ENV} (for example "
                f"`{KEY_ENV}=sk-ant-... workbench open problems/ihdp --agent anthropic`), "
                "or use --agent heuristic to work offline"
            )
        try:
            import anthropic
        except ImportError as exc:
            raise AgentError(
                f"the anthropic package is not installed ({exc}); install the workbench with its dependencies, "
                "or use --agent heuristic"
            ) from exc
        # Retries are ours (capped, shown as a countdown, cancellable), so the SDK makes none.
        timeout = anthropic.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S)
        self.client = anthropic.Anthropic(api_key=key, base_url=self.base_url, timeout=timeout, max_retries=0)

    @property
    def deprecation(self) -> str | None:
        """Why the chosen model should be replaced, when the installed SDK lists it as deprecated.

        Returns
        -------
        str or None
        """
        try:
            from anthropic._data import DEPRECATED_MODELS
        except ImportError:  # an SDK without the list: nothing to say
            return None
        end = DEPRECATED_MODELS.get(self.model)
        if end is None:
            return None
        return (
            f"the Claude model {self.model} is deprecated and reaches end of life on {end}: pick a current one "
            f"with --model (e.g. {DEFAULT_MODEL})"
        )

    def use_model(self, model: str) -> None:
        """Ask ``model`` from the next call on (its price and tool-choice support with it).

        Parameters
        ----------
        model
            A Claude model id; every call records the model it asked.

        Raises
        ------
        AgentError
            For an empty id.
        """
        model = model.strip()
        if not model:
            raise AgentError("a model id is needed, e.g. claude-sonnet-4-6")
        self.model = model
        self.price = price_for(model)
        self.forced_tools = not model.startswith(FORCED_TOOL_CHOICE_REFUSED)

    # ------------------------------------------------------------------ roles

    def propose(self, context: AgentContext) -> Proposal:
        """Plan the next step (orchestrator), then write the whole file (coder).

        Parameters
        ----------
        context
            What the agent may see; ``context.loop`` picks ``model.py`` or ``analysis.toml``.

        Returns
        -------
        Proposal
            With the plan, the calls' usage and transcript, and in ``unresolved`` the guard
            blockers or spec issues still left after the corrective retry.

        Raises
        ------
        AgentError
            On an API error, or a tool call that stays malformed after one corrective retry.
        """
        self.check_loop(context)
        self._repair_errors = []  # a new proposal: no repair tried yet
        ledger = Ledger(self.model, self.price)
        try:
            plan = self._ask(
                ledger,
                "orchestrator",
                P.ORCHESTRATOR_SYSTEM,
                P.orchestrator_blocks(context),
                Plan,
                check_plan,
                min(ROLE_MAX_TOKENS, self.max_tokens),
            )
            coded = self._code(ledger, context, P.coder_prompt(context, plan))
        finally:
            self._account(ledger)
        return self._proposal(context, plan, coded, ledger, repairs=0)

    def repair(self, context: AgentContext, proposal: Proposal, compile_result: CompileResult) -> Proposal:
        """Send the compile error, traceback and hint back to the coder for a corrected file.

        Parameters
        ----------
        context
            The context the proposal was made in.
        proposal
            The proposal whose model failed the compile check.
        compile_result
            The failed check.

        Returns
        -------
        Proposal
            The coder's corrected file under the same plan, ``repair_attempts`` one higher; its
            usage keeps the earlier calls when the proposal was this agent's.

        Raises
        ------
        AgentError
            For the design loop (specs are not compiled), on an API error or a malformed reply.
        """
        self.check_loop(context)
        if proposal.loop is not Loop.MODEL:
            raise AgentError("only model.py proposals are compiled, so only they can be repaired")
        previous = proposal.usage if proposal.agent == self.name else None
        ledger = Ledger(self.model, self.price, previous)
        source = proposal.plan
        plan = Plan.model_construct(  # what was planned: already checked when Claude sent it
            hypothesis=source.hypothesis if source else proposal.hypothesis,
            rationale=source.rationale if source else proposal.rationale,
            instructions=source.instructions if source else "",
            label=source.label if source else proposal.move or "",
        )
        earlier = tuple(getattr(self, "_repair_errors", ()))
        prompt = P.repair_prompt(proposal, compile_result, context, earlier)
        try:
            coded = self._code(ledger, context, prompt, role="coder-repair")
        finally:
            self._repair_errors = [*earlier, compile_result.error or "unknown error"]
            self._account(ledger, since=len(previous.calls) if previous else 0)
        repairs = proposal.repair_attempts + 1
        return self._proposal(context, plan, coded, ledger, repairs=repairs, error=compile_result.error)

    def critique(self, context: AgentContext, record: IterationRecord) -> AgentReview:
        """A short structured review of ``record``'s verdict: credibility, estimand, blind spots, an alternative.

        Parameters
        ----------
        context
            The context of the record's loop (contract, data, PROBLEM.md, current best).
        record
            The iteration whose verdict is reviewed.

        Returns
        -------
        AgentReview
            The review's text and the critic's calls, tokens and cost.

        Raises
        ------
        AgentError
            On an API error, or a review that stays malformed after one corrective retry.
        """
        return self._written_review("critic", P.CRITIC_SYSTEM, P.critic_prompt(context, record), CritiqueReply)

    def review(self, context: AgentContext, proposal: Proposal, findings: tuple[Finding, ...]) -> AgentReview:
        """Read ``proposal`` against the contract and the plan before the principal decides.

        Parameters
        ----------
        context
            The context the proposal was made in.
        proposal
            The checked proposal.
        findings
            What the guard found.

        Returns
        -------
        AgentReview
            The review's text and the reviewer's calls, tokens and cost.

        Raises
        ------
        AgentError
            On an API error, or a review that stays malformed after one corrective retry.
        """
        prompt = P.proposal_review_blocks(context, proposal, findings)
        return self._written_review("reviewer", P.REVIEWER_SYSTEM, prompt, ProposalReview)

    # ------------------------------------------------------------------ pieces

    def _written_review(
        self,
        role: str,
        system: str,
        prompt: str | tuple[str, ...],
        reply: type[CritiqueReply] | type[ProposalReview],
    ) -> AgentReview:
        """One short structured review (the critic's after a verdict, the reviewer's before a decision)."""
        ledger = Ledger(self.model, self.price)
        try:
            written = self._ask(
                ledger, role, system, prompt, reply, hard_only(reply), min(ROLE_MAX_TOKENS, self.max_tokens)
            )
        finally:
            self._account(ledger)
        return AgentReview(text=written.text(), usage=ledger.usage())

    def _code(
        self, ledger: Ledger, context: AgentContext, prompt: str, role: str = "coder"
    ) -> tuple[str, str, list[str]]:
        """The coder's file, its note on what it changed, and the soft problems it left."""
        soft: list[str] = []
        if context.loop is Loop.MODEL:
            system = P.CODER_SYSTEM_MODEL.format(rules=P.model_rules(context.contract, context.gates))
            system += "\n\n# Modelling guide\n\n" + P.modelling_guide(context.modelling_notes)
            model = self._ask(
                ledger, role, system, prompt, ModelSubmission, model_checker(context), self.max_tokens, soft
            )
            return model.source, model.rationale, soft
        system = P.CODER_SYSTEM_DESIGN.format(rules=P.design_rules(context.contract))
        spec = self._ask(
            ledger, role, system, prompt, AnalysisSubmission, analysis_checker(context), self.max_tokens, soft
        )
        return spec.toml, spec.rationale, soft

    def _proposal(
        self,
        context: AgentContext,
        plan: Plan,
        coded: tuple[str, str, list[str]],
        ledger: Ledger,
        *,
        repairs: int,
        error: str | None = None,
    ) -> Proposal:
        source, implementation, soft = coded
        rationale = f"{plan.rationale.strip()} Implementation: {implementation.strip()}"
        if repairs:
            rationale += f" (Repaired {repairs}× after the compile check failed; last error: {error or 'unknown'}.)"
        agent_plan = AgentPlan(plan.hypothesis, plan.rationale, plan.instructions, plan.label, implementation)
        return Proposal(
            loop=context.loop,
            hypothesis=plan.hypothesis.strip(),
            rationale=rationale,
            old_source=context.best_source,
            new_source=source,
            agent=self.name,
            move=plan.label or None,
            repair_attempts=repairs,
            unresolved=tuple(soft),  # guard blockers or spec issues left after the corrective retry
            usage=ledger.usage(),
            plan=agent_plan,
        )

    def _ask(
        self,
        ledger: Ledger,
        role: str,
        system: str,
        prompt: str | tuple[str, ...],
        reply: type[R],
        check: Callable[[Any], Checked[R]],
        max_tokens: int,
        soft_out: list[str] | None = None,
    ) -> R:
        """One forced tool call, validated; one corrective retry; then AgentError.

        A value with only soft problems after the retry is returned (its problems are put in
        ``soft_out``), as is the first attempt's value when the retry is worse.
        """
        tool = reply.tool()
        messages: list[dict[str, Any]] = [{"role": "user", "content": user_content(prompt)}]
        user_shown: Any = prompt if isinstance(prompt, str) else "\n\n".join(prompt)
        fallback: tuple[R, list[str]] | None = None
        value: R | None = None
        for attempt in (1, 2):
            message = self._create(ledger, role, attempt, system, messages, tool, max_tokens)
            ledger.record(role, attempt, system, user_shown, message)
            value, hard, soft = checked_reply(message, reply.tool_name, check, max_tokens)
            if value is not None and not hard and not soft:
                return value
            if value is not None and not hard and fallback is None:
                fallback = (value, soft)
            if attempt == 2:
                break
            user_shown = (
                f"Your {tool['name']} call cannot be used yet:\n"
                + "\n".join(f"- {p}" for p in hard + soft)
                + f"\nCall {tool['name']} again with the complete, corrected input."
            )
            messages = with_correction(messages, message, user_shown)
        if value is not None and not hard:
            if soft_out is not None:
                soft_out.extend(soft)
            return value
        if fallback is not None:
            if soft_out is not None:
                soft_out.extend(fallback[1])
            return fallback[0]
        raise AgentError(
            f"Claude's {role} reply was unusable twice ({'; '.join(hard)}); ask for another proposal, "
            "or use --agent heuristic"
        )

    def _create(
        self,
        ledger: Ledger,
        role: str,
        attempt: int,
        system: str,
        messages: list[dict[str, Any]],
        tool: dict[str, Any],
        max_tokens: int,
    ) -> Any:
        """One streamed call, retried (capped, counted down, cancellable) on the errors worth retrying."""
        import anthropic

        control = current_control()
        if control.budget_left_usd is not None and (ledger.cost_so_far() or 0.0) >= control.budget_left_usd:
            raise BudgetReached(
                f"the agent budget is spent (this proposal alone cost ${ledger.cost_so_far():.2f}); nothing more "
                "is asked of Claude: raise --budget-usd, or switch to the offline agent with --agent heuristic"
            )
        retries = 0
        while True:
            control.check()
            kwargs = self._request(system, messages, tool, max_tokens)
            try:
                return self._stream(kwargs, control, role, attempt, tool["name"])
            except AgentCancelled:
                raise
            except Exception as exc:
                if control.cancelled:  # whatever the closed stream raised, the principal stopped it
                    raise AgentCancelled(
                        "cancelled by the principal: nothing was recorded; ask again when ready"
                    ) from exc
                if not isinstance(exc, anthropic.AnthropicError):
                    raise
                if self.forced_tools and refuses_forced_tool(exc):
                    self.forced_tools = False  # this model wants tool_choice auto; ask again at once
                    continue
                wait = retry_wait(exc, retries)
                if wait is None or retries >= self.max_retries:
                    raise api_error(exc, self.model, self.base_url, self.timeout_s) from exc
                retries += 1
                self._count_down(control, role, attempt, wait, said(exc))

    def _request(
        self, system: str, messages: list[dict[str, Any]], tool: dict[str, Any], max_tokens: int
    ) -> dict[str, Any]:
        """The request body: the system prompt and the stable first user block are cache breakpoints."""
        choice = {"type": "tool", "name": tool["name"]} if self.forced_tools else {"type": "auto"}
        return {
            "model": self.model,
            "max_tokens": max_tokens,
            "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
            "messages": messages,
            "tools": [tool],
            "tool_choice": choice,
        }

    def _stream(self, kwargs: dict[str, Any], control: AgentControl, role: str, attempt: int, tool_name: str) -> Any:
        """Stream one reply, reporting progress (the coder's file as it is written) until it ends or is cancelled."""
        field_name = {"submit_model": "source", "submit_analysis": "toml"}.get(tool_name)
        characters, partial, last = 0, "", 0.0
        with self.client.messages.stream(**kwargs) as stream, control.closing(stream.close):
            control.report(AgentActivity(role, self.model, attempt))
            for event in stream:
                control.check()
                if getattr(event, "type", None) != "content_block_delta":
                    continue
                delta = event.delta
                piece = getattr(delta, "partial_json", None) or getattr(delta, "text", None) or ""
                characters += len(piece)
                if getattr(delta, "type", None) == "input_json_delta":
                    partial += piece
                now = time.monotonic()
                if now - last >= PROGRESS_EVERY_S:
                    last = now
                    draft = partial_string_field(partial, field_name) if field_name else ""
                    tokens = int(characters / CHARS_PER_TOKEN)
                    control.report(AgentActivity(role, self.model, attempt, characters, tokens, False, draft))
            message = stream.get_final_message()
            if not getattr(message, "_request_id", None):
                message._request_id = stream.request_id  # a streamed message carries it on the stream only
        usage = token_usage(message)
        draft = partial_string_field(partial, field_name) if field_name else ""
        control.report(AgentActivity(role, self.model, attempt, characters, usage.get("output_tokens", 0), True, draft))
        return message

    def _count_down(self, control: AgentControl, role: str, attempt: int, wait: float, why: str) -> None:
        """Wait ``wait`` seconds before a retry, saying so each second; a cancel ends the wait."""
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            control.report(AgentActivity(role, self.model, attempt, retry_in_s=left, waiting_for=why))
            if control.cancel_event.wait(min(1.0, left)):
                control.check()

    def _account(self, ledger: Ledger, since: int = 0) -> None:
        """Add the ledger's new calls to this agent's lifetime totals (a failed proposal's calls count too)."""
        self.totals = replace(self.totals, calls=(*self.totals.calls, *ledger.calls[since:]))
