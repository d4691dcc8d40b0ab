"""Rich renderables shared by the CLI commands (tables of contracts, data, findings, results).

Text the workbench did not write (hypotheses, messages, tracebacks, column and file
names) enters a table or a line only as :func:`literal` ``Text``; markup strings here hold
the workbench's own words alone. Consoles come from :func:`console`, which never turns
``:x:`` into an emoji.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from screens.format import literal

__all__ = ["console", "literal", "contract_table", "data_summary_table", "findings_table", "results_table"]


def console(*, stderr: bool = False) -> Console:
    """A CLI console: no emoji codes, no highlighting of numbers and paths."""
    return Console(stderr=stderr, highlight=False, emoji=False)


if TYPE_CHECKING:
    from engine.problem import Problem
    from engine.records import Finding


def contract_table(problem: Problem) -> Table:
    c = problem.contract
    table = Table(title="causal contract", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("treatment", literal(c.treatment))
    table.add_row("outcome", literal(f"{c.outcome} ({c.outcome_type})"))
    table.add_row("estimand", str(c.estimand))
    table.add_row("controls", literal(", ".join(c.controls)))
    if c.categorical:
        table.add_row("categorical", literal(", ".join(c.categorical)))
    for f in c.forbidden:
        table.add_row("[red]forbidden[/]", literal(f"{f.name} — {f.reason}" + (f": {f.note}" if f.note else "")))
    g = problem.gates
    table.add_row(
        "gates",
        f"R-hat < {g.rhat_max:g}, ESS bulk > {g.ess_bulk_min:g}, ESS tail > {g.ess_tail_min:g}, "
        f"divergences < {g.divergence_rate_max:.1%}, {g.keep_rule()}, "
        f"budget {g.sampling_budget_s:g} s",
    )
    return table


def data_summary_table(problem: Problem) -> Table:
    from engine.summary import data_summary

    s = data_summary(problem)
    table = Table(
        title=f"data: {s.n} units, {s.n_treated} treated, {s.n_control} control; "
        f"{len(s.continuous)} continuous and {len(s.binary)} binary controls",
        title_justify="left",
    )
    for col in ("", "treated", "control"):
        table.add_column(col, justify="right" if col else "left")
    table.add_row(
        literal(f"{problem.contract.outcome} mean"), f"{s.outcome_mean_treated:.3g}", f"{s.outcome_mean_control:.3g}"
    )
    table.add_row("naive difference", f"{s.naive_difference:.3g}", "")
    return table


def findings_table(findings: Iterable[Finding], title: str) -> Table | Text:
    findings = list(findings)
    if not findings:
        return literal(f"{title}: no findings", "green")
    table = Table(title=literal(title), title_justify="left")
    table.add_column("severity")
    table.add_column("line", justify="right")
    table.add_column("code")
    table.add_column("message")
    for f in findings:
        colour = "red" if f.is_blocker else "yellow"
        table.add_row(literal(f.severity, colour), str(f.line or ""), literal(f.code), literal(f.message))
    return table


Justify = Literal["left", "center", "right"]


def results_table(records, loop: str = "model") -> Table:
    """The headless run's results: one row per iteration of the loop."""
    model = loop == "model"
    table = Table(title=f"{loop} loop iterations", title_justify="left")
    columns: list[tuple[str, Justify]] = [("#", "right"), ("hypothesis", "left"), ("verdict", "left")]
    if model:
        columns += [
            ("ELPD ± SE", "right"),
            ("ΔELPD ± SE", "right"),
            ("effect [94% HDI]", "right"),
            ("R-hat", "right"),
            ("ESS", "right"),
            ("div", "right"),
        ]
    else:
        columns += [("effect [95% CI]", "right")]
    columns.append(("s", "right"))
    for name, justify in columns:
        if name == "hypothesis":
            table.add_column(name, justify=justify, max_width=40, no_wrap=True, overflow="ellipsis")
        else:
            table.add_column(name, justify=justify, no_wrap=True)
    colours = {
        "kept": "green",
        "discarded": "yellow",
        "failed_gate": "magenta",
        "crashed": "red",
        "cancelled": "yellow",
    }
    for r in records:
        if r.proposal.loop.value != loop:
            continue
        m = r.verdict.metrics if r.verdict else None
        e = m.effect if m else None
        status = literal(r.status, colours.get(r.status, "dim"))
        effect = literal("" if e is None else f"{e.estimand} {e.mean:.2f} [{e.hdi_low:.2f}, {e.hdi_high:.2f}]")
        cells: list[str | Text] = [str(r.number), literal(r.proposal.hypothesis), status]
        if model:
            cells += [
                _pm(m.elpd if m else None, m.elpd_se if m else None),
                _pm(m.delta_elpd if m else None, m.delta_se if m else None, signed=True),
                effect,
                "" if not m or m.rhat_max is None else f"{m.rhat_max:.3f}",
                "" if not m or m.ess_bulk_min is None else f"{m.ess_bulk_min:.0f}",
                "" if not m or m.divergences is None else str(m.divergences),
            ]
        else:
            cells.append(effect)
        cells.append(f"{r.timings.get('total', 0):.0f}")
        table.add_row(*cells)
    return table


def _pm(value: float | None, se: float | None, signed: bool = False) -> str:
    if value is None:
        return ""
    text = f"{value:+.1f}" if signed else f"{value:.1f}"
    return text + (f" ± {se:.1f}" if se is not None else "")
