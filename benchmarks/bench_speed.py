"""The speed issue's figures in one run, ending with one summary table (``make bench``).

Why one script: the targets compare figures with each other (pm.sample against approve →
verdict) and with fixed bounds, and a comparison is only fair when both sides ran in the same
run, under the same load. The figures used to come from five scripts run one by one. This one
runs every group in a fresh process of its own (``--part NAME``: no group inherits another's
imports or warm sandbox server; the disk caches are shared, as they are for a user), passes
each group's lines through as they come, and prints:

- **approve → verdict** through the workbench (sandboxed model child, scorer, git commit) for
  the IHDP baseline and the 44-parameter model of ``bench_iteration.py``: *cold* (the first
  approve of a freshly opened workbench in a new process, one per model), *warm* (plain: the
  child compiles after the approve) and *warm with compile during review* (prepared), the
  medians of ``--repeats``, with each record's split (``record.timings``);
- the same models through ``pm.sample`` + ``pm.compute_log_likelihood`` + ``az.loo``, and the
  ratio pm.sample / warm prepared;
- **LaLonde** model iteration with its own baseline ``model.py``: cold, warm plain, warm prepared;
- the **design run** of each shipped problem's ``analysis.toml``, with its stage split;
- ``workbench open`` → **first frame**, and **key press → frame while sampling**;

then the table: what | figure | target | met | ratio | note. Targets are printed beside the
figures, never asserted: approve → verdict warm prepared ≤ 6 s baseline, ≤ 8 s and ≥ 5×
faster than pm.sample for the 44-parameter model; design ≤ 10 s IHDP, ≤ 30 s ACIC 2016;
LaLonde warm ≤ 30 s; first frame ≤ 0.5 s; key → frame ≤ 50 ms. The full run should take
roughly ten minutes on 2 cores; run it on an idle machine (the load average is printed, and
another process sampling beside it can double a figure)::

    python benchmarks/bench_speed.py [--repeats 2] [--parts approve pymc lalonde design tui]
    python benchmarks/bench_speed.py --quick   # smoke test, a few minutes: 1 repeat, 250 draws,
                                               # no pm.sample, design on IHDP only

With ``--quick`` the sampling rows run at reduced draws, so their "met" column says so
instead of judging them (``--quick --parts pymc`` still runs pm.sample, at those draws).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_approve import ApproveBench, ApproveRun  # noqa: E402
from bench_design import LABELS as STAGE_LABELS  # noqa: E402
from bench_design import DesignRow  # noqa: E402
from bench_iteration import PymcPath  # noqa: E402
from bench_tui import FIRST_FRAME_TARGET_S, KEY_LATENCY_TARGET_MS, FirstFrame, KeyLatency  # noqa: E402

if TYPE_CHECKING:
    from engine.loop import RunOptions
    from engine.problem import Problem, SamplingSettings

PARTS = ("approve", "pymc", "lalonde", "design", "tui")
QUICK_PARTS = ("approve", "lalonde", "design", "tui")  # --quick skips pm.sample unless --parts names it
QUICK_DRAWS = 250  # draws and tuning steps per chain under --quick
IHDP = ROOT / "problems" / "ihdp"
LALONDE = ROOT / "problems" / "lalonde"
RESULT = "RESULT "
LABELS = {"baseline": "IHDP baseline", "larger": "IHDP 44-param", "lalonde": "LaLonde baseline"}


@dataclass(frozen=True)
class Target:
    """An upper bound on a figure (seconds or milliseconds), or a lower bound on a ratio."""

    bound: float
    unit: str  # "s", "ms" or "×" (a ratio: at least the bound)

    def text(self) -> str:
        return f"≥ {self.bound:g}×" if self.unit == "×" else f"≤ {self.bound:g} {self.unit}"

    def met(self, value: float) -> bool:
        return value >= self.bound if self.unit == "×" else value <= self.bound


PREPARED_TARGETS = {"baseline": Target(6, "s"), "larger": Target(8, "s")}
WARM_TARGETS = {"lalonde": Target(30, "s")}
RATIO_TARGETS = {"larger": Target(5, "×")}
DESIGN_TARGETS = {"ihdp": Target(10, "s"), "acic2016": Target(30, "s")}
FIRST_FRAME_TARGET = Target(FIRST_FRAME_TARGET_S, "s")
KEY_TARGET = Target(KEY_LATENCY_TARGET_MS, "ms")


@dataclass(frozen=True)
class Settings:
    """What every part runs at: the figures' settings, or the smoke test's."""

    quick: bool
    repeats: int

    def overrides(self) -> dict[str, int]:
        return {"draws": QUICK_DRAWS, "tune": QUICK_DRAWS} if self.quick else {}

    def options(self) -> RunOptions | None:
        """Harness settings for the workbench parts: the problem's own, or fewer draws under --quick."""
        from engine.loop import RunOptions

        return RunOptions(sampling_overrides=self.overrides()) if self.quick else None

    def sampling(self, problem: Problem) -> SamplingSettings:
        """The problem's sampling settings with the same overrides (for the pm.sample path)."""
        return replace(problem.sampling, **self.overrides())

    def argv(self) -> list[str]:
        return ["--repeats", str(self.repeats)] + (["--quick"] if self.quick else [])


