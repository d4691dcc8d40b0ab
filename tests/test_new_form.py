"""`workbench new`'s form, the real app driven through Textual's pilot at 80×24.

The CSV is generated here: 300 rows with an id, a 0/1 treatment ``t`` that depends on
``x1``, a continuous outcome ``y``, two pre-treatment numbers, a text categorical and
``opened``, which is 0 whenever ``t`` is 0 (an email can only be opened once sent). The
checks must flag ``opened`` with its evidence; the principal decides the rest with keys.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures.tui_pilot import wait_until

from engine.intake.csvfile import read_csv
from engine.intake.dictionary import FORBIDDEN_REASONS, Draft, Intake, Role, build_contract

pytestmark = pytest.mark.anyio

SIZE = (80, 24)  # the smallest terminal the workbench promises to work in


def write_csv(path: Path, n: int = 300, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    region = rng.choice(["north", "south", "east"], size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-x1))).astype(int)
    opened = np.where(t == 1, (rng.random(n) < 0.6).astype(int), 0)
    y = 1 + 0.5 * t + x1 - 0.5 * x2 + 0.8 * opened + rng.normal(size=n)
    frame = pd.DataFrame(
        {"id": np.arange(1, n + 1), "t": t, "y": y.round(3), "x1": x1.round(3), "x2": x2.round(3)}
        | {"region": region, "opened": opened}
    )
    frame.to_csv(path, index=False)
    return path


def screen_text(app) -> str:  # noqa: ANN001
    """Everything the current screen shows, one line per terminal row."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def flat(text: str) -> str:
    """The screen's words with the line breaks and padding gone, for sentences that wrap."""
    return " ".join(text.split())


def table_row(app, name: str) -> list[str]:  # noqa: ANN001
    from textual.widgets import DataTable

    return [str(cell) for cell in app.columns_step.query_one("#columns", DataTable).get_row(name)]


async def highlight(pilot, app, name: str) -> None:  # noqa: ANN001
    """Move the table's cursor to ``name`` with the arrow keys."""
    from textual.widgets import DataTable

    table = app.columns_step.query_one("#columns", DataTable)
    target = app.columns.index(name)
    while table.cursor_row != target:
        await pilot.press("down" if table.cursor_row < target else "up")
    await pilot.pause()


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return read_csv(write_csv(tmp_path_factory.mktemp("new-form") / "email.csv"))


async def test_form_flags_opened_refuses_until_decided_and_opens_the_workbench(table, tmp_path: Path) -> None:  # noqa: ANN001
    from screens.dialogs import ErrorDialog, ReasonDialog
    from screens.new_problem import ColumnsScreen
    from workbench.new_app import NewProblemApp

    app = NewProblemApp(table, Draft(name="email"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"Does t raise y?")
        # The selects search as you type: t is offered first (two values), y by its name.
        await pilot.press("tab", "enter", "t", "enter", "tab", "tab", "enter", "y", "enter")
        await wait_until(pilot, lambda: app.suggestions is not None, timeout=30, what="the suggestions")
        assert (app.draft.treatment, app.draft.outcome) == ("t", "y")
        assert "looks continuous" in screen_text(app)  # the outcome type's evidence, prefilled from it
        await pilot.press("ctrl+n")
        assert isinstance(app.screen, ColumnsScreen)
        text = screen_text(app)
        assert "suggestions computed on all 300 rows" in flat(text)

        opened = app.suggestions.get("opened")
        assert opened.suggested.role in FORBIDDEN_REASONS, opened
        await highlight(pilot, app, "opened")
        assert table_row(app, "opened")[3] == ""  # not decided until the principal acts
        text = screen_text(app)
        assert "forbidden" in text
        assert "it only varies among the treated" in text  # its evidence, in full below the table
        assert "suggests it is measured after treatment" in text

        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ErrorDialog)
        assert "column(s) not decided" in app.screen._message and "opened" in app.screen._message
        await pilot.press("escape")
        assert app.return_code is None  # still open: nothing was written

        # A forbidden role set by hand asks why; an empty reason is refused.
        await highlight(pilot, app, "region")
        await pilot.press("l")
        assert isinstance(app.screen, ReasonDialog)
        await pilot.press("enter")
        assert isinstance(app.screen, ReasonDialog)
        await pilot.press(*"after t")
        await pilot.press("enter")
        assert app.draft.decided("region").reason == "after t"
        await pilot.press("c")  # changed our mind: a confounder after all
        assert app.draft.decided("region").role is Role.CONFOUNDER

        await highlight(pilot, app, "x1")
        await pilot.press("c")
        left = len(app.draft.undecided(app.columns))
        await pilot.press("a")
        assert f"accepted the suggestion for {left} remaining column(s)" in flat(screen_text(app))
        assert app.draft.undecided(app.columns) == []
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.return_code == 0
    intake = app.return_value
    assert isinstance(intake, Intake)
    assert intake.question.text == "Does t raise y?"
    contract = build_contract(intake)
    assert "opened" in {f.name for f in contract.forbidden}
    assert {"x1", "x2", "region"} <= set(contract.controls)
    assert "id" in contract.ignore

    # What `workbench new` does next: write the folder and open the workbench on it.
    from fixtures.tui_pilot import wait_opened

    from engine.intake.folder import write_problem
    from screens.home import HomeScreen
    from workbench.app import create_app

    folder = write_problem(table, intake, tmp_path / "email")
    workbench = create_app(folder, sessions_root=tmp_path / "sessions", warm_up=False)
    async with workbench.run_test(size=SIZE) as pilot:
        await wait_opened(pilot)
        assert isinstance(workbench.screen, HomeScreen)
        text = screen_text(workbench)
        assert "Does t raise y?" in text and "opened" in text  # the question, and the forbidden column
    workbench.close_session()


async def test_escape_returns_none_and_decisions_survive_a_new_outcome(table) -> None:  # noqa: ANN001
    from textual.widgets import Select

    from workbench.new_app import NewProblemApp

    app = NewProblemApp(table, Draft(name="email"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape")
        await pilot.pause()
        assert app.return_code == 0
    assert app.return_value is None

    # Treatment and outcome from flags, one column decided: Escape goes back, then asks once more.
    app = NewProblemApp(table, Draft(name="email", treatment="t", outcome="y"), previous=True)
    async with app.run_test(size=SIZE) as pilot:
        assert "previous run" in screen_text(app)
        await wait_until(pilot, lambda: app.suggestions is not None, timeout=30, what="the suggestions")
        await pilot.press("ctrl+n", "enter")
        assert len(app.draft.decisions) == 1
        await pilot.press("escape")  # back to the question step
        await pilot.pause()
        # Another outcome: the suggestions are computed again, and the decision made stays.
        before = app.suggestions
        app.question.query_one("#outcome", Select).value = "x2"
        await wait_until(pilot, lambda: app.suggestions not in (None, before), timeout=30, what="new suggestions")
        assert app.suggestions.get("y") is not None and app.suggestions.get("x2") is None
        assert len(app.draft.decisions) == 1
        await pilot.press("escape")
        await pilot.pause()
        assert app.return_code is None and "Escape again" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert app.return_code == 0
    assert app.return_value is None
