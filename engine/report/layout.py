"""The report's layout: a :class:`~engine.report.content.Report` as a list of blocks.

The order follows what a reviewer who was not there asks: what was asked, what is the
answer, how far to trust it, what was tried and decided, what the plots show, the design
diagnostics, the final code, how to reproduce it — then the appendices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.report import text as fmt
from engine.report.blocks import (
    Block,
    Bullets,
    Callout,
    Code,
    Details,
    Heading,
    Inline,
    KeyValues,
    Para,
    Table,
    code,
    em,
    inline,
    link,
    status,
    strong,
)
from engine.report.content import IterationRow, Report
from engine.report.costs import CostRow
from engine.report.layout_design import batches_section, design_section
from engine.report.sections import SECTIONS, figure_blocks, section_heading

if TYPE_CHECKING:
    from engine.stacking import StackedEffect

TIER_CALLOUT = {"fully_satisfactory": "info", "satisfactory_with_caveats": "warn", "not_satisfactory": "loud"}


def layout(report: Report) -> list[Block]:
    """The whole report as blocks, in reading order.

    Parameters
    ----------
    report
        Everything the report shows, from :func:`~engine.report.build.build_report`.

    Returns
    -------
    list of Block
        Headings, paragraphs, tables, figures and collapsed sections, which
        :func:`~engine.report.html.render_html` and :func:`~engine.report.markdown.render_markdown`
        both write.
    """
    blocks: list[Block] = [Heading(1, f"Session report: {report.title}")]
    blocks.append(
        Para(
            inline(
                "Session ",
                code(report.session_id),
                " of problem ",
                code(report.problem),
                f" ({report.kind}), ",
                f"{len(report.iterations)} iterations. Written {report.generated_at} from the session's git history "
                "and artefacts; every number below is copied from the recorded iterations.",
            )
        )
    )
    for note in report.notes:
        blocks.append(Callout("warn", inline(note)))
    shown = [(anchor, title) for anchor, title in SECTIONS if anchor != "batches" or report.batches]
    blocks.append(Bullets(tuple(inline(link(title, anchor)) for anchor, title in shown), nav=True))
    blocks += _summary(report)
    blocks += _question(report)
    blocks += _estimate(report)
    blocks += _credibility(report)
    blocks += _iterations(report)
    blocks += _costs(report)
    blocks += _plots(report)
    blocks += design_section(report)
    blocks += batches_section(report)
    blocks += _code(report)
    blocks += _reproducibility(report)
    blocks += _evaluation(report)
    blocks += _documents(report)
    return blocks


# --------------------------------------------------------------------------- summary


def _summary(report: Report) -> list[Block]:
    final = report.final
    bayes: Inline = inline(em("no model kept"))
    if final.bayes is not None:
        bayes = inline(
            strong(fmt.effect_text(final.bayes)),
            f" ({fmt.interval_name(final.bayes)}, iteration {final.bayes_iteration})",
        )
    dr: Inline = inline(em("no design run"))
    if final.dr is not None:
        d = final.dr.as_effect()
        dr = inline(
            strong(fmt.effect_text(d)),
            f" (95% CI, iteration {final.dr_iteration}" + ("" if final.dr_kept else ", not kept") + ")",
        )
    cred = report.credibility.critique
    credibility: Inline = inline(em("no critic review (no design run)"))
    if cred is not None:
        credibility = inline(strong(cred.credibility), f" — {cred.tier.value.replace('_', ' ')}")
    counts = ", ".join(f"{n} {fmt.status_word(s)}" for s, n in report.counts().items()) or "none"
    total_s = sum(r.seconds or 0.0 for r in report.iterations)
    tokens = [r.tokens for r in report.iterations if r.tokens is not None]
    costs = [r.cost_usd for r in report.iterations if r.cost_usd is not None]
    agents = sorted({r.agent for r in report.iterations})
    pairs: list[tuple[str, Inline]] = [
        ("Question", inline(report.question)),
        (f"Bayesian {report.contract.estimand}", bayes),
    ]
    if final.stacked is not None:
        st = final.stacked.effect
        pairs.append(
            (
                "Stacked",
                inline(
                    fmt.effect_text(st),
                    f" ({fmt.interval_name(st)}, over the {len(final.stacked.weights)} models that passed the gates)",
                ),
            )
        )
    pairs += [
        ("Doubly robust", dr),
        ("Credibility", credibility),
        ("Iterations", inline(counts)),
        ("Agents", inline(", ".join(agents) or fmt.MISSING)),
        ("Time", inline(fmt.seconds(total_s) if report.iterations else fmt.MISSING)),
        ("Agent cost", inline(_total_cost(report, tokens, costs))),
    ]
    blocks: list[Block] = [section_heading("summary"), KeyValues(tuple(pairs), ("", ""))]
    tri = final.triangulation_final or final.triangulation
    if tri is not None and tri.loud:
        blocks.append(Callout("loud", inline(strong("Triangulation: "), tri.message)))
    return blocks


# --------------------------------------------------------------------------- question and contract


def _total_cost(report: Report, tokens: list[int], costs: list[float]) -> str:
    """Every call's tokens and cost (the cost table's total), else the iterations' own sum."""
    total = report.costs.total if report.costs is not None else None
    if total is None:
        return fmt.usage(sum(tokens) if tokens else None, sum(costs) if costs else None)
    used = total.input_tokens + total.cache_write_tokens + total.cache_read_tokens + total.output_tokens
    return fmt.usage(used, total.cost_usd) + f" over {total.calls} calls (see Agent cost)"


