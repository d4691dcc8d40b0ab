"""The offline agent's catalogue of model moves, and the ways it simplifies a failed one.

A :class:`Move` turns one :class:`~engine.modelspec.ModelSpec` into a slightly
richer one. The order of :data:`CONTINUOUS_MOVES` follows what is known about IHDP-like
problems (FIELD-NOTES.md, BACKGROUND.md, the IHDP PROGRAM.md): separate arms with their
own σ first (the single biggest fix for the ATE), then per-arm cubic splines, then
squared terms (the biggest gain in the autoresearch run, and the fallback when splines
do not pay), then regularising priors (PROGRAM.md: the 139 treated children need
shrinkage), a multiplicative mean for positive outcomes (then with linear controls only),
interactions and noise models, then the log link in one arm only (treatment may change
the scale the controls act on; on IHDP tuning seeds the two arms' links were rarely told
apart by ELPD, so it waits behind the moves that were); hierarchical shrinkage late (its
funnel costs divergences), and the expensive HSGP last.
Tags let reviewer reasons steer the agent away from a family of moves.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from engine.agents.base import DataSummary
from engine.modelspec import ModelSpec, spec_with
from engine.problem import OutcomeType

PRIOR_SCALE_FLOOR = 0.25  # tightening stops here: tighter priors would decide the answer
GP_MAX_INPUTS = 2  # FIELD-NOTES: an HSGP on 6 covariates took 105 s to compile
WIDE_COLUMNS = 30  # this many design columns make data wide: shared shrinkage comes first
SPLINE_MAX_INPUTS = 6  # wide data (ACIC's 40-odd continuous controls): splines on the strongest six only
LIGHT_BASIS = 4
LIGHT_GP_M = 5


@dataclass(frozen=True)
class Move:
    """One step the heuristic agent can take from a model spec.

    Attributes
    ----------
    id
        Stable identifier, recorded as ``Proposal.move``.
    title
        Noun phrase used in hypotheses and rationales.
    tags
        Words a reviewer's reason may use about this family of moves.
    hypothesis
        One sentence, formatted with ``k_cont``, ``k_bin``, ``title`` and the prior scale
        before and after the move (``scale_from``, ``scale_to``).
    why
        The evidence that puts the move where it is in the catalogue.
    """

    id: str
    title: str
    tags: frozenset[str]
    hypothesis: str
    why: str
    build: Callable[[ModelSpec, DataSummary], ModelSpec | None]
    lighter: Callable[[ModelSpec], tuple[ModelSpec, str] | None] | None = None

    def apply(self, spec: ModelSpec, data: DataSummary) -> ModelSpec | None:
        """The spec after this move, or ``None`` when it does not apply to ``spec``.

        Parameters
        ----------
        spec
            The model to build on.
        data
            Names and counts of the data (some moves need continuous or several binary controls).

        Returns
        -------
        ModelSpec or None
            None also when the move would leave ``spec`` unchanged.
        """
        out = self.build(spec, data)
        return out if out is not None and out != spec else None

    def hypothesis_for(self, data: DataSummary, base: ModelSpec, candidate: ModelSpec) -> str:
        """The move's hypothesis sentence, filled in for the step from ``base`` to ``candidate``.

        Parameters
        ----------
        data
            Gives the numbers of continuous and binary controls.
        base, candidate
            The spec before and after the move (for their prior scales).

        Returns
        -------
        str
        """
        return self.hypothesis.format(
            k_cont=len(data.continuous),
            k_bin=len(data.binary),
            k=len(data.columns),
            title=self.title,
            scale_from=f"{base.prior_scale:g}",
            scale_to=f"{candidate.prior_scale:g}",
        )


# --------------------------------------------------------------------------- builders


def _quadratic(s: ModelSpec, d: DataSummary) -> ModelSpec | None:
    return spec_with(s, continuous_terms="quadratic") if s.continuous_terms == "linear" and d.continuous else None


def _separate_arms(s: ModelSpec, d: DataSummary) -> ModelSpec | None:
    if s.separate_arms:
        return None
    return spec_with(s, separate_arms=True, treat_linear=False, treat_quadratic=False, sigma_per_arm=s.has_sigma)


def _spline(s: ModelSpec, d: DataSummary) -> ModelSpec | None:
    if s.continuous_terms == "spline" or not d.continuous:
        return None
    if len(d.continuous) > SPLINE_MAX_INPUTS and d.strongest:
        # Splines on every one of 40 controls: 200 more coefficients than the data can pin down.
        return spec_with(s, continuous_terms="spline", spline_columns=d.strongest[:SPLINE_MAX_INPUTS])
    return spec_with(s, continuous_terms="spline")


def _log_linear(s: ModelSpec, d: DataSummary) -> ModelSpec | None:
    if not s.log_mean or s.continuous_terms == "linear":
        return None
    return spec_with(s, continuous_terms="linear", spline_columns=(), treat_quadratic=False)


def _log_arm(arm: str) -> Callable[[ModelSpec, DataSummary], ModelSpec | None]:
    def build(s: ModelSpec, d: DataSummary) -> ModelSpec | None:
        ok = s.separate_arms and s.has_sigma and not s.log_mean_arm and d.outcome_mostly_positive
        return spec_with(s, log_mean=True, log_mean_arm=arm) if ok else None

    return build


def _treat_linear(s: ModelSpec, d: DataSummary) -> ModelSpec | None:
    return spec_with(s, treat_linear=True) if not (s.separate_arms or s.treat_linear) and d.continuous else None


def _treat_quadratic(s: ModelSpec, d: DataSummary) -> ModelSpec | None:
    ok = not (s.separate_arms or s.treat_quadratic) and s.continuous_terms == "quadratic"
    return spec_with(s, treat_quadratic=True) if ok else None


def _log_mean(s: ModelSpec, d: DataSummary) -> ModelSpec | None:
    ok = s.has_sigma and not s.log_mean and d.outcome_mostly_positive
    return spec_with(s, log_mean=True) if ok else None


def _sigma_per_arm(s: ModelSpec, d: DataSummary) -> ModelSpec | None:
    return spec_with(s, sigma_per_arm=True) if s.has_sigma and not s.sigma_per_arm else None


def _student_t(s: ModelSpec, d: DataSummary) -> ModelSpec | None:
    return spec_with(s, likelihood="student_t") if s.has_sigma and s.likelihood == "normal" else None


def _sigma_linear(s: ModelSpec, d: DataSummary) -> ModelSpec | None:
    return spec_with(s, sigma_linear=True) if s.has_sigma and not s.sigma_linear and d.continuous else None


def _shrink_binary(s: ModelSpec, d: DataSummary) -> ModelSpec | None:
    return spec_with(s, shrink_binary=True) if not s.shrink_binary and len(d.binary) >= 2 else None


def _shrink_controls(s: ModelSpec, d: DataSummary) -> ModelSpec | None:
    if s.shrink_controls or len(d.columns) < WIDE_COLUMNS:
        return None
    return spec_with(s, shrink_controls=True)


def _tighten(s: ModelSpec, d: DataSummary) -> ModelSpec | None:
    return spec_with(s, prior_scale=s.prior_scale / 2) if s.prior_scale / 2 >= PRIOR_SCALE_FLOOR else None


def _hsgp(s: ModelSpec, d: DataSummary) -> ModelSpec | None:
    if s.gp_columns or not d.continuous:
        return None
    return spec_with(s, gp_columns=tuple(d.continuous[:GP_MAX_INPUTS]))


# --------------------------------------------------------------------------- lighter variants


def _lighter_spline(s: ModelSpec) -> tuple[ModelSpec, str] | None:
    if s.continuous_terms == "spline" and s.n_basis > LIGHT_BASIS:
        return replace(s, n_basis=LIGHT_BASIS), f"fewer spline basis functions ({s.n_basis} → {LIGHT_BASIS})"
    return None


def _lighter_gp(s: ModelSpec) -> tuple[ModelSpec, str] | None:
    if len(s.gp_columns) > 1:
        return replace(s, gp_columns=s.gp_columns[:1], gp_m=min(s.gp_m, LIGHT_GP_M)), (
            f"a smaller HSGP (one input, {s.gp_columns[0]}, m = {min(s.gp_m, LIGHT_GP_M)})"
        )
    if s.gp_columns and s.gp_m > LIGHT_GP_M:
        return replace(s, gp_m=LIGHT_GP_M), f"a smaller HSGP (m = {LIGHT_GP_M})"
    return None


def _lighter_arms(s: ModelSpec) -> tuple[ModelSpec, str] | None:
    if s.separate_arms and s.sigma_per_arm and not s.sigma_linear:
        return replace(s, sigma_per_arm=False), "separate arm means but one shared σ"
    return None


def _lighter_shrink(s: ModelSpec) -> tuple[ModelSpec, str] | None:
    if s.shrink_binary and not s.shrink_centred:
        return replace(s, shrink_centred=True), "the centred form of the shrinkage (the data pin the coefficients down)"
    return None


def _lighter_sigma_linear(s: ModelSpec) -> tuple[ModelSpec, str] | None:
    if s.sigma_linear and not s.sigma_per_arm:
        variant = "one σ per arm instead of log σ linear in the controls"
        return replace(s, sigma_linear=False, sigma_per_arm=True), variant
    return None


# --------------------------------------------------------------------------- the catalogue

_MOVES = {
    m.id: m
    for m in [
        Move(
            "quadratic",
            "squared terms of the continuous controls",
            frozenset({"quadratic", "square", "polynomial", "nonlinear"}),
            "Squared terms of the {k_cont} continuous controls will capture curvature in the outcome surface "
            "and raise ELPD by more than 2 SE.",
            "Squared terms are the cheapest nonlinearity; in the Bayesian autoresearch run on IHDP they gave the "
            "largest single gain (+22.7 ELPD).",
            _quadratic,
        ),
        Move(
            "separate_arms",
            "separate arms (own mean structure and own σ per arm)",
            frozenset({"arm", "separate", "heterogeneity", "complex"}),
            "Giving each arm its own intercept, coefficients and noise scale will fit the two response surfaces "
            "separately and raise ELPD by more than 2 SE.",
            "Separate arms were the single biggest fix for the IHDP ATE in our field notes (mean absolute error "
            "0.255 → 0.174, coverage 3/6 → 5/6): the treated and control surfaces differ in shape.",
            _separate_arms,
            _lighter_arms,
        ),
        Move(
            "spline",
            "additive cubic B-splines on the continuous controls",
            frozenset({"spline", "smooth", "nonlinear", "complex"}),
            "Additive cubic B-splines on the {k_cont} continuous controls will fit nonlinear shapes that squared "
            "terms miss and raise ELPD by more than 2 SE.",
            "Per-arm additive cubic splines had the smallest ATE error of the families in our field notes "
            "(0.146 on six IHDP seeds) without knowing the true form.",
            _spline,
            _lighter_spline,
        ),
        Move(
            "log_mean",
            "a multiplicative mean (mu = exp of the linear predictor)",
            frozenset({"log", "multiplicative", "exp", "link", "nonlinear"}),
            "Letting the controls act multiplicatively (mu = exp of the linear predictor) will fit a positive, "
            "curved outcome surface and raise ELPD by more than 2 SE.",
            "The outcome is almost always positive, and a positive, curved surface is often exponential in the "
            "controls: our field notes found an exp(linear + quadratic) control mean among the best IHDP families.",
            _log_mean,
        ),
        Move(
            "log_linear",
            "linear controls on the log scale (the splines or squares dropped)",
            frozenset({"log", "linear", "simpler", "parsimony", "spline", "quadratic"}),
            "With a multiplicative mean, the curvature the splines or squares fitted may be the exp link's own: "
            "linear controls on the log scale will fit as well (ELPD within 2 SE) with fewer parameters.",
            "Curvature on one scale is often linearity on another: terms kept before the link changed can become "
            "dead weight, and a spline extrapolates past its boundary knots by its last piece, not by the link. "
            "The keep rule decides, as for any move: kept beyond the band, or by the contract's tie-break.",
            _log_linear,
        ),
        *[
            Move(
                f"log_{arm}_arm",
                f"a multiplicative mean in the {arm} arm only",
                frozenset({"log", "multiplicative", "exp", "link", "arm", "nonlinear"}),
                f"The controls may act multiplicatively in the {arm} arm and additively in the {other}: a log "
                f"link in the {arm} arm only will fit both surfaces and raise ELPD by more than 2 SE, or fit as well "
                "with a simpler mean.",
                "Treatment can change the scale on which the controls act, so with separate arms each arm may want "
                "its own link; one link for both makes the arm it does not suit extrapolate by the wrong shape, "
                "and the effect averages the other arm's predictions over every unit.",
                _log_arm(arm),
            )
            for arm, other in (("control", "treated"), ("treated", "control"))
        ],
        Move(
            "treat_linear",
            "treatment × continuous-control interactions",
            frozenset({"interaction", "heterogeneity"}),
            "Letting the treatment effect vary linearly with the {k_cont} continuous controls will improve the fit "
            "and narrow the effect interval.",
            "Interactions restricted to the continuous controls narrowed the ATE interval in the autoresearch run; "
            "interactions with every control widened it.",
            _treat_linear,
        ),
        Move(
            "treat_quadratic",
            "treatment × squared-control interactions",
            frozenset({"interaction", "quadratic", "heterogeneity", "complex"}),
            "Letting the treatment effect vary with the squared continuous controls will raise ELPD by more than 2 SE.",
            "Treatment × quadratic interactions were the second-largest gain in the autoresearch run (+13.8 ELPD), "
            "once the base model was simple enough to pass R-hat.",
            _treat_quadratic,
        ),
        Move(
            "sigma_per_arm",
            "a separate noise scale per arm",
            frozenset({"noise", "sigma", "heteroscedastic", "variance"}),
            "Giving each arm its own noise scale will match the residual spread of the two arms and raise ELPD.",
            "Residual spread often differs between arms; one extra parameter is a cheap test of it.",
            _sigma_per_arm,
        ),
        Move(
            "student_t",
            "a Student-t likelihood",
            frozenset({"student", "likelihood", "robust", "tail"}),
            "A Student-t likelihood will absorb heavy-tailed residuals and raise ELPD.",
            "Heavy tails show up as a few badly predicted units; but our field notes found that robust noise does not "
            "fix a wrong mean structure, so this comes after the mean moves.",
            _student_t,
        ),
        Move(
            "sigma_linear",
            "heteroscedastic noise (log σ linear in the continuous controls)",
            frozenset({"noise", "sigma", "heteroscedastic", "variance", "complex"}),
            "Letting log σ vary linearly with the continuous controls will model uneven residual spread "
            "and raise ELPD.",
            "On Twins the autoresearch agent found heteroscedastic noise by a continuous covariate.",
            _sigma_linear,
            _lighter_sigma_linear,
        ),
        Move(
            "shrink_controls",
            "one learnt scale for every control's coefficient (wide data)",
            frozenset({"hierarchical", "shrinkage", "prior"}),
            "Letting the {k} control coefficients share one scale learnt from the data will pin down the "
            "directions correlated controls leave loose, pass the convergence gates and raise ELPD.",
            "On wide data (ACIC's 79 columns) the baseline's independent priors left R-hat at 1.03 and bulk ESS "
            "near 170; one learnt scale over every coefficient, with the controls centred so the intercept "
            "stops trading off against every binary, passed every gate.",
            _shrink_controls,
        ),
        Move(
            "shrink_binary",
            "hierarchical shrinkage of the binary-control coefficients (non-centred)",
            frozenset({"hierarchical", "shrinkage", "prior"}),
            "Shrinking the {k_bin} binary-control coefficients towards zero with a learnt scale will reduce "
            "overfitting and narrow the effect interval.",
            "Many weak binary controls add variance; a learnt common scale (non-centred, so NUTS samples it) "
            "lets the data decide how much they matter.",
            _shrink_binary,
            _lighter_shrink,
        ),
        Move(
            "tighten_priors",
            "tighter coefficient priors (scale × 0.5)",
            frozenset({"prior", "tighten"}),
            "Halving the scale of the coefficient priors (×{scale_from} → ×{scale_to}) will regularise the model and "
            "narrow the effect interval without losing ELPD.",
            "Tighter priors help sampling and can narrow the interval; the keep rule then prefers the narrower "
            "interval within the ELPD band.",
            _tighten,
        ),
        Move(
            "hsgp",
            "a small HSGP term on the leading continuous controls",
            frozenset({"gp", "gaussian process", "hsgp", "nonlinear", "complex"}),
            "A smooth joint function (HSGP) of the first continuous controls will capture their interaction and "
            "raise ELPD.",
            "Kept small and late: an HSGP on all six IHDP covariates took 105 s to compile and did not finish "
            "sampling in our field notes.",
            _hsgp,
            _lighter_gp,
        ),
    ]
}

CONTINUOUS_ORDER = (
    "separate_arms",
    "spline",
    "quadratic",
    "tighten_priors",
    "log_mean",
    "log_linear",
    "treat_linear",
    "treat_quadratic",
    "sigma_per_arm",
    "student_t",
    "sigma_linear",
    "log_control_arm",
    "log_treated_arm",
    "shrink_binary",
    "hsgp",
    "shrink_controls",
)
COUNT_ORDER = (
    "separate_arms",
    "spline",
    "quadratic",
    "tighten_priors",
    "treat_linear",
    "treat_quadratic",
    "shrink_binary",
    "shrink_controls",
)
BINARY_ORDER = (
    "quadratic",
    "treat_linear",
    "spline",
    "shrink_binary",
    "treat_quadratic",
    "tighten_priors",
    "separate_arms",
    "shrink_controls",
)

CONTINUOUS_MOVES: tuple[Move, ...] = tuple(_MOVES[i] for i in CONTINUOUS_ORDER)
BINARY_MOVES: tuple[Move, ...] = tuple(_MOVES[i] for i in BINARY_ORDER)
COUNT_MOVES: tuple[Move, ...] = tuple(_MOVES[i] for i in COUNT_ORDER)


def moves_for(outcome: OutcomeType | str, data: DataSummary | None = None) -> tuple[Move, ...]:
    """The catalogue, in the order the agent tries it, for an outcome type.

    Parameters
    ----------
    outcome
        The contract's outcome type, or its value (``"continuous"``, ``"binary"`` or ``"count"``).
    data
        The data's summary: on wide data (:data:`WIDE_COLUMNS` design columns or more) the
        shared shrinkage of every control comes first, since the baseline's independent priors
        leave correlated controls weakly identified.

    Returns
    -------
    tuple of Move
        :data:`BINARY_MOVES` for a binary outcome, :data:`COUNT_MOVES` for a count, else
        :data:`CONTINUOUS_MOVES`.

    Raises
    ------
    ValueError
        For a string that is not an outcome type.
    """
    moves = {OutcomeType.BINARY: BINARY_MOVES, OutcomeType.COUNT: COUNT_MOVES}.get(
        OutcomeType(outcome), CONTINUOUS_MOVES
    )
    if data is not None and len(data.columns) >= WIDE_COLUMNS:
        first = _MOVES["shrink_controls"]
        return (first, *(m for m in moves if m is not first))
    return moves


def get_move(move_id: str | None) -> Move | None:
    """The catalogue's move with id ``move_id``.

    Parameters
    ----------
    move_id
        A ``Proposal.move``, or None.

    Returns
    -------
    Move or None
        None for no id or one the catalogue does not hold (``baseline``, ``combine``, another
        agent's label).
    """
    return _MOVES.get(move_id) if move_id else None


# --------------------------------------------------------------------------- reviewer reasons

_REASON_TAGS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), tag)
    for pattern, tag in [
        (r"\bsplines?\b|\bsmooth", "spline"),
        (r"\binteract", "interaction"),
        (r"\bpriors?\b", "prior"),
        (r"\bstudent|heavy.tail|\bt[- ]likelihood", "student"),
        (r"too complex|complicated|\bsimpler\b|\bsimplify\b|overfit|too many parameters", "complex"),
        (r"\bquadratic|\bsquared?\b|polynomial", "quadratic"),
        (r"\bgps?\b|gaussian process|\bhsgp", "gp"),
        (r"heterosc|\bnoise\b|\bsigma\b|\bvariance\b|σ", "noise"),
        (r"hierarch|shrink", "hierarchical"),
        (r"separate arms?|per.arm|\barms\b|t.learner", "arm"),
        (r"\blog\b|multiplicative|\bexp\b|exponential|log.link", "log"),
    ]
)


def reason_tags(reason: str) -> frozenset[str]:
    """The move tags a reviewer's reason speaks about (``"splines overfit"`` → spline, complex).

    Parameters
    ----------
    reason
        The reviewer's words (may be empty).

    Returns
    -------
    frozenset of str
        Tags such as ``spline``, ``prior`` or ``complex``.
    """
    return frozenset(tag for pattern, tag in _REASON_TAGS if pattern.search(reason or ""))


# --------------------------------------------------------------------------- simplification


def simpler_base(base: ModelSpec, move: Move, data: DataSummary) -> tuple[ModelSpec, str] | None:
    """``move`` applied to ``base`` stripped of its costliest extras (HSGP, log-linear σ, Student-t, t × x²).

    Parameters
    ----------
    base
        The spec the failed candidate was built on.
    move
        The move that failed.
    data
        Names and counts of the data.

    Returns
    -------
    tuple of (ModelSpec, str) or None
        The new spec and a description naming what was dropped; None when ``base`` has none
        of those extras or the move does not apply to the stripped base.
    """
    stripped = base
    dropped: list[str] = []
    for field_name, plain, label in [
        ("gp_columns", (), "the HSGP term"),
        ("sigma_linear", False, "log-linear σ"),
        ("likelihood", "normal", "the Student-t likelihood"),
        ("treat_quadratic", False, "the treatment × squared interactions"),
    ]:
        candidate = spec_with(stripped, **{field_name: plain})
        if candidate is not None and candidate != stripped:
            stripped, dropped = candidate, [*dropped, label]
    if not dropped:
        return None
    applied = move.apply(stripped, data)
    return (applied, f"the same move on a simpler base (without {', '.join(dropped)})") if applied else None


def tighter(spec: ModelSpec) -> tuple[ModelSpec, str] | None:
    """``spec`` with the scale of its coefficient priors halved.

    Parameters
    ----------
    spec
        The spec to tighten.

    Returns
    -------
    tuple of (ModelSpec, str) or None
        The tighter spec and a description (``tighter priors (scale 1 → 0.5)``); None when
        the scale would fall below :data:`PRIOR_SCALE_FLOOR`.
    """
    out = spec_with(spec, prior_scale=spec.prior_scale / 2)
    if out is None or out.prior_scale < PRIOR_SCALE_FLOOR:
        return None
    return out, f"tighter priors (scale {spec.prior_scale:g} → {out.prior_scale:g})"


def noncentred(spec: ModelSpec, data: DataSummary) -> tuple[ModelSpec, str] | None:
    """Non-centred shrinkage of the binary-control coefficients: switched from centred, or added.

    Parameters
    ----------
    spec
        The spec to change.
    data
        Names and counts of the data (shrinkage is added only with two binary controls or more).

    Returns
    -------
    tuple of (ModelSpec, str) or None
        The new spec and a description; None when ``spec`` already has non-centred shrinkage,
        or has none and there are fewer than two binary controls.
    """
    if spec.shrink_binary:
        if spec.shrink_centred:
            return replace(spec, shrink_centred=False), "the non-centred form of the shrinkage"
        return None
    out = _shrink_binary(spec, data)
    return (out, "non-centred shrinkage of the binary coefficients") if out else None


def simplifications(
    failed: ModelSpec, base: ModelSpec, move: Move, data: DataSummary, *, crashed: bool, divergent: bool = False
) -> list[tuple[ModelSpec, str, str]]:
    """Simpler versions of a failed candidate that still try the move's idea, best first.

    Returns ``(spec, description, kind)`` triples; ``kind`` names the simplification
    (``lighter``, ``tighter``, ``base``, ``noncentred``) so retries can vary it. After a
    failed gate the priors are tightened first (the sampler struggled), unless the gate
    was divergences: then the geometry is wrong and the move's own variant (e.g. a
    reparametrisation) comes first, as it does after a crash (too big or broken).

    Parameters
    ----------
    failed
        The candidate that failed a gate or crashed.
    base
        The spec it was built on.
    move
        The move that made it.
    data
        Names and counts of the data.
    crashed
        The run crashed (rather than failed a gate).
    divergent
        The gate that failed was divergences.

    Returns
    -------
    list of (ModelSpec, str, str)
        In the order described; a kind with nothing to offer is left out.
    """
    options: dict[str, tuple[ModelSpec, str] | None] = {
        "lighter": move.lighter(failed) if move.lighter else None,
        "tighter": tighter(failed),
        "base": simpler_base(base, move, data),
        "noncentred": noncentred(failed, data),
    }
    order: tuple[str, ...]
    if crashed:
        order = ("lighter", "base", "tighter")
    elif divergent:
        order = ("lighter", "noncentred", "tighter", "base")
    else:
        order = ("tighter", "lighter", "base", "noncentred")
    return [(*option, k) for k in order if (option := options[k]) is not None]
