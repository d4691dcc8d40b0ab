"""The quality battery: both loops, as a user runs them, on replications nobody tuned on, as Dask tasks.

The shipped problems are one draw each; a default that works there may blow up on the
next. This runs the real workbench headless (sandbox, offline agent, git) on:

- **design loop**: the ten ACIC 2016 simulations causallib ships (4,802 units, 58
  covariates), for the ATE and the ATT: the first run of the default ``analysis.toml``,
  and the best design after ``--design-iterations`` offline-agent iterations;
- **model loop**: IHDP response-surface-B replications (``ihdp_surface_B(seed)``, seeds
  1–20 by default; the shipped problem is seed 0), the best model after
  ``--model-iterations`` offline-agent iterations.

Each replication is one Dask task (:mod:`engine.batch.battery`) on a ``LocalCluster`` of this
machine's cores (``--workers``), or on a running cluster (``--scheduler tcp://host:8786`` or
``$DASK_SCHEDULER_ADDRESS``). This process builds each replication's problem folder (the
shipped one's contract and starting files, that replication's data), reads its truth and
keeps it: the task carries the folder without ``truth.json``, so no worker, session or agent
sees it. Prints a line per replication as it finishes, then RMSE, bias, mean interval width
and coverage per loop and stage, and the critic's separation (RMSE of the estimates it rates
satisfactory vs not satisfactory), beside the published ACIC 2016 bake-off figures; writes
the figures and the table to ``--report`` (default ``reports/quality-battery/``). Prints
figures; asserts nothing. A full run takes hours on 2 cores::

    python benchmarks/bench_quality.py [--replications N] [--loops design model] [--sims 1 2 ...]
        [--seeds 1 2 ...] [--design-iterations 5] [--model-iterations 10] [--estimands ATE ATT]
        [--workers N | --scheduler ADDRESS] [--report DIR] [--quick]
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.batch.battery import Answer, Replication, ReplicationResult  # noqa: E402
from engine.records import Loop  # noqa: E402

STAGES = ("first", "best", "stacked", "every")
"""The answers a replication gives: its first, the keep rule's best, (model loop) the LOO-stacked mixture, and
(design loop) every run the critic reviewed."""

PUBLISHED = (
    "published ACIC 2016 figures (Dorie et al. 2019, comparable data): BART about 0.10 RMSE with 80 % coverage; "
    "TMLE variants 0.1–0.4; plain linear regression 0.77 with 23 %"
)
STARTING_FILES = ("problem.toml", "PROBLEM.md", "PROGRAM.md", "analysis.toml", "model.py")


@dataclass(frozen=True)
class Estimate:
    """One loop's answer on one replication at one stage, beside the truth."""

    loop: str  # design | model
    replication: str  # e.g. "acic 3 ATT", "ihdp seed 7"
    stage: str  # first | best | stacked | every
    estimand: str
    value: float
    low: float
    high: float
    truth: float
    rating: str  # the critic's tier (design), the verdict (model)
    credible: bool  # design: the sanity net did not fail
    decided_by: str = ""  # the keep rule's clause behind the verdict
    move: str = ""  # the proposal's move the answer came from
    iteration: int = 0  # the record's number in the replication's session

    @property
    def error(self) -> float:
        return self.value - self.truth

    @property
    def covered(self) -> bool:
        return self.low <= self.truth <= self.high

    @property
    def judged(self) -> str:
        """The rating as printed: the tier or the verdict, the keep rule's clause and the move (model), NOT CREDIBLE."""
        why = "; ".join(w for w in (self.decided_by, self.move and f"move {self.move}") if w)
        clause = f" ({why})" if self.loop == "model" and why else ""
        return f"{self.rating}{clause}{'' if self.credible else ', NOT CREDIBLE'}"

    @property
    def satisfactory(self) -> bool:
        # design: the critic's two good tiers; model: kept (passed the gates and the keep rule), or stacked from such models
        return self.credible and self.rating in ("fully_satisfactory", "satisfactory_with_caveats", "kept", "stacked")


