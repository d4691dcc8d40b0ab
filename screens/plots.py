"""Terminal plots: one textual-plotext ``PlotextPlot`` per widget, never plotext's global state.

Each widget draws one series type from :mod:`engine.plots`; the engine decides what the
points are, these decide only how they look.
"""

from __future__ import annotations

from typing import Any

from textual_plotext import PlotextPlot


class SeriesPlot(PlotextPlot):
    """A plot that redraws itself from a series object (``None``: an empty plot with a note)."""

    DEFAULT_CSS = """
    SeriesPlot { height: 1fr; min-height: 8; }
    """

    def __init__(
        self,
        series: Any = None,
        *,
        title: str = "",
        empty: str = "no data",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._series = series
        self._title = title
        self._empty = empty

    def on_mount(self) -> None:
        super().on_mount()
        self.replot()

    def set_series(self, series: Any) -> None:
        self._series = series
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_figure()
        if self._series is None or _is_empty(self._series):
            plt.title(f"{self._title}: {self._empty}")
            plt.xticks([])
            plt.yticks([])
        else:
            plt.title(self._title)
            self.draw(plt, self._series)
        self.refresh()

    def draw(self, plt: Any, series: Any) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


def _is_empty(series: Any) -> bool:
    if isinstance(series, (tuple, list)):
        return len(series) == 0
    return bool(getattr(series, "empty", False))


class ElpdPlot(SeriesPlot):
    """ELPD by iteration with ±2 SE bars; kept iterations in green, the kept line as a step."""

    def draw(self, plt: Any, s: Any) -> None:
        for n, lo, hi, kept in zip(s.numbers, s.lower, s.upper, s.kept, strict=True):
            plt.plot([n, n], [lo, hi], color="green" if kept else "gray", marker="│")
        kept_x = [n for n, k in zip(s.numbers, s.kept, strict=True) if k]
        kept_y = [e for e, k in zip(s.elpd, s.kept, strict=True) if k]
        other_x = [n for n, k in zip(s.numbers, s.kept, strict=True) if not k]
        other_y = [e for e, k in zip(s.elpd, s.kept, strict=True) if not k]
        if other_x:
            plt.scatter(other_x, other_y, marker="●", color="gray")
        if kept_x:
            plt.scatter(kept_x, kept_y, marker="●", color="green")
        plt.xticks(list(s.numbers), [str(n) for n in s.numbers])
        plt.xlabel(f"iteration (bars: ±{s.se_multiple:g} SE)")
        if len(s.numbers) == 1:
            plt.xlim(s.numbers[0] - 1, s.numbers[0] + 1)


class ForestPlot(SeriesPlot):
    """Effect posterior mean and HDI per kept iteration, oldest at the top."""

    def draw(self, plt: Any, rows: Any) -> None:
        ys = list(range(len(rows), 0, -1))
        for y, row in zip(ys, rows, strict=True):
            plt.plot([row.low, row.high], [y, y], color="cyan", marker="─")
        plt.scatter([r.mean for r in rows], ys, color="cyan", marker="●")
        plt.yticks(ys, [r.label for r in rows])
        plt.ylim(0.5, len(rows) + 0.5)
        low = min(r.low for r in rows)
        high = max(r.high for r in rows)
        if low <= 0 <= high:
            plt.vline(0, "gray")
        plt.xlabel(f"{rows[0].estimand} (94% HDI)")


class TracePlot(SeriesPlot):
    """The per-draw effect, one line per chain."""

    COLORS = ("cyan", "magenta", "yellow", "green", "blue", "red")

    def draw(self, plt: Any, s: Any) -> None:
        for i, (x, y) in enumerate(zip(s.x, s.y, strict=True)):
            plt.plot(list(x), list(y), color=self.COLORS[i % len(self.COLORS)], marker="braille")
        plt.xlabel("draw")


class RankPlot(SeriesPlot):
    """Rank histogram per chain; flat lines near the dashed expectation mean good mixing."""

    COLORS = TracePlot.COLORS

    def draw(self, plt: Any, s: Any) -> None:
        for i, counts in enumerate(s.counts):
            plt.plot(list(s.centers), list(counts), color=self.COLORS[i % len(self.COLORS)], marker="braille")
        plt.hline(s.expected, "gray")
        plt.xlabel("rank of draw (all chains pooled)")
        plt.ylim(0, max(max(c) for c in s.counts) * 1.15 + 1)


class ParetoKPlot(SeriesPlot):
    """Pareto k by observation, with the 0.7 and 1.0 thresholds."""

    def draw(self, plt: Any, s: Any) -> None:
        bad_threshold = s.thresholds[0]
        good = [(i, k) for i, k in zip(s.index, s.k, strict=True) if k <= bad_threshold]
        bad = [(i, k) for i, k in zip(s.index, s.k, strict=True) if k > bad_threshold]
        if good:
            plt.scatter([i for i, _ in good], [k for _, k in good], color="cyan", marker="dot")
        if bad:
            plt.scatter([i for i, _ in bad], [k for _, k in bad], color="red", marker="●")
        for threshold, colour in zip(s.thresholds, ("orange", "red"), strict=False):
            plt.hline(threshold, colour)
        plt.xlabel("observation")
        top = max(max(s.k, default=0.0), s.thresholds[-1])
        plt.ylim(min(min(s.k, default=0.0), 0.0), top * 1.1)


class EffectDrawsPlot(SeriesPlot):
    """The per-draw effect as a trace or, toggled, as a rank plot (series: ``(TraceSeries, RankSeries)``)."""

    def __init__(self, series: Any = None, *, rank: bool = False, **kwargs: Any) -> None:
        super().__init__(series, **kwargs)
        self.rank = rank

    def toggle(self) -> None:
        self.rank = not self.rank
        self.replot()

    def replot(self) -> None:
        base = self._title.split(" of ", 1)[-1]
        self._title = f"{'rank plot' if self.rank else 'trace'} of {base}"
        super().replot()

    def draw(self, plt: Any, series: Any) -> None:
        trace, rank = series
        if self.rank:
            RankPlot.draw(self, plt, rank)  # type: ignore[arg-type]
        else:
            TracePlot.draw(self, plt, trace)  # type: ignore[arg-type]

    COLORS = TracePlot.COLORS


class LovePlot(SeriesPlot):
    """|SMD| per covariate before (red) and after weighting (green), with the 0.1 and 0.2 lines."""

    def draw(self, plt: Any, s: Any) -> None:
        ys = list(range(len(s.names), 0, -1))
        plt.scatter(list(s.before), ys, color="red", marker="●")
        plt.scatter(list(s.after), ys, color="green", marker="●")
        plt.vline(s.pass_below, "orange")
        plt.vline(s.fail_at, "red")
        plt.yticks(ys, list(s.names))
        plt.ylim(0.5, len(ys) + 0.5)
        plt.xlim(0, max([*s.before, *s.after, s.fail_at]) * 1.05)
        plt.xlabel("|SMD|: red before, green after weighting")


class OverlapPlot(SeriesPlot):
    """Propensity histogram per arm (treated cyan, control magenta) and the overlap bounds."""

    def draw(self, plt: Any, s: Any) -> None:
        plt.plot(list(s.centres), list(s.control), color="magenta", marker="braille", fillx=True)
        plt.plot(list(s.centres), list(s.treated), color="cyan", marker="braille", fillx=True)
        for bound in s.bounds:
            plt.vline(bound, "orange")
        plt.xlim(0, 1)
        plt.xlabel("propensity: cyan treated, magenta control")


class TrimmingPlot(SeriesPlot):
    """The estimate and its interval as units with extreme propensities are trimmed."""

    def draw(self, plt: Any, s: Any) -> None:
        for x, lo, hi in zip(s.thresholds, s.lows, s.highs, strict=True):
            plt.plot([x, x], [lo, hi], color="cyan", marker="│")
        plt.scatter(list(s.thresholds), list(s.estimates), color="cyan", marker="●")
        plt.xlabel("trimming threshold (keep propensity in [a, 1 − a])")


class BatchEffectPlot(SeriesPlot):
    """A batch's effect along its partition or setting, with interval bars (series: ``list[EffectSeries]``).

    ● a satisfactory task, ○ one that is not; one colour per group when a batch both partitions and
    varies a setting (the groups sit side by side within each level).
    """

    COLORS = TracePlot.COLORS

    def replot(self) -> None:
        series = self._series or []
        self._title = series[0].title if series else "effect by partition"
        super().replot()

    def draw(self, plt: Any, series: Any) -> None:
        labels = list(dict.fromkeys(p.label for s in series for p in s.points))
        position = {label: i + 1 for i, label in enumerate(labels)}
        spread = 0.4 if len(series) > 1 else 0.0
        step = spread / max(len(series) - 1, 1)
        for g, s in enumerate(series):
            colour = self.COLORS[g % len(self.COLORS)]
            xs = [position[p.label] - spread / 2 + g * step for p in s.points]
            for x, p in zip(xs, s.points, strict=True):
                plt.plot([x, x], [p.low, p.high], color=colour, marker="│")
            good = [(x, p.mean) for x, p in zip(xs, s.points, strict=True) if p.satisfactory]
            poor = [(x, p.mean) for x, p in zip(xs, s.points, strict=True) if not p.satisfactory]
            named = {"label": s.group} if s.group else {}
            if good:
                plt.scatter([x for x, _ in good], [y for _, y in good], color=colour, marker="●", **named)
                named = {}
            if poor:
                plt.scatter([x for x, _ in poor], [y for _, y in poor], color=colour, marker="○", **named)
        low = min(p.low for s in series for p in s.points)
        high = max(p.high for s in series for p in s.points)
        if low <= 0 <= high:
            plt.hline(0, "gray")
        plt.xticks(list(position.values()), labels)
        plt.xlim(0.5, len(labels) + 0.5)
        plt.xlabel(f"{series[0].axis} · bars: {series[0].interval} · ● satisfactory ○ not")