def _question(report: Report) -> list[Block]:
    c = report.contract
    g = report.gates
    pairs: list[tuple[str, Inline]] = [
        ("Treatment", inline(code(c.treatment))),
        ("Outcome", inline(code(c.outcome), f" ({c.outcome_type.value})")),
        ("Estimand", inline(strong(c.estimand.value))),
        (f"Allowed controls ({len(c.controls)})", _codes(c.controls)),
    ]
    if c.categorical:
        pairs.append(("Categorical", _codes(c.categorical)))
    if c.pretreatment:
        pairs.append(("Pre-treatment, not controls", _codes(c.pretreatment)))
    if c.ignore:
        pairs.append(("Ignored", _codes(c.ignore)))
    blocks: list[Block] = [
        section_heading("question"),
        Para(inline(strong(report.question))),
        KeyValues(tuple(pairs), ("Contract", "")),
    ]
    if c.forbidden:
        blocks += [
            Heading(3, "Forbidden variables"),
            Table(
                ("column", "reason", "note"),
                tuple((inline(code(f.name)), inline(f.reason.value), inline(f.note)) for f in c.forbidden),
            ),
        ]
    blocks += [
        Heading(3, "Harness gates"),
        Table(
            ("gate", "threshold"),
            (
                (inline("max R-hat"), inline(f"< {g.rhat_max:g}")),
                (inline("min bulk ESS"), inline(f"> {g.ess_bulk_min:g}")),
                (inline("min tail ESS"), inline(f"> {g.ess_tail_min:g}")),
                (inline("divergence rate"), inline(f"< {g.divergence_rate_max:.2%}")),
                (
                    inline("keep rule"),
                    inline(
                        f"ΔELPD > {g.elpd_se_multiple:g} × SE of the difference; within the band, a narrower effect interval"
                    ),
                ),
                (inline("sampling budget"), inline(f"{g.sampling_budget_s:g} s")),
            ),
        ),
    ]
    return blocks


def _codes(names: tuple[str, ...]) -> Inline:
    parts: list[Any] = []
    for i, name in enumerate(names):
        if i:
            parts.append(", ")
        parts.append(code(name))
    return inline(*parts)


# --------------------------------------------------------------------------- the answer


