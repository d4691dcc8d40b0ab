"""Run a design-based analysis end to end: estimate, diagnostics, refuters, sensitivity.

:func:`run_design` is what the design loop's harness calls (in a sandboxed child
process): it takes a validated spec and the problem's data and returns a small,
picklable :class:`DesignResult`. Progress goes to an optional callback as
:class:`DesignProgress` messages, one per stage.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.design.diagnostics import (
    TRIM_THRESHOLDS,
    balance,
    estimand_weights,
    overlap,
    placebo_outcome,
    trimming_curve,
)
from engine.design.estimate import estimate_effect, fit_dr, learner_description, prepare, resolve_propensity
from engine.design.facts import column_facts, data_facts
from engine.design.refuters import (
    REFITS,
    REFUTERS,
    SUBSET_FRACTION,
    SUBSET_REPEATS,
    judge,
    subset_estimate,
    subset_rows,
    summarise_subsets,
)
from engine.design.results import DesignResult
from engine.design.sanity import sanity_check
from engine.design.sensitivity import sensitivity
from engine.design.series import (  # re-exported: the screens import the series from here
    LovePlotSeries,
    OverlapSeries,
    TrimmingSeries,
    love_plot_series,
    overlap_series,
    trimming_series,
)
from engine.design.spec import AnalysisSpec, Estimator
from engine.design.support import describe_population, target_weights
from engine.problem import Contract, Estimand, OutcomeType, Problem
from engine.progress import DesignProgress
from engine.records import Effect
from engine.versions import package_versions

__all__ = [
    "DesignProgress",
    "DesignSettings",
    "LovePlotSeries",
    "OverlapSeries",
    "TrimmingSeries",
    "love_plot_series",
    "overlap_series",
    "run_design",
    "trimming_series",
]


@dataclass(frozen=True)
class DesignSettings:
    """How much work a run does beyond the estimate (tests and quick looks turn it down)."""

    refuters: tuple[str, ...] = REFUTERS
    subset_repeats: int = SUBSET_REPEATS
    subset_fraction: float = SUBSET_FRACTION
    refuter_folds: int | None = None  # None: the spec's folds
    trim_thresholds: tuple[float, ...] = TRIM_THRESHOLDS
    placebo: bool = True
    sensitivity: bool = True
    workers: int | None = None  # threads for the placebo outcomes and refuters; None: one per core


ProblemData = Problem | tuple[pd.DataFrame, Contract]


SUBSET_TASK = "subset#"
"""Task names of the data-subset refuter's subsets (reported together, as one stage)."""


ESTIMATE_TASK = "estimate"


def _run_side_by_side(
    tasks: dict[str, Callable[[], Any]], workers: int | None, done: Callable[[str, float], None]
) -> dict[str, Any]:
    """Run independent stages on a thread pool; report each as it ends, with its own seconds."""
    if not tasks:
        return {}
    width = max(1, min(len(tasks), workers or len(os.sched_getaffinity(0))))

    def timed(stage: str) -> tuple[str, Any, float]:
        began = time.perf_counter()
        return stage, tasks[stage](), time.perf_counter() - began

    results: dict[str, Any] = {}
    with ThreadPoolExecutor(max_workers=width, thread_name_prefix="design-check") as pool:
        for future in as_completed([pool.submit(timed, stage) for stage in tasks]):
            stage, value, seconds = future.result()  # a failed check fails the run, as before
            results[stage] = value
            done(stage, seconds)
    return results


def _unpack(problem: ProblemData) -> tuple[pd.DataFrame, Contract]:
    if isinstance(problem, tuple):
        return problem
    return problem.data, problem.contract


