"""Gates, the keep rule and the pointwise log-likelihood.

The keep rule is tested on plain numbers. The log-likelihood is checked against
``pm.compute_log_likelihood`` on several likelihood families, with prior draws standing in
for a posterior (the computation does not care where the draws came from, and no nutpie
compile is needed).
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from engine.problem import Gates
from engine.records import Effect, GateResult, Metrics, VerdictKind
from engine.scoring import (
    BestSummary,
    LooResult,
    ParamDiagnostic,
    compare_to_best,
    convergence_table,
    decide,
    gate_results,
    loo,
)

GATES = Gates()
PASSING = gate_results([ParamDiagnostic("a", 1.001, 2000, 1800)], 0, 4000, GATES)


def _loo(pointwise: np.ndarray) -> LooResult:
    return LooResult(float(pointwise.sum()), 10.0, 5.0, 0, 0.3, pointwise, pointwise.size)


def _effect(low: float, high: float) -> Effect:
    return Effect("ATE", (low + high) / 2, (high - low) / 4, low, high)


def _best(pointwise: np.ndarray, effect: Effect) -> BestSummary:
    return BestSummary(float(pointwise.sum()), 10.0, pointwise, effect, number=3)


# --------------------------------------------------------------------------- gates


def test_gates_pass_on_a_good_table() -> None:
    assert [g.name for g in PASSING] == ["rhat", "ess_bulk", "ess_tail", "divergence_rate"]
    assert all(g.passed for g in PASSING)


@pytest.mark.parametrize(
    ("table", "divergent", "failing"),
    [
        ([ParamDiagnostic("a", 1.05, 2000, 2000)], 0, {"rhat"}),
        ([ParamDiagnostic("a", 1.01, 2000, 2000)], 0, {"rhat"}),  # the threshold itself fails: R-hat < 1.01
        ([ParamDiagnostic("a", 1.001, 350, 2000)], 0, {"ess_bulk"}),
        ([ParamDiagnostic("a", 1.001, 2000, 120)], 0, {"ess_tail"}),
        ([ParamDiagnostic("a", 1.001, 2000, 2000)], 5, {"divergence_rate"}),  # 5/4000 = 0.125 %
        (
            [ParamDiagnostic("a", 1.001, 2000, 2000), ParamDiagnostic("b", math.nan, math.nan, math.nan)],
            0,
            {"rhat", "ess_bulk", "ess_tail"},
        ),  # a parameter that never moved
    ],
)
def test_each_gate_fails_on_its_own(table, divergent, failing) -> None:
    results = gate_results(table, divergent, 4000, GATES)
    assert {g.name for g in results if not g.passed} == failing


def test_failed_gate_verdict_names_the_gate_and_the_shortfall() -> None:
    gates = gate_results([ParamDiagnostic("a", 1.034, 2000, 2000), ParamDiagnostic("b", 1.0, 150, 900)], 0, 4000, GATES)
    pointwise = np.full(100, -1.0)
    verdict = decide(gates, _loo(pointwise), _effect(3.8, 4.2), None)
    assert verdict.kind is VerdictKind.FAILED_GATE
    assert "R-hat 1.034" in verdict.reason and "over by 0.024" in verdict.reason
    assert "bulk ESS 150" in verdict.reason and "short by 250" in verdict.reason
    assert "tail" not in verdict.reason
    assert verdict.metrics.rhat_max == pytest.approx(1.034)
    assert verdict.metrics.elpd == pytest.approx(-100.0)  # still measured, for the screens


def test_divergence_gate_reason_gives_the_rate() -> None:
    gates = gate_results([ParamDiagnostic("a", 1.0, 2000, 2000)], 40, 4000, GATES)
    verdict = decide(gates, _loo(np.full(10, -1.0)), None, None)
    assert verdict.kind is VerdictKind.FAILED_GATE
    assert "divergence rate 1.00%" in verdict.reason and "10.0×" in verdict.reason


def test_convergence_table_lists_free_parameters_worst_first() -> None:
    import arviz as az

    rng = np.random.default_rng(1)
    stuck = rng.normal(size=(4, 300)) + np.arange(4)[:, None]  # chains disagree: R-hat far above 1
    idata = az.from_dict(
        posterior={
            "good": rng.normal(size=(4, 300)),
            "stuck": stuck,
            "vec": rng.normal(size=(4, 300, 2)),
            "mu": rng.normal(size=(4, 300, 5)),
        },
    )
    idata.posterior.attrs["free_vars"] = "good,stuck,vec"
    table = convergence_table(idata)
    assert [p.name for p in table][0] == "stuck"
    assert {p.name for p in table} == {"good", "stuck", "vec[0]", "vec[1]"}  # mu is not a parameter
    assert table[0].rhat > 1.5


# --------------------------------------------------------------------------- ELPD comparison


def test_compare_to_best_is_the_paired_difference_as_az_compare() -> None:
    rng = np.random.default_rng(2)
    best = rng.normal(-1.0, 0.3, size=500)
    new = best + rng.normal(0.05, 0.1, size=500)
    delta, se = compare_to_best(new, best)
    diff = new - best
    assert delta == pytest.approx(diff.sum())
    assert se == pytest.approx(math.sqrt(500 * diff.var()))
    with pytest.raises(ValueError, match="different numbers|500"):
        compare_to_best(new[:10], best)


def test_compare_to_best_matches_arviz() -> None:
    import arviz as az

    rng = np.random.default_rng(3)
    base = rng.normal(size=(2, 200, 1))
    ll_a = -0.5 * (rng.normal(size=(1, 1, 80)) - base) ** 2
    ll_b = -0.5 * (rng.normal(size=(1, 1, 80)) * 1.2 - base) ** 2
    a = az.from_dict(posterior={"x": base[..., 0]}, log_likelihood={"y": ll_a})
    b = az.from_dict(posterior={"x": base[..., 0]}, log_likelihood={"y": ll_b})
    la, lb = loo(a), loo(b)
    with pytest.warns(UserWarning):  # ArviZ warns about Pareto k on this tiny synthetic example
        cmp = az.compare({"a": a, "b": b})
    delta, se = compare_to_best(la.pointwise, lb.pointwise)
    second = cmp.index[1]
    assert abs(delta) == pytest.approx(cmp.loc[second, "elpd_diff"], rel=1e-6)
    assert se == pytest.approx(cmp.loc[second, "dse"], rel=1e-6)


# --------------------------------------------------------------------------- the keep rule


def test_first_model_that_passes_becomes_the_reference() -> None:
    verdict = decide(PASSING, _loo(np.full(100, -1.0)), _effect(3.8, 4.2), None)
    assert verdict.kind is VerdictKind.KEPT
    assert "reference" in verdict.reason
    assert verdict.metrics.delta_elpd is None


def test_clear_improvement_is_kept() -> None:
    rng = np.random.default_rng(4)
    best = rng.normal(-1.2, 0.2, size=300)
    new = best + 0.1 + rng.normal(0, 0.05, size=300)  # Δ ≈ 30, SE ≈ 0.9
    verdict = decide(PASSING, _loo(new), _effect(3.0, 5.0), _best(best, _effect(3.9, 4.1)))
    assert verdict.kind is VerdictKind.KEPT
    assert verdict.metrics.delta_elpd > 2 * verdict.metrics.delta_se
    assert "better by more than 2 SE" in verdict.reason and "iteration 3" in verdict.reason


def test_within_band_and_narrower_is_kept() -> None:
    rng = np.random.default_rng(5)
    best = rng.normal(-1.2, 0.2, size=300)
    new = best + rng.normal(0, 0.05, size=300)  # Δ ≈ 0 ± 0.9
    verdict = decide(PASSING, _loo(new), _effect(3.9, 4.1), _best(best, _effect(3.8, 4.2)))
    delta, se = verdict.metrics.delta_elpd, verdict.metrics.delta_se
    assert abs(delta) <= 2 * se
    assert verdict.kind is VerdictKind.KEPT
    assert "narrower" in verdict.reason and "0.2 vs 0.4" in verdict.reason


def test_within_band_and_wider_is_discarded() -> None:
    rng = np.random.default_rng(5)
    best = rng.normal(-1.2, 0.2, size=300)
    new = best + rng.normal(0, 0.05, size=300)
    verdict = decide(PASSING, _loo(new), _effect(3.7, 4.3), _best(best, _effect(3.8, 4.2)))
    assert verdict.kind is VerdictKind.DISCARDED
    assert "not narrower" in verdict.reason


def test_clearly_worse_is_discarded_even_when_narrower() -> None:
    rng = np.random.default_rng(6)
    best = rng.normal(-1.2, 0.2, size=300)
    new = best - 0.1 + rng.normal(0, 0.05, size=300)
    verdict = decide(PASSING, _loo(new), _effect(3.99, 4.01), _best(best, _effect(3.8, 4.2)))
    assert verdict.kind is VerdictKind.DISCARDED
    assert "worse by more than 2 SE" in verdict.reason


def test_band_width_follows_the_gates_multiple() -> None:
    rng = np.random.default_rng(7)
    best = rng.normal(-1.2, 0.2, size=300)
    noise = rng.normal(0, 0.05, size=300)
    new = best + 0.004 + (noise - noise.mean())  # Δ = 1.2 exactly, SE ≈ 0.87
    loo_new = _loo(new)
    delta, se = compare_to_best(new, best)
    multiple = 1.0  # the improvement clears a 1-SE band but not the default 2 SE
    assert se < delta < 2 * se
    wide = decide(PASSING, loo_new, _effect(3.0, 5.0), _best(best, _effect(3.9, 4.1)))
    loose = decide(PASSING, loo_new, _effect(3.0, 5.0), _best(best, _effect(3.9, 4.1)), elpd_se_multiple=multiple)
    assert wide.kind is VerdictKind.DISCARDED
    assert loose.kind is VerdictKind.KEPT


def test_verdict_carries_metrics_and_pickles() -> None:
    verdict = decide(
        PASSING, _loo(np.full(100, -1.0)), _effect(3.8, 4.2), None, metrics=Metrics(divergences=0, n_draws=4000)
    )
    assert verdict.metrics.n_draws == 4000 and verdict.metrics.ess_bulk_min == 2000
    assert pickle.loads(pickle.dumps(verdict)) == verdict


def test_best_summary_from_a_record() -> None:
    from engine.iteration import IterationRecord
    from engine.records import Decision, DecisionKind, Loop, Proposal, Verdict

    metrics = Metrics(elpd=-100.0, elpd_se=5.0, effect=_effect(3.8, 4.2))
    record = IterationRecord(
        number=4,
        proposal=Proposal(Loop.MODEL, "h", "r", "", "", "replay"),
        findings=(),
        compile=None,
        decision=Decision(DecisionKind.APPROVED, "policy:auto"),
        verdict=Verdict(VerdictKind.KEPT, "kept", metrics, ()),
    )
    best = BestSummary.from_record(record, np.full(100, -1.0))
    assert best is not None and best.number == 4 and best.effect.width == pytest.approx(0.4)
    assert BestSummary.from_record(record, None) is None


def test_gate_results_describe_themselves() -> None:
    assert isinstance(PASSING[0], GateResult)
    assert "ok" in PASSING[0].describe()


# --------------------------------------------------------------------------- log-likelihood


def _frame(n: int = 60, seed: int = 0):
    import pandas as pd

    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    t = (rng.random(n) < 0.5).astype(float)
    y = 1 + x1 - 0.5 * x2 + 2 * t + rng.standard_t(4, size=n)
    return pd.DataFrame(
        {"x1": x1, "x2": x2, "site": rng.integers(0, 4, size=n), "t": t, "y": y, "yb": (y > 2).astype(float)}
    )


def _data(binary: bool = False):
    from engine.problem import Contract, Estimand, OutcomeType, build_model_data

    contract = Contract(
        treatment="t",
        outcome="yb" if binary else "y",
        outcome_type=OutcomeType.BINARY if binary else OutcomeType.CONTINUOUS,
        estimand=Estimand.ATE,
        controls=("x1", "x2", "site"),
        categorical=("site",),
    )
    return build_model_data(_frame(), contract)


def _normal(data, pm):
    X = data.X.to_numpy()
    with pm.Model(coords={"obs": np.arange(data.n)}) as m:
        t = pm.Data("t", data.t, dims="obs")
        b = pm.Normal("b", 0, 1, shape=X.shape[1])
        mu = pm.Deterministic("mu", pm.Normal("a", 0, 2) + pm.Normal("bt", 0, 2) * t + pm.math.dot(X, b), dims="obs")
        pm.Normal("y", mu, pm.HalfNormal("s", 2), observed=data.y, dims="obs")
    return m


def _student_t_per_arm_sigma(data, pm):
    X = data.X_continuous
    with pm.Model() as m:
        t = pm.Data("t", data.t)
        mu = pm.Deterministic(
            "mu", pm.Normal("a", 0, 2) + pm.Normal("bt", 0, 2) * t + pm.math.dot(X, pm.Normal("b", 0, 1, shape=2))
        )
        sigma = pm.HalfNormal("sigma", 2, shape=2)
        pm.StudentT("y", nu=pm.Gamma("nu", 2, 0.1), mu=mu, sigma=sigma[t.astype("int64")], observed=data.y)
    return m


def _bernoulli_logit(data, pm):
    X = data.X.to_numpy()
    with pm.Model() as m:
        t = pm.Data("t", data.t)
        eta = (
            pm.Normal("a", 0, 1.5) + pm.Normal("bt", 0, 1) * t + pm.math.dot(X, pm.Normal("b", 0, 1, shape=X.shape[1]))
        )
        p = pm.Deterministic("mu", pm.math.sigmoid(eta))
        pm.Bernoulli("y", p=p, observed=data.y)
    return m


def _hierarchical_sites(data, pm):
    site = np.asarray(data.X_binary[:, -3:].argmax(axis=1) * data.X_binary[:, -3:].max(axis=1), dtype=int)
    with pm.Model(coords={"site": range(3)}) as m:
        t = pm.Data("t", data.t)
        tau = pm.HalfNormal("tau", 1)
        z = pm.Normal("z", 0, 1, dims="site")
        mu = pm.Deterministic("mu", pm.Normal("a", 0, 2) + pm.Normal("bt", 0, 2) * t + tau * z[site])
        pm.Normal("y", mu, pm.HalfNormal("s", 2), observed=data.y)
    return m


def _splines(data, pm):
    B = data.spline_basis("x1", n_basis=6)
    with pm.Model() as m:
        t = pm.Data("t", data.t)
        w = pm.Normal("w", 0, 1, shape=(2, B.shape[1]))
        tt = t.astype("int64")
        mu = pm.Deterministic("mu", pm.Normal("a", 0, 2) + pm.Normal("bt", 0, 2) * t + (B * w[tt]).sum(axis=1))
        pm.Normal("y", mu, pm.HalfNormal("s", 2), observed=data.y)
    return m


def _prior_as_posterior(model, seed: int, chains: int = 2, draws: int = 20):
    """Prior draws of the free variables, shaped as a (chain, draw) posterior."""
    import arviz as az
    import pymc as pm

    names = [rv.name for rv in model.free_RVs]
    with model:
        prior = pm.sample_prior_predictive(draws=chains * draws, random_seed=seed, var_names=names).prior
    return az.from_dict(posterior={n: prior[n].values.reshape(chains, draws, *prior[n].shape[2:]) for n in names})


@pytest.mark.parametrize(
    ("builder", "binary"),
    [
        (_normal, False),
        (_student_t_per_arm_sigma, False),
        (_bernoulli_logit, True),
        (_hierarchical_sites, False),
        (_splines, False),
    ],
)
def test_log_likelihood_equals_pymc(builder, binary) -> None:
    import pymc as pm

    from engine.loglik import compute_log_likelihood

    model = builder(_data(binary), pm)
    idata = _prior_as_posterior(model, seed=1)
    expected = pm.compute_log_likelihood(idata, model=model, progressbar=False, extend_inferencedata=False)["y"]
    compute_log_likelihood(model, idata)
    got = idata.log_likelihood["y"]
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.values, expected.values, rtol=0, atol=1e-6)


def test_log_likelihood_deterministic_matches_the_post_hoc_route() -> None:
    """add_log_likelihood's Deterministic, evaluated by PyMC per draw, equals the vectorised route."""
    import pymc as pm

    from engine.loglik import LOGLIK_PREFIX, add_log_likelihood, compute_log_likelihood

    model = _student_t_per_arm_sigma(_data(), pm)
    idata = _prior_as_posterior(model, seed=2)
    assert add_log_likelihood(model) == "y"
    with model:
        det = pm.sample_posterior_predictive(idata, var_names=[LOGLIK_PREFIX + "y"], progressbar=False)
    compute_log_likelihood(model, idata)
    np.testing.assert_allclose(
        det.posterior_predictive[LOGLIK_PREFIX + "y"].values, idata.log_likelihood["y"].values, atol=1e-9
    )