def _estimate(report: Report) -> list[Block]:
    f = report.final
    blocks: list[Block] = [section_heading("estimate")]
    b, d = f.bayes, f.dr
    if b is None and d is None:
        blocks.append(Para(inline("There is no estimate to report yet.")))
    else:
        bm = fmt.effect_numbers(b) if b else (fmt.MISSING,) * 3
        de = d.as_effect() if d else None
        dm = fmt.effect_numbers(de) if de else (fmt.MISSING,) * 3
        rows = [
            ("estimand", b.estimand if b else fmt.MISSING, d.estimand if d else fmt.MISSING),
            ("estimate", bm[0], dm[0]),
            (
                "interval",
                f"[{bm[1]}, {bm[2]}] ({fmt.interval_name(b)})" if b else fmt.MISSING,
                f"[{dm[1]}, {dm[2]}] (95% CI)" if d else fmt.MISSING,
            ),
            (
                "posterior SD / standard error",
                format(b.sd, f".{fmt.decimals(b.sd)}f") if b else fmt.MISSING,
                format(d.se, f".{fmt.decimals(d.se)}f") if d else fmt.MISSING,
            ),
            (
                "from",
                f"iteration {f.bayes_iteration} (kept; the best branch)" if b else fmt.MISSING,
                (f"iteration {f.dr_iteration}" + (" (kept)" if f.dr_kept else " (latest run, not kept)"))
                if d
                else fmt.MISSING,
            ),
            (
                "method",
                "Bayesian model, effect by intervention (harness)" if b else fmt.MISSING,
                d.method if d else fmt.MISSING,
            ),
        ]
        if d is not None:
            rows.append(
                ("population", fmt.MISSING, f"n = {d.n} of {d.n_total} ({d.n_treated} treated, {d.n_control} control)")
            )
        blocks.append(
            Table(
                ("", "Bayesian model", "Doubly robust"),
                tuple(tuple(inline(x) for x in r) for r in rows),
                css="estimate",
            )
        )
    asked = f.contract_estimand
    for label, effect in (("Bayesian", b), ("doubly-robust", d)):
        got = getattr(effect, "estimand", None)
        if got is not None and got != asked:
            blocks.append(
                Callout(
                    "warn",
                    inline(
                        f"The contract asks for the {asked}; the {label} estimate is the {got}: a different population."
                    ),
                )
            )
    if f.triangulation is not None:
        kind = "loud" if f.triangulation.loud else "info"
        blocks.append(Callout(kind, inline(strong("Triangulation (as recorded): "), f.triangulation.message)))
    if f.triangulation_final is not None:
        kind = "loud" if f.triangulation_final.loud else "info"
        blocks.append(
            Callout(
                kind,
                inline(
                    strong("Triangulation with the final model: "),
                    f.triangulation_final.message,
                    " (The design run compared a different Bayesian estimate; this applies the critic's rule to the pair above.)",
                ),
            )
        )
    if f.stacked is not None:
        blocks.append(_stacked(f.stacked, f.bayes_iteration))
    for note in f.notes:
        blocks.append(Callout("info", inline(note)))
    return blocks


def _stacked(stacked: StackedEffect, best: int | None) -> Block:
    """The effect over every scored model, weighted by LOO stacking, beside the keep rule's one."""
    shares = ", ".join(f"iteration {w.number} ({w.move or 'edit'}) {w.weight:.0%}" for w in stacked.named)
    reading = (
        "The stack is the kept model: no other model adds to its leave-one-out predictions."
        if stacked.is_only(best)
        else "Models the keep rule could not tell apart share the weight; where their effects differ, the stacked "
        "interval is wider than any one model's. The kept model above stays the answer of record."
    )
    left = f" Left out: {'; '.join(stacked.left_out)}." if stacked.left_out else ""
    return Callout(
        "info",
        inline(
            strong(f"Stacked over the {len(stacked.weights)} models that passed the gates: "),
            strong(fmt.effect_text(stacked.effect)),
            f" ({fmt.interval_name(stacked.effect)}); weight on {shares}. {reading}{left}",
        ),
    )


# --------------------------------------------------------------------------- credibility


