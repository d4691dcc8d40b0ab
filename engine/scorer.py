"""The scorer: judge a sampled model from its arrays, in a process that never ran its code.

:func:`score_draws` reads the model child's :data:`~engine.draws.DRAWS_FILE` with NumPy's
own format reader (no pickle), checks every array against what the *settings and data*
say it must be (chains, draws, observations, finite values, bounded names), then computes
the convergence table, the divergence count, PSIS-LOO, the effect summary, the gates and
the keep rule — the code a hostile model would want to patch, run where it cannot.
:func:`write_trace` turns the same validated arrays into the trace (NetCDF, with its
``log_likelihood`` group) after the verdict is out, in a child of its own: nothing outside
the sandbox parses a file the model child wrote.

What it cannot do is tell a forged array from a sampled one. A model that patched what its
own process runs after ``build_model`` (``pm.logp``, ``np.savez``, the harness) is refused
there by :mod:`engine.sandbox.integrity`; one that writes its interpreter's memory through
ctypes could still forge its draws, and the guard stands in front of that.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.draws import DIMS_FILE, DRAWS_FILE, TRACE_FILE, DrawsShape, HarnessResult
from engine.errors import WorkbenchError
from engine.problem import Estimand, Gates
from engine.records import Metrics, Verdict, VerdictKind
from engine.scoring import BestSummary

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:\-]{0,63}$")
_MAX_PARAMETER_VALUES = 5_000_000
"""Free-parameter values per draw and chain the scorer accepts (far beyond any model here)."""
_MAX_LABELS = 100_000


class MalformedDraws(WorkbenchError):
    """The model child's arrays are not what the settings and data say they must be."""


def score_draws(
    path: str | Path,
    *,
    contract_estimand: Estimand | str,
    gates: Gates,
    best: BestSummary | None,
    expected: DrawsShape,
) -> HarnessResult:
    """Validate the model child's arrays and judge them; never raises for what the child wrote.

    Parameters
    ----------
    path
        The ``draws.npz`` the model child wrote (a copy in this job's own folder).
    contract_estimand
        ATE, ATT or ATO, from the problem's contract.
    gates
        Convergence thresholds and the ELPD band.
    best
        The current best model, or None.
    expected
        Chains, draws and observations, from the sampling settings and the data.

    Returns
    -------
    HarnessResult
        The verdict with the scorer's timings; ``crashed`` when the arrays are malformed.
    """
    from engine import effects, scoring

    started = time.perf_counter()
    timings: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        draws = read_draws(Path(path), expected)
        timings["read"] = time.perf_counter() - t0
        idata = draws.to_inference_data()
        names = list(draws.parameters)
        t0 = time.perf_counter()
        loo_result = scoring.loo(idata, var_names=names)
        timings["loo"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        effect = effects.summarize_draws(draws.estimand, contract_estimand)
        timings["effect"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        table = scoring.convergence_table(idata, var_names=names)
        n_divergent, n_draws = int(draws.diverging.sum()), int(draws.diverging.size)
        gate_results = scoring.gate_results(table, n_divergent, n_draws, gates)
        verdict = scoring.decide(
            gate_results,
            loo_result,
            effect,
            best,
            elpd_se_multiple=gates.elpd_se_multiple,
            metrics=Metrics(divergences=n_divergent, n_draws=n_draws),
            tie_break=gates.tie_break,
        )
        timings["gates"] = time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - a bad array or a failed statistic is a crashed verdict
        timings["total"] = time.perf_counter() - started
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())[:400]}"
        return HarnessResult(
            verdict=Verdict(VerdictKind.CRASHED, reason), timings=timings, error_type=type(exc).__name__
        )
    timings["total"] = time.perf_counter() - started
    return HarnessResult(
        verdict=verdict,
        timings=timings,
        convergence_table=table,
        pointwise_elpd=loo_result.pointwise,
        effect_draws=draws.estimand,
        pareto_k=loo_result.pareto_k,
    )


