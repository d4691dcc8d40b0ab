"""The report's plots, drawn with matplotlib's object API on the Agg canvas.

No ``pyplot``: the TUI writes reports from a worker thread, and pyplot's global state is
neither thread-safe nor needed. What each plot shows comes from the pure series in
:mod:`engine.plots`, :mod:`engine.design.series` and :mod:`engine.batch.series`, the same ones
the screens draw.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from engine import plots
from engine.records import Loop
from engine.report.content import BatchView, Figure, Report

DPI = 110
WIDTH_IN = 7.2
# Okabe–Ito colours: distinguishable with the common colour-vision deficiencies, and in grey.
BLUE, ORANGE, GREEN, VERMILLION, GREY, SKY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#8c8c8c", "#56B4E9"
CHAIN_COLOURS = (BLUE, ORANGE, GREEN, VERMILLION, "#CC79A7", SKY, "#F0E442", "#000000")
LOVE_TOP = 30
"""Covariates shown in the love plot (the most imbalanced before weighting)."""


def render_figures(report: Report, effect_draws: np.ndarray | None, pareto_k: np.ndarray | None) -> tuple[Figure, ...]:
    """Draw every plot the report has data for, in reading order.

    Parameters
    ----------
    report
        The report without figures (from :func:`engine.report.build.build_report`).
    effect_draws
        The focus model's per-draw estimand, shaped ``(chains, draws)``.
    pareto_k
        The focus model's Pareto k per observation.

    Returns
    -------
    tuple of Figure
        PNGs; a plot with nothing to show is left out.
    """
    model_records = [row.record for row in report.iterations if row.loop is Loop.MODEL]
    makers: list[tuple[str, Callable[[], Figure | None]]] = [
        ("elpd_trajectory", lambda: _elpd_trajectory(model_records, report.gates.elpd_se_multiple)),
        ("effect_forest", lambda: _effect_forest(report)),
        ("stacking", lambda: _stacking(report)),
        ("effect_trace_rank", lambda: _trace_rank(effect_draws, report)),
        ("pareto_k", lambda: _pareto_k(pareto_k, report)),
    ]
    if report.design is not None:
        result = report.design.result
        makers += [
            ("population", lambda: _population(result)),
            ("love_plot", lambda: _love_plot(result)),
            ("overlap", lambda: _overlap(result)),
            ("trimming", lambda: _trimming(result)),
        ]
    for view in report.batches:
        makers.append((view.figure_name, partial(_batch_effect, view)))
    if report.evaluation is not None and report.evaluation.rows:
        makers.append(("evaluation", lambda: _evaluation(report)))
    out = []
    for _name, make in makers:
        figure = make()
        if figure is not None:
            out.append(figure)
    return tuple(out)


# --------------------------------------------------------------------------- helpers


def _figure(height_in: float, ncols: int = 1, width_in: float = WIDTH_IN, **kwargs: Any) -> tuple[Any, Any]:
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, ncols, **kwargs)
    return fig, axes


def _style(ax: Any) -> None:
    ax.grid(True, color="#e6e6e6", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _png(fig: Any, name: str, title: str, caption: str) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    width, height = (fig.get_size_inches() * DPI).round().astype(int)
    return Figure(name, title, caption, buffer.getvalue(), int(width), int(height))


# --------------------------------------------------------------------------- model loop


def _elpd_trajectory(records: list, se_multiple: float) -> Figure | None:
    series = plots.elpd_trajectory(records, se_multiple)
    if series.empty:
        return None
    x = np.array(series.numbers)
    y = np.array(series.elpd)
    kept = np.array(series.kept)
    fig, ax = _figure(3.4)
    _style(ax)
    yerr = np.vstack([y - np.array(series.lower), np.array(series.upper) - y])
    ax.errorbar(x, y, yerr=yerr, fmt="none", ecolor=GREY, elinewidth=1.2, capsize=3)
    if (~kept).any():
        ax.scatter(x[~kept], y[~kept], s=36, facecolors="white", edgecolors=GREY, zorder=3, label="not kept")
    if kept.any():
        ax.scatter(x[kept], y[kept], s=44, color=GREEN, zorder=4, label="kept")
    best = np.array(series.best, dtype=float)
    if np.isfinite(best).any():
        ax.step(x, best, where="post", color=GREEN, linewidth=1.2, alpha=0.7, label="best so far")
    ax.set_xlabel("iteration")
    ax.set_ylabel("ELPD (PSIS-LOO)")
    ax.set_xticks(x)
    ax.legend(loc="best", frameon=False, fontsize=8)
    caption = (
        f"Expected log predictive density of every sampled model, with ±{se_multiple:g} SE bars; green points were "
        "kept. A model is kept only when it beats the best by more than "
        f"{se_multiple:g} standard errors of the difference (not of these bars)."
    )
    return _png(fig, "elpd_trajectory", "ELPD trajectory", caption)


def _effect_forest(report: Report) -> Figure | None:
    rows = [r for r in report.iterations if r.loop is Loop.MODEL and r.effect is not None and r.kept]
    only_kept = True
    if not rows:
        rows = [r for r in report.iterations if r.loop is Loop.MODEL and r.effect is not None]
        only_kept = False
    design = report.final.dr
    if not rows and design is None:
        return None
    labels, means, lows, highs, colours = [], [], [], [], []
    for r in rows:
        e = r.effect
        assert e is not None  # rows hold only iterations with an effect
        labels.append(f"#{r.number} {e.estimand}")
        means.append(e.mean)
        lows.append(e.hdi_low)
        highs.append(e.hdi_high)
        colours.append(GREEN if r.kept else GREY)
    if design is not None:
        labels.append(f"DR #{report.final.dr_iteration} {design.estimand}")
        means.append(design.effect)
        lows.append(design.ci_low)
        highs.append(design.ci_high)
        colours.append(ORANGE)
    n = len(labels)
    fig, ax = _figure(1.2 + 0.38 * n)
    _style(ax)
    ypos = np.arange(n)[::-1]
    for y, m, lo, hi, c in zip(ypos, means, lows, highs, colours):
        ax.plot([lo, hi], [y, y], color=c, linewidth=2.2, solid_capstyle="round")
        ax.scatter([m], [y], color=c, s=40, zorder=3)
    ax.set_yticks(ypos)
    ax.set_yticklabels(labels, fontsize=9)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel(f"effect on {report.contract.outcome}")
    which = "kept models" if only_kept else "sampled models (none was kept)"
    caption = f"Posterior mean and 94 % HDI of the {report.contract.estimand} for the {which}, oldest at the top" + (
        ", with the doubly-robust estimate and its 95 % CI in orange." if design is not None else "."
    )
    return _png(fig, "effect_forest", "Effect across iterations", caption)


def _stacking(report: Report) -> Figure | None:
    """Each stacked model's interval with its weight as the dot's area; the stack at the bottom."""
    stacked = report.final.stacked
    if stacked is None:
        return None
    models = sorted(stacked.weights, key=lambda w: w.number)
    n = len(models) + 1
    fig, ax = _figure(1.2 + 0.38 * n)
    _style(ax)
    ypos = np.arange(n)[::-1]
    for y, w in zip(ypos[:-1], models):
        e = w.effect
        colour = GREEN if w.number == report.final.bayes_iteration else GREY
        ax.plot([e.hdi_low, e.hdi_high], [y, y], color=colour, linewidth=1.6, alpha=0.35 + 0.65 * w.weight)
        ax.scatter([e.mean], [y], color=colour, s=8 + 160 * w.weight, zorder=3)
    e = stacked.effect
    ax.plot([e.hdi_low, e.hdi_high], [0, 0], color=BLUE, linewidth=2.6, solid_capstyle="round")
    ax.scatter([e.mean], [0], color=BLUE, s=60, zorder=3, marker="D")
    labels = [f"#{w.number} {w.move or 'edit'} ({w.weight:.0%})" for w in models] + ["stacked"]
    ax.set_yticks(ypos)
    ax.set_yticklabels(labels, fontsize=9)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel(f"effect on {report.contract.outcome}")
    caption = (
        f"Every model that passed the gates, with its {e.interval_name} of the {e.estimand} and its LOO stacking "
        "weight (the dot's area and the line's strength; the kept model in green), and at the bottom the "
        "stacked effect: the same mixture of their posteriors."
    )
    return _png(fig, "stacking", "The effect stacked over the models", caption)


def _trace_rank(draws: np.ndarray | None, report: Report) -> Figure | None:
    if draws is None or np.asarray(draws).size == 0:
        return None
    trace = plots.trace_series(draws, max_points=1000)
    ranks = plots.rank_series(draws, bins=20)
    fig, (left, right) = _figure(3.0, ncols=2, gridspec_kw={"width_ratios": [1.6, 1]})
    for ax in (left, right):
        _style(ax)
    for i, (x, y) in enumerate(zip(trace.x, trace.y)):
        left.plot(x, y, color=CHAIN_COLOURS[i % len(CHAIN_COLOURS)], linewidth=0.7, alpha=0.85, label=f"chain {i + 1}")
    left.set_xlabel("draw")
    left.set_ylabel(report.contract.estimand)
    left.set_title("trace", fontsize=10)
    for i, counts in enumerate(ranks.counts):
        right.step(ranks.centers, counts, where="mid", color=CHAIN_COLOURS[i % len(CHAIN_COLOURS)], linewidth=1.2)
    right.axhline(ranks.expected, color="black", linestyle="--", linewidth=0.9)
    right.set_xlabel("rank of draw (all chains pooled)")
    right.set_ylabel("draws per bin")
    right.set_title("rank plot", fontsize=10)
    right.set_ylim(bottom=0)
    if trace.chains <= 8:
        left.legend(loc="upper right", frameon=False, fontsize=7, ncol=min(trace.chains, 4))
    which = f"iteration {report.focus_iteration}" + (
        "" if report.focus_kept else ", the latest sampled model (not kept)"
    )
    caption = (
        f"Draws of the {report.contract.estimand} by chain ({which}). Chains that mix overlap in the trace and give "
        "flat rank histograms near the dashed line; a chain stuck in one region piles its ranks at one end."
    )
    return _png(fig, "effect_trace_rank", "Trace and rank plot of the effect", caption)


def _pareto_k(k: np.ndarray | None, report: Report) -> Figure | None:
    if k is None or np.asarray(k).size == 0:
        return None
    series = plots.pareto_k_series(k)
    values = np.array(series.k)
    index = np.array(series.index)
    colour = np.where(values > plots.PARETO_K_VERY_BAD, VERMILLION, np.where(values > plots.PARETO_K_BAD, ORANGE, BLUE))
    fig, ax = _figure(3.0)
    _style(ax)
    ax.scatter(index, values, c=colour, s=9, linewidths=0)
    for threshold, style in zip(series.thresholds, ("--", "-")):
        ax.axhline(threshold, color=VERMILLION, linestyle=style, linewidth=0.9)
    ax.set_xlabel("observation")
    ax.set_ylabel("Pareto k")
    counts = plots.pareto_k_counts(values)
    caption = (
        f"PSIS-LOO Pareto k per observation (iteration {report.focus_iteration}): {counts.bad + counts.very_bad} of "
        f"{counts.total} above {plots.PARETO_K_BAD} (dashed), {counts.very_bad} above {plots.PARETO_K_VERY_BAD}. "
        "Above 0.7 the ELPD contribution of that observation is unreliable."
    )
    return _png(fig, "pareto_k", "Pareto k by observation", caption)


# --------------------------------------------------------------------------- design loop


def _population(result: Any) -> Figure | None:
    """Whose effect it is: how far the estimand's population moved from all units, column by column."""
    from engine.design.support import SHIFT_SHOWN

    shifts = result.population
    if not shifts:
        return None
    n = len(shifts)
    fig, ax = _figure(1.0 + 0.3 * n)
    _style(ax)
    ypos = np.arange(n)[::-1]
    values = np.array([s.shift_sd for s in shifts])
    ax.barh(ypos, values, height=0.55, color=[ORANGE if v > 0 else BLUE for v in values])
    ax.axvline(0, color="black", linewidth=0.6)
    for bound in (-SHIFT_SHOWN, SHIFT_SHOWN):
        ax.axvline(bound, color=GREY, linestyle=":", linewidth=0.9)
    ax.set_yticks(ypos)
    ax.set_yticklabels([f"{s.column} = {s.level}" if s.level else s.column for s in shifts], fontsize=7)
    ax.set_ylim(-0.7, n - 0.3)
    reach = max(float(np.abs(values).max()), SHIFT_SHOWN) * 1.15
    ax.set_xlim(-reach, reach)
    ax.set_xlabel("mean in the estimand's population − mean over all units (sd of the column)")
    est = result.estimate
    caption = (
        f"Whose effect it is: the columns in which the {est.estimand}'s population (units weighted as the estimand "
        f"weighs them) differs most from all {est.n_total} units; for a categorical column, its level that moved "
        f"most, on the scale of a share. Shifts under {SHIFT_SHOWN:g} sd (dotted) are not named."
    )
    return _png(fig, "population", "Whose effect it is", caption)


