"""The scorer judges only arrays that are what the settings and data say they must be.

The arrays are made here, as a hostile model child could make them: every way of bending
them must end in a crashed verdict that says what was wrong, never in a score.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.draws import DIMS_FILE, DRAWS_FILE, TRACE_FILE, DrawsShape
from engine.problem import Gates
from engine.records import VerdictKind
from engine.scorer import MalformedDraws, read_draws, score_draws, write_trace

SHAPE = DrawsShape(chains=2, draws=200, n_obs=50)
GATES = Gates(ess_bulk_min=50, ess_tail_min=50, rhat_max=1.05)


def arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Draws of a well-behaved two-parameter normal model, shaped as the model child writes them."""
    rng = np.random.default_rng(seed)
    c, d, n = SHAPE.chains, SHAPE.draws, SHAPE.n_obs
    y = rng.normal(1.0, 2.0, size=n)
    mu = rng.normal(1.0, 2.0 / np.sqrt(n), size=(c, d))
    sigma = np.abs(rng.normal(2.0, 0.2, size=(c, d)))
    loglik = -0.5 * ((y[None, None, :] - mu[..., None]) / sigma[..., None]) ** 2 - np.log(
        sigma[..., None] * np.sqrt(2 * np.pi)
    )
    return {
        "param/alpha": mu,
        "param/beta_x": rng.normal(0, 1, size=(c, d, 3)),
        "param/sigma": sigma,
        "loglik": loglik,
        "estimand": rng.normal(4.0, 0.3, size=(c, d)),
        "diverging": np.zeros((c, d), dtype=bool),
    }


def write(folder: Path, values: dict[str, np.ndarray], labels: dict | None = None) -> Path:
    path = folder / DRAWS_FILE
    np.savez(path, **values)
    labels = (
        labels
        if labels is not None
        else {"observed": "y", "dims": {"beta_x": ["control"]}, "coords": {"control": ["bw", "momage", "sex"]}}
    )
    (folder / DIMS_FILE).write_text(json.dumps(labels))
    return path


def score(path: Path):
    return score_draws(path, contract_estimand="ATE", gates=GATES, best=None, expected=SHAPE)


def test_well_formed_draws_are_scored_and_the_trace_holds_them(tmp_path):
    import arviz as az

    values = arrays()
    result = score(write(tmp_path, values))
    assert result.verdict.kind is VerdictKind.KEPT, result.verdict.reason
    assert result.metrics.elpd is not None and np.isfinite(result.metrics.elpd)
    assert result.effect.estimand == "ATE" and 3.9 < result.effect.mean < 4.1
    assert "beta_x[bw]" in [p.name for p in result.convergence_table]  # labels from dims.json
    assert not (tmp_path / TRACE_FILE).exists()  # the verdict does not wait for the trace

    trace = az.from_netcdf(write_trace(tmp_path / DRAWS_FILE, expected=SHAPE, workdir=tmp_path))
    assert list(trace.posterior["beta_x"].coords["control"].values) == ["bw", "momage", "sex"]
    np.testing.assert_array_equal(trace.log_likelihood["y"].values, values["loglik"])
    assert az.loo(trace).elpd_loo == pytest.approx(result.metrics.elpd, rel=1e-6)


def test_the_trace_writer_refuses_what_the_scorer_refuses(tmp_path):
    values = arrays()
    values["loglik"][0, 0, 0] = np.nan
    with pytest.raises(MalformedDraws, match="not finite"):
        write_trace(write(tmp_path, values), expected=SHAPE, workdir=tmp_path)
    assert not (tmp_path / TRACE_FILE).exists()


def test_unreadable_labels_fall_back_to_indices(tmp_path):
    labels = {"observed": "y; rm -rf /", "dims": {"beta_x": ["../../etc"]}, "coords": {"x": list(range(9))}}
    result = score(write(tmp_path, arrays(), labels))
    assert result.verdict.kind is VerdictKind.KEPT
    assert "beta_x[0]" in [p.name for p in result.convergence_table]


def _bent(name: str) -> dict[str, np.ndarray]:
    values = arrays()
    c, d = SHAPE.chains, SHAPE.draws
    if name == "fewer draws":
        values["loglik"] = values["loglik"][:, :100]
    elif name == "other observations":
        values["loglik"] = values["loglik"][..., :10]
    elif name == "nan in loglik":
        values["loglik"][0, 0, 0] = np.nan
    elif name == "inf estimand":
        values["estimand"][1, 3] = np.inf
    elif name == "no loglik":
        del values["loglik"]
    elif name == "extra array":
        values["verdict"] = np.array([1.0])
    elif name == "strings":
        values["param/alpha"] = np.full((c, d), "1.0")
    elif name == "diverging as floats":
        values["diverging"] = np.zeros((c, d))
    elif name == "hostile name":
        values["param/__import__('os')"] = values.pop("param/alpha")
    elif name == "no parameters":
        for key in [k for k in values if k.startswith("param/")]:
            del values[key]
    return values


@pytest.mark.parametrize(
    ("bend", "words"),
    [
        ("fewer draws", "loglik is shaped"),
        ("other observations", "loglik is shaped"),
        ("nan in loglik", "not finite"),
        ("inf estimand", "not finite"),
        ("no loglik", "no loglik"),
        ("extra array", "unexpected arrays"),
        ("strings", "not numbers"),
        ("diverging as floats", "diverging must be booleans"),
        ("hostile name", "short identifier"),
        ("no parameters", "no free parameters"),
    ],
)
def test_bent_draws_are_a_crashed_verdict_that_says_why(tmp_path, bend, words):
    result = score(write(tmp_path, _bent(bend)))
    assert result.verdict.kind is VerdictKind.CRASHED
    assert "MalformedDraws" in result.verdict.reason and words in result.verdict.reason
    assert result.metrics.elpd is None
    assert not (tmp_path / TRACE_FILE).exists()


def test_more_parameter_values_than_any_model_are_refused(tmp_path, monkeypatch):
    import engine.scorer

    monkeypatch.setattr(engine.scorer, "_MAX_PARAMETER_VALUES", 4)  # this model has 5 values per draw
    result = score(write(tmp_path, arrays()))
    assert result.verdict.kind is VerdictKind.CRASHED and "more parameter values" in result.verdict.reason


def test_pickled_objects_are_never_loaded(tmp_path):
    path = tmp_path / DRAWS_FILE
    values = arrays()
    values["param/alpha"] = np.array([[object()] * SHAPE.draws] * SHAPE.chains, dtype=object)
    np.savez(path, **values)  # an object array is stored as a pickle
    with pytest.raises(ValueError, match="allow_pickle"):
        read_draws(path, SHAPE)
    assert score(path).verdict.kind is VerdictKind.CRASHED


def test_a_file_that_is_not_an_archive_is_refused(tmp_path):
    path = tmp_path / DRAWS_FILE
    path.write_bytes(b"\x80\x04cos\nsystem\n")
    result = score(path)
    assert result.verdict.kind is VerdictKind.CRASHED


def test_malformed_draws_is_a_workbench_error():
    from engine.errors import WorkbenchError

    assert issubclass(MalformedDraws, WorkbenchError)
