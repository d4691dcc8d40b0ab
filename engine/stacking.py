"""The session's stacked estimate: the effect averaged over its models, weighted by LOO stacking.

The keep rule picks one model, and within the ELPD band it picks by a tie-break: models
PSIS-LOO cannot tell apart may still disagree about the effect, and picking one hides that.
Stacking of predictive distributions (Yao, Vehtari, Simpson & Gelman 2018) weights every
model that passed the gates so that the mixture of their leave-one-out predictive densities
scores best (``az.compare(method="stacking")``); the effect's posterior is then the same
mixture of the models' effect draws. Where one model dominates, the stack is that model;
where several share the weight, the estimate averages them and the interval spans their
disagreement.

It is a summary over iterations that ran, not a run of its own: every input is an
iteration's stored pointwise ELPD (in git) and effect draws (beside the history), and the
keep rule's best stays the session's answer of record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from engine.iteration import IterationRecord
from engine.records import Effect, Loop, VerdictKind
from engine.store.files import EFFECT_DRAWS_FILE

if TYPE_CHECKING:
    from engine.store.session import Session

MIXTURE_DRAWS = 4000
"""Draws of the stacked effect's posterior (each model contributes its weight's share)."""
SHOWN_WEIGHT = 0.01
"""Models with less weight than this are listed as stacked but not named in one-line summaries."""
SOLE_WEIGHT = 0.99
"""A model with this much of the weight is the stack: the others add nothing worth showing."""
MIXTURE_SEED = 20181
"""The resampling's seed: the same session always gives the same stacked interval."""


@dataclass(frozen=True)
class StackInput:
    """One scored model: its iteration, its pointwise LOO ELPD and its effect draws."""

    number: int
    move: str
    effect: Effect
    pointwise_elpd: np.ndarray = field(repr=False, compare=False)
    effect_draws: np.ndarray = field(repr=False, compare=False)  # (chain, draw)


@dataclass(frozen=True)
class StackWeight:
    """A model's share of the stack."""

    number: int
    move: str
    weight: float
    effect: Effect


@dataclass(frozen=True)
class StackedEffect:
    """The stacked effect, each model's weight (heaviest first) and what was left out, with why."""

    effect: Effect
    weights: tuple[StackWeight, ...]
    left_out: tuple[str, ...] = ()

    @property
    def named(self) -> tuple[StackWeight, ...]:
        """The weights worth naming in a summary line (:data:`SHOWN_WEIGHT` or more), heaviest first."""
        return tuple(w for w in self.weights if w.weight >= SHOWN_WEIGHT)

    def is_only(self, number: int | None) -> bool:
        """Whether iteration ``number`` carries (nearly) all the weight, so the stack is that model.

        Parameters
        ----------
        number
            An iteration number, e.g. the kept model's; None is never the stack.

        Returns
        -------
        bool
        """
        top = self.weights[0]
        return number is not None and top.number == number and top.weight >= SOLE_WEIGHT

    def describe(self) -> str:
        """One line: the estimate, its interval and the models that carry the weight.

        Returns
        -------
        str
            ``stacked over 3 models: ATE 4.012 [3.800, 4.210] (94% HDI); weight on #7 log_mean 81%, …``
        """
        e = self.effect
        shares = ", ".join(f"#{w.number} {w.move or 'edit'} {w.weight:.0%}" for w in self.named)
        return (
            f"stacked over {len(self.weights)} models: {e.estimand} {e.mean:.3f} "
            f"[{e.hdi_low:.3f}, {e.hdi_high:.3f}] ({e.interval_name}); weight on {shares}"
        )


def stacking_weights(pointwise: Sequence[np.ndarray]) -> np.ndarray:
    """LOO stacking weights of models given their pointwise ELPDs (ArviZ's optimiser).

    Parameters
    ----------
    pointwise
        One array per model, each with one ELPD per observation (the same observations).

    Returns
    -------
    numpy.ndarray
        One weight per model, in the order given, non-negative and summing to one.

    Raises
    ------
    ValueError
        When the models were scored on different numbers of observations, or the optimiser
        found no weights.
    """
    import arviz as az
    import xarray as xr
    from arviz.stats.stats_utils import ELPDData

    sizes = {len(p) for p in pointwise}
    if len(sizes) != 1:
        raise ValueError(f"the models were scored on different numbers of observations ({sorted(sizes)})")
    names = [f"m{k}" for k in range(len(pointwise))]
    matrix = np.column_stack([np.asarray(p, dtype=float) for p in pointwise])
    # The weights do not change when one constant is added to every model's ELPD of an observation;
    # taking each observation's best away keeps exp() from underflowing to 0 for all models at once
    # (an observation every model finds very unlikely), which would leave the optimiser at its start.
    matrix = matrix - matrix.max(axis=1, keepdims=True)
    elpds = {}
    for name, values in zip(names, matrix.T, strict=True):
        elpds[name] = ELPDData(
            data=[
                float(values.sum()),
                float(np.sqrt(len(values) * values.var())),
                0.0,  # p_loo: ArviZ only reports it; the weights never read it
                0,
                len(values),
                False,
                xr.DataArray(values, dims=["obs"]).rename("loo_i"),
                xr.DataArray(np.zeros(len(values)), dims=["obs"]),
                "log",
                0.7,
            ],
            index=[
                "elpd_loo",
                "se",
                "p_loo",
                "n_samples",
                "n_data_points",
                "warning",
                "loo_i",
                "pareto_k",
                "scale",
                "good_k",
            ],
        )
    table = az.compare(elpds, ic="loo", method="stacking", scale="log")
    weights = np.clip(table.loc[names, "weight"].to_numpy(dtype=float), 0.0, None)
    if not (np.all(np.isfinite(weights)) and weights.sum() > 0):
        raise ValueError("the stacking optimiser found no weights (some observation has no finite density)")
    return weights / weights.sum()