def _love_plot(result: Any) -> Figure | None:
    from engine.design.series import love_plot_series

    series = love_plot_series(result.balance, top=LOVE_TOP)
    if not series.names:
        return None
    n = len(series.names)
    fig, ax = _figure(1.0 + 0.22 * n)
    _style(ax)
    ypos = np.arange(n)[::-1]
    for y, b, a in zip(ypos, series.before, series.after):
        ax.plot([b, a], [y, y], color="#d0d0d0", linewidth=1, zorder=1)
    ax.scatter(series.before, ypos, s=26, facecolors="white", edgecolors=GREY, zorder=2, label="before weighting")
    ax.scatter(series.after, ypos, s=26, color=BLUE, zorder=3, label=f"after ({result.balance.weights})")
    ax.axvline(series.pass_below, color=GREEN, linestyle="--", linewidth=0.9)
    ax.axvline(series.fail_at, color=VERMILLION, linestyle="--", linewidth=0.9)
    ax.set_yticks(ypos)
    ax.set_yticklabels(series.names, fontsize=7)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel("|standardized mean difference|")
    ax.set_xlim(left=0)
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    more = f" (the {LOVE_TOP} most imbalanced of {len(result.balance.rows)})" if len(result.balance.rows) > n else ""
    caption = (
        f"Covariate balance{more}: |SMD| between arms before and after weighting. Balance passes when every |SMD| "
        f"after weighting is below {series.pass_below:g} (green line) and fails at {series.fail_at:g} (red line)."
    )
    return _png(fig, "love_plot", "Love plot", caption)


