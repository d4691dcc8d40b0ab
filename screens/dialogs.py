"""Small modal dialogs: ask for a written reason, show an error.

Each is a ``ModalScreen`` that dismisses with its answer (Frogmouth's pattern), so the
caller passes a callback to ``push_screen`` and never polls.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class ReasonDialog(ModalScreen[str | None]):
    """Ask for a written reason; dismisses with the text, or None when cancelled.

    An empty reason is refused: a rejection's reason goes back to the agent and an
    override's reason goes into the record, so both must say something.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def __init__(self, title: str, prompt: str, placeholder: str = "", confirm: str = "OK") -> None:
        super().__init__()
        self._title = title
        self._prompt = prompt
        self._placeholder = placeholder
        self._confirm = confirm

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(self._title, classes="dialog-title", markup=False)
            yield Static(self._prompt, classes="dialog-prompt", markup=False)  # may quote finding codes
            yield Input(placeholder=self._placeholder, id="reason")
            yield Static("", id="dialog-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self._confirm, variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def submit(self) -> None:
        text = self.query_one("#reason", Input).value.strip()
        if not text:
            self.query_one("#dialog-error", Static).update("Write a reason first (or press Escape to cancel).")
            return
        self.dismiss(text)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ErrorDialog(ModalScreen[None]):
    """Say what went wrong and what to do; nothing behind it is lost."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="dialog.close"),
        Binding("enter", "close", "Close", show=False, id="dialog.close-enter"),
    ]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self._title = title
        self._message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog error"):
            yield Label(self._title, classes="dialog-title", markup=False)
            with VerticalScroll(classes="dialog-body"):
                yield Static(self._message, markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", variant="primary", id="close")

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
