"""The real app with the Claude agent against the validating fake API: watch a proposal stream,
cancel it with ``c`` mid-stream, see nothing recorded, and ask again.

The session first gets one judged design iteration (the baseline analysis, a real design
run of a few seconds), so the next design proposal is Claude's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_anthropic import FakeAnthropic, streamed, tool_use  # noqa: E402
from fixtures.tui_pilot import wait_opened, wait_until  # noqa: E402

from engine.launch import open_workbench  # noqa: E402
from engine.records import Decision, DecisionKind, Loop  # noqa: E402

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[1]
REVIEW = {
    "advice": "approve with care",
    "estimand": "Still the ATE over all 747 children: folds do not change the population.",
    "roles": "none",
    "hypothesis": "The file sets folds = 4 as planned.",
    "overfitting": "Low: no parameter is added.",
    "summary": "A harmless change; expect the estimate to move only by seed noise.",
}
PLAN = {
    "hypothesis": "Four folds give each nuisance model more units per fold without changing the estimand.",
    "rationale": "A small, safe design step.",
    "instructions": "Set folds = 4 and change nothing else.",
    "label": "four-folds",
}


def _replies(analysis: str, **stream) -> tuple:
    toml = analysis.replace("folds = 5", "folds = 4")
    code = tool_use("submit_analysis", {"hypothesis": PLAN["hypothesis"], "rationale": "folds", "toml": toml})
    return tool_use("plan_next_step", PLAN), streamed(code, **stream)


def _status(app) -> str:  # noqa: ANN001
    return str(app.home.query_one("#status").render())


async def test_c_cancels_a_streaming_proposal_and_nothing_is_recorded(tmp_path, monkeypatch) -> None:
    from screens.review import ReviewScreen
    from workbench.app import create_app

    with FakeAnthropic(lifetime_s=120) as fake:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        monkeypatch.delenv("ANTHROPIC_MODEL", raising=False)
        wb = open_workbench(ROOT / "problems" / "ihdp", sessions_root=tmp_path)
        baseline = wb.propose(Loop.DESIGN)
        wb.execute(baseline, Decision(DecisionKind.APPROVED, "principal"))
        analysis, session = wb.session.current_source(Loop.DESIGN), wb.session.path
        wb.session.close()

        fake.script(*_replies(analysis, pieces=80, event_delay_s=0.05))  # about 4 s of streaming
        app = create_app(session, agent="anthropic", sessions_root=tmp_path, warm_up=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_opened(pilot)
            await pilot.press("d")
            draft = app.home.query_one("#draft")
            await wait_until(pilot, lambda: draft.display, timeout=30, what="the coder's file streaming on home")
            assert "coder is writing" in str(draft.border_title) and "c cancels" in str(draft.border_title)
            assert "tokens so far" in _status(app)
            await pilot.press("c")
            await wait_until(pilot, lambda: "agent cancelled" in _status(app), timeout=30, what="the cancel")
            assert not draft.display and app.reviewed is None and len(app.records) == 1
            assert app.opened.workbench.session.load_pending() is None
            spend = app.opened.workbench.session.spend()
            assert [e.outcome.value for e in spend.entries] == ["cancelled"]  # the plan's call, paid for
            assert not isinstance(app.screen, ReviewScreen)

            fake.script(*_replies(analysis), tool_use("submit_proposal_review", REVIEW))
            await pilot.press("d")
            await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen), timeout=30, what="the review")
            assert app.reviewed is not None and "folds = 4" in app.reviewed.proposal.new_source
            # The reviewer read it before the principal: its advice sits beside the guard's findings.
            shown = str(app.screen.query_one("#agent-review").render())
            assert "reviewer" in shown and "Advice: approve with care" in shown and "Overfitting: Low" in shown
            reviewer_request = fake.bodies()[-1]
            assert reviewer_request["tools"][0]["name"] == "submit_proposal_review"
            review_text = "".join(b["text"] for b in reviewer_request["messages"][0]["content"])
            assert "folds = 4" in review_text and "## Causal contract" in review_text
            assert app.opened.workbench.session.load_pending().proposal.review is not None  # survives a kill
        app.close_session()
