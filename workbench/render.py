"""Rich renderables shared by the CLI commands (tables of contracts, data, findings, results).

Text the workbench did not write (hypotheses, messages, tracebacks, column and file
names) enters a table or a line only as :func:`literal` ``Text``; markup strings here hold
the workbench's own words alone. Consoles come from :func:`console`, which never turns
``:x:`` into an emoji.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from screens.format import literal

__all__ = ["console", "literal", "contract_table", "data_summary_table", "findings_table", "results_table"]


LOG_WIDTH = 160
"""Columns of output that goes to a file or a pipe (a CI log): wide enough for the results table."""


def console(*, stderr: bool = False) -> Console:
    """A CLI console: no emoji codes, no highlighting of numbers and paths.

    Output to a file or a pipe is :data:`LOG_WIDTH` wide unless ``COLUMNS`` says otherwise: Rich's
    default of 80 there cut the results table's verdicts to one letter.
    """
    out = Console(stderr=stderr, highlight=False, emoji=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = LOG_WIDTH
    return out


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


DROP_ORDER = ("s", "div", "ESS", "R-hat", "ELPD ± SE")
"""Columns a narrow terminal drops, first to last: the verdict already says whether the gates passed."""
HYPOTHESIS_WIDTH = (16, 40)
"""The hypothesis column's narrowest and widest: it gives way first, then :data:`DROP_ORDER` does."""


def results_table(records, loop: str = "model", width: int | None = None) -> Table:
    """The headless run's results: one row per iteration of the loop.

    Every cell shown is whole: on a terminal ``width`` columns wide the hypothesis shortens first,
    then the columns of :data:`DROP_ORDER` go, so a verdict never reads "k…".
    """
    model = loop == "model"
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
    rows = [_result_cells(r, model) for r in records if r.proposal.loop.value == loop]
    shown = [name for name, _ in columns]
    hypothesis = HYPOTHESIS_WIDTH[1]
    if width is not None:
        natural = {name: max([len(name), *(len(str(row[name])) for row in rows)]) for name in shown}
        for drop in (None, *DROP_ORDER):
            if drop in shown:
                shown.remove(drop)
            others = sum(natural[n] + 3 for n in shown if n != "hypothesis") + 1
            hypothesis = min(HYPOTHESIS_WIDTH[1], width - others - 3)
            if hypothesis >= HYPOTHESIS_WIDTH[0]:
                break
        hypothesis = max(hypothesis, HYPOTHESIS_WIDTH[0])
    table = Table(title=f"{loop} loop iterations", title_justify="left")
    for name, justify in columns:
        if name not in shown:
            continue
        if name == "hypothesis":
            table.add_column(name, justify=justify, width=hypothesis, no_wrap=True, overflow="ellipsis")
        else:
            table.add_column(name, justify=justify, no_wrap=True)
    for row in rows:
        table.add_row(*(row[name] for name in shown))
    return table


STATUS_COLOURS = {
    "kept": "green",
    "discarded": "yellow",
    "failed_gate": "magenta",
    "crashed": "red",
    "cancelled": "yellow",
}


def _result_cells(r, model: bool) -> dict[str, str | Text]:  # noqa: ANN001  (an IterationRecord)
    m = r.verdict.metrics if r.verdict else None
    e = m.effect if m else None
    effect = literal("" if e is None else f"{e.estimand} {e.mean:.2f} [{e.hdi_low:.2f}, {e.hdi_high:.2f}]")
    cells: dict[str, str | Text] = {
        "#": str(r.number),
        "hypothesis": literal(r.proposal.hypothesis),
        "verdict": literal(r.status, STATUS_COLOURS.get(r.status, "dim")),
    }
    if model:
        cells["ELPD ± SE"] = _pm(m.elpd if m else None, m.elpd_se if m else None)
        cells["ΔELPD ± SE"] = _pm(m.delta_elpd if m else None, m.delta_se if m else None, signed=True)
        cells["effect [94% HDI]"] = effect
        cells["R-hat"] = "" if not m or m.rhat_max is None else f"{m.rhat_max:.3f}"
        cells["ESS"] = "" if not m or m.ess_bulk_min is None else f"{m.ess_bulk_min:.0f}"
        cells["div"] = "" if not m or m.divergences is None else str(m.divergences)
    else:
        cells["effect [95% CI]"] = effect
    cells["s"] = f"{r.timings.get('total', 0):.0f}"
    return cells


def _pm(value: float | None, se: float | None, signed: bool = False) -> str:
    if value is None:
        return ""
    text = f"{value:+.1f}" if signed else f"{value:.1f}"
    return text + (f" ± {se:.1f}" if se is not None else "")
