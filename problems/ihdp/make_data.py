"""Regenerate data.csv and truth.json for the IHDP problem.

Hill (2011) response surface B on the IHDP covariates EconML ships, through
``econml.data.dgps.ihdp_surface_B``: treated children of non-white mothers are dropped
(747 units: 139 treated, 608 control), the six continuous covariates come standardised,
and the outcome is a non-linear (exponential) control surface plus a linear treated one.

Run from anywhere: ``python problems/ihdp/make_data.py [OUTPUT_FOLDER]`` (default: this
folder). The seed is fixed, so the files are byte-for-byte reproducible for a given
EconML version; the tests regenerate them into a temporary folder and compare.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from econml.data.dgps import ihdp_surface_B

SEED = 0  # a heavy-tailed draw: an exp() control surface that rigid models get confidently wrong
HERE = Path(__file__).resolve().parent
COVARIATES = [
    "bw",
    "b_head",
    "preterm",
    "birth_o",
    "nnhealth",
    "momage",
    "sex",
    "twin",
    "b_marr",
    "mom_lths",
    "mom_hs",
    "mom_scoll",
    "cig",
    "first",
    "booze",
    "drugs",
    "work_dur",
    "prenatal",
    "site1",
    "site2",
    "site3",
    "site4",
    "site5",
    "site6",
    "site7",
]


def main(out: Path = HERE, seed: int = SEED) -> None:
    """Write data.csv and truth.json for surface B drawn with ``seed`` (other seeds: held-out replications)."""
    out.mkdir(parents=True, exist_ok=True)
    y, t, x, true_te = ihdp_surface_B(random_state=seed)
    x = x[:, 1:]  # drop the intercept column EconML prepends
    frame = pd.DataFrame(x, columns=COVARIATES)
    for name in COVARIATES[6:]:
        frame[name] = frame[name].astype(int)
    frame.insert(0, "y", np.round(y, 6))
    frame.insert(0, "treatment", t.astype(int))
    frame[COVARIATES[:6]] = frame[COVARIATES[:6]].round(6)
    frame.to_csv(out / "data.csv", index=False)
    truth = {
        "source": f"econml.data.dgps.ihdp_surface_B(random_state={seed})",
        "ate": float(true_te.mean()),
        "att": float(true_te[t == 1].mean()),
        "atc": float(true_te[t == 0].mean()),
        "ite": [round(float(v), 6) for v in true_te],
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    print(f"wrote {len(frame)} rows ({int(t.sum())} treated); true ATE {truth['ate']:.3f}, ATT {truth['att']:.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