def run_design(
    spec: AnalysisSpec,
    problem: ProblemData,
    *,
    bayesian_effect: Effect | None = None,
    on_progress: Callable[[DesignProgress], None] | None = None,
    settings: DesignSettings = DesignSettings(),
    population_file: Path | None = None,
) -> DesignResult:
    """Estimate the effect the spec describes and run every design diagnostic.

    Parameters
    ----------
    spec
        A validated analysis spec (:func:`engine.design.spec.parse_spec`).
    problem
        A :class:`~engine.problem.Problem`, or ``(frame, contract)``.
    bayesian_effect
        The model loop's current best effect, stored for triangulation.
    on_progress
        Called after each stage with a :class:`DesignProgress`.
    settings
        Which refuters, how many subset repeats, which trimming thresholds.
    population_file
        Where to save, as ``.npy``, how much each unit counts in the estimate
        (:func:`engine.design.support.target_weights`, zero for trimmed units): whose effect the
        number is, for scoring against known unit effects. Not saved when None.

    Returns
    -------
    DesignResult
        Picklable; timings per stage in seconds under ``timings``.

    Raises
    ------
    SpecError
        When an arm is too small for the cross-fitting folds, trimming leaves only one arm, or a
        placebo outcome is the only covariate.
    ValueError
        For an unknown refuter name in ``settings``.
    """
    frame, contract = _unpack(problem)
    covariates = spec.resolved_covariates(contract)
    stages = ["estimate", "diagnostics", "trimming"]
    if settings.placebo:
        stages += [f"placebo:{c}" for c in spec.placebo_outcomes]
    stages += [f"refuter:{r}" for r in settings.refuters]
    if settings.sensitivity:
        stages.append("sensitivity")
    stages.append("facts")
    timings: dict[str, float] = {}
    start = time.perf_counter()
    clock = [start]

    def done(stage: str, seconds: float | None = None) -> None:
        now = time.perf_counter()
        timings[stage] = round(now - clock[0] if seconds is None else seconds, 4)
        clock[0] = now
        if on_progress is not None:
            on_progress(DesignProgress(stage, len(timings), len(stages), now - start))

    data = prepare(frame, contract, covariates)
    for name in settings.refuters:
        if name != "data_subset" and name not in REFITS:
            raise ValueError(f"unknown refuter {name!r}; choose from {', '.join(REFUTERS)}")
    # The learner ``auto`` picks is decided once, on the full data (a second of work), so the main
    # fit, the placebo outcomes and every refuter's refit are independent: they run side by side on
    # threads (the sandbox forbids fork, so no process pool), each with its own seeded generator, and
    # their results do not depend on the order. Refuters are judged once the estimate is in.
    resolved, choice = resolve_propensity(data, spec)
    refuter_spec = resolved if settings.refuter_folds is None else replace(resolved, folds=settings.refuter_folds)
    # Longest first, so no core idles at the end: the main fit, the refits on full-size data (a noise
    # column or a noise outcome makes the boosting work hardest), the subsets, then the placebos.
    checks: dict[str, Callable[[], Any]] = {ESTIMATE_TASK: partial(fit_dr, data, resolved, choice)}
    for name in settings.refuters:
        if name not in ("data_subset", "placebo_treatment"):
            checks[f"refit:{name}"] = partial(REFITS[name], data, refuter_spec)
    subsets = 0
    if "data_subset" in settings.refuters:  # its subsets are independent too: one task each
        rows = subset_rows(data.n, refuter_spec.seed, settings.subset_fraction, settings.subset_repeats)
        for k, subset in enumerate(rows):
            checks[f"{SUBSET_TASK}{k}"] = partial(subset_estimate, data, refuter_spec, subset)
        subsets = len(rows)
    if "placebo_treatment" in settings.refuters:  # a permuted treatment fits fastest
        checks["refit:placebo_treatment"] = partial(REFITS["placebo_treatment"], data, refuter_spec)
    if settings.placebo:
        for column in spec.placebo_outcomes:
            checks[f"placebo:{column}"] = partial(placebo_outcome, frame, contract, resolved, column)
    task_seconds: dict[str, float] = {}

    def report(stage: str, seconds: float) -> None:
        if stage.startswith("placebo:"):
            done(stage, seconds)
        else:
            task_seconds[stage] = seconds  # the refuters are reported once judged

    results = _run_side_by_side(checks, settings.workers, report)
    fit = results[ESTIMATE_TASK]
    keep = fit.keep(*spec.trim)
    est = estimate_effect(fit, spec.estimand, keep)
    done("estimate", task_seconds[ESTIMATE_TASK])

    sanity = sanity_check(fit, est, keep, spec.estimand)
    bal = balance(data, fit.e_clipped, keep, spec.estimand)
    ov = overlap(fit.e, data.t, keep, spec.estimand)
    done("diagnostics")

    trim = trimming_curve(fit, spec.estimand, settings.trim_thresholds) if settings.trim_thresholds else None
    done("trimming")

    for name in settings.refuters:
        if name == "data_subset":
            estimates = [results[f"{SUBSET_TASK}{k}"] for k in range(subsets)]
            results["refuter:data_subset"] = summarise_subsets(data, est, estimates, settings.subset_fraction)
            done("refuter:data_subset", sum(task_seconds[f"{SUBSET_TASK}{k}"] for k in range(subsets)))
        else:
            results[f"refuter:{name}"] = judge(name, est, results[f"refit:{name}"])
            done(f"refuter:{name}", task_seconds[f"refit:{name}"])
    placebo = [results[stage] for stage in checks if stage.startswith("placebo:")]
    refuters = [results[f"refuter:{name}"] for name in settings.refuters]
    clock[0] = time.perf_counter()

    sens = None
    if settings.sensitivity:
        binary = contract.outcome_type is OutcomeType.BINARY
        population = keep & (data.t == 1) if spec.estimand is Estimand.ATT else keep
        sens = sensitivity(
            est,
            data.y[keep],
            data.t[keep],
            data.W[keep],
            binary=binary,
            baseline_risk=float(fit.m0[population].mean()) if binary else None,
        )
        done("sensitivity")

    population = np.zeros(data.n)
    population[keep] = target_weights(fit.e_clipped[keep], data.t[keep], spec.estimand)
    if population_file is not None:
        np.save(population_file, population, allow_pickle=False)
    weights = np.zeros(data.n)
    weights[keep] = estimand_weights(fit.e_clipped[keep], data.t[keep], spec.estimand)
    columns = column_facts(frame, contract, covariates, weights=weights, keep=keep)
    facts = data_facts(frame, contract, columns)
    done("facts")
    timings["total"] = round(time.perf_counter() - start, 4)

    notes = [learner_description(fit.spec, data.discrete_outcome)]
    if fit.choice is not None:
        notes.append(fit.choice.describe() + ".")
    if data.discrete_outcome:
        notes.append(
            "Binary outcome: the outcome model is a classifier fitted with EconML's discrete_outcome=True, so the "
            "effect is a risk difference; placebo outcomes use regressors on their own scale."
        )
    if est.n_dropped and est.estimand != est.requested:
        notes.append(
            f"Trimming dropped {est.n_dropped} of {est.n_total} units: the {est.requested} asked for is reported as "
            f"the {est.estimand}."
        )
    if spec.estimator is Estimator.DR and spec.estimand is Estimand.ATO:
        notes.append("DRLearner has no weighted population interval: the ATO is the overlap-weighted AIPW score.")
    result = DesignResult(
        spec=spec,
        contract_estimand=contract.estimand.value,
        outcome_type=contract.outcome_type.value,
        estimate=est,
        balance=bal,
        overlap=ov,
        trimming=trim,
        placebo=tuple(placebo),
        refuters=tuple(refuters),
        sensitivity=sens,
        columns=columns,
        facts=facts,
        treatment=contract.treatment,
        outcome=contract.outcome,
        covariates=covariates,
        n_total=data.n,
        bayesian_effect=bayesian_effect,
        sanity=sanity,
        propensity_choice=fit.choice,
        population=describe_population(frame, contract, population),
        notes=tuple(notes),
        timings=timings,
        versions=package_versions(("econml", "scikit-learn", "numpy", "scipy")),
    )
    if bayesian_effect is not None:
        from engine.design.critic import triangulate

        result = replace(result, triangulation=triangulate(est, bayesian_effect))
    return result
