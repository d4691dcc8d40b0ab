"""Regenerate data.csv for the LaLonde problem (real data: no truth.json).

LaLonde (1986) and Dehejia & Wahba (1999): the 185 men the National Supported Work
(NSW) demonstration randomised into job training (causaldata's ``nsw_mixtape``, treated
rows only), set against 15,992 men from the Current Population Survey (``cps_mixtape``)
who stand in for the control group. The randomised NSW controls are left out on
purpose: the exercise is to recover the experimental answer from observational
controls. Earnings are in 1978 dollars, rounded to cents.

Run from anywhere: ``python problems/lalonde/make_data.py [OUTPUT_FOLDER]`` (default:
this folder). Nothing is random here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from causaldata import cps_mixtape, nsw_mixtape

HERE = Path(__file__).resolve().parent
COLUMNS = ["treat", "re78", "age", "educ", "black", "hisp", "marr", "nodegree", "re74", "re75"]
EARNINGS = ["re74", "re75", "re78"]


def main(out: Path = HERE) -> None:
    out.mkdir(parents=True, exist_ok=True)
    nsw = nsw_mixtape.load_pandas().data
    cps = cps_mixtape.load_pandas().data
    frame = pd.concat([nsw[nsw["treat"] == 1], cps], ignore_index=True)[COLUMNS]
    for name in COLUMNS:
        frame[name] = frame[name].astype(float).round(2) if name in EARNINGS else frame[name].astype(int)
    frame.to_csv(out / "data.csv", index=False)
    experimental = nsw.loc[nsw["treat"] == 1, "re78"].mean() - nsw.loc[nsw["treat"] == 0, "re78"].mean()
    t, y = frame["treat"], frame["re78"]
    print(
        f"wrote {len(frame)} rows ({int(t.sum())} treated); NSW vs CPS difference in means "
        f"{y[t == 1].mean() - y[t == 0].mean():,.0f}; experimental benchmark {experimental:,.2f}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
