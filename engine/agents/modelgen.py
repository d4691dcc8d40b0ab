"""The code generator that turns a model spec into a readable ``model.py``, and reads it back.

The offline agent never edits code as text: it edits a small
:class:`~engine.modelspec.ModelSpec` and renders it with :func:`render_model`
into PyMC code in the style of the shipped baselines (``pm.Data("t", ...)``,
``pm.Deterministic("mu", ...)``, observed ``y``, imports of numpy and pymc only). The
rendered file carries its spec as one machine-readable docstring line
(``workbench-spec: {...}``), so the agent can read back the spec of the current best model; :func:`spec_from_source` refuses a spec line whose
code was edited by hand since, because the line would then lie.

The baseline spec renders, without its spec line, to exactly ``problems/ihdp/model.py``,
so the first diffs an agent proposes are small.

This module is plain string work: it imports neither PyMC nor NumPy.
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
from dataclasses import dataclass, fields, replace
from typing import Any

from engine.modelspec import ARMS, ModelSpec, baseline_spec

SPEC_PREFIX = "workbench-spec:"
_SPEC_LINE = re.compile(r"^\s*workbench-spec:\s*(\{.*\})\s*$", re.MULTILINE)

LINE_LIMIT = 120  # the longest line the generator writes before it breaks an expression
LOG_COEF_SCALE = 0.5  # prior scale of a log-ratio coefficient per SD of a control: e^±1 at 2 SD
LOG_INTERCEPT = ("np.log(y_loc)", "1")  # the intercept's prior (location, scale) under mu = exp(…)
LINEAR_INTERCEPT = ("y_loc", "2 * y_scale")  # … and on the outcome's own scale


# --------------------------------------------------------------------------- reading back


def spec_from_source(source: str, *, verify: bool = True) -> ModelSpec | None:
    """The spec a generated ``model.py`` declares, or ``None``.

    Parameters
    ----------
    source
        The text of a ``model.py``.
    verify
        Also check that the code is what the spec renders to (docstring aside), so a
        file edited by hand after generation is not mistaken for its old spec.

    Returns
    -------
    ModelSpec or None
        ``None`` when there is no spec line, it does not parse, or the code disagrees.
    """
    match = _SPEC_LINE.search(source)
    if not match:
        return None
    try:
        spec = ModelSpec.from_dict(json.loads(match.group(1)))
    except (ValueError, TypeError):
        return None
    if verify and normalise_source(render_model(spec)) != normalise_source(source):
        return None
    return spec


_NEIGHBOUR_VALUES: dict[str, tuple[Any, ...]] = {
    "continuous_terms": ("linear", "quadratic", "spline"),
    "n_basis": tuple(range(3, 13)),
    "likelihood": ("normal", "student_t"),
    "log_mean_arm": ("", *ARMS),
    "prior_scale": (0.1, 0.125, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75, 0.8, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0),
    "gp_m": tuple(range(4, 17)),
}


def infer_spec(source: str) -> ModelSpec | None:
    """The spec of a generated file that the principal then edited by hand, if the edit is one a spec can say.

    The file's ``workbench-spec`` line names the spec it was generated from; every spec that
    differs from it in one switch (a boolean flipped, another term type, another number of
    basis functions or prior scale) is rendered and compared with the code, docstrings and
    layout aside. ``None`` when no such spec renders to this code.

    Parameters
    ----------
    source
        The text of a ``model.py``.

    Returns
    -------
    ModelSpec or None
        The declared spec when the code still matches it, else the one-switch neighbour that
        does; None also when the file has no readable spec line.

    Examples
    --------
    >>> edited = render_model(ModelSpec(continuous_terms="spline")).replace("n_basis = 6", "n_basis = 4")
    >>> infer_spec(edited).n_basis
    4
    """
    declared = spec_from_source(source, verify=False)
    if declared is None:
        return None
    target = normalise_source(source)
    if normalise_source(render_model(declared)) == target:
        return declared
    for f in fields(ModelSpec):
        current = getattr(declared, f.name)
        if isinstance(current, bool):
            options: tuple[Any, ...] = (not current,)
        else:
            options = _NEIGHBOUR_VALUES.get(f.name, ())
        for value in options:
            if value == current:
                continue
            try:
                candidate = replace(declared, **{f.name: value})
            except (ValueError, TypeError):
                continue
            if normalise_source(render_model(candidate)) == target:
                return candidate
    return None


def normalise_source(source: str) -> str:
    """A form of Python source that ignores docstrings, comments and layout.

    Two proposals with the same normalised source are the same model, however they
    are formatted; unparsable text falls back to whitespace-collapsed text.

    Parameters
    ----------
    source
        Python source, parsable or not.

    Returns
    -------
    str
        A dump of the syntax tree with the docstrings of the module, classes and functions
        left out, or the text with its whitespace collapsed.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return " ".join(source.split())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


