"""The second build's fingerprint (engine/fingerprint.py) and the contract's intervention checks (engine/intervention.py), in this process: what it must and must not tell apart."""

from __future__ import annotations

import secrets
from pathlib import Path

import numpy as np
import pytest

from engine.compile_check import load_model_module
from engine.fingerprint import Probe, draw_probe, fingerprint, fingerprint_mismatch, reshuffled

ROOT = Path(__file__).resolve().parents[1]
BASELINE = (ROOT / "problems" / "ihdp" / "model.py").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def data(ihdp):
    return ihdp.model_data()


def _build(source: str, data):
    return load_model_module(source, name="workbench_model_test_contract").build_model(data)


def _twice(source: str, data):
    """The model child's fingerprint and the second build's, with the rows the second build got."""
    model = _build(source, data)
    real = fingerprint(model, draw_probe(model, secrets.randbits(63)))
    shuffle = reshuffled(data)
    return real, fingerprint(_build(source, shuffle.data), real.probe.moved(shuffle.rows)), shuffle.rows


def _mismatch(source: str, data):
    return fingerprint_mismatch(*_twice(source, data))


def test_reshuffled_moves_rows_and_then_treatment_and_outcome_together_to_other_units(data):
    shuffle = reshuffled(data)
    again = shuffle.data
    assert again.X.to_numpy().tolist() == data.X.to_numpy()[shuffle.rows].tolist()  # every row kept, in another order
    assert list(again.X.index) == list(range(data.n)) and list(again.X.columns) == list(data.X.columns)
    assert sorted(zip(again.t, again.y)) == sorted(zip(data.t, data.y))  # each unit's treatment with its outcome
    assert not np.array_equal(again.y, data.y[shuffle.rows])  # …but not with its controls
    assert not np.array_equal(shuffle.rows, np.arange(data.n))
    assert reshuffled(data).rows.tolist() != shuffle.rows.tolist()  # a new order every time


def test_a_probe_moves_with_the_rows():
    rows = np.array([2, 0, 1])
    probe = Probe(
        points=((np.array(1.5), np.array([10.0, 20.0, 30.0]), np.arange(6.0).reshape(3, 2)),),
        treatment=np.array([1, 0, 0]),
        outcome=np.array([5.0, 6.0, 7.0]),
    )
    moved = probe.moved(rows)
    scalar, per_unit, per_unit_and_column = moved.points[0]
    assert float(scalar) == 1.5
    assert per_unit.tolist() == [30.0, 10.0, 20.0]
    assert per_unit_and_column.tolist() == [[4.0, 5.0], [0.0, 1.0], [2.0, 3.0]]
    assert moved.treatment.tolist() == [0, 1, 0] and moved.outcome.tolist() == [7.0, 5.0, 6.0]


def test_the_baseline_gives_the_same_fingerprint_on_reshuffled_data(data):
    real, again, rows = _twice(BASELINE, data)
    assert fingerprint_mismatch(real, again, rows) is None
    assert len(real.probe.points) == 2  # two prior draws (the harness adds posterior draws)
    per_unit = [a for a in real.arrays if a.shape == (data.n,)]
    assert len(per_unit) == 2 * 3 * 2  # mu and the likelihood, at two points, for three treatment settings
    assert not np.array_equal(again.arrays[0], real.arrays[0])  # compared through the rows, not in place


def test_a_copy_of_the_treatment_no_graph_walk_sees_is_told_apart(data):
    """The copy sits in a (2, n) constant, read back from the container: the form red team round 4 got kept."""
    source = BASELINE.replace("import pymc as pm", "import pymc as pm\nimport pytensor.tensor as pt").replace(
        "beta_t * t", "beta_t * frozen + 10 * (t - frozen)"
    )
    source = source.replace(
        '        alpha = pm.Normal("alpha"',
        '        frozen = pt.as_tensor(np.stack([t.get_value(), t.get_value()]))[0]\n        alpha = pm.Normal("alpha"',
    )
    problem = _mismatch(source, data)
    assert problem is not None
    assert "reshuffled over the units" in problem[0] and "mu" in problem[0]


def _prior_draws(model, count: int = 40):
    import pymc as pm

    drawn = pm.draw(list(model.free_RVs), draws=count, random_seed=3)
    return tuple(np.asarray(values) for values in drawn)


