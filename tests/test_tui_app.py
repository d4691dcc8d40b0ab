"""The real app driven through Textual's pilot, on a fixture session built with the real store.

No sampling here (see test_tui_live.py): these check the screens, the keys, what is
greyed out and when, the editor's commits, export, and how worker errors surface.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import git
import pytest
from fixtures.tui_data import blocked_reviewed, build_fixture_session, clean_reviewed
from fixtures.tui_pilot import fixture_app, wait_opened, wait_until

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fixture_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fixture_session(tmp_path_factory.mktemp("fixture"))


async def test_home_shows_problem_best_and_iterations(fixture_session: Path, tmp_path: Path) -> None:
    from textual.widgets import DataTable, Static

    app = fixture_app(fixture_session, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_opened(pilot)
        table = app.home.query_one("#iterations", DataTable)
        assert table.row_count == 7
        assert str(table.get_row_at(0)[0]) == "7"  # newest first
        best = str(app.home.query_one("#best", Static).render())
        assert "#3" in best and "4.58" in best and "[4.18, 4.97]" in best
        assert app.sub_title == "session ihdp-fixture"
    app.close_session()


async def test_open_best_shows_verdict_with_gate_table_and_plots(fixture_session: Path, tmp_path: Path) -> None:
    from screens.plots import EffectDrawsPlot, ParetoKPlot
    from screens.verdict import VerdictScreen

    app = fixture_app(fixture_session, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_opened(pilot)
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen), what="the verdict screen")
        screen = app.screen
        assert screen.record.number == 3
        await wait_until(pilot, lambda: screen.arrays is not None, what="the draws")
        await pilot.press("2")
        effect = screen.query_one("#plot-trace", EffectDrawsPlot)
        assert effect._series is not None and not effect.rank
        await pilot.press("t")
        assert effect.rank
        assert screen.query_one("#plot-pareto", ParetoKPlot)._series is not None
        await pilot.press("escape")
        assert not isinstance(app.screen, VerdictScreen)
    app.close_session()


async def test_failed_gate_convergence_table_is_worst_first(fixture_session: Path, tmp_path: Path) -> None:
    from textual.widgets import DataTable

    from screens.verdict import VerdictScreen

    app = fixture_app(fixture_session, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_opened(pilot)
        app.open_iteration(next(r for r in app.records if r.number == 4))
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen))
        table = app.screen.query_one("#convergence", DataTable)
        first = [str(c) for c in table.get_row_at(0)]
        assert first[0] == "nu" and "rhat" in first[4]
    app.close_session()


async def test_history_marks_two_and_compares(fixture_session: Path, tmp_path: Path) -> None:
    from screens.compare import CompareScreen
    from screens.history import HistoryScreen

    app = fixture_app(fixture_session, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_opened(pilot)
        await pilot.press("h")
        assert isinstance(app.screen, HistoryScreen)
        assert app.screen.check_action("compare", ()) is None  # greyed until two are marked
        await pilot.press("down", "space", "down", "down", "space")
        assert app.screen.marked == [6, 4]
        await pilot.press("equals_sign")
        assert isinstance(app.screen, CompareScreen)
        assert (app.screen.a.number, app.screen.b.number) == (4, 6)
    app.close_session()


async def test_blocked_proposal_greys_approve_until_override(fixture_session: Path, tmp_path: Path) -> None:
    from textual.widgets import Input

    from screens.dialogs import ReasonDialog
    from screens.messages import Decided
    from screens.review import ReviewScreen

    decided: list[Decided] = []
    app = fixture_app(fixture_session, tmp_path)
    async with app.run_test(
        size=(100, 30), message_hook=lambda m: decided.append(m) if isinstance(m, Decided) else None
    ) as pilot:
        await wait_opened(pilot)
        review = ReviewScreen(blocked_reviewed(), 7)
        # Keep the app's own handler out of it: this test is about the screen's keys.
        app.reviewed = None
        await app.push_screen(review)
        await pilot.pause()
        assert review.check_action("approve", ()) is None  # shown greyed in the footer
        await pilot.press("a")
        await pilot.pause()
        assert decided == []
        await pilot.press("exclamation_mark")
        assert isinstance(app.screen, ReasonDialog)
        await pilot.press("enter")  # an empty reason is refused
        assert isinstance(app.screen, ReasonDialog)
        app.screen.query_one(Input).value = "os is only read for a constant; the principal checked it"
        await pilot.press("enter")
        assert app.screen is review
        assert review.check_action("approve", ()) is True
        await pilot.press("a")
        await pilot.pause()
    assert len(decided) == 1
    decision = decided[0].decision
    assert decision.kind == "approved" and decision.decider == "principal"
    assert decision.override.startswith("os is only read")
    app.close_session()


async def test_reject_asks_for_a_reason(fixture_session: Path, tmp_path: Path) -> None:
    from textual.widgets import Input

    from screens.messages import Decided
    from screens.review import ReviewScreen

    decided: list[Decided] = []
    app = fixture_app(fixture_session, tmp_path)
    async with app.run_test(
        size=(100, 30), message_hook=lambda m: decided.append(m) if isinstance(m, Decided) else None
    ) as pilot:
        await wait_opened(pilot)
        app.reviewed = None
        review = ReviewScreen(clean_reviewed(), 7)
        await app.push_screen(review)
        assert review.check_action("override", ()) is False  # nothing to override: hidden
        await pilot.press("r")
        app.screen.query_one(Input).value = "try the per-arm variance first"
        await pilot.press("enter")
        await pilot.pause()
    assert [(d.decision.kind.value, d.decision.reason) for d in decided] == [
        ("rejected", "try the per-arm variance first")
    ]
    app.close_session()


async def test_design_iteration_opens_the_design_screen(fixture_session: Path, tmp_path: Path) -> None:
    from screens.design import DesignScreen
    from screens.verdict import VerdictScreen

    app = fixture_app(fixture_session, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_opened(pilot)
        await pilot.press("o")  # the newest row: the design iteration
        await wait_until(pilot, lambda: isinstance(app.screen, DesignScreen), what="the design screen")
        assert app.screen.result.estimate.estimand == "ATE"
        assert app.screen.critique.credibility == "low"
        await pilot.press("escape")
        assert isinstance(app.screen, VerdictScreen) and app.screen.check_action("design", ()) is True
    app.close_session()


async def test_design_screen_says_why_the_interval_is_wider_than_sampling(
    fixture_session: Path, tmp_path: Path
) -> None:
    """A recorded extrapolation allowance is on screen with the interval it widened, in words."""
    from dataclasses import replace

    from fixtures.tui_data import design_fixture
    from textual.widgets import Static

    from screens.design import DesignScreen, estimate_text

    result, critique = design_fixture()
    assert "extrapolat" not in str(estimate_text(result))  # the stored IHDP run needed none
    est = result.estimate
    widened = replace(
        est, ci_low=est.ci_low - 0.437, ci_high=est.ci_high + 0.437, unsupported_share=0.24, allowance=0.437
    )
    app = fixture_app(fixture_session, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_opened(pilot)
        await app.push_screen(DesignScreen(replace(result, estimate=widened), critique, "iteration 8"))
        await pilot.pause()
        shown = str(app.screen.query_one("#design-estimate", Static).render())
        assert f"95% CI {widened.ci_low:.3g} to {widened.ci_high:.3g}" in shown
        assert "±0.437" in shown and "24% of units" in shown and "extrapolates" in shown
    app.close_session()


async def test_design_screen_says_whose_effect_an_overlap_weighted_estimate_is(
    fixture_session: Path, tmp_path: Path
) -> None:
    """An ATO answers for a population of its own: the summary names the columns in which it moved."""
    from dataclasses import replace

    from fixtures.tui_data import design_fixture
    from textual.widgets import Static

    from engine.design.results import PopulationShift
    from screens.design import DesignScreen, estimate_text

    result, critique = design_fixture()
    assert "whose effect" not in str(estimate_text(result))  # the stored IHDP run is an untrimmed ATE
    ato = replace(
        result,
        estimate=replace(result.estimate, estimand="ATO", requested="ATO"),
        population=(PopulationShift("momage", "", 24.1, 27.3, 0.52),),
    )
    app = fixture_app(fixture_session, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_opened(pilot)
        await app.push_screen(DesignScreen(ato, critique, "iteration 8"))
        await pilot.pause()
        shown = str(app.screen.query_one("#design-estimate", Static).render())
        assert "whose effect" in shown and "the ATO's population against all" in shown
        assert "momage mean 27.3 against 24.1 (+0.52 sd)" in shown
    app.close_session()


async def test_editor_commits_program_as_principal(fixture_session: Path, tmp_path: Path) -> None:
    from textual.widgets import TextArea

    from screens.editor import EditorScreen

    app = fixture_app(fixture_session, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_opened(pilot)
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, EditorScreen), what="the editor")
        editor = app.screen
        await pilot.press("right")  # the PROGRAM.md tab
        await wait_until(pilot, lambda: editor.current_file() == "PROGRAM.md")
        area = editor.query_one("#file-program-md-text", TextArea)
        area.text = area.text + "\n## Principal's note\n\nPrefer per-arm structure before splines.\n"
        await pilot.press("ctrl+s")
        session_path = app.opened.session.path
        await wait_until(pilot, lambda: editor.saved["PROGRAM.md"] == area.text, what="the commit")
    repo = git.Repo(session_path)
    head = repo.head.commit
    assert "PROGRAM.md" in head.message and head.author.name != "heuristic"
    assert "Prefer per-arm structure" in (session_path / "PROGRAM.md").read_text()
    repo.close()
    app.close_session()


async def test_escape_leaves_the_editors_even_from_the_text(fixture_session: Path, tmp_path: Path) -> None:
    from textual.widgets import TextArea

    from screens.edit_proposal import EditProposalScreen
    from screens.editor import EditorScreen
    from screens.review import ReviewScreen

    app = fixture_app(fixture_session, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_opened(pilot)
        app.reviewed = None
        review = ReviewScreen(clean_reviewed(), 8)
        await app.push_screen(review)
        await pilot.press("e")
        assert isinstance(app.screen, EditProposalScreen) and isinstance(app.focused, TextArea)
        await pilot.press("escape")
        assert app.screen is review  # discarded, back on the review
        app.pop_screen()
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, EditorScreen))
        app.screen.query_one("#file-problem-md-text", TextArea).focus()
        await pilot.press("x", "escape")  # an unsaved edit: the first escape warns
        assert isinstance(app.screen, EditorScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, EditorScreen)
    app.close_session()


async def test_editor_refuses_invalid_analysis_toml(fixture_session: Path, tmp_path: Path) -> None:
    from textual.widgets import TextArea

    from screens.dialogs import ErrorDialog
    from screens.editor import EditorScreen

    app = fixture_app(fixture_session, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_opened(pilot)
        head_before = git.Repo(app.opened.session.path).head.commit.hexsha
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, EditorScreen))
        editor = app.screen
        await pilot.press("right", "right")
        await wait_until(pilot, lambda: editor.current_file() == "analysis.toml")
        editor.query_one("#file-analysis-toml-text", TextArea).text = "estimand = [unclosed\n"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorDialog), what="the error dialog")
        assert "TOML" in str(app.screen._message)
        assert git.Repo(app.opened.session.path).head.commit.hexsha == head_before
    app.close_session()


async def test_export_writes_the_session_report(fixture_session: Path, tmp_path: Path) -> None:
    from screens.messages import Exported

    exported: list[Exported] = []
    app = fixture_app(fixture_session, tmp_path)
    hook = lambda m: exported.append(m) if isinstance(m, Exported) else None  # noqa: E731
    async with app.run_test(size=(100, 30), message_hook=hook) as pilot:
        await wait_opened(pilot)
        await pilot.press("x")
        await wait_until(pilot, lambda: bool(exported), 180, what="the exported report")
    app.close_session()
    paths = exported[0].paths
    assert {p.suffix for p in paths} == {".html", ".md"}
    markdown = next(p for p in paths if p.suffix == ".md").read_text()
    assert "try the per-arm structure first" in markdown  # the principal's reason for iteration 2
    assert "Separate arms" in markdown


async def test_open_error_shows_a_dialog_not_a_crash(tmp_path: Path) -> None:
    from screens.dialogs import ErrorDialog
    from workbench.app import create_app

    app = create_app(tmp_path / "no-such-problem", sessions_root=tmp_path, warm_up=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorDialog), what="the error dialog")
        assert "no problem folder or session at" in app.screen._message
        assert app.check_action("propose", ()) is None
        await pilot.press("escape")
        assert app.is_running


async def test_theme_toggles_and_keys_remap(fixture_session: Path, tmp_path: Path) -> None:
    app = fixture_app(fixture_session, tmp_path, keymap={"home.history": "y"})
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_opened(pilot)
        assert app.current_theme.dark
        await pilot.press("ctrl+t")
        assert not app.current_theme.dark
        from screens.history import HistoryScreen

        await pilot.press("y")
        assert isinstance(app.screen, HistoryScreen)
    app.close_session()


def test_first_frame_never_imports_pymc(fixture_session: Path, tmp_path: Path) -> None:
    """The app process opens a session and draws the home screen without loading PyMC."""
    from fixtures.tui_data import copy_session

    session = copy_session(fixture_session, tmp_path)
    code = f"""
