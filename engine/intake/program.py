"""The default PROGRAM.md a new problem starts with, for its outcome type.

The shipped problems' PROGRAM.md files carry what was learned on each data set; a new
problem has learned nothing yet, so its program states the objective, the fixed gates and
keep rule, a search order that is safe on any data of that outcome type, and the design
defaults with their reasons. The principal edits it as the session teaches them.
"""

from __future__ import annotations

from engine.problem import Gates, OutcomeType

OBJECTIVE = {
    OutcomeType.CONTINUOUS: (
        "Find the Bayesian model of the expected outcome `mu` that predicts held-out units best: the\n"
        "highest expected log predictive density (**ELPD**), estimated by PSIS-LOO. The harness, not the\n"
        "model, computes the {estimand} by intervention (every `t` set to 1, then to 0, the difference of\n"
        "`mu` averaged over the estimand's population). The effect is never the score; do not steer\n"
        "towards an effect size you expect."
    ),
    OutcomeType.COUNT: (
        "Find the Bayesian model of the expected count `mu` that predicts held-out units best: the highest\n"
        "expected log predictive density (**ELPD**), estimated by PSIS-LOO on the count likelihood. The\n"
        "harness computes the {estimand} by intervention on `t` as a difference in expected counts (a\n"
        "log-rate coefficient is a ratio, not this number). The effect is never the score; do not steer\n"
        "towards an effect size you expect."
    ),
    OutcomeType.BINARY: (
        "Find the Bayesian model of the outcome probability `mu` that predicts held-out units best: the\n"
        "highest expected log predictive density (**ELPD**), estimated by PSIS-LOO on the Bernoulli\n"
        "likelihood. The harness computes the {estimand} by intervention on `t` as a difference in\n"
        "probabilities (a log-odds coefficient is not this number: odds ratios do not average). The\n"
        "effect is never the score; do not steer towards an effect size you expect."
    ),
}

HEURISTIC = {
    OutcomeType.CONTINUOUS: """\
1. **One idea per iteration**, from the linear baseline upward, so every ΔELPD can be
   attributed. `y` stays on its original scale; work with `y_scale` for priors.
2. **Per-arm structure early**: separate mean functions (and a separate σ) for the treated
   and the control arm, the treated arm shrunk towards the control arm.
3. **Smooth terms next**: cubic B-splines (`data.spline_basis(name)`) on the strongest
   continuous controls only; binary and categorical controls stay linear.
4. **Many controls**: shrink their coefficients (a shared scale, or tighter priors) before
   adding interactions; interactions of the treatment with every control widen the interval.
5. **Tails**: Student-t noise only once the mean structure is right; heavy tails in the
   residuals of a good mean model are information.""",
    OutcomeType.COUNT: """\
1. **One idea per iteration**, from the negative-binomial baseline upward. `mu` must stay a
   positive expected count (`pm.math.exp(...)`); keep a count likelihood (negative binomial,
   or Poisson if the dispersion φ runs large), never a Normal on counts: their ELPDs do not compare.
2. **Per-arm structure early**: let the treatment effect vary with the strongest controls,
   with tight priors on the interactions; then a per-arm linear predictor.
3. **Smooth terms next**: cubic B-splines (`data.spline_basis(name)`) on the strongest
   continuous controls only; coefficients are log-rate ratios, so keep their priors tight.
4. **Many controls**: shrink their coefficients (a shared scale) before adding interactions.
5. **Zeros**: many more zeros than the negative binomial predicts point to a hurdle: say so,
   and model it only once the mean structure is right.""",
    OutcomeType.BINARY: """\
1. **One idea per iteration**, from the logistic baseline upward. `mu` must stay a
   probability (`pm.math.invlogit(...)`) and the likelihood `pm.Bernoulli("y", p=mu)`.
2. **Per-arm structure early**: let the treatment effect vary with the strongest controls,
   with tight priors on the interactions; then a per-arm linear predictor with the treated
   arm shrunk towards the control arm.
3. **Smooth terms next**: cubic B-splines (`data.spline_basis(name)`) on the strongest
   continuous controls only.
4. **Categoricals**: partial pooling of their levels (a shared scale) before interactions.
5. **Separation**: a control that predicts the outcome almost perfectly makes coefficients
   run off; tighter priors, not more tuning, are the fix.""",
}

