"""The error floor of the model loop on IHDP: the surface's own form, fitted once per seed.

IHDP response surface B (Hill 2011) draws the control arm's mean as exp((x + 0.5)·β) and
the treated arm's as x·β − ω. This script fits exactly that form — separate arms, a
multiplicative mean in the control arm only, a linear treated arm, one σ per arm (the
offline agent's ``log_control_arm`` spec on linear controls) — once per seed, through the
same harness as the loop (nutpie, gates, the effect by intervention), and prints its
error and 94 % HDI against the truth.

It is a reference for reading the battery, like the published figures beside it: what a
correctly specified model reaches with 747 children and 139 treated, where the remaining
error is sampling noise, not a wrong model. The truth is read for scoring only, after the
fit; nothing here chooses or tunes anything.

    python benchmarks/ihdp_floor.py --seeds 1 2 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_quality import folder_of, make_data, replication_folder  # noqa: E402

from engine.agents.modelgen import render_model  # noqa: E402
from engine.harness import run_model  # noqa: E402
from engine.modelspec import ModelSpec  # noqa: E402
from engine.problem_load import load_problem  # noqa: E402

SURFACE_B_FORM = ModelSpec(separate_arms=True, sigma_per_arm=True, log_mean=True, log_mean_arm="control")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 21)), help="IHDP surface-B seeds")
    args = parser.parse_args(argv)
    source = render_model(SURFACE_B_FORM)
    ihdp = make_data("ihdp")
    errors, covered = [], []
    with tempfile.TemporaryDirectory(prefix="wb-floor-") as scratch:
        for seed in args.seeds:
            name = f"ihdp seed {seed}"
            _, truth = replication_folder(Path(scratch), "ihdp", name, lambda out, s=seed: ihdp.main(out, seed=s), None)
            problem = load_problem(folder_of(Path(scratch), name))
            started = time.perf_counter()
            result = run_model(
                source,
                problem.model_data(),
                contract_estimand=problem.contract.estimand,
                settings=problem.sampling,
                gates=problem.gates,
                best=None,
                workdir=Path(scratch) / f"run-{seed}",
            )
            effect = result.verdict.metrics.effect
            if effect is None:
                print(f"{name:<14} {result.verdict.kind.value}: {result.verdict.reason}")
                continue
            error, inside = effect.mean - truth["ate"], effect.hdi_low <= truth["ate"] <= effect.hdi_high
            errors.append(error)
            covered.append(inside)
            print(
                f"{name:<14} {result.verdict.kind.value:<11} ATE {effect.mean:.3f} [{effect.hdi_low:.3f}, "
                f"{effect.hdi_high:.3f}] truth {truth['ate']:.3f} err {error:+.3f} "
                f"{'covers' if inside else 'misses'}  ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    if errors:
        rmse = statistics.fmean(e * e for e in errors) ** 0.5
        print(
            f"\nsurface B's own form over {len(errors)} seeds: RMSE {rmse:.3f}, MAE "
            f"{statistics.fmean(abs(e) for e in errors):.3f}, bias {statistics.fmean(errors):+.3f}, "
            f"coverage {sum(covered)}/{len(covered)}"
        )


if __name__ == "__main__":
    main()
