"""Proposal → verdict seconds for the fixed harness, against the stock PyMC path.

For the IHDP baseline and a larger model (the quadratic + treatment-interaction model from
BACKGROUND.md, 44 parameters), prints the harness's time split into compile, sampling,
log-likelihood, LOO and effect:

- cold: the first model in a new Python process (imports, Numba's first JIT);
- warm: the second model in the same process (imports and JIT machinery warm, the model
  itself new);

and, measured in the same run, the same model through ``pm.sample`` +
``pm.compute_log_likelihood`` + ``az.loo``, with the ratio to the warm harness time. Also
compares the log-likelihood and effect routes on one trace: in the sampler (what the
harness does), the vectorised post-hoc functions, and PyMC's own per-draw functions.

Targets (issue 4): warm iteration ≤ 15 s on 2 cores, ≥ 4× faster than the pm.sample path.
Prints figures; asserts nothing. Takes several minutes::

    python benchmarks/bench_iteration.py [--skip-pymc]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LARGER = """
import numpy as np
import pymc as pm


def build_model(data):
    X = data.X.to_numpy()
    Xc = data.X_continuous
    Xsq = Xc**2
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns), "cont": list(data.continuous)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", 0, 3)
        beta_t = pm.Normal("beta_t", 0, 2)
        beta_x = pm.Normal("beta_x", 0, 1, dims="control")
        beta_tx = pm.Normal("beta_tx", 0, 0.7, dims="cont")
        beta_sq = pm.Normal("beta_sq", 0, 0.5, dims="cont")
        beta_txsq = pm.Normal("beta_txsq", 0, 0.3, dims="cont")
        mu = pm.Deterministic(
            "mu",
            alpha + beta_t * t + pm.math.dot(X, beta_x) + t * pm.math.dot(Xc, beta_tx)
            + pm.math.dot(Xsq, beta_sq) + t * pm.math.dot(Xsq, beta_txsq),
            dims="obs",
        )
        sigma = pm.HalfNormal("sigma", 2)
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
"""
from engine.draws import STAGES  # noqa: E402

if TYPE_CHECKING:
    from engine.problem import ModelData, Problem, SamplingSettings


def sources() -> dict[str, str]:
    return {"baseline": (ROOT / "problems/ihdp/model.py").read_text(), "larger": LARGER}


# --------------------------------------------------------------------------- worker (one process)


def worker(order: list[str], pymc_path: bool, routes: bool) -> None:
    """Run the harness on each model in order, in this process; print one JSON line per result."""
    started = time.perf_counter()
    from engine.harness import run_model
    from engine.problem_load import load_problem

    problem = load_problem(ROOT / "problems/ihdp")
    data = problem.model_data()
    emit({"kind": "imports", "seconds": time.perf_counter() - started})
    for position, name in enumerate(order):
        with tempfile.TemporaryDirectory() as workdir:
            result = run_model(
                sources()[name],
                data,
                contract_estimand=problem.contract.estimand,
                settings=problem.sampling,
                gates=problem.gates,
                best=None,
                workdir=workdir,
            )
            m = result.verdict.metrics
            emit(
                {
                    "kind": "harness",
                    "model": name,
                    "state": "cold" if position == 0 else "warm",
                    "timings": result.timings,
                    "verdict": result.verdict.kind.value,
                    "elpd": m.elpd,
                    "ate": m.effect.mean if m.effect else None,
                    "reason": result.verdict.reason,
                }
            )
            if routes and position == len(order) - 1:
                compare_routes(name, data, problem, result.trace_path)
    if pymc_path:
        for name in order:
            emit({"kind": "pymc", **asdict(pymc_sample_path(name, data, problem))})


def compare_routes(name, data, problem, trace_path) -> None:
    """Log-likelihood and effect on one trace: in-sampler (harness) vs post-hoc vs PyMC."""
    import arviz as az
    import numpy as np
    import pymc as pm

    from engine.compile_check import load_model_module
    from engine.effects import effect_by_intervention
    from engine.loglik import compute_log_likelihood

    idata = az.from_netcdf(trace_path)
    for group in idata.groups():
        getattr(idata, group).load()
    in_sampler = idata.log_likelihood["y"].values
    model = load_model_module(sources()[name]).build_model(data)
    post = az.InferenceData(posterior=idata.posterior)
    out = {"kind": "routes", "model": name}
    t0 = time.perf_counter()
    compute_log_likelihood(model, post)
    out["loglik_post_hoc_first"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    compute_log_likelihood(model, post)
    out["loglik_post_hoc_again"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pm_ll = pm.compute_log_likelihood(post, model=model, progressbar=False, extend_inferencedata=False)
    out["loglik_pymc"] = time.perf_counter() - t0
    out["loglik_max_abs_diff"] = float(
        max(np.abs(in_sampler - pm_ll["y"].values).max(), np.abs(post.log_likelihood["y"].values - in_sampler).max())
    )
    t0 = time.perf_counter()
    effect, _ = effect_by_intervention(model, post, "ATE", data.t, data.X)
    out["effect_post_hoc_first"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with pm.do(model, {"t": np.ones(data.n)}):
        p1 = pm.sample_posterior_predictive(post, var_names=["mu"], predictions=True, progressbar=False)
    with pm.do(model, {"t": np.zeros(data.n)}):
        p0 = pm.sample_posterior_predictive(post, var_names=["mu"], predictions=True, progressbar=False)
    out["effect_pymc_do"] = time.perf_counter() - t0
    out["effect_diff"] = abs(float((p1.predictions["mu"] - p0.predictions["mu"]).mean().item()) - effect.mean)
    emit(out)


@dataclass(frozen=True)
class PymcPath:
    """One model through ``pm.sample`` + ``pm.compute_log_likelihood`` + ``az.loo``, in seconds."""

    model: str
    sample: float
    loglik: float
    loo: float
    total: float
    elpd: float

    def describe(self) -> str:
        return (
            f"sample {self.sample:.1f} s + loglik {self.loglik:.1f} s + loo {self.loo:.1f} s = "
            f"{self.total:.1f} s (ELPD {self.elpd:.1f})"
        )


def pymc_sample_path(
    name: str, data: ModelData, problem: Problem, settings: SamplingSettings | None = None
) -> PymcPath:
    """Time the stock PyMC route for ``sources()[name]`` at ``settings`` (default: the problem's own)."""
    import arviz as az
    import pymc as pm

    from engine.compile_check import load_model_module

    s = settings or problem.sampling
    model = load_model_module(sources()[name]).build_model(data)
    t0 = time.perf_counter()
    with model:
        idata = pm.sample(draws=s.draws, tune=s.tune, chains=s.chains, cores=2, random_seed=s.seed, progressbar=False)
    t1 = time.perf_counter()
    pm.compute_log_likelihood(idata, model=model, progressbar=False)
    t2 = time.perf_counter()
    result = az.loo(idata)
    t3 = time.perf_counter()
    return PymcPath(name, sample=t1 - t0, loglik=t2 - t1, loo=t3 - t2, total=t3 - t0, elpd=float(result.elpd_loo))


def emit(obj: dict) -> None:
    print("BENCH " + json.dumps(obj), flush=True)


# --------------------------------------------------------------------------- driver


def run_worker(order: list[str], pymc_path: bool, routes: bool) -> list[dict]:
    cmd = [sys.executable, __file__, "--worker", ",".join(order)]
    cmd += [] if pymc_path else ["--skip-pymc"]
    cmd += ["--routes"] if routes else []
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    rows = [json.loads(line[6:]) for line in proc.stdout.splitlines() if line.startswith("BENCH ")]
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--skip-pymc", action="store_true", help="skip the pm.sample comparison (saves minutes)")
    parser.add_argument("--routes", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker.split(","), not args.skip_pymc, args.routes)
        return

    import os

    print(f"CPUs available: {len(os.sched_getaffinity(0))}; load average {os.getloadavg()[0]:.2f}")
    started = time.perf_counter()
    rows = run_worker(["baseline", "larger"], pymc_path=False, routes=True)
    rows += run_worker(["larger", "baseline"], pymc_path=not args.skip_pymc, routes=True)
    print(f"(benchmark wall time {time.perf_counter() - started:.0f} s; load average now {os.getloadavg()[0]:.2f})\n")
    report(rows)


def report(rows: list[dict]) -> None:
    imports = [r["seconds"] for r in rows if r["kind"] == "imports"]
    print(f"imports (engine + problem, new process): {', '.join(f'{s:.1f} s' for s in imports)}\n")
    print(f"{'model':9} {'state':5} " + " ".join(f"{s:>8}" for s in STAGES) + "  verdict  ELPD      ATE")
    harness = [r for r in rows if r["kind"] == "harness"]
    for r in sorted(harness, key=lambda r: (r["model"], r["state"])):
        t = r["timings"]
        print(
            f"{r['model']:9} {r['state']:5} "
            + " ".join(f"{t.get(s, float('nan')):8.2f}" for s in STAGES)
            + f"  {r['verdict']:7}  {r['elpd']:.1f}  {r['ate']:.3f}"
        )
    pymc = {r["model"]: PymcPath(**{k: v for k, v in r.items() if k != "kind"}) for r in rows if r["kind"] == "pymc"}
    if pymc:
        print("\npm.sample(cores=2) + pm.compute_log_likelihood + az.loo, same settings, same run:")
        for name, path in pymc.items():
            warm = next(h for h in harness if h["model"] == name and h["state"] == "warm")["timings"]["total"]
            cold = next(h for h in harness if h["model"] == name and h["state"] == "cold")["timings"]["total"]
            print(
                f"  {name:9} {path.describe()};  harness warm {warm:.1f} s → {path.total / warm:.1f}× faster, "
                f"cold {cold:.1f} s → {path.total / cold:.1f}×"
            )
    for r in rows:
        if r["kind"] == "routes":
            print(f"\nlog-likelihood and effect routes on the {r['model']} trace (4000 draws × 747 units):")
            print(
                f"  log-likelihood: in the sampler ≈ 0 s extra (see 'loglik' above); vectorised post-hoc "
                f"{r['loglik_post_hoc_first']:.2f} s first, {r['loglik_post_hoc_again']:.2f} s again; "
                f"pm.compute_log_likelihood {r['loglik_pymc']:.2f} s; max |diff| {r['loglik_max_abs_diff']:.1e}"
            )
            print(
                f"  effect: vectorised post-hoc {r['effect_post_hoc_first']:.2f} s (incl. compile); "
                f"pm.do + sample_posterior_predictive ×2 {r['effect_pymc_do']:.2f} s; |Δ ATE| {r['effect_diff']:.1e}"
            )


if __name__ == "__main__":
    main()
