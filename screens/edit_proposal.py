"""Edit the proposed file before approving it; the edit is recorded as the principal's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TextArea

from screens.format import literal

if TYPE_CHECKING:
    from engine.records import Proposal


def language_for(filename: str) -> str | None:
    """TextArea language for a file name, when tree-sitter has a grammar for it."""
    suffix = filename.rsplit(".", 1)[-1].lower()
    language = {"py": "python", "toml": "toml", "md": "markdown"}.get(suffix)
    return language if language in TextArea().available_languages else None


class EditProposalScreen(Screen[str | None]):
    """The proposed file in an editor; ctrl+s approves the edited version."""

    BINDINGS = [
        Binding(
            "ctrl+s",
            "submit",
            "Approve edit",
            id="edit-proposal.submit",
            priority=True,
            tooltip="Re-run the guard and compile check on the edit, then approve it",
        ),
        Binding("escape", "cancel", "Cancel", id="edit-proposal.cancel", priority=True, tooltip="Discard the edit"),
    ]

    def __init__(self, proposal: Proposal, text: str | None = None, intro: str | None = None) -> None:
        super().__init__()
        self.proposal = proposal
        self.text = proposal.new_source if text is None else text  # a second edit starts from the first
        self.intro = intro or (
            f"Editing the proposed {proposal.file}. ctrl+s re-checks and approves your version "
            "(recorded as edited by the principal); Escape discards it."
        )

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(literal(self.intro), id="edit-help")
        editor = TextArea.code_editor(self.text, language=language_for(self.proposal.file), id="proposal-editor")
        editor.border_title = literal(self.proposal.file)
        yield editor
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#proposal-editor", TextArea).focus()

    def action_submit(self) -> None:
        self.dismiss(self.query_one("#proposal-editor", TextArea).text)

    def action_cancel(self) -> None:
        self.dismiss(None)
