"""Design: how much to trust a design-based estimate. The doubly-robust estimate beside the
Bayesian one, every diagnostic with its status, refuters, sensitivity to a hidden
confounder, the critic's verdict, and the love plot, overlap histogram and trimming curve.

Built from a :class:`engine.design.results.DesignResult` (and the critic's
:class:`~engine.design.critic.Critique` when there is one); series come from
:mod:`engine.design.series`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from screens.format import literal
from screens.plots import LovePlot, OverlapPlot, TrimmingPlot

if TYPE_CHECKING:
    from engine.design.critic import Critique
    from engine.design.results import DesignResult, Status

STATUS_STYLE = {"pass": "bold green", "warn": "bold yellow", "fail": "bold red"}
TIER_STYLE = {"high": "bold green", "medium": "bold yellow", "low": "bold red"}


def status_text(status: Status) -> Text:
    return Text(status.value, style=STATUS_STYLE.get(status.value, ""))


def estimate_text(result: DesignResult) -> Text:
    e = result.estimate
    text = Text()
    text.append("doubly robust  ", style="bold")
    text.append(f"{e.estimand} {e.effect:.3g} ", style="bold")
    text.append(f"(95% CI {e.ci_low:.3g} to {e.ci_high:.3g}; n = {e.n}")
    if e.n_dropped:
        text.append(f" of {e.n_total}")
    text.append(")")
    if e.estimand != e.requested:
        text.append(f"  — asked for {e.requested}; trimming changed the population", style="yellow")
    note = e.extrapolation_note()
    if note:
        text.append(f"\n{note[:1].upper()}{note[1:]}.", style="yellow")
    if result.population:
        text.append(f"\nwhose effect   the {e.estimand}'s population against all {e.n_total} units: ", style="yellow")
        text.append("; ".join(shift.describe() for shift in result.population), style="yellow")
    b = result.bayesian_effect
    if b is not None:
        text.append("\nBayesian       ", style="bold")
        text.append(f"{b.estimand} {b.mean:.3g} ", style="bold")
        text.append(f"(94% HDI {b.hdi_low:.3g} to {b.hdi_high:.3g})")
    tri = result.triangulation
    if tri is not None:
        text.append("\ntriangulation  ", style="bold")
        text.append(tri.level, style="bold red" if tri.loud else "green")
        text.append(f" — {tri.message}")
    return text


def critic_text(critique: Critique | None) -> Text:
    if critique is None:
        return Text("No critic review recorded for this analysis.", style="dim")
    text = Text()
    text.append("credibility ", style="bold")
    text.append(critique.credibility, style=TIER_STYLE.get(critique.credibility, ""))
    text.append(f" ({critique.tier.value.replace('_', ' ')})")
    if critique.decided_by:
        text.append(f"; decided by {', '.join(critique.decided_by)}", style="dim")
    text.append(f"\n{critique.headline}")
    if critique.estimand_note:
        text.append(f"\n{critique.estimand_note}", style="yellow")
    for reason in critique.reasons:
        text.append(f"\n• {reason}")
    trial = critique.target_trial
    text.append("\n\ntarget trial", style="bold")
    text.append(f"\n  eligibility: {trial.eligibility}\n  strategies: {trial.treatment_strategies}")
    text.append(f"\n  assignment: {trial.assignment}\n  outcome: {trial.outcome}")
    text.append(f"\n  contrast: {trial.causal_contrast}")
    for shortfall in trial.shortfalls:
        text.append(f"\n  falls short: {shortfall}", style="yellow")
    if critique.blind_spots:
        text.append("\n\nblind spots", style="bold")
        for spot in critique.blind_spots:
            text.append(f"\n• {spot}")
    if critique.alternatives:
        text.append("\n\nalternative strategies", style="bold")
        for alt in critique.alternatives:
            text.append(f"\n• {alt}")
    return text


def diagnostics_table(result: DesignResult) -> Table:
    table = Table(box=None, padding=(0, 1), header_style="bold", expand=True)
    table.add_column("diagnostic", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("reading", ratio=1)
    for d in result.diagnostics():
        table.add_row(literal(d.name), status_text(d.status), literal(d.message))
    return table


def refuters_table(result: DesignResult) -> Table:
    table = Table(box=None, padding=(0, 1), header_style="bold", title="refuters", title_justify="left")
    for col, justify in (
        ("refuter", "left"),
        ("estimate", "right"),
        ("95% CI", "right"),
        ("expected", "right"),
        ("", "left"),
    ):
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for r in result.refuters:
        table.add_row(
            literal(r.title),
            f"{r.estimate:.3g}",
            f"[{r.ci_low:.3g}, {r.ci_high:.3g}]",
            f"{r.expected:.3g}",
            status_text(r.status),
        )
    return table


def sensitivity_text(result: DesignResult) -> Text:
    s = result.sensitivity
    if s is None:
        return Text("")
    text = Text()
    text.append("hidden confounder  ", style="bold")
    text.append(
        f"E-value {s.e_value:.2f} (CI limit {s.e_value_ci:.2f}); robustness value {s.rv:.1%} "
        f"({s.rv_alpha:.1%} at α = 0.05)  "
    )
    text.append_text(status_text(s.status))
    text.append(f"\n{s.conversion}", style="dim")
    return text


class DesignScreen(Screen):
    """A design-loop result: the estimate, the diagnostics, the critic, the plots."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="design.back"),
        Binding("1", "tab('design-summary')", "Summary", id="design.tab-summary", show=False),
        Binding("2", "tab('design-plots')", "Plots", id="design.tab-plots"),
        Binding("3", "tab('design-critic')", "Critic", id="design.tab-critic"),
    ]

    def __init__(self, result: DesignResult, critique: Critique | None = None, title: str = "") -> None:
        super().__init__()
        self.result = result
        self.critique = critique
        self.heading = title

    def compose(self) -> ComposeResult:
        from engine.design.series import love_plot_series, overlap_series, trimming_series

        r = self.result
        yield Header()
        head = Text(self.heading or "design-based analysis", style="bold")
        spec = r.spec
        head.append(
            f" · {spec.estimator} · propensity {spec.propensity_learner} · outcome {spec.outcome_learner}", style="dim"
        )
        yield Static(head, id="design-head")
        with TabbedContent(id="design-tabs"):
            with TabPane("Summary", id="design-summary"):
                with VerticalScroll(classes="design-body"):
                    yield Static(estimate_text(r), id="design-estimate")
                    yield Static(diagnostics_table(r), id="design-diagnostics")
                    yield Static(refuters_table(r), id="design-refuters")
                    yield Static(sensitivity_text(r), id="design-sensitivity")
            with TabPane("Plots", id="design-plots"):
                with Grid(id="design-plot-grid"):
                    yield LovePlot(
                        love_plot_series(r.balance, top=12), title=f"balance ({r.balance.weights})", id="plot-love"
                    )
                    yield OverlapPlot(overlap_series(r.overlap), title="overlap of propensities", id="plot-overlap")
                    yield TrimmingPlot(
                        trimming_series(r.trimming) if r.trimming else None,
                        title="trimming sensitivity",
                        empty="not run",
                        id="plot-trimming",
                    )
            with TabPane("Critic", id="design-critic"):
                with VerticalScroll(classes="design-body"):
                    yield Static(critic_text(self.critique), id="design-critique")
        yield Footer(compact=True)

    def action_tab(self, tab: str) -> None:
        self.query_one("#design-tabs", TabbedContent).active = tab

    def action_back(self) -> None:
        self.app.pop_screen()