def _overlap(result: Any) -> Figure | None:
    from engine.design.series import overlap_series

    series = overlap_series(result.overlap)
    if not series.centres:
        return None
    fig, ax = _figure(3.0)
    _style(ax)
    centres = np.array(series.centres)
    ax.bar(centres, series.treated, width=series.width * 0.95, color=ORANGE, label="treated")
    ax.bar(centres, -np.array(series.control), width=series.width * 0.95, color=BLUE, label="control")
    for bound in series.bounds:
        ax.axvline(bound, color=VERMILLION, linestyle="--", linewidth=0.9)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlim(0, 1)
    ax.set_xlabel("estimated propensity score")
    ax.set_ylabel("units (control below)")
    ticks = ax.get_yticks()
    ax.set_yticks(ticks)
    ax.set_yticklabels([f"{abs(t):g}" for t in ticks])
    ax.legend(loc="upper center", frameon=False, fontsize=8, ncol=2)
    ov = result.overlap
    low, high = series.bounds
    caption = (
        f"Propensity scores by arm (treated up, control down). {ov.share_outside:.0%} of units lie outside "
        f"[{low:g}, {high:g}] (dashed): there one arm barely exists, and estimates lean on extrapolation."
    )
    return _png(fig, "overlap", "Overlap of propensity scores", caption)


