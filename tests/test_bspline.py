"""The spline basis models see: scipy's design matrix gives the numbers the hand-written one gave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.problem import ModelData, bspline_basis
from engine.problem_load import load_problem

PROBLEMS = Path(__file__).parents[1] / "problems"


def _reference_bspline_basis(x: np.ndarray, n_basis: int = 6, degree: int = 3) -> np.ndarray:
    """Frozen copy of the Cox–de Boor implementation that engine/problem.py used before
    it moved to scipy. Reference only, kept here so these tests can fail; do not edit."""
    if n_basis <= degree:
        raise ValueError(f"n_basis must exceed the degree ({degree}), got {n_basis}")
    x = np.asarray(x, dtype=float)
    interior = np.quantile(x, np.linspace(0, 1, n_basis - degree + 1)[1:-1])
    lo, hi = x.min(), x.max()
    knots = np.concatenate([[lo] * (degree + 1), interior, [hi] * (degree + 1)])
    # Degree-0 indicators; the last interval is closed so x == hi gets a basis function.
    basis = np.zeros((len(x), len(knots) - 1))
    for i in range(len(knots) - 1):
        if knots[i] < knots[i + 1]:
            upper = (x <= knots[i + 1]) if knots[i + 1] == hi else (x < knots[i + 1])
            basis[:, i] = (x >= knots[i]) & upper
    for d in range(1, degree + 1):
        nxt = np.zeros((len(x), len(knots) - 1 - d))
        for i in range(len(knots) - 1 - d):
            left_den = knots[i + d] - knots[i]
            right_den = knots[i + d + 1] - knots[i + 1]
            left = (x - knots[i]) / left_den * basis[:, i] if left_den > 0 else 0.0
            right = (knots[i + d + 1] - x) / right_den * basis[:, i + 1] if right_den > 0 else 0.0
            nxt[:, i] = left + right
        basis = nxt
    basis = basis[:, 1:]  # the full set sums to one: drop a column to stay identifiable
    return basis - basis.mean(axis=0)


@pytest.fixture(scope="module")
def ihdp() -> ModelData:
    return load_problem(PROBLEMS / "ihdp").model_data()


# modelgen offers n_basis 3..12; cubic splines need at least 4.
@pytest.mark.parametrize("n_basis", range(4, 13))
def test_ihdp_spline_basis_matches_reference(ihdp: ModelData, n_basis: int) -> None:
    # IHDP's continuous controls include heavy ties (birth_o has 4 levels), so some
    # quantile knots coincide with the lower boundary or with each other.
    for name in ihdp.continuous:
        x = ihdp.X[name].to_numpy()
        expected = _reference_bspline_basis(x, n_basis)
        got = ihdp.spline_basis(name, n_basis)
        assert got.shape == (ihdp.n, n_basis - 1)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("degree", [0, 1, 2])
def test_ihdp_lower_degrees_match_reference(ihdp: ModelData, degree: int) -> None:
    for name in ihdp.continuous:
        x = ihdp.X[name].to_numpy()
        for n_basis in (degree + 1, 6, 9):
            expected = _reference_bspline_basis(x, n_basis, degree)
            np.testing.assert_allclose(bspline_basis(x, n_basis, degree), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "x",
    [
        np.r_[np.zeros(5), np.full(50, 1.0), 0.5],  # most mass on the maximum
        np.r_[np.zeros(80), np.linspace(0, 1, 10)],  # most mass on the minimum
        np.r_[0.0, 1.0, 0.0, 1.0],  # two levels: every knot on a boundary
        np.r_[np.zeros(3), np.full(100, 0.5), np.ones(3)],  # knots stacked inside
        np.linspace(-2, 2, 401),  # points exactly on interior knots
    ],
    ids=["ties-at-max", "ties-at-min", "two-levels", "ties-inside", "grid"],
)
def test_boundary_and_tied_knots_match_reference(x: np.ndarray) -> None:
    # Knots are x.min() and x.max(), so no point lies beyond them; what matters is x on a
    # boundary knot. The old code closed the last non-empty interval, so x == max gets the
    # left limit even when quantile knots pile up on the maximum.
    for n_basis in range(4, 13):
        np.testing.assert_allclose(bspline_basis(x, n_basis), _reference_bspline_basis(x, n_basis), rtol=0, atol=1e-12)


def test_shipped_data_with_ties_at_the_max_matches_reference() -> None:
    # lalonde's re75 has ~19% of rows at its maximum: from n_basis 9 a quantile knot sits there.
    data = load_problem(PROBLEMS / "lalonde").model_data()
    for n_basis in (6, 9, 12):
        expected = _reference_bspline_basis(data.X["re75"].to_numpy(), n_basis)
        np.testing.assert_allclose(data.spline_basis("re75", n_basis), expected, rtol=0, atol=1e-12)


def test_too_few_basis_functions_is_refused() -> None:
    with pytest.raises(ValueError, match="must exceed the degree"):
        bspline_basis(np.linspace(0, 1, 10), n_basis=3, degree=3)