@pytest.mark.parametrize(("copy", "told"), [(False, False), (True, True)])
def test_the_digest_over_draws_agrees_for_a_model_and_tells_a_copy_apart(data, copy, told):
    """With no points to compare, only the digest at every draw sees a treatment copy (round 10 gated it to a few)."""
    from dataclasses import replace

    source = BASELINE
    if copy:
        source = BASELINE.replace("import pymc as pm", "import pymc as pm\nimport pytensor.tensor as pt").replace(
            "beta_t * t", "beta_t * t + 10 * (t - pt.as_tensor(np.stack([data.t, data.t]))[0])"
        )
    model = _build(source, data)
    probe = replace(draw_probe(model, secrets.randbits(63), draws=_prior_draws(model)), points=())
    real = fingerprint(model, probe)
    shuffle = reshuffled(data)
    again = fingerprint(_build(source, shuffle.data), real.probe.moved(shuffle.rows))
    assert real.digest.shape == (40,)
    problem = fingerprint_mismatch(real, again, shuffle.rows)
    assert (problem is not None) is told, problem
    if told:
        assert "at some draws only" in problem[0] and "100.0% of the draws" in problem[0]


def test_a_prior_centred_on_a_scalar_summary_of_the_outcome_is_fine(data):
    """data.y.mean() and .std() are the same on any order of the outcome (up to rounding)."""
    assert _mismatch(BASELINE.replace('pm.Normal("alpha", y_loc', 'pm.Normal("alpha", np.median(data.y)'), data) is None


def test_per_unit_parameters_and_spline_bases_are_compared_unit_by_unit(data):
    """A per-unit offset (its prior from the controls) and a spline on a control move with their rows: fine."""
    source = BASELINE.replace(
        'mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x)',
        'u = pm.Normal("u", 0.1 * pm.math.dot(X, beta_x), 0.5, dims="obs")\n'
        "        basis = data.spline_basis(data.continuous[0])\n"
        '        smooth = pm.math.dot(basis, pm.Normal("s", 0, 1, shape=basis.shape[1]))\n'
        '        mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x) + u + smooth',
    )
    assert '"u"' in source
    assert _mismatch(source, data) is None


HIERARCHICAL = {
    "a learnt scale for the controls' coefficients": (
        'beta_x = pm.Normal("beta_x", 0, y_scale, dims="control")',
        'tau = pm.HalfNormal("tau", 1)\n        beta_x = pm.Normal("beta_x", 0, tau, dims="control")',
    ),
    "per-unit offsets around the linear predictor": (
        'mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x)',
        'u = pm.Normal("u", alpha + pm.math.dot(X, beta_x), pm.HalfNormal("tau", 1), dims="obs")\n'
        '        mu = pm.Deterministic("mu", beta_t * t + u',
    ),
}


@pytest.mark.parametrize("form", sorted(HIERARCHICAL))
def test_a_prior_that_depends_on_another_parameter_is_checked_not_crashed(data, form):
    """A free variable inside another's prior (a hierarchy): every check substitutes both (round 6 crashed here)."""
    from engine.intervention import intervention_problem

    old, new = HIERARCHICAL[form]
    source = BASELINE.replace(old, new)
    assert source != BASELINE
    assert intervention_problem(_build(source, data)) is None
    assert _mismatch(source, data) is None


def test_a_hierarchical_model_passes_the_compile_check(data):
    from engine.compile_check import check_model_source

    old, new = HIERARCHICAL["a learnt scale for the controls' coefficients"]
    result = check_model_source(BASELINE.replace(old, new), data, progress=lambda message: None)
    assert result.ok, result.error


@pytest.mark.parametrize(
    "attack",
    ["fake_effect_position_mask.py", "fake_elpd_position_residuals.py", "fake_effect_bitpacked_positions.py"],
)
def test_numbers_tied_to_row_positions_are_told_apart(data, attack):
    """Red team round 8: the controls' row positions, or y's residuals by row, typed into model.py."""
    problem = _mismatch((ROOT / "tests" / "hostile" / attack).read_text(encoding="utf-8"), data)
    assert problem is not None and "reshuffled over the units" in problem[0] and "mu" in problem[0]


def test_other_parameters_are_named(data):
    real, _, _ = _twice(BASELINE, data)
    other = fingerprint(_build(BASELINE.replace('"beta_t"', '"gamma_t"'), data), real.probe)
    problem = fingerprint_mismatch(real, other, np.arange(data.n))
    assert problem is not None and "other parameters" in problem[0]


