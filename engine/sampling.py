"""Sampling with nutpie: compile, sample seeded chains, stream live progress, obey a budget.

:func:`sample` compiles a PyMC model with nutpie's Numba backend and samples it in
nutpie's background sampler, polling a few times a second so it can stop for the time
budget (:class:`~engine.errors.SamplingBudgetExceeded`) or for cancellation
(:class:`~engine.errors.SamplingCancelled`). Per-chain progress — draws done, divergences,
step size, tuning or not — reaches ``on_progress`` as :class:`SamplingProgress` snapshots.

Structured progress comes from nutpie's private progress API (pinned to nutpie 0.16, see
:func:`_progress_sampler`); if that API is missing, sampling still works and progress
carries only the elapsed time.

Importing this module is cheap: nutpie, PyMC and NumPy load inside the functions.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from engine.errors import SamplingBudgetExceeded, SamplingCancelled
from engine.problem import SamplingSettings
from engine.progress import ChainProgress, Phase, SamplingProgress

if TYPE_CHECKING:
    import arviz as az
    import pymc as pm

PROGRESS_RATE_MS = 250
"""How often nutpie renders progress (4 Hz): smooth for a screen, cheap for the sampler."""
POLL_S = 0.05
"""How often the budget and the stop request are checked while chains run."""
FREE_VARS_ATTR = "free_vars"
"""Posterior attribute listing the model's free parameters (comma-separated), for the gates."""


@dataclass
class _ProgressState:
    """Latest chain states from nutpie's callback thread (a tuple swap is atomic)."""

    chains: tuple[ChainProgress, ...] = ()
    errors: list[str] = field(default_factory=list)
    closed: bool = False  # set once sampling ends: a late render must not follow "done"


# One JSON object per chain; upon (nutpie's template engine) needs "}} }" rather than "}}}".
_CHAIN_TEMPLATE = (
    '[{% for chain in chains %}{"finished": {{ chain.finished_draws }} , "total": {{ chain.total_draws }} , '
    '"divergences": {{ chain.divergences }} , "step_size": "{{ chain.step_size }}", '
    '"tuning": {{ chain.tuning }} }{% if not loop.last %},{% endif %}{% endfor %}]'
)


@dataclass(frozen=True)
class CompiledModel:
    """A model compiled for nutpie, reusable: sampling it again skips the compile."""

    nutpie_model: Any = field(repr=False)
    free_vars: tuple[str, ...]
    seconds: float


def compile_model(model: pm.Model, var_names: Sequence[str] | None = None) -> CompiledModel:
    """Compile ``model`` for nutpie with the Numba backend.

    Parameters
    ----------
    model
        A PyMC model.
    var_names
        Variables the trace keeps (default: every variable, Deterministics included).

    Returns
    -------
    CompiledModel
        :func:`sample` accepts it in place of the model, to sample again without paying
        the compile (4–20 s) twice.
    """
    import nutpie

    start = time.perf_counter()
    compiled = nutpie.compile_pymc_model(
        model, backend="numba", var_names=None if var_names is None else list(var_names)
    )
    return CompiledModel(compiled, tuple(rv.name for rv in model.free_RVs), time.perf_counter() - start)