import sys, time
sys.path.insert(0, {str(ROOT / "tests")!r})
from workbench.app import create_app
from fixtures.tui_pilot import wait_opened
HEAVY = ('pymc', 'pytensor', 'nutpie', 'arviz', 'numba', 'econml', 'sklearn')
# warm_up=True as in `workbench open`: the sandbox's server imports PyMC in its own process.
app = create_app({str(session)!r}, sessions_root={str(tmp_path)!r}, warm_up=True)
seen = {{}}
async def auto(pilot):
    seen['first_frame'] = sorted(m for m in sys.modules if m.split('.')[0] in HEAVY)
    await wait_opened(pilot)
    await pilot.pause(0.5)
    seen['opened'] = sorted(m for m in sys.modules if m.split('.')[0] in HEAVY)
    app.exit()
app.run(headless=True, auto_pilot=auto, size=(100, 30))
app.close_session()
print(seen)
assert seen['first_frame'] == [] and seen['opened'] == [], seen
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


async def test_home_says_plainly_when_the_namespace_sandbox_is_off(
    fixture_session: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.widgets import Static

    for off, shown in ((False, False), (True, True)):
        if off:
            monkeypatch.setenv("WORKBENCH_SANDBOX", "inner")
        app = fixture_app(fixture_session, tmp_path / str(off))
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_opened(pilot)
            banner = app.home.query_one("#sandbox-banner", Static)
            assert banner.display is shown
            if shown:
                text = str(banner.render())
                assert "Namespace sandbox off" in text and "inner layers" in text
        app.close_session()


async def test_a_failed_open_leaves_a_screen_that_says_what_to_do(tmp_path: Path) -> None:
    from textual.widgets import Static

    from screens.dialogs import ErrorDialog
    from workbench.app import create_app

    app = create_app("problems/doesnotexist", sessions_root=tmp_path, warm_up=False)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(200):  # the open worker fails within a moment; wait_until would stop at the dialog
            if isinstance(app.screen, ErrorDialog):
                break
            await pilot.pause(0.05)
        assert isinstance(app.screen, ErrorDialog)
        assert "no problem folder or session at problems/doesnotexist" in app.screen._message
        await pilot.press("escape")
        await pilot.pause()
        assert app.check_action("propose", ()) is None  # greyed: nothing to propose on
        assert app.home.query_one("#home-loading").display is False  # no spinner forever
        text = str(app.home.query_one("#question", Static).render())
        assert "No problem or session is open" in text and "workbench open problems/" in text


def test_workbench_open_checks_its_target_before_the_tui_starts(tmp_path: Path, capsys) -> None:
    from workbench.cli import main

    assert main(["open", "problems/doesnotexist", "--sessions-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no problem folder or session at problems/doesnotexist" in err and "does not exist" in err
    (tmp_path / "empty").mkdir()
    assert main(["open", str(tmp_path / "empty"), "--sessions-root", str(tmp_path)]) == 2
    assert "a folder without problem.toml" in capsys.readouterr().err
    assert not any((tmp_path / "empty").iterdir())


def test_help_is_plain_text(capsys) -> None:
    import re

    from workbench.cli import COMMANDS, build_parser

    texts = [build_parser().format_help()]
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    texts += [sub.choices[name].format_help() for name in COMMANDS if name in sub.choices]
    for text in texts:
        assert not re.search(r":(mod|func|class|data|meth):|``", text), text


def test_a_record_knows_what_ran_and_whether_the_principal_edited_it() -> None:
    from engine.iteration import IterationRecord
    from engine.records import Decision, DecisionKind, Loop, Proposal

    old = "x = 1\n"
    proposal = Proposal(Loop.MODEL, "h", "r", old, "x = 6\n", "heuristic")
    plain = IterationRecord(
        1, proposal, (), None, Decision(DecisionKind.APPROVED, "principal"), None, ran_source="x = 6\n"
    )
    edited = IterationRecord(
        2, proposal, (), None, Decision(DecisionKind.APPROVED, "principal", edited=True), None, ran_source="x = 4\n"
    )
    older = IterationRecord(3, proposal, (), None, Decision(DecisionKind.APPROVED, "principal"), None)
    assert not plain.edited and plain.source == "x = 6\n"
    assert edited.edited and edited.source == "x = 4\n" and "+x = 4" in edited.ran_diff and "+x = 6" in proposal.diff
    assert not older.edited and older.source == "x = 6\n"  # records written before ran_source existed


async def test_an_edited_iterations_diff_tab_shows_what_ran_and_the_proposal_one_key_away(
    fixture_session: Path, tmp_path: Path
) -> None:
    from textual.widgets import Static

    from screens.verdict import VerdictScreen

    app = fixture_app(fixture_session, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_opened(pilot)
        app.open_iteration(next(r for r in app.records if r.number == 3))
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen), 10, "the verdict of #3")
        await pilot.press("3")
        diff = lambda: str(app.screen.query_one("#verdict-diff", Static).render())  # noqa: E731
        assert "What ran: the principal's edit" in diff()
        assert "y_scale / 4" in diff() and "y_scale / 2" not in diff()
        await pilot.press("w")
        assert "The agent's proposal, before the principal's edit" in diff()
        assert "y_scale / 2" in diff() and "y_scale / 4" not in diff()
    app.close_session()


async def test_the_principal_writes_the_next_model_and_it_is_reviewed_like_any_proposal(
    fixture_session: Path, tmp_path: Path
) -> None:
    from textual.widgets import Input, TextArea

    from screens.dialogs import ReasonDialog
    from screens.edit_proposal import EditProposalScreen
    from screens.review import ReviewScreen

    app = fixture_app(fixture_session, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_opened(pilot)
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, EditProposalScreen), 20, "the editor")
        editor = app.screen.query_one("#proposal-editor", TextArea)
        best = editor.text
        assert "gamma_x" in best and "y_scale / 4" in best  # the current best is #3 as it ran (the edit)
        editor.text = best.replace("y_scale / 4", "y_scale / 8")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ReasonDialog), 10, "the hypothesis dialog")
        app.screen.query_one("#reason", Input).value = "Tighter interaction priors will narrow the ATE interval."
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen), 240, "the review of the principal's file")
        reviewed = app.screen.reviewed
        assert reviewed.proposal.agent == "principal" and reviewed.proposal.move == "principal"
        assert reviewed.proposal.hypothesis == "Tighter interaction priors will narrow the ATE interval."
        assert "y_scale / 8" in reviewed.proposal.new_source and reviewed.proposal.old_source == best
        assert reviewed.compile is not None and reviewed.compile.ok, reviewed.compile
        assert not reviewed.blocked
    app.close_session()