# --------------------------------------------------------------------------- rendering

_BASELINE_SUMMARY = {
    "continuous": "Baseline: linear regression on every allowed control, one constant treatment effect.",
    "binary": "Baseline: logistic regression on every allowed control, one constant log-odds effect.",
    "count": "Baseline: negative-binomial regression on every allowed control, one constant log-rate effect.",
}
_HARNESS_NOTE = (
    "The harness computes the effect by intervention on ``t``; this file only describes\n"
    "how the expected outcome ``mu`` depends on treatment and controls."
)


def render_model(spec: ModelSpec, *, embed_spec: bool = True) -> str:
    """Render a spec as a complete ``model.py``.

    Parameters
    ----------
    spec
        What the model assumes.
    embed_spec
        Write the ``workbench-spec:`` line into the docstring (the agent needs it to
        read the spec back; ``False`` reproduces the shipped baseline byte for byte).

    Returns
    -------
    str
        Python source defining ``build_model(data) -> pm.Model``.

    Examples
    --------
    >>> src = render_model(ModelSpec(continuous_terms="quadratic"))
    >>> "X_sq" in src and 'pm.Data("t", data.t, dims="obs")' in src
    True
    """
    return _Renderer(spec).render(embed_spec)


def describe_spec(spec: ModelSpec) -> tuple[str, list[str]]:
    """A one-line summary and the list of assumptions, as the docstring states them.

    Parameters
    ----------
    spec
        The spec to describe.

    Returns
    -------
    tuple of (str, list of str)
        The summary sentence and one phrase per assumption; the baseline gets the shipped
        baseline's summary and an empty list.
    """
    if spec == baseline_spec(spec.outcome):
        return _BASELINE_SUMMARY[spec.outcome], []
    cont = {
        "linear": "linear terms",
        "quadratic": "linear and squared terms",
        "spline": "additive cubic splines",
    }[spec.continuous_terms]
    if spec.spline_columns:
        cont = (
            f"additive cubic splines on the {len(spec.spline_columns)} strongest continuous controls, the rest linear"
        )
    if spec.separate_arms:
        head = "Separate arms (own mean and own σ)" if spec.sigma_per_arm else "Separate arms"
    else:
        head = (
            "Logistic regression"
            if spec.binary
            else ("Negative-binomial regression" if spec.count else "One regression")
        )
    extras = []
    if spec.treat_linear or spec.treat_quadratic:
        extras.append("treatment interactions with the continuous controls")
    if spec.log_mean:
        where = f" in the {spec.log_mean_arm} arm" if spec.log_mean_arm else ""
        extras.append(f"a multiplicative (log-linear) mean{where}")
    if spec.gp_columns:
        extras.append("an HSGP term")
    if spec.shrink_binary:
        extras.append("shrunken binary coefficients")
    if spec.shrink_controls:
        extras.append("one learnt scale for every control's coefficient")
    if spec.likelihood == "student_t":
        extras.append("a Student-t likelihood")
    if spec.sigma_linear or (spec.sigma_per_arm and not spec.separate_arms):
        extras.append("heteroscedastic noise")
    summary = f"{head} with {cont} of the continuous controls" + "".join(f", {e}" for e in extras) + "."

    items = []
    if spec.separate_arms:
        items.append(
            "each arm (control, treated) has its own intercept and coefficients, so the effect may vary with "
            "every control"
        )
    elif spec.treat_linear or spec.treat_quadratic:
        shape = (
            "linearly and quadratically"
            if spec.treat_linear and spec.treat_quadratic
            else ("linearly" if spec.treat_linear else "through their squares")
        )
        items.append(f"the treatment effect varies {shape} with the continuous controls")
    else:
        shifted = "the log-odds" if spec.binary else ("the log expected count" if spec.count else "the outcome")
        items.append(f"the treatment shifts {shifted} by one constant")
    items.append(
        {
            "linear": "continuous controls act linearly",
            "quadratic": "continuous controls act through linear and centred squared terms",
            "spline": f"continuous controls act through additive cubic B-splines ({spec.n_basis} basis functions each)",
        }[spec.continuous_terms]
        if not spec.spline_columns
        else f"{', '.join(spec.spline_columns)} act through additive cubic B-splines ({spec.n_basis} basis functions "
        "each); the other continuous controls act linearly"
    )
    items.append(
        f"binary-control coefficients{' of both arms' if spec.separate_arms else ''} share one scale learnt from "
        f"the data ({'centred' if spec.shrink_centred else 'non-centred'} shrinkage)"
        if spec.shrink_binary
        else "binary controls act linearly"
    )
    if spec.shrink_controls:
        items.append("every control's coefficient shares one scale learnt from the data (centred shrinkage)")
    if spec.gp_columns:
        items.append(
            f"a smooth joint function of {' and '.join(spec.gp_columns)} (HSGP, m = {spec.gp_m} per input), "
            "shared by both arms"
        )
    if spec.log_mean and spec.log_mean_arm:
        other = ARMS[1 - ARMS.index(spec.log_mean_arm)]
        items.append(
            f"the {spec.log_mean_arm} arm's mean is exp(linear predictor): there the controls act multiplicatively "
            f"and its coefficients are log-ratios; in the {other} arm they act additively"
        )
    elif spec.log_mean:
        items.append(
            "the mean is exp(linear predictor): the controls act multiplicatively, coefficients are log-ratios"
        )
    if spec.binary:
        items.append("the outcome is Bernoulli with a logit link; mu is the probability")
    elif spec.count:
        items.append("the outcome is negative binomial with a log link; mu is the expected count, φ its dispersion")
    else:
        noise = "Student-t noise (heavy tails, ν learnt)" if spec.likelihood == "student_t" else "normal noise"
        if spec.sigma_linear:
            noise += " whose log scale is linear in the continuous controls" + (
                ", with its own level per arm" if spec.sigma_per_arm else ""
            )
        elif spec.sigma_per_arm:
            noise += " with its own scale in each arm"
        else:
            noise += " with one scale"
        items.append(noise)
    if spec.prior_scale != 1.0:
        items.append(f"coefficient priors are tightened by a factor {spec.prior_scale:g}")
    return summary, items


