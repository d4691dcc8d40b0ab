"""run_design end to end: every stage, progress, timings, a picklable and JSON-able result, plot series."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from test_design_critic import SPEC
from test_design_estimate import EFFECT, simulate

from engine.design.results import DesignResult, Status
from engine.design.run import (
    DesignProgress,
    DesignSettings,
    love_plot_series,
    overlap_series,
    run_design,
    trimming_series,
)
from engine.jsonable import from_dict, to_json
from engine.records import Effect


@pytest.fixture(scope="module")
def run():
    frame, contract = simulate(n=1200, seed=41)
    progress: list[DesignProgress] = []
    bayes = Effect("ATE", EFFECT, 0.05, EFFECT - 0.1, EFFECT + 0.1)
    result = run_design(
        SPEC,
        (frame, contract),
        bayesian_effect=bayes,
        on_progress=progress.append,
        settings=DesignSettings(subset_repeats=2),
    )
    return result, progress


def test_every_stage_runs_and_reports_progress(run) -> None:
    result, progress = run
    stages = [p.stage for p in progress]
    # The main fit, the placebo outcome and every refit run side by side; the refuters are judged
    # (and reported) once the estimate is in, then the diagnostics that need it run in turn.
    side_by_side = {
        "estimate",
        "placebo:pre",
        "refuter:placebo_treatment",
        "refuter:random_common_cause",
        "refuter:data_subset",
        "refuter:dummy_outcome",
    }
    assert stages.index("estimate") < stages.index("diagnostics") < stages.index("trimming")
    assert stages[-2:] == ["sensitivity", "facts"] and set(stages) == side_by_side | {
        "diagnostics",
        "trimming",
        "sensitivity",
        "facts",
    }
    assert [p.step for p in progress] == list(range(1, 11)) and {p.total for p in progress} == {10}
    assert set(result.timings) == set(stages) | {"total"}
    in_turn = sum(v for k, v in result.timings.items() if k != "total" and k not in side_by_side)
    assert result.timings["total"] >= in_turn + max(result.timings[k] for k in side_by_side) - 1e-3


def test_the_checks_side_by_side_give_the_same_result_as_one_after_another(run) -> None:
    """Each refuter has its own seeded generator, so threads change nothing but the clock."""
    from dataclasses import replace

    parallel, _ = run
    frame, contract = simulate(n=1200, seed=41)
    bayes = Effect("ATE", EFFECT, 0.05, EFFECT - 0.1, EFFECT + 0.1)
    serial = run_design(
        SPEC, (frame, contract), bayesian_effect=bayes, settings=DesignSettings(subset_repeats=2, workers=1)
    )
    assert replace(serial, timings={}) == replace(parallel, timings={})


def test_the_result_is_sound_on_simulated_data(run) -> None:
    result, _ = run
    assert result.estimate.covers(EFFECT)
    assert result.balance.status is Status.PASS
    assert result.placebo[0].status is Status.PASS
    assert all(r.passed for r in result.refuters), [r.reading for r in result.refuters]
    assert result.triangulation is not None and result.triangulation.level == "agree"
    assert result.gate_failures() == ()
    assert [d.name for d in result.diagnostics()][:4] == ["sanity", "balance", "overlap", "trimming"]
    assert result.sanity is not None and result.sanity.credible, result.sanity
    assert result.covariates == ("x1", "x2", "x3", "group")
    assert result.versions["econml"].startswith("0.17")
    assert any("LinearDRLearner" in note for note in result.notes)


def test_result_is_small_picklable_and_round_trips_through_json(run) -> None:
    result, _ = run
    blob = pickle.dumps(result)
    assert len(blob) < 50_000
    assert pickle.loads(blob) == result
    text = to_json(result)
    back = from_dict(DesignResult, json.loads(text))
    assert back.estimate == result.estimate
    assert back.spec == result.spec
    assert back.refuters == result.refuters
    assert back.trimming == result.trimming


def test_gate_failures_name_the_failed_gates(run) -> None:
    from dataclasses import replace

    result, _ = run
    bad = replace(result, overlap=replace(result.overlap, status=Status.FAIL))
    assert bad.gate_failures() == ("overlap",)


def test_plot_series_are_plain_lists(run) -> None:
    result, _ = run
    love = love_plot_series(result.balance)
    assert love.after == sorted(love.after, reverse=True)  # worst balance after weighting first: what the gate judges
    rows = {r.name: r for r in result.balance.rows}
    assert [abs(rows[n].after) for n in love.names] == love.after and [
        abs(rows[n].before) for n in love.names
    ] == love.before
    assert len(love.after) == len(love.names) == len(result.balance.rows)
    assert all(isinstance(v, float) for v in love.before + love.after)
    assert love_plot_series(result.balance, top=2).names == love.names[:2]
    hist = overlap_series(result.overlap)
    assert len(hist.centres) == len(hist.treated) == len(hist.control) == 20
    assert hist.centres[0] == pytest.approx(0.025) and hist.bounds == (0.1, 0.9)
    curve = trimming_series(result.trimming)
    assert len(curve.thresholds) >= 7
    assert all(lo <= est <= hi for lo, est, hi in zip(curve.lows, curve.estimates, curve.highs))
    assert curve.labels[0] == "ATE"


def test_settings_turn_stages_off() -> None:
    frame, contract = simulate(n=600, seed=42)
    result = run_design(
        SPEC.with_(placebo_outcomes=()),
        (frame, contract),
        settings=DesignSettings(refuters=("data_subset",), subset_repeats=1, sensitivity=False, refuter_folds=2),
    )
    assert [r.name for r in result.refuters] == ["data_subset"]
    assert result.sensitivity is None and result.placebo == ()
    with pytest.raises(ValueError, match="unknown refuter"):
        run_design(SPEC, (frame, contract), settings=DesignSettings(refuters=("bootstrap",)))


def test_a_trimmed_run_reports_the_overlap_population() -> None:
    frame, contract = simulate(n=1500, seed=43, strength=3.0)
    spec = SPEC.with_(trim=(0.1, 0.9))
    result = run_design(spec, (frame, contract), settings=DesignSettings(refuters=("placebo_treatment",)))
    est = result.estimate
    assert est.estimand == "ATO" and est.requested == "ATE" and 0 < est.n < est.n_total == 1500
    assert result.overlap.share_outside > 0.05 and result.overlap.share_outside_analysed == 0.0
    assert result.overlap.status is Status.PASS
    assert any("reported as the ATO" in note for note in result.notes)
    assert all(np.isfinite(c.smd_weighted) for c in result.columns)
    assert result.refuters[0].passed


def test_engine_design_import_is_cheap() -> None:
    import subprocess
    import sys

    code = "import engine.design, sys; print(sorted({m.split('.')[0] for m in sys.modules} & {'econml', 'sklearn', 'pymc', 'textual'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_the_saved_population_is_whose_effect_the_estimate_is(tmp_path) -> None:
    """Overlap weights and trimming answer for a population of their own; the saved weights name it."""
    import pandas as pd

    from engine.design.spec import OutcomeLearner
    from engine.problem import Contract, Estimand, OutcomeType

    rng = np.random.default_rng(7)
    n = 3000
    x1 = rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-2.0 * (x1 - 0.75)))).astype(int)  # e = 1/2 at x1 = 0.75
    tau = 1.0 + x1  # the effect grows with x1, which drives treatment: each population has its own average
    y = tau * t + x1 + rng.normal(size=n)
    frame = pd.DataFrame({"t": t, "y": y, "x1": x1})
    contract = Contract("t", "y", OutcomeType.CONTINUOUS, Estimand.ATE, ("x1",))
    quick = DesignSettings(refuters=(), placebo=False, sensitivity=False, trim_thresholds=())
    spec = SPEC.with_(placebo_outcomes=(), outcome_learner=OutcomeLearner.GRADIENT_BOOSTING)

    saved = tmp_path / "ato.npy"
    ato = run_design(spec.with_(estimand=Estimand.ATO), (frame, contract), settings=quick, population_file=saved)
    weights = np.load(saved)
    target = float(weights @ tau / weights.sum())
    assert ato.estimate.estimand == "ATO" and weights.shape == (n,) and (weights > 0).all()
    assert ato.estimate.covers(target)
    # the overlap population is not everyone: its truth is not the ATE's, and the estimate follows it
    assert abs(target - tau.mean()) > 4 * ato.estimate.se and not ato.estimate.covers(float(tau.mean()))
    # ... and the result says who that population is: units with larger x1 than everyone's mean
    (shift,) = ato.population
    # means to three significant digits of the column's sd (1 here)
    assert shift.column == "x1" and shift.level == "" and shift.everyone == pytest.approx(x1.mean(), abs=0.005)
    assert shift.population == pytest.approx(float(weights @ x1 / weights.sum()), abs=0.005) and shift.shift_sd > 0.3

    saved = tmp_path / "trimmed.npy"
    trimmed = run_design(spec.with_(trim=(0.1, 0.9)), (frame, contract), settings=quick, population_file=saved)
    weights = np.load(saved)
    assert trimmed.estimate.estimand == "ATO" and set(np.unique(weights)) == {0.0, 1.0}
    assert int(weights.sum()) == trimmed.estimate.n < n
    assert trimmed.estimate.covers(float(tau[weights == 1].mean()))
    assert [s.column for s in trimmed.population] == ["x1"]
    everyone = run_design(spec, (frame, contract), settings=quick)
    assert everyone.estimate.estimand == "ATE" and everyone.population == ()  # everyone counts alike


def test_a_population_is_described_by_the_columns_that_moved() -> None:
    """Numeric columns by their means in sd, categoricals and 0/1 columns by shares; small moves unnamed."""
    import pandas as pd

    from engine.design.support import describe_population
    from engine.problem import Contract, Estimand, OutcomeType

    rng = np.random.default_rng(3)
    n = 4000
    site = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    age = rng.normal(40, 10, size=n)
    noise = rng.normal(size=n)
    married = (rng.random(n) < 0.4).astype(int)
    frame = pd.DataFrame({"t": 0, "y": 0.0, "site": site, "age": age, "noise": noise, "married": married})
    contract = Contract(
        "t", "y", OutcomeType.CONTINUOUS, Estimand.ATE, ("site", "noise", "married"), ("site",), (), ("age",)
    )
    weights = np.where(site == "b", 3.0, 1.0) * np.where(age > 45, 2.0, 1.0) * np.where(married == 1, 0.5, 1.0)
    shifts = describe_population(frame, contract, weights)
    # noise moved by < 0.1 sd and is not named; the largest shift comes first
    assert {(s.column, s.level) for s in shifts} == {("site", "b"), ("age", ""), ("married", "1")}
    assert [abs(s.shift_sd) for s in shifts] == sorted((abs(s.shift_sd) for s in shifts), reverse=True)
    site_b, older, wed = (next(s for s in shifts if s.column == name) for name in ("site", "age", "married"))
    assert site_b.everyone == pytest.approx(0.3, abs=0.02) and site_b.population == pytest.approx(
        float(weights[site == "b"].sum() / weights.sum()), abs=1e-3
    )
    assert "site = b" in site_b.describe() and "%" in site_b.describe()
    assert older.shift_sd > 0.1 and "sd)" in older.describe() and older.everyone == round(age.mean(), 1)
    assert wed.shift_sd < -0.1 and wed.describe().startswith("married = 1 ") and "%" in wed.describe()
    assert describe_population(frame, contract, np.ones(n)) == ()