def test_every_verified_likelihoods_mean_is_its_mean_by_simulation():
    """VERIFIED_MEANS trusts PyMC's moments.mean for these: draw from each (one compile) and compare."""
    import pymc as pm
    from pymc.distributions.moments import mean

    from engine.intervention import VERIFIED_MEANS, _verified_ops

    likelihoods = {
        "Normal": pm.Normal.dist(mu=2.0, sigma=3.0),
        "StudentT": pm.StudentT.dist(nu=4.0, mu=2.0, sigma=3.0),
        "Bernoulli": pm.Bernoulli.dist(p=0.3),
        "Binomial": pm.Binomial.dist(n=7, p=0.3),
        "Poisson": pm.Poisson.dist(mu=3.5),
        "NegativeBinomial": pm.NegativeBinomial.dist(mu=3.5, alpha=2.0),
        "Gamma": pm.Gamma.dist(alpha=2.0, beta=0.5),
        "LogNormal": pm.LogNormal.dist(mu=0.5, sigma=0.6),
        "Beta": pm.Beta.dist(alpha=2.0, beta=5.0),
        "Exponential": pm.Exponential.dist(lam=0.4),
        "Laplace": pm.Laplace.dist(mu=2.0, b=1.5),
        "Logistic": pm.Logistic.dist(mu=2.0, s=1.5),
    }
    assert tuple(likelihoods) == VERIFIED_MEANS
    assert [type(rv.owner.op) for rv in likelihoods.values()] == list(_verified_ops())
    draws = pm.draw(list(likelihoods.values()), draws=100_000, random_seed=1, mode="FAST_COMPILE")
    expected = pm.math.stack([mean(rv) for rv in likelihoods.values()]).eval(mode="FAST_COMPILE")
    for name, sample, value in zip(likelihoods, draws, expected, strict=True):
        assert abs(sample.mean() - value) < 5 * sample.std() / np.sqrt(sample.size), (name, value, sample.mean())


def test_the_mean_table_is_not_trusted_where_it_is_wrong():
    """Wald's entry ignores its shift alpha: the reason the list is short (red team, round 5)."""
    import pymc as pm
    from pymc.distributions.moments import mean

    from engine.intervention import _verified_ops

    rv = pm.Wald.dist(mu=5.0, lam=20.0, alpha=10.0)
    draws = pm.draw(rv, draws=50_000, random_seed=1)
    assert abs(float(mean(rv).eval()) - draws.mean()) > 5  # PyMC says 5, the draws say 15
    assert type(rv.owner.op) not in _verified_ops()


def test_a_shift_switched_on_where_the_posterior_lies_is_refused_at_a_posterior_draw(data):
    """Off at the initial point and at prior draws; the harness checks again at draws it picks after sampling."""
    import pymc as pm

    from engine.intervention import intervention_problem

    gate = "pm.math.and_(pm.math.gt(pm.math.sum(beta_x**2), 50.0), pm.math.lt(pm.math.sum(beta_x**2), 300.0))"
    source = BASELINE.replace(
        "beta_t * t + pm.math.dot(X, beta_x)",
        f"beta_t * t + pm.math.dot(X, beta_x) + pm.math.switch({gate}, 6.0 * (t.mean() - float(np.mean(data.t))), 0.0)",
    )
    model = _build(source, data)
    assert intervention_problem(model) is None  # 0 at the initial point, ~1100 at prior draws (< 300: 1 in 10,000)
    drawn = pm.draw(model.free_RVs, random_seed=1)
    where_it_fits = tuple(
        np.full(np.shape(value), 2.5) if rv.name == "beta_x" else value  # squared norm 156, as the fit's
        for rv, value in zip(model.free_RVs, drawn, strict=True)
    )
    problem = intervention_problem(model, [where_it_fits])
    assert problem is not None and "depends on other units' treatment" in problem[0]


def test_a_potential_that_holds_the_outcome_is_told_apart(data):
    """LOO leaves out y's likelihood, not a Potential; reshuffling y moves the Potential's log-density."""
    source = BASELINE.replace(
        "    return model",
        '        pm.Potential("pin", -0.5 * pm.math.sum((mu - data.y) ** 2))\n    return model',
    )
    problem = _mismatch(source, data)
    assert problem is not None and "potential pin" in problem[0]


def test_a_per_unit_initial_value_from_the_treatment_is_told_apart(data):
    """Where the sampler starts is part of the model: a copy there can pick each unit's mode (red team, round 7)."""
    source = BASELINE.replace(
        "    return model",
        '        pm.Normal("off", 0, 1, dims="obs", initval=-6.0 * np.asarray(data.t))\n    return model',
    )
    problem = _mismatch(source, data)
    assert problem is not None and "the initial value of off" in problem[0]


def test_a_digest_that_is_not_finite_is_refused_even_when_both_builds_agree(data):
    """Round 11: NaN under the random treatment in both builds compared equal; mu must be finite there."""
    from dataclasses import replace

    model = _build(BASELINE, data)
    real = fingerprint(model, replace(draw_probe(model, secrets.randbits(63), draws=_prior_draws(model, 4)), points=()))
    nan = replace(real, digest=np.array([1.0, np.nan, 2.0, 3.0]))
    problem = fingerprint_mismatch(nan, nan, np.arange(data.n))
    assert problem is not None and "not finite under a random treatment at 1 of 4" in problem[0]
    assert fingerprint_mismatch(real, real, np.arange(data.n)) is None
