"""Rich renderables shared by the CLI commands (tables of contracts, data, findings, results)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from rich.table import Table

if TYPE_CHECKING:
    from engine.problem import Problem
    from engine.records import Finding


def contract_table(problem: Problem) -> Table:
    c = problem.contract
    table = Table(title="causal contract", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("treatment", c.treatment)
    table.add_row("outcome", f"{c.outcome} ({c.outcome_type})")
    table.add_row("estimand", str(c.estimand))
    table.add_row("controls", ", ".join(c.controls))
    if c.categorical:
        table.add_row("categorical", ", ".join(c.categorical))
    for f in c.forbidden:
        table.add_row("[red]forbidden[/]", f"{f.name} — {f.reason}" + (f": {f.note}" if f.note else ""))
    g = problem.gates
    table.add_row(
        "gates",
        f"R-hat < {g.rhat_max:g}, ESS bulk > {g.ess_bulk_min:g}, ESS tail > {g.ess_tail_min:g}, "
        f"divergences < {g.divergence_rate_max:.1%}, keep on ΔELPD > {g.elpd_se_multiple:g} SE, "
        f"budget {g.sampling_budget_s:g} s",
    )
    return table


def data_summary_table(problem: Problem) -> Table:
    from engine.summary import data_summary

    s = data_summary(problem)
    table = Table(title=f"data: {s.n} units, {s.n_treated} treated, {s.n_control} control", title_justify="left")
    for col in ("", "treated", "control"):
        table.add_column(col, justify="right" if col else "left")
    table.add_row(f"{problem.contract.outcome} mean", f"{s.outcome_mean_treated:.3g}", f"{s.outcome_mean_control:.3g}")
    table.add_row("naive difference", f"{s.naive_difference:.3g}", "")
    table.add_row("controls", f"{len(s.continuous)} continuous", f"{len(s.binary)} binary / dummy")
    return table


def findings_table(findings: Iterable[Finding], title: str) -> Table | str:
    findings = list(findings)
    if not findings:
        return f"[green]{title}: no findings[/]"
    table = Table(title=title, title_justify="left")
    table.add_column("severity")
    table.add_column("line", justify="right")
    table.add_column("code")
    table.add_column("message")
    for f in findings:
        colour = "red" if f.severity == "blocker" else "yellow"
        table.add_row(f"[{colour}]{f.severity}[/]", str(f.line or ""), f.code, f.message)
    return table