# --------------------------------------------------------------------------- the parts (one process each)


def emit(payload: dict[str, Any]) -> None:
    """The part's one machine-readable line, for the parent."""
    print(RESULT + json.dumps(payload), flush=True)


def load_line() -> str:
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"


def part_approve(settings: Settings, problem: Path, models: dict[str, str]) -> None:
    """Approve → verdict on ``problem``: the first model cold, then ``repeats`` warm rounds of every model."""
    from bench_approve import measure, print_run, report

    print(f"{load_line()}; cold: {next(iter(models))}; warm rounds: {settings.repeats}", flush=True)
    bench = measure(problem, models, settings.repeats, options=settings.options(), on_run=print_run)
    if settings.repeats > 0:
        report(bench, list(models))
    emit({"first": asdict(bench.first), "runs": [asdict(r) for r in bench.runs]})


def part_pymc(settings: Settings) -> None:
    """The stock PyMC route for both IHDP models, one after the other in this process."""
    from bench_iteration import pymc_sample_path

    from engine.problem_load import load_problem

    problem = load_problem(IHDP)
    sampling = settings.sampling(problem)
    data = problem.model_data()
    print(f"{load_line()}; pm.sample(cores=2), {sampling.chains} × ({sampling.tune} + {sampling.draws})", flush=True)
    paths = []
    for name in ("baseline", "larger"):
        path = pymc_sample_path(name, data, problem, sampling)
        print(f"  {name:<9} {path.describe()}", flush=True)
        paths.append(path)
    emit({"paths": [asdict(p) for p in paths]})


def part_design(settings: Settings) -> None:
    """The design run of each shipped problem (IHDP only under --quick), with the stage table."""
    from bench_design import print_row, print_table, run_designs, shipped

    from engine.design.run import DesignSettings

    names = ["ihdp"] if settings.quick else shipped()
    print(f"{load_line()}; problems: {', '.join(names)}", flush=True)
    rows = run_designs(names, DesignSettings(), on_row=print_row)
    print_table(rows)
    emit({"rows": [asdict(r) for r in rows]})


def part_tui(settings: Settings) -> None:
    """``workbench open`` → first frame (fresh processes), then key presses while nutpie samples."""
    from bench_tui import first_frame, key_latency

    print(load_line(), flush=True)
    frame = first_frame(2 if settings.quick else 5)
    print(frame.describe(), flush=True)
    keys = asyncio.run(key_latency(5 if settings.quick else 20, 1000))
    print(keys.describe() if keys else "sampling finished before any key could be pressed", flush=True)
    emit({"first_frame": asdict(frame), "keys": asdict(keys) if keys else None})


# --------------------------------------------------------------------------- the parent


@dataclass
class Collected:
    """Every part's figures, as the parts reported them."""

    approve: list[ApproveBench] = field(default_factory=list)  # one per process: its cold run, its warm runs
    pymc: dict[str, PymcPath] = field(default_factory=dict)
    design: list[DesignRow] = field(default_factory=list)
    first_frame: FirstFrame | None = None
    keys: KeyLatency | None = None
    failed: list[str] = field(default_factory=list)

    def add_approve(self, payload: dict[str, Any]) -> None:
        self.approve.append(ApproveBench(ApproveRun(**payload["first"]), [ApproveRun(**r) for r in payload["runs"]]))

    def add_pymc(self, payload: dict[str, Any]) -> None:
        self.pymc.update({p["model"]: PymcPath(**p) for p in payload["paths"]})

    def add_design(self, payload: dict[str, Any]) -> None:
        self.design += [DesignRow(**r) for r in payload["rows"]]

    def add_tui(self, payload: dict[str, Any]) -> None:
        self.first_frame = FirstFrame(**payload["first_frame"])
        self.keys = KeyLatency(**payload["keys"]) if payload["keys"] else None

    def cold(self, model: str) -> ApproveRun | None:
        return next((b.first for b in self.approve if b.first.model == model), None)

    def warm(self, model: str) -> ApproveBench | None:
        """The process that ran ``model`` warm, plain and prepared."""
        return next((b for b in self.approve if b.of(model, "plain") and b.of(model, "prepared")), None)