def _credibility(report: Report) -> list[Block]:
    cred = report.credibility
    blocks: list[Block] = [section_heading("credibility")]
    c = cred.critique
    if c is None:
        blocks.append(
            Para(
                inline(
                    "No critic review: the design loop was not run in this session, so no design diagnostics back the "
                    "estimate. The model's own checks follow."
                )
            )
        )
    else:
        where = f"iteration {cred.critique_iteration}"
        origin = (
            "recorded with" if cred.critique_recorded else "derived by the offline critic's rules, at report time, from"
        )
        blocks.append(
            Callout(
                TIER_CALLOUT.get(c.tier.value, "info"),
                inline(strong(f"Credibility {c.credibility} ({c.tier.value.replace('_', ' ')}). "), c.summary),
            )
        )
        blocks.append(Para(inline(em(f"The critic's review, {origin} the design run of {where}."))))
        blocks += [
            Heading(3, "What decided it"),
            Bullets(tuple(inline(strong(n), ": ", r) for n, r in zip(c.decided_by, c.reasons))),
        ]
        blocks += [Heading(3, "Estimand"), Para(inline(c.estimand_note))]
        tt = c.target_trial
        blocks += [
            Heading(3, "The target trial"),
            KeyValues(
                (
                    ("Eligibility", inline(tt.eligibility)),
                    ("Treatment strategies", inline(tt.treatment_strategies)),
                    ("Assignment", inline(tt.assignment)),
                    ("Outcome", inline(tt.outcome)),
                    ("Follow-up", inline(tt.follow_up)),
                    ("Causal contrast", inline(tt.causal_contrast)),
                ),
                ("Component", "Emulation"),
            ),
            Para(inline("Where the emulation falls short:")),
            Bullets(tuple(inline(s) for s in tt.shortfalls)),
            Heading(3, "Blind spots"),
            Bullets(tuple(inline(s) for s in c.blind_spots)),
            Heading(3, "Alternative measurement strategies"),
            Bullets(tuple(inline(s) for s in c.alternatives)),
        ]
    if report.focus_iteration is not None:
        which = f"iteration {report.focus_iteration}" + (
            " (the final model)" if report.focus_kept else " (latest sampled; nothing was kept)"
        )
        blocks.append(Heading(3, f"Checks of the model: {which}"))
        review = cred.model_review
        if review:
            blocks.append(
                Para(inline(strong(f"The model critic: {review.credibility} credibility. "), " ".join(review.reasons)))
            )
            if review.triangulation is not None:
                blocks.append(Para(inline(review.triangulation.message)))
        if cred.agent_review:
            blocks.append(Para(inline(strong("The agent's own review: "), cred.agent_review)))
        if cred.model_checks:
            blocks.append(
                Table(
                    ("check", "status", "detail"),
                    tuple((inline(n), inline(status(s)), inline(d)) for n, s, d in cred.model_checks),
                )
            )
        if cred.pareto is not None:
            p = cred.pareto
            blocks.append(
                Para(
                    inline(
                        f"Pareto k over {p.total} observations: {p.good} good (≤ 0.5), {p.ok} ok (≤ 0.7), "
                        f"{p.bad} bad (≤ 1), {p.very_bad} very bad (> 1)."
                    )
                )
            )
        if cred.convergence:
            blocks.append(Para(inline(f"Worst {len(cred.convergence)} parameters by convergence:")))
            blocks.append(
                Table(
                    ("parameter", "R-hat", "bulk ESS", "tail ESS", "fails"),
                    tuple(
                        (
                            inline(code(r.parameter)),
                            inline(fmt.num(r.rhat, ".3f")),
                            inline(fmt.num(r.ess_bulk, ".0f")),
                            inline(fmt.num(r.ess_tail, ".0f")),
                            inline(", ".join(r.failed) or "—"),
                        )
                        for r in cred.convergence
                    ),
                    numeric=(1, 2, 3),
                )
            )
    return blocks


# --------------------------------------------------------------------------- iterations


ITERATION_HEADERS = (
    "#",
    "loop",
    "hypothesis",
    "decision",
    "verdict",
    "ELPD ± SE",
    "ΔELPD ± SE",
    "effect [interval]",
    "R-hat max",
    "ESS bulk / tail",
    "div.",
    "time",
    "agent",
    "cost",
    "commit",
)


def _anchor(row: IterationRow) -> str:
    return f"iter-{row.number}"


