"""The command palette: what the keys of this moment offer, as commands to search.

A mixin of :class:`workbench.app.WorkbenchApp`. It offers nothing that needs a session before
one is open and nothing that leaves the run screen while a run goes on: each command is shown
only when :meth:`check_action` would enable its key. Switching the Claude model has no key; it
lives here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.screen import Screen

if TYPE_CHECKING:
    from textual.app import App

    from workbench.opening import Opened

    _Base = App[int]
else:
    _Base = object


class PaletteCommands(_Base):
    """The palette's commands and the model switch."""

    opened: Opened | None

    if TYPE_CHECKING:  # the app's own actions and helpers, which the palette offers

        def _require_opened(self) -> Opened: ...
        def _show_spend(self) -> None: ...
        def _set_status(self, text: str, *, batch: bool = False) -> None: ...
        def action_view_run(self) -> None: ...
        def action_propose(self, loop: str = "model") -> None: ...
        def action_write_model(self, loop: str = "model") -> None: ...
        def action_history(self) -> None: ...
        def action_edit_plan(self) -> None: ...
        def action_batches(self) -> None: ...
        def action_start_batch(self) -> None: ...
        def action_stop_batch(self) -> None: ...
        def action_export(self) -> None: ...
        def action_toggle_theme(self) -> None: ...

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette offers what the keys of this moment offer: nothing that needs a session before
        one is open, and nothing that leaves the run screen while a run goes on."""
        from screens.run import RunScreen

        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Toggle dark / light", "Switch between the dark and the light theme", self.action_toggle_theme
        )
        if self.opened is None or isinstance(screen, RunScreen):
            return
        commands = [
            (
                "view_run",
                "View run",
                "Back to the running iteration, or to the verdict it reached",
                self.action_view_run,
            ),
            (
                "propose",
                "Propose",
                "Ask the agent for the next proposal (or review the pending one)",
                self.action_propose,
            ),
            (
                "propose",
                "Propose a design step",
                "Ask the agent to change analysis.toml (the design loop)",
                lambda: self.action_propose("design"),
            ),
            (
                "write_model",
                "Write model.py",
                "Write the next model yourself, from the current best",
                self.action_write_model,
            ),
            ("history", "History", "Every iteration with its verdict and decider; compare two", self.action_history),
            ("edit_plan", "Edit plan", "Edit PROBLEM.md, PROGRAM.md and analysis.toml", self.action_edit_plan),
            (
                "batches",
                "Batches",
                "The session's batches: tasks and the effect by partition or setting",
                self.action_batches,
            ),
            (
                "start_batch",
                "Start a batch",
                "Re-run the best analysis per level of a column and/or per value of a setting, on Dask",
                self.action_start_batch,
            ),
            (
                "stop_batch",
                "Stop the batch",
                "Cancel its running tasks; what finished stays recorded",
                self.action_stop_batch,
            ),
            ("export", "Export report", "Write the session report and say where", self.action_export),
        ]
        for action, title, help_text, callback in commands:
            if self.check_action(action, ()):
                yield SystemCommand(title, help_text, callback)
        if hasattr(self.opened.workbench.agent, "use_model") and self.opened.workbench.agent_control is None:
            yield SystemCommand(
                "Switch Claude model",
                f"Ask another model from the next call on (now {getattr(self.opened.workbench.agent, 'model', '?')})",
                self.action_switch_model,
            )

    def action_switch_model(self) -> None:
        """Ask for a Claude model id; the next call uses it and every call records its model."""
        from screens.dialogs import ReasonDialog

        agent = self._require_opened().workbench.agent

        def chosen(model: str | None) -> None:
            if model is None:
                return
            agent.use_model(model)  # type: ignore[attr-defined]
            self._show_spend()
            price = "price unknown: tokens are counted" if getattr(agent, "price", None) is None else "priced"
            self._set_status(f"the agent asks {model} from the next call on ({price})")

        self.push_screen(
            ReasonDialog(
                "Switch Claude model",
                f"Model id for the next calls (now {getattr(agent, 'model', '?')}); e.g. claude-sonnet-4-6, "
                "claude-sonnet-5-5, claude-opus-5-5, claude-haiku-4-5",
                placeholder="claude-sonnet-4-6",
                confirm="Use it",
            ),
            chosen,
        )
