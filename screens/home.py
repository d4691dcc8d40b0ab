"""Home: the problem, its contract, the data, the current best model and every iteration.

The app hands the screen what to show (:meth:`HomeScreen.show`); the screen never reads
the session itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, LoadingIndicator, Static

from screens.format import delta_text, elpd_text, literal, metrics_of, num, one_line, record_effect_text, status_text
from screens.messages import OpenIteration

DRAFT_LINES = 40  # the tail of the coder's file shown while it streams

if TYPE_CHECKING:
    from engine.agents.activity import AgentActivity
    from engine.iteration import IterationRecord
    from engine.opened import Opened
    from engine.problem import Problem
    from engine.stacking import StackedEffect
    from engine.summary import ArmSummary


class HomeScreen(Screen):
    """Problem, contract, data summary, current best, and the iteration list."""

    BINDINGS = [
        Binding("p", "app.propose", "Propose", id="home.propose", tooltip="Ask the agent for the next proposal"),
        Binding(
            "d",
            "app.propose('design')",
            "Design",
            id="home.propose-design",
            tooltip="Ask the agent to change analysis.toml (the design loop)",
        ),
        Binding(
            "o",
            "open_iteration",
            "Open",
            id="home.open",
            show=False,
            tooltip="Open the highlighted iteration (Enter does too)",
        ),
        Binding("b", "open_best", "Best", id="home.best", tooltip="Diagnostics of the current best model"),
        Binding("h", "app.history", "History", id="home.history", tooltip="Every iteration; compare two"),
        Binding("l", "app.edit_plan", "Plan", id="home.edit", tooltip="Edit PROBLEM.md, PROGRAM.md, analysis.toml"),
        Binding(
            "B",
            "app.batches",
            "Batches",
            id="home.batches",
            show=False,  # the footer is full at 80 columns; help (?) and the palette list it
            tooltip="The session's batches (the best analysis per partition or setting, on Dask); n starts one",
        ),
        Binding(
            "m",
            "app.write_model",
            "Write",
            id="home.write-model",
            tooltip="Write the next model.py yourself, from the current best; it is checked and reviewed like any proposal",
        ),
    ]

    def __init__(self) -> None:
        super().__init__(id="home")
        self._records: list[IterationRecord] = []
        self._best: IterationRecord | None = None
        self._stacked: StackedEffect | None = None  # the effect over every scored model (a worker computes it)
        self._ready = False  # on_mount has run: the panels exist
        self._opened: Opened | None = None
        self._pending = False
        self._status = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield LoadingIndicator(id="home-loading")
        with Vertical(id="home-body"):
            yield Static(id="sandbox-banner")
            yield Static(id="question", classes="panel")
            with Horizontal(id="cards"):
                yield Static(id="contract", classes="panel card")
                yield Static(id="data", classes="panel card")
                yield Static(id="best", classes="panel card")
            yield Static(id="draft", classes="panel")
            table: DataTable[Any] = DataTable(id="iterations", cursor_type="row", zebra_stripes=True)
            table.border_title = "iterations"
            yield table
        yield Static("", id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#home-body").display = False
        table = self.query_one("#iterations", DataTable)
        for key, label in (
            ("n", "#"),
            ("status", "verdict"),
            ("elpd", "ELPD ± SE"),
            ("delta", "ΔELPD"),
            ("effect", "effect [94% HDI, else named]"),
            ("hypothesis", "hypothesis"),
        ):
            table.add_column(label, key=key)
        self.query_one("#contract").border_title = "contract"
        self.query_one("#data").border_title = "data"
        self.query_one("#best").border_title = "current best"
        self._ready = True
        # The open worker may finish before this screen mounts: draw what already arrived.
        if self._opened is not None:
            self.show(self._opened, self._records, self._pending)
        self.set_status(self._status)

    # ------------------------------------------------------------------ data down

    def show(self, opened: Opened, records: list[IterationRecord], pending: bool = False) -> None:
        """Fill every panel from an opened session."""
        self._opened, self._records, self._pending = opened, list(records), pending
        if not self._ready:
            return
        problem = opened.problem
        self.query_one("#home-loading").display = False
        self.query_one("#home-body").display = True
        banner = self.query_one("#sandbox-banner", Static)
        warning = opened.sandbox_warning
        banner.display = bool(warning)
        banner.update(literal(f"⚠ {warning}" if warning else ""))
        question = self.query_one("#question", Static)
        question.border_title = literal(problem.title)
        question.update(literal(problem.question))
        self.query_one("#contract", Static).update(contract_renderable(problem))
        self.query_one("#data", Static).update(data_renderable(opened.summary, problem.contract.outcome))
        self.show_records(records, pending)

    def show_stacked(self, stacked: StackedEffect | None) -> None:
        """The stacked estimate under the best model (computed in a worker after each scored model)."""
        self._stacked = stacked
        if self._ready:
            self.query_one("#best", Static).update(best_renderable(self._best, stacked))

    def show_nothing_open(self) -> None:
        """After a failed open: stop the spinner and say what to do (the open error is in the status line)."""
        if not self._ready:
            return
        self.query_one("#home-loading").display = False
        body = self.query_one("#home-body")
        body.display = True
        for panel in ("#cards", "#iterations"):
            self.query_one(panel).display = False
        question = self.query_one("#question", Static)
        question.border_title = "nothing is open"
        question.update(
            literal(
                "No problem or session is open, so there is nothing to propose. Press q to quit, then run "
                "`workbench open problems/<name>` for a new session or `workbench open sessions/<id>` to resume one."
            )
        )

    def show_records(self, records: list[IterationRecord], pending: bool = False) -> None:
        self._records = sorted(records, key=lambda r: r.number)
        self._pending = pending
        if not self._ready:
            return
        self._best = best_record(self._records)
        self.query_one("#best", Static).update(best_renderable(self._best, self._stacked))
        table = self.query_one("#iterations", DataTable)
        table.clear()
        for record in reversed(self._records):  # newest first
            m = metrics_of(record)
            table.add_row(
                str(record.number),
                status_text(record.status),
                elpd_text(m),
                delta_text(m),
                record_effect_text(record),
                literal(
                    one_line(("design: " if record.proposal.loop == "design" else "") + record.proposal.hypothesis, 70)
                ),
                key=str(record.number),
            )
        count = len(self._records)
        title = f"iterations ({count})" if count else "iterations — none yet: press p for the first proposal"
        if pending:
            title += " · a proposal is waiting for review (p)"
        table.border_title = title

    def show_agent(self, activity: AgentActivity | None) -> None:
        """While the coder streams a file, its tail in a panel above the iterations; None hides it."""
        if not self._ready:
            return
        panel = self.query_one("#draft", Static)
        if activity is None or not activity.draft:
            panel.display = False
            return
        lines = activity.draft.splitlines()[-DRAFT_LINES:]
        panel.border_title = literal(f"{activity.role} is writing — {activity.line().split(': ', 1)[-1]} (c cancels)")
        panel.update(literal("\n".join(lines)))
        panel.display = True

    def show_spend(self, text: str) -> None:
        """The agent's spend so far (language-model agents only), under the question."""
        if self._ready:
            self.query_one("#question", Static).border_subtitle = literal(text) if text else None

    def set_status(self, text: str) -> None:
        self._status = text
        if self._ready:
            self.query_one("#status", Static).update(literal(text))  # may quote errors and verdict reasons

    # ------------------------------------------------------------------ actions

    def _highlighted(self) -> IterationRecord | None:
        table = self.query_one("#iterations", DataTable)
        if not self._records or table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((r for r in self._records if str(r.number) == key), None)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_iteration()

    def action_open_iteration(self) -> None:
        record = self._highlighted()
        if record is not None:
            self.post_message(OpenIteration(record))

    def action_open_best(self) -> None:
        if self._best is not None:
            self.post_message(OpenIteration(self._best))
        else:
            self.notify("No model has been kept yet.", severity="warning")

    @on(DataTable.RowSelected, "#iterations")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_iteration()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_iteration":
            return True if self._records else None
        if action == "open_best":
            return True if self._best is not None else None
        return True


