"""Compare two iterations: their numbers side by side, and the diff between their files."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from screens.format import (
    decider_text,
    delta_text,
    diff_text,
    effect_text,
    elpd_text,
    literal,
    metrics_of,
    num,
    status_text,
)

if TYPE_CHECKING:
    from engine.iteration import IterationRecord


def comparison_table(a: IterationRecord, b: IterationRecord) -> Table:
    table = Table(box=None, padding=(0, 2), header_style="bold", expand=False)
    table.add_column("")
    table.add_column(f"#{a.number}")
    table.add_column(f"#{b.number}")
    ma, mb = metrics_of(a), metrics_of(b)

    def eff(m):  # noqa: ANN001, ANN202
        return effect_text(m.effect if m else None)

    def width(m):  # noqa: ANN001, ANN202
        return num(m.effect.width if m and m.effect else None, ".2f")

    rows = [
        ("verdict", status_text(a.status), status_text(b.status)),
        (
            "decision",
            literal(f"{a.decision.kind.value} by {decider_text(a)}"),
            literal(f"{b.decision.kind.value} by {decider_text(b)}"),
        ),
        ("ELPD", elpd_text(ma), elpd_text(mb)),
        ("ΔELPD at the time", delta_text(ma), delta_text(mb)),
        ("effect", eff(ma), eff(mb)),
        ("HDI width", width(ma), width(mb)),
        ("R̂ max", num(ma.rhat_max if ma else None, ".3f"), num(mb.rhat_max if mb else None, ".3f")),
        ("ESS bulk min", num(ma.ess_bulk_min if ma else None, ".0f"), num(mb.ess_bulk_min if mb else None, ".0f")),
        ("divergences", num(ma.divergences if ma else None, ".0f"), num(mb.divergences if mb else None, ".0f")),
        ("Pareto k > 0.7", num(ma.pareto_k_bad if ma else None, ".0f"), num(mb.pareto_k_bad if mb else None, ".0f")),
        ("agent", literal(a.proposal.agent), literal(b.proposal.agent)),
    ]
    for label, left, right in rows:
        table.add_row(Text(label, style="bold"), left, right)
    return table


class CompareScreen(Screen):
    """Iteration ``a`` against iteration ``b``: metrics, hypotheses, and ``b``'s file as a diff of ``a``'s."""

    BINDINGS = [Binding("escape", "back", "Back", id="compare.back")]

    def __init__(self, a: IterationRecord, b: IterationRecord) -> None:
        super().__init__()
        self.a = a
        self.b = b

    def compose(self) -> ComposeResult:
        from engine.records import unified_diff

        a, b = self.a, self.b
        yield Header()
        with ScrollableContainer(id="compare-body"):
            yield Static(
                Text.assemble(
                    (f"#{a.number}: ", "bold"),
                    a.proposal.hypothesis,
                    "\n",
                    (f"#{b.number}: ", "bold"),
                    b.proposal.hypothesis,
                ),
                id="compare-hypotheses",
            )
            yield Static(comparison_table(a, b), id="compare-table")
            if a.proposal.loop == b.proposal.loop:
                diff = unified_diff(a.source, b.source, a.proposal.file)  # the code that ran, edits included
                body = (
                    diff_text(diff, dark=self.app.current_theme.dark)
                    if diff.strip()
                    else Text("(same file)", style="dim")
                )
                title = f"{a.proposal.file}: #{a.number} → #{b.number}"
            else:
                body = Text("The two iterations edit different files (model loop and design loop).", style="dim")
                title = "files"
            pane = Static(body, id="compare-diff")
            pane.border_title = literal(title)
            yield pane
        yield Footer(compact=True)

    def action_back(self) -> None:
        self.app.pop_screen()
