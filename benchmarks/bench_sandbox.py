"""A warm sandbox job's start, with and without bubblewrap's namespaces.

    python benchmarks/bench_sandbox.py [--pings 40] [--checks 5]

Prints figures; asserts nothing. Target (issue 10): a warm job starts within +100 ms of the
sandbox without namespaces. For each mode it starts a fresh server, waits until it is warm,
then times empty jobs (call → function running, and the whole round trip, which includes
making and emptying the private job folder and copying the trusted compiler cache) and
compile checks of the IHDP baseline. Medians, with min and max; the ratio of the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine import sandbox  # noqa: E402
from engine.compile_check import compile_check  # noqa: E402
from engine.problem_load import load_problem  # noqa: E402


def measure(mode: str, pings: int, checks: int, work: Path) -> dict[str, list[float]]:
    sandbox.shutdown()
    if mode == "inner":
        os.environ["WORKBENCH_SANDBOX"] = "inner"
    else:
        os.environ.pop("WORKBENCH_SANDBOX", None)
    t0 = time.perf_counter()
    sandbox.warm_up()
    sandbox.wait_until_warm(600)
    ready = time.perf_counter() - t0
    status = sandbox.server_status()
    problem = load_problem(ROOT / "problems" / "ihdp")
    source, data = problem.read_text("model.py"), problem.model_data()
    sandbox.run_in_sandbox(sandbox.ping, timeout_s=60, workdir=work)  # the first fork pays page faults
    starts, trips, compiles = [], [], []
    for _ in range(pings):
        outcome = sandbox.run_in_sandbox(sandbox.ping, timeout_s=60, workdir=work)
        starts.append(outcome.start_latency_s or float("nan"))
        trips.append(outcome.seconds)
    for _ in range(checks):
        compiles.append(compile_check(source, data, workdir=work).seconds)
    print(f"  {mode:10} server warm in {ready:.1f} s (namespaced={status.namespaced})")
    return {"start": starts, "trip": trips, "compile": compiles}


def describe(values: list[float], scale: float, unit: str) -> str:
    return (
        f"{statistics.median(values) * scale:.0f} {unit} (min {min(values) * scale:.0f}, max {max(values) * scale:.0f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pings", type=int, default=40)
    parser.add_argument("--checks", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    print(f"warm sandbox jobs, {os.cpu_count()} cores, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    modes = ["inner"] + (
        ["namespaces"] if sandbox.isolation_report().namespaces or os.environ.get("WORKBENCH_SANDBOX") else []
    )
    if len(modes) == 1:
        print("  bubblewrap is not available here: only the inner mode is measured")
    results = {mode: measure(mode, args.pings, args.checks, work) for mode in modes}
    for mode, r in results.items():
        print(
            f"  {mode:10} job start {describe(r['start'], 1000, 'ms')}; round trip {describe(r['trip'], 1000, 'ms')}; "
            f"IHDP compile check {describe(r['compile'], 1000, 'ms')}"
        )
    if len(results) == 2:
        inner, ns = results["inner"], results["namespaces"]
        for key, label in (("start", "job start"), ("trip", "round trip"), ("compile", "compile check")):
            a, b = statistics.median(inner[key]), statistics.median(ns[key])
            print(f"  {label}: namespaces − inner = {(b - a) * 1000:+.0f} ms (ratio {b / a:.2f})")
    sandbox.shutdown()


if __name__ == "__main__":
    main()