# --------------------------------------------------------------------------- renderables


def best_record(records: list[IterationRecord]) -> IterationRecord | None:
    """The head of the model loop's kept line: the latest kept iteration."""
    kept = [r for r in records if r.verdict is not None and r.verdict.kind == "kept" and r.proposal.loop == "model"]
    return max(kept, key=lambda r: r.number) if kept else None


def _kv() -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True, min_width=9)
    table.add_column(ratio=1)  # the keep rule and the gates wrap; long lists end in an ellipsis
    return table


def contract_renderable(problem: Problem) -> Table:
    c = problem.contract
    table = _kv()
    table.add_row("asks", literal(f"{c.estimand} of {c.treatment} on {c.outcome} ({c.outcome_type})"))
    table.add_row("controls", Text(f"{len(c.controls)}: " + ", ".join(c.controls), no_wrap=True, overflow="ellipsis"))
    if c.forbidden:
        forbidden = Text(no_wrap=True, overflow="ellipsis")
        for i, f in enumerate(c.forbidden):
            if i:
                forbidden.append(", ")
            forbidden.append(f.name, style="red")
            forbidden.append(f" ({f.reason})", style="dim")
        table.add_row("forbidden", forbidden)
    else:
        table.add_row("forbidden", Text("none", style="dim"))
    g = problem.gates
    band = f"{g.elpd_se_multiple:g} SE"
    table.add_row("keep", f"ΔELPD > {band}; within ±{band}: {g.tie_break.short()}")
    table.add_row("gates", f"R̂ < {g.rhat_max:g} · ESS > {g.ess_bulk_min:g} · div. < {g.divergence_rate_max:.1%}")
    return table