def _trimming(result: Any) -> Figure | None:
    if result.trimming is None or not result.trimming.points:
        return None
    from engine.design.series import trimming_series

    series = trimming_series(result.trimming)
    x = np.array(series.thresholds)
    y = np.array(series.estimates)
    fig, ax = _figure(3.0)
    _style(ax)
    ax.fill_between(x, series.lows, series.highs, color=SKY, alpha=0.3, linewidth=0)
    ax.errorbar(
        x, y, yerr=[y - np.array(series.lows), np.array(series.highs) - y], fmt="o", color=BLUE, capsize=3, markersize=4
    )
    for xi, yi, label, n in zip(x, series.highs, series.labels, series.n):
        ax.annotate(f"{label}\nn={n}", (xi, yi), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=6.5)
    ax.margins(x=0.06, y=0.18)  # room for the labels above each interval
    ax.set_xlabel("trimming threshold a (keep propensity in [a, 1 − a])")
    ax.set_ylabel("DR estimate (95 % CI)")
    caption = (
        "Doubly-robust estimate as units with extreme propensities are trimmed away. Trimming changes the estimand "
        "(ATE → ATO: the overlap population); an estimate that moves a lot with the threshold depends on the units "
        "with poor overlap."
    )
    return _png(fig, "trimming", "Trimming sensitivity", caption)


# --------------------------------------------------------------------------- batches


