"""Snapshots of every screen at a fixed terminal size, from a fixture session (no sampling).

Update after an intended change with ``pytest tests/test_tui_snapshots.py --snapshot-update``
and look at the SVGs in tests/__snapshots__/ before committing them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.tui_data import (
    blocked_reviewed,
    build_fixture_session,
    clean_reviewed,
    failed_compile_reviewed,
    progress_fixture,
)
from fixtures.tui_pilot import fixture_app, wait_opened, wait_until

SIZE = (100, 30)
SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
"""The five screens a principal spends the day on, at the smallest and a roomy terminal."""


@pytest.fixture(scope="module")
def fixture_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fixture_session(tmp_path_factory.mktemp("fixture"))


@pytest.fixture
def app_on_fixture(fixture_session: Path, tmp_path: Path):  # noqa: ANN201
    apps = []

    def make(**kwargs):  # noqa: ANN003, ANN202
        app = fixture_app(fixture_session, tmp_path, **kwargs)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close_session()


async def _opened(pilot) -> None:  # noqa: ANN001
    await wait_opened(pilot)
    await pilot.pause()


@SIZES
def test_home(snap_compare, app_on_fixture, size) -> None:  # noqa: ANN001
    assert snap_compare(app_on_fixture(), terminal_size=size, run_before=_opened)


def test_home_80x24_light(snap_compare, app_on_fixture) -> None:  # noqa: ANN001
    assert snap_compare(app_on_fixture(theme="textual-light"), terminal_size=(80, 24), run_before=_opened)


def _review(reviewed_factory, number: int = 7):  # noqa: ANN001, ANN202
    async def run_before(pilot) -> None:  # noqa: ANN001
        from screens.review import ReviewScreen

        await _opened(pilot)
        await pilot.app.push_screen(ReviewScreen(reviewed_factory(), number))
        await pilot.pause()

    return run_before


@SIZES
def test_review_clean(snap_compare, app_on_fixture, size) -> None:  # noqa: ANN001
    assert snap_compare(app_on_fixture(), terminal_size=size, run_before=_review(clean_reviewed))


def test_review_blocked(snap_compare, app_on_fixture) -> None:  # noqa: ANN001
    assert snap_compare(app_on_fixture(), terminal_size=SIZE, run_before=_review(blocked_reviewed))


def test_review_compile_failed(snap_compare, app_on_fixture) -> None:  # noqa: ANN001
    assert snap_compare(app_on_fixture(), terminal_size=SIZE, run_before=_review(failed_compile_reviewed))


def test_reject_dialog(snap_compare, app_on_fixture) -> None:  # noqa: ANN001
    assert snap_compare(
        app_on_fixture(), terminal_size=SIZE, run_before=_review(clean_reviewed), press=["r", *"per-arm first"]
    )


@SIZES
def test_run_progress(snap_compare, app_on_fixture, size) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        from engine.problem import SamplingSettings
        from screens.run import ActiveRun, RunScreen

        await _opened(pilot)
        settings = SamplingSettings(chains=4, draws=1000, tune=1000)
        screen = RunScreen(ActiveRun(clean_reviewed().proposal, 7, settings))
        await pilot.app.push_screen(screen)
        screen.update_progress(progress_fixture())
        await pilot.pause()

    assert snap_compare(app_on_fixture(), terminal_size=size, run_before=run_before)


def _verdict(number: int, tab: str | None = None):  # noqa: ANN202
    async def run_before(pilot) -> None:  # noqa: ANN001
        from screens.verdict import VerdictScreen

        await _opened(pilot)
        app = pilot.app
        app.open_iteration(next(r for r in app.records if r.number == number))
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen))
        screen = app.screen
        await wait_until(pilot, lambda: screen.arrays is not None or screen.record.verdict is None)
        if tab:
            await pilot.press(tab)
        await pilot.pause()

    return run_before


@SIZES
def test_verdict_kept(snap_compare, app_on_fixture, size) -> None:  # noqa: ANN001
    assert snap_compare(app_on_fixture(), terminal_size=size, run_before=_verdict(3))


def test_verdict_failed_gate(snap_compare, app_on_fixture) -> None:  # noqa: ANN001
    assert snap_compare(app_on_fixture(), terminal_size=SIZE, run_before=_verdict(4))


def test_verdict_plots(snap_compare, app_on_fixture) -> None:  # noqa: ANN001
    assert snap_compare(app_on_fixture(), terminal_size=SIZE, run_before=_verdict(3, "2"))


def test_verdict_diff(snap_compare, app_on_fixture) -> None:  # noqa: ANN001
    assert snap_compare(app_on_fixture(), terminal_size=SIZE, run_before=_verdict(3, "3"))


def test_rejected_iteration(snap_compare, app_on_fixture) -> None:  # noqa: ANN001
    assert snap_compare(app_on_fixture(), terminal_size=SIZE, run_before=_verdict(2))


def test_history(snap_compare, app_on_fixture) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await _opened(pilot)
        await pilot.press("h", "down", "space", "down", "down", "space")

    assert snap_compare(app_on_fixture(), terminal_size=SIZE, run_before=run_before)


def test_compare(snap_compare, app_on_fixture) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await _opened(pilot)
        await pilot.press("h", "down", "down", "space", "down", "down", "space", "equals_sign")
        await pilot.pause()

    assert snap_compare(app_on_fixture(), terminal_size=SIZE, run_before=run_before)


def test_editor(snap_compare, app_on_fixture) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        from screens.editor import EditorScreen

        await _opened(pilot)
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, EditorScreen))
        await pilot.press("right", "right")
        await pilot.pause()

    assert snap_compare(app_on_fixture(), terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare, app_on_fixture) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await _opened(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app_on_fixture(), terminal_size=SIZE, run_before=run_before)


def test_error_dialog(snap_compare, app_on_fixture) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        from engine.errors import SessionLockedError
        from screens.dialogs import ErrorDialog
        from workbench.failures import WorkerGroup, describe_error

        await _opened(pilot)
        title, message = describe_error(
            WorkerGroup.RUN,
            SessionLockedError(
                "session ihdp-fixture is being written by process 4242; wait for it to finish, stop it, or open the session read-only"
            ),
        )
        await pilot.app.push_screen(ErrorDialog(title, message))
        await pilot.pause()

    assert snap_compare(app_on_fixture(), terminal_size=SIZE, run_before=run_before)


@SIZES
def test_design(snap_compare, app_on_fixture, size) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        from fixtures.tui_data import design_fixture

        from screens.design import DesignScreen

        await _opened(pilot)
        result, critique = design_fixture()
        await pilot.app.push_screen(DesignScreen(result, critique, "iteration 8"))
        await pilot.pause()

    assert snap_compare(app_on_fixture(), terminal_size=size, run_before=run_before)


def test_design_plots(snap_compare, app_on_fixture) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        from fixtures.tui_data import design_fixture

        from screens.design import DesignScreen

        await _opened(pilot)
        result, critique = design_fixture()
        await pilot.app.push_screen(DesignScreen(result, critique, "iteration 8"))
        await pilot.press("g")
        await pilot.pause()

    assert snap_compare(app_on_fixture(), terminal_size=SIZE, run_before=run_before)


def test_review_blocked_80x24(snap_compare, app_on_fixture) -> None:  # noqa: ANN001
    assert snap_compare(app_on_fixture(), terminal_size=(80, 24), run_before=_review(blocked_reviewed))


def test_edit_proposal(snap_compare, app_on_fixture) -> None:  # noqa: ANN001
    assert snap_compare(app_on_fixture(), terminal_size=SIZE, run_before=_review(clean_reviewed), press=["e"])


def test_verdict_crashed(snap_compare, app_on_fixture) -> None:  # noqa: ANN001
    assert snap_compare(app_on_fixture(), terminal_size=SIZE, run_before=_verdict(6))
