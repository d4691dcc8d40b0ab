"""``workbench bench [NAME ...]``: run the benchmark scripts in ``benchmarks/`` and print their figures.

Benchmarks print timings; they assert nothing (targets are in each script's docstring).
"""

from __future__ import annotations

import argparse
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in BENCHMARKS.glob("bench_*.py"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"benchmarks to run (default: all): {', '.join(available())}"
    )


def run(args: argparse.Namespace) -> int:
    import subprocess
    import sys

    from engine.errors import WorkbenchError

    names = args.names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        raise WorkbenchError(f"no benchmark named {', '.join(unknown)}; choose from {', '.join(available())}")
    failed = []
    for name in names:
        print(f"\n=== bench_{name} ===", flush=True)
        result = subprocess.run([sys.executable, str(BENCHMARKS / f"bench_{name}.py")], cwd=BENCHMARKS.parent)
        if result.returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nbenchmarks that did not finish: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0
