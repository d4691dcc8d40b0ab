"""History: every iteration of the session with its verdict and decider; open one, or mark
two with space and compare them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from screens.format import (
    decider_text,
    delta_text,
    elpd_text,
    literal,
    metrics_of,
    one_line,
    record_effect_text,
    status_text,
)
from screens.messages import OpenIteration

if TYPE_CHECKING:
    from engine.iteration import IterationRecord


class HistoryScreen(Screen):
    """All iterations, newest first."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="history.back"),
        Binding("o", "open", "Open", id="history.open", tooltip="Verdict, diagnostics, diff and record"),
        Binding("space", "mark", "Mark", id="history.mark", tooltip="Mark for comparison (two at most)"),
        Binding(
            "equals_sign",
            "compare",
            "Compare",
            id="history.compare",
            key_display="=",
            tooltip="Compare the two marked iterations",
        ),
    ]

    def __init__(self, records: list[IterationRecord]) -> None:
        super().__init__()
        self.records = sorted(records, key=lambda r: r.number)
        self.marked: list[int] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._summary(), id="history-summary")
        table: DataTable[Any] = DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        table.border_title = "iterations, newest first"
        yield table
        yield Footer(compact=True)

    def on_mount(self) -> None:
        from engine.report.costs import record_calls

        table = self.query_one("#history-table", DataTable)
        # A cost column only where a language model was asked: offline sessions cost nothing.
        priced = any(record_calls(r) for r in self.records)
        for key, label in (
            ("mark", " "),
            ("n", "#"),
            ("status", "verdict"),
            ("decision", "decision"),
            ("decider", "decider"),
            ("elpd", "ELPD ± SE"),
            ("delta", "ΔELPD"),
            ("effect", "effect [94% HDI]"),
            *((("cost", "agent cost"),) if priced else ()),
            ("hypothesis", "hypothesis / reason"),
        ):
            table.add_column(label, key=key)
        for record in reversed(self.records):
            m = metrics_of(record)
            note = ("design: " if record.proposal.loop == "design" else "") + record.proposal.hypothesis
            if record.decision.reason:
                note = f"{note} — “{record.decision.reason}”"
            table.add_row(
                "",
                str(record.number),
                status_text(record.status),
                record.decision.kind.value,
                literal(decider_text(record)),
                elpd_text(m),
                delta_text(m),
                record_effect_text(record),
                *((literal(_cost_text(record_calls(record))),) if priced else ()),
                literal(one_line(note, 90)),
                key=str(record.number),
            )
        table.focus()

    def _summary(self) -> Text:
        counts: dict[str, int] = {}
        for r in self.records:
            counts[r.status] = counts.get(r.status, 0) + 1
        text = Text(f"{len(self.records)} iterations", style="bold")
        for status in ("kept", "discarded", "failed_gate", "crashed", "cancelled", "rejected", "skipped"):
            if counts.get(status):
                text.append(" · ")
                text.append_text(status_text(status))
                text.append(f" {counts[status]}")
        text.append("   (space marks two, = compares)", style="dim")
        return text

    def _highlighted(self) -> IterationRecord | None:
        table = self.query_one("#history-table", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((r for r in self.records if str(r.number) == key), None)

    @on(DataTable.RowSelected, "#history-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        record = self._highlighted()
        if record is not None:
            self.post_message(OpenIteration(record))

    def action_mark(self) -> None:
        record = self._highlighted()
        if record is None:
            return
        table = self.query_one("#history-table", DataTable)
        if record.number in self.marked:
            self.marked.remove(record.number)
        else:
            self.marked.append(record.number)
            if len(self.marked) > 2:
                dropped = self.marked.pop(0)
                table.update_cell(str(dropped), "mark", "")
        table.update_cell(
            str(record.number), "mark", Text("●", style="bold cyan") if record.number in self.marked else ""
        )
        self.refresh_bindings()

    def action_compare(self) -> None:
        from screens.compare import CompareScreen

        if len(self.marked) != 2:
            return
        a, b = sorted(self.marked)
        by_number = {r.number: r for r in self.records}
        self.app.push_screen(CompareScreen(by_number[a], by_number[b]))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "compare":
            return True if len(self.marked) == 2 else None
        if action in ("open", "mark"):
            return True if self.records else None
        return True

    def action_back(self) -> None:
        self.app.pop_screen()


def _cost_text(calls: tuple) -> str:  # tuple of AgentCall
    """One iteration's agent calls: their cost, or their tokens when a price is unknown."""
    if not calls:
        return "—"
    costs = [c.cost_usd for c in calls]
    if any(c is None for c in costs):
        tokens = sum(
            c.input_tokens + c.cache_read_input_tokens + c.cache_creation_input_tokens + c.output_tokens for c in calls
        )
        return f"{tokens:,} tok, price unknown"
    return f"${sum(costs):.3f}"
