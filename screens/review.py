"""Review: the heart of the workbench. Read a proposal, its guard findings and compile
result, then approve, reject, edit, skip or ask for the next one.

The screen decides nothing about the engine: it posts :class:`screens.messages.Decided`
(or :class:`~screens.messages.EditSubmitted`) and the app runs the worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, ScrollableContainer, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from engine.records import unified_diff
from screens.dialogs import ReasonDialog
from screens.format import diff_text, finding_text, literal
from screens.messages import Decided, EditSubmitted, ReviewShown

if TYPE_CHECKING:
    from engine.loop import Reviewed
    from engine.records import CompileResult

PRINCIPAL = "principal"


class ReviewScreen(Screen):
    """One proposal, awaiting the principal's decision."""

    BINDINGS = [
        Binding("a", "approve", "Approve", id="review.approve", tooltip="Run this proposal (sampling starts)"),
        Binding("r", "reject", "Reject", id="review.reject", tooltip="Reject with a reason the agent will read"),
        Binding("e", "edit", "Edit", id="review.edit", tooltip="Edit the proposed file, then approve the edit"),
        Binding("p", "next", "Skip, propose", id="review.next", tooltip="Skip this one and ask for the next proposal"),
        Binding("s", "skip", "Skip", id="review.skip", tooltip="Skip this proposal (recorded, not run)"),
        Binding(
            "exclamation_mark",
            "override",
            "Override",
            id="review.override",
            key_display="!",
            tooltip="Approve despite a blocker: needs a reason",
        ),
        Binding("escape", "back", "Back", id="review.back", tooltip="Back home; the proposal stays pending"),
    ]

    def __init__(self, reviewed: Reviewed, number: int | None = None, edited: bool = False) -> None:
        super().__init__()
        self.reviewed = reviewed
        self.number = number
        self.edited = edited
        self.override = ""
        self.busy = False  # a decision was sent; wait for the app

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        p = self.reviewed.proposal
        yield Header()
        yield Static(self._headline(), id="review-head")
        yield Static(Text(p.hypothesis, style="bold"), id="hypothesis")
        with VerticalScroll(id="rationale-pane"):  # long rationales scroll instead of being cut off
            yield Static(literal(p.rationale), id="rationale")
        yield Static("", id="blocked")
        with Horizontal(id="review-main"):
            with ScrollableContainer(id="diff-pane") as diff_pane:
                diff_pane.border_title = literal(f"diff: {p.file}")
                yield Static(self._diff(), id="diff")
            with VerticalScroll(id="checks") as checks:
                checks.border_title = "guard and compile check"
                yield Static(self._findings(), id="findings")
                yield Static(compile_renderable(self.reviewed.compile), id="compile")
                yield Static(self._agent_review(), id="agent-review")
                yield Static("", id="readiness")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._update_blocked()
        self.query_one("#readiness", Static).display = False  # until the app says where the sampler stands
        self.query_one("#agent-review", Static).display = self.reviewed.proposal.review is not None
        self.post_message(ReviewShown())
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._redraw_diff())

    def _agent_review(self) -> Text:
        """The agent's reviewer on this proposal (language-model agents only), next to the guard's findings."""
        review = self.reviewed.proposal.review
        if review is None:
            return Text()
        if review.error:
            return literal(f"\nreviewer: no review ({review.error})", style="yellow")
        text = Text("\nreviewer", style="bold")
        advice = review.text.splitlines()[0] if review.text else ""
        style = "red" if "do not approve" in advice else ("yellow" if "with care" in advice else "green")
        text.append(f" (before you decide)\n{advice}\n", style=style)
        text.append(literal("\n".join(review.text.splitlines()[1:])))
        return text

    def _headline(self) -> Text:
        p = self.reviewed.proposal
        text = Text()
        text.append("proposal", style="bold reverse")
        if self.number is not None:
            text.append(f" for iteration {self.number}", style="bold")
        text.append(f" · {p.file} · {p.agent} agent")
        if p.move:
            text.append(f" (move: {p.move})", style="dim")
        if self.reviewed.repairs:
            text.append(f" · {self.reviewed.repairs} compile repair(s)", style="yellow")
        if self.edited:
            text.append(" · edited by the principal", style="bold magenta")
        return text

    def _diff(self) -> Text:
        p = self.reviewed.proposal
        diff = (
            p.diff if self.reviewed.edited_source is None else unified_diff(p.old_source, self.reviewed.source, p.file)
        )
        dark = self.app.current_theme.dark if self.is_attached else True
        if not diff.strip():
            # Nothing changes (the baseline is measured first): show the file that will run.
            source = self.reviewed.source
            whole = "".join(f" {line}" for line in source.splitlines(keepends=True))
            text = Text(f"(no change: {p.file} runs as it is)\n\n", style="dim")
            text.append_text(diff_text(whole, dark=dark))
            return text
        return diff_text(diff, dark=dark)

    def _redraw_diff(self) -> None:
        self.query_one("#diff", Static).update(self._diff())

    def _findings(self) -> Text:
        findings = self.reviewed.findings
        if not findings:
            return Text("✓ guard: no findings", style="bold green")
        text = Text()
        blockers = sum(1 for f in findings if f.is_blocker)
        text.append(f"guard: {blockers} blocker(s), {len(findings) - blockers} warning(s)\n", style="bold")
        ordered = sorted(findings, key=lambda f: (f.severity != "blocker", f.line or 0))
        for f in ordered:
            text.append("\n")
            text.append_text(finding_text(f))
        return text

    def _update_blocked(self) -> None:
        banner = self.query_one("#blocked", Static)
        if not self.reviewed.blocked:
            banner.display = False
            return
        banner.display = True
        if self.override:
            banner.update(
                Text.assemble(("override: ", "bold yellow"), self.override, ("  — approve is enabled", "dim"))
            )
            banner.set_class(False, "-blocked")
        else:
            banner.update(
                Text.assemble(
                    ("approve is disabled: ", "bold red"),
                    "the guard found a blocker. Press ! to override with a written reason, e to fix it, or r to reject.",
                )
            )
            banner.set_class(True, "-blocked")

    # ------------------------------------------------------------------ state

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("approve", "reject", "edit", "next", "skip", "override") and self.busy:
            return None
        if action == "approve":
            return None if self.reviewed.blocked and not self.override else True
        if action == "override":
            return self.reviewed.blocked
        return True

    def update_reviewed(self, reviewed: Reviewed, edited: bool) -> None:
        """Show a re-checked proposal (after the principal's edit)."""
        self.reviewed = reviewed
        self.edited = self.edited or edited
        self.busy = False
        self.query_one("#review-head", Static).update(self._headline())
        self.query_one("#hypothesis", Static).update(Text(reviewed.proposal.hypothesis, style="bold"))
        self._redraw_diff()
        self.query_one("#findings", Static).update(self._findings())
        self.query_one("#compile", Static).update(compile_renderable(reviewed.compile))
        self._update_blocked()
        self.refresh_bindings()

    def _decide(self, decision_kind: str, reason: str = "", then_propose: bool = False) -> None:
        from engine.records import Decision, DecisionKind

        decision = Decision(
            DecisionKind(decision_kind),
            PRINCIPAL,
            reason=reason,
            edited=self.edited,
            override=self.override if decision_kind == "approved" else "",
        )
        self.busy = True
        self.refresh_bindings()
        self.post_message(Decided(decision, then_propose=then_propose))

    def set_readiness(self, text: str) -> None:
        """Where the sampler stands while the principal reads (compile during review); "" says nothing."""
        ready = text.startswith("compiled, ready")
        mark = "✓ " if ready else "… "
        readiness = self.query_one("#readiness", Static)
        readiness.update(Text(mark + text, style="green" if ready else "dim"))
        readiness.display = bool(text)

    def release(self) -> None:
        """Let the principal decide again (the app calls this when a decision failed)."""
        self.busy = False
        self.refresh_bindings()

    # ------------------------------------------------------------------ actions

    def action_approve(self) -> None:
        if self.check_action("approve", ()) is not True:
            return
        self._decide("approved")

    def action_reject(self) -> None:
        def rejected(reason: str | None) -> None:
            if reason:
                self._decide("rejected", reason)

        self.app.push_screen(
            ReasonDialog(
                "Reject this proposal",
                "Why? The agent reads this before its next proposal.",
                placeholder="e.g. the spline terms overfit; try the per-arm variance first",
                confirm="Reject",
            ),
            rejected,
        )

    def action_override(self) -> None:
        def overridden(reason: str | None) -> None:
            if reason:
                self.override = reason
                self._update_blocked()
                self.refresh_bindings()
                self.notify("Override recorded: approve (a) is enabled.")

        blockers = "; ".join(f.code for f in self.reviewed.findings if f.is_blocker)
        self.app.push_screen(
            ReasonDialog(
                "Override the guard",
                f"Blockers: {blockers}. Write why this proposal may run anyway; the reason is recorded.",
                placeholder="e.g. the flagged column is pre-treatment; the contract is out of date",
                confirm="Override",
            ),
            overridden,
        )

    def action_edit(self) -> None:
        from screens.edit_proposal import EditProposalScreen

        def edited(source: str | None) -> None:
            if source is None:
                return
            if source == self.reviewed.source and not self.edited:
                self.notify("No change made; approve with a as usual.")
                return
            self.busy = True
            self.edited = True
            self.refresh_bindings()
            self.post_message(EditSubmitted(source))

        self.app.push_screen(EditProposalScreen(self.reviewed.proposal, self.reviewed.source), edited)

    def action_skip(self) -> None:
        self._decide("skipped", "skipped by the principal")

    def action_next(self) -> None:
        self._decide("skipped", "skipped: the principal asked for the next proposal", then_propose=True)

    def action_back(self) -> None:
        self.app.pop_screen()


def compile_renderable(result: CompileResult | None) -> Text:
    """The compile check in a few lines: passed with its numbers, or the error and a hint."""
    text = Text()
    if result is None:
        text.append("\ncompile check: not applicable (an analysis spec, not model code)", style="dim")
        return text
    if result.ok:
        text.append("\n✓ compile check passed", style="bold green")
        text.append(f" in {result.seconds:.1f} s")
        details = []
        if result.n_free is not None:
            details.append(f"{result.n_free} free parameters")
        if result.logp is not None:
            details.append(f"logp {result.logp:.1f} at the initial point")
        if details:
            text.append("\n  " + ", ".join(details), style="dim")
        return text
    text.append("\n✗ compile check failed", style="bold red")
    text.append(f" after {result.seconds:.1f} s\n  {result.error or 'unknown error'}")
    if result.hint:
        text.append(f"\n  hint: {result.hint}", style="yellow")
    if result.traceback:
        text.append("\n\n" + result.traceback.rstrip(), style="dim")
    return text