def test_one_key_one_meaning_across_screens() -> None:
    """Every key is bound to one verb wherever it appears (back/close/cancel are one verb: leave)."""
    from screens.compare import CompareScreen
    from screens.design import DesignScreen
    from screens.edit_proposal import EditProposalScreen
    from screens.editor import EditorScreen
    from screens.history import HistoryScreen
    from screens.home import HomeScreen
    from screens.review import ReviewScreen
    from screens.run import RunScreen
    from screens.verdict import VerdictScreen
    from workbench.app import WorkbenchApp

    leave = {"back", "close", "cancel", "cancel_agent"}  # c stops what runs: sampling, or the agent
    same_verb = {
        "next": "propose",
        "app.propose": "propose",
        "app.propose('design')": "propose-design",
        "submit": "save",
        "save": "save",
        "open_iteration": "open",
    }
    meanings: dict[str, set[str]] = {}
    for owner in (
        WorkbenchApp,
        HomeScreen,
        ReviewScreen,
        RunScreen,
        VerdictScreen,
        DesignScreen,
        HistoryScreen,
        CompareScreen,
        EditorScreen,
        EditProposalScreen,
    ):
        for binding in owner.BINDINGS:
            keys = binding.key if hasattr(binding, "key") else binding[0]
            action = binding.action if hasattr(binding, "action") else binding[1]
            verb = "leave" if action in leave else same_verb.get(action, action)
            if action.startswith("tab(") and owner in (VerdictScreen, DesignScreen):
                verb = f"tab {keys}"  # digits select a screen's tabs in order: one meaning, "tab N"
            for key in keys.split(","):
                meanings.setdefault(key, set()).add(verb)
    clashes = {key: verbs for key, verbs in meanings.items() if len(verbs) > 1}
    assert not clashes, clashes


