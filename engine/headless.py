"""The loop without a terminal UI: ``workbench run`` drives a :class:`~engine.loop.Workbench`
for a number of iterations under an approval policy, and summarises the session.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from engine.errors import AgentError
from engine.loop import Policy, Workbench
from engine.records import IterationRecord, Loop


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
        ``auto``, ``guard-clean`` or ``none`` (see :class:`engine.loop.Policy`).
    loop
        ``model`` or ``design``.
    """

    def __init__(self, workbench: Workbench, policy: str | Policy = Policy.GUARD_CLEAN, loop: str | Loop = Loop.MODEL):
        self.workbench = workbench
        self.policy = Policy(policy)
        self.loop = Loop(loop)
        self.recorded: list[IterationRecord] = []
        self.stopped_because = ""

    def run(self, iterations: int, on_event: Callable[[Event], None] | None = None) -> list[IterationRecord]:
        """Run up to ``iterations`` iterations; stop early when the agent has nothing left
        to propose or the policy leaves a proposal for a human."""
        emit = on_event or (lambda _e: None)
        for done in range(iterations):
            def stage(text: str, done: int = done) -> None:
                emit(Event(done, iterations, text))

            reviewed = self.workbench.pending()
            if reviewed is not None and reviewed.proposal.loop is not self.loop:
                reviewed = None
            if reviewed is None:
                try:
                    reviewed = self.workbench.propose(self.loop, on_status=stage)
                except AgentError as exc:
                    self.stopped_because = f"the agent stopped: {exc}"
                    emit(Event(done, iterations, "", self.stopped_because))
                    break
            decision = self.policy.decide(reviewed)
            if decision is None:
                number = self.workbench.session.next_number()
                self.stopped_because = (
                    f"proposal {number} awaits review (policy none): "
                    f"workbench open {self.workbench.session.path}"
                )
                emit(Event(done, iterations, "", self.stopped_because))
                break
            stage(f"{decision.kind.value}: {reviewed.proposal.hypothesis[:60]}")
            record = self.workbench.execute(reviewed, decision, on_progress=lambda p, s=stage: s(_describe(p)))
            self.recorded.append(record)
            emit(Event(done + 1, iterations, "", one_line(record)))
        return self.recorded

    def summary(self) -> dict[str, Any]:
        """One JSON-ready object for scripts: session, counts by verdict, the best estimate."""
        records = self.workbench.session.iterations()
        best = self.workbench.session.best(self.loop)
        return {
            "session": str(self.workbench.session.path),
            "loop": self.loop.value,
            "iterations": len(records),
            "this_run": len(self.recorded),
            "by_status": dict(Counter(r.status for r in records)),
            "stopped_because": self.stopped_because or None,
            "best": best_summary(best),
        }

    def closing_lines(self) -> list[str]:
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
        lines.append(f"history: git -C {self.workbench.session.path} log --stat best")
        return lines


def interval_name(loop: Loop) -> str:
    """Posterior intervals in the model loop, confidence intervals in the design loop."""
    return "HDI" if loop is Loop.MODEL else "CI"


def best_summary(best: IterationRecord | None) -> dict[str, Any] | None:
    if best is None or best.verdict is None:
        return None
    m = best.verdict.metrics
    e = m.effect
    return {
        "iteration": best.number,
        "hypothesis": best.proposal.hypothesis,
        "elpd": m.elpd,
        "elpd_se": m.elpd_se,
        "effect": None if e is None else {
            "estimand": e.estimand, "mean": e.mean, "sd": e.sd,
            "hdi": [e.hdi_low, e.hdi_high], "hdi_prob": e.hdi_prob,
        },
    }


def one_line(record: IterationRecord) -> str:
    """A log line for one recorded iteration."""
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