def sample(
    model: Any,
    settings: SamplingSettings,
    *,
    budget_s: float,
    on_progress: Callable[[SamplingProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    cores: int | None = None,
    var_names: Sequence[str] | None = None,
) -> az.InferenceData:
    """Sample ``settings.chains`` × ``settings.draws`` after ``settings.tune`` with nutpie.

    Parameters
    ----------
    model
        A ``pm.Model``, or a :class:`CompiledModel` from :func:`compile_model` (its
        compile time is not counted again).
    settings
        Chains, draws, tuning steps and seed.
    budget_s
        Wall-clock seconds allowed for sampling (compilation excluded: it cannot be
        interrupted, and the sandbox's own time limit covers it).
    on_progress
        Called a few times a second, from the sampling thread and nutpie's progress thread,
        with a :class:`SamplingProgress`. Exceptions it raises are ignored.
    should_stop
        Polled every :data:`POLL_S`; returning True cancels sampling.
    cores
        Chains run in parallel; defaults to the CPUs this process may use.
    var_names
        Variables the trace keeps when ``model`` is a ``pm.Model`` (default: all).

    Returns
    -------
    arviz.InferenceData
        ``posterior`` and ``sample_stats`` of the post-warmup draws. The posterior's attrs
        carry ``compile_time`` and ``sampling_time`` (seconds) and ``free_vars``.

    Raises
    ------
    SamplingBudgetExceeded
        Sampling ran past ``budget_s``; the partial trace is discarded.
    SamplingCancelled
        ``should_stop()`` returned True.
    """
    import numpy as np

    notify = _safe(on_progress)
    if isinstance(model, CompiledModel):
        compiled, compile_s = model, 0.0
    else:
        notify(SamplingProgress(Phase.COMPILING, 0.0, budget_s))
        compiled = compile_model(model, var_names)
        compile_s = compiled.seconds
    if should_stop is not None and should_stop():
        raise SamplingCancelled("sampling was cancelled before it started")

    nuts = _nuts_settings(settings)
    n_cores = max(1, min(settings.chains, cores or len(os.sched_getaffinity(0))))
    state = _ProgressState()
    begun = time.perf_counter()

    def snapshot(phase: str = Phase.SAMPLING) -> SamplingProgress:
        return SamplingProgress(phase, time.perf_counter() - begun, budget_s, state.chains, compile_s)

    def on_render(text: str) -> None:
        if state.closed:
            return
        try:
            state.chains = _parse_chains(text)
        except (ValueError, TypeError, KeyError) as exc:  # a template nutpie renders differently
            if len(state.errors) < 3:
                state.errors.append(str(exc))
            return
        notify(snapshot())

    nutpie_model = compiled.nutpie_model
    sampler = _progress_sampler(nutpie_model, nuts, np.zeros(nutpie_model.n_dim), n_cores, on_render)
    if sampler is None:  # nutpie's private progress API is gone: sample, poll elapsed time only
        import nutpie

        sampler = nutpie.sample(
            nutpie_model,
            chains=settings.chains,
            draws=settings.draws,
            tune=settings.tune,
            seed=settings.seed,
            cores=n_cores,
            save_warmup=False,
            progress_bar=False,
            blocking=False,
        )
    last_poll_note = 0.0
    try:
        while True:
            try:  # nutpie 0.16 raises TimeoutError while chains run (is_finished does too)
                idata = sampler.wait(timeout=POLL_S)
                break
            except TimeoutError:
                pass
            elapsed = time.perf_counter() - begun
            if should_stop is not None and should_stop():
                raise SamplingCancelled(f"sampling was cancelled after {elapsed:.0f} s")
            if elapsed > budget_s:
                raise SamplingBudgetExceeded(budget_s, elapsed, _how_far(state.chains))
            if not state.chains and elapsed - last_poll_note >= PROGRESS_RATE_MS / 1000:
                last_poll_note = elapsed
                notify(snapshot())
    except BaseException:
        state.closed = True
        sampler.cancel()
        raise
    state.closed = True  # chains are finished even if their last render has not arrived
    state.chains = tuple(replace(c, finished=c.total, tuning=False) for c in state.chains)
    sampling_s = time.perf_counter() - begun
    notify(snapshot(Phase.DONE))
    idata.posterior.attrs["compile_time"] = compile_s
    idata.posterior.attrs["sampling_time"] = sampling_s
    idata.posterior.attrs[FREE_VARS_ATTR] = ",".join(compiled.free_vars)
    return idata


def free_parameter_names(idata: az.InferenceData) -> list[str]:
    """The model's free parameters in ``idata`` (deterministics such as ``mu`` left out).

    Uses the names :func:`sample` recorded; for other traces, every posterior variable.

    Parameters
    ----------
    idata
        A trace with a ``posterior`` group.

    Returns
    -------
    list of str
        In the posterior's order.
    """
    posterior = idata.posterior  # type: ignore[attr-defined]  # arviz groups are dynamic attributes
    recorded = posterior.attrs.get(FREE_VARS_ATTR)
    names = list(posterior.data_vars)
    if not recorded:
        return names
    wanted = set(str(recorded).split(","))
    return [n for n in names if n in wanted]


# --------------------------------------------------------------------------- nutpie internals


def _progress_sampler(compiled: Any, nuts: Any, init_mean: Any, cores: int, on_render: Callable[[str], None]) -> Any:
    """Start nutpie's background sampler with a JSON progress template, or return None.

    This is the one place that uses nutpie's private API (checked against nutpie 0.16.8):
    ``nutpie.sample`` offers a progress template only inside notebooks, so we build the
    ``_BackgroundSampler`` ourselves with ``_lib.ProgressType.template_callback``. Returns
    None when those names are missing or the template does not compile, and the caller
    falls back to the public API without per-chain progress.
    """
    try:
        from nutpie import _lib
        from nutpie.sample import _BackgroundSampler
    except ImportError:
        return None

    class _JsonProgressSampler(_BackgroundSampler):
        def __init__(self) -> None:  # replaces the notebook/terminal progress set-up only
            self._settings = nuts
            self._compiled_model = compiled
            self._save_warmup = False
            self._return_raw_trace = False
            self._html = None
            self._store = _lib.PyStorage.arrow()
            progress = _lib.ProgressType.template_callback(PROGRESS_RATE_MS, _CHAIN_TEMPLATE, cores, on_render)
            self._sampler = compiled._make_sampler(nuts, init_mean, cores, progress, self._store)

    try:
        return _JsonProgressSampler()
    except (AttributeError, TypeError, RuntimeError):
        return None


def _nuts_settings(settings: SamplingSettings) -> Any:
    from nutpie import _lib

    nuts = _lib.PyNutsSettings.Diag(settings.seed)
    nuts.num_tune = settings.tune
    nuts.num_draws = settings.draws
    nuts.num_chains = settings.chains
    return nuts


def _parse_chains(text: str) -> tuple[ChainProgress, ...]:
    raw = json.loads(text)
    return tuple(
        ChainProgress(
            chain=i,
            finished=int(c["finished"]),
            total=int(c["total"]),
            divergences=int(c["divergences"]),
            step_size=_float(c["step_size"]),
            tuning=bool(c["tuning"]),
        )
        for i, c in enumerate(raw)
    )


def _float(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")


def _how_far(chains: tuple[ChainProgress, ...]) -> str:
    if not chains:
        return ""
    done = min(c.finished for c in chains)
    return f"slowest chain at {done} of {chains[0].total} steps"


def _safe(callback: Callable[[SamplingProgress], None] | None) -> Callable[[SamplingProgress], None]:
    """A progress callback that never breaks sampling (it runs on nutpie's thread)."""
    if callback is None:
        return lambda progress: None

    def call(progress: SamplingProgress) -> None:
        try:
            callback(progress)
        except Exception:  # noqa: BLE001 - a broken screen must not kill the sampler thread
            pass

    return call