def iteration_cells(row: IterationRow) -> tuple[Inline, ...]:
    """One row of the iteration table.

    Parameters
    ----------
    row
        One iteration of the session.

    Returns
    -------
    tuple of Inline
        One cell per column of the iteration table, in the order of its headers.
    """
    decision: list[Any] = [status(row.decision), f" by {row.decider}"]
    if row.edited:
        decision.append(" (edited)")
    if row.reason:
        decision.append(f": {row.reason}")
    effect = inline(fmt.effect_text(row.effect))  # the text above the table names the interval per loop
    agent = row.agent + (f" ({row.agent_model})" if row.agent_model else "") + (f" · {row.move}" if row.move else "")
    ess = fmt.MISSING
    if row.ess_bulk_min is not None:
        ess = f"{fmt.num(row.ess_bulk_min, '.0f')} / {fmt.num(row.ess_tail_min, '.0f')}"
    return (
        inline(link(str(row.number), _anchor(row))),
        inline(row.loop.value),
        inline(fmt.one_line(row.hypothesis)),
        inline(*decision),
        inline(status(row.status)),
        inline(fmt.pm(row.elpd, row.elpd_se)),
        inline(fmt.pm(row.delta_elpd, row.delta_se, sign=True)),
        effect,
        inline(fmt.num(row.rhat_max, ".3f")),
        inline(ess),
        inline(fmt.MISSING if row.divergences is None else str(row.divergences)),
        inline(fmt.seconds(row.seconds)),
        inline(agent),
        inline(fmt.usage(row.tokens, row.cost_usd)),
        inline(code(fmt.short(row.commit)) if row.commit else fmt.MISSING),
    )


def _iterations(report: Report) -> list[Block]:
    blocks: list[Block] = [section_heading("iterations")]
    if not report.iterations:
        return blocks + [Para(inline("No iteration has been recorded yet."))]
    blocks.append(
        Para(
            inline(
                "One row per iteration, each one commit in the session's repository. Model rows show the posterior "
                "(94% HDI); design rows the doubly-robust estimate (95% CI). ΔELPD is against the best model before "
                "the iteration. Select a number for the hypothesis, rationale, findings, gates and diff."
            )
        )
    )
    blocks.append(
        Table(
            ITERATION_HEADERS,
            tuple(iteration_cells(r) for r in report.iterations),
            numeric=(5, 6, 8, 9, 10, 11),
            css="iterations",
            row_ids=tuple(f"row-{r.number}" for r in report.iterations),
        )
    )
    blocks.append(Heading(3, "Iteration details"))
    for row in report.iterations:
        blocks.append(
            Details(
                f"#{row.number} · {fmt.status_word(row.status)} · {fmt.one_line(row.hypothesis, 90)}",
                tuple(_detail(row)),
                _anchor(row),
            )
        )
    return blocks


def _detail(row: IterationRow) -> list[Block]:
    r = row.record
    pairs: list[tuple[str, Inline]] = [
        ("Hypothesis", inline(row.hypothesis)),
        ("Rationale", inline(row.rationale)),
        (
            "Agent",
            inline(
                row.agent
                + (f", {row.agent_model}" if row.agent_model else "")
                + (f" (move {row.move})" if row.move else "")
            ),
        ),
        (
            "Decision",
            inline(
                status(row.decision),
                f" by {row.decider}",
                " after editing the diff" if row.edited else "",
                f" — {r.decision.reason}" if r.decision.reason else "",
            ),
        ),
    ]
    if r.decision.override:
        pairs.append(("Override of a blocker", inline(r.decision.override)))
    if row.verdict_reason:
        pairs.append(("Verdict", inline(status(row.status), " — ", row.verdict_reason)))
    if row.deciding_rule and row.deciding_rule != row.verdict_reason:
        pairs.append(("Deciding rule", inline(row.deciding_rule)))
    if row.effect is not None:
        pairs.append(
            (
                f"Effect ({row.effect_source})",
                inline(fmt.effect_text(row.effect), f" ({row.interval_label}), sd {fmt.num(row.effect.sd, '.4g')}"),
            )
        )
    if row.elpd is not None:
        assert r.verdict is not None  # row.elpd is read from the verdict's metrics
        pairs.append(("ELPD", inline(fmt.pm(row.elpd, row.elpd_se), f"; p_loo {fmt.num(r.verdict.metrics.p_loo)}")))
    if row.tokens is not None or row.cost_usd is not None:
        pairs.append(("Agent cost", inline(fmt.usage(row.tokens, row.cost_usd))))
    if r.timings:
        pairs.append(("Timings", inline(", ".join(f"{k} {fmt.seconds(v)}" for k, v in r.timings.items()))))
    if r.seeds:
        pairs.append(("Seeds", inline(", ".join(f"{k} {v}" for k, v in r.seeds.items()))))
    pairs.append(("Commit", inline(code(row.commit or fmt.MISSING))))
    if r.created_at:
        pairs.append(("Recorded", inline(r.created_at)))
    blocks: list[Block] = [KeyValues(tuple(pairs), ("", ""))]
    if row.findings:
        blocks += [
            Para(inline(strong("Guard findings"))),
            Bullets(
                tuple(
                    inline(
                        status(f.severity.value),
                        f" {f.message} (",
                        code(f.code),
                        f", line {f.line})" if f.line else ")",
                    )
                    for f in row.findings
                )
            ),
        ]
    if row.compile is not None:
        c = row.compile
        if c.ok:
            text = f"compiled in {c.seconds:.1f} s" + (f", {c.n_free} free parameters" if c.n_free is not None else "")
            blocks.append(Para(inline(strong("Compile check: "), text)))
        else:
            blocks.append(
                Para(inline(strong("Compile check failed: "), c.error or "", f" Hint: {c.hint}" if c.hint else ""))
            )
    if row.gates:
        blocks.append(
            Table(
                ("gate", "value", "threshold", "status"),
                tuple(
                    (
                        inline(g.name),
                        inline(format(g.value, ".4g")),
                        inline(format(g.threshold, "g")),
                        inline(status("pass" if g.passed else "fail")),
                    )
                    for g in row.gates
                ),
                numeric=(1, 2),
            )
        )
    if row.error:
        blocks += [Para(inline(strong("Crash"))), Code(row.error, "text")]
    if row.diff.strip():
        blocks += [Para(inline(strong(f"Proposed diff to {r.proposal.file}"))), Code(row.diff, "diff")]
    else:
        blocks.append(Para(inline(f"No change to {r.proposal.file}: the file as it stood was run.")))
    if row.edit_diff.strip():
        blocks += [Para(inline(strong("The principal's edit on top of the proposal"))), Code(row.edit_diff, "diff")]
    return blocks


