"""Design-loop wall time per shipped problem, and per stage.

    python benchmarks/bench_design.py [--problems ihdp nhefs ...] [--subset-repeats 3] [--refuter-folds N] [--workers 1]

Runs :func:`engine.design.run.run_design` with each problem's shipped ``analysis.toml``
(the baseline design iteration: DR estimate, balance, overlap, trimming curve, placebo
outcomes, the four refuters, sensitivity) and prints the seconds per stage. The placebo
outcomes and refuters run side by side on one thread per core (``--workers 1``: one after
another); their stage seconds are each stage's own, so they add up to more than the wall. Prints
figures; asserts nothing. The machine is shared, so the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.design.run import DesignSettings, run_design  # noqa: E402
from engine.design.spec import load_spec  # noqa: E402
from engine.problem import load_problem  # noqa: E402

PROBLEMS = ROOT / "problems"


LABELS = {
    "estimate": "estimate",
    "diagnostics": "diag",
    "trimming": "trim",
    "placebo": "placebo",
    "refuter:placebo_treatment": "perm_t",
    "refuter:random_common_cause": "rand_cc",
    "refuter:data_subset": "subset",
    "refuter:dummy_outcome": "dummy_y",
    "sensitivity": "sens",
    "facts": "facts",
}


def shipped() -> list[str]:
    return sorted(p.name for p in PROBLEMS.iterdir() if (p / "problem.toml").is_file())


def group(stage: str) -> str:
    """Collapse per-column stages (placebo:ht) into one column of the table."""
    return stage.split(":")[0] if stage.startswith("placebo:") else stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="*", default=None, help="problem folders under problems/ (default: all)")
    parser.add_argument("--subset-repeats", type=int, default=DesignSettings().subset_repeats)
    parser.add_argument("--refuter-folds", type=int, default=None, help="folds for the refuters (default: the spec's)")
    parser.add_argument("--workers", type=int, default=None, help="threads for the checks (default: one per core)")
    args = parser.parse_args()
    names = args.problems or shipped()
    settings = DesignSettings(
        subset_repeats=args.subset_repeats, refuter_folds=args.refuter_folds, workers=args.workers
    )

    import econml  # noqa: F401  (import cost is paid once, outside the timings)
    import sklearn  # noqa: F401

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; subset repeats {settings.subset_repeats}")
    rows = []
    for name in names:
        problem = load_problem(PROBLEMS / name)
        spec = load_spec(problem.path, problem.contract)
        start = time.perf_counter()
        result = run_design(spec, problem, settings=settings)
        wall = time.perf_counter() - start
        stages: dict[str, float] = {}
        for stage, seconds in result.timings.items():
            if stage != "total":
                stages[group(stage)] = stages.get(group(stage), 0.0) + seconds
        rows.append((name, problem.data.shape[0], len(result.covariates), result, wall, stages))
        est = result.estimate
        print(
            f"{name:<16} n={problem.data.shape[0]:<6} {est.describe():<60} wall {wall:6.1f} s   "
            f"load {os.getloadavg()[0]:.2f}",
            flush=True,
        )

    seen = {s for *_, stages in rows for s in stages}
    columns = [c for c in LABELS if c in seen] + sorted(seen - set(LABELS))
    header = (
        f"{'problem':<16}{'rows':>7}{'cov':>5}"
        + "".join(f"{LABELS.get(c, c)[:9]:>10}" for c in columns)
        + f"{'total':>9}"
    )
    print()
    print(header)
    print("-" * len(header))
    for name, n, k, _result, wall, stages in rows:
        cells = "".join(f"{stages[c]:>10.2f}" if c in stages else f"{'-':>10}" for c in columns)
        print(f"{name:<16}{n:>7}{k:>5}{cells}{wall:>9.1f}")
    print(
        "\nseconds per stage. estimate: one cross-fitted DR fit; placebo: one fit per placebo outcome; "
        "perm_t, rand_cc, subset, dummy_y: the refuters (placebo treatment, random common cause, data subset "
        "once per repeat, dummy outcome), each a refit; sens: E-value and OLS robustness value; facts: blind-spot scan"
    )


if __name__ == "__main__":
    main()
