"""The real app on the real engine: agent proposals, the compile check in the sandbox,
nutpie sampling on tiny settings, and git commits — driven by key presses.

One sampling test runs in the default suite (nutpie compiles for 10–20 s); the others
that sample are marked slow.
"""

from __future__ import annotations

import json
from pathlib import Path

import git
import pytest
from fixtures.tui_pilot import wait_opened, wait_until

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "problems"

try:  # the model loop's harness lands separately; without it nothing here can run
    import engine.harness  # noqa: F401
    from engine.loop import RunOptions
    from engine.problem import SamplingSettings
except ImportError as exc:  # pragma: no cover - depends on what has landed
    pytest.skip(f"the model loop is not available yet ({exc})", allow_module_level=True)

TINY = RunOptions(sampling=SamplingSettings(chains=2, draws=100, tune=100, seed=1))
PROPOSE_TIMEOUT = 240.0  # agent + compile check in a cold sandbox on a busy 2-core machine
RUN_TIMEOUT = 420.0  # nutpie compile (10–20 s), tiny sampling, LOO, effect, commit


def _app(target: Path, root: Path, **kwargs):  # noqa: ANN003, ANN202
    from workbench.app import create_app

    return create_app(target, sessions_root=root, options=TINY, **kwargs)


async def _review(pilot):  # noqa: ANN001, ANN202
    from screens.review import ReviewScreen

    app = pilot.app
    await wait_opened(pilot)
    await pilot.press("p")
    await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen), PROPOSE_TIMEOUT, "a proposal to review")
    return app.screen


async def _skip_the_baseline(pilot):  # noqa: ANN001, ANN202
    """The workbench proposes the unchanged baseline first; skip it to reach the agent's proposal."""
    from screens.review import ReviewScreen

    app = pilot.app
    review = await _review(pilot)
    assert review.reviewed.proposal.move == "baseline" and review.reviewed.proposal.diff == ""
    await pilot.press("p")  # skip, and ask for the next proposal
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, ReviewScreen) and app.screen is not review,
        PROPOSE_TIMEOUT,
        "the agent's proposal",
    )
    return app.screen


async def test_approve_samples_and_records_the_verdict_in_git(tmp_path: Path) -> None:
    from screens.messages import SamplingProgressed
    from screens.run import RunScreen
    from screens.verdict import VerdictScreen

    progress: list[object] = []
    app = _app(PROBLEMS / "ihdp", tmp_path)
    hook = lambda m: progress.append(m.progress) if isinstance(m, SamplingProgressed) else None  # noqa: E731
    async with app.run_test(size=(100, 30), message_hook=hook) as pilot:
        review = await _review(pilot)
        hypothesis = review.reviewed.proposal.hypothesis
        assert review.check_action("approve", ()) is True
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen), 10, "the run screen")
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen), RUN_TIMEOUT, "the verdict")
        record = app.screen.record
        session_path = app.opened.session.path
        assert app.records[-1].number == record.number
        assert app.reviewed is None
        # The next proposal from the verdict screen: review → run → verdict again, with no stale
        # screen left under it (two verdict screens on the stack once crashed the app).
        await pilot.press("p")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ReviewScreen", RUN_TIMEOUT, "the next review")
        await pilot.press("a")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, VerdictScreen) and app.screen.record.number == record.number + 1,
            RUN_TIMEOUT,
            "the second verdict",
        )
        assert len(app.screen_stack) == 2  # home and this verdict
    app.close_session()
    assert record.verdict is not None, record
    assert record.decision.kind == "approved" and record.decision.decider == "principal"
    assert record.proposal.hypothesis == hypothesis
    assert progress, "the run screen received no sampling progress"
    repo = git.Repo(session_path)
    head = repo.head.commit
    subjects = repo.git.log("--format=%s").splitlines()
    assert subjects[0].startswith(f"iter {record.number + 1}: ") and subjects[1].startswith(f"iter {record.number}: ")
    committed = json.loads((head.tree / f"iterations/{record.number:04d}/record.json").data_stream.read())
    assert committed["verdict"]["kind"] == record.verdict.kind.value
    repo.close()