def test_models_without_one_observed_variable_are_refused() -> None:
    import pymc as pm

    from engine.errors import ModelContractError
    from engine.loglik import observed_variable

    with pm.Model() as none:
        pm.Normal("a")
    with pytest.raises(ModelContractError, match="exactly one"):
        observed_variable(none)


# --------------------------------------------------------------------------- the tie-break


def _within_band(tie_break, new_width: float, new_p_loo: float):
    """A candidate whose ELPD is within the band of the best's; only the tie-break can decide."""
    import numpy as np

    from engine.records import Effect
    from engine.scoring import BestSummary, LooResult, decide

    rng = np.random.default_rng(1)
    best_pointwise = rng.normal(-1.0, 0.5, size=300)
    new_pointwise = best_pointwise + rng.normal(0.0, 0.05, size=300)  # ΔELPD ≈ 0 ± a little
    best = BestSummary(
        float(best_pointwise.sum()), 8.0, best_pointwise, Effect("ATE", 4.0, 0.3, 3.415, 4.585), 3, p_loo=12.0
    )
    loo = LooResult(float(new_pointwise.sum()), 8.0, new_p_loo, 0, 0.3, new_pointwise, 300, np.zeros(300))
    effect = Effect("ATE", 4.1, 0.3, 4.1 - new_width / 2, 4.1 + new_width / 2)
    return decide((), loo, effect, best, tie_break=tie_break)