@dataclass(frozen=True)
class Invocation:
    """One process of a part: what the parent prints over it, its arguments, and where its result goes."""

    title: str
    argv: list[str]
    collect: Callable[[Collected, dict[str, Any]], None]


def invocations(part: str, settings: Settings) -> list[Invocation]:
    common = settings.argv()
    if part == "approve":
        return [
            Invocation(
                "approve → verdict, IHDP: baseline cold, then both models warm (plain, prepared)",
                ["--part", "approve", "--models", "baseline,larger", *common],
                Collected.add_approve,
            ),
            Invocation(
                "approve → verdict, IHDP: the 44-parameter model cold, in a process of its own",
                ["--part", "approve", "--models", "larger", *replace(settings, repeats=0).argv()],
                Collected.add_approve,
            ),
        ]
    if part == "pymc":
        return [
            Invocation(
                "pm.sample path, IHDP baseline and 44-parameter model", ["--part", "pymc", *common], Collected.add_pymc
            )
        ]
    if part == "lalonde":
        return [Invocation("LaLonde model iteration", ["--part", "lalonde", *common], Collected.add_approve)]
    if part == "design":
        return [Invocation("design run per shipped problem", ["--part", "design", *common], Collected.add_design)]
    return [
        Invocation(
            "workbench open → first frame; key → frame while sampling", ["--part", "tui", *common], Collected.add_tui
        )
    ]


