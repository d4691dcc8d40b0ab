"""The loop without a terminal UI: ``workbench run`` drives a :class:`~engine.loop.Workbench`
for a number of iterations under an approval policy, and summarises the session.

Policies (:class:`Approval`) are named for what they do with a guard blocker: only
``ignore-guard`` ever runs a blocked proposal, and its record says so. How a run ended is
an :class:`Outcome`, kept even when the run stops on an error or Ctrl-C, so the summary
can always be printed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from engine.agents.activity import AgentActivity, throttled
from engine.errors import AgentError, WorkbenchError
from engine.iteration import IterationRecord
from engine.loop import Reviewed, Workbench
from engine.records import Decision, DecisionKind, Effect, Loop, Severity

if TYPE_CHECKING:
    from engine.stacking import StackedEffect

AGENT_LINE_EVERY_S = 5.0  # a streaming agent call prints a progress line this often


class Approval(StrEnum):
    """Who approves when no human is watching (``workbench run --approve``).

    Every policy rejects a proposal that does not compile (the reason is recorded and the
    agent reads it). They differ on guard blockers:
    """

    GUARD_CLEAN = "guard-clean"  # run clean proposals; reject a blocked one (recorded, the agent reads why) and go on
    STOP_AT_BLOCKER = "stop-at-blocker"  # run clean proposals; stop at the first blocked one, left pending for a human
    IGNORE_GUARD = "ignore-guard"  # run blocked proposals too, recorded with an override naming the blockers
    NONE = "none"  # run nothing: stop at the first proposal, left pending for a human

    @classmethod
    def parse(cls, value: str) -> Approval:
        """The policy named ``value``; ``auto`` (removed: it claimed to approve blockers) says what replaced it.

        Parameters
        ----------
        value
            A policy's name, or an :class:`Approval` (returned as it is).

        Returns
        -------
        Approval

        Raises
        ------
        WorkbenchError
            For ``auto`` or an unknown name.
        """
        if isinstance(value, Approval):
            return value
        name = str(value)
        if name == "auto":
            raise WorkbenchError(
                "--approve auto was removed: its name did not say that it approved proposals with guard blockers. "
                "Use guard-clean (reject blocked proposals and go on), stop-at-blocker (stop and leave a blocked "
                "proposal for review) or ignore-guard (run blocked proposals too)"
            )
        try:
            return cls(name)
        except ValueError:
            raise WorkbenchError(
                f"unknown approval policy {name!r}; choose one of {', '.join(a.value for a in cls)}"
            ) from None

    def decide(self, reviewed: Reviewed) -> Decision | None:
        """The policy's decision, or None to stop and leave the proposal for a human.

        ``none`` always stops. A guard blocker stops ``stop-at-blocker`` and is rejected by
        ``guard-clean``. Otherwise a proposal that does not compile is rejected, and
        ``ignore-guard`` approves a blocked one with an override that names the blockers.

        Parameters
        ----------
        reviewed
            The proposal with its guard findings and compile result.

        Returns
        -------
        Decision or None
            Decided by ``policy:<name>``.
        """
        decider = f"policy:{self.value}"
        if self is Approval.NONE:
            return None
        blockers = sorted({f.code for f in reviewed.findings if f.severity == Severity.BLOCKER})
        if blockers and self is Approval.STOP_AT_BLOCKER:
            return None
        if blockers and self is Approval.GUARD_CLEAN:
            return Decision(DecisionKind.REJECTED, decider, f"guard blocker: {', '.join(blockers)}")
        if reviewed.compile is not None and not reviewed.compile.ok:
            return Decision(DecisionKind.REJECTED, decider, f"does not compile: {reviewed.compile.error}")
        if blockers:  # ignore-guard
            override = f"approved unread by --approve ignore-guard despite guard blocker: {', '.join(blockers)}"
            return Decision(DecisionKind.APPROVED, decider, override=override)
        return Decision(DecisionKind.APPROVED, decider)


class Outcome(StrEnum):
    """How a headless run ended; ``workbench run`` turns it into its exit code."""

    FINISHED = "finished"  # every iteration asked for was recorded
    AWAITING_REVIEW = "awaiting-review"  # the policy left a proposal pending for a human
    AGENT_STOPPED = "agent-stopped"  # the agent had nothing more to propose, or its backend failed
    ERROR = "error"  # the harness, the store or the sandbox failed; the message says what
    INTERRUPTED = "interrupted"  # Ctrl-C (KeyboardInterrupt)


@dataclass(frozen=True)
class Event:
    """Progress of a headless run: how far, what is happening, and a line worth printing."""

    done: int
    total: int
    stage: str
    line: str = ""


class HeadlessRun:
    """Run iterations unattended; the policy stands in for the principal.

    Parameters
    ----------
    workbench
        An open workbench (session held for writing).
    policy
        An :class:`Approval` or its name: ``guard-clean``, ``stop-at-blocker``,
        ``ignore-guard`` or ``none``.
    loop
        ``model`` or ``design``.
    """

    def __init__(
        self, workbench: Workbench, policy: str | Approval = Approval.GUARD_CLEAN, loop: str | Loop = Loop.MODEL
    ):
        self.workbench = workbench
        self.policy = Approval.parse(policy)
        self.loop = Loop(loop)
        self.recorded: list[IterationRecord] = []
        self.stopped_because = ""
        self.outcome: Outcome | None = None  # None until run() returns or raises
        self._stacked: tuple[int, tuple[StackedEffect | None, str]] | None = None  # (next number, stack or why not)

    def run(self, iterations: int, on_event: Callable[[Event], None] | None = None) -> list[IterationRecord]:
        """Run up to ``iterations`` iterations; stop early when the agent has nothing left
        to propose or the policy leaves a proposal for a human.

        :attr:`outcome` and :attr:`stopped_because` say how it ended. An error or Ctrl-C
        is recorded there too and then raised again, so the caller can still summarise.

        Parameters
        ----------
        iterations
            The most iterations to record in this run.
        on_event
            Called with progress events and a line per recorded iteration.

        Returns
        -------
        list of IterationRecord
            The iterations recorded by this run.

        Raises
        ------
        WorkbenchError
            From the harness, the store or the sandbox (an agent's failure is not raised: it
            ends the run as ``agent-stopped``).
        KeyboardInterrupt
            On Ctrl-C; :attr:`outcome` is then ``interrupted``.
        """
        emit = on_event or (lambda _e: None)
        self.outcome, self.stopped_because = None, ""
        try:
            self._run(iterations, emit)
        except KeyboardInterrupt:
            self._stop(
                Outcome.INTERRUPTED, f"interrupted (Ctrl-C) after {len(self.recorded)} of {iterations} iterations"
            )
            raise
        except BaseException as exc:
            what = str(exc) if isinstance(exc, WorkbenchError) else f"{type(exc).__name__}: {exc}"
            self._stop(
                Outcome.ERROR, f"stopped by an error after {len(self.recorded)} of {iterations} iterations: {what}"
            )
            raise
        if self.outcome is None:
            self.outcome = Outcome.FINISHED
        return self.recorded

    def _stop(self, outcome: Outcome, because: str) -> None:
        self.outcome, self.stopped_because = outcome, because

    def _run(self, iterations: int, emit: Callable[[Event], None]) -> None:
        for done in range(iterations):

            def stage(text: str, done: int = done) -> None:
                emit(Event(done, iterations, text))

            reviewed = self.workbench.pending()
            if reviewed is not None and reviewed.proposal.loop is not self.loop:
                reviewed = None
            if reviewed is None:
                self.workbench.on_agent_activity = throttled(_say_activity(stage), AGENT_LINE_EVERY_S)
                try:
                    reviewed = self.workbench.propose(self.loop, on_status=stage)
                except AgentError as exc:
                    self._stop(Outcome.AGENT_STOPPED, f"the agent stopped: {exc}")
                    emit(Event(done, iterations, "", self.stopped_because))
                    break
            decision = self.policy.decide(reviewed)
            if decision is None:
                number = self.workbench.session.next_number()
                why = "it has a guard blocker" if reviewed.blocked else "nothing is approved"
                self._stop(
                    Outcome.AWAITING_REVIEW,
                    f"proposal {number} awaits review ({why}; policy {self.policy.value}): "
                    f"workbench open {self.workbench.session.path}",
                )
                emit(Event(done, iterations, "", self.stopped_because))
                break
            stage(f"{decision.kind.value}: {reviewed.proposal.hypothesis[:60]}")

            def on_progress(progress: Any, say: Callable[[str], None] = stage) -> None:
                say(_describe(progress))

            record = self.workbench.execute(reviewed, decision, on_progress=on_progress)
            self.recorded.append(record)
            emit(Event(done + 1, iterations, "", one_line(record)))

    def summary(self) -> dict[str, Any]:
        """One JSON-ready object for scripts: session, how the run ended, counts by verdict, the best estimate.

        Returns
        -------
        dict
            ``session``, ``loop``, ``policy``, ``outcome``, ``iterations`` (in the session),
            ``this_run``, ``by_status``, ``stopped_because``, ``best`` (see :func:`best_summary`),
            ``stacked`` (model loop: see :func:`stacked_summary`) and ``agent_spend_usd`` (every
            language-model call of the session, failed ones too).
        """
        records = self.workbench.session.iterations()
        best = self.workbench.session.best(self.loop)
        return {
            "session": str(self.workbench.session.path),
            "loop": self.loop.value,
            "policy": self.policy.value,
            "outcome": self.outcome.value if self.outcome else None,
            "iterations": len(records),
            "this_run": len(self.recorded),
            "by_status": dict(Counter(r.status for r in records)),
            "stopped_because": self.stopped_because or None,
            "best": best_summary(best),
            "stacked": self._stacked_json(),
            "agent_spend_usd": self.workbench.session.spend().known_usd,
        }

    def closing_lines(self) -> list[str]:
        """Lines to print when the run ends: why it stopped, the best estimate, and how to read the history.

        Returns
        -------
        list of str
        """
        best = self.workbench.session.best(self.loop)
        lines = []
        if self.stopped_because:
            lines.append(self.stopped_because)
        if best is not None and best.verdict is not None and best.verdict.metrics.effect is not None:
            e = best.verdict.metrics.effect
            lines.append(
                f"best: iteration {best.number}, {e.estimand} {e.mean:.3f} "
                f"[{e.hdi_low:.3f}, {e.hdi_high:.3f}] ({e.hdi_prob:.0%} {interval_name(self.loop)})"
            )
        stacked, why_not = self._stack()
        if stacked is not None:
            lines.append(stacked.describe())
        elif why_not:
            lines.append(f"the models could not be stacked: {why_not}")
        spend = self.workbench.session.spend()
        if spend.entries:
            lines.append(f"agent spend this session: {spend.text()}")
        lines.append(f"history: git -C {self.workbench.session.path} log --stat best")
        return lines

    def _stacked_json(self) -> dict[str, Any] | None:
        stacked, why_not = self._stack()
        return {"error": why_not} if why_not else stacked_summary(stacked)

    def _stack(self) -> tuple[StackedEffect | None, str]:
        """The model loop's estimate stacked over its scored models, or why it could not be.

        Stacking loads every scored iteration's draws: done once per recorded state, since
        :meth:`summary` and :meth:`closing_lines` both show it at the end of a run.
        """
        from engine.stacking import stack_session

        if self.loop is not Loop.MODEL:
            return None, ""
        state = self.workbench.session.next_number()
        if self._stacked is None or self._stacked[0] != state:
            try:
                self._stacked = (state, (stack_session(self.workbench.session), ""))
            except ValueError as exc:
                self._stacked = (state, (None, str(exc)))
        return self._stacked[1]


def _say_activity(say: Callable[[str], None]) -> Callable[[AgentActivity], None]:
    def report(activity: AgentActivity) -> None:
        say(activity.line())

    return report


def interval_name(loop: Loop) -> str:
    """Posterior intervals in the model loop, confidence intervals in the design loop.

    Parameters
    ----------
    loop
        The loop.

    Returns
    -------
    str
        ``HDI`` or ``CI``.
    """
    return "HDI" if loop is Loop.MODEL else "CI"


def best_summary(best: IterationRecord | None) -> dict[str, Any] | None:
    """The best iteration as a JSON-ready object.

    Parameters
    ----------
    best
        The loop's best iteration, or None.

    Returns
    -------
    dict or None
        ``iteration``, ``hypothesis``, ``elpd``, ``elpd_se`` and ``effect`` (estimand, mean,
        sd, interval and its mass, or None); None when there is no best or it has no verdict.
    """
    if best is None or best.verdict is None:
        return None
    m = best.verdict.metrics
    e = m.effect
    return {
        "iteration": best.number,
        "hypothesis": best.proposal.hypothesis,
        "elpd": m.elpd,
        "elpd_se": m.elpd_se,
        "effect": None if e is None else _effect_json(e),
    }


def stacked_summary(stacked: StackedEffect | None) -> dict[str, Any] | None:
    """The stacked estimate as a JSON-ready object.

    Parameters
    ----------
    stacked
        From :func:`engine.stacking.stack_session`, or None.

    Returns
    -------
    dict or None
        ``effect`` (as in :func:`best_summary`), ``weights`` (``iteration``, ``move``, ``weight``,
        heaviest first) and ``left_out``; None when fewer than two models could be stacked.
    """
    if stacked is None:
        return None
    return {
        "effect": _effect_json(stacked.effect),
        "weights": [{"iteration": w.number, "move": w.move, "weight": w.weight} for w in stacked.weights],
        "left_out": list(stacked.left_out),
    }


def _effect_json(e: Effect) -> dict[str, Any]:
    return {"estimand": e.estimand, "mean": e.mean, "sd": e.sd, "hdi": [e.hdi_low, e.hdi_high], "hdi_prob": e.hdi_prob}


def one_line(record: IterationRecord) -> str:
    """A log line for one recorded iteration.

    Parameters
    ----------
    record
        The iteration.

    Returns
    -------
    str
        Number, status and hypothesis, with the verdict's reason (or the decision's) in brackets.
    """
    text = f"iter {record.number}: {record.status} — {record.proposal.hypothesis}"
    if record.verdict is not None:
        text += f" ({record.verdict.reason})"
    elif record.decision.reason:
        text += f" ({record.decision.reason})"
    return text


def _describe(progress: Any) -> str:
    describe = getattr(progress, "describe", None)
    if callable(describe):
        return describe()
    fraction = getattr(progress, "fraction", None)
    stage = getattr(progress, "stage", None) or getattr(progress, "phase", "running")
    return f"{stage} {fraction:.0%}" if isinstance(fraction, float) else str(stage)
