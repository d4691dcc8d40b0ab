"""A data summary the home screen, the CLI and the agent context all show.

Only aggregate numbers of allowed columns: no row-level data and never the truth.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.problem import Problem


@dataclass(frozen=True)
class ArmSummary:
    """Sizes and outcome means by arm, for people (agents get names and counts only:
    :class:`engine.agents.base.DataSummary`)."""

    n: int
    n_treated: int
    n_control: int
    outcome_mean_treated: float
    outcome_mean_control: float
    continuous: tuple[str, ...]
    binary: tuple[str, ...]

    @property
    def naive_difference(self) -> float:
        """Unadjusted difference in means: what a careless analysis would report."""
        return self.outcome_mean_treated - self.outcome_mean_control


def data_summary(problem: Problem) -> ArmSummary:
    """Summarise the data a model may see (allowed controls, treatment, outcome).

    Parameters
    ----------
    problem
        The loaded problem.

    Returns
    -------
    ArmSummary
        Units in all and per arm, the outcome's mean per arm, and the continuous and binary controls.
    """
    data = problem.model_data()
    treated = data.t == 1
    return ArmSummary(
        n=data.n,
        n_treated=int(treated.sum()),
        n_control=int((~treated).sum()),
        outcome_mean_treated=float(data.y[treated].mean()),
        outcome_mean_control=float(data.y[~treated].mean()),
        continuous=data.continuous,
        binary=data.binary,
    )