# --------------------------------------------------------------------------- plots


def _costs(report: Report) -> list[Block]:
    """Every language-model call of the session, once, by iteration; the rows add up to the total."""
    table = report.costs
    if table is None:
        return [
            section_heading("costs"),
            Para(inline("No language model was called in this session: the offline agents cost nothing.")),
        ]

    def cells(row: CostRow) -> tuple[Inline, ...]:
        return (
            inline(strong(row.label) if row.label == "total" else row.label),
            inline(", ".join(row.models) or fmt.MISSING),
            inline(f"{row.calls:,}"),
            inline(f"{row.input_tokens:,}"),
            inline(f"{row.cache_write_tokens:,}"),
            inline(f"{row.cache_read_tokens:,}"),
            inline(f"{row.output_tokens:,}"),
            inline("price unknown" if row.cost_usd is None else f"${row.cost_usd:.4f}"),
        )

    return [
        section_heading("costs"),
        Para(
            inline(
                "Every call to the language model, counted once: under the iteration it became, or under what "
                "happened to it (a failed, cancelled or over-budget proposal, a failed repair). Cache reads cost "
                "a tenth of the input price. Prices are list-price estimates; a model without a listed price shows "
                "its tokens."
            )
        ),
        Table(
            ("", "model", "calls", "input", "cache write", "cache read", "output", "cost"),
            tuple(cells(r) for r in (*table.rows, table.total)),
            numeric=(2, 3, 4, 5, 6, 7),
        ),
    ]


def _plots(report: Report) -> list[Block]:
    blocks: list[Block] = [section_heading("plots")]
    for name in ("elpd_trajectory", "effect_forest", "stacking", "effect_trace_rank", "pareto_k"):
        blocks += figure_blocks(report, name)
    if len(blocks) == 1:
        blocks.append(Para(inline("No model has been sampled yet, so there is nothing to plot.")))
    return blocks


# --------------------------------------------------------------------------- code


def _code(report: Report) -> list[Block]:
    c = report.code
    blocks: list[Block] = [section_heading("code")]
    if c.model_iteration is None:
        blocks.append(
            Para(inline("No model was kept: the final model is still the baseline the session started from."))
        )
    else:
        blocks.append(Para(inline(f"Iteration {c.model_iteration}, the tip of the ", code("best"), " branch.")))
    blocks.append(Code(c.final_model, "python"))
    if c.model_diff.strip():
        blocks += [Heading(3, "Diff from the baseline"), Code(c.model_diff, "diff")]
    blocks.append(Details("The baseline model.py", (Code(c.baseline_model, "python"),)))
    if c.final_analysis is not None:
        which = f"iteration {c.analysis_iteration}" if c.analysis_iteration else "the baseline (nothing kept)"
        blocks += [
            Heading(3, "The final analysis spec"),
            Para(inline(f"From {which}.")),
            Code(c.final_analysis, "toml"),
        ]
        if c.analysis_diff.strip():
            blocks.append(Code(c.analysis_diff, "diff"))
    return blocks


