"""engine.plots: the series behind the TUI's plots, from hand-built records and seeded arrays."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.tui_data import fixture_records

from engine import plots
from engine.records import GateResult, Metrics, Verdict, VerdictKind


def test_elpd_trajectory_keeps_sampled_iterations_with_two_se_bars() -> None:
    s = plots.elpd_trajectory(fixture_records())
    # 2 (rejected), 6 (crashed) and 7 (design loop, no ELPD) have no ELPD.
    assert s.numbers == (1, 3, 4, 5)
    assert s.kept == (True, True, False, False)
    assert s.lower[0] == pytest.approx(-1328.4 - 2 * 22.1)
    assert s.upper[1] == pytest.approx(-1267.1 + 2 * 25.4)
    # The kept line: the best so far after each iteration.
    assert s.best == (-1328.4, -1267.1, -1267.1, -1267.1)


def test_effect_forest_is_the_kept_line_oldest_first() -> None:
    rows = plots.effect_forest(fixture_records())
    assert [r.number for r in rows] == [1, 3]
    assert (rows[1].low, rows[1].mean, rows[1].high) == (4.18, 4.58, 4.97)
    everything = plots.effect_forest(fixture_records(), kept_only=False)
    assert [r.number for r in everything] == [1, 3, 4, 5, 7]


def test_trace_is_thinned_and_rank_counts_add_up() -> None:
    draws = np.random.default_rng(0).normal(size=(4, 1000))
    trace = plots.trace_series(draws, max_points=250)
    assert trace.chains == 4 and len(trace.x[0]) == 250 and trace.x[0][1] == 4
    rank = plots.rank_series(draws, bins=20)
    assert [sum(c) for c in rank.counts] == [1000] * 4
    assert rank.expected == 50
    # Well-mixed chains: every bin near the uniform expectation.
    assert max(abs(c - rank.expected) for chain in rank.counts for c in chain) < 25


def test_rank_plot_shows_a_stuck_chain() -> None:
    rng = np.random.default_rng(1)
    draws = rng.normal(size=(3, 500))
    draws[2] += 3.0  # one chain in another mode
    rank = plots.rank_series(draws, bins=10)
    # Its draws pile up in the top ranks (~3× the uniform count) and never reach the bottom.
    assert rank.counts[2][-1] > 2.5 * rank.expected and rank.counts[2][0] == 0


def test_pareto_k_bands() -> None:
    k = [0.1, 0.55, 0.69, 0.71, 0.95, 1.3, float("nan")]
    counts = plots.pareto_k_counts(k)
    assert (counts.good, counts.ok, counts.bad, counts.very_bad) == (1, 2, 2, 1)
    assert counts.total == 6
    assert plots.pareto_k_series(k).index == tuple(range(7))


def test_convergence_rows_worst_first() -> None:
    from engine.records import ParamDiagnostic

    rows = plots.convergence_rows(
        [
            ParamDiagnostic("alpha", 1.001, 3000, 2000),
            ParamDiagnostic("nu", 1.05, 150, 300),
            ParamDiagnostic("sigma", 1.002, 350, 900),
        ]
    )
    assert [r.parameter for r in rows] == ["nu", "sigma", "alpha"]
    assert rows[0].failed == ("rhat", "ess_bulk", "ess_tail") and rows[1].failed == ("ess_bulk",)
    records = [ParamDiagnostic("a", 1.0, 900.0, 800.0), ParamDiagnostic("b", 1.03, 500.0, 450.0)]
    assert [r.parameter for r in plots.convergence_rows(records)] == ["b", "a"]
    assert plots.convergence_rows(()) == ()


def test_deciding_rule_names_the_gate_or_the_keep_rule() -> None:
    failed = Verdict(
        VerdictKind.FAILED_GATE,
        "R-hat",
        gates=(GateResult("rhat", 1.04, 1.01, False), GateResult("ess_bulk", 800, 400, True)),
    )
    assert plots.deciding_rule(failed) == "gate: rhat 1.04 (needs < 1.01) FAILED"
    kept = Verdict(VerdictKind.KEPT, "beats", Metrics(delta_elpd=12.0, delta_se=3.0))
    assert plots.deciding_rule(kept) == "keep rule: ΔELPD +12.0 ± 3.0 (needs > 2 × SE = 6.0)"
    assert plots.deciding_rule(Verdict(VerdictKind.CRASHED, "killed: memory")) == "crash: killed: memory"


def test_convergence_rows_put_failing_rows_first_then_highest_rhat() -> None:
    from engine.scoring import ParamDiagnostic

    table = [
        ParamDiagnostic("a", 1.002, 3000, 2000),
        ParamDiagnostic("b", 1.004, 3000, 2000),
        ParamDiagnostic("c", 1.001, 350, 2000),  # fails the ESS gate
        ParamDiagnostic("d", 1.003, 900, 800),
    ]
    rows = plots.convergence_rows(table, rhat_max=1.01, ess_min=400)
    assert [r.parameter for r in rows] == ["c", "b", "d", "a"]


def test_an_interval_is_named_for_what_it_is() -> None:
    from engine.records import Effect
    from screens.format import effect_text

    posterior = Effect("ATE", 4.1, 0.3, 3.5, 4.7)
    design = Effect("ATT", 4.0, 0.2, 3.6, 4.4, hdi_prob=0.95, interval="CI")
    assert posterior.interval_name == "94% HDI" and design.interval_name == "95% CI"
    assert effect_text(posterior) == "ATE 4.10 [3.50, 4.70]"
    assert effect_text(design) == "ATT 4.00 [3.60, 4.40] 95% CI"


def test_the_run_clock_counts_compile_and_sampling_as_one_without_restarting() -> None:
    from engine.sampling import Phase, SamplingProgress
    from screens.run import progress_line

    compiling = SamplingProgress(Phase.COMPILING, 0.0, 300.0)
    assert progress_line(compiling, waited_s=7.2) == "compiling the model (nutpie, numba) · 7 s"
    sampling = SamplingProgress(Phase.SAMPLING, 3.0, 300.0, (), compile_s=9.4)
    line = progress_line(sampling, waited_s=1.0)
    assert "13 s in all: compile 9 s, sampling 4 s of 300 s budget" in line  # 9.4 + 4: never back to 0
