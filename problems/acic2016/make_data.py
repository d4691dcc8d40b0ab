"""Regenerate data.csv and truth.json for the ACIC 2016 problem.

One of the ten ACIC 2016 data-challenge simulations that causallib ships
(``causallib/datasets/data/acic_challenge_2016``): 4,802 units with 58 real covariates
(``x.csv``; x_2, x_21 and x_24 are strings) and a simulated treatment ``z``, noisy
potential outcomes ``y0``/``y1`` and noiseless expected potential outcomes
``mu0``/``mu1`` (``zymu_<k>.csv``). The observed outcome is ``z·y1 + (1 − z)·y0``; the
true per-unit effects are ``mu1 − mu0``.

Run from anywhere: ``python problems/acic2016/make_data.py [OUTPUT_FOLDER]`` (default:
this folder). Nothing is random here: the files depend only on causallib's package data.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from causallib.datasets.data_loader import load_acic16

SIMULATION = 6  # which of zymu_1..zymu_10
HERE = Path(__file__).resolve().parent


def main(out: Path = HERE, simulation: int = SIMULATION) -> None:
    """Write data.csv and truth.json for causallib's ``simulation`` (1–10; 6 is the shipped one)."""
    out.mkdir(parents=True, exist_ok=True)
    x, zymu = load_acic16(instance=simulation, raw=True)
    z = zymu["z"].to_numpy().astype(int)
    y = np.where(z == 1, zymu["y1"], zymu["y0"])
    frame = pd.concat([pd.DataFrame({"treatment": z, "y": np.round(y, 6)}), x.reset_index(drop=True)], axis=1)
    frame.to_csv(out / "data.csv", index=False)
    effect = (zymu["mu1"] - zymu["mu0"]).to_numpy()
    truth = {
        "source": f"causallib acic_challenge_2016 x.csv + zymu_{simulation}.csv (effects from mu1 - mu0)",
        "ate": float(effect.mean()),
        "att": float(effect[z == 1].mean()),
        "atc": float(effect[z == 0].mean()),
        "ite": [round(float(v), 6) for v in effect],
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    print(f"wrote {len(frame)} rows ({int(z.sum())} treated); true ATE {truth['ate']:.3f}, ATT {truth['att']:.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