# --------------------------------------------------------------------------- reproducibility


def _reproducibility(report: Report) -> list[Block]:
    r = report.reproducibility
    same = r.data_hash_now is None or r.data_hash_now == r.data_hash
    data_state = (
        "the problem's data file could not be read today"
        if r.data_hash_now is None
        else ("matches the data file today" if same else "DIFFERS from the data file today: the data changed since")
    )
    pairs: list[tuple[str, Inline]] = [
        ("Session folder", inline(code(r.session_path))),
        ("Problem folder", inline(code(r.problem_path))),
        ("Started", inline(r.created_at)),
        ("HEAD", inline(code(r.head or fmt.MISSING))),
        ("best (model)", inline(code(r.best_commit or fmt.MISSING))),
        ("best-design", inline(code(r.best_design_commit or fmt.MISSING))),
        ("First commit (baseline)", inline(code(r.root_commit or fmt.MISSING))),
        ("Data", inline(code(r.data_file), " sha256 ", code(r.data_hash), f" — {data_state}")),
        ("Seeds", inline(", ".join(f"{k} {v}" for k, v in r.seeds.items()) or fmt.MISSING)),
        ("Post-warmup draws", inline(str(r.draws) if r.draws is not None else fmt.MISSING)),
    ]
    names = list(dict.fromkeys([*r.versions, *r.final_versions]))
    blocks: list[Block] = [
        section_heading("reproducibility"),
        KeyValues(tuple(pairs), ("", "")),
        Table(
            ("package", "session start", "final model's iteration"),
            tuple(
                (inline(n), inline(r.versions.get(n, fmt.MISSING)), inline(r.final_versions.get(n, fmt.MISSING)))
                for n in names
            ),
        ),
    ]
    if not same:
        blocks.append(
            Callout(
                "warn",
                inline(
                    "The data file changed after this session started: re-running will not reproduce these numbers."
                ),
            )
        )
    for command in r.commands:
        blocks += [Para(inline(command.what + ":")), Code(command.text, "sh")]
    return blocks


# --------------------------------------------------------------------------- appendices


def _evaluation(report: Report) -> list[Block]:
    blocks: list[Block] = [section_heading("evaluation")]
    ev = report.evaluation
    if ev is None:
        return blocks + [Callout("info", inline(strong("Unavailable. "), report.evaluation_note))]
    blocks.append(
        Callout("warn", inline(strong("Evaluation only — not part of the analysis. "), report.evaluation_note))
    )
    blocks.append(Para(inline("True values: " + ", ".join(f"{k} {v:.4g}" for k, v in ev.truth.items()) + ".")))
    rows = []
    for s in ev.rows:
        covered = fmt.MISSING if s.covered is None else ("yes" if s.covered else "no")
        est, low, high = fmt.same_decimals(s.estimate, s.low, s.high)
        rows.append(
            (
                inline(s.label),
                inline(s.estimand),
                inline(est),
                inline(f"[{low}, {high}] ({s.interval})"),
                inline(fmt.num(s.truth, ".4g")),
                inline(fmt.num(s.error, "+.3f")),
                inline(status(covered) if s.covered is not None else covered),
            )
        )
    blocks.append(
        Table(
            ("estimate", "estimand", "value", "interval", "truth", "error", "covers the truth"),
            tuple(rows),
            numeric=(2, 4, 5),
        )
    )
    blocks += figure_blocks(report, "evaluation")
    return blocks


def _documents(report: Report) -> list[Block]:
    return [
        section_heading("documents"),
        Para(inline("The session's plain-English files as of its last commit (the principal may have edited them).")),
        Details("PROBLEM.md", (Code(report.problem_md, "markdown"),)),
        Details("PROGRAM.md", (Code(report.program_md, "markdown"),)),
    ]
