"""The compile check on the real IHDP baseline and on broken variants of it, in the real sandbox."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from engine import sandbox
from engine.compile_check import compile_check, hint_for, load_model_module

ROOT = Path(__file__).resolve().parents[1]
BASELINE = (ROOT / "problems" / "ihdp" / "model.py").read_text(encoding="utf-8")
MU_LINE = 'pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x), dims="obs")'


@pytest.fixture(scope="module", autouse=True)
def warm_server():
    sandbox.warm_up()
    assert sandbox.wait_until_warm(600), "the sandbox server did not come up; see " + str(
        sandbox.server_status().log_path
    )
    yield


@pytest.fixture(scope="module")
def data(ihdp):
    return ihdp.model_data()


def broken(old: str, new: str) -> str:
    assert old in BASELINE, f"the baseline changed: {old!r} is gone; update this test"
    return BASELINE.replace(old, new)


def check(source: str, data, tmp_path: Path, **kwargs):
    return compile_check(source, data, workdir=tmp_path, **kwargs)


def test_ihdp_baseline_compiles(data, tmp_path):
    phases: list[str] = []
    result = check(BASELINE, data, tmp_path, on_progress=lambda m: phases.append(m["phase"]))
    assert result.ok, (result.error, result.traceback)
    # alpha, beta_t, sigma (log-transformed) and one coefficient per control
    assert result.n_free == 3 + data.X.shape[1]
    assert math.isfinite(result.logp) and result.logp < 0
    assert result.error is None and result.hint is None
    assert result.seconds > 0
    assert phases[:3] == ["load", "build", "contract"] and phases[-2:] == ["evaluate", "intervention"]


def test_shape_mismatch_names_the_model_line(data, tmp_path):
    source = broken("pm.math.dot(X, beta_x)", "pm.math.dot(X[:, :5], beta_x)")
    result = check(source, data, tmp_path)
    assert not result.ok
    assert result.error.startswith("ValueError")
    assert "shape" in result.hint
    assert 'File "model.py", line 20' in result.traceback
    assert "X[:, :5]" in result.traceback


def test_invalid_prior_gives_a_non_finite_logp_naming_it(data, tmp_path):
    source = broken('pm.Normal("alpha", y_loc, 2 * y_scale)', 'pm.Normal("alpha", y_loc, -1.0)')
    result = check(source, data, tmp_path)
    assert not result.ok
    assert "not finite" in result.error and "alpha" in result.error
    assert "alpha" in result.hint and "scale" in result.hint


def test_endless_loop_is_reported_not_hung_on(data, tmp_path):
    source = broken("    X = data.X.to_numpy()\n", "    X = data.X.to_numpy()\n    while True:\n        pass\n")
    result = check(source, data, tmp_path, timeout_s=2)
    assert not result.ok
    assert "longer than 2 s" in result.error
    assert "loop" in result.hint
    # Where it was spinning when it was stopped: the `while True:` line or its `pass` body.
    assert "line 13" in result.traceback or "line 14" in result.traceback
    assert result.seconds < 2 + sandbox.KILL_GRACE_S + 5


def test_missing_mu(data, tmp_path):
    source = broken(MU_LINE, "alpha + beta_t * t + pm.math.dot(X, beta_x)")
    result = check(source, data, tmp_path)
    assert not result.ok
    assert "'mu'" in result.error
    assert 'pm.Deterministic("mu"' in result.hint


def test_mu_must_depend_on_the_t_container(data, tmp_path):
    source = broken("beta_t * t", "beta_t * data.t")
    result = check(source, data, tmp_path)
    assert not result.ok
    assert "does not depend on the data container t" in result.error


def test_syntax_error_points_at_the_line(data, tmp_path):
    source = broken("def build_model(data):", "def build_model(data)")
    result = check(source, data, tmp_path)
    assert not result.ok
    assert result.error.startswith("SyntaxError") and "line 11" in result.error
    assert "line 11" in result.hint


def test_pymc3_import_gets_the_modern_spelling(data, tmp_path):
    source = broken("import pymc as pm", "import pymc3 as pm")
    result = check(source, data, tmp_path)
    assert not result.ok
    assert "pymc3" in result.error
    assert "import pymc as pm" in result.hint


def test_wrong_keyword_argument(data, tmp_path):
    source = broken('pm.HalfNormal("sigma", y_scale)', 'pm.HalfNormal("sigma", sd=y_scale)')
    result = check(source, data, tmp_path)
    assert not result.ok
    assert result.error.startswith("TypeError")
    assert "sigma=" in result.hint


def test_invented_api_is_named(data, tmp_path):
    source = broken('pm.Data("t"', 'pm.MutableData("t"')
    result = check(source, data, tmp_path)
    assert not result.ok
    assert "MutableData" in result.error
    assert "pm.Data" in result.hint


def test_forgotten_return(data, tmp_path):
    source = broken("    return model", "    pass")
    result = check(source, data, tmp_path)
    assert not result.ok
    assert "NoneType" in result.error and "return model" in result.hint


def test_model_code_cannot_read_the_truth(data, tmp_path):
    truth = ROOT / "problems" / "ihdp" / "truth.json"
    source = broken("    X = data.X.to_numpy()\n", f"    X = data.X.to_numpy()\n    open({str(truth)!r}).read()\n")
    result = check(source, data, tmp_path)
    assert not result.ok
    assert "SandboxViolation" in result.error
    assert "ground truth" in result.hint


def test_load_model_module_keeps_line_numbers_in_tracebacks():
    import traceback

    module = load_model_module("def f():\n    return 1 / 0\n", name="_test_model_module")
    with pytest.raises(ZeroDivisionError) as info:
        module.f()
    last = traceback.extract_tb(info.value.__traceback__)[-1]
    assert (last.filename, last.lineno, last.line) == ("model.py", 2, "return 1 / 0")


def test_hint_suggests_close_names_for_an_invented_api():
    import numpy as np

    with pytest.raises(AttributeError) as info:
        np.linalg.invv  # noqa: B018 - the typo is the point
    hint = hint_for(info.value, "building the model")
    assert "numpy.linalg.invv does not exist" in hint and "numpy.linalg.inv" in hint


def test_the_sandboxs_reference_model_is_the_shipped_ihdp_baseline() -> None:
    from engine.reference_model import reference_model_source

    assert reference_model_source() == (ROOT / "problems" / "ihdp" / "model.py").read_text(encoding="utf-8")


def test_a_callback_of_the_models_own_outliving_the_build_is_refused(data, tmp_path):
    """A function of model.py kept alive (here as a weakref finalizer) would run inside the harness later."""
    source = broken("    return model", "    import weakref\n\n    weakref.finalize(model, _later)\n    return model")
    source += "\n\ndef _later():\n    pass\n"
    result = check(source, data, tmp_path)
    assert not result.ok
    assert "left code behind" in result.error and "_later" in result.error


def test_helper_functions_that_die_with_the_module_are_fine(data, tmp_path):
    source = (
        broken("X = data.X.to_numpy()", "X = _design(data)") + "\n\ndef _design(data):\n    return data.X.to_numpy()\n"
    )
    assert check(source, data, tmp_path).ok


def test_a_custom_likelihood_with_python_functions_is_refused(data, tmp_path):
    source = broken(
        'pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")',
        'pm.CustomDist("y", mu, sigma, logp=_normal_logp, observed=data.y, dims="obs")',
    )
    source += "\n\ndef _normal_logp(value, mu, sigma):\n    return pm.logp(pm.Normal.dist(mu, sigma), value)\n"
    result = check(source, data, tmp_path)
    assert not result.ok
    assert "left code behind" in result.error and "CustomDist" in result.hint


def test_a_name_that_is_not_a_plain_string_is_refused(data, tmp_path):
    source = broken('pm.Normal("alpha",', 'pm.Normal(_Name("alpha"),') + "\n\nclass _Name(str):\n    pass\n"
    result = check(source, data, tmp_path)
    assert not result.ok
    assert "instead of a plain str" in result.error


def test_mu_must_be_the_likelihoods_mean(data, tmp_path):
    """A second path from t to the outcome's mean would add to the effect without being in mu."""
    source = broken("mu=mu, sigma=sigma", "mu=mu - 6 * t, sigma=sigma")
    result = check(source, data, tmp_path)
    assert not result.ok
    assert "mu is not the likelihood's mean" in result.error


def test_the_treatment_may_set_the_noise_scale(data, tmp_path):
    """sigma per arm changes no mean: it is allowed, and mu stays the likelihood's mean."""
    source = broken(
        'sigma = pm.HalfNormal("sigma", y_scale)', 'sigma = pm.HalfNormal("sigma", y_scale, shape=2)[t.astype("int64")]'
    )
    assert check(source, data, tmp_path).ok
