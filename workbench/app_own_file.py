"""The principal's own file: the current best in an editor, then a proposal like any other.

A mixin of :class:`workbench.app.WorkbenchApp` (Textual finds actions along the class's MRO).
`m` opens the current best ``model.py`` (or ``analysis.toml``) in the editor; what the principal
saves, with a one-line hypothesis, goes through the same guard and compile check as an agent's
proposal (:meth:`engine.loop.Workbench.principal_proposal`) and is reviewed and recorded as theirs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from screens.dialogs import ReasonDialog
from screens.messages import ProposalReady, StatusChanged
from workbench.failures import WorkerGroup

if TYPE_CHECKING:
    from textual.app import App

    from engine.loop import Reviewed, Workbench
    from workbench.opening import Opened

    _Base = App[int]
else:
    _Base = object


class OwnFileCommands(_Base):
    """`m`: the principal writes the next file themselves."""

    opened: Opened | None
    reviewed: Reviewed | None
    busy: str

    if TYPE_CHECKING:  # the app's own helper, which these commands call

        def _workbench(self) -> Workbench: ...

    def action_write_model(self, loop: str = "model") -> None:
        """The principal writes the next file: the current best in the editor, then a proposal like any other."""
        if self.opened is None:
            return
        if self.reviewed is not None:
            self.notify(
                "A proposal is waiting for review: approve, reject or skip it first (p shows it).", severity="warning"
            )
            return
        if self.busy:
            self.notify(f"Busy: {self.busy}.", severity="warning")
            return
        self._open_writer(loop)

    @work(thread=True, exclusive=True, group=WorkerGroup.FILES, exit_on_error=False, description="read the best file")
    def _open_writer(self, loop: str) -> None:
        self.call_from_thread(self._show_writer, loop, self._workbench().session.best_source(loop))

    def _show_writer(self, loop: str, best: str) -> None:
        from engine.records import Loop, Proposal
        from screens.edit_proposal import EditProposalScreen

        which = Loop(loop)
        draft = Proposal(which, "", "", best, best, "principal", move="principal")
        intro = (
            f"Your own {which.file}, starting from the current best. ctrl+s asks for a one-line hypothesis, then "
            "runs the guard and the compile check and shows it for review like any proposal; Escape discards it."
        )

        def written(text: str | None) -> None:
            if text is None:
                return

            def submit(hypothesis: str | None) -> None:
                if hypothesis:
                    self._submit_own(which.value, text, hypothesis)

            if text == best:
                self.notify(f"{which.file} is unchanged: nothing to propose.")
                return
            self.push_screen(
                ReasonDialog(
                    "Your hypothesis",
                    "In one sentence: what should this change do?",
                    placeholder="e.g. a Student-t likelihood will tame the heavy tail",
                    confirm="Check it",
                ),
                submit,
            )

        self.push_screen(EditProposalScreen(draft, intro=intro), written)

    @work(thread=True, exclusive=True, group=WorkerGroup.AGENT, exit_on_error=False, description="check your model")
    def _submit_own(self, loop: str, source: str, hypothesis: str) -> None:
        from engine.records import Loop

        wb = self._workbench()
        self.post_message(StatusChanged("checking your file: guard and compile check…"))
        reviewed = wb.principal_proposal(Loop(loop), source, hypothesis)
        self.post_message(ProposalReady(reviewed, number=wb.session.next_number()))