async def test_plots_of_an_iteration_that_never_ran_say_not_sampled(fixture_session: Path, tmp_path: Path) -> None:
    from screens.plots import EffectDrawsPlot
    from screens.verdict import VerdictScreen

    app = fixture_app(fixture_session, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_opened(pilot)
        app.open_iteration(next(r for r in app.records if r.number == 2))  # rejected: nothing ran
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen), 10, "the verdict of #2")
        await pilot.press("2")
        await pilot.pause(0.5)
        plot = app.screen.query_one("#plot-trace", EffectDrawsPlot)
        assert "not sampled" in plot._empty and "loading" not in plot._empty
    app.close_session()


async def test_the_palette_offers_only_what_the_screen_allows(fixture_session: Path, tmp_path: Path) -> None:
    import threading

    from engine.records import Loop, Proposal
    from screens.run import ActiveRun, RunScreen

    app = fixture_app(fixture_session, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_opened(pilot)
        titles = lambda: {c.title for c in app.get_system_commands(app.screen)}  # noqa: E731
        assert {"Propose", "History", "Write model.py", "Edit plan"} <= titles()
        proposal = Proposal(Loop.MODEL, "h", "r", "x = 1\n", "x = 2\n", "heuristic")
        await app.push_screen(RunScreen(ActiveRun(proposal, 8, None, threading.Event())))
        await pilot.pause()
        assert not titles() & {"Propose", "History", "Write model.py", "Edit plan", "Export report"}
        assert "Toggle dark / light" in titles()
    app.close_session()


async def test_the_palette_offers_no_session_actions_before_one_is_open(tmp_path: Path) -> None:
    from workbench.app import create_app

    app = create_app("problems/doesnotexist", sessions_root=tmp_path, warm_up=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.5)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert not titles & {"Propose", "History", "Write model.py", "Edit plan", "Export report"}


async def test_escape_leaves_a_run_the_header_tracks_it_and_v_comes_back(fixture_session: Path, tmp_path: Path) -> None:
    """The run's state lives with the app: progress that arrives while the principal browses
    moves every screen's header, and the run screen drawn again shows where the run is."""
    from fixtures.tui_data import progress_fixture
    from textual.geometry import Region
    from textual.widgets import Static

    from engine.progress import Phase, SamplingProgress
    from screens.history import HistoryScreen
    from screens.home import HomeScreen
    from screens.messages import SamplingProgressed
    from screens.run import ActiveRun, RunScreen

    app = fixture_app(fixture_session, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_opened(pilot)
        assert app.check_action("view_run", ()) is False  # nothing runs: v is not offered
        app.active_run = ActiveRun(clean_reviewed().proposal, 8, None)
        await app.push_screen(RunScreen(app.active_run))
        app.post_message(SamplingProgressed(SamplingProgress(Phase.COMPILING, 2.0, 300.0)))
        await pilot.pause()
        assert app.sub_title.startswith("▶ iteration 8: compiling")
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen) and app.active_run is not None
        await pilot.press("h")
        assert isinstance(app.screen, HistoryScreen)
        app.post_message(SamplingProgressed(progress_fixture()))  # chains report while the principal browses
        await pilot.pause()
        assert app.sub_title == "▶ iteration 8: sampling 70%, 1 div, 12 s"
        assert app.check_action("view_run", ()) is True
        await pilot.press("v")
        assert isinstance(app.screen, RunScreen)
        chains = "\n".join(
            line.text for line in app.screen.query_one("#chains", Static).render_lines(Region(0, 0, 90, 6))
        )
        assert "1400/2000" in chains and "900/2000" in chains
        assert "5620/8000 draws" in str(app.screen.query_one("#run-status", Static).render())
        assert app.check_action("view_run", ()) is False  # already watching
    app.close_session()


async def test_a_run_that_ends_while_the_principal_browses_waits_behind_v(
    fixture_session: Path, tmp_path: Path
) -> None:
    from screens.history import HistoryScreen
    from screens.messages import IterationRecorded
    from screens.run import ActiveRun
    from screens.verdict import VerdictScreen

    app = fixture_app(fixture_session, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_opened(pilot)
        record = next(r for r in app.records if r.number == 3)
        app.active_run = ActiveRun(record.proposal, 3, None)
        await pilot.press("h")
        app.post_message(IterationRecorded(record, list(app.records)))
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)  # not yanked away from what the principal reads
        assert app.active_run is None and app.sub_title == "session ihdp-fixture"
        assert app.unseen is record
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen), 10, "the verdict")
        assert app.screen.record is record and app.unseen is None
    app.close_session()