@dataclass(frozen=True)
class _Coef:
    """One block of regression coefficients: its name, coordinate, design matrix and prior scale."""

    name: str
    dim: str
    matrix: str
    scale: float  # multiple of y_scale, before prior_scale
    times_t: bool = False


class _Renderer:
    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.split = spec.continuous_terms == "spline" or spec.shrink_binary
        self.arms = spec.separate_arms
        self.needs_sq = spec.continuous_terms == "quadratic" or (spec.treat_quadratic and not self.arms)
        self.log_arm = ARMS.index(spec.log_mean_arm) if spec.log_mean_arm else None  # one arm's mean is exp(…)

    # ---- pieces

    def _scale(self, base: float) -> str:
        """A coefficient prior's scale: a multiple of sd(y), or of 1 on the log-odds scale."""
        value = base * self.spec.prior_scale
        if self.log_arm is not None:
            return "arm_scale[:, None]" if value == 1 else f"{value:g} * arm_scale[:, None]"
        if self.spec.log_link:
            return f"{LOG_COEF_SCALE * value:g}"
        if self.spec.binary:
            return f"{value:g}"
        return "y_scale" if value == 1 else f"{value:g} * y_scale"

    def _by_arm(self, on_log: str, on_linear: str) -> list[str]:
        """The two arms' values in ``ARMS`` order, when one arm's mean is exp(…) and the other's linear."""
        assert self.log_arm is not None
        pair = [on_linear, on_linear]
        pair[self.log_arm] = on_log
        return pair

    def _dims(self, dim: str) -> str:
        return f'dims=("arm", "{dim}")' if self.arms else f'dims="{dim}"'

    def _coefs(self) -> list[_Coef]:
        s = self.spec
        blocks = []
        if not self.split:
            blocks.append(_Coef("beta_x", "control", "X", 1.0))
        elif s.continuous_terms != "spline":
            blocks.append(_Coef("beta_cont", "continuous", "X_cont", 1.0))
        if s.continuous_terms == "quadratic":
            blocks.append(_Coef("beta_sq", "continuous", "X_sq", 0.5))
        if s.continuous_terms == "spline":
            blocks.append(_Coef("beta_spline", "spline", "B", 0.5))
            if s.spline_columns:
                blocks.append(_Coef("beta_lin", "linear", "X_lin", 1.0))
        if self.split:
            blocks.append(_Coef("beta_bin", "binary", "X_bin", 1.0))
        if not self.arms and s.treat_linear:
            blocks.append(_Coef("beta_tx", "continuous", "X_cont", 0.5, times_t=True))
        if not self.arms and s.treat_quadratic:
            blocks.append(_Coef("beta_tsq", "continuous", "X_sq", 0.25, times_t=True))
        return blocks

    def _uses_continuous_matrix(self) -> bool:
        return any(c.matrix == "X_cont" for c in self._coefs()) or self.needs_sq or self.spec.sigma_linear

    # ---- sections

    def _docstring(self, embed_spec: bool) -> list[str]:
        summary, items = describe_spec(self.spec)
        lines = textwrap.wrap(summary, 92)
        lines[0] = '"""' + lines[0]
        if items:
            lines += ["", "Assumes:"]
            for item in items:
                lines += textwrap.wrap(item + ";", 92, initial_indent="- ", subsequent_indent="  ")
            lines[-1] = lines[-1][:-1] + "."
        lines += [""] + _HARNESS_NOTE.splitlines()
        if embed_spec:
            lines += ["", f"{SPEC_PREFIX} {self.spec.to_json()}"]
        lines.append('"""')
        return lines

    def _prepare(self) -> list[str]:
        s = self.spec
        out = []
        if not self.split:
            out.append("X = data.X.to_numpy()")
            if s.shrink_controls:
                out.append("# Centred, so the intercept is the average outcome and not tied to every binary control.")
                out.append("X = X - X.mean(axis=0)")
        if self._uses_continuous_matrix():
            out.append("X_cont = data.X_continuous")
        if self.split:
            out.append("X_bin = data.X_binary")
        if self.needs_sq:
            out.append("# Squared continuous controls, centred so the intercept stays the average outcome.")
            out.append("X_sq = X_cont**2 - (X_cont**2).mean(axis=0)")
        if s.continuous_terms == "spline":
            out.append("# Additive cubic B-splines: n_basis - 1 centred columns per continuous control.")
            out.append(f"n_basis = {s.n_basis}")
            if s.spline_columns:
                names = ", ".join(json.dumps(c) for c in s.spline_columns)
                out.append("# Splines on the strongest continuous controls only; the others enter linearly.")
                out.append(f"spline_names = [{names}]")
                out.append("linear_names = [name for name in data.continuous if name not in spline_names]")
                out.append("X_lin = data.X[linear_names].to_numpy()")
                out.append("B = np.hstack([data.spline_basis(name, n_basis) for name in spline_names])")
            else:
                out.append("B = np.hstack([data.spline_basis(name, n_basis) for name in data.continuous])")
        if s.gp_columns:
            cols = ", ".join(json.dumps(c) for c in s.gp_columns)
            out.append("# Inputs of the Gaussian-process term: few, because HSGP cost grows as m ** inputs.")
            out.append(f"X_gp = data.X[[{cols}]].to_numpy()")
        if s.binary:
            out.append("rate = data.y.mean()")
        elif s.count:
            out.append("y_loc = data.y.mean()")
        else:
            out.append("y_loc, y_scale = data.y.mean(), data.y.std()")
        if self.log_arm is not None:
            loc, sd = (self._by_arm(log, linear) for log, linear in zip(LOG_INTERCEPT, LINEAR_INTERCEPT))
            out.append(
                f"# The {ARMS[self.log_arm]} arm's mean is exp(linear predictor): its priors are on the log scale."
            )
            out.append(f"alpha_loc, alpha_scale = np.array([{', '.join(loc)}]), np.array([{', '.join(sd)}])")
            out.append(f"arm_scale = np.array([{', '.join(self._by_arm(f'{LOG_COEF_SCALE:g}', 'y_scale'))}])")
        coords = ['"obs": np.arange(data.n)']
        if not self.split:
            coords.append('"control": list(data.X.columns)')
        if self._uses_continuous_matrix() or (self.split and s.continuous_terms != "spline"):
            coords.append('"continuous": list(data.continuous)')
        if self.split:
            coords.append('"binary": list(data.binary)')
        if s.continuous_terms == "spline":
            splined = "spline_names" if s.spline_columns else "data.continuous"
            coords.append(f'"spline": [f"{{name}}:{{k}}" for name in {splined} for k in range(1, n_basis)]')
            if s.spline_columns:
                coords.append('"linear": linear_names')
        if self.arms or s.sigma_per_arm:
            coords.append('"arm": ["control", "treated"]')
        out += _dict_literal("coords", coords, indent=4)
        return out

    def _model(self) -> list[str]:
        s = self.spec
        out = ['t = pm.Data("t", data.t, dims="obs")']
        # Log-odds priors for a binary outcome: the intercept centred on the logit of the rate.
        if s.binary:
            loc, scale, effect = "np.log(rate / (1 - rate))", "1.5", "1"
        elif self.log_arm is not None:
            loc, scale, effect = "alpha_loc", "alpha_scale", ""
        elif s.log_link:
            (loc, scale), effect = LOG_INTERCEPT, "0.5"
        else:
            (loc, scale), effect = LINEAR_INTERCEPT, "y_scale"
        if self.arms:
            out.append(f'alpha = pm.Normal("alpha", {loc}, {scale}, dims="arm")')
        else:
            out.append(f'alpha = pm.Normal("alpha", {loc}, {scale})')
            out.append(f'beta_t = pm.Normal("beta_t", 0, {effect})')
        terms = ["alpha"] if self.arms else ["alpha", "beta_t * t"]
        for c in self._coefs():
            if c.name == "beta_bin" and s.shrink_binary:
                out += self._shrinkage()
            elif c.name == "beta_x" and s.shrink_controls:
                out += [
                    "# Every control's coefficient shares one scale learnt from the data: correlated controls",
                    "# otherwise leave weakly identified directions (centred: thousands of units pin them down).",
                    f'tau_x = pm.HalfNormal("tau_x", {self._scale(0.5)})',
                    f'beta_x = pm.Normal("beta_x", 0, tau_x, {self._dims(c.dim)})',
                ]
            else:
                out.append(f'{c.name} = pm.Normal("{c.name}", 0, {self._scale(c.scale)}, {self._dims(c.dim)})')
            term = f"pm.math.dot({c.matrix}, {c.name}.T)" if self.arms else f"pm.math.dot({c.matrix}, {c.name})"
            terms.append(f"t * {term}" if c.times_t else term)
        if s.gp_columns:
            out += self._gp()
            terms.append("f_gp[:, None]" if self.arms else "f_gp")
        out += self._mean(terms)
        if s.count:
            out.append('phi = pm.Gamma("phi", alpha=2, beta=0.1)  # dispersion: large phi is nearly Poisson')
        elif not s.binary:
            out += self._noise()
        out += self._likelihood()
        return out

    def _shrinkage(self) -> list[str]:
        # One scale for all binary coefficients (both arms, when separate): the control arm's
        # many units inform it, so the treated arm's coefficients do not sit in a funnel.
        scale = self._scale(0.5)
        dims = '("arm", "binary")' if self.arms else '"binary"'
        if self.spec.shrink_centred:
            return [
                "# Binary controls share one scale learnt from the data; centred, as the data pin them down.",
                f'tau_bin = pm.HalfNormal("tau_bin", {scale})',
                f'beta_bin = pm.Normal("beta_bin", 0, tau_bin, dims={dims})',
            ]
        return [
            "# Binary controls share one scale learnt from the data; non-centred, so NUTS samples it well.",
            f'tau_bin = pm.HalfNormal("tau_bin", {scale})',
            f'z_bin = pm.Normal("z_bin", 0, 1, dims={dims})',
            f'beta_bin = pm.Deterministic("beta_bin", tau_bin * z_bin, dims={dims})',
        ]

    def _gp(self) -> list[str]:
        s = self.spec
        k = len(s.gp_columns)
        m = ", ".join([str(s.gp_m)] * k)
        return [
            "# A smooth function of the GP inputs (Hilbert-space approximation: cheap, fixed basis).",
            'ell_gp = pm.InverseGamma("ell_gp", alpha=3, beta=3)',
            f'eta_gp = pm.HalfNormal("eta_gp", {self._scale(0.5)})',
            f"cov_gp = eta_gp**2 * pm.gp.cov.Matern52({k}, ls=ell_gp)",
            f'f_gp = pm.gp.HSGP(m=[{m}], c=1.5, cov_func=cov_gp).prior("f_gp", X=X_gp, dims="obs")',
        ]

    def _mean(self, terms: list[str]) -> list[str]:
        s = self.spec
        link = "pm.math.invlogit" if s.binary else ("pm.math.exp" if s.log_link else None)
        if self.log_arm is not None:
            arm = self._by_arm(f"pm.math.exp(eta_arm[:, {self.log_arm}])", f"eta_arm[:, {1 - self.log_arm}]")
            return [
                "# Column 0 is the control arm's linear predictor, column 1 the treated arm's; the "
                + f"{ARMS[self.log_arm]}",
                "# arm's mean is its exponential, the other's is linear. t picks each unit's own.",
                *_assignment("eta_arm", terms, indent=8),
                f'mu = pm.Deterministic("mu", (1 - t) * {arm[0]} + t * {arm[1]}, dims="obs")',
            ]
        if self.arms:
            name = "eta_arm" if link else "mu_arm"
            pick = f"(1 - t) * {name}[:, 0] + t * {name}[:, 1]"
            lines = [
                "# Column 0 is the control arm's mean, column 1 the treated arm's; t picks each unit's own.",
                *_assignment(name, terms, indent=8),
            ]
            if link:
                return [*lines, f"eta = {pick}", f'mu = pm.Deterministic("mu", {link}(eta), dims="obs")']
            return [*lines, f'mu = pm.Deterministic("mu", {pick}, dims="obs")']
        if link:
            one_line = f'mu = pm.Deterministic("mu", {link}({" + ".join(terms)}), dims="obs")'
            if 8 + len(one_line) <= LINE_LIMIT:
                return [one_line]
            return [*_assignment("eta", terms, indent=8), f'mu = pm.Deterministic("mu", {link}(eta), dims="obs")']
        return _deterministic_mu(terms, indent=8)

    def _noise(self) -> list[str]:
        s = self.spec
        if s.sigma_linear:
            dims = ', dims="arm"' if s.sigma_per_arm else ""
            level = "(1 - t) * log_sigma[0] + t * log_sigma[1]" if s.sigma_per_arm else "log_sigma"
            return [
                "# Heteroscedastic noise: log sigma is linear in the continuous controls.",
                f'log_sigma = pm.Normal("log_sigma", np.log(y_scale), 1{dims})',
                'gamma_sigma = pm.Normal("gamma_sigma", 0, 0.5, dims="continuous")',
                f"sigma = pm.math.exp({level} + pm.math.dot(X_cont, gamma_sigma))",
            ]
        if s.sigma_per_arm:
            return [
                'sigma_arm = pm.HalfNormal("sigma_arm", y_scale, dims="arm")',
                "sigma = (1 - t) * sigma_arm[0] + t * sigma_arm[1]",
            ]
        return ['sigma = pm.HalfNormal("sigma", y_scale)']

    def _likelihood(self) -> list[str]:
        s = self.spec
        if s.binary:
            return ['pm.Bernoulli("y", p=mu, observed=data.y, dims="obs")']
        if s.count:
            return ['pm.NegativeBinomial("y", mu=mu, alpha=phi, observed=data.y, dims="obs")']
        if s.likelihood == "student_t":
            return [
                'nu = pm.Gamma("nu", alpha=2, beta=0.1)',
                'pm.StudentT("y", nu=nu, mu=mu, sigma=sigma, observed=data.y, dims="obs")',
            ]
        return ['pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")']

    def render(self, embed_spec: bool) -> str:
        lines = self._docstring(embed_spec)
        lines += ["", "import numpy as np", "import pymc as pm", "", "", "def build_model(data):"]
        lines += [line if line.startswith(" ") else f"    {line}" for line in self._prepare()]
        lines.append("    with pm.Model(coords=coords) as model:")
        lines += [line if line.startswith(" ") else f"        {line}" for line in self._model()]
        lines.append("    return model")
        return "\n".join(line.rstrip() for line in lines) + "\n"


