"""Sensitivity to a hidden confounder: the E-value and the Cinelli–Hazlett robustness value.

* E-value (VanderWeele & Ding 2017): the minimum strength of association, on the risk-ratio
  scale, that an unmeasured confounder would need with both treatment and outcome to
  explain the estimate away. ``E = RR + sqrt(RR·(RR − 1))`` for RR ≥ 1 (invert RR < 1);
  for the confidence limit closer to the null, 1 if the interval includes it. A
  continuous outcome is first put on the standardized-mean-difference scale
  ``d = effect / SD(y)`` and converted with ``RR ≈ exp(0.91·d)`` (VanderWeele 2017).
* Robustness value (Cinelli & Hazlett 2020, sensemakr): from the t-statistic of the
  treatment in a linear outcome model (OLS of y on t and the covariates),
  ``RV_q = ½(√(f_q⁴ + 4 f_q²) − f_q²)`` with ``f_q = q·|t|/√df``: a confounder explaining
  RV_q of the residual variance of both treatment and outcome would remove a share q of
  the estimate. ``RV_{q,α}`` is the strength that would make it statistically insignificant.
"""

from __future__ import annotations

import math

import numpy as np

from engine.design.results import DREstimate, SensitivityResult, Status

RR_PER_SMD = 0.91  # VanderWeele (2017): RR ≈ exp(0.91 · d) for a standardized mean difference d
# A hidden confounder this weak could already explain the interval away: worth a warning.
E_VALUE_CI_WARN_BELOW = 1.25
RV_ALPHA_WARN_BELOW = 0.05
DEFAULT_ALPHA = 0.05


def _e(rr: float) -> float:
    rr = 1.0 / rr if rr < 1.0 else rr
    return rr + math.sqrt(rr * (rr - 1.0))


def e_value(rr: float, lo: float | None = None, hi: float | None = None) -> tuple[float, float | None]:
    """E-value of a risk ratio and of its confidence limit closer to the null.

    Parameters
    ----------
    rr
        The point estimate as a risk ratio (> 0).
    lo, hi
        The confidence interval of ``rr`` (optional).

    Returns
    -------
    tuple
        ``(e_point, e_ci)``; ``e_ci`` is 1.0 when the interval includes 1, None without an interval.

    Examples
    --------
    VanderWeele & Ding's worked example, RR 0.80 (95 % CI 0.71 to 0.91):

    >>> e, e_ci = e_value(0.80, 0.71, 0.91)
    >>> round(e, 2), round(e_ci, 2)
    (1.81, 1.43)
    """
    if rr <= 0 or (lo is not None and lo <= 0) or (hi is not None and hi <= 0):
        raise ValueError("risk ratios must be positive")
    point = _e(rr)
    if lo is None or hi is None:
        return point, None
    if lo <= 1.0 <= hi:
        return point, 1.0
    limit = lo if rr > 1.0 else hi  # the limit closer to 1
    return point, _e(limit)


def robustness_value(estimate: float, se: float, dof: int, q: float = 1.0, alpha: float | None = None) -> float:
    """Cinelli–Hazlett robustness value ``RV_q`` (or ``RV_{q,α}`` when ``alpha`` is given).

    Parameters
    ----------
    estimate, se
        The treatment coefficient of a linear outcome model and its standard error.
    dof
        Residual degrees of freedom of that model.
    q
        Share of the estimate to be explained away (1 = all of it).
    alpha
        Significance level: the strength that makes the estimate insignificant at ``alpha``.

    Returns
    -------
    float
        A partial R² in [0, 1].

    Examples
    --------
    sensemakr's Darfur example (estimate 0.0973, SE 0.0233, 783 degrees of freedom):

    >>> round(robustness_value(0.0973, 0.0233, 783), 3)
    0.139
    >>> round(robustness_value(0.0973, 0.0233, 783, alpha=0.05), 3)
    0.076
    """
    fq = q * abs(estimate / se) / math.sqrt(dof)
    f_crit = 0.0
    if alpha is not None and alpha < 1.0:
        from scipy import stats

        f_crit = abs(float(stats.t.ppf(alpha / 2.0, dof - 1))) / math.sqrt(dof - 1)
    fqa = fq - f_crit
    if fqa <= 0:
        return 0.0
    if f_crit > 0 and fq > 1.0 / f_crit:
        # The constraint is not binding (sensemakr's extreme case).
        return (fq**2 - f_crit**2) / (1.0 + fq**2)
    return 0.5 * (math.sqrt(fqa**4 + 4.0 * fqa**2) - fqa**2)


def partial_r2(t_stat: float, dof: int) -> float:
    """Partial R² of the treatment with the outcome given the covariates: t² / (t² + df).

    Parameters
    ----------
    t_stat
        The treatment coefficient's t statistic.
    dof
        Residual degrees of freedom.

    Returns
    -------
    float
    """
    return t_stat**2 / (t_stat**2 + dof)


