"""The batch screen and the start dialog, on the real app over a session holding one real batch.

The batch itself is real (``fixtures.batch_data``: run_batch on Dask, the sandboxed harness,
git); the app is driven through the pilot. A slow test starts a second, one-task batch from the
dialog and watches it to the end (a local cluster of one worker, 6-15 s).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.batch_data import batch_session, stored_batch  # noqa: F401 - a fixture
from fixtures.tui_pilot import fixture_app, wait_opened, wait_until

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[1]
BATCH_TIMEOUT = 180.0  # a local cluster starts, one design task runs in the sandbox, one commit


async def _batch_screen(pilot):  # noqa: ANN001, ANN202
    from screens.batch import BatchScreen

    app = pilot.app
    await wait_opened(pilot)
    await pilot.press("B")
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, BatchScreen) and app.screen.batches is not None,
        what="the batch screen with the session's batches",
    )
    return app.screen


async def test_batch_screen_lists_the_batch_its_tasks_and_the_plot(batch_session: Path, tmp_path: Path) -> None:
    from textual.widgets import DataTable

    from screens.plots import BatchEffectPlot

    batch = stored_batch(batch_session)
    app = fixture_app(batch_session, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _batch_screen(pilot)
        listing = screen.query_one("#batch-list", DataTable)
        assert listing.row_count == 1
        first = [str(c) for c in listing.get_row_at(0)]
        assert first[0] == batch.plan.id and first[1] == "3/3"
        assert "by segment" in first[2] and batch.plan.source_from == first[4]
        tasks = screen.query_one("#batch-tasks", DataTable)
        rows = {str(tasks.get_row_at(i)[0]): [str(c) for c in tasks.get_row_at(i)] for i in range(tasks.row_count)}
        assert set(rows) == {t.key for t in batch.plan.tasks}
        for key, result in batch.results.items():
            e = result.effect
            assert rows[key][1] == e.estimand
            assert rows[key][2] == f"{e.mean:.4g}"
            assert rows[key][3] == f"[{e.hdi_low:.4g}, {e.hdi_high:.4g}] {e.interval_name}"
            assert rows[key][4] == f"{result.n_units:,}"
        plot = screen.query_one("#batch-plot", BatchEffectPlot)
        (series,) = plot._series
        assert [p.label for p in series.points] == list(batch.plan.levels)
        assert str(screen.query_one("#batch-status").render()).startswith("n starts a batch")
        await pilot.press("escape")
        assert not isinstance(app.screen, type(screen))
    app.close_session()


async def test_the_start_dialog_refuses_a_forbidden_column_and_starts_nothing(
    batch_session: Path, tmp_path: Path
) -> None:
    from fixtures.batch_data import PROBLEM
    from textual.widgets import Input, Static

    from engine.problem_load import load_problem
    from screens.messages import BatchProgressed
    from screens.start_batch import StartBatchDialog

    forbidden = load_problem(PROBLEM).contract.forbidden_reason("opened")
    assert forbidden is not None  # the contract names it: a mediator of the email
    progressed: list[BatchProgressed] = []
    app = fixture_app(batch_session, tmp_path)
    async with app.run_test(
        size=(100, 30), message_hook=lambda m: progressed.append(m) if isinstance(m, BatchProgressed) else None
    ) as pilot:
        await _batch_screen(pilot)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, StartBatchDialog), what="the start dialog")
        dialog = app.screen
        dialog.query_one("#batch-by", Input).value = "opened"
        await pilot.press("enter")
        error = str(dialog.query_one("#dialog-error", Static).render())
        assert "cannot partition on 'opened'" in error and forbidden.note in error
        # The pooled population's trim, as `workbench batch --trim` takes it: only with a partition.
        dialog.query_one("#batch-by", Input).value = ""
        dialog.query_one("#batch-vary", Input).value = "folds=2"
        dialog.query_one("#batch-trim", Input).value = "0.05"
        await pilot.press("enter")
        error = str(dialog.query_one("#dialog-error", Static).render())
        assert "a trim sets the pooled population of a partitioned batch" in error
        assert isinstance(app.screen, StartBatchDialog)  # still open, nothing started
        dialog.query_one("#batch-by", Input).value = "wave"
        assert dialog.request().trim == (0.05, 0.95) and dialog.request().by == "wave"
        await pilot.press("escape")
        await pilot.pause()
        assert app.active_batch is None and progressed == []
        assert not [w for w in app.workers if w.group == "batch"]
    app.close_session()
    stored_batch(tmp_path / batch_session.name)  # still the fixture's one batch, and nothing else


async def test_the_start_dialog_shows_its_buttons_at_80_by_24(batch_session: Path, tmp_path: Path) -> None:
    """The smallest terminal we support: Start and Cancel are on screen without scrolling the dialog."""
    from textual.widgets import Button

    from screens.start_batch import StartBatchDialog

    app = fixture_app(batch_session, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _batch_screen(pilot)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, StartBatchDialog), what="the start dialog")
        await pilot.pause()
        dialog = app.screen.query_one("#batch-dialog")
        assert dialog.max_scroll_y == 0
        for button in app.screen.query(Button):
            assert dialog.content_region.contains_region(button.region), button.id
    app.close_session()


@pytest.mark.slow  # a second real batch (a cluster start and one design task): 6-15 s
async def test_a_batch_started_from_the_dialog_runs_and_the_screen_follows_it(
    batch_session: Path, tmp_path: Path
) -> None:
    from textual.widgets import DataTable, Input, Select

    from screens.messages import BatchFinished, BatchProgressed
    from screens.start_batch import StartBatchDialog

    seen: list[object] = []
    app = fixture_app(batch_session, tmp_path)
    app.batch_workers = 1
    async with app.run_test(
        size=(100, 30),
        message_hook=lambda m: seen.append(m) if isinstance(m, (BatchProgressed, BatchFinished)) else None,
    ) as pilot:
        screen = await _batch_screen(pilot)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, StartBatchDialog), what="the start dialog")
        dialog = app.screen
        dialog.query_one("#batch-vary", Input).value = "folds=2"  # one task on every unit
        dialog.query_one("#batch-checks", Select).value = "estimate"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen, what="the dialog to close")
        assert app.active_batch is not None
        await wait_until(
            pilot,
            lambda: any(isinstance(m, BatchProgressed) and m.progress.running for m in seen),
            BATCH_TIMEOUT,
            "a task to start",
        )
        assert app.sub_title.startswith("batch ")
        await wait_until(pilot, lambda: app.active_batch is None, BATCH_TIMEOUT, "the batch to finish")
        (finished,) = [m for m in seen if isinstance(m, BatchFinished)]
        outcome = finished.outcome
        assert not outcome.stopped and outcome.missing == 0
        await wait_until(pilot, lambda: len(screen.batches or []) == 2, what="the batch screen to show the new batch")
        assert screen.selected == outcome.batch.plan.id  # the finished batch is the one shown
        tasks = screen.query_one("#batch-tasks", DataTable)
        assert str(tasks.get_row_at(0)[0]) == "folds=2"
        status = str(app.home.query_one("#status").render())
        assert f"batch {outcome.batch.plan.id} finished: 1 of 1 tasks recorded" in status
        assert app.sub_title.startswith("session ")
    app.close_session()


def test_the_resource_tracker_starts_under_textuals_print_capture() -> None:
    # Inside the app sys.stderr is Textual's capture (fileno() == -1); multiprocessing's resource
    # tracker passes that descriptor to its child, so Dask's first worker failed to start ("Nanny
    # failed to start"). In-process tests cannot see it once anything started the tracker: a fresh one.
    import subprocess
    import sys

    code = """
import sys
from multiprocessing import resource_tracker
class Capture:
    def write(self, text): return len(text)
    def flush(self): pass
    def fileno(self): return -1
sys.stderr = Capture()
try:
    resource_tracker.ensure_running()
except ValueError:
    print("plain start fails")
from workbench.app_batches import _start_resource_tracker
_start_resource_tracker()
assert resource_tracker._resource_tracker._pid is not None
assert isinstance(sys.stderr, Capture)
print("started")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.stdout.split() == ["plain", "start", "fails", "started"], result.stdout + result.stderr