def test_the_tie_break_decides_within_the_band_and_the_verdict_says_so():
    from engine.problem import TieBreak
    from engine.records import VerdictKind
    from engine.scoring import CLAUSE_TIE_NARROWER, CLAUSE_TIE_NONE, CLAUSE_TIE_SIMPLER

    narrower = _within_band(TieBreak.NARROWER_INTERVAL, new_width=1.15, new_p_loo=15.0)
    assert narrower.kind is VerdictKind.KEPT and narrower.clause == CLAUSE_TIE_NARROWER
    assert "tie-break keeps the narrower ATE interval (1.15 vs 1.17)" in narrower.reason
    assert "within the band" in narrower.reason

    simpler = _within_band(TieBreak.SIMPLER, new_width=1.15, new_p_loo=15.0)  # narrower, but not simpler
    assert simpler.kind is VerdictKind.DISCARDED and simpler.clause == CLAUSE_TIE_SIMPLER
    assert "not simpler (p_loo 15.0 vs 12.0)" in simpler.reason
    assert _within_band(TieBreak.SIMPLER, new_width=1.3, new_p_loo=9.0).kind is VerdictKind.KEPT

    none = _within_band(TieBreak.NONE, new_width=0.5, new_p_loo=3.0)
    assert none.kind is VerdictKind.DISCARDED and none.clause == CLAUSE_TIE_NONE
    assert "no tie-break" in none.reason


def test_the_tie_break_is_read_from_problem_toml(problem_copy):
    from engine.errors import WorkbenchError
    from engine.problem import TieBreak
    from engine.problem_load import load_problem

    folder = problem_copy("ihdp")
    toml = folder / "problem.toml"
    text = toml.read_text()
    assert "[gates]" in text, "test setup: ihdp's problem.toml has a [gates] table"
    toml.write_text(text.replace("[gates]", '[gates]\ntie_break = "simpler"', 1))
    problem = load_problem(folder)
    assert problem.gates.tie_break is TieBreak.SIMPLER
    assert "the simpler model (lower p_loo)" in problem.gates.keep_rule()
    toml.write_text(text.replace("[gates]", '[gates]\ntie_break = "coin"', 1))
    with pytest.raises(WorkbenchError, match="tie_break must be one of narrower_interval, simpler, none"):
        load_problem(folder)
