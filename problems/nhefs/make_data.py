"""Regenerate data.csv for the NHEFS problem (real data: no truth.json).

The NHEFS smoking-cessation cohort as Hernán & Robins use it in *Causal Inference:
What If*, from causaldata's ``nhefs_complete``: the 1,566 cigarette smokers aged 25–74
at the 1971 baseline whose weight was measured again in 1982 (complete cases).

Kept columns, by role in problem.toml: treatment ``qsmk``; outcome ``wt82_71``; the
nine confounders of the book's IP-weighting model; ``ht`` (height in 1971, a
pre-treatment placebo outcome); and three post-treatment columns kept only so the guard
can forbid them: ``wt82`` (1982 weight = wt71 + wt82_71), ``death`` (died by 1992) and
``smkintensity82_71`` (change in cigarettes per day, 1971–1982). Every other NHEFS
column is left out.

Run from anywhere: ``python problems/nhefs/make_data.py [OUTPUT_FOLDER]`` (default: this
folder). Nothing is random here.
"""

from __future__ import annotations

import sys
from pathlib import Path

from causaldata import nhefs_complete

HERE = Path(__file__).resolve().parent
INTEGER = ["qsmk", "sex", "race", "age", "education", "smokeintensity", "smokeyrs", "exercise", "active", "death"]
COLUMNS = [
    "qsmk",
    "wt82_71",
    "sex",
    "race",
    "age",
    "education",
    "smokeintensity",
    "smokeyrs",
    "exercise",
    "active",
    "wt71",
    "ht",
    "wt82",
    "death",
    "smkintensity82_71",
]


def main(out: Path = HERE) -> None:
    out.mkdir(parents=True, exist_ok=True)
    raw = nhefs_complete.load_pandas().data
    frame = raw[COLUMNS].copy()
    for name in INTEGER:  # causaldata stores several of these as string categoricals
        frame[name] = frame[name].astype(str).astype(float).astype(int)
    for name in ("wt82_71", "wt71", "ht", "wt82", "smkintensity82_71"):
        frame[name] = frame[name].astype(float).round(6)
    frame.to_csv(out / "data.csv", index=False)
    t, y = frame["qsmk"], frame["wt82_71"]
    print(
        f"wrote {len(frame)} rows ({int(t.sum())} quit smoking); "
        f"unadjusted difference {y[t == 1].mean() - y[t == 0].mean():.2f} kg"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