# --------------------------------------------------------------------------- layout helpers
# Each helper returns lines relative to the block's indentation except continuation lines,
# which carry their full indentation (they start with a space, so render() leaves them be).


def _dict_literal(name: str, entries: list[str], indent: int) -> list[str]:
    one_line = f"{name} = {{{', '.join(entries)}}}"
    if indent + len(one_line) <= LINE_LIMIT:
        return [one_line]
    pad = " " * (indent + 4)
    return [f"{name} = {{", *[f"{pad}{e}," for e in entries], " " * indent + "}"]


def _assignment(name: str, terms: list[str], indent: int) -> list[str]:
    one_line = f"{name} = {' + '.join(terms)}"
    if indent + len(one_line) <= LINE_LIMIT:
        return [one_line]
    pad = " " * (indent + 4)
    body = [f"{pad}{terms[0]}", *[f"{pad}+ {term}" for term in terms[1:]]]
    return [f"{name} = (", *body, " " * indent + ")"]


def _deterministic_mu(terms: list[str], indent: int) -> list[str]:
    one_line = f'mu = pm.Deterministic("mu", {" + ".join(terms)}, dims="obs")'
    if indent + len(one_line) <= LINE_LIMIT:
        return [one_line]
    pad = " " * (indent + 4)
    body = [f"{pad}{terms[0]}", *[f"{pad}+ {term}" for term in terms[1:]]]
    body[-1] += ","
    return ["mu = pm.Deterministic(", f'{pad}"mu",', *body, f'{pad}dims="obs",', " " * indent + ")"]
