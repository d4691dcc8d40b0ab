"""The report's design-diagnostics and batch sections (the design loop's evidence, and Dask batches).

Split from :mod:`engine.report.layout`, which calls :func:`design_section` and
:func:`batches_section` in its reading order.
"""

from __future__ import annotations

from engine.report import text as fmt
from engine.report.blocks import Block, Bullets, Heading, Inline, KeyValues, Para, Table, code, inline, status, strong
from engine.report.content import BatchView, Report
from engine.report.sections import figure_blocks, section_heading

# --------------------------------------------------------------------------- design


def design_section(report: Report) -> list[Block]:
    """The design diagnostics: balance, overlap, trimming, refuters and sensitivity of the design run.

    Parameters
    ----------
    report
        Everything the report shows.

    Returns
    -------
    list of Block
        The section's heading, tables and figures; a sentence when no design run exists.
    """
    blocks: list[Block] = [section_heading("design")]
    view = report.design
    if view is None:
        return blocks + [
            Para(
                inline(
                    "The design loop was not run in this session: no propensity model, balance, overlap, refuters or "
                    "sensitivity analysis back the estimate. Run it with ",
                    code(f"workbench run --resume {report.reproducibility.session_path} --loop design"),
                    ".",
                )
            )
        ]
    res = view.result
    est = res.estimate
    blocks.append(
        Para(
            inline(
                f"From iteration {view.iteration}"
                + (" (kept; the best-design branch)" if view.kept else " (the latest design run; none was kept)"),
                ": ",
                strong(est.describe()),
                f". {est.method}.",
            )
        )
    )
    if res.notes:
        blocks.append(Bullets(tuple(inline(n) for n in res.notes)))
    if res.population:
        blocks += [
            Heading(3, "Whose effect it is"),
            Para(
                inline(
                    f"The {est.estimand} averages over a population of its own, not over all {est.n_total} units "
                    "alike; the columns in which it differs most:"
                )
            ),
            Table(
                ("column", "all units", f"the {est.estimand}'s population", "shift (sd)"),
                tuple(
                    (
                        inline(code(s.column), f" = {s.level}" if s.level else ""),
                        inline(f"{s.everyone:.0%}" if s.level else f"{s.everyone:.4g}"),
                        inline(f"{s.population:.0%}" if s.level else f"{s.population:.4g}"),
                        inline(f"{s.shift_sd:+.2f}"),
                    )
                    for s in res.population
                ),
                numeric=(1, 2, 3),
            ),
        ]
        blocks += figure_blocks(report, "population", 4)
    blocks += [
        Heading(3, "Diagnostics"),
        Table(
            ("diagnostic", "status", "what it says"),
            tuple((inline(d.name), inline(status(d.status.value)), inline(d.message)) for d in res.diagnostics()),
        ),
    ]
    bal = res.balance
    blocks += [
        Heading(3, "Balance"),
        Para(
            inline(
                f"Weights: {bal.weights}. Largest |SMD| {bal.max_before:.3f} before weighting, {bal.max_after:.3f} after. "
                f"Effective sample size of the weights: {fmt.num(bal.ess_treated, '.0f')} of {bal.n_treated} treated, "
                f"{fmt.num(bal.ess_control, '.0f')} of {bal.n_control} control."
            )
        ),
        Table(
            ("covariate (worst after weighting)", "SMD before", "SMD after"),
            tuple(
                (inline(code(r.name)), inline(f"{r.before:+.3f}"), inline(f"{r.after:+.3f}")) for r in bal.worst_after
            ),
            numeric=(1, 2),
        ),
    ]
    blocks += figure_blocks(report, "love_plot", 4)
    ov = res.overlap
    blocks += [
        Heading(3, "Overlap"),
        Para(
            inline(
                f"Propensity range {ov.min_propensity:.3f} to {ov.max_propensity:.3f}; outside [{ov.bounds[0]:g}, {ov.bounds[1]:g}]: "
                f"{ov.share_outside:.1%} of units ({ov.share_outside_treated:.1%} of treated, {ov.share_outside_control:.1%} of "
                f"controls); {ov.share_outside_analysed:.1%} of the analysed population."
            )
        ),
    ]
    blocks += figure_blocks(report, "overlap", 4)
    if res.trimming is not None and res.trimming.points:
        blocks += [
            Heading(3, "Trimming sensitivity"),
            Para(inline(res.trimming.message)),
            Table(
                ("threshold", "estimand", "estimate", "95% CI", "units"),
                tuple(
                    (
                        inline(f"{p.threshold:g}"),
                        inline(p.estimand),
                        *_estimate_and_interval(p.effect, p.ci_low, p.ci_high),
                        inline(str(p.n)),
                    )
                    for p in res.trimming.points
                ),
                numeric=(0, 2, 4),
            ),
        ]
        blocks += figure_blocks(report, "trimming", 4)
    if res.placebo:
        blocks += [
            Heading(3, "Placebo outcomes"),
            Table(
                ("column", "effect", "95% CI", "effect / SD", "status", "reading"),
                tuple(
                    (
                        inline(code(p.column)),
                        *_estimate_and_interval(p.effect, p.ci_low, p.ci_high),
                        inline(f"{p.std_effect:+.3f}"),
                        inline(status(p.status.value)),
                        inline(p.message),
                    )
                    for p in res.placebo
                ),
                numeric=(1, 3),
            ),
        ]
    if res.refuters:
        blocks += [
            Heading(3, "Refuters"),
            Table(
                ("refuter", "original", "refuted estimate", "95% CI", "expected", "status", "reading"),
                tuple(
                    (
                        inline(r.title),
                        inline(fmt.same_decimals(r.original, r.estimate)[0]),
                        inline(fmt.same_decimals(r.estimate, r.original)[0]),
                        inline("[{0}, {1}]".format(*fmt.same_decimals(r.ci_low, r.ci_high, r.original))),
                        inline(fmt.same_decimals(r.expected, r.original)[0]),
                        inline(status("pass" if r.passed else "fail")),
                        inline(r.reading + (f" {r.detail}" if r.detail else "")),
                    )
                    for r in res.refuters
                ),
                numeric=(1, 2, 4),
            ),
        ]
    s = res.sensitivity
    if s is not None:
        blocks += [
            Heading(3, "Sensitivity to a hidden confounder"),
            KeyValues(
                (
                    ("E-value", inline(f"{s.e_value:.3g} (for the CI limit nearer the null: {s.e_value_ci:.3g})")),
                    ("As a risk ratio", inline(f"{s.rr:.3g} [{s.rr_low:.3g}, {s.rr_high:.3g}]; {s.conversion}")),
                    (
                        "Robustness value",
                        inline(f"RV = {s.rv:.3g} (explains the estimate away); RV(α = 0.05) = {s.rv_alpha:.3g}"),
                    ),
                    ("Partial R² of treatment", inline(f"{s.partial_r2:.3g} (OLS t = {s.t_stat:.3g}, {s.dof} dof)")),
                    ("Status", inline(status(s.status.value), f" {s.message}")),
                ),
                ("Measure", "Value"),
            ),
        ]
    return blocks


