"""Batches: every batch of the session, newest first; the selected one's tasks and its effect along the
partition or setting, with intervals.

The app reads the batches from the session's history in a worker and hands them down
(:meth:`BatchScreen.show_batches`); a running batch's line comes down the same way
(:meth:`BatchScreen.show_status`). Starting and stopping a batch are the app's actions.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from screens.format import literal, num, one_line
from screens.plots import BatchEffectPlot

if TYPE_CHECKING:
    from engine.batch.request import BatchRequest
    from engine.batch.results import BatchProgress, TaskResult
    from engine.batch.store import StoredBatch

RATING_STYLES = {
    "fully_satisfactory": "bold green",
    "satisfactory_with_caveats": "yellow",
    "not_satisfactory": "bold red",
    "passed": "green",
    "failed_gate": "bold dark_orange",
}


@dataclass
class ActiveBatch:
    """The batch the app is running: what was asked, its stop switch, and its latest counts."""

    request: BatchRequest
    stop: threading.Event = field(default_factory=threading.Event)
    progress: BatchProgress | None = None
    received_at: float = 0.0  # monotonic time the latest progress arrived (the ETA counts down from it)

    def receive(self, progress: BatchProgress) -> bool:
        """Take the latest counts; True when a task was recorded since the last ones (or the plan just came)."""
        before = self.progress
        self.progress = progress
        self.received_at = time.monotonic()
        return before is None or before.batch_id != progress.batch_id or before.done != progress.done

    @property
    def batch_id(self) -> str | None:
        return self.progress.batch_id if self.progress is not None else None

    def line(self, *, short: bool = False) -> str:
        """``batch <id>: 3/8 done · 2 running · 0 failed · ETA 40 s``; ``short`` (the header): ``batch 3/8 · …``."""
        p = self.progress
        if p is None:
            text = "batch: starting the Dask cluster" + ("" if short else f" and planning ({self.request.describe})…")
        else:
            eta = "ETA —"
            if p.eta_s is not None:
                eta = f"ETA {_duration(max(0.0, p.eta_s - (time.monotonic() - self.received_at)))}"
            counts = f"{p.done}/{p.total}" if short else f"{p.batch_id}: {p.done}/{p.total} done"
            text = f"batch {counts} · {p.running} running · {p.failed} failed · {eta}"
        return text + (" · stopping…" if self.stop.is_set() else "")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class BatchScreen(Screen):
    """The session's batches, the selected batch's tasks, and its effect plot."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="batch.back"),
        Binding(
            "n",
            "app.start_batch",
            "New batch",
            id="batch.start",
            tooltip="Re-run the best analysis per level of a column and/or per value of a setting, on Dask",
        ),
        Binding(
            "s",
            "app.stop_batch",
            "Stop batch",
            id="batch.stop",
            tooltip="Stop the running batch: finished tasks stay recorded; starting the same batch again resumes it",
        ),
    ]

    def __init__(self, batches: list[StoredBatch] | None = None, *, status: str = "") -> None:
        super().__init__()
        self.batches: list[StoredBatch] | None = None  # newest first; None until the app has read them
        self.selected: str | None = None  # the id whose tasks and plot are shown
        self._pending = batches
        self._status = status
        self._ready = False  # on_mount has run: the tables have their columns

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="batch-status")
        listing: DataTable[Any] = DataTable(id="batch-list", cursor_type="row", zebra_stripes=True)
        listing.border_title = "batches, newest first"
        yield listing
        tasks: DataTable[Any] = DataTable(id="batch-tasks", cursor_type="row", zebra_stripes=True)
        tasks.border_title = "tasks"
        yield tasks
        yield BatchEffectPlot(id="batch-plot", empty="no estimate recorded yet")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        listing = self.query_one("#batch-list", DataTable)
        for key, label in (
            ("id", "batch"),
            ("recorded", "recorded"),
            ("asked", "asked"),
            ("population", "population"),
            ("ran", "ran"),
        ):
            listing.add_column(label, key=key)
        _task_columns(self.query_one("#batch-tasks", DataTable))
        self._ready = True
        self.show_status(self._status)
        if self._pending is not None:
            self.show_batches(self._pending)
        listing.focus()

    # ------------------------------------------------------------------ data down

    def show_status(self, text: str) -> None:
        """The running batch's line, or what the keys do when none runs."""
        self._status = text
        if self._ready:
            shown = text or "n starts a batch: the best analysis per level of a column and/or value of a setting"
            self.query_one("#batch-status", Static).update(literal(shown))

    def show_batches(self, batches: list[StoredBatch], select: str | None = None) -> None:
        """List the batches (given oldest first, shown newest first); keep the selection, or move it to ``select``."""
        if not self._ready:
            self._pending = batches
            return
        self.batches = sorted(batches, key=lambda b: b.plan.created_at, reverse=True)
        listing = self.query_one("#batch-list", DataTable)
        keep = select or self.selected
        listing.clear()
        for batch in self.batches:
            plan = batch.plan
            populations = "; ".join(p.rule for p in plan.populations) or "each task's own data"
            listing.add_row(
                literal(plan.id),
                f"{len(batch.results)}/{len(plan.tasks)}",
                literal(f"{plan.request.describe}, {plan.request.checks.value} checks"),
                literal(one_line(populations, 70)),
                literal(plan.source_from),
                key=plan.id,
            )
        count = len(self.batches)
        listing.border_title = (
            f"batches ({count}), newest first" if count else "batches — none yet: n starts one (B from home)"
        )
        ids = [b.plan.id for b in self.batches]
        target = keep if keep in ids else (ids[0] if ids else None)
        if target is not None:
            listing.move_cursor(row=ids.index(target))
        self._show(target)

    # ------------------------------------------------------------------ the selected batch

    @on(DataTable.RowHighlighted, "#batch-list")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        key = event.row_key.value if event.row_key is not None else None
        if key != self.selected:
            self._show(key)

    def _show(self, batch_id: str | None) -> None:
        from engine.batch.series import effect_series

        self.selected = batch_id
        batch = next((b for b in self.batches or [] if b.plan.id == batch_id), None)
        tasks = self.query_one("#batch-tasks", DataTable)
        tasks.clear(columns=True)  # columns fit the batch shown, not the widest one shown before
        _task_columns(tasks)
        plot = self.query_one("#batch-plot", BatchEffectPlot)
        if batch is None:
            tasks.border_title = "tasks"
            plot.set_series(None)
            return
        for task in batch.plan.tasks:
            tasks.add_row(*_task_cells(task.key, task.estimand_label, task.n_units, batch.results.get(task.key)))
        tasks.border_title = f"tasks of {batch.plan.id}: {len(batch.results)} of {len(batch.plan.tasks)} recorded"
        plot.set_series(effect_series(batch))

    # ------------------------------------------------------------------ actions

    def action_back(self) -> None:
        self.app.pop_screen()


