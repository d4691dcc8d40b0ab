"""Compile-check time for the IHDP baseline: cold and warm sandbox server, and job start latency.

    python benchmarks/bench_compile.py [--repeats 7] [--jit]

Prints figures; asserts nothing. Target (issue 3): warm compile check ≤ 2 s on 2 cores.
"cold" starts a fresh warm server first (imports, PyTensor warm-up), so it is what the very
first check of a session costs; "one-off process" is what a check would cost without the
server (a new Python process that imports PyMC and checks in-process), for comparison.
The machine is shared, so the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine import sandbox  # noqa: E402
from engine.compile_check import compile_check  # noqa: E402
from engine.problem_load import load_problem  # noqa: E402

ONE_OFF = """
import time
t0 = time.perf_counter()
from engine.problem_load import load_problem
from engine.compile_check import check_model_source
p = load_problem("problems/ihdp")
r = check_model_source(p.read_text("model.py"), p.model_data(), progress=lambda m: None)
print(r.ok, time.perf_counter() - t0)
"""


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def phases_of(messages: list[dict]) -> str:
    """Durations between the phase marks the check sends."""
    parts = []
    for here, following in zip(messages, messages[1:]):
        parts.append(f"{here['phase']} {following['seconds'] - here['seconds']:.2f}")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--pings", type=int, default=20)
    parser.add_argument("--jit", action="store_true", help="also time the nutpie JIT warm-up of the server")
    args = parser.parse_args()

    problem = load_problem(ROOT / "problems" / "ihdp")
    source, data = problem.read_text("model.py"), problem.model_data()
    work = Path(tempfile.mkdtemp(prefix="bench-compile-"))
    print(f"IHDP baseline compile check, {os.cpu_count()} cores, load average {load()}")

    # One-off process: no server at all.
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", ONE_OFF], cwd=ROOT, capture_output=True, text=True, check=False)
    one_off = time.perf_counter() - t0
    print(
        f"  one-off process (import PyMC + check, no sandbox): {one_off:.2f} s  [{out.stdout.strip() or out.stderr[-200:]}]"
    )

    # Cold: a fresh server, its first job.
    sandbox.shutdown()
    t0 = time.perf_counter()
    first_ping = sandbox.run_in_sandbox(sandbox.ping, timeout_s=60, workdir=work)
    cold_start = time.perf_counter() - t0
    status = sandbox.server_status()
    print(f"  server start (imports + warm-up in the server): {status.warm_seconds:.2f} s")
    print(f"  cold job start latency (fresh server, first job): {cold_start:.2f} s")
    sandbox.shutdown()
    t0 = time.perf_counter()
    cold = compile_check(source, data, workdir=work)
    cold_total = time.perf_counter() - t0
    print(f"  cold compile check (fresh server): {cold_total:.2f} s  ok={cold.ok} n_free={cold.n_free}")

    # Warm: the same server, fresh forks.
    latencies, totals = [], []
    for _ in range(args.pings):
        outcome = sandbox.run_in_sandbox(sandbox.ping, timeout_s=60, workdir=work)
        latencies.append(outcome.start_latency_s)
        totals.append(outcome.seconds)
    print(
        f"  warm job start latency (call → function running), median of {args.pings}: "
        f"{statistics.median(latencies) * 1000:.0f} ms (min {min(latencies) * 1000:.0f}, max {max(latencies) * 1000:.0f}); "
        f"round trip of an empty job {statistics.median(totals) * 1000:.0f} ms; child RSS at start {first_ping.value['rss_mb']:.0f} MB"
    )
    times, runs = [], []
    for _ in range(args.repeats):
        messages: list[dict] = []
        result = compile_check(source, data, workdir=work, on_progress=messages.append)
        times.append(result.seconds)
        runs.append((result.seconds, messages))
    median = statistics.median(times)
    print(
        f"  warm compile check, median of {args.repeats}: {median:.2f} s "
        f"(min {min(times):.2f}, max {max(times):.2f}); target ≤ 2 s"
    )
    _, messages = sorted(runs)[len(runs) // 2]
    print(f"    phases in the child (s): {phases_of(messages)}")

    if args.jit:
        t0 = time.perf_counter()
        sandbox.warm_up(jit=True)
        sandbox.wait_until_warm(jit=True)
        print(
            f"  nutpie JIT warm-up of the server: {sandbox.server_status().jit_seconds:.1f} s (waited {time.perf_counter() - t0:.1f} s)"
        )
    print(f"  load average after: {load()}")
    sandbox.shutdown()


if __name__ == "__main__":
    main()