# --------------------------------------------------------------------------- batches

BATCH_HEADERS = ("task", "estimand", "estimate", "interval", "units", "rating", "sanity net", "note")


def _estimate_and_interval(effect: float, low: float, high: float) -> tuple[Inline, Inline]:
    """An estimate's cell and its ``[low, high]`` cell, all three with the same decimals."""
    est, lo, hi = fmt.same_decimals(effect, low, high)
    return inline(est), inline(f"[{lo}, {hi}]")


def batches_section(report: Report) -> list[Block]:
    """One subsection per batch: what ran, on which population, every task, and the effect along its axis.

    Parameters
    ----------
    report
        Everything the report shows.

    Returns
    -------
    list of Block
        Nothing when the session ran no batch.
    """
    if not report.batches:
        return []
    blocks: list[Block] = [
        section_heading("batches"),
        Para(
            inline(
                "A batch re-runs one fixed analysis on each level of a pre-treatment column and/or at each value of "
                "a setting, as Dask tasks; its plan and every finished task are commits under ",
                code("batches/<id>/"),
                " in the session's repository. Estimates from different partitions describe different units: "
                "compare them as the effect within each part, on the population named below.",
            )
        ),
    ]
    for view in report.batches:
        blocks += _batch(report, view)
    return blocks


def _batch(report: Report, view: BatchView) -> list[Block]:
    plan = view.batch.plan
    results = view.batch.results
    recorded = f"{len(results)} of {len(plan.tasks)} tasks"
    if not view.batch.finished:
        recorded += " (unfinished: run the same batch again to resume it)"
    pairs: list[tuple[str, Inline]] = [
        ("Asked", inline(f"{plan.request.describe}; {plan.request.checks.value} checks")),
        ("Ran", inline(plan.source_from)),
        *(("Population", inline(p.rule)) for p in plan.populations),
        *(
            (("Population", inline("every unit of each task's data; a varied trim trims within the task")),)
            if not plan.populations
            else ()
        ),
        ("Recorded", inline(recorded)),
        ("Planned", inline(plan.created_at)),
    ]
    rows = []
    for task in plan.tasks:
        result = results.get(task.key)
        if result is None:
            cells = (fmt.MISSING, "not recorded", f"{task.n_units:,}", fmt.MISSING, fmt.MISSING)
            rows.append((inline(code(task.key)), inline(task.estimand_label), *map(inline, cells), inline("")))
            continue
        e = result.effect
        if e is None:
            estimate, interval = fmt.MISSING, "failed"
        else:
            mean, low, high = fmt.effect_numbers(e)
            estimate, interval = mean, f"[{low}, {high}] {e.interval_name}"
        sanity = (
            inline(fmt.MISSING)
            if result.credible is None
            else inline(status("credible" if result.credible else "not_credible"))
        )
        note = result.reason + (f" (attempt {result.attempt}: its first worker was lost)" if result.attempt > 1 else "")
        rows.append(
            (
                inline(code(task.key)),
                inline(e.estimand if e is not None else task.estimand_label),
                inline(estimate),
                inline(interval),
                inline(f"{result.n_units:,}"),
                inline(status("failed") if e is None else fmt.status_word(result.rating)),
                sanity,
                inline(note),
            )
        )
    return [
        Heading(3, f"Batch {plan.id}", f"batch-{plan.id}"),
        KeyValues(tuple(pairs), ("", "")),
        Table(BATCH_HEADERS, tuple(rows), numeric=(2, 4)),
        *figure_blocks(report, view.figure_name, 4),
    ]