def _task_columns(table: DataTable[Any]) -> None:
    for key, label in (
        ("key", "task"),
        ("estimand", "estimand"),
        ("estimate", "estimate"),
        ("interval", "interval"),
        ("units", "units"),
        ("rating", "rating"),
        ("credible", "sanity net"),
        ("attempt", "attempt"),
        ("note", "note"),
    ):
        table.add_column(label, key=key)


def _task_cells(key: str, estimand: str, n_units: int, result: TaskResult | None) -> tuple[Text | str, ...]:
    """One task's row: its estimate, interval, units and how far to trust it."""
    if result is None:
        return (literal(key), estimand, "—", Text("not recorded yet", style="dim"), f"{n_units:,}", "", "", "", "")
    e = result.effect
    attempt = str(result.attempt) if result.attempt > 1 else ""
    if e is None:
        return (
            literal(key),
            estimand,
            "—",
            Text("failed", style="bold red"),
            f"{result.n_units:,}",
            Text(result.status.value, style="bold red"),
            "",
            attempt,
            literal(one_line(result.reason, 120)),
        )
    credible: Text | str = "—"
    if result.credible is True:
        credible = Text("credible", style="green")
    elif result.credible is False:
        credible = Text("NOT CREDIBLE", style="bold red")
    note = "" if result.satisfactory else one_line(result.reason, 120)
    return (
        literal(key),
        e.estimand,
        num(e.mean, ".4g"),
        f"[{num(e.hdi_low, '.4g')}, {num(e.hdi_high, '.4g')}] {e.interval_name}",
        f"{result.n_units:,}",
        Text(result.rating.replace("_", " "), style=RATING_STYLES.get(result.rating, "")),
        credible,
        attempt,
        literal(note),
    )
