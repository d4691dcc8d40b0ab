"""Text from the model or the agent is never parsed as markup in the TUI.

A fixture session whose hypotheses, rationales, reasons, guard findings, compile errors
and tracebacks carry ``root:x:0:0`` (a Rich emoji code), ``[low, high]`` (reads as a
style tag) and ``[bold]x[/bold]`` (a real tag) is driven through Textual's pilot; every
screen must show those characters exactly. The whole screen is read back from the
compositor, so a Static, a DataTable cell, a Rich table, a border title, a dialog or a
toast that parsed markup would show ``root❌0:0``, lose ``[low, high]`` or print ``x``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fixtures.tui_data import BASELINE, GATES_OK, PER_ARM, _record, build_fixture_session, proposal
from fixtures.tui_pilot import fixture_app, wait_opened, wait_until

from engine.model_critic import ModelReview
from engine.records import (
    AgentReview,
    CompileResult,
    CrashInfo,
    Decision,
    DecisionKind,
    Effect,
    Finding,
    Metrics,
    Severity,
    Verdict,
    VerdictKind,
)

pytestmark = pytest.mark.anyio

PIECES = ("root:x:0:0", "[low, high]", "[bold]x[/bold]")
HOSTILE = "reads root:x:0:0 in [low, high] as [bold]x[/bold]"


def hostile(label: str) -> str:
    return f"{label} {HOSTILE}"


def screen_text(app) -> str:  # noqa: ANN001
    """Everything the current screen shows, one line per terminal row."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def assert_literal(text: str, *labels: str) -> None:
    assert "❌" not in text, "an emoji code was rendered"
    for label in labels:
        line = next((line for line in text.splitlines() if label in line), None)
        assert line is not None, f"{label!r} is not on screen:\n{text}"
        for piece in PIECES:
            assert piece in line, f"{piece!r} lost from {label!r}: {line.strip()!r}"


def hostile_records():
    kept = _record(
        1,
        proposal(BASELINE, BASELINE, hostile("H1"), hostile("R1"), "baseline", agent="heuristic"),
        Decision(DecisionKind.APPROVED, "principal", override=hostile("O1")),
        Verdict(
            VerdictKind.KEPT,
            hostile("V1"),
            Metrics(
                elpd=-1328.4,
                elpd_se=22.1,
                p_loo=29.8,
                pareto_k_bad=0,
                pareto_k_max=0.41,
                effect=Effect("ATE", 4.02, 0.16, 3.71, 4.33),
                rhat_max=1.003,
                ess_bulk_min=1480.0,
                ess_tail_min=1210.0,
                divergences=0,
                divergence_rate=0.0,
                n_draws=4000,
            ),
            GATES_OK,
        ),
        findings=(Finding("forbidden-column", Severity.BLOCKER, hostile("F1"), 3),),
        model_review=ModelReview("low", (hostile("C1"),), hostile("E1"), None, (), ""),
        agent_review=AgentReview(text=hostile("A1")),
    )
    rejected = _record(
        2,
        proposal(BASELINE, PER_ARM, hostile("H2"), "because", "per-arm"),
        Decision(DecisionKind.REJECTED, "principal", reason=hostile("D2")),
        None,
    )
    crashed = _record(
        3,
        proposal(BASELINE, PER_ARM, hostile("H3"), "because", "per-arm"),
        Decision(DecisionKind.APPROVED, "principal"),
        Verdict(VerdictKind.CRASHED, hostile("V3"), Metrics(), ()),
        crash=CrashInfo(hostile("T3"), 'File "model.py", line 9\n' + hostile("TB3")),
    )
    return [kept, rejected, crashed]


@pytest.fixture(scope="module")
def hostile_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fixture_session(tmp_path_factory.mktemp("hostile"), hostile_records(), name="ihdp-hostile")


def hostile_reviewed():
    from engine.loop import Reviewed

    prop = proposal(BASELINE, BASELINE + "\n# [bold]x[/bold]\n", hostile("RH"), hostile("RR"), None, agent="replay")
    findings = (Finding("forbidden-column", Severity.BLOCKER, hostile("RF"), 4),)
    compiled = CompileResult(
        ok=False,
        seconds=0.3,
        error=hostile("RE"),
        hint=hostile("RHINT"),
        traceback='  File "model.py", line 4\n' + hostile("RTB"),
    )
    return Reviewed(prop, findings, compiled)


