"""What a generated model assumes: :class:`ModelSpec`, the switches the offline agent edits.

The agent never edits code as text: it edits a spec, checks it with :func:`spec_issues`
(a spec that would render to a wrong or ill-posed model is refused on construction) and
hands it to :mod:`engine.agents.modelgen`, which renders it into ``model.py`` and reads it
back. This module is data only: it imports neither PyMC nor NumPy nor the renderer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from typing import Any

from engine.jsonable import from_dict

CONTINUOUS_TERMS = ("linear", "quadratic", "spline")
LIKELIHOODS = ("normal", "student_t")
OUTCOMES = ("continuous", "binary", "count")
ARMS = ("control", "treated")  # the order of every "arm" coordinate
MIN_BASIS = 4  # cubic B-splines need more basis functions than their degree (3)


@dataclass(frozen=True)
class ModelSpec:
    """What a generated model assumes, as a handful of switches.

    Attributes
    ----------
    outcome
        ``"continuous"`` (normal or Student-t likelihood), ``"binary"`` (Bernoulli-logit) or
        ``"count"`` (negative binomial with a log link; coefficients are log-rate ratios).
    continuous_terms
        How the continuous controls enter the mean: ``"linear"``, ``"quadratic"``
        (linear plus centred squares) or ``"spline"`` (additive cubic B-splines, which
        contain the linear and squared shapes).
    n_basis
        B-spline basis functions per continuous control (``n_basis - 1`` columns each).
    separate_arms
        Each arm gets its own intercept and coefficients (a T-learner in one model);
        treatment interactions are then implied and must be off.
    treat_linear, treat_quadratic
        Pooled models only: the treatment effect varies with the continuous controls
        (and with their squares).
    likelihood
        ``"normal"`` or ``"student_t"`` (continuous outcomes).
    log_mean
        Continuous outcomes with a positive mean: ``mu = exp(linear predictor)``, so the
        controls act multiplicatively (a positive, curved surface); coefficients are
        log-ratios with priors on that scale.
    log_mean_arm
        With ``log_mean`` and separate arms: ``"control"`` or ``"treated"`` puts the
        multiplicative mean in that arm only, the other arm's mean staying linear (the
        treatment may change the scale on which the controls act); empty for both arms.
    sigma_per_arm
        Continuous outcomes: each arm has its own noise scale.
    sigma_linear
        Continuous outcomes: log σ is linear in the continuous controls.
    prior_scale
        Multiplies every coefficient prior's scale (1 is the baseline; 0.5 is tighter).
    shrink_binary
        Binary-control coefficients share a scale learnt from the data (non-centred).
    shrink_controls
        Every control's coefficient (the one ``beta_x`` block) shares a scale learnt from the
        data, centred, and the controls are centred so the intercept is the average outcome:
        wide data (ACIC's 79 columns) with correlated controls otherwise leave weakly
        identified directions that fail R-hat. Only without split blocks (no splines, no
        binary shrinkage).
    shrink_centred
        The same hierarchy written centred: better when the data pin the coefficients
        down (many units per arm), where the non-centred form shows divergences.
    gp_columns
        Continuous controls that enter through one joint HSGP term (at most two).
    spline_columns
        With ``continuous_terms="spline"``: only these continuous controls get splines, the
        others stay linear (wide data: splines on the strongest few); empty for all of them.
    gp_m
        HSGP basis functions per GP input.
    """

    outcome: str = "continuous"
    continuous_terms: str = "linear"
    n_basis: int = 6
    separate_arms: bool = False
    treat_linear: bool = False
    treat_quadratic: bool = False
    likelihood: str = "normal"
    log_mean: bool = False
    log_mean_arm: str = ""
    sigma_per_arm: bool = False
    sigma_linear: bool = False
    prior_scale: float = 1.0
    shrink_binary: bool = False
    shrink_controls: bool = False
    shrink_centred: bool = False
    gp_columns: tuple[str, ...] = field(default=())
    spline_columns: tuple[str, ...] = field(default=())
    gp_m: int = 8

    def __post_init__(self) -> None:
        problems = spec_issues(self)
        if problems:
            raise ValueError("invalid model spec: " + "; ".join(problems))

    @property
    def binary(self) -> bool:
        return self.outcome == "binary"

    @property
    def count(self) -> bool:
        return self.outcome == "count"

    @property
    def has_sigma(self) -> bool:
        """A continuous outcome: its likelihood has a noise scale σ (and may be Student-t)."""
        return self.outcome == "continuous"

    @property
    def log_link(self) -> bool:
        """``mu = exp(linear predictor)``: a count, or a continuous outcome with ``log_mean``."""
        return self.count or self.log_mean

    def to_dict(self) -> dict[str, Any]:
        """The fields that differ from the defaults (``outcome`` always), JSON-ready.

        Returns
        -------
        dict
            Field name to value, tuples as lists.
        """
        out: dict[str, Any] = {"outcome": self.outcome}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "outcome" and value != f.default:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def to_json(self) -> str:
        """:meth:`to_dict` as one line of JSON, as the ``workbench-spec`` line carries it.

        Returns
        -------
        str
        """
        return json.dumps(self.to_dict(), separators=(", ", ": "))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        """Rebuild a spec with the JSON adapter (:func:`engine.jsonable.from_dict`); unknown keys or invalid combinations raise ``ValueError``.

        Parameters
        ----------
        data
            A dict as :meth:`to_dict` writes it.

        Returns
        -------
        ModelSpec
            ``prior_scale`` a float even when the JSON held an integer.

        Raises
        ------
        ValueError
            For an unknown key, or a combination :func:`spec_issues` rejects.
        """
        spec = from_dict(cls, data, strict=True)
        return replace(spec, prior_scale=float(spec.prior_scale))

    def n_features(self) -> int:
        """How many switches are on: a rough measure of complexity, for ordering simplifications.

        Returns
        -------
        int
            0 for the baseline; the numbers (``n_basis``, ``prior_scale``, ``gp_m``) and
            ``shrink_centred`` do not count.
        """
        return sum(
            [
                self.continuous_terms != "linear",
                self.separate_arms,
                self.treat_linear,
                self.treat_quadratic,
                self.likelihood != "normal",
                self.log_mean,
                self.sigma_per_arm,
                self.sigma_linear,
                self.shrink_binary,
                self.shrink_controls,
                bool(self.gp_columns),
            ]
        )


def spec_issues(spec: ModelSpec) -> list[str]:
    """What makes a spec invalid (an empty list when it is fine).

    Parameters
    ----------
    spec
        The spec to check (:class:`ModelSpec` checks itself with this on construction).

    Returns
    -------
    list of str
        One sentence per problem.
    """
    issues = []
    if spec.outcome not in OUTCOMES:
        issues.append(f"outcome must be one of {OUTCOMES}")
    if spec.continuous_terms not in CONTINUOUS_TERMS:
        issues.append(f"continuous_terms must be one of {CONTINUOUS_TERMS}")
    if spec.likelihood not in LIKELIHOODS:
        issues.append(f"likelihood must be one of {LIKELIHOODS}")
    if spec.n_basis < MIN_BASIS:
        issues.append(f"n_basis must be at least {MIN_BASIS} for cubic splines")
    if not spec.prior_scale > 0:
        issues.append("prior_scale must be positive")
    if spec.shrink_controls and (spec.continuous_terms == "spline" or spec.shrink_binary):
        issues.append("shrink_controls applies to the one beta_x block: not with splines or binary shrinkage")
    if spec.spline_columns and spec.continuous_terms != "spline":
        issues.append("spline_columns only applies with continuous_terms = spline")
    if len(spec.gp_columns) > 2:
        issues.append("an HSGP term takes at most two inputs (its cost grows as m ** inputs)")
    if spec.gp_m < 3:
        issues.append("gp_m must be at least 3")
    if spec.separate_arms and (spec.treat_linear or spec.treat_quadratic):
        issues.append("separate arms already let the effect vary; treatment interactions must be off")
    if spec.outcome == "binary" and (spec.likelihood != "normal" or spec.sigma_per_arm or spec.sigma_linear):
        issues.append("a binary outcome has a Bernoulli likelihood: no noise scale or Student-t")
    if spec.shrink_centred and not spec.shrink_binary:
        issues.append("shrink_centred only applies with shrink_binary")
    if spec.outcome == "binary" and spec.log_mean:
        issues.append("a binary outcome already has a logit link; log_mean is for continuous outcomes")
    if spec.log_mean_arm and (
        spec.log_mean_arm not in ARMS
        or not (spec.log_mean and spec.separate_arms)
        or spec.gp_columns
        or spec.shrink_binary
        or spec.shrink_controls
    ):
        issues.append(
            f"log_mean_arm is one of {ARMS}, with log_mean and separate arms, and without an HSGP term or "
            "shrinkage (their one scale would span two link scales)"
        )
    if spec.outcome == "count" and (
        spec.likelihood != "normal" or spec.sigma_per_arm or spec.sigma_linear or spec.log_mean
    ):
        issues.append("a count outcome has a negative-binomial likelihood with a log link: no σ, Student-t or log_mean")
    return issues


def baseline_spec(outcome: str = "continuous") -> ModelSpec:
    """The spec of the shipped baseline: linear in every control, one constant effect.

    Parameters
    ----------
    outcome
        ``"continuous"``, ``"binary"`` or ``"count"``.

    Returns
    -------
    ModelSpec

    Raises
    ------
    ValueError
        For any other outcome.
    """
    return ModelSpec(outcome=outcome)


@dataclass(frozen=True)
class ModelPlan:
    """How the offline agent built a proposal: the spec it rendered, the base it changed, the variant of its move."""

    spec: ModelSpec
    base: ModelSpec
    variant: str = ""
    variant_kind: str = ""  # "tighter", "simpler", …: so a retry does not repeat the same kind
    retry_of: int | None = None  # the iteration this one retries with one change


def spec_with(spec: ModelSpec, **changes: Any) -> ModelSpec | None:
    """``replace`` that returns ``None`` instead of raising when the result is invalid.

    Parameters
    ----------
    spec
        The spec to change.
    **changes
        Field names and their new values.

    Returns
    -------
    ModelSpec or None
        None when :func:`spec_issues` rejects the changed spec.

    Raises
    ------
    TypeError
        For a name that is not a field of :class:`ModelSpec`.
    """
    try:
        return replace(spec, **changes)
    except ValueError:
        return None
