"""The iteration loop shared by the TUI and ``workbench run``.

One iteration: the agent proposes → the guard scans and the compile check builds the
model in the sandbox (failures go back to the agent a few times first) → the principal,
or a policy standing in for them, decides → the harness runs the approved proposal in the
sandbox → the verdict is recorded as one commit. :class:`Workbench` holds one session and
one agent and exposes those steps separately, so a screen can show each one.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from engine import jobs, model_run
from engine.agents.activity import AgentActivity, AgentCancelled, AgentControl, BudgetReached, controlled
from engine.agents.base import Agent, AgentContext
from engine.errors import AgentError, WorkbenchError
from engine.iteration import SANDBOX_INNER, SANDBOX_NAMESPACES, IterationRecord, latest_dr_estimate
from engine.model_run import RunOutput, unfinished
from engine.prepare import PreparedRun
from engine.problem import Problem, SamplingSettings
from engine.progress import RunProgress
from engine.records import (
    AgentReview,
    CompileResult,
    Decision,
    DecisionKind,
    Finding,
    Loop,
    Proposal,
    Verdict,
    VerdictKind,
    has_blocker,
)
from engine.store import Session
from engine.store.files import ARTIFACTS_DIR
from engine.store.spend import Outcome, Purpose, SpendEntry
from engine.versions import package_versions

T = TypeVar("T")
BUDGET_WARNING = 0.8  # the share of the agent budget at which the principal is warned

if TYPE_CHECKING:
    from engine.sandbox import Gate, SandboxOutcome
    from engine.sandbox.outcome import _CancelLike

MAX_REPAIRS = 3
"""How many times a proposal that fails to compile goes back to the agent before it is shown."""

BASELINE_MOVE = "baseline"
PRINCIPAL_AGENT = "principal"
"""The author of a proposal the principal wrote in the workbench (``Proposal.agent``)."""


@dataclass(frozen=True)
class Reviewed:
    """A proposal with the cheap checks done: what the principal reads before deciding."""

    proposal: Proposal
    findings: tuple[Finding, ...]
    compile: CompileResult | None  # None for the design loop (a spec, not code)
    repairs: int = 0
    edited_source: str | None = None  # the principal's edit of the proposal; the checks are of this text

    @property
    def blocked(self) -> bool:
        return has_blocker(self.findings)

    @property
    def source(self) -> str:
        """The text that runs if approved: the principal's edit, else the agent's proposal."""
        return self.edited_source if self.edited_source is not None else self.proposal.new_source


@dataclass(frozen=True)
class RunOptions:
    """Harness settings for this workbench instance (tests and demos shrink them)."""

    sampling: SamplingSettings | None = None  # None: the problem's own settings
    sampling_overrides: dict[str, int] | None = None  # e.g. {"draws": 200}, applied on the problem's settings
    memory_mb: int = 6000
    compile_timeout_s: float = 90.0
    run_grace_s: float = 180.0  # hard kill after the sampling budget plus this (compile, LOO, effect)
    design_timeout_s: float = 600.0  # a design run with every refuter takes 20–120 s on 2 cores
    score_timeout_s: float = 300.0  # the scorer (read arrays, PSIS-LOO, summary), and the trace writer after it
    budget_usd: float | None = None  # the most the session may spend on a language-model agent
    write_traces: bool = True  # trace.nc after each scored model run; off where the session is thrown away


ProgressCallback = Callable[[RunProgress], None]


log = logging.getLogger(__name__)


def _write_trace(job: model_run.ModelJob, n_units: int) -> None:
    """A trace writer's thread: a failure is logged, and ``draws.npz`` stays where the trace would be."""
    try:
        outcome = model_run.write_trace(job, n_units)
    except Exception as exc:  # noqa: BLE001 - the verdict is recorded; only the convenience copy is lost
        log.warning("trace.nc for %s was not written: %s", job.workdir, exc)
        return
    if not outcome.ok:
        log.warning("trace.nc for %s was not written: %s", job.workdir, outcome.message)


