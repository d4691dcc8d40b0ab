"""The design loop's engine: the analysis spec, the doubly-robust estimate, design diagnostics,
refuters, hidden-confounder sensitivity, the rule-based critic and the offline agent's moves.

Importing this package is cheap: EconML and scikit-learn load only when something is fitted.

Typical use::

    spec = load_spec(problem.path, problem.contract)
    result = run_design(spec, problem, bayesian_effect=best_effect)
    review = critique(problem, spec, result)
    print(critique_markdown(review))
"""

from engine.design.critic import Critique, TargetTrial, Tier, critique, critique_markdown, triangulate
from engine.design.moves import DesignMove, next_design_move
from engine.design.results import DesignResult, DREstimate, Status
from engine.design.run import (
    DesignProgress,
    DesignSettings,
    love_plot_series,
    overlap_series,
    run_design,
    trimming_series,
)
from engine.design.sensitivity import e_value, robustness_value
from engine.design.spec import AnalysisSpec, load_spec, parse_spec, render_spec, spec_issues

__all__ = [
    "AnalysisSpec",
    "Critique",
    "DREstimate",
    "DesignMove",
    "DesignProgress",
    "DesignResult",
    "DesignSettings",
    "Status",
    "TargetTrial",
    "Tier",
    "critique",
    "critique_markdown",
    "e_value",
    "load_spec",
    "love_plot_series",
    "next_design_move",
    "overlap_series",
    "parse_spec",
    "render_spec",
    "robustness_value",
    "run_design",
    "spec_issues",
    "triangulate",
    "trimming_series",
]