async def test_home_history_and_status_show_agent_text_literally(hostile_session: Path, tmp_path: Path) -> None:
    from screens.history import HistoryScreen

    app = fixture_app(hostile_session, tmp_path)
    async with app.run_test(size=(220, 50)) as pilot:
        await wait_opened(pilot)
        app._set_status(hostile("S0"))  # status lines quote errors and verdict reasons
        await pilot.pause()
        assert_literal(screen_text(app), "H1 ", "H2 ", "H3 ", "S0 ")  # DataTable cells, the best card, the status
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        assert_literal(screen_text(app), "H3 ", "D2 ")  # hypothesis — “reason” cells
    app.close_session()


async def test_verdict_screen_shows_reasons_findings_and_tracebacks_literally(
    hostile_session: Path, tmp_path: Path
) -> None:
    from screens.verdict import VerdictScreen

    app = fixture_app(hostile_session, tmp_path)
    async with app.run_test(size=(220, 60)) as pilot:
        await wait_opened(pilot)
        app.open_iteration(next(r for r in app.records if r.number == 1))
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen))
        assert_literal(screen_text(app), "H1 ", "V1 ", "O1 ", "C1", "E1 ", "A1 ")
        await pilot.press("escape")
        app.open_iteration(next(r for r in app.records if r.number == 3))
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen) and app.screen.record.number == 3)
        assert_literal(screen_text(app), "H3 ", "T3 ", "TB3 ")
    app.close_session()


async def test_review_screen_and_its_dialogs_show_proposal_text_literally(
    hostile_session: Path, tmp_path: Path
) -> None:
    from screens.dialogs import ErrorDialog, ReasonDialog
    from screens.review import ReviewScreen

    app = fixture_app(hostile_session, tmp_path)
    async with app.run_test(size=(220, 60)) as pilot:
        await wait_opened(pilot)
        app.reviewed = None
        review = ReviewScreen(hostile_reviewed(), 4)
        await app.push_screen(review)
        await pilot.pause()
        text = screen_text(app)
        assert_literal(text, "RH ", "RR ", "RF ", "RE ", "RHINT ", "RTB ")
        assert "# [bold]x[/bold]" in text  # the diff

        await pilot.press("exclamation_mark")  # the override dialog quotes the blocker codes
        assert isinstance(app.screen, ReasonDialog)
        await pilot.press("escape")
        assert app.screen is review

        app.push_screen(ErrorDialog(hostile("ET"), hostile("EM")))
        await pilot.pause()
        assert_literal(screen_text(app), "ET ", "EM ")
    app.close_session()


async def test_notifications_never_parse_markup(hostile_session: Path, tmp_path: Path) -> None:
    app = fixture_app(hostile_session, tmp_path)
    async with app.run_test(size=(220, 50), notifications=True) as pilot:
        await wait_opened(pilot)
        app.notify("N1 [low, high]")
        app.screen.notify("N2 root:x:0:0 [bold]x[/bold]")  # a screen's notify asks for markup; the app refuses
        await pilot.pause(0.2)
        assert all(not n.markup for n in app._notifications)
        text = screen_text(app)
        assert "N1 [low, high]" in text and "N2 root:x:0:0 [bold]x[/bold]" in text and "❌" not in text
    app.close_session()


def test_cli_tables_print_agent_text_literally() -> None:
    from rich.console import Console

    from engine.records import Loop
    from workbench.render import findings_table, literal, results_table

    console = Console(width=240, record=True, emoji=True, highlight=False)  # even a console that does emoji
    records = hostile_records()
    compact = "".join(PIECES)  # the hypothesis column is 40 characters wide
    records[1] = replace(records[1], proposal=replace(records[1].proposal, hypothesis=f"H2 {compact}"))
    console.print(results_table(records, loop=Loop.MODEL.value))
    console.print(findings_table(records[0].findings, hostile("title")))
    console.print(literal(hostile("plain")))
    text = console.export_text()
    assert_literal(text, "H2 ", "F1 ", "title ", "plain ")


def test_a_direction_override_in_code_is_spelled_out_in_the_diff_not_obeyed() -> None:
    """Trojan Source: where a principal overrides the guard's blocker, the diff shows the character by name."""
    from engine.records import unified_diff
    from screens.format import diff_text

    old = "mu = alpha + beta_t * t\n"
    new = "mu = alpha + beta_t * t  # \u202e t * 5 +\n"
    shown = diff_text(unified_diff(old, new, "model.py")).plain
    assert "\u202e" not in shown
    assert "# ⟨U+202E⟩ t * 5 +" in shown
