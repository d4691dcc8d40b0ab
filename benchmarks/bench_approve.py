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

:func:`measure` is what ``bench_speed.py`` calls for its approve and LaLonde rows.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_iteration import sources  # noqa: E402

if TYPE_CHECKING:
    from engine.loop import RunOptions, Workbench

MODES = ("plain", "prepared")
"""Warm modes, in the order each repeat runs them; the first approve of a process is ``cold``."""


@dataclass(frozen=True)
class ApproveRun:
    """One approve → verdict: the seconds of ``Workbench.execute`` and what the record says of them."""

    model: str
    mode: str  # "cold" (the first approve of a fresh workbench), "plain" or "prepared"
    seconds: float  # approve → verdict recorded
    check_s: float  # the checks before it (guard, compile check): not part of approve → verdict
    ready_s: float | None  # prepared only: prepare() → the child compiled and waiting (the review it hides in)
    verdict: str
    timings: dict[str, float] = field(default_factory=dict)  # record.timings, less review_wait

    def split(self) -> str:
        """Every stage the record timed, its total last (a prepared run's compile happened before the approve)."""
        stages = [(k, v) for k, v in self.timings.items() if k != "total"] + [("total", self.timings.get("total", 0.0))]
        return ", ".join(f"{k} {v:.1f}" for k, v in stages)

    def brief(self) -> str:
        """The stages that matter after the approve: compile (unless done during review), sampling, LOO, the rest."""
        shown = ("sampling", "loo") if self.mode == "prepared" else ("compile", "sampling", "loo")
        parts = {k: self.timings.get(k, 0.0) for k in shown}
        rest = self.seconds - sum(parts.values())
        ready = f"compiled during review in {self.ready_s:.1f} s; " if self.ready_s is not None else ""
        return ready + ", ".join(f"{k} {v:.1f}" for k, v in parts.items()) + f", rest {rest:.1f}"

    def describe(self) -> str:
        ready = f", compiled during review in {self.ready_s:.1f} s" if self.ready_s is not None else ""
        return (
            f"{self.model:<9} {self.mode:<9} {self.seconds:6.1f} s  ({self.verdict}; "
            f"check {self.check_s:.1f} s{ready})  split: {self.split()}"
        )


@dataclass(frozen=True)
class ApproveBench:
    """The runs of one process: the first (cold) approve, then the warm repeats."""

    first: ApproveRun
    runs: list[ApproveRun]

    def of(self, model: str, mode: str) -> list[ApproveRun]:
        return [r for r in self.runs if r.model == model and r.mode == mode]

    def median(self, model: str, mode: str) -> float:
        return statistics.median(r.seconds for r in self.of(model, mode))


def approve_once(wb: Workbench, baseline: str, model: str, source: str, mode: str) -> ApproveRun:
    """Check ``source`` as a proposal, prepare it if ``mode`` is ``prepared``, approve it and time the run.

    A comment with the time is appended, so each run is a new file (no cache hit on the source).
    """
    from engine.records import Decision, DecisionKind, Loop, Proposal

    text = source + f"\n# {mode} {time.time_ns()}\n"
    t0 = time.perf_counter()
    reviewed = wb.check(Proposal(Loop.MODEL, f"{model} {mode}", "benchmark", baseline, text, "bench"))
    check_s = time.perf_counter() - t0
    ready_s = None
    if mode == "prepared":
        t0 = time.perf_counter()
        prepared = wb.prepare(reviewed)
        if prepared is not None and prepared.ready.wait(300):
            ready_s = time.perf_counter() - t0
        else:
            print(f"  {model}: the prepared child never got ready; approving anyway", flush=True)
    t0 = time.perf_counter()
    record = wb.execute(reviewed, Decision(DecisionKind.APPROVED, "principal"))
    seconds = time.perf_counter() - t0
    return ApproveRun(
        model=model,
        mode=mode,
        seconds=seconds,
        check_s=check_s,
        ready_s=ready_s,
        verdict=record.verdict.kind.value if record.verdict else "-",
        timings={k: v for k, v in record.timings.items() if k != "review_wait"},
    )


def measure(
    problem: Path,
    models: dict[str, str],
    repeats: int,
    *,
    options: RunOptions | None = None,
    on_run: Callable[[ApproveRun], None] | None = None,
) -> ApproveBench:
    """Open a workbench on ``problem`` in a fresh session and time approve → verdict.

    Parameters
    ----------
    problem
        The problem folder.
    models
        Name → model source. The first is approved once, plain, as the process's first
        (``cold``) run: it pays the warm server's start and the first compile.
    repeats
        Warm rounds after it; each approves every model plain, then prepared.
    options
        Harness settings (``--quick`` shrinks the draws); None for the problem's own.
    on_run
        Told each run as it ends (to print it).

    Returns
    -------
    ApproveBench
        The cold run and the warm ones.
    """
    from engine.launch import open_workbench
    from engine.records import Loop

    report = on_run or (lambda run: None)
    runs: list[ApproveRun] = []
    with tempfile.TemporaryDirectory() as root:
        wb = open_workbench(problem, sessions_root=root, options=options)
        try:
            baseline = wb.session.current_source(Loop.MODEL)
            name, source = next(iter(models.items()))
            first = approve_once(wb, baseline, name, source, "cold")
            report(first)
            for _ in range(repeats):
                for name, source in models.items():
                    for mode in MODES:
                        run = approve_once(wb, baseline, name, source, mode)
                        runs.append(run)
                        report(run)
        finally:
            wb.discard_prepared()
            wb.session.close()
    return ApproveBench(first, runs)


def print_run(run: ApproveRun) -> None:
    print(f"  {run.describe()}", flush=True)


def report(bench: ApproveBench, models: list[str]) -> None:
    """The table of medians: plain, prepared, their ratio and the prepared run's split."""
    print("\napprove → verdict, median seconds (sandboxed):")
    print(f"{'model':<10}{'plain':>9}{'prepared':>10}{'ratio':>8}   split of the prepared run")
    for name in models:
        plain, prepared = bench.median(name, "plain"), bench.median(name, "prepared")
        print(
            f"{name:<10}{plain:>9.1f}{prepared:>10.1f}{plain / prepared:>7.2f}×   {bench.of(name, 'prepared')[-1].split()}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    models = sources()
    bench = measure(ROOT / "problems" / "ihdp", models, args.repeats, on_run=print_run)
    print(f"(the first run of the process paid the server's start and cold Numba: {bench.first.seconds:.1f} s)")
    if args.repeats > 0:
        report(bench, list(models))


if __name__ == "__main__":
    main()