def _batch_effect(view: BatchView) -> Figure | None:
    """The effect along a batch's partition or setting with its intervals; one line per group."""
    from matplotlib.lines import Line2D

    series = [s for s in view.series if s.points]
    if not series:
        return None
    labels = list(dict.fromkeys(p.label for s in series for p in s.points))
    position = {label: i for i, label in enumerate(labels)}
    spread = 0.5 if len(series) > 1 else 0.0  # side by side within a level, so the intervals do not overlap
    step = spread / max(len(series) - 1, 1)
    fig, ax = _figure(3.4)
    _style(ax)
    lows = [p.low for s in series for p in s.points]
    highs = [p.high for s in series for p in s.points]
    for g, s in enumerate(series):
        colour = CHAIN_COLOURS[g % len(CHAIN_COLOURS)]
        x = np.array([position[p.label] - spread / 2 + g * step for p in s.points])
        y = np.array([p.mean for p in s.points])
        low = np.array([p.low for p in s.points])
        high = np.array([p.high for p in s.points])
        good = np.array([p.satisfactory for p in s.points])
        if len(series) > 1:
            ax.plot(x, y, color=colour, linewidth=1, alpha=0.6)
        ax.errorbar(x, y, yerr=[y - low, high - y], fmt="none", ecolor=colour, elinewidth=1.4, capsize=3)
        ax.scatter(x[good], y[good], s=40, color=colour, zorder=3)
        ax.scatter(x[~good], y[~good], s=40, facecolors="white", edgecolors=colour, linewidths=1.4, zorder=3)
    if min(lows) <= 0 <= max(highs):
        ax.axhline(0, color="black", linewidth=0.7)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30 if len(labels) > 6 else 0, fontsize=8)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    first = series[0]
    ax.set_xlabel(first.axis)
    ax.set_ylabel(f"{first.estimand} ({first.interval})")
    handles = [
        Line2D([], [], marker="o", linestyle="", color=GREY, label="satisfactory"),
        Line2D([], [], marker="o", linestyle="", markerfacecolor="white", color=GREY, label="not satisfactory"),
    ]
    if len(series) > 1:
        handles += [
            Line2D([], [], color=CHAIN_COLOURS[g % len(CHAIN_COLOURS)], label=s.group) for g, s in enumerate(series)
        ]
    ax.legend(handles=handles, loc="best", frameon=False, fontsize=7)
    plan = view.batch.plan
    lines = " One line per value of the varied setting." if len(series) > 1 else ""
    caption = (
        f"{first.title} (batch {plan.id}): each task's estimate with its {first.interval}.{lines} Filled points were "
        "rated satisfactory by the critic (or passed every gate) and not flagged by the sanity net; hollow ones were "
        "not. Tasks that failed are left out."
    )
    return _png(fig, view.figure_name, f"Batch {plan.id}: {first.title}", caption)


# --------------------------------------------------------------------------- evaluation appendix


def _evaluation(report: Report) -> Figure | None:
    evaluation = report.evaluation
    if evaluation is None:  # figures() asks for this one only when there is an evaluation
        return None
    rows = evaluation.rows
    n = len(rows)
    fig, ax = _figure(1.2 + 0.38 * n)
    _style(ax)
    ypos = np.arange(n)[::-1]
    for y, row in zip(ypos, rows):
        colour = GREY if row.covered is None else (GREEN if row.covered else VERMILLION)
        ax.plot([row.low, row.high], [y, y], color=colour, linewidth=2.2, solid_capstyle="round")
        ax.scatter([row.estimate], [y], color=colour, s=36, zorder=3)
    styles = {"ATE": "-", "ATT": "--", "ATC": ":"}
    shown = {row.estimand for row in rows}
    for label, value in evaluation.truth.items():
        if label in shown:
            ax.axvline(
                value, color="black", linestyle=styles.get(label, "-"), linewidth=1, label=f"true {label} {value:.3g}"
            )
    ax.set_yticks(ypos)
    ax.set_yticklabels([f"{r.label} {r.estimand}" for r in rows], fontsize=8)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel(f"effect on {report.contract.outcome}")
    if shown & set(evaluation.truth):
        ax.legend(loc="best", frameon=False, fontsize=8)
    caption = (
        "Every recorded estimate against the truth of this semi-synthetic problem: green intervals cover the true "
        "value, red ones miss it, grey ones estimate a quantity truth.json has no value for. Unavailable in real "
        "analyses; never shown to the agent."
    )
    return _png(fig, "evaluation", "Estimates against the truth (evaluation only)", caption)