async def test_reject_reason_reaches_the_next_agent_context(tmp_path: Path) -> None:
    from textual.widgets import Input

    from screens.review import ReviewScreen

    reason = "splines on every covariate at once overfit; add structure one step at a time"
    app = _app(PROBLEMS / "ihdp", tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await _review(pilot)
        await pilot.press("r")
        app.screen.query_one(Input).value = reason
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.records) == 1, 60, "the rejection to be recorded")
        assert not isinstance(app.screen, ReviewScreen)
        context = app.opened.workbench.context()
        session_path = app.opened.session.path
    app.close_session()
    last = context.history[-1]
    assert last.decision.kind == "rejected" and last.decision.reason == reason
    assert last.verdict is None
    assert "rejected" in git.Repo(session_path).head.commit.message


def _leaky_replay(tmp_path: Path) -> Path:
    baseline = (PROBLEMS / "retention_email" / "model.py").read_text()
    leaky = baseline.replace(
        "    X = data.X.to_numpy()\n",
        '    X = data.X.to_numpy()\n    wanted = [c for c in data.X.columns if c != "opened"]  # reaches for a mediator\n',
    )
    assert leaky != baseline
    path = tmp_path / "replay.json"
    path.write_text(
        json.dumps(
            [
                {
                    "hypothesis": "Adjust for whether the customer opened the email.",
                    "rationale": "Openers renew more; conditioning on opening should sharpen the estimate.",
                    "new_source": leaky,
                }
            ]
        )
    )
    return path


async def test_blocked_proposal_cannot_be_approved_without_an_override(tmp_path: Path) -> None:
    from textual.widgets import Input

    from screens.dialogs import ReasonDialog

    replay = _leaky_replay(tmp_path)
    app = _app(PROBLEMS / "retention_email", tmp_path / "sessions", agent="replay", replay_file=replay)
    async with app.run_test(size=(100, 30)) as pilot:
        review = await _skip_the_baseline(pilot)
        assert review.reviewed.blocked
        assert any(f.code == "forbidden-column" for f in review.reviewed.findings)
        assert review.check_action("approve", ()) is None  # greyed in the footer
        await pilot.press("a")
        await pilot.pause(0.5)
        assert app.screen is review and len(app.records) == 1  # nothing ran, nothing recorded but the skip
        await pilot.press("exclamation_mark")
        assert isinstance(app.screen, ReasonDialog)
        app.screen.query_one(Input).value = "checking the guard; the column is only filtered out"
        await pilot.press("enter")
        assert review.check_action("approve", ()) is True
        # Do not sample here (slow test below): reject, and the record keeps the blocker.
        await pilot.press("r")
        app.screen.query_one(Input).value = "uses a mediator"
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.records) == 2, 60, "the rejection to be recorded")
        record = app.records[-1]
    app.close_session()
    assert record.decision.kind == "rejected"
    assert any(f.code == "forbidden-column" and f.severity == "blocker" for f in record.findings)


@pytest.mark.slow
async def test_override_approval_is_recorded_with_its_reason(tmp_path: Path) -> None:
    from textual.widgets import Input

    from screens.verdict import VerdictScreen

    replay = _leaky_replay(tmp_path)
    app = _app(PROBLEMS / "retention_email", tmp_path / "sessions", agent="replay", replay_file=replay)
    async with app.run_test(size=(100, 30)) as pilot:
        await _skip_the_baseline(pilot)
        await pilot.press("exclamation_mark")
        app.screen.query_one(Input).value = "the column is only filtered out; approve to compare"
        await pilot.press("enter", "a")
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen), RUN_TIMEOUT, "the verdict")
        record = app.screen.record
    app.close_session()
    assert record.decision.override == "the column is only filtered out; approve to compare"
    assert record.verdict is not None


@pytest.mark.slow
async def test_edit_then_approve_is_recorded_as_the_principals(tmp_path: Path) -> None:
    from textual.widgets import TextArea

    from screens.edit_proposal import EditProposalScreen
    from screens.verdict import VerdictScreen

    app = _app(PROBLEMS / "ihdp", tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await _review(pilot)
        await pilot.press("e")
        assert isinstance(app.screen, EditProposalScreen)
        area = app.screen.query_one(TextArea)
        area.text = area.text.replace("return model", "# the principal's note: fine as it is\n    return model")
        await pilot.press("ctrl+s")
        await wait_until(
            pilot, lambda: isinstance(app.screen, VerdictScreen), PROPOSE_TIMEOUT + RUN_TIMEOUT, "the verdict"
        )
        record = app.screen.record
    app.close_session()
    assert record.decision.edited and record.decision.decider == "principal"
    # The agent's proposal is kept as it was; what ran is the principal's version, with its diff.
    assert "the principal's note" not in record.proposal.new_source
    (folder,) = [p.parent for p in tmp_path.rglob(f"iterations/{record.number:04d}/edit.diff")]
    assert "the principal's note" in (folder / "edit.diff").read_text()
    assert "the principal's note" in (folder / "model.py").read_text()


@pytest.mark.slow
async def test_cancel_stops_sampling_and_records_a_cancel(tmp_path: Path) -> None:
    from screens.run import RunScreen
    from screens.verdict import VerdictScreen

    app = _app(PROBLEMS / "ihdp", tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await _review(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen), 10)
        run_screen = app.screen
        await pilot.pause(1.0)
        await pilot.press("c")
        assert run_screen.cancel_event.is_set()
        assert run_screen.check_action("cancel", ()) is None  # greyed: already cancelling
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen), RUN_TIMEOUT, "the cancelled verdict")
        record = app.screen.record
    app.close_session()
    assert record.verdict is not None and record.verdict.kind == "cancelled", record.verdict
    assert "cancelled by the principal" in record.verdict.reason


