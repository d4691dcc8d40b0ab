"""Verdict and diagnostics of one iteration: what decided it, the convergence table worst
first, divergences, Pareto k, and the plots; plus its diff and its full record.

Per-draw arrays (the effect's draws, Pareto k by observation) are loaded by an app worker
after the screen shows and arrive through :meth:`VerdictScreen.set_arrays`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, ScrollableContainer, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static, TabbedContent, TabPane

from screens.format import delta_text, diff_text, effect_text, elpd_text, literal, num, status_text
from screens.plots import EffectDrawsPlot, ElpdPlot, ForestPlot, ParetoKPlot

if TYPE_CHECKING:
    from engine.design.critic import Critique
    from engine.design.results import DesignResult
    from engine.iteration import IterationRecord
    from engine.problem import Gates


@dataclass(frozen=True)
class IterationArrays:
    """Per-draw and per-observation arrays of one iteration, when the harness saved them."""

    effect_draws: Any = None  # (chains, draws) of the estimand
    pareto_k: Any = None  # (observations,)
    note: str = ""  # why something is missing


class VerdictScreen(Screen):
    """One iteration in full: verdict, diagnostics, plots, diff, record."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="verdict.back"),
        Binding("p", "app.propose", "Propose", id="verdict.next", tooltip="Ask the agent for the next proposal"),
        Binding("1", "tab('verdict')", "Verdict", id="verdict.tab-verdict", show=False),
        Binding("2", "tab('plots')", "Plots", id="verdict.tab-plots"),
        Binding("3", "tab('diff')", "Diff", id="verdict.tab-diff"),
        Binding("4", "tab('record')", "Record", id="verdict.tab-record", tooltip="The record as committed (JSON)"),
        Binding("t", "toggle_trace", "Trace/rank", id="verdict.trace-rank", show=False),
        Binding(
            "w",
            "toggle_proposal",
            "Ran/proposed",
            id="verdict.ran-or-proposed",
            show=False,
            tooltip="Diff tab: the code that ran, or the agent's proposal before the principal's edit",
        ),
        Binding("y", "design", "Design", id="verdict.design", tooltip="Design diagnostics and the critic"),
    ]

    def __init__(
        self,
        record: IterationRecord,
        records: list[IterationRecord],
        gates: Gates | None = None,
        arrays: IterationArrays | None = None,
    ) -> None:
        super().__init__()
        self.record = record
        self._show_proposal = False  # the Diff tab shows what ran unless asked for the agent's proposal
        self.records = records
        self.gates = gates
        self.arrays = arrays
        self._ready = False

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        from engine import plots

        r = self.record
        se_multiple = self.gates.elpd_se_multiple if self.gates else 2.0
        yield Header()
        yield Static(self._banner(), id="verdict-banner")
        with TabbedContent(id="verdict-tabs"):
            with TabPane("Verdict", id="verdict"):
                with VerticalScroll(id="verdict-body"):
                    yield Static(self._decision_text(), id="decision")
                    yield Static(self._review_text(), id="review")  # the critic's line, seen without scrolling
                    yield Static(self._error_text(), id="crash")
                    yield Static(self._metrics(), id="metrics")
                    yield Static(self._gates(), id="gates")
                    table: DataTable[Any] = DataTable(id="convergence", zebra_stripes=True, cursor_type="row")
                    table.border_title = "convergence: failing rows first, then highest R-hat"
                    yield table
                    yield Static(self._pareto_counts(), id="pareto-counts")
            with TabPane("Plots", id="plots"):
                with Grid(id="plot-grid"):
                    rule = f"; {self.gates.keep_rule()}" if self.gates else ""
                    yield ElpdPlot(
                        plots.elpd_trajectory(self.records, se_multiple),
                        title=f"ELPD by iteration (green: kept){rule}",
                        empty="no sampled iteration yet",
                        id="plot-elpd",
                    )
                    yield ForestPlot(
                        plots.effect_forest(self.records),
                        title="effect across kept iterations",
                        empty="nothing kept yet",
                        id="plot-forest",
                    )
                    sampled = r.verdict is not None and r.verdict.metrics.effect is not None
                    waiting = "loading…" if sampled else f"not sampled: #{r.number} produced no draws ({r.status})"
                    yield EffectDrawsPlot(
                        None, title=f"trace of the effect (#{r.number})", empty=waiting, id="plot-trace"
                    )
                    yield ParetoKPlot(None, title=f"Pareto k (#{r.number})", empty=waiting, id="plot-pareto")
            with TabPane("Diff", id="diff"):
                with ScrollableContainer():
                    yield Static(self._diff(), id="verdict-diff")
            with TabPane("Record", id="record"):
                with VerticalScroll():
                    yield Static(self._record_json(), id="record-json")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._ready = True
        for panel in ("#crash", "#metrics", "#gates", "#pareto-counts", "#review"):
            widget = self.query_one(panel, Static)
            widget.display = bool(str(widget.render()).strip())
        self._fill_convergence()
        if self.arrays is not None:
            self.set_arrays(self.arrays)

    def _review_text(self) -> Text:
        """The critics' words on this verdict: the offline rules, and the agent's own review if it wrote one."""
        text = Text()
        review = self.record.model_review
        if review is not None:
            triangulation = review.triangulation
            loud = triangulation is not None and triangulation.level != "agree"
            text.append("critic: ", style="bold")
            text.append(
                f"{review.credibility} credibility", style="bold red" if review.credibility == "low" else "bold"
            )
            text.append(" — " + " ".join(review.reasons) + "\n")
            if triangulation is not None:
                text.append(triangulation.message + "\n", style="bold red" if loud else "")
            text.append(review.estimand_note + "\n")
        agent_review = self.record.agent_review
        if agent_review is not None:
            text.append("agent's review: ", style="bold")
            text.append((agent_review.text or f"unavailable ({agent_review.error})") + "\n")
        text.rstrip()
        return text

    def _banner(self) -> Text:
        r = self.record
        text = Text()
        text.append(f"iteration {r.number} ", style="bold")
        text.append_text(status_text(r.status))
        text.append(f" · {r.proposal.hypothesis}")
        return text

    def _decision_text(self) -> Text:
        from engine import plots

        r, d = self.record, self.record.decision
        text = Text()
        if r.verdict is not None:
            se_multiple = self.gates.elpd_se_multiple if self.gates else 2.0
            text.append("verdict: ", style="bold")
            text.append_text(status_text(r.verdict.kind.value))
            text.append(f" — {r.verdict.reason}\n")
            text.append("decided by: ", style="bold")
            text.append(plots.deciding_rule(r.verdict, se_multiple) + "\n")
        else:
            text.append("not run: ", style="bold")
            text.append_text(status_text(d.kind.value))
            text.append("\n")
        text.append("decision: ", style="bold")
        text.append(f"{d.kind.value} by {d.decider}")
        if d.edited:
            text.append(" (edited before approving)", style="magenta")
        if d.reason:
            text.append(f" — “{d.reason}”")
        if d.override:
            text.append("\noverride: ", style="bold yellow")
            text.append(d.override)
        blockers = [f for f in r.findings if f.is_blocker]
        if r.findings:
            text.append(
                f"\nguard: {len(blockers)} blocker(s), {len(r.findings) - len(blockers)} warning(s)", style="dim"
            )
        return text

    def _error_text(self) -> Text:
        """For a crash: the exception and the model's frames the harness kept."""
        crash = self.record.crash
        if crash is None:
            return Text("")
        text = Text()
        text.append("error: ", style="bold red")
        text.append(crash.type or "unknown")
        if crash.traceback:
            text.append("\n" + crash.traceback.rstrip(), style="dim")
        return text

    def _metrics(self) -> Table | Text:
        r = self.record
        if r.verdict is None:
            return Text("")
        m = r.verdict.metrics
        if all(v is None for v in (m.elpd, m.rhat_max, m.effect, m.divergences)):
            return Text("")  # nothing was measured (a crash before the trace)
        table = Table(title="measured", title_justify="left", show_header=False, box=None, padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        table.add_column(style="bold")
        table.add_column()
        divergences = "—" if m.divergences is None else f"{m.divergences}"
        if m.divergence_rate is not None:
            divergences += f" ({m.divergence_rate:.2%})"
        table.add_row("ELPD", elpd_text(m), "R̂ max", num(m.rhat_max, ".3f"))
        table.add_row("ΔELPD vs best", delta_text(m), "ESS bulk min", num(m.ess_bulk_min, ".0f"))
        table.add_row("p_loo", num(m.p_loo), "ESS tail min", num(m.ess_tail_min, ".0f"))
        table.add_row("effect", effect_text(m.effect), "divergences", divergences)
        table.add_row(
            "effect sd",
            num(m.effect.sd if m.effect else None, ".3f"),
            "Pareto k > 0.7",
            "—" if m.pareto_k_bad is None else f"{m.pareto_k_bad} (max {num(m.pareto_k_max, '.2f')})",
        )
        total = self.record.timings.get("total")
        if total is not None:
            table.add_row("time", f"{total:.1f} s", "draws", num(m.n_draws, ".0f"))
        return table

    def _gates(self) -> Table | Text:
        r = self.record
        if r.verdict is None or not r.verdict.gates:
            return Text("")
        table = Table(title="gates", title_justify="left", box=None, padding=(0, 2), header_style="bold")
        for col in ("gate", "value", "needs", ""):
            table.add_column(col)
        for g in r.verdict.gates:
            op = "<" if g.name in ("rhat", "divergence_rate") else ">"
            table.add_row(
                g.name,
                f"{g.value:.4g}",
                f"{op} {g.threshold:g}",
                Text("ok", style="green") if g.passed else Text("FAILED", style="bold red"),
            )
        return table

    def _fill_convergence(self) -> None:
        from engine import plots

        table = self.query_one("#convergence", DataTable)
        rhat_max = self.gates.rhat_max if self.gates else 1.01
        ess_min = self.gates.ess_bulk_min if self.gates else 400.0
        rows = plots.convergence_rows(self.record.convergence, rhat_max, ess_min)
        if not rows:
            table.display = False
            return
        for label in ("parameter", "R̂", "ESS bulk", "ESS tail", "fails"):
            table.add_column(label)
        for row in rows:
            bad = bool(row.failed)
            table.add_row(
                Text(row.parameter, style="bold red" if bad else ""),
                Text(num(row.rhat, ".3f"), style="red" if "rhat" in row.failed else ""),
                Text(num(row.ess_bulk, ".0f"), style="red" if "ess_bulk" in row.failed else ""),
                Text(num(row.ess_tail, ".0f"), style="red" if "ess_tail" in row.failed else ""),
                literal(", ".join(row.failed)),
            )

    def _pareto_counts(self, k: Any = None) -> Text:
        from engine import plots

        if k is None:
            return Text("")
        c = plots.pareto_k_counts(k)
        text = Text("Pareto k: ", style="bold")
        text.append(f"{c.good} good (≤ 0.5), {c.ok} ok (≤ 0.7), ")
        text.append(f"{c.bad} bad (≤ 1)", style="yellow" if c.bad else "")
        text.append(", ")
        text.append(f"{c.very_bad} very bad", style="bold red" if c.very_bad else "")
        return text

    def _diff(self) -> Text:
        """What ran, first; the agent's own proposal one key (w) away when the principal edited it."""
        r = self.record
        dark = self.app.current_theme.dark if self.is_attached else True
        if self._show_proposal and r.edited:
            head = Text("The agent's proposal, before the principal's edit (w: what ran)\n\n", style="bold yellow")
            diff = r.proposal.diff
        elif r.edited:
            head = Text(
                "What ran: the principal's edit of the agent's proposal (w: the agent's proposal)\n\n", style="bold"
            )
            diff = r.ran_diff
        else:
            head = Text("What ran: the agent's proposal as written\n\n", style="bold")
            diff = r.ran_diff
        if not diff.strip():
            return head + Text("(no change)", style="dim")
        return head + diff_text(diff, dark=dark)

    def action_toggle_proposal(self) -> None:
        if not self.record.edited:
            self.notify("The principal did not edit this proposal: what ran is what the agent wrote.")
            return
        self._show_proposal = not self._show_proposal
        self.query_one("#verdict-diff", Static).update(self._diff())

    def _record_json(self) -> Any:
        from rich.syntax import Syntax

        from engine.jsonable import to_json

        return Syntax(to_json(self.record), "json", theme="ansi_dark", background_color="default", word_wrap=True)

    # ------------------------------------------------------------------ arrays

    def set_arrays(self, arrays: IterationArrays) -> None:
        """Draw the per-draw plots once the app's worker has loaded the arrays."""
        from engine import plots

        self.arrays = arrays
        if not self._ready:
            return  # on_mount draws them
        note = arrays.note or "not saved"
        effect = self.query_one("#plot-trace", EffectDrawsPlot)
        effect._empty = note
        draws = arrays.effect_draws
        effect.set_series((plots.trace_series(draws), plots.rank_series(draws)) if draws is not None else None)
        pareto = self.query_one("#plot-pareto", ParetoKPlot)
        pareto._empty = note
        pareto.set_series(plots.pareto_k_series(arrays.pareto_k) if arrays.pareto_k is not None else None)
        counts = self.query_one("#pareto-counts", Static)
        counts.update(self._pareto_counts(arrays.pareto_k))
        counts.display = arrays.pareto_k is not None

    # ------------------------------------------------------------------ actions

    def action_tab(self, tab: str) -> None:
        self.query_one("#verdict-tabs", TabbedContent).active = tab

    def action_toggle_trace(self) -> None:
        self.query_one("#plot-trace", EffectDrawsPlot).toggle()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "design":
            return design_of(self.record) is not None  # hidden for model-loop iterations
        return True

    def action_design(self) -> None:
        opened = design_of(self.record)
        if opened is not None:
            from screens.design import DesignScreen

            result, critique = opened
            self.app.push_screen(DesignScreen(result, critique, f"iteration {self.record.number}"))

    def action_back(self) -> None:
        self.app.pop_screen()


def design_of(record: IterationRecord) -> tuple[DesignResult, Critique | None] | None:
    """The design result and critic review a design-loop record carries, when it ran."""
    return (record.design, record.critique) if record.design is not None else None
