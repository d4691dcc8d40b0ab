"""Design-loop wall time per shipped problem, and per stage.

    python benchmarks/bench_design.py [--problems ihdp nhefs ...] [--subset-repeats 3] [--refuter-folds N] [--workers 1]

Runs :func:`engine.design.run.run_design` with each problem's shipped ``analysis.toml``
(the baseline design iteration: DR estimate, balance, overlap, trimming curve, placebo
outcomes, the four refuters, sensitivity) in a sandbox job, as the design loop runs it (the
server's environment, one OpenMP thread per check, the pickling both ways), and prints the
seconds per stage; the warm-up of the sandbox server is not timed. The placebo
outcomes and refuters run side by side on one thread per core (``--workers 1``: one after
another); their stage seconds are each stage's own, so they add up to more than the wall. Prints
figures; asserts nothing. The machine is shared, so the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.design.run import DesignSettings  # noqa: E402
from engine.design.spec import load_spec  # noqa: E402
from engine.problem_load import load_problem  # noqa: E402

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


@dataclass(frozen=True)
class DesignRow:
    """One problem's design run: its size, the estimate, the wall time and the seconds per stage."""

    problem: str
    rows: int
    covariates: int
    estimate: str
    wall: float
    stages: dict[str, float]  # per-column stages (placebo:ht) collapsed, see group()


def run_designs(
    names: list[str], settings: DesignSettings, on_row: Callable[[DesignRow], None] | None = None
) -> list[DesignRow]:
    """Run the shipped ``analysis.toml`` of each problem and time it, stage by stage.

    Parameters
    ----------
    names
        Problem folders under ``problems/``.
    settings
        The design run's settings (subset repeats, folds, workers).
    on_row
        Told each row as its run ends (to print it).

    Returns
    -------
    list of DesignRow
        One per problem, in order.
    """
    from engine import jobs
    from engine.loop import RunOptions
    from engine.sandbox import run_in_sandbox, wait_until_warm

    options = RunOptions()  # the loop's own limits for a design job

    wait_until_warm()
    rows = []
    for name in names:
        problem = load_problem(PROBLEMS / name)
        spec = load_spec(problem.path, problem.contract)
        with tempfile.TemporaryDirectory(prefix="bench-design-") as workdir:
            start = time.perf_counter()
            outcome = run_in_sandbox(
                jobs.design_job,
                spec,
                (problem.data, problem.contract),
                settings=settings,
                timeout_s=options.design_timeout_s,
                memory_mb=options.memory_mb,
                workdir=workdir,
                outputs=(),
            )
            wall = time.perf_counter() - start
        if not outcome.ok:
            raise SystemExit(f"the design run of {name} failed: {outcome.message}")
        result = outcome.value
        stages: dict[str, float] = {}
        for stage, seconds in result.timings.items():
            if stage != "total":
                stages[group(stage)] = stages.get(group(stage), 0.0) + seconds
        row = DesignRow(name, problem.data.shape[0], len(result.covariates), result.estimate.describe(), wall, stages)
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows


def print_row(row: DesignRow) -> None:
    print(
        f"{row.problem:<16} n={row.rows:<6} {row.estimate:<60} wall {row.wall:6.1f} s   load {os.getloadavg()[0]:.2f}",
        flush=True,
    )


def print_table(rows: list[DesignRow]) -> None:
    """Seconds per stage, one line per problem, with a legend."""
    seen = {s for row in rows for s in row.stages}
    columns = [c for c in LABELS if c in seen] + sorted(seen - set(LABELS))
    header = (
        f"{'problem':<16}{'rows':>7}{'cov':>5}"
        + "".join(f"{LABELS.get(c, c)[:9]:>10}" for c in columns)
        + f"{'total':>9}"
    )
    print()
    print(header)
    print("-" * len(header))
    for row in rows:
        cells = "".join(f"{row.stages[c]:>10.2f}" if c in row.stages else f"{'-':>10}" for c in columns)
        print(f"{row.problem:<16}{row.rows:>7}{row.covariates:>5}{cells}{row.wall:>9.1f}")
    print(
        "\nseconds per stage. estimate: one cross-fitted DR fit; placebo: one fit per placebo outcome; "
        "perm_t, rand_cc, subset, dummy_y: the refuters (placebo treatment, random common cause, data subset "
        "once per repeat, dummy outcome), each a refit; sens: E-value and OLS robustness value; facts: blind-spot scan"
    )


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
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; subset repeats {settings.subset_repeats}")
    print_table(run_designs(names, settings, on_row=print_row))


if __name__ == "__main__":
    main()