def write_trace(path: str | Path, *, expected: DrawsShape, workdir: str | Path) -> Path:
    """Write the trace (NetCDF) from the model child's arrays, validated as :func:`score_draws` does.

    It runs after the verdict, in a sandbox child of its own: for LaLonde's 16,177 units the
    file is half a gigabyte and a second of writing that nobody waits for.

    Parameters
    ----------
    path
        The ``draws.npz`` the model child wrote (a copy in this job's own folder).
    expected
        Chains, draws and observations, from the settings and the data.
    workdir
        Where ``trace.nc`` is written.

    Returns
    -------
    Path
        The trace's path.

    Raises
    ------
    MalformedDraws
        When the arrays are not what the settings and data say they must be.
    """
    idata = read_draws(Path(path), expected).to_inference_data()
    trace_path = Path(workdir) / TRACE_FILE
    trace_path.parent.mkdir(parents=True, exist_ok=True)
    idata.to_netcdf(str(trace_path), compress=False)  # zlib saves ~6 % and costs ~2 s for IHDP
    return trace_path


def warm_sandbox() -> None:
    """Score a tiny set of draws in the warm server, so every forked scorer skips first-use costs.

    ArviZ compiles its ESS variance with Numba on the first call (0.28 s), and xarray loads
    its NetCDF backend on the first write (0.12 s): paid once here, not on every verdict.
    """
    import tempfile

    rng = np.random.default_rng(0)
    shape = DrawsShape(chains=2, draws=20, n_obs=6)
    draws = (shape.chains, shape.draws)
    with tempfile.TemporaryDirectory(prefix="warm-scorer-") as folder:
        path = Path(folder) / DRAWS_FILE
        arrays = {
            "param/beta": rng.normal(size=(*draws, 2)),
            "loglik": rng.normal(-1.0, 0.1, size=(*draws, shape.n_obs)),
            "estimand": rng.normal(size=draws),
            "diverging": np.zeros(draws, dtype=bool),
        }
        np.savez(path, **arrays)  # type: ignore[arg-type]  # as in harness.write_draws
        score_draws(path, contract_estimand="ATE", gates=Gates(), best=None, expected=shape)
        write_trace(path, expected=shape, workdir=folder)


@dataclass(frozen=True)
class Draws:
    """The model child's arrays, once validated."""

    parameters: dict[str, np.ndarray]
    loglik: np.ndarray  # (chain, draw, observation)
    estimand: np.ndarray  # (chain, draw)
    diverging: np.ndarray  # (chain, draw), booleans
    observed: str
    dims: dict[str, list[str]]
    coords: dict[str, list[str]]

    def to_inference_data(self) -> Any:
        """The arrays as an ArviZ trace: posterior (the free parameters, named as free in its
        attributes), ``log_likelihood`` under the observed variable's name, and divergences.

        Returns
        -------
        arviz.InferenceData
        """
        import arviz as az

        from engine.sampling import FREE_VARS_ATTR

        idata = az.from_dict(
            posterior=dict(self.parameters),
            log_likelihood={self.observed: self.loglik},
            sample_stats={"diverging": self.diverging},
            dims={**self.dims, self.observed: ["obs"]},
            coords=self.coords,
        )
        idata.posterior.attrs[FREE_VARS_ATTR] = ",".join(self.parameters)
        return idata