def make_data(problem: str):  # noqa: ANN201  (the problem's own make_data module)
    """Import ``problems/<problem>/make_data.py`` as a module."""
    path = ROOT / "problems" / problem / "make_data.py"
    spec = importlib.util.spec_from_file_location(f"make_data_{problem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def folder_of(root: Path, name: str) -> Path:
    """Where :func:`replication_folder` writes replication ``name`` under ``root``."""
    return root / name.replace(" ", "-")


def replication_folder(
    root: Path, problem: str, name: str, write, estimand: str | None
) -> tuple[dict[str, bytes], dict]:  # noqa: ANN001
    """One replication's problem folder as files (without its truth), and the truth, kept here."""
    folder = folder_of(root, name)
    folder.mkdir(parents=True)
    for file in STARTING_FILES:
        shutil.copy(ROOT / "problems" / problem / file, folder / file)
    write(folder)
    truth = json.loads((folder / "truth.json").read_text())
    (folder / "truth.json").unlink()  # no worker, session or agent may see it
    if estimand is not None:
        for file in ("problem.toml", "analysis.toml"):
            text = (folder / file).read_text()
            (folder / file).write_text(text.replace('estimand = "ATE"', f'estimand = "{estimand}"', 1))
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}, truth


def plan_replications(root: Path, args: argparse.Namespace) -> list[tuple[Replication, dict]]:
    """Every replication the flags ask for, with its truth (which stays in this process)."""
    planned = []
    if "design" in args.loops:
        acic = make_data("acic2016")
        for sim in args.sims:
            for estimand in args.estimands:
                name = f"acic {sim} {estimand}"
                files, truth = replication_folder(
                    root, "acic2016", name, lambda out, s=sim: acic.main(out, simulation=s), estimand
                )
                planned.append((Replication(name, Loop.DESIGN, files, 1 + args.design_iterations), truth))
    if "model" in args.loops:
        ihdp = make_data("ihdp")
        for seed in args.seeds:
            name = f"ihdp seed {seed}"
            files, truth = replication_folder(root, "ihdp", name, lambda out, s=seed: ihdp.main(out, seed=s), None)
            planned.append((Replication(name, Loop.MODEL, files, args.model_iterations), truth))
    return planned


def true_value(answer: Answer, truth: dict) -> float | None:
    """The truth of the answer's own estimand, or None when it has none here.

    A design run saves how much each unit counts in its estimate; the truth is then the same
    weighted mean of the unit effects (the ATE and ATT as the truth file gives them, an
    overlap-weighted or trimmed estimand over the population the analysis itself defined).
    Otherwise the truth file's value for the estimand's label (the model loop's ATE).
    """
    import numpy as np

    weights = answer.population
    if weights is not None and "ite" in truth and len(weights) == len(truth["ite"]) and weights.sum() > 0:
        return float(np.dot(weights, truth["ite"]) / weights.sum())
    value = truth.get(answer.effect.estimand.lower())
    return None if value is None else float(value)


def scored(result: ReplicationResult, truth: dict) -> list[Estimate]:
    """The replication's answers beside the truth of their own estimands (see :func:`true_value`)."""
    rows = []
    for answer in result.answers:
        value = true_value(answer, truth)
        if value is None:
            continue
        e = answer.effect
        rows.append(
            Estimate(
                result.loop.value,
                result.name,
                answer.stage,
                e.estimand,
                e.mean,
                e.hdi_low,
                e.hdi_high,
                float(value),
                answer.rating,
                answer.credible,
                answer.decided_by,
                answer.move,
                answer.iteration,
            )
        )
    return rows


def run_battery(planned: list[tuple[Replication, dict]], client) -> tuple[list[Estimate], float]:  # noqa: ANN001
    """Run every replication as a Dask task; print each as it finishes; return the scored rows and the wall time."""
    from engine.batch.battery import BATTERY_TOPIC, run_replication
    from engine.batch.cluster import stream

    truths = {rep.name: truth for rep, truth in planned}
    rows: list[Estimate] = []
    started = time.perf_counter()

    def on_result(name: str, result: ReplicationResult) -> None:
        mine = scored(result, truths[name])
        rows.extend(mine)
        by_stage = {e.stage: e for e in mine if e.stage != "every"}
        unscored = [
            f"{a.stage} {a.effect.estimand} (no truth for it)"
            for a in result.answers
            if a.stage != "every" and a.stage not in by_stage
        ]
        stacked = f"  →  stacked {line(by_stage['stacked'])}" if "stacked" in by_stage else ""
        print(
            f"{name:<16} {line(by_stage.get('first'))}  →  best {line(by_stage.get('best'))}{stacked}"
            f"{'; ' + ', '.join(unscored) if unscored else ''}  ({result.seconds:.0f} s, {result.recorded} iterations"
            f"{', ' + result.stopped_because if result.stopped_because else ''})",
            flush=True,
        )

    def on_error(name: str, exc: BaseException) -> None:
        print(f"{name:<16} did not finish: {type(exc).__name__}: {exc}", flush=True)

    stream(
        client,
        run_replication,
        {rep.name: rep for rep, _ in planned},
        topic=BATTERY_TOPIC,
        on_start=lambda s: None,
        on_result=on_result,
        on_error=on_error,
    )
    return rows, time.perf_counter() - started


