"""The batch's picture as data: one point per task along its partition or setting, with its interval.

Pure functions, so the TUI (plotext), the command line and the report (Matplotlib) draw the
same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.batch.store import StoredBatch


@dataclass(frozen=True)
class EffectPoint:
    """One task's estimate at its place on the axis."""

    label: str  # the level or the setting's value
    key: str
    mean: float
    low: float
    high: float
    satisfactory: bool


@dataclass(frozen=True)
class EffectSeries:
    """Estimates along one axis (a partition's levels, or a setting's values), in the plan's order."""

    title: str
    axis: str  # the partition column or the varied setting
    estimand: str
    interval: str  # "95% CI" or "94% HDI"
    points: tuple[EffectPoint, ...]
    group: str = ""  # the other axis' value when a batch has both (one series per value)


def effect_series(batch: StoredBatch) -> list[EffectSeries]:
    """One series per line of the batch's picture: by level (one line per setting when both vary).

    Parameters
    ----------
    batch
        A stored batch; tasks without an estimate are left out of the series.

    Returns
    -------
    list of EffectSeries
        Empty when nothing has an estimate yet.
    """
    plan = batch.plan
    request = plan.request
    by = request.by
    setting_name = request.vary[0].name if request.vary else None
    axis = by or setting_name or "task"
    groups: dict[str, list[EffectPoint]] = {}
    estimands: list[str] = []
    interval = ""
    for task in plan.tasks:
        result = batch.results.get(task.key)
        if result is None or result.effect is None:
            continue
        e = result.effect
        interval = e.interval_name
        if e.estimand not in estimands:
            estimands.append(e.estimand)
        label = task.level if by else (task.setting.value if task.setting else task.key)
        group = task.setting.text if (by and task.setting) else ""
        groups.setdefault(group, []).append(
            EffectPoint(str(label), task.key, e.mean, e.hdi_low, e.hdi_high, result.satisfactory)
        )
    estimand = "/".join(estimands)  # ATE/ATO when some settings trim and others do not
    title = f"{estimand} by {axis}" if by else f"{estimand} as {axis} varies"
    return [EffectSeries(title, axis, estimand, interval, tuple(points), group) for group, points in groups.items()]