def ols_treatment(y: np.ndarray, t: np.ndarray, W: np.ndarray) -> tuple[float, float, int]:
    """OLS of y on an intercept, t and W: the treatment coefficient, its classical SE and df.

    Exactly collinear covariate columns are dropped first, so ``df`` counts only the columns kept.

    Parameters
    ----------
    y
        Outcome.
    t
        Treatment, 0/1.
    W
        Covariates, one column each.

    Returns
    -------
    tuple of (float, float, int)
        ``(coefficient, standard error, degrees of freedom)``.

    Raises
    ------
    ValueError
        When the treatment is collinear with the covariates.
    """
    X = np.column_stack([np.ones(len(y)), t, W])
    # Drop exactly collinear columns (e.g. a dummy constant within the population) so df is honest.
    rank = np.linalg.matrix_rank(X)
    if rank < X.shape[1]:
        _, _, pivots = _qr_pivot(X)
        X = X[:, sorted(pivots[:rank])]
        if 1 not in sorted(pivots[:rank]):
            raise ValueError("the treatment is collinear with the covariates")
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    dof = len(y) - X.shape[1]
    sigma2 = float(resid @ resid) / dof
    cov = sigma2 * np.linalg.inv(X.T @ X)
    return float(beta[1]), float(math.sqrt(cov[1, 1])), int(dof)


def _qr_pivot(X: np.ndarray):
    from scipy.linalg import qr

    return qr(X, pivoting=True, mode="economic")


def sensitivity(
    estimate: DREstimate,
    y: np.ndarray,
    t: np.ndarray,
    W: np.ndarray,
    *,
    binary: bool,
    baseline_risk: float | None = None,
) -> SensitivityResult:
    """E-value of the DR estimate and robustness value of a linear outcome model.

    Parameters
    ----------
    estimate
        The doubly-robust estimate.
    y, t, W
        Outcome, treatment and covariates of the analysed population.
    binary
        Whether the outcome is 0/1 (then the effect is a risk difference).
    baseline_risk
        For a binary outcome: the mean risk without treatment in the population, used to
        turn the risk difference into a risk ratio. The control arm's mean by default.

    Returns
    -------
    SensitivityResult
        The effect and its interval as risk ratios, their E-values, the OLS estimate with its
        t statistic, partial R² and robustness values, a status (a warning when the interval
        includes the null or a weak confounder would do) and a message.

    Raises
    ------
    ValueError
        When the treatment is collinear with the covariates (from :func:`ols_treatment`).
    """
    if binary:
        p0 = baseline_risk if baseline_risk is not None else float(y[t == 0].mean())
        p0 = min(max(p0, 1e-6), 1 - 1e-6)
        to_rr = lambda diff: max(p0 + diff, 1e-6) / p0  # noqa: E731
        conversion = (
            f"risk ratio from the risk difference at the baseline risk {p0:.3f} (held fixed): RR = (p0 + effect) / p0"
        )
    else:
        sd = float(np.std(y)) or 1.0
        to_rr = lambda diff: math.exp(RR_PER_SMD * diff / sd)  # noqa: E731
        conversion = (
            f"continuous outcome: d = effect / SD(y) (SD {sd:.3g}), then RR ≈ exp(0.91·d) (VanderWeele 2017); "
            "an approximation"
        )
    rr, rr_lo, rr_hi = to_rr(estimate.effect), to_rr(estimate.ci_low), to_rr(estimate.ci_high)
    e_point, e_ci = e_value(rr, rr_lo, rr_hi)
    coef, se, dof = ols_treatment(y, t, W)
    t_stat = coef / se
    rv = robustness_value(coef, se, dof)
    rv_a = robustness_value(coef, se, dof, alpha=DEFAULT_ALPHA)
    r2 = partial_r2(t_stat, dof)
    if e_ci is not None and e_ci <= 1.0:
        status = Status.WARN
        message = (
            f"The interval already includes no effect (E-value of the CI limit 1.00, RV at α = 0.05 {rv_a:.1%}); "
            "a hidden confounder could as easily hide a real effect as create one."
        )
    else:
        weak = (e_ci or 1.0) < E_VALUE_CI_WARN_BELOW or rv_a < RV_ALPHA_WARN_BELOW
        status = Status.WARN if weak else Status.PASS
        message = (
            f"To explain the estimate away, a hidden confounder would need a risk-ratio association of "
            f"{e_point:.2f} with both treatment and outcome (E-value; {e_ci:.2f} to move the CI to the null). "
            f"In the linear outcome model (OLS estimate {coef:.3g}, t = {t_stat:.1f}) it would need to explain "
            f"{rv:.1%} of the residual variance of both (RV; {rv_a:.1%} to make it insignificant at 5 %)."
        )
        message += (
            " That is a weak confounder: one plausible omitted variable could do it."
            if weak
            else " Compare these with the strongest measured covariate before calling the result robust."
        )
    return SensitivityResult(
        rr=rr,
        rr_low=rr_lo,
        rr_high=rr_hi,
        e_value=e_point,
        e_value_ci=e_ci if e_ci is not None else float("nan"),
        conversion=conversion,
        ols_estimate=coef,
        ols_se=se,
        t_stat=t_stat,
        dof=dof,
        partial_r2=r2,
        rv=rv,
        rv_alpha=rv_a,
        status=status,
        message=message,
    )
