"""Editor: the principal edits PROBLEM.md, PROGRAM.md and analysis.toml; every save is a commit.

Saving posts :class:`screens.messages.SavePlanFile` to the app,
whose worker validates it against the contract and commits it with the principal as author.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane, TextArea

from screens.edit_proposal import language_for
from screens.messages import SavePlanFile

PLAN_FILES = ("PROBLEM.md", "PROGRAM.md", "analysis.toml")


def _pane_id(filename: str) -> str:
    return "file-" + filename.replace(".", "-").lower()


class EditorScreen(Screen):
    """The plan files in tabs; ctrl+s validates and commits the visible one."""

    BINDINGS = [
        Binding(
            "ctrl+s",
            "save",
            "Save",
            id="editor.save",
            priority=True,
            tooltip="Validate and commit this file (author: the principal)",
        ),
        Binding(
            "escape",
            "back",
            "Back",
            id="editor.back",
            priority=True,
            tooltip="Back home (press twice to drop unsaved edits)",
        ),
    ]

    def __init__(self, files: dict[str, str]) -> None:
        super().__init__()
        self.saved = dict(files)
        self._warned = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            "Edit the plan. ctrl+s validates and commits the file in view; the agent reads it next time.",
            id="editor-help",
        )
        with TabbedContent(id="editor-tabs"):
            for name in PLAN_FILES:
                if name not in self.saved:
                    continue
                with TabPane(name, id=_pane_id(name)):
                    area = TextArea.code_editor(
                        self.saved[name],
                        language=language_for(name),
                        id=_pane_id(name) + "-text",
                        soft_wrap=name.endswith(".md"),
                    )
                    yield area
        yield Footer(compact=True)

    def current_file(self) -> str:
        active = self.query_one("#editor-tabs", TabbedContent).active
        return next(name for name in PLAN_FILES if _pane_id(name) == active)

    def text_of(self, filename: str) -> str:
        return self.query_one(f"#{_pane_id(filename)}-text", TextArea).text

    def dirty(self) -> list[str]:
        return [name for name in self.saved if self.text_of(name) != self.saved[name]]

    def mark_saved(self, filename: str, text: str) -> None:
        self.saved[filename] = text
        self._warned = False

    def action_save(self) -> None:
        filename = self.current_file()
        text = self.text_of(filename)
        if text == self.saved[filename]:
            self.notify(f"{filename}: no changes to save.")
            return
        self.post_message(SavePlanFile(filename, text))

    def action_back(self) -> None:
        unsaved = self.dirty()
        if unsaved and not self._warned:
            self._warned = True
            self.notify(
                f"Unsaved edits in {', '.join(unsaved)}: ctrl+s saves, Escape again discards them.",
                severity="warning",
            )
            return
        self.app.pop_screen()
