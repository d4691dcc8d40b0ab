"""Problem loading: the contract is validated and the data a model sees is restricted."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SHIPPED

from engine.errors import ProblemError
from engine.problem import Estimand, OutcomeType, bspline_basis
from engine.problem_load import load_problem


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_problems_load(name: str) -> None:
    problem = load_problem(Path(__file__).parents[1] / "problems" / name)
    data = problem.model_data()
    assert data.n == len(problem.data)
    assert set(np.unique(data.t)) == {0.0, 1.0}
    assert not data.X.isna().any().any()


def test_model_data_holds_allowed_controls_only(problem_copy) -> None:
    folder = problem_copy("ihdp")
    frame = pd.read_csv(folder / "data.csv")
    frame["future_score"] = frame["y"] * 2  # a leakage column
    frame.to_csv(folder / "data.csv", index=False)
    toml = (folder / "problem.toml").read_text()
    toml += '\n[[contract.forbidden]]\nname = "future_score"\nreason = "leakage"\n'
    (folder / "problem.toml").write_text(toml)
    data = load_problem(folder).model_data()
    assert "future_score" not in data.X.columns
    assert "y" not in data.X.columns and "treatment" not in data.X.columns


def test_ihdp_encoding(ihdp) -> None:
    data = ihdp.model_data()
    assert ihdp.contract.estimand is Estimand.ATE
    assert ihdp.contract.outcome_type is OutcomeType.CONTINUOUS
    assert data.continuous == ("bw", "b_head", "preterm", "birth_o", "nnhealth", "momage")
    np.testing.assert_allclose(data.X_continuous.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(data.X_continuous.std(axis=0), 1, atol=1e-9)
    # 'first' is coded 1/2 in the source; the model sees 0/1.
    assert set(np.unique(data.X["first"])) == {0.0, 1.0}


def _edit_toml(folder: Path, old: str, new: str) -> None:
    path = folder / "problem.toml"
    text = path.read_text()
    assert old in text, f"test setup: {old!r} not in problem.toml"
    path.write_text(text.replace(old, new, 1))


def _error(folder: Path) -> str:
    with pytest.raises(ProblemError) as info:
        load_problem(folder)
    return str(info.value)


def test_forbidden_variable_listed_as_allowed(problem_copy) -> None:
    folder = problem_copy("ihdp")
    _edit_toml(folder, "[gates]", '[[contract.forbidden]]\nname = "bw"\nreason = "post-treatment"\n\n[gates]')
    message = _error(folder)
    assert "'bw' is listed as an allowed control but is forbidden (post-treatment)" in message


def test_column_the_data_lacks(problem_copy) -> None:
    folder = problem_copy("ihdp")
    _edit_toml(folder, '"site7",', '"site7", "mom_income",')
    assert "column 'mom_income' is named in problem.toml but the data has no such column" in _error(folder)


def test_column_without_role(problem_copy) -> None:
    folder = problem_copy("ihdp")
    frame = pd.read_csv(folder / "data.csv")
    frame["row_id"] = range(len(frame))
    frame.to_csv(folder / "data.csv", index=False)
    assert "column 'row_id' has no role" in _error(folder)


def test_non_binary_treatment(problem_copy) -> None:
    folder = problem_copy("ihdp")
    frame = pd.read_csv(folder / "data.csv")
    frame.loc[:4, "treatment"] = 2
    frame.to_csv(folder / "data.csv", index=False)
    message = _error(folder)
    assert "treatment 'treatment' must be binary, coded 0/1" in message
    assert "found values 0, 1, 2" in message


def test_count_outcome_must_be_whole_numbers_at_least_zero(problem_copy) -> None:
    folder = problem_copy("ihdp")  # y is a test score with decimals: not a count
    _edit_toml(folder, 'outcome_type = "continuous"', 'outcome_type = "count"')
    message = _error(folder)
    assert "count outcome 'y' must be whole numbers >= 0; data row 1 holds" in message
    frame = pd.read_csv(folder / "data.csv")
    frame["y"] = frame["y"].round().abs().astype(int)
    frame.to_csv(folder / "data.csv", index=False)
    assert load_problem(folder).contract.outcome_type.value == "count"


def test_outcome_with_missing_values(problem_copy) -> None:
    folder = problem_copy("ihdp")
    frame = pd.read_csv(folder / "data.csv")
    frame.loc[[3, 7, 11], "y"] = np.nan
    frame.to_csv(folder / "data.csv", index=False)
    assert "outcome 'y' has 3 missing values" in _error(folder)


def test_malformed_csv(problem_copy) -> None:
    folder = problem_copy("ihdp")
    with open(folder / "data.csv", "a") as fh:
        fh.write('1,2,"unterminated\n')
    message = _error(folder)
    assert "cannot parse CSV" in message


def test_bad_toml_and_bad_values(problem_copy) -> None:
    folder = problem_copy("ihdp")
    _edit_toml(folder, 'estimand = "ATE"', 'estimand = "CATE"')
    _edit_toml(folder, "rhat_max = 1.01", "rhat_max = -1\nrhat_limit = 2")
    message = _error(folder)
    assert "estimand must be one of ATE, ATT, ATO" in message
    assert "rhat_max must be a positive number" in message
    assert "unknown keys rhat_limit" in message

    (folder / "problem.toml").write_text("[problem\nname=")
    assert "TOML syntax error" in _error(folder)


def test_every_issue_is_reported_at_once(problem_copy) -> None:
    folder = problem_copy("ihdp")
    frame = pd.read_csv(folder / "data.csv")
    frame.loc[0, "treatment"] = 5
    frame.loc[0, "y"] = np.nan
    frame.to_csv(folder / "data.csv", index=False)
    message = _error(folder)
    assert len(re.findall(r"^  - ", message, flags=re.M)) == 2


def test_missing_folder_says_what_to_pass(tmp_path: Path) -> None:
    assert "pass a problem folder" in _error(tmp_path / "nope")


def test_bspline_basis_reproduces_smooth_functions() -> None:
    # A cubic B-spline basis plus an intercept fits a smooth curve almost exactly.
    x = np.linspace(-2, 2, 400)
    basis = np.column_stack([np.ones_like(x), bspline_basis(x, n_basis=8)])
    target = np.sin(x) + 0.3 * x**2
    coef, *_ = np.linalg.lstsq(basis, target, rcond=None)
    assert np.max(np.abs(basis @ coef - target)) < 0.01
    assert np.linalg.matrix_rank(basis) == basis.shape[1]
