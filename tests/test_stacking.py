"""LOO stacking of a session's models: the weights (ArviZ's optimiser), the effect mixture, and
which iterations of a real session store are stacked and which are left out, with why.

The weights are checked against the objective they maximise (the log score of the mixture of
leave-one-out predictive densities), not against numbers copied from a run.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_store import make_record

from engine.effects import summarize_draws
from engine.problem_load import load_problem
from engine.records import Loop, VerdictKind
from engine.report import build_report, render_markdown
from engine.report.text import effect_text
from engine.stacking import StackInput, stack, stack_session, stacking_weights
from engine.store import Session
from engine.store.files import EFFECT_DRAWS_FILE

ROOT = Path(__file__).resolve().parents[1]
N = 400


def log_score(pointwise: list[np.ndarray], w: np.ndarray) -> float:
    """The stacking objective: Σ_i log Σ_k w_k exp(elpd_ik)."""
    dens = np.exp(np.column_stack(pointwise))
    return float(np.log(dens @ w).sum())


def model(number: int, pointwise: np.ndarray, draws: np.ndarray, estimand: str = "ATE") -> StackInput:
    return StackInput(number, f"move-{number}", summarize_draws(draws, estimand), pointwise, draws)


def draws_around(mean: float, seed: int, sd: float = 0.05) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, sd, size=(2, 500))


def test_a_model_better_on_every_observation_takes_all_the_weight() -> None:
    rng = np.random.default_rng(1)
    worse = rng.normal(-1.5, 0.3, N)
    better = worse + rng.uniform(0.2, 0.6, N)
    w = stacking_weights([worse, better])
    assert w.sum() == pytest.approx(1.0) and w[1] > 0.99


def test_models_each_better_on_half_the_data_share_the_weight_at_the_optimum() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(-1.5, 0.2, N)
    b = a.copy()
    half = np.arange(N) < N // 2
    a[half] += 1.0  # a predicts the first half better, b the second
    b[~half] += 1.0
    w = stacking_weights([a, b])
    assert 0.3 < w[0] < 0.7 and w.min() >= 0 and w.sum() == pytest.approx(1.0)
    best = log_score([a, b], w)
    for other in np.linspace(0, 1, 21):  # no other split of the weight scores better
        assert best >= log_score([a, b], np.array([other, 1 - other])) - 1e-6


def test_an_observation_every_model_finds_very_unlikely_does_not_stall_the_weights() -> None:
    """exp(−900) underflows to 0 for both models: without care the optimiser stays at ½, ½."""
    a, b = np.full(50, -1.0), np.full(50, -0.5)
    a[0], b[0] = -900.0, -950.0  # a is e^50 times likelier on this one observation; b better on the rest
    w = stacking_weights([a, b])
    # The same problem with that observation's densities both raised by 899: the weights cannot change.
    a2, b2 = a.copy(), b.copy()
    a2[0], b2[0] = -1.0, -51.0
    assert w == pytest.approx(stacking_weights([a2, b2]), abs=1e-4)
    assert 0.01 < w[0] < 0.2


def test_models_scored_on_different_rows_are_refused() -> None:
    with pytest.raises(ValueError, match="different numbers of observations"):
        stacking_weights([np.zeros(10), np.zeros(11)])


def test_the_stack_of_a_dominant_model_is_that_model() -> None:
    rng = np.random.default_rng(3)
    worse = rng.normal(-1.5, 0.3, N)
    only = model(2, worse + 1.0, draws_around(4.0, 1))
    stacked = stack([model(1, worse, draws_around(3.0, 2)), only])
    assert [w.number for w in stacked.weights][0] == 2
    assert stacked.effect.mean == pytest.approx(4.0, abs=0.01)
    assert stacked.effect.hdi_low == pytest.approx(only.effect.hdi_low, abs=0.02)
    assert "stacked over 2 models" in stacked.describe() and "#2 move-2 100%" in stacked.describe()


def test_a_shared_weight_mixes_the_effects_and_the_interval_spans_their_disagreement() -> None:
    rng = np.random.default_rng(4)
    a = rng.normal(-1.5, 0.2, N)
    b = a.copy()
    a[: N // 2] += 1.0
    b[N // 2 :] += 1.0
    low, high = model(1, a, draws_around(3.8, 5)), model(2, b, draws_around(4.2, 6))
    stacked = stack([low, high])
    w = {s.number: s.weight for s in stacked.weights}
    assert stacked.effect.mean == pytest.approx(w[1] * 3.8 + w[2] * 4.2, abs=0.01)
    # Each model's interval is about 0.19 wide; the mixture's covers both models' means.
    assert stacked.effect.hdi_low < 3.8 and stacked.effect.hdi_high > 4.2
    assert stacked.effect.hdi_prob == low.effect.hdi_prob
    # The same inputs give the same interval (the resampling is seeded).
    assert stack([low, high]).effect == stacked.effect


def test_models_of_different_estimands_or_a_single_model_are_refused() -> None:
    p = np.zeros(N)
    with pytest.raises(ValueError, match="different estimands"):
        stack([model(1, p, draws_around(4, 1)), model(2, p, draws_around(4, 2), "ATT")])
    with pytest.raises(ValueError, match="at least two"):
        stack([model(1, p, draws_around(4, 1))])


PROBLEM = load_problem(ROOT / "problems" / "ihdp")
BASE = np.random.default_rng(7).normal(-1.5, 0.3, len(PROBLEM.data))


def five_iteration_session(root: Path, plan: list | None = None) -> Path:
    """A real session store: kept, failed-gate, discarded, discarded without draws, kept (the best)."""
    source = (ROOT / "problems" / "ihdp" / "model.py").read_text()
    plan = plan or [  # (verdict, pointwise ELPD, effect draws or None)
        (VerdictKind.KEPT, BASE, draws_around(3.9, 1)),
        (VerdictKind.FAILED_GATE, BASE + 2.0, draws_around(9.0, 2)),  # never stacked: it failed a gate
        (VerdictKind.DISCARDED, BASE + 0.01, draws_around(4.1, 3)),
        (VerdictKind.DISCARDED, BASE + 0.5, None),  # its draws were never saved
        (VerdictKind.KEPT, BASE + 0.02, draws_around(4.0, 4)),
    ]
    with Session.create(PROBLEM, root) as session:
        old = source
        for number, (verdict, elpd, draws) in enumerate(plan, start=1):
            new = old + f"\n# {number}\n"
            record = make_record(number, old=old, new=new, verdict=verdict)
            shown = draws if draws is not None else draws_around(4.0, 9)
            effect = summarize_draws(shown, "ATE")
            assert record.verdict is not None
            record = replace(
                record, verdict=replace(record.verdict, metrics=replace(record.verdict.metrics, effect=effect))
            )
            session.record_iteration(record, candidate_source=new, pointwise_elpd=elpd)
            if draws is not None:
                np.save(session.artifacts_dir(number) / EFFECT_DRAWS_FILE, draws)
            old = new
        return session.path


def test_a_session_stacks_its_scored_models_and_says_what_it_left_out(tmp_path: Path) -> None:
    with Session.open(five_iteration_session(tmp_path / "sessions"), readonly=True) as session:
        stacked = stack_session(session)
    assert stacked is not None
    assert sorted(w.number for w in stacked.weights) == [1, 3, 5]
    assert stacked.left_out == ("#4: its pointwise ELPD or effect draws are not stored",)
    assert stacked.weights[0].number == 5  # the best on every observation
    assert 3.9 <= stacked.effect.mean <= 4.1


def test_a_model_whose_elpd_is_not_finite_is_left_out_with_why(tmp_path: Path) -> None:
    broken = BASE.copy()
    broken[3] = -np.inf
    plan = [
        (VerdictKind.KEPT, BASE, draws_around(3.9, 1)),
        (VerdictKind.DISCARDED, broken, draws_around(4.4, 2)),
        (VerdictKind.KEPT, BASE + 0.1, draws_around(4.0, 3)),
    ]
    with Session.open(five_iteration_session(tmp_path / "sessions", plan), readonly=True) as session:
        stacked = stack_session(session)
    assert stacked is not None and sorted(w.number for w in stacked.weights) == [1, 3]
    assert stacked.left_out == ("#2: its pointwise ELPD or effect draws are not all finite",)


def test_models_scored_on_other_rows_are_left_out_even_when_the_best_has_no_draws(tmp_path: Path) -> None:
    """The data changed under the session, and the best's draws are gone: the newest model's rows decide."""
    shorter = BASE[:-1]
    plan = [
        (VerdictKind.KEPT, shorter, draws_around(3.9, 1)),
        (VerdictKind.DISCARDED, shorter + 0.01, draws_around(4.0, 2)),
        (VerdictKind.DISCARDED, BASE, draws_around(4.1, 3)),
        (VerdictKind.DISCARDED, BASE + 0.01, draws_around(4.2, 4)),
        (VerdictKind.KEPT, BASE + 0.05, None),
    ]
    with Session.open(five_iteration_session(tmp_path / "sessions", plan), readonly=True) as session:
        stacked = stack_session(session)
    assert stacked is not None and sorted(w.number for w in stacked.weights) == [3, 4]
    assert stacked.left_out == (
        "#5: its pointwise ELPD or effect draws are not stored",
        "#1: scored on other rows",
        "#2: scored on other rows",
    )


def test_the_report_shows_the_stack_beside_the_kept_model(tmp_path: Path) -> None:
    report = build_report(five_iteration_session(tmp_path / "sessions"))
    assert report.final.stacked is not None and report.final.bayes_iteration == 5
    (figure,) = [f for f in report.figures if f.name == "stacking"]
    assert figure.png.startswith(b"\x89PNG") and "LOO stacking weight" in figure.caption
    markdown = render_markdown(report)
    assert "](figures/stacking.png)" in markdown  # placed in the plots section, not only drawn
    assert "Stacked over the 3 models that passed the gates" in markdown
    assert "iteration 5 (move-5) 100%" in markdown
    assert "The stack is the kept model" in markdown
    # The summary at the top names it too, beside the Bayesian estimate.
    shown = effect_text(report.final.stacked.effect)
    assert f"- **Stacked:** {shown} (94% HDI, over the 3 models that passed the gates)" in markdown
    assert "Left out: #4: its pointwise ELPD or effect draws are not stored." in markdown


def test_a_session_with_one_scored_model_has_nothing_to_stack(tmp_path: Path) -> None:
    problem = load_problem(ROOT / "problems" / "ihdp")
    source = (ROOT / "problems" / "ihdp" / "model.py").read_text()
    with Session.create(problem, tmp_path / "sessions") as session:
        assert stack_session(session) is None  # no best yet
        record = make_record(1, old=source, new=source + "\n# 1\n", verdict=VerdictKind.KEPT)
        session.record_iteration(record, candidate_source=record.proposal.new_source, pointwise_elpd=np.zeros(747))
        np.save(session.artifacts_dir(1) / EFFECT_DRAWS_FILE, draws_around(4.0, 1))
        assert stack_session(session) is None
        assert session.best(Loop.MODEL) is not None


def test_a_headless_run_closes_with_the_stack_and_puts_it_in_its_json(tmp_path: Path) -> None:
    from test_headless_cli import ScriptedWorkbench

    from engine.headless import HeadlessRun

    with Session.open(five_iteration_session(tmp_path / "sessions")) as session:
        run = HeadlessRun(ScriptedWorkbench(session, []), "guard-clean", loop=Loop.MODEL)  # type: ignore[arg-type]
        lines = run.closing_lines()
        summary = run.summary()
    assert any(line.startswith("stacked over 3 models: ATE ") and "#5 move-5 100%" in line for line in lines)
    assert [w["iteration"] for w in summary["stacked"]["weights"]][0] == 5
    assert summary["stacked"]["left_out"] == ["#4: its pointwise ELPD or effect draws are not stored"]
    assert summary["best"]["iteration"] == 5


@pytest.mark.anyio
async def test_the_home_screen_shows_the_stack_under_the_best_model(tmp_path: Path) -> None:
    """A worker stacks the models after the session opens; the best panel gains a line."""
    from fixtures.tui_pilot import fixture_app, wait_opened, wait_until
    from rich.cells import cell_len
    from textual.widgets import Static

    half = np.arange(len(BASE)) < len(BASE) // 2
    first, second = BASE.copy(), BASE.copy()
    first[half] += 1.0  # each model predicts one half better: they share the weight
    second[~half] += 1.0
    plan = [
        (VerdictKind.KEPT, first, draws_around(3.8, 1)),
        (VerdictKind.KEPT, second + 0.001, draws_around(4.2, 2)),
    ]
    source = five_iteration_session(tmp_path / "built", plan)
    app = fixture_app(source, tmp_path / "opened")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_opened(pilot)
        best = app.home.query_one("#best", Static)
        await wait_until(pilot, lambda: "stacked" in str(best.render()), what="the stacked line")
        text = str(best.render())
        assert "#2 " in text and "over 2 models" in text
        # every line of the stack fits the panel on the smallest supported terminal
        lines = text.splitlines()
        stack_rows = [i for i, line in enumerate(lines) if "stacked" in line or "over 2 models" in line]
        region = best.content_region
        assert all(cell_len(lines[i]) <= region.width and i < region.height for i in stack_rows), (region, lines)
        assert app.home._stacked is not None
        s = app.home._stacked.effect
        assert f"stacked {s.mean:.2f} [{s.hdi_low:.2f}, {s.hdi_high:.2f}]" in text
        assert 3.8 < s.mean < 4.2
    app.close_session()