def stack(models: Sequence[StackInput]) -> StackedEffect:
    """Weight the models by stacking and mix their effect draws by those weights.

    Parameters
    ----------
    models
        Two or more scored models of the same estimand on the same observations.

    Returns
    -------
    StackedEffect
        The mixture's mean, sd and HDI (the models' own interval mass), and every weight.

    Raises
    ------
    ValueError
        Fewer than two models, or models of different estimands or observations.
    """
    from engine.effects import summarize_draws

    if len(models) < 2:
        raise ValueError("stacking needs at least two scored models")
    estimands = {m.effect.estimand for m in models}
    if len(estimands) != 1:
        raise ValueError(f"the models estimate different estimands ({sorted(estimands)})")
    weights = stacking_weights([m.pointwise_elpd for m in models])
    rng = np.random.default_rng(MIXTURE_SEED)
    counts = _shares(weights, MIXTURE_DRAWS)
    mixture = np.concatenate(
        [rng.choice(np.ravel(m.effect_draws), c, replace=True) for m, c in zip(models, counts, strict=True) if c]
    )
    effect = summarize_draws(mixture[None, :], models[0].effect.estimand, hdi_prob=models[0].effect.hdi_prob)
    ranked = sorted(
        (StackWeight(m.number, m.move, float(w), m.effect) for m, w in zip(models, weights, strict=True)),
        key=lambda s: (-s.weight, s.number),
    )
    return StackedEffect(effect, tuple(ranked))


def stack_session(session: Session) -> StackedEffect | None:
    """The stacked estimate over a session's model iterations that passed the gates.

    Parameters
    ----------
    session
        An open session (read-only is enough).

    Returns
    -------
    StackedEffect or None
        None when fewer than two models can be stacked (nothing to average; the best is the answer).
    """
    best = session.best(Loop.MODEL)
    if best is None or best.verdict is None or best.verdict.metrics.effect is None:
        return None
    estimand = best.verdict.metrics.effect.estimand
    models: list[StackInput] = []
    left_out: list[str] = []
    for record in session.iterations():
        if not stackable(record):
            continue
        assert record.verdict is not None and record.verdict.metrics.effect is not None  # stackable
        if record.verdict.metrics.effect.estimand != estimand:
            left_out.append(f"#{record.number}: it estimates the {record.verdict.metrics.effect.estimand}")
            continue
        elpd = session.pointwise_elpd(record.number)
        draws_path = session.artifacts_dir(record.number) / EFFECT_DRAWS_FILE
        if elpd is None or not draws_path.is_file():
            left_out.append(f"#{record.number}: its pointwise ELPD or effect draws are not stored")
            continue
        draws = np.load(draws_path, allow_pickle=False)
        if not (np.all(np.isfinite(elpd)) and np.all(np.isfinite(draws))):
            left_out.append(f"#{record.number}: its pointwise ELPD or effect draws are not all finite")
            continue
        models.append(
            StackInput(
                record.number,
                record.proposal.move or "",
                record.verdict.metrics.effect,
                elpd,
                draws,
            )
        )
    if len(models) < 2:
        return None
    sizes = {len(m.pointwise_elpd) for m in models}
    if len(sizes) > 1:  # the data changed under the session: stack those scored on the best's rows
        by_number = {m.number: len(m.pointwise_elpd) for m in models}
        n = by_number.get(best.number, by_number[max(by_number)])  # else the newest model's rows
        left_out += [f"#{m.number}: scored on other rows" for m in models if len(m.pointwise_elpd) != n]
        models = [m for m in models if len(m.pointwise_elpd) == n]
        if len(models) < 2:
            return None
    return replace(stack(models), left_out=tuple(left_out))


def stackable(record: IterationRecord) -> bool:
    """A model-loop iteration that passed the gates and has an effect (kept or discarded).

    Parameters
    ----------
    record
        Any iteration.

    Returns
    -------
    bool
        True when it can enter the stack (and a new one may change it).
    """
    v = record.verdict
    return (
        record.proposal.loop == Loop.MODEL
        and v is not None
        and v.kind in (VerdictKind.KEPT, VerdictKind.DISCARDED)
        and v.metrics.effect is not None
    )


def _shares(weights: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` draws by ``weights`` (largest remainders), so the counts sum to ``total``."""
    raw = weights * total
    counts = np.floor(raw).astype(int)
    for k in np.argsort(counts - raw)[: total - counts.sum()]:
        counts[k] += 1
    return counts
