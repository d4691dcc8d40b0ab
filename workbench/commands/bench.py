"""``workbench bench [NAME ...]``: run the benchmark scripts in ``benchmarks/`` and print their figures.

``make bench`` runs ``workbench bench speed`` (every speed figure in one run, ending with one
summary table); ``make bench-all`` runs every script but the quality battery, which takes hours
and runs only by name (``workbench bench quality``). Benchmarks print timings; they assert
nothing (targets are in each script's docstring and printed beside the figures).
"""

from __future__ import annotations

import argparse
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
QUICK = ("speed", "quality")
"""Scripts that take ``--quick`` (a smoke test of a few minutes)."""
ONLY_BY_NAME = ("quality",)
"""Scripts that run for hours: ``workbench bench`` runs them only when named."""
ON_DASK = ("quality",)
"""Scripts that run on a Dask cluster and take ``--replications``, ``--workers`` and ``--scheduler``."""


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in BENCHMARKS.glob("bench_*.py"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all but {', '.join(ONLY_BY_NAME)}): {', '.join(available())}",
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"smoke-test settings, for the scripts that have them ({', '.join(QUICK)})"
    )
    on = ", ".join(ON_DASK)
    parser.add_argument("--replications", type=int, help=f"{on}: the first N replications of each kind")
    parser.add_argument("--workers", type=int, help=f"{on}: worker processes of the local Dask cluster")
    parser.add_argument("--scheduler", help=f"{on}: a running Dask scheduler (tcp://host:8786)")


def run(args: argparse.Namespace) -> int:
    import subprocess
    import sys

    from engine.errors import WorkbenchError

    names = args.names or [n for n in available() if n not in ONLY_BY_NAME]
    unknown = sorted(set(names) - set(available()))
    if unknown:
        raise WorkbenchError(f"no benchmark named {', '.join(unknown)}; choose from {', '.join(available())}")
    failed = []
    for name in names:
        print(f"\n=== bench_{name} ===", flush=True)
        extra = ["--quick"] if args.quick and name in QUICK else []
        if name in ON_DASK:
            for flag in ("replications", "workers", "scheduler"):
                if getattr(args, flag) is not None:
                    extra += [f"--{flag}", str(getattr(args, flag))]
        result = subprocess.run([sys.executable, str(BENCHMARKS / f"bench_{name}.py"), *extra], cwd=BENCHMARKS.parent)
        if result.returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nbenchmarks that did not finish: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0