class Workbench:
    """One session, one agent, the fixed harness.

    Parameters
    ----------
    problem
        The validated problem.
    session
        The session repository, opened for writing.
    agent
        The agent backend proposing changes.
    options
        Harness settings.
    """

    def __init__(self, problem: Problem, session: Session, agent: Agent, options: RunOptions | None = None) -> None:
        self.problem = problem
        self.session = session
        self.agent = agent
        self.options = options or RunOptions()
        self.notes: list[str] = []  # things the user should hear about when this workbench opens
        self._data = problem.model_data()
        self._prepared: PreparedRun | None = None  # a model child compiled during review, waiting
        self._traces: list[threading.Thread] = []  # trace.nc writers still running after their verdicts
        self.agent_control: AgentControl | None = None  # the agent call under way, for cancel
        self.on_agent_activity: Callable[[AgentActivity], object] | None = None  # who watches it stream

    # ------------------------------------------------------------------ context

    def context(self, loop: Loop = Loop.MODEL) -> AgentContext:
        """What the agent may see: contract, plan, history, best source — never the truth.

        Parameters
        ----------
        loop
            The loop to propose for.

        Returns
        -------
        AgentContext
            Built from the session's current texts, file and history
            (:meth:`~engine.agents.base.AgentContext.build`).
        """
        return AgentContext.build(self.problem, self.session, loop)

    @property
    def sampling(self) -> SamplingSettings:
        base = self.options.sampling or self.problem.sampling
        return replace(base, **(self.options.sampling_overrides or {}))

    # ------------------------------------------------------------------ proposing

    def propose(self, loop: Loop = Loop.MODEL, on_status: Callable[[str], object] | None = None) -> Reviewed:
        """Ask the agent for a proposal and run the cheap checks, repairing compile failures.

        The reviewed proposal is saved as pending, so a crash or close does not lose it.

        Parameters
        ----------
        loop
            The loop to propose for.
        on_status
            Told in words what is happening: the agent proposing, each repair round.

        Returns
        -------
        Reviewed
            The checked proposal (the unchanged baseline while the loop has no judged run),
            ``repairs`` the number of repair rounds.

        Raises
        ------
        AgentError
            When the agent cannot propose (a failed repair only ends the repairs).
        """
        status = on_status or (lambda _msg: None)
        self.discard_prepared()  # a new proposal: whatever waited for the last one goes
        context = self.context(loop)
        proposal = self.baseline_proposal(context)
        if proposal is None:
            warning = self.budget_warning()
            status(f"{self.agent.name} agent is proposing…" + (f" ({warning})" if warning else ""))
            proposal = self.ask_agent(Purpose.PROPOSAL, loop, lambda: self.agent.propose(context))
        reviewed = self.check(proposal)
        repairs = 0
        while (
            self.agent.can_repair and reviewed.compile is not None and not reviewed.compile.ok and repairs < MAX_REPAIRS
        ):
            repairs += 1
            status(f"compile failed ({reviewed.compile.error}); asking the agent to repair ({repairs}/{MAX_REPAIRS})")
            try:
                repaired = self.ask_agent(
                    Purpose.REPAIR, loop, functools.partial(self.agent.repair, context, proposal, reviewed.compile)
                )
            except AgentCancelled:
                raise
            except AgentError as exc:
                status(f"the agent could not repair it ({exc}); showing the proposal as it is")
                break
            proposal = repaired
            reviewed = self.check(proposal)
        reviewed = replace(reviewed, repairs=repairs)
        reviewed = self._agent_review(reviewed, context, status)
        self.session.save_pending(reviewed.proposal, list(reviewed.findings), reviewed.compile)
        return reviewed

    def _agent_review(self, reviewed: Reviewed, context: AgentContext, status: Callable[[str], object]) -> Reviewed:
        """The agent's reviewer reads its own proposal before the principal does; a failure is said, not fatal."""
        proposal = reviewed.proposal
        if not self.agent.can_review or proposal.agent != self.agent.name:
            return reviewed
        status("the reviewer is reading the proposal against the contract and the plan…")
        try:
            review = self.ask_agent(
                Purpose.REVIEW, proposal.loop, lambda: self.agent.review(context, proposal, reviewed.findings)
            )
        except AgentCancelled:
            raise
        except AgentError as exc:
            review = AgentReview(error=str(exc))
        return replace(reviewed, proposal=replace(proposal, review=review))

    # ------------------------------------------------------------------ the agent's calls

    def ask_agent(self, purpose: Purpose, loop: Loop, ask: Callable[[], T]) -> T:
        """Run one agent interaction under the principal's control, and put its calls in the spend ledger.

        Parameters
        ----------
        purpose
            What the agent is asked for (proposal, repair, critic, review).
        loop
            The loop it is for.
        ask
            The call to the agent.

        Returns
        -------
        T
            What ``ask`` returns.

        Raises
        ------
        BudgetReached
            When the budget is already spent (nothing is asked), or is spent mid-interaction.
        AgentCancelled
            When the principal cancels (:meth:`cancel_agent`); the calls made so far are still counted.
        """
        left = self.budget_left()
        if left is not None and left <= 0:
            spent = self.session.spend()
            raise BudgetReached(
                f"the agent budget of ${self.options.budget_usd:.2f} is spent ({spent.text()}); nothing more is asked "
                "of the agent: raise --budget-usd (or budget_usd under [agent] in the config file), or switch to "
                "the offline agent with --agent heuristic"
            )
        control = AgentControl(on_activity=self.on_agent_activity, budget_left_usd=left)
        seen = len(_agent_calls(self.agent))
        self.agent_control = control
        outcome = Outcome.FAILED
        try:
            with controlled(control):
                result = ask()
            outcome = Outcome.RETURNED
            return result
        except AgentCancelled:
            outcome = Outcome.CANCELLED
            raise
        except BudgetReached:
            outcome = Outcome.OVER_BUDGET
            raise
        except KeyboardInterrupt:
            outcome = Outcome.CANCELLED
            raise
        finally:
            self.agent_control = None
            calls = _agent_calls(self.agent)[seen:]
            if calls:
                at = datetime.now(UTC).isoformat(timespec="seconds")
                self.session.record_spend([SpendEntry(at, loop.value, purpose, outcome, c) for c in calls])

    def cancel_agent(self) -> bool:
        """Stop the agent's call under way (from any thread): nothing is recorded but its cost.

        Returns
        -------
        bool
            Whether a call was under way.
        """
        control = self.agent_control
        if control is None:
            return False
        control.cancel()
        return True

    def budget_left(self) -> float | None:
        """What the session may still spend on the agent; None without a budget.

        Returns
        -------
        float or None
        """
        if self.options.budget_usd is None:
            return None
        return self.options.budget_usd - self.session.spend().known_usd

    def budget_warning(self) -> str | None:
        """A warning once the spend passes :data:`BUDGET_WARNING` of the budget, else None.

        Returns
        -------
        str or None
        """
        budget = self.options.budget_usd
        if budget is None or budget <= 0:
            return None
        spent = self.session.spend().known_usd
        if spent < BUDGET_WARNING * budget:
            return None
        return f"agent spend ${spent:.2f} of the ${budget:.2f} budget ({spent / budget:.0%})"

    def principal_proposal(self, loop: Loop, source: str, hypothesis: str) -> Reviewed:
        """The principal's own file as a proposal: checked like any other and left pending for review.

        It goes through the guard and the compile check, then the same review and approval as an
        agent's proposal; the record names the principal as its author.

        Parameters
        ----------
        loop
            The loop whose file ``source`` replaces.
        source
            The principal's complete file.
        hypothesis
            What the principal expects of it, recorded as the proposal's hypothesis.

        Returns
        -------
        Reviewed
        """
        context = self.context(loop)
        proposal = Proposal(
            loop=loop,
            hypothesis=hypothesis,
            rationale="Written by the principal in the workbench.",
            old_source=context.best_source,
            new_source=source,
            agent=PRINCIPAL_AGENT,
            move="principal",
        )
        reviewed = self.check(proposal)
        self.session.save_pending(reviewed.proposal, list(reviewed.findings), reviewed.compile)
        return reviewed

    def baseline_proposal(self, context: AgentContext) -> Proposal | None:
        """Run the session's starting file first, so later proposals have a reference.

        Until an iteration of this loop has been run (approved and judged), the first
        proposal is the unchanged baseline; the keep rule then compares every agent
        proposal against a measured model, never against nothing.

        Parameters
        ----------
        context
            The context of the loop.

        Returns
        -------
        Proposal or None
            The unchanged ``context.best_source``, move ``baseline``; None once the loop has a
            judged run (a cancelled one does not count) or the principal rejected or skipped
            the baseline.
        """
        if any(r.verdict is not None and r.verdict.kind is not VerdictKind.CANCELLED for r in context.loop_history):
            return None  # judged already (a cancelled run judged nothing: the baseline comes back)
        if any(
            r.proposal.move == BASELINE_MOVE and r.decision.kind is not DecisionKind.APPROVED
            for r in context.loop_history
        ):
            return None  # the principal skipped or rejected running the baseline
        what = "model" if context.loop is Loop.MODEL else "analysis"
        return Proposal(
            loop=context.loop,
            hypothesis=f"Run the baseline {what} as shipped, to measure the reference every proposal must beat.",
            rationale=(
                f"No {what} has been run to a verdict in this session's {context.loop.value} loop yet. The keep rule "
                f"compares each proposal with the current best, so the unchanged {context.loop.file} is measured first."
            ),
            old_source=context.best_source,
            new_source=context.best_source,
            agent="workbench",
            move=BASELINE_MOVE,
        )

    def check(self, proposal: Proposal, source: str | None = None) -> Reviewed:
        """Guard scan and, for model code, the sandboxed compile check.

        ``source`` is the principal's edit of the proposal, checked in its place.

        Parameters
        ----------
        proposal
            The proposal to check.
        source
            The principal's edit, or None to check ``proposal.new_source``.

        Returns
        -------
        Reviewed
            ``compile`` is None for the design loop and for code with a syntax error.
        """
        from engine.guard import scan_analysis, scan_model

        self.discard_prepared()  # an edit is a new file: the child compiled the old one
        text = proposal.new_source if source is None else source
        if proposal.loop is Loop.MODEL:
            findings = tuple(scan_model(text, self.problem.contract))
            compiled = None
            if not any(f.code == "syntax-error" for f in findings):
                compiled = self.compile(text)
            return Reviewed(proposal, findings, compiled, edited_source=source)
        return Reviewed(proposal, tuple(scan_analysis(text, self.problem.contract)), None, edited_source=source)

    def compile(self, source: str) -> CompileResult:
        """The compile check of ``source`` on the problem's data, in the sandbox.

        Parameters
        ----------
        source
            The text of a ``model.py``.

        Returns
        -------
        CompileResult
            Checked within the options' ``compile_timeout_s``, in the next iteration's
            artefacts folder.
        """
        from engine.compile_check import compile_check

        return compile_check(
            source,
            self._data,
            timeout_s=self.options.compile_timeout_s,
            workdir=self.session.artifacts_dir(self.session.next_number()),
        )

    def pending(self) -> Reviewed | None:
        """The proposal awaiting a decision, if a previous run left one.

        Returns
        -------
        Reviewed or None
            None also when the saved proposal went stale (its iteration exists) or cannot be
            read.
        """
        saved = self.session.load_pending()
        if saved is None:
            return None
        return Reviewed(saved.proposal, saved.findings, saved.compile)

    # ------------------------------------------------------------------ compile during review

    def prepare(self, reviewed: Reviewed, on_status: Callable[[str], object] | None = None) -> PreparedRun | None:
        """Start the model child on an approvable proposal while the principal reviews it.

        The child builds and compiles the model in the sandbox, then waits behind a gate;
        :meth:`execute` opens the gate on approval (sampling starts with no compile phase),
        and any other decision, an edit or a new proposal discards it. Headless runs never
        call this: they approve at once, so there is nothing to overlap.

        Parameters
        ----------
        reviewed
            The proposal as the guard and the compile check left it.
        on_status
            Told "compiled, ready …" once the child waits.

        Returns
        -------
        PreparedRun or None
            None when there is nothing to prepare: a design step, a blocker (approving needs
            an override first), or code that did not compile.
        """
        import tempfile

        from engine.prepare import PreparedKey
        from engine.sandbox import Gate

        self.discard_prepared()
        compiled_ok = reviewed.compile is not None and reviewed.compile.ok
        if reviewed.proposal.loop is not Loop.MODEL or reviewed.blocked or not compiled_ok:
            return None
        number = self.session.next_number()
        # A folder of its own until approval: a discarded child leaves nothing beside the history.
        artifacts = self.session.path / ARTIFACTS_DIR  # not artifacts_dir(number): that iteration may never be
        artifacts.mkdir(exist_ok=True)
        for stale in artifacts.glob(".prepared-*"):  # left by a process that ended while a child waited
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=".prepared-", dir=artifacts))
        prepared = PreparedRun(PreparedKey(reviewed.source, number, staging), Gate(), on_status)

        def job(run: PreparedRun) -> SandboxOutcome:
            try:
                return self._sample(reviewed.source, staging, run.progress, run, gate=run.gate)
            finally:
                if run.discarded:  # not approved: nothing of it is kept (an approved run's files move on)
                    shutil.rmtree(staging, ignore_errors=True)

        threading.Thread(target=prepared.run, args=(job,), name="prepared-model-child", daemon=True).start()
        self._prepared = prepared
        return prepared

    def discard_prepared(self) -> None:
        """Kill the child waiting for the last proposal, if any (it was not approved)."""
        if self._prepared is not None:
            self._prepared.discard()
            self._prepared = None

    def _take_prepared(self, reviewed: Reviewed, number: int) -> PreparedRun | None:
        prepared, self._prepared = self._prepared, None
        if prepared is None:
            return None
        if prepared.key.source != reviewed.source or prepared.key.number != number:
            prepared.discard()  # prepared for another file or iteration: not this run's child
            return None
        return prepared

    # ------------------------------------------------------------------ deciding and running

    def execute(
        self,
        reviewed: Reviewed,
        decision: Decision,
        *,
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> IterationRecord:
        """Apply the decision: run the harness if approved, then record the iteration as one commit.

        Parameters
        ----------
        reviewed
            The proposal as checked, with the principal's edit if any.
        decision
            Approved, rejected or skipped; only an approved proposal runs.
        on_progress
            Receives the run's progress snapshots.
        cancel
            Set it to stop the run (the verdict is then ``cancelled``).

        Returns
        -------
        IterationRecord
            As committed, with the critics' reviews when there is a verdict.

        Raises
        ------
        WorkbenchError
            When an approval of a proposal with a blocker finding has no override reason.
        """
        if decision.kind is DecisionKind.APPROVED and reviewed.blocked and not decision.override:
            raise WorkbenchError("this proposal has a blocker finding; approving it needs a written override reason")
        number = self.session.next_number()
        started = time.perf_counter()
        if decision.kind is not DecisionKind.APPROVED:
            self.discard_prepared()
        ran = RunOutput(None)
        if decision.kind is DecisionKind.APPROVED:
            if reviewed.proposal.loop is Loop.MODEL:
                ran = self._run_model(reviewed, number, on_progress, cancel)
            else:
                ran = self._run_design(reviewed, number, on_progress, cancel)
        timings = {**ran.timings, "total": time.perf_counter() - started}
        record = IterationRecord(
            number=number,
            proposal=reviewed.proposal,
            findings=reviewed.findings,
            compile=reviewed.compile,
            decision=decision,
            verdict=ran.verdict,
            timings=timings,
            seeds={"sampling": self.sampling.seed},
            versions=package_versions(),
            data_hash=self.problem.data_hash,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            sandbox=_sandbox_in_use(),
            ran_source=reviewed.source,
            convergence=ran.convergence,
            crash=ran.crash,
            design=ran.design,
            critique=ran.critique,
        )
        record = self._reviewed(record)
        self.session.record_iteration(record, candidate_source=reviewed.source, pointwise_elpd=ran.pointwise)
        self.session.clear_pending()
        scored = ran.verdict is not None and ran.verdict.kind.scored
        if reviewed.proposal.loop is Loop.MODEL and scored and self.options.write_traces:
            self._write_trace_later(number)
        self.agent.observe(record)
        return record

    def _write_trace_later(self, number: int) -> None:
        """Write the iteration's ``trace.nc`` in the background: the verdict does not wait for it.

        A non-daemon thread, so the interpreter finishes it before it exits (and before the
        sandbox server stops at exit); a kill leaves ``draws.npz`` in place of the trace.
        """
        job = self._model_job(self.session.artifacts_dir(number))
        self._traces = [t for t in self._traces if t.is_alive()]
        thread = threading.Thread(target=_write_trace, args=(job, self._data.n), name=f"trace-{number}")
        thread.start()
        self._traces.append(thread)

    def wait_for_traces(self, timeout_s: float | None = None) -> bool:
        """Wait until every ``trace.nc`` started so far is written.

        Parameters
        ----------
        timeout_s
            Seconds to wait at most for each writer; None waits as long as they take.

        Returns
        -------
        bool
            True when none is still running.
        """
        for thread in self._traces:
            thread.join(timeout_s)
        self._traces = [t for t in self._traces if t.is_alive()]
        return not self._traces

    def _reviewed(self, record: IterationRecord) -> IterationRecord:
        """The record with the critics' words on its verdict: the offline rules always, the agent's own if it has a critic."""
        from engine.model_critic import review_model

        if record.verdict is None:
            return record
        if record.proposal.loop is Loop.MODEL:
            review = review_model(record.verdict, self.problem.contract, latest_dr_estimate(self.session.iterations()))
            record = replace(record, model_review=review)
        if self.agent.can_critique:
            loop = record.proposal.loop
            try:
                agent_review = self.ask_agent(
                    Purpose.CRITIC, loop, lambda: self.agent.critique(self.context(loop), record)
                )
            except AgentError as exc:
                agent_review = AgentReview(error=str(exc))
            record = replace(record, agent_review=agent_review)
        return record

    def _run_model(
        self, reviewed: Reviewed, number: int, on_progress: ProgressCallback | None, cancel: threading.Event | None
    ) -> RunOutput:
        """Two sandbox jobs: the model child samples and writes arrays; a clean child scores them."""
        from engine.scoring import BestSummary

        best_record = self.session.best(Loop.MODEL)
        best = None
        if best_record is not None:
            best = BestSummary.from_record(best_record, self.session.best_pointwise_elpd(Loop.MODEL))
        job = self._model_job(self.session.artifacts_dir(number))
        prepared = self._take_prepared(reviewed, number)
        if prepared is not None:  # compiled during review: open its gate, sampling starts now
            sampled = prepared.go(on_progress, cancel)
            _move_outputs(prepared.key.workdir, job.workdir)
        else:
            sampled = model_run.sample(reviewed.source, self._data, job, on_progress=on_progress, cancel=cancel)
        return model_run.score(sampled, job, reviewed.source, self._data, best=best, cancel=cancel)

    def _model_job(self, workdir: Path) -> model_run.ModelJob:
        return model_run.ModelJob(
            estimand=self.problem.contract.estimand,
            sampling=self.sampling,
            gates=self.problem.gates,
            workdir=workdir,
            memory_mb=self.options.memory_mb,
            grace_s=self.options.run_grace_s,
            score_timeout_s=self.options.score_timeout_s,
        )

    def _sample(
        self,
        source: str,
        workdir: Path,
        on_progress: ProgressCallback | None,
        cancel: _CancelLike | None,
        gate: Gate | None = None,
    ) -> SandboxOutcome:
        """The model child: build, (compile and wait behind ``gate``,) sample, write the arrays."""
        return model_run.sample(
            source, self._data, self._model_job(workdir), on_progress=on_progress, cancel=cancel, gate=gate
        )

    def _run_design(
        self, reviewed: Reviewed, number: int, on_progress: ProgressCallback | None, cancel: threading.Event | None
    ) -> RunOutput:
        from engine.design.critic import critique
        from engine.design.spec import parse_spec
        from engine.design.support import POPULATION_FILE
        from engine.design.verdict import BestDesign, design_verdict
        from engine.errors import SpecError
        from engine.sandbox import run_in_sandbox

        try:
            spec = parse_spec(reviewed.source, self.problem.contract)
        except SpecError as exc:
            return RunOutput(Verdict(VerdictKind.CRASHED, f"the analysis spec is invalid: {exc}"))
        model_best = self.session.best(Loop.MODEL)
        bayes = model_best.verdict.metrics.effect if model_best is not None and model_best.verdict else None
        outcome = run_in_sandbox(
            jobs.design_job,
            spec,
            (self.problem.data, self.problem.contract),
            bayesian_effect=bayes,
            timeout_s=self.options.design_timeout_s,
            memory_mb=self.options.memory_mb,
            workdir=self.session.artifacts_dir(number),
            on_progress=on_progress,
            cancel=cancel,
            outputs=(POPULATION_FILE,),
        )
        if not outcome.ok:
            return RunOutput(unfinished(outcome))
        result = outcome.value
        review = critique(self.problem, spec, result, bayes, question=self.problem.question)
        best_record = self.session.best(Loop.DESIGN)
        best = None
        if best_record is not None and best_record.critique is not None and best_record.design is not None:
            best = BestDesign.of(best_record.design, best_record.critique)
        verdict = design_verdict(result, review, best)
        return RunOutput(verdict, dict(result.timings), design=result, critique=review)


def _move_outputs(staging: Path, workdir: Path) -> None:
    """A prepared child's files into the iteration's own folder, then its staging folder goes."""
    if not staging.is_dir() or staging.is_symlink():
        return
    for entry in staging.iterdir():
        if entry.is_file() and not entry.is_symlink():
            os.replace(entry, workdir / entry.name)
    shutil.rmtree(staging, ignore_errors=True)


def _sandbox_in_use() -> str:
    """How the sandbox that ran this iteration's code was isolated (the running server's own word)."""
    from engine.sandbox import isolation_report, server_status

    status = server_status()
    namespaced = status.namespaced if status.running else isolation_report().namespaces
    return SANDBOX_NAMESPACES if namespaced else SANDBOX_INNER


def _agent_calls(agent: Agent) -> tuple[Any, ...]:
    """Every call a language-model agent has made (its lifetime totals); none for the offline agents."""
    totals = getattr(agent, "totals", None)
    return tuple(getattr(totals, "calls", ()))
