"""Regenerate data.csv and truth.json for the retention-email problem (synthetic, ours).

A software company emails a renewal offer to some of its customers 30 days before
renewal. The campaign was *targeted*: account managers sent it to customers the churn
model flagged as risky, to valuable accounts and to accounts a manager had marked as a
priority. So the customers who got the email were, before it was sent, less likely to
renew than those who did not, and a naive comparison understates the email's effect.

The causal structure (every arrow is in the code below):

* pre-treatment: segment, region, tenure_months, prior_usage, prior_tickets,
  account_value, baseline_health, risk_score, manager_priority (confounders: they
  drive both targeting and renewal) and renewed_last_cycle (drives renewal but not
  targeting; kept as a placebo outcome). An unobserved trait, satisfaction, drives
  renewal, last cycle's renewal and post-email support tickets, but not targeting.
* wave (1–4): the week of the campaign the account fell in, drawn uniformly at random
  from its own generator, independent of everything else. It is pre-treatment and not a
  confounder (it drives neither targeting nor renewal without the email), but it
  modifies the effect: every email term in the renewal logit (direct, via click, via
  discount) is multiplied by ``SEASON[wave]``. Wave 2 lands just before quarter-end
  budget reviews and works twice as hard; wave 4 lands in the holiday week and does
  nothing. truth.json's ``by_wave`` holds each wave's true ATE, ATT and size.
* treatment: email (assignment, not uptake), logistic in the confounders as stored, so
  a main-effects logistic propensity model is correctly specified.
* mediators, only possible when emailed: opened → clicked_offer → used_discount.
* post-treatment descendant: support_ticket_after (caused by the email and by the
  unobserved satisfaction, so conditioning on it opens a collider path).
* outcome: renewed_30d; secondary outcome revenue_30d; future leakage value_60d.
* oracle (truth.json only): true_propensity, renewed_if_treated, renewed_if_control.

Per-unit true effects are ``P(renew | email) − P(renew | no email)`` for the unit's
pre-treatment traits (satisfaction and wave included), summing over the unit's possible mediator
paths exactly, so they carry no mediator-sampling noise.

Run from anywhere: ``python problems/retention_email/make_data.py [OUTPUT_FOLDER]``
(default: this folder). The seed is fixed and only numpy's ``default_rng`` is used, so
the files are byte-for-byte reproducible.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 4
N = 5000
WAVES = (1, 2, 3, 4)
SEASON = {1: 1.0, 2: 2.0, 3: 1.0, 4: 0.0}  # multiplies the email's log-odds terms, by wave
HERE = Path(__file__).resolve().parent


def _z(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / x.std()


def _invlogit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def simulate(seed: int = SEED, n: int = N) -> tuple[pd.DataFrame, dict]:
    """Draw one campaign: the observed frame and the oracle truth."""
    rng = np.random.default_rng(seed)
    # The wave has its own generator, so every other column's draws are those of `rng` alone.
    wave = np.random.default_rng([seed, 1]).choice(WAVES, size=n)
    season = np.vectorize(SEASON.get)(wave)

    # ---- pre-treatment customer traits
    segment = rng.choice(["smb", "mid_market", "enterprise"], size=n, p=[0.55, 0.30, 0.15])
    region = rng.choice(["north_america", "emea", "apac", "latam"], size=n, p=[0.40, 0.30, 0.20, 0.10])
    mid, ent = (segment == "mid_market").astype(float), (segment == "enterprise").astype(float)
    tenure_months = np.minimum(1 + np.floor(rng.gamma(2.0, 12.0, n) + 6 * ent), 120).astype(int)
    prior_usage = np.round(np.exp(rng.normal(2.0 + 0.3 * mid + 0.5 * ent, 0.5, n)), 1)  # hours / week
    prior_tickets = rng.poisson(np.exp(0.1 + 0.3 * mid + 0.6 * ent - 0.1 * _z(prior_usage)))
    account_value = np.round(np.exp(rng.normal(np.log(150) + 0.6 * mid + 1.1 * ent, 0.3, n)), 2)  # $ / month
    satisfaction = rng.normal(0.0, 1.0, n)  # unobserved
    baseline_health = np.clip(
        60
        + 7 * _z(np.log(prior_usage))
        - 4 * _z(prior_tickets)
        + 3 * _z(np.log1p(tenure_months))
        + 4 * satisfaction
        + rng.normal(0, 8, n),
        0,
        100,
    ).round(1)
    risk_score = _invlogit(
        -0.8
        - 0.05 * (baseline_health - 60)
        + 0.25 * (prior_tickets - prior_tickets.mean())
        - 0.015 * (tenure_months - tenure_months.mean())
        + rng.normal(0, 0.5, n)
    ).round(3)
    manager_priority = rng.binomial(1, _invlogit(-2.0 + 0.6 * mid + 1.4 * ent + 0.8 * _z(account_value)))
    renewed_last_cycle = rng.binomial(
        1, _invlogit(1.3 - 0.9 * _z(risk_score) + 0.3 * _z(baseline_health) + 0.6 * satisfaction)
    )

    # ---- treatment: targeted at risky, valuable and priority accounts
    region_shift = {"north_america": 0.0, "emea": 0.2, "apac": -0.2, "latam": 0.1}
    true_propensity = _invlogit(
        -0.6
        + 0.7 * _z(risk_score)
        + 0.4 * _z(account_value)
        + 0.7 * manager_priority
        + 0.2 * mid
        + 0.3 * ent
        - 0.15 * _z(baseline_health)
        + 0.1 * _z(prior_tickets)
        + np.vectorize(region_shift.get)(region)
    )
    email = rng.binomial(1, true_propensity)

    # ---- mediators under email (zero without it): opened -> clicked_offer -> used_discount
    p_open = _invlogit(0.2 + 0.4 * _z(prior_usage) + 0.3 * _z(baseline_health))
    p_click = _invlogit(-0.4 + 0.5 * _z(risk_score))
    p_use = _invlogit(0.2 + 0.4 * _z(account_value))
    opened_1 = rng.binomial(1, p_open)
    clicked_1 = opened_1 * rng.binomial(1, p_click)
    used_1 = clicked_1 * rng.binomial(1, p_use)

    # ---- renewal: baseline logit, plus the email's direct nudge and its mediated paths, scaled by wave
    tenure_effect = 0.6 * np.log1p(tenure_months) / np.log1p(120)  # saturating
    base = (
        0.7
        - 1.0 * _z(risk_score)
        + 0.4 * _z(baseline_health)
        + 0.25 * _z(np.log(prior_usage))
        + tenure_effect
        + 0.2 * ent
        - 0.15 * (region == "latam")
        + 0.7 * satisfaction
    )
    direct, via_click, via_discount = 0.20, 0.40, 1.30

    def p_renew(clicked: np.ndarray, used: np.ndarray, emailed: float) -> np.ndarray:
        return _invlogit(base + emailed * season * (direct + via_click * clicked + via_discount * used))

    p0 = p_renew(np.zeros(n), np.zeros(n), 0.0)
    # Exact expectation over the unit's mediator paths: none, opened only, clicked, used.
    paths = [
        ((1 - p_open), 0.0, 0.0),
        (p_open * (1 - p_click), 0.0, 0.0),
        (p_open * p_click * (1 - p_use), 1.0, 0.0),
        (p_open * p_click * p_use, 1.0, 1.0),
    ]
    # Summing each path's change (not p1 − p0) keeps a wave-4 unit's effect exactly zero.
    ite = sum(w * (p_renew(np.full(n, c), np.full(n, u), 1.0) - p0) for w, c, u in paths)

    u = rng.uniform(size=n)  # one draw per unit couples the two potential outcomes
    renewed_if_control = (u < p0).astype(int)
    renewed_if_treated = (u < p_renew(clicked_1, used_1, 1.0)).astype(int)
    renewed_30d = np.where(email == 1, renewed_if_treated, renewed_if_control)

    opened, clicked_offer, used_discount = email * opened_1, email * clicked_1, email * used_1
    support_ticket_after = rng.binomial(
        1, _invlogit(-1.6 + 1.0 * email + 0.3 * _z(prior_tickets) - 1.2 * satisfaction + 0.4 * used_discount)
    )
    revenue_30d = np.round(renewed_30d * account_value * (1 - 0.2 * used_discount) * rng.lognormal(0, 0.1, n), 2)
    value_60d = np.round(renewed_30d * 2 * account_value * rng.lognormal(0, 0.15, n), 2)

    frame = pd.DataFrame(
        {
            "email": email,
            "renewed_30d": renewed_30d,
            "segment": segment,
            "region": region,
            "wave": wave,
            "tenure_months": tenure_months,
            "prior_usage": prior_usage,
            "prior_tickets": prior_tickets,
            "account_value": account_value,
            "baseline_health": baseline_health,
            "risk_score": risk_score,
            "manager_priority": manager_priority,
            "renewed_last_cycle": renewed_last_cycle,
            "opened": opened,
            "clicked_offer": clicked_offer,
            "used_discount": used_discount,
            "support_ticket_after": support_ticket_after,
            "revenue_30d": revenue_30d,
            "value_60d": value_60d,
        }
    )
    treated = email == 1
    truth = {
        "source": f"problems/retention_email/make_data.py (numpy default_rng({seed}), wave from default_rng([{seed}, 1]), n={n})",
        # Means rounded to 12 digits: NumPy's summation order differs between builds in the last bit.
        "ate": round(float(ite.mean()), 12),
        "att": round(float(ite[treated].mean()), 12),
        "atc": round(float(ite[~treated].mean()), 12),
        "ate_sample": round(float((renewed_if_treated - renewed_if_control).mean()), 12),
        "by_wave": {
            str(w): {
                "ate": round(float(ite[wave == w].mean()), 12),
                "att": round(float(ite[(wave == w) & treated].mean()), 12),
                "n": int((wave == w).sum()),
            }
            for w in WAVES
        },
        "ite": [round(float(v), 6) for v in ite],
        "true_propensity": [round(float(v), 6) for v in true_propensity],
        "renewed_if_treated": [int(v) for v in renewed_if_treated],
        "renewed_if_control": [int(v) for v in renewed_if_control],
    }
    return frame, truth


def main(out: Path = HERE) -> None:
    out.mkdir(parents=True, exist_ok=True)
    frame, truth = simulate()
    frame.to_csv(out / "data.csv", index=False)
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    t, y = frame["email"], frame["renewed_30d"]
    naive = y[t == 1].mean() - y[t == 0].mean()
    print(
        f"wrote {len(frame)} rows ({int(t.sum())} emailed); true ATE {truth['ate']:.4f}, "
        f"ATT {truth['att']:.4f}; naive difference {naive:.4f}"
    )
    print("true ATE by wave: " + ", ".join(f"{w} {v['ate']:.4f} (n={v['n']})" for w, v in truth["by_wave"].items()))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
