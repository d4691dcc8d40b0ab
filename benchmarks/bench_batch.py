"""The batch engine's speed-up: the same quality battery on 1 worker, then on more, on Dask.

Runs a small slice of the quality battery (``bench_quality.py``: the design loop's first run
on ACIC 2016 simulations, as Dask tasks on a ``LocalCluster``) once per worker count and
prints each wall time and its speed-up over one worker. On this 2-core machine the ceiling is
below 2: each design run already spreads its refits over both cores. On a machine with more
cores (the device machine lends 16) pass more simulations and workers::

    python benchmarks/bench_batch.py [--workers 1 2] [--sims 1 2 3 4] [--design-iterations 0]
    python benchmarks/bench_batch.py --workers 1 16 --sims 1 2 3 4 5 6 7 8 9 10

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_quality  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", nargs="*", type=int, default=[1, 2])
    parser.add_argument("--sims", nargs="*", type=int, default=[1, 2, 3, 4])
    parser.add_argument("--estimands", nargs="*", default=["ATT"])
    parser.add_argument("--design-iterations", type=int, default=0)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores here; {len(args.sims) * len(args.estimands)} replications per run", flush=True)
    walls: dict[int, float] = {}
    for n in args.workers:
        battery_args = bench_quality.parse_args(
            [
                "--loops",
                "design",
                "--sims",
                *map(str, args.sims),
                "--estimands",
                *args.estimands,
                "--design-iterations",
                str(args.design_iterations),
                "--workers",
                str(n),
            ]
        )
        rows, wall, cluster = bench_quality.battery(battery_args)
        walls[n] = wall
        print(f"{n} worker(s): {wall:.1f} s for {len(rows)} scored estimates ({cluster})\n", flush=True)
    base = walls.get(min(walls))
    print(f"{'workers':>8} {'wall s':>8} {'speed-up':>9}")
    for n, wall in walls.items():
        print(f"{n:>8} {wall:>8.1f} {base / wall:>8.2f}×")


if __name__ == "__main__":
    main()