def line(e: Estimate | None) -> str:
    if e is None:
        return "no estimate"
    return (
        f"{e.estimand} {e.value:7.3f} [{e.low:.3f}, {e.high:.3f}] truth {e.truth:.3f} err {e.error:+.3f} "
        f"{'covers' if e.covered else 'misses'}; {e.judged}"
    )


def rmse(rows: list[Estimate]) -> float:
    return math.sqrt(statistics.fmean(e.error**2 for e in rows)) if rows else float("nan")


def _tally(values: Iterable[str]) -> str:
    """``value count; …``, the most frequent first (an empty value reads "unrecorded")."""
    counts = collections.Counter(v or "unrecorded" for v in values)
    return "; ".join(f"{v} {n}" for v, n in counts.most_common())


def summary(rows: list[Estimate]) -> None:
    print(f"\n{'loop':<8}{'stage':<8}{'n':>4}{'RMSE':>9}{'MAE':>8}{'bias':>9}{'width':>9}{'cover':>8}{'satisf.':>9}")
    for loop in ("design", "model"):
        for stage in STAGES:
            sel = [e for e in rows if e.loop == loop and e.stage == stage]
            if not sel:
                continue
            print(
                f"{loop:<8}{stage:<8}{len(sel):>4}{rmse(sel):>9.3f}{statistics.fmean(abs(e.error) for e in sel):>8.3f}"
                f"{statistics.fmean(e.error for e in sel):>+9.3f}{statistics.fmean(e.high - e.low for e in sel):>9.3f}"
                f"{sum(e.covered for e in sel) / len(sel):>8.0%}{sum(e.satisfactory for e in sel) / len(sel):>9.0%}"
            )
    bests = [e for e in rows if e.loop == "model" and e.stage == "best"]
    if bests:
        # Which clause of the keep rule kept each best model: a tie-break on the narrower interval
        # selects on the effect's own precision, which coverage should be read beside.
        print("\nmodel loop, best models kept by: " + _tally(e.decided_by for e in bests))
        print("model loop, best models came from the move: " + _tally(e.move for e in bests))
    design = [e for e in rows if e.loop == "design" and e.stage in ("first", "best")]
    if design:
        good = [e for e in design if e.satisfactory]
        bad = [e for e in design if not e.satisfactory]
        credible_misses = [e for e in design if e.credible and abs(e.error) > 1.0]
        print(
            f"\ncritic's separation (design, both stages): RMSE {rmse(good):.3f} rated satisfactory (n={len(good)}) vs "
            f"{rmse(bad):.3f} not (n={len(bad)}); target: satisfactory ≤ a third of not. "
            f"Estimates off by more than 1.0 rated credible: {len(credible_misses)}"
        )
        own = [e for e in design if e.estimand not in ("ATE", "ATT")]
        if own:
            # Overlap-weighted and trimmed estimands answer for a population the analysis defined:
            # their truth is the same weighted mean of the unit effects (true_value), easier to hit.
            asked = [e for e in design if e.estimand in ("ATE", "ATT")]
            print(
                f"of these, {len(own)} answer a population of their own ({_tally(e.estimand for e in own)}); "
                f"over the ATEs and ATTs alone: RMSE {rmse([e for e in asked if e.satisfactory]):.3f} rated "
                f"satisfactory (n={sum(e.satisfactory for e in asked)}) vs {rmse([e for e in asked if not e.satisfactory]):.3f} "
                f"not (n={sum(not e.satisfactory for e in asked)})"
            )
        every = [e for e in rows if e.loop == "design" and e.stage == "every"]
        if every:
            good, bad = [e for e in every if e.satisfactory], [e for e in every if not e.satisfactory]
            misses = sum(e.credible and abs(e.error) > 1.0 for e in every)
            print(
                f"critic's separation over every design run it reviewed (first, best and the runs between): RMSE "
                f"{rmse(good):.3f} rated satisfactory (n={len(good)}) vs {rmse(bad):.3f} not (n={len(bad)}); "
                f"off by more than 1.0 and rated credible: {misses}"
            )
        print(PUBLISHED)


