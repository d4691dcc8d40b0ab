"""Start a batch: the partition column and/or the setting to vary, the pooled population's trim,
the loop and how many checks.

A ``ModalScreen`` that dismisses with a checked :class:`~engine.batch.request.BatchRequest` (or
None when cancelled). What the principal typed is checked here, by the engine's own rules
(:func:`~engine.batch.request.parse_vary`, :func:`~engine.batch.plan.check_partition_column`),
before anything starts: a forbidden or post-treatment column is refused with the contract's
reason, and the dialog stays open to fix it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

if TYPE_CHECKING:
    from engine.batch.request import BatchRequest
    from engine.problem import Problem


class StartBatchDialog(ModalScreen["BatchRequest | None"]):
    """Ask what to batch; dismiss with the request once the engine's checks pass."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="batch-dialog.cancel")]

    def __init__(self, problem: Problem) -> None:
        super().__init__()
        self._problem = problem

    def compose(self) -> ComposeResult:
        with Vertical(id="batch-dialog", classes="dialog"):
            yield Label("Start a batch", classes="dialog-title")
            yield Static(self._prompt(), classes="dialog-prompt", markup=False)
            with Horizontal(classes="batch-field"):
                yield Label("partition column")
                yield Input(placeholder="e.g. segment: a task per level", id="batch-by", compact=True)
                # The pooled population of a partitioned batch (`workbench batch --trim`): e in [t, 1 - t].
                yield Label("trim")
                yield Input(placeholder="e.g. 0.05 (pooled)", id="batch-trim", compact=True)
            with Horizontal(classes="batch-field"):
                yield Label("vary NAME=V1,V2,…")
                yield Input(placeholder="e.g. trim=0,0.05,0.1: one task per value", id="batch-vary", compact=True)
            with Horizontal(classes="batch-field"):
                yield Label("loop")
                yield Select(
                    [("design", "design"), ("model", "model")],
                    value="design",
                    allow_blank=False,
                    compact=True,
                    id="batch-loop",
                )
                yield Label("checks")
                yield Select(
                    [("full", "full"), ("estimate only", "estimate")],
                    value="full",
                    allow_blank=False,
                    compact=True,
                    id="batch-checks",
                )
            yield Static("", id="dialog-error", classes="dialog-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Start", variant="primary", id="ok", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#batch-by", Input).focus()

    def _prompt(self) -> str:
        from engine.batch.plan import MAX_LEVELS
        from engine.batch.request import DESIGN_SETTINGS, MODEL_SETTINGS

        contract = self._problem.contract
        frame = self._problem.data
        fixed = dict.fromkeys((*contract.controls, *contract.pretreatment))
        few = [
            c
            for c in fixed
            if c in frame.columns and contract.forbidden_reason(c) is None and frame[c].nunique() <= MAX_LEVELS
        ]
        return (
            "The best analysis again on each level of a column fixed before treatment, at each value of a setting, "
            "or both; each finished task is a commit.\n"
            f"Columns with few levels: {', '.join(few) or 'none'}.\n"
            f"Settings: design {', '.join(DESIGN_SETTINGS)}; model {', '.join(MODEL_SETTINGS)}."
        )

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def submit(self) -> None:
        from engine.errors import BatchError

        try:
            request = self.request()
        except BatchError as exc:
            self.query_one("#dialog-error", Static).update(str(exc))  # the engine's words: the reason and the fix
            return
        self.dismiss(request)

    def request(self) -> BatchRequest:
        """The request the fields describe, checked against the data and the contract.

        Raises
        ------
        BatchError
            Nothing asked, a malformed or unknown setting, a trim without a partition, or a column a
            partition cannot use.
        """
        from engine.batch.plan import check_partition_column
        from engine.batch.request import parse_request

        request = parse_request(
            str(self.query_one("#batch-loop", Select).value),
            self.query_one("#batch-by", Input).value,
            self.query_one("#batch-vary", Input).value,
            str(self.query_one("#batch-checks", Select).value),
            self.query_one("#batch-trim", Input).value.strip() or None,
        )
        if request.by is not None:
            check_partition_column(self._problem.data, self._problem.contract, request.by)
        return request

    @on(Input.Changed)
    @on(Select.Changed)
    def _clear_error(self) -> None:
        self.query_one("#dialog-error", Static).update("")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
