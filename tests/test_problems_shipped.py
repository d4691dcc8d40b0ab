"""The five shipped problem folders: complete, valid, honest about truth, reproducible."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import PROBLEMS, SHIPPED

from engine.problem import ForbiddenReason, Problem
from engine.problem_load import load_problem

NAMES = ("acic2016", "ihdp", "lalonde", "nhefs", "retention_email")
KINDS = {
    "acic2016": "semi-synthetic",
    "ihdp": "semi-synthetic",
    "lalonde": "observational",
    "nhefs": "observational",
    "retention_email": "synthetic",
}
WITH_TRUTH = ("acic2016", "ihdp", "retention_email")
REAL = ("lalonde", "nhefs")
REVIEWER_HEADING = "## For the reviewer only"
MAX_DATA_BYTES = 2_000_000


def _load(name: str) -> Problem:
    return load_problem(PROBLEMS / name)


def _truth(name: str) -> dict:
    return json.loads((PROBLEMS / name / "truth.json").read_text())


def test_all_five_are_shipped() -> None:
    assert set(NAMES) <= set(SHIPPED)


@pytest.mark.parametrize("name", NAMES)
def test_problem_loads_with_its_files(name: str) -> None:
    problem = _load(name)
    assert problem.name == name
    assert problem.has_truth == (name in WITH_TRUTH)
    assert problem.kind == KINDS[name]
    assert (problem.path / "make_data.py").is_file()
    assert problem.data_file.stat().st_size < MAX_DATA_BYTES
    for text_file in ("PROBLEM.md", "PROGRAM.md"):
        assert "placeholder" not in problem.read_text(text_file).lower()
    data = problem.model_data()
    assert data.n == len(problem.data)
    assert not data.X.isna().any().any()


@pytest.mark.parametrize("name", NAMES)
def test_analysis_spec_matches_the_contract(name: str) -> None:
    problem = _load(name)
    spec = tomllib.loads(problem.read_text("analysis.toml"))
    reference = tomllib.loads((PROBLEMS / "ihdp" / "analysis.toml").read_text())
    assert set(spec) == set(reference)
    assert spec["estimand"] == problem.contract.estimand.value
    for column in spec["placebo_outcomes"]:
        assert column in problem.contract.pretreatment
        assert problem.data[column].notna().all()


@pytest.mark.parametrize("name", WITH_TRUTH)
def test_truth_never_reaches_the_data(name: str) -> None:
    problem = _load(name)
    truth = _truth(name)
    frame = pd.read_csv(problem.data_file)
    oracle = {f.name for f in problem.contract.forbidden if f.reason is ForbiddenReason.ORACLE}
    assert not (oracle | set(truth)) & set(frame.columns)
    arrays = {key: np.asarray(value, dtype=float) for key, value in truth.items() if isinstance(value, list)}
    assert "ite" in arrays and len(arrays["ite"]) == len(frame)
    for column in frame.select_dtypes("number").columns:
        values = frame[column].to_numpy(dtype=float)
        for key, truth_values in arrays.items():
            assert not np.allclose(values, truth_values, atol=1e-4), f"{column} equals truth.json's {key}"


def test_retention_email_keeps_forbidden_columns_from_models() -> None:
    problem = _load("retention_email")
    contract = problem.contract
    reasons = {f.name: f.reason for f in contract.forbidden}
    assert {n for n, r in reasons.items() if r is ForbiddenReason.MEDIATOR} == {
        "opened",
        "clicked_offer",
        "used_discount",
    }
    assert reasons["support_ticket_after"] is ForbiddenReason.POST_TREATMENT
    assert reasons["value_60d"] is ForbiddenReason.LEAKAGE
    assert reasons["revenue_30d"] is ForbiddenReason.OUTCOME
    oracle = {"true_propensity", "renewed_if_treated", "renewed_if_control"}
    assert {n for n, r in reasons.items() if r is ForbiddenReason.ORACLE} == oracle
    assert not oracle & set(problem.data.columns), "oracle values live only in truth.json"
    assert {"opened", "clicked_offer", "used_discount", "support_ticket_after", "value_60d"} <= set(
        problem.data.columns
    )
    columns = set(problem.model_data().X.columns)
    stems = {c.split("=")[0] for c in columns}
    assert stems == set(contract.controls)
    assert not stems & contract.forbidden_names


def test_retention_email_is_confounded_but_balanceable() -> None:
    """Targeting biases the naive contrast; a main-effects logistic propensity fixes balance."""
    from sklearn.linear_model import LogisticRegression

    problem = _load("retention_email")
    data = problem.model_data()
    X, t, y = data.X.to_numpy(), data.t, data.y
    truth = _truth("retention_email")
    assert 0.03 < truth["ate"] < 0.07
    naive = y[t == 1].mean() - y[t == 0].mean()
    assert naive < truth["ate"] - 0.05, "the unadjusted contrast should be clearly biased downwards"

    def smd(weights: np.ndarray) -> np.ndarray:
        m1 = np.average(X[t == 1], axis=0, weights=weights[t == 1])
        m0 = np.average(X[t == 0], axis=0, weights=weights[t == 0])
        pooled = np.sqrt((X[t == 1].var(axis=0) + X[t == 0].var(axis=0)) / 2)
        return np.abs(m1 - m0) / pooled

    e = LogisticRegression(C=1e4, max_iter=5000).fit(X, t).predict_proba(X)[:, 1]
    assert (smd(np.ones_like(t)) > 0.2).sum() >= 4
    # With n = 5,000 and a correctly specified propensity, weighting balances to well under 0.1.
    assert smd(np.where(t == 1, 1 / e, 1 / (1 - e))).max() < 0.1


def _model_module(name: str):
    spec = importlib.util.spec_from_file_location(f"shipped_baseline_{name}", PROBLEMS / name / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", NAMES)
def test_baseline_imports_only_numpy_and_pymc(name: str) -> None:
    tree = ast.parse((PROBLEMS / name / "model.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported == {"numpy", "pymc"}


@pytest.mark.parametrize("name", NAMES)
def test_baseline_builds_with_t_and_mu(name: str) -> None:
    import pymc as pm

    problem = _load(name)
    data = problem.model_data()
    model = _model_module(name).build_model(data)
    assert isinstance(model, pm.Model)
    assert "t" in {v.name for v in model.data_vars}
    np.testing.assert_array_equal(model["t"].get_value(), data.t)
    assert "mu" in {v.name for v in model.deterministics}
    assert tuple(model["mu"].shape.eval()) == (data.n,)
    assert [v.name for v in model.observed_RVs] == ["y"]
    logp = model.compile_logp()(model.initial_point())
    assert np.isfinite(logp)


def _renderings(value: float) -> set[str]:
    """How a true effect could be written: 1–2 decimals (3 when small), if not too coarse."""
    forms = {f"{value:.{d}f}" for d in ((1, 2, 3) if abs(value) < 1 else (1, 2))}
    # A rounding that is off by more than a quarter (0.054 → "0.1") says nothing about the truth.
    return {f for f in forms if float(f) != 0 and abs(float(f) - value) <= 0.25 * abs(value)}


@pytest.mark.parametrize("name", WITH_TRUTH)
@pytest.mark.parametrize("text_file", ["PROBLEM.md", "PROGRAM.md"])
def test_agent_texts_hide_the_truth(name: str, text_file: str) -> None:
    text = (PROBLEMS / name / text_file).read_text()
    truth = _truth(name)
    for key in ("ate", "att"):
        for form in _renderings(truth[key]):
            pattern = rf"(?<![\d.]){re.escape(form)}(?!\d)"
            assert not re.search(pattern, text), f"{text_file} of {name} shows the true {key} as {form}"


def test_renderings_cover_the_usual_roundings() -> None:
    assert _renderings(4.1278) == {"4.1", "4.13"}
    assert _renderings(0.0538) == {"0.05", "0.054"}


@pytest.mark.parametrize("name", NAMES)
def test_reviewer_section_comes_last(name: str) -> None:
    text = (PROBLEMS / name / "PROBLEM.md").read_text()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    if name in REAL:
        assert headings[-1] == REVIEWER_HEADING
        agent_part = text.split(REVIEWER_HEADING)[0]
        reviewer_part = text.split(REVIEWER_HEADING)[1]
        benchmark = {"nhefs": "3.4", "lalonde": "1,794"}[name]
        assert benchmark in reviewer_part and benchmark not in agent_part
    else:
        assert REVIEWER_HEADING not in headings


@pytest.mark.parametrize("name", ["ihdp", "retention_email"])
def test_make_data_is_reproducible(name: str, tmp_path: Path) -> None:
    folder = PROBLEMS / name
    subprocess.run([sys.executable, str(folder / "make_data.py"), str(tmp_path)], check=True, capture_output=True)
    for file in ("data.csv", "truth.json"):
        assert (tmp_path / file).read_bytes() == (folder / file).read_bytes(), f"{name}/{file} differs"
