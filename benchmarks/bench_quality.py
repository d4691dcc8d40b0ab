"""The quality battery: both loops, as a user runs them, on replications nobody tuned on.

The shipped problems are one draw each; a default that works there may blow up on the
next. This runs the real workbench headless (sandbox, offline agent, git) on:

- **design loop**: the ten ACIC 2016 simulations causallib ships (4,802 units, 58
  covariates), for the ATE and the ATT: the first run of the default ``analysis.toml``,
  and the best design after ``--design-iterations`` offline-agent iterations;
- **model loop**: IHDP response-surface-B replications (``ihdp_surface_B(seed)``, seeds
  1–20 by default; the shipped problem is seed 0), the best model after
  ``--model-iterations`` offline-agent iterations.

Each replication gets its own problem folder (the shipped one's contract and starting
files, that replication's data); its truth is read by this script and deleted from the
folder before the workbench opens it. Prints per replication and then RMSE, bias, mean
interval width and coverage per loop and stage, and the critic's separation (RMSE of the
estimates it rates satisfactory vs not satisfactory), beside the published ACIC 2016
bake-off figures. Prints figures; asserts nothing. A full run takes hours on 2 cores::

    python benchmarks/bench_quality.py [--loops design model] [--sims 1 2 ...] [--seeds 1 2 ...]
        [--design-iterations 5] [--model-iterations 10] [--estimands ATE ATT]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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
    stage: str  # first | best
    estimand: str
    value: float
    low: float
    high: float
    truth: float
    rating: str  # the critic's tier (design), the verdict (model)
    credible: bool  # design: the sanity net did not fail

    @property
    def error(self) -> float:
        return self.value - self.truth

    @property
    def covered(self) -> bool:
        return self.low <= self.truth <= self.high

    @property
    def satisfactory(self) -> bool:
        return self.credible and self.rating in ("fully_satisfactory", "satisfactory_with_caveats")


def make_data(problem: str):  # noqa: ANN201  (the problem's own make_data module)
    """Import ``problems/<problem>/make_data.py`` as a module."""
    path = ROOT / "problems" / problem / "make_data.py"
    spec = importlib.util.spec_from_file_location(f"make_data_{problem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def replication_folder(root: Path, problem: str, name: str, write, estimand: str | None) -> tuple[Path, dict]:  # noqa: ANN001
    """A problem folder with the shipped starting files and one replication's data; returns its truth."""
    folder = root / name.replace(" ", "-")
    folder.mkdir(parents=True)
    for file in STARTING_FILES:
        shutil.copy(ROOT / "problems" / problem / file, folder / file)
    write(folder)
    truth = json.loads((folder / "truth.json").read_text())
    (folder / "truth.json").unlink()  # the session must never see it
    if estimand is not None:
        for file in ("problem.toml", "analysis.toml"):
            text = (folder / file).read_text()
            (folder / file).write_text(text.replace('estimand = "ATE"', f'estimand = "{estimand}"', 1))
    return folder, truth


def run_loop(folder: Path, sessions: Path, loop: str, iterations: int) -> list:  # noqa: ANN001
    """Open a session on ``folder`` and run ``iterations`` offline-agent iterations of ``loop``."""
    from engine.headless import HeadlessRun
    from engine.launch import open_workbench

    wb = open_workbench(folder, sessions_root=sessions, agent="heuristic")
    try:
        return HeadlessRun(wb, "guard-clean", loop=loop).run(iterations)
    finally:
        wb.discard_prepared()
        wb.session.close()


def estimate_of(record, loop: str, replication: str, stage: str, truth: dict) -> Estimate | None:  # noqa: ANN001
    """The record's effect beside the truth for its estimand (None when it has no effect or truth)."""
    effect = record.verdict.metrics.effect if record.verdict is not None else None
    if effect is None:
        return None
    value = truth.get(effect.estimand.lower())
    if value is None:  # ATO or a trimmed population: no truth to compare with
        return None
    design = record.design
    rating = record.critique.tier.value if record.critique is not None else record.status
    credible = design is None or design.sanity is None or design.sanity.credible
    return Estimate(
        loop,
        replication,
        stage,
        effect.estimand,
        effect.mean,
        effect.hdi_low,
        effect.hdi_high,
        float(value),
        rating,
        credible,
    )


def best_of(records: list) -> object | None:  # noqa: ANN001
    kept = [r for r in records if r.status == "kept"]
    return kept[-1] if kept else None


