"""Approve → verdict through the workbench (sandboxed model child, separate scorer, git commit).

For the IHDP baseline and the 44-parameter model of ``bench_iteration.py``, at the problem's
own sampling settings (4 chains × 1000 tuning + 1000 draws), prints the seconds from
approve to the recorded verdict:

- plain: the model child builds, compiles and samples after the approve (today's headless path);
- prepared: the child compiled while the principal read the proposal (``Workbench.prepare``,
  what the TUI does); approve opens its gate and only sampling, scoring and the commit remain.

Each cell is the median of ``--repeats`` runs (the first run of a process also pays the warm
server's start; it is printed apart). Prints figures; asserts nothing::

    python benchmarks/bench_approve.py [--repeats 2]
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

from bench_iteration import sources  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    from engine.launch import open_workbench
    from engine.records import Decision, DecisionKind, Loop, Proposal

    rows: dict[tuple[str, str], list[float]] = {}
    splits: dict[tuple[str, str], dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as root:
        wb = open_workbench(ROOT / "problems" / "ihdp", sessions_root=root)
        try:
            baseline = wb.session.current_source(Loop.MODEL)
            t0 = time.perf_counter()
            first = wb.check(
                Proposal(Loop.MODEL, "warm-up", "the first run pays the server's start", baseline, baseline, "bench")
            )
            wb.execute(first, Decision(DecisionKind.APPROVED, "principal"))
            print(f"first run of the process (server start, cold Numba): {time.perf_counter() - t0:.1f} s", flush=True)
            for _ in range(args.repeats):
                for name, source in sources().items():
                    for mode in ("plain", "prepared"):
                        text = (
                            source + f"\n# {mode} {time.time_ns()}\n"
                        )  # a new file each time: no cache hit on the source
                        reviewed = wb.check(
                            Proposal(Loop.MODEL, f"{name} {mode}", "benchmark", baseline, text, "bench")
                        )
                        if mode == "prepared":
                            prepared = wb.prepare(reviewed)
                            assert prepared is not None and prepared.ready.wait(300), (
                                "the prepared child never got ready"
                            )
                        t0 = time.perf_counter()
                        record = wb.execute(reviewed, Decision(DecisionKind.APPROVED, "principal"))
                        seconds = time.perf_counter() - t0
                        rows.setdefault((name, mode), []).append(seconds)
                        splits[(name, mode)] = {k: v for k, v in record.timings.items() if k != "review_wait"}
                        verdict = record.verdict.kind.value if record.verdict else "-"
                        print(f"  {name:<9} {mode:<9} {seconds:6.1f} s  ({verdict})", flush=True)
        finally:
            wb.discard_prepared()
            wb.session.close()

    print("\napprove → verdict, median seconds (4 chains × 1000 + 1000, IHDP, sandboxed):")
    print(f"{'model':<10}{'plain':>9}{'prepared':>10}{'ratio':>8}   split of the prepared run")
    for name in sources():
        plain = statistics.median(rows[(name, "plain")])
        prepared = statistics.median(rows[(name, "prepared")])
        split = ", ".join(f"{k} {v:.1f}" for k, v in splits[(name, "prepared")].items())
        print(f"{name:<10}{plain:>9.1f}{prepared:>10.1f}{plain / prepared:>7.2f}×   {split}")


if __name__ == "__main__":
    main()