def data_renderable(summary: ArmSummary, outcome: str) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{summary.n} units", style="bold")
    text.append(f"\n{summary.n_treated} treated, {summary.n_control} control")
    text.append(f"\n{outcome} mean {summary.outcome_mean_treated:.3g} vs {summary.outcome_mean_control:.3g}")
    text.append(f"\nnaive diff. {summary.naive_difference:+.3g}")
    text.append(f"\n{len(summary.continuous)} continuous, {len(summary.binary)} binary", style="dim")
    return text


def best_renderable(best: IterationRecord | None, stacked: StackedEffect | None = None) -> Text:
    """The best model's ELPD, effect and interval, R-hat, hypothesis; the stacked effect when there is one."""
    if best is None or best.verdict is None:
        return Text("No model kept yet.\nApprove a proposal to sample the first one.", style="dim")
    m = best.verdict.metrics
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"#{best.number} ", style="bold")
    text.append("ELPD ", style="bold")
    text.append(elpd_text(m))
    if m.effect is not None:
        text.append(f"\n{m.effect.estimand} ", style="bold")
        text.append(f"{m.effect.mean:.2f} (sd {m.effect.sd:.2f})")
        text.append(f"\n{m.effect.interval_name} ", style="bold")
        text.append(f"[{m.effect.hdi_low:.2f}, {m.effect.hdi_high:.2f}]")
    text.append("\nR̂ max ", style="bold")
    text.append(num(m.rhat_max, ".3f"))
    if stacked is not None:
        s = stacked.effect
        text.append("\nstacked ", style="bold")
        top = stacked.weights[0]
        if stacked.is_only(best.number):
            text.append(f"= #{best.number} (no other model adds weight)", style="dim")
        else:
            text.append(f"{s.mean:.2f} [{s.hdi_low:.2f}, {s.hdi_high:.2f}]")
            # its own line: after the interval it was cut off at 80 columns
            text.append(f"\n  over {len(stacked.weights)} models, #{top.number} {top.weight:.0%}", style="dim")
    text.append("\n" + one_line(best.proposal.hypothesis, 200), style="dim")
    return text