def design_battery(root: Path, sims: list[int], estimands: list[str], iterations: int) -> list[Estimate]:
    acic = make_data("acic2016")
    rows: list[Estimate] = []
    for sim in sims:
        for estimand in estimands:
            name = f"acic {sim} {estimand}"
            folder, truth = replication_folder(
                root, "acic2016", name, lambda out, s=sim: acic.main(out, simulation=s), estimand
            )
            started = time.perf_counter()
            records = run_loop(folder, root / "sessions", "design", 1 + iterations)
            first = estimate_of(records[0], "design", name, "first", truth) if records else None
            best_record = best_of(records)
            best = estimate_of(best_record, "design", name, "best", truth) if best_record else None
            for e in (first, best):
                if e is not None:
                    rows.append(e)
            best_text = line(best) if best is not None or best_record is None else unscored(best_record)
            print(f"{name:<16} {line(first)}  →  best {best_text}  ({time.perf_counter() - started:.0f} s)", flush=True)
    return rows


def unscored(record) -> str:  # noqa: ANN001
    """A kept design whose estimand has no truth to compare with (ATO, a trimmed population)."""
    effect = record.verdict.metrics.effect
    return f"{effect.estimand} {effect.mean:.3f} [{effect.hdi_low:.3f}, {effect.hdi_high:.3f}] (no truth for it)"


def model_battery(root: Path, seeds: list[int], iterations: int) -> list[Estimate]:
    ihdp = make_data("ihdp")
    rows: list[Estimate] = []
    for seed in seeds:
        name = f"ihdp seed {seed}"
        folder, truth = replication_folder(root, "ihdp", name, lambda out, s=seed: ihdp.main(out, seed=s), None)
        started = time.perf_counter()
        records = run_loop(folder, root / "sessions", "model", iterations)
        kept = [r for r in records if r.status == "kept"]
        first = estimate_of(kept[0], "model", name, "first", truth) if kept else None
        best = estimate_of(kept[-1], "model", name, "best", truth) if kept else None
        for e in (first, best):
            if e is not None:
                rows.append(e)
        print(f"{name:<16} {line(first)}  →  best {line(best)}  ({time.perf_counter() - started:.0f} s)", flush=True)
    return rows


def line(e: Estimate | None) -> str:
    if e is None:
        return "no estimate"
    mark = "" if e.credible else " NOT CREDIBLE"
    return (
        f"{e.estimand} {e.value:7.3f} [{e.low:.3f}, {e.high:.3f}] truth {e.truth:.3f} err {e.error:+.3f} "
        f"{'covers' if e.covered else 'misses'}; {e.rating}{mark}"
    )


def rmse(rows: list[Estimate]) -> float:
    return math.sqrt(statistics.fmean(e.error**2 for e in rows)) if rows else float("nan")


def summary(rows: list[Estimate]) -> None:
    print(f"\n{'loop':<8}{'stage':<7}{'n':>4}{'RMSE':>9}{'MAE':>8}{'bias':>9}{'width':>9}{'cover':>8}{'satisf.':>9}")
    for loop in ("design", "model"):
        for stage in ("first", "best"):
            sel = [e for e in rows if e.loop == loop and e.stage == stage]
            if not sel:
                continue
            print(
                f"{loop:<8}{stage:<7}{len(sel):>4}{rmse(sel):>9.3f}{statistics.fmean(abs(e.error) for e in sel):>8.3f}"
                f"{statistics.fmean(e.error for e in sel):>+9.3f}{statistics.fmean(e.high - e.low for e in sel):>9.3f}"
                f"{sum(e.covered for e in sel) / len(sel):>8.0%}{sum(e.satisfactory for e in sel) / len(sel):>9.0%}"
            )
    design = [e for e in rows if e.loop == "design"]
    if design:
        good = [e for e in design if e.satisfactory]
        bad = [e for e in design if not e.satisfactory]
        credible_misses = [e for e in design if e.credible and abs(e.error) > 1.0]
        print(
            f"\ncritic's separation (design, both stages): RMSE {rmse(good):.3f} rated satisfactory (n={len(good)}) vs "
            f"{rmse(bad):.3f} not (n={len(bad)}); target: satisfactory ≤ a third of not. "
            f"Estimates off by more than 1.0 rated credible: {len(credible_misses)}"
        )
        print(PUBLISHED)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", nargs="*", default=["design", "model"], choices=["design", "model"])
    parser.add_argument("--sims", nargs="*", type=int, default=list(range(1, 11)))
    parser.add_argument("--estimands", nargs="*", default=["ATE", "ATT"], choices=["ATE", "ATT"])
    parser.add_argument("--design-iterations", type=int, default=5)
    parser.add_argument("--seeds", nargs="*", type=int, default=list(range(1, 21)))
    parser.add_argument("--model-iterations", type=int, default=10)
    args = parser.parse_args()
    rows: list[Estimate] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if "design" in args.loops:
            rows += design_battery(root, args.sims, args.estimands, args.design_iterations)
        if "model" in args.loops:
            rows += model_battery(root, args.seeds, args.model_iterations)
    summary(rows)


if __name__ == "__main__":
    main()