async def test_a_pending_proposal_survives_closing_the_app(tmp_path: Path) -> None:
    from screens.review import ReviewScreen

    first = _app(PROBLEMS / "ihdp", tmp_path)
    async with first.run_test(size=(100, 30)) as pilot:
        review = await _review(pilot)
        hypothesis = review.reviewed.proposal.hypothesis
        session_path = first.opened.session.path
    first.close_session()

    resumed = _app(session_path, tmp_path)  # `workbench open sessions/<id>`
    async with resumed.run_test(size=(100, 30)) as pilot:
        await wait_opened(pilot)
        assert resumed.reviewed is not None and resumed.records == []
        await pilot.press("p")  # reviews the pending proposal; the agent is not asked again
        assert isinstance(resumed.screen, ReviewScreen)
        assert resumed.screen.reviewed.proposal.hypothesis == hypothesis
    resumed.close_session()


@pytest.mark.slow
async def test_escape_leaves_the_real_sampler_running_and_the_header_follows_it(tmp_path: Path) -> None:
    from screens.history import HistoryScreen
    from screens.home import HomeScreen
    from screens.run import RunScreen
    from screens.verdict import VerdictScreen
    from workbench.app import create_app

    longer = RunOptions(sampling=SamplingSettings(chains=2, draws=2000, tune=1000, seed=1))
    app = create_app(PROBLEMS / "ihdp", sessions_root=tmp_path, options=longer)
    async with app.run_test(size=(100, 30)) as pilot:
        await _review(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen), 10, "the run screen")
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen) and app.active_run is not None
        assert app.sub_title.startswith("▶ iteration 1")
        await pilot.press("h")
        assert isinstance(app.screen, HistoryScreen)
        seen: set[str] = set()
        await wait_until(
            pilot,
            lambda: seen.add(app.sub_title) or "%" in app.sub_title or app.active_run is None,
            RUN_TIMEOUT,
            "the chains' progress in the header",
        )
        assert len(seen) > 1, seen  # the header moved while the principal browsed
        if app.active_run is not None:
            await pilot.press("v")
            assert isinstance(app.screen, RunScreen)
            await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen), RUN_TIMEOUT, "the verdict")
        else:  # it finished while we looked at history: v opens the verdict it reached
            await pilot.press("v")
            await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen), 10, "the verdict")
        assert app.screen.record.number == 1 and app.sub_title.startswith("session ")
    app.close_session()


@pytest.mark.slow
async def test_approve_after_ready_starts_sampling_without_a_compile_phase(tmp_path: Path) -> None:
    from textual.widgets import Static

    from engine.progress import Phase
    from screens.messages import SamplingProgressed
    from screens.verdict import VerdictScreen

    phases: list[str] = []
    app = _app(PROBLEMS / "ihdp", tmp_path)

    def hook(message: object) -> None:
        if isinstance(message, SamplingProgressed):
            phases.append(getattr(message.progress, "phase", "stage"))

    async with app.run_test(size=(100, 30), message_hook=hook) as pilot:
        review = await _review(pilot)
        await wait_until(pilot, lambda: app.readiness.startswith("compiled, ready"), PROPOSE_TIMEOUT, "ready")
        assert "✓ compiled, ready" in str(review.query_one("#readiness", Static).render())
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen), RUN_TIMEOUT, "the verdict")
        record = app.screen.record
    app.close_session()
    assert phases and Phase.COMPILING not in phases and Phase.READY not in phases
    assert record.timings["compile"] > 0 and "review_wait" in record.timings