def run_invocation(invocation: Invocation, collected: Collected) -> None:
    """Run one part's process, passing its lines through as they come and keeping its RESULT line."""
    print(f"\n=== {invocation.title} ===", flush=True)
    started = time.perf_counter()
    cmd = [sys.executable, str(Path(__file__).resolve()), *invocation.argv]
    payload = None
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(RESULT):
                payload = json.loads(line[len(RESULT) :])
            else:
                print(line, end="", flush=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0 or payload is None:
        print(f"({invocation.argv[1]} did not finish: exit status {proc.returncode})", flush=True)
        collected.failed.append(invocation.argv[1])
        return
    invocation.collect(collected, payload)
    print(f"({seconds:.0f} s; {load_line()})", flush=True)


# --------------------------------------------------------------------------- the summary


@dataclass(frozen=True)
class Row:
    """One line of the summary table."""

    what: str
    figure: str
    target: Target | None = None
    value: float | None = None  # what the target is judged on (the figure, or the ratio)
    ratio: str = ""
    note: str = ""
    reduced: bool = False  # measured at --quick's reduced settings: not judged against the target

    def met(self) -> str:
        if self.target is None or self.value is None:
            return ""
        if self.reduced:
            return "n/a (quick)"
        return "yes" if self.target.met(self.value) else "NO"


def approve_rows(collected: Collected, quick: bool) -> list[Row]:
    rows: list[Row] = []
    for model, label in LABELS.items():
        cold = collected.cold(model)
        if cold is not None:
            rows.append(
                Row(f"approve → verdict, {label}, cold", f"{cold.seconds:.1f} s", note=cold.brief(), reduced=quick)
            )
        bench = collected.warm(model)
        prepared = None
        if bench is not None:
            plain, prepared = bench.median(model, "plain"), bench.median(model, "prepared")
            warm_target = WARM_TARGETS.get(model)
            rows.append(
                Row(
                    f"approve → verdict, {label}, warm",
                    f"{plain:.1f} s",
                    warm_target,
                    plain,
                    note=bench.of(model, "plain")[-1].brief(),
                    reduced=quick,
                )
            )
            rows.append(
                Row(
                    f"approve → verdict, {label}, warm, compiled in review",
                    f"{prepared:.1f} s",
                    PREPARED_TARGETS.get(model, warm_target),
                    prepared,
                    ratio=f"{plain / prepared:.1f}× faster than warm",
                    note=bench.of(model, "prepared")[-1].brief(),
                    reduced=quick,
                )
            )
        path = collected.pymc.get(model)
        if path is not None:
            ratio = path.total / prepared if prepared else None
            rows.append(
                Row(
                    f"pm.sample path, {label}",
                    f"{path.total:.1f} s",
                    RATIO_TARGETS.get(model),
                    ratio,
                    ratio=f"{ratio:.1f}× the compiled-in-review run" if ratio else "(approve not run)",
                    note=f"sample {path.sample:.1f}, loglik {path.loglik:.1f}, loo {path.loo:.1f}",
                    reduced=quick,
                )
            )
    return rows


def summary_rows(collected: Collected, quick: bool) -> list[Row]:
    rows = approve_rows(collected, quick)
    for design in collected.design:
        top = sorted(design.stages.items(), key=lambda kv: -kv[1])[:3]
        rows.append(
            Row(
                f"design run, {design.problem} ({design.rows} × {design.covariates})",
                f"{design.wall:.1f} s",
                DESIGN_TARGETS.get(design.problem),
                design.wall,
                note="slowest stages: " + ", ".join(f"{STAGE_LABELS.get(k, k)} {v:.1f}" for k, v in top),
            )
        )
    if collected.first_frame is not None:
        frame = collected.first_frame
        rows.append(
            Row(
                "workbench open → first frame",
                f"{frame.median:.2f} s",
                FIRST_FRAME_TARGET,
                frame.median,
                note=f"median of {len(frame.frames)}" + ("; PyMC WAS IMPORTED" if frame.pymc_loaded else ""),
            )
        )
    if collected.keys is not None:
        keys = collected.keys
        rows.append(
            Row(
                "key press → frame while sampling",
                f"{keys.median:.0f} ms",
                KEY_TARGET,
                keys.median,
                note=f"median of {len(keys.latencies)}, max {max(keys.latencies):.0f} ms",
            )
        )
    return rows


def print_summary(rows: list[Row], collected: Collected, settings: Settings, wall: float) -> None:
    header = ("what", "figure", "target", "met", "ratio", "note")
    cells = [(r.what, r.figure, r.target.text() if r.target else "", r.met(), r.ratio, r.note) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(header)]
    print(f"\n=== summary ({'--quick: ' if settings.quick else ''}{wall:.0f} s in all; {load_line()}) ===")
    if any(r.reduced for r in rows):
        print(f"sampling rows ran at {QUICK_DRAWS} draws + {QUICK_DRAWS} tuning steps per chain, 1 repeat: not judged")
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    print("-|-".join("-" * w for w in widths))
    for cell in cells:
        print(" | ".join(c.ljust(w) for c, w in zip(cell, widths)).rstrip())
    print(
        "notes: approve rows split the last run's seconds (compile, sampling, LOO; rest = loading, writing, "
        "scoring, committing); each group ran in a fresh process, its full output above"
    )
    if collected.failed:
        print(f"\nparts that did not finish: {', '.join(collected.failed)}")


# --------------------------------------------------------------------------- command line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=None, help="warm runs per model and mode (default 2; 1 with --quick)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 1 repeat, fewer draws, no pm.sample, IHDP design only"
    )
    parser.add_argument(
        "--parts", nargs="+", choices=PARTS, default=None, help=f"groups to run (default: {' '.join(PARTS)})"
    )
    parser.add_argument("--part", choices=PARTS, help=argparse.SUPPRESS)  # one part, in this process
    parser.add_argument("--models", default="baseline,larger", help=argparse.SUPPRESS)
    args = parser.parse_args()
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 2)
    settings = Settings(quick=args.quick, repeats=repeats)

    if args.part == "approve":
        from bench_iteration import sources

        part_approve(settings, IHDP, {name: sources()[name] for name in args.models.split(",")})
    elif args.part == "lalonde":
        part_approve(settings, LALONDE, {"lalonde": (LALONDE / "model.py").read_text()})
    elif args.part == "pymc":
        part_pymc(settings)
    elif args.part == "design":
        part_design(settings)
    elif args.part == "tui":
        part_tui(settings)
    if args.part:
        return 0

    parts = args.parts or (QUICK_PARTS if args.quick else PARTS)
    print(f"bench_speed: parts {' '.join(parts)}; repeats {repeats}{'; --quick' if args.quick else ''}; {load_line()}")
    started = time.perf_counter()
    collected = Collected()
    for part in parts:
        for invocation in invocations(part, settings):
            run_invocation(invocation, collected)
    print_summary(summary_rows(collected, args.quick), collected, settings, time.perf_counter() - started)
    return 1 if collected.failed else 0


if __name__ == "__main__":
    sys.exit(main())