DESIGN_DEFAULTS = """\
- `propensity_learner = "auto"`: logistic regression or early-stopped histogram gradient
  boosting, whichever predicts the treatment better out of fold (log-loss; the outcome never
  enters). Boosting tends to win on many covariates with categoricals, logistic on a few,
  where it also balances the covariates' means by construction.
- `min_propensity = 0.01`: propensities are clipped to [0.01, 0.99] in the weights, so no unit
  stands for more than 99; clipping keeps every unit and the estimand (trimming does not).
- `folds = 5`: each nuisance model trains on 80 % of the units; the runner refuses folds the
  smaller arm cannot fill.
- `estimator = "linear_dr"` with the estimand's own score: for the ATT only the controls are
  weighted, by e/(1 − e).
- The **sanity net** reads every run: the outcome-model-only and weighting-only estimates
  beside the doubly-robust one, the smaller arm's effective sample and the largest weight. A
  DR estimate further from both than its own sampling half-width, or with a sampling interval
  wider than the outcome's standard deviation, is *not credible* and fails the gate.
- The **extrapolation allowance**: units nobody in the other arm resembles (a run of
  propensities where the model expected at least three units of the other arm and saw
  almost none) have a missing outcome that only the outcome model guesses, and no weight
  corrects. The interval widens on each side by their share times the spread (sd) of the
  estimated effects among the other units, and the estimate's line says so. It is a
  sensitivity bound, not sampling error; trimming or overlap weights (ATO) remove it."""


def program_text(title: str, outcome_type: OutcomeType, estimand: str, placebo: tuple[str, ...]) -> str:
    """PROGRAM.md for a new problem.

    Parameters
    ----------
    title
        The problem's title.
    outcome_type
        Continuous or binary: which objective and search order.
    estimand
        ATE, ATT or ATO.
    placebo
        Pre-treatment columns kept out of the controls, usable as placebo outcomes.

    Returns
    -------
    str
        Markdown.
    """
    gates = Gates()
    placebo_line = (
        f"- **Placebo**: `{'`, `'.join(placebo)}` cannot be changed by the treatment; an adjusted\n"
        '  "effect" on them far from 0 means confounding the controls miss.'
        if placebo
        else "- **Placebo**: no pre-treatment column outside the controls was set aside, so\n"
        "  `placebo_outcomes` is empty; lean on the refuters."
    )
    return f"""# Search procedure: {title}

Written by `workbench new` for a {outcome_type.value} outcome. Nothing has been learned about
these data yet: edit this file as the session teaches you.

## Objective

{OBJECTIVE[outcome_type].format(estimand=estimand)}

## Gates (fixed by the harness)

A sampled model counts only if all of these hold:

- max R-hat < {gates.rhat_max:g};
- bulk ESS and tail ESS > {gates.ess_bulk_min:g} for every parameter;
- divergent transitions < {gates.divergence_rate_max:.1%} of draws;
- sampling finishes within the {gates.sampling_budget_s:g} s budget.

A model that fails a gate has failed a gate, not crashed; what failed is information. Many
Pareto-k values above 0.7 mean the LOO estimate is unreliable for those units: say so.

## Keep rule

{gates.keep_rule()[0].upper()}{gates.keep_rule()[1:]}.
Discarded and failed models stay in the history; read it before proposing.

## Search heuristic

{HEURISTIC[outcome_type]}
6. **The contract is not negotiable**: no forbidden column enters the model, not as a
   predictor and not as a row filter. A model that "improves ELPD" with one answers a
   different question.
7. **After a failed gate, simplify and retry**: drop the newest block or tighten its prior.
   Never repeat a rejected or discarded idea.

## Design loop (analysis.toml)

### Design defaults (why analysis.toml starts where it does)

{DESIGN_DEFAULTS}

A good design-based analysis looks like:

- **Balance**: after weighting every |SMD| < 0.1 (warn at 0.2).
- **Overlap**: report the share of units with propensity outside [0.1, 0.9]; a large share
  is a finding to state. A trimmed estimate is an ATO, not the {estimand}: the critic names the
  columns in which its population differs from all units.
{placebo_line}
- **Refuters**: a placebo treatment should give ≈ 0, a random common cause should barely move
  the estimate, a data subset should give a similar answer.
- **Triangulate**: compare the doubly-robust estimate with the best Bayesian one, and say so
  loudly when they disagree.
"""