def write_report(rows: list[Estimate], folder: Path, wall_s: float, cluster: str) -> list[Path]:
    """The battery's figure (estimate and interval against the truth, per loop and stage) and its table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    panels = [(loop, stage) for loop in ("design", "model") for stage in STAGES]
    panels = [(loop, stage) for loop, stage in panels if any(e.loop == loop and e.stage == stage for e in rows)]
    if panels:
        fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.2), squeeze=False)
        for ax, (loop, stage) in zip(axes[0], panels):
            sel = [e for e in rows if e.loop == loop and e.stage == stage]
            for e in sel:
                colour = "tab:green" if e.satisfactory else "tab:red"
                ax.errorbar(
                    e.truth,
                    e.value,
                    yerr=[[e.value - e.low], [e.high - e.value]],
                    fmt="o",
                    color=colour,
                    mfc=colour if e.satisfactory else "white",
                    ms=5,
                    lw=1,
                )
            lo = min(min(e.low for e in sel), min(e.truth for e in sel))
            hi = max(max(e.high for e in sel), max(e.truth for e in sel))
            ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--")
            ax.set_title(f"{loop} loop, {stage} (RMSE {rmse(sel):.3f})")
            ax.set_xlabel("true effect")
            ax.set_ylabel("estimate and interval")
        fig.suptitle("Quality battery: filled green = rated satisfactory, hollow red = not")
        fig.tight_layout()
        path = folder / "estimates_vs_truth.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    table = [
        "| loop | replication | stage | iteration | estimand | estimate | interval | truth | error | covers | rating |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in rows:
        table.append(
            f"| {e.loop} | {e.replication} | {e.stage} | {e.iteration} | {e.estimand} | {e.value:.3f} | [{e.low:.3f}, {e.high:.3f}] | "
            f"{e.truth:.3f} | {e.error:+.3f} | {'yes' if e.covered else 'no'} | {e.judged} |"
        )
    md = folder / "quality.md"
    md.write_text(
        f"# Quality battery\n\n{cluster}; wall time {wall_s:.0f} s.\n\n![estimates vs truth](estimates_vs_truth.png)\n\n"
        + "\n".join(table)
        + f"\n\n{PUBLISHED}\n"
    )
    written.append(md)
    return written


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, help="the first N ACIC simulations (≤ 10) and IHDP seeds 1..N")
    parser.add_argument("--loops", nargs="*", default=["design", "model"], choices=["design", "model"])
    parser.add_argument("--sims", nargs="*", type=int, default=list(range(1, 11)))
    parser.add_argument("--estimands", nargs="*", default=["ATE", "ATT"], choices=["ATE", "ATT"])
    parser.add_argument("--design-iterations", type=int, default=5)
    parser.add_argument("--seeds", nargs="*", type=int, default=list(range(1, 21)))
    parser.add_argument("--model-iterations", type=int, default=10)
    parser.add_argument("--workers", type=int, help="worker processes of the local cluster (default: one per core)")
    parser.add_argument("--scheduler", help="a running Dask scheduler (default: $DASK_SCHEDULER_ADDRESS, else local)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: first runs only, the ATT only, 1 model iteration"
    )
    parser.add_argument("--report", type=Path, default=ROOT / "reports" / "quality-battery", help="where figures go")
    args = parser.parse_args(argv)
    if args.quick:
        args.design_iterations, args.model_iterations, args.estimands = 0, 1, ["ATT"]
    if args.replications is not None:
        args.sims = list(range(1, min(args.replications, 10) + 1))
        args.seeds = list(range(1, args.replications + 1))
    return args


def battery(args: argparse.Namespace) -> tuple[list[Estimate], float, str]:
    """Plan the replications, run them on the cluster the flags name; the rows, the wall time, the cluster."""
    from engine.batch.cluster import dask_client, describe

    with tempfile.TemporaryDirectory() as tmp:
        planned = plan_replications(Path(tmp), args)
        with dask_client(args.scheduler, args.workers) as client:
            cluster = describe(client)
            print(f"{len(planned)} replications on {cluster}", flush=True)
            rows, wall = run_battery(planned, client)
    return rows, wall, cluster


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rows, wall, cluster = battery(args)
    summary(rows)
    print(f"\nwall time {wall:.0f} s on {cluster}")
    for path in write_report(rows, args.report, wall, cluster):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
