"""The second build's fingerprint (engine/contract.py), in this process: what it must and must not tell apart."""

from __future__ import annotations

import secrets
from pathlib import Path

import numpy as np
import pytest

from engine.compile_check import load_model_module
from engine.contract import fingerprint, fingerprint_mismatch, probe_points, reshuffled

ROOT = Path(__file__).resolve().parents[1]
BASELINE = (ROOT / "problems" / "ihdp" / "model.py").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def data(ihdp):
    return ihdp.model_data()


def _build(source: str, data):
    return load_model_module(source, name="workbench_model_test_contract").build_model(data)


def _twice(source: str, data):
    seed = secrets.randbits(63)
    model = _build(source, data)
    real = fingerprint(model, seed, probe_points(model, seed))
    return real, fingerprint(_build(source, reshuffled(data)), seed, real.points)


def test_reshuffled_moves_treatment_and_outcome_together_and_keeps_the_controls(data):
    again = reshuffled(data)
    assert again.X is data.X
    assert sorted(zip(again.t, again.y)) == sorted(zip(data.t, data.y))
    assert not np.array_equal(again.y, data.y)
    assert reshuffled(data).y.tolist() != again.y.tolist()  # a new order every time


def test_the_baseline_gives_the_same_fingerprint_on_reshuffled_data(data):
    real, again = _twice(BASELINE, data)
    assert fingerprint_mismatch(real, again) is None
    assert len(real.values) == len(real.labels) > 2 * 64
    assert len(real.points) == 2  # two prior draws (the harness adds posterior draws)


def test_a_copy_of_the_treatment_no_graph_walk_sees_is_told_apart(data):
    """The copy sits in a (2, n) constant, read back from the container: the form red team round 4 got kept."""
    source = BASELINE.replace("import pymc as pm", "import pymc as pm\nimport pytensor.tensor as pt").replace(
        "beta_t * t", "beta_t * frozen + 10 * (t - frozen)"
    )
    source = source.replace(
        '        alpha = pm.Normal("alpha"',
        '        frozen = pt.as_tensor(np.stack([t.get_value(), t.get_value()]))[0]\n        alpha = pm.Normal("alpha"',
    )
    real, again = _twice(source, data)
    problem = fingerprint_mismatch(real, again)
    assert problem is not None
    assert "reshuffled over the units" in problem[0] and "mu" in problem[0]


def test_a_prior_centred_on_a_scalar_summary_of_the_outcome_is_fine(data):
    """data.y.mean() and .std() are the same on any order of the outcome (up to rounding)."""
    real, again = _twice(BASELINE.replace('pm.Normal("alpha", y_loc', 'pm.Normal("alpha", np.median(data.y)'), data)
    assert fingerprint_mismatch(real, again) is None


def test_other_parameters_are_named(data):
    real, _ = _twice(BASELINE, data)
    other = fingerprint(_build(BASELINE.replace('"beta_t"', '"gamma_t"'), data), real.seed, real.points)
    problem = fingerprint_mismatch(real, other)
    assert problem is not None and "other parameters" in problem[0]