def read_draws(path: Path, expected: DrawsShape) -> Draws:
    """Load and check the arrays; :class:`MalformedDraws` says what is wrong.

    Parameters
    ----------
    path
        The model child's ``draws.npz``; ``dims.json`` beside it supplies labels when every
        one is well formed (plain indices otherwise).
    expected
        Chains, draws and observations, from the settings and the data (never from the child).

    Returns
    -------
    Draws

    Raises
    ------
    MalformedDraws
        A missing or extra array, a wrong shape or type, a non-finite value, or a name or
        label that is not a short identifier.
    """
    chains, n_draws, n_obs = expected.chains, expected.draws, expected.n_obs
    with np.load(path, allow_pickle=False) as archive:
        keys = list(archive.keys())
        required = {"loglik", "estimand", "diverging"}
        missing = required - set(keys)
        if missing:
            raise MalformedDraws(f"the draws have no {', '.join(sorted(missing))}")
        unexpected = [k for k in keys if k not in required and not k.startswith("param/")]
        if unexpected:
            raise MalformedDraws(f"unexpected arrays in the draws: {', '.join(unexpected[:5])}")
        loglik = _numeric(archive["loglik"], "loglik", (chains, n_draws, n_obs))
        estimand = _numeric(archive["estimand"], "estimand", (chains, n_draws))
        diverging = archive["diverging"]
        if diverging.dtype != np.bool_ or diverging.shape != (chains, n_draws):
            raise MalformedDraws(
                f"diverging must be booleans shaped {(chains, n_draws)}, not {diverging.dtype} {diverging.shape}"
            )
        parameters: dict[str, np.ndarray] = {}
        total = 0
        for key in keys:
            if not key.startswith("param/"):
                continue
            name = key.removeprefix("param/")
            _check_name(name, "parameter")
            values = archive[key]
            if values.ndim < 2 or values.shape[:2] != (chains, n_draws):
                raise MalformedDraws(f"parameter {name} is shaped {values.shape}, not ({chains}, {n_draws}, …)")
            total += int(np.prod(values.shape[2:], dtype=np.int64))
            if total > _MAX_PARAMETER_VALUES:
                raise MalformedDraws("the draws hold more parameter values than any model the harness runs")
            parameters[name] = _numeric(values, f"parameter {name}", values.shape)
    if not parameters:
        raise MalformedDraws("the draws hold no free parameters")
    observed, dims, coords = _read_labels(path.with_name(DIMS_FILE), parameters)
    return Draws(parameters, loglik, estimand, diverging, observed, dims, coords)


def _numeric(values: np.ndarray, what: str, shape: tuple[int, ...]) -> np.ndarray:
    if values.shape != tuple(shape):
        raise MalformedDraws(f"{what} is shaped {values.shape}, not {tuple(shape)}")
    if values.dtype.kind not in "fiu":
        raise MalformedDraws(f"{what} holds {values.dtype}, not numbers")
    values = values.astype(float, copy=False)
    if not np.all(np.isfinite(values)):
        raise MalformedDraws(f"{what} has values that are not finite")
    return values


def _check_name(name: str, what: str) -> None:
    if not _NAME.match(name):
        raise MalformedDraws(f"a {what} name must be a short identifier, not {name[:40]!r}")


def _read_labels(
    path: Path, parameters: dict[str, np.ndarray]
) -> tuple[str, dict[str, list[str]], dict[str, list[str]]]:
    """Dimension and coordinate labels: used only if every one is well formed, else plain indices."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8")) if path.stat().st_size < 4_000_000 else {}
    except (OSError, ValueError):
        raw = {}
    observed = raw.get("observed") if isinstance(raw, dict) else None
    if not (isinstance(observed, str) and _NAME.match(observed)):
        observed = "y"
    try:
        dims = {name: [str(d) for d in raw["dims"].get(name, [])] for name in parameters}
        dims = {name: names for name, names in dims.items() if names}
        coords = {str(k): [str(c)[:64] for c in v] for k, v in raw["coords"].items()}
        for name, names in dims.items():
            for dim, size in zip(names, parameters[name].shape[2:], strict=True):  # ValueError: fall back
                _check_name(dim, "dimension")
                if dim in coords and len(coords[dim]) != size:
                    raise MalformedDraws("labels do not match the arrays")
        if sum(len(v) for v in coords.values()) > _MAX_LABELS or any(k in ("chain", "draw", "obs") for k in coords):
            raise MalformedDraws("too many labels")
        used = {d for names in dims.values() for d in names}
        coords = {k: v for k, v in coords.items() if k in used}
    except (KeyError, TypeError, ValueError, AttributeError, MalformedDraws):
        return observed, {}, {}
    return observed, dims, coords
