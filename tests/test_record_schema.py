"""The typed iteration record: one adapter to and from JSON, and sessions written before it.

``fixtures/session-v1.bundle`` is a real session (three iterations: two model runs and a
design run, IHDP, tiny sampling) written by the code before the record was typed, when loop
results sat in ``extra`` and agent notes in ``meta``. It must still read, resume and report.
"""

from __future__ import annotations

import json
from pathlib import Path

import git
import pytest
from fixtures.tui_data import fixture_records

from engine.design.critic import Critique
from engine.design.results import DesignResult
from engine.iteration import RECORD_SCHEMA, IterationRecord, record_from_json
from engine.jsonable import to_json
from engine.model_critic import ModelReview
from engine.modelspec import ModelPlan
from engine.records import Loop, ParamDiagnostic
from engine.store import Session

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = Path(__file__).parent / "fixtures" / "session-v1.bundle"


@pytest.fixture
def old_session(tmp_path: Path) -> Path:
    path = tmp_path / "sessions" / "ihdp-20261204-180249"
    git.Repo.clone_from(str(BUNDLE), path).close()
    return path


def test_every_typed_field_round_trips_through_json() -> None:
    for record in fixture_records():
        text = to_json(record)
        assert '"extra"' not in text and '"meta"' not in text
        assert json.loads(text)["schema"] == RECORD_SCHEMA
        assert record_from_json(text) == record, record.number


def test_a_schema_1_session_reads_as_typed_records(old_session: Path) -> None:
    raw = json.loads((old_session / "iterations" / "0002" / "record.json").read_text())
    assert "schema" not in raw and "convergence" in raw["extra"] and "spec" in raw["proposal"]["meta"]  # old layout
    session = Session.open(old_session, readonly=True)
    try:
        records = session.iterations()
    finally:
        session.close()
    first, second, design = records
    assert all(r.schema == RECORD_SCHEMA for r in records)
    assert first.convergence and all(isinstance(d, ParamDiagnostic) for d in first.convergence)
    assert isinstance(first.model_review, ModelReview) and first.model_review.credibility
    assert isinstance(second.proposal.generated, ModelPlan)
    assert second.proposal.generated.spec.separate_arms  # "giving each arm its own intercept"
    assert design.proposal.loop is Loop.DESIGN
    assert isinstance(design.design, DesignResult) and isinstance(design.critique, Critique)
    assert design.design.estimate.effect == pytest.approx(raw_effect(old_session, 3), abs=1e-9)


def raw_effect(session: Path, number: int) -> float:
    raw = json.loads((session / "iterations" / f"{number:04d}" / "record.json").read_text())
    return raw["extra"]["design"]["estimate"]["effect"]


def test_a_schema_1_session_resumes_and_writes_schema_2(old_session: Path, tmp_path: Path) -> None:
    from engine.launch import open_workbench
    from engine.loop import RunOptions
    from engine.problem import SamplingSettings
    from engine.records import Decision, DecisionKind

    options = RunOptions(sampling=SamplingSettings(chains=2, draws=100, tune=100, seed=1))
    wb = open_workbench(
        ROOT / "problems" / "ihdp", session=old_session, sessions_root=old_session.parent, options=options
    )
    try:
        reviewed = wb.propose(Loop.MODEL)  # the offline agent reads the old records' plans
        assert reviewed.proposal.old_source == wb.session.best_source(Loop.MODEL)
        record = wb.execute(reviewed, Decision(DecisionKind.REJECTED, "principal", reason="not today"))
    finally:
        wb.session.close()
    assert record.number == 4
    written = json.loads((old_session / "iterations" / "0004" / "record.json").read_text())
    assert written["schema"] == RECORD_SCHEMA and "extra" not in written
    assert isinstance(record_from_json(json.dumps(written)), IterationRecord)


def test_a_schema_1_session_exports_a_report(old_session: Path) -> None:
    from engine.report import write_report

    paths = write_report(old_session)
    html = next(p for p in paths if p.suffix == ".html").read_text(encoding="utf-8")
    assert "The model critic:" in html  # the old `extra["review"]`, read as a ModelReview
    for number in (1, 2, 3):
        assert f"#{number}" in html or f"iteration {number}" in html


ESCAPES = "\x1b[2J\x1b[31mkept\x1b[0m \u202eDESREVER\u202c \x07"


def test_agent_prose_is_made_showable_wherever_a_record_is_built() -> None:
    """Red team, round 12: an escape sequence in a hypothesis reached the terminal table, the report and git log.

    The records clean an agent's prose when they are built (read back from JSON too), so no screen,
    report or commit message has to remember; the code the agent wrote is the guard's to refuse.
    """
    from dataclasses import replace

    from engine.agents.activity import AgentActivity
    from engine.records import AgentPlan, AgentReview
    from engine.store.messages import iteration_message, iteration_subject

    record = fixture_records()[0]
    hostile = replace(
        record,
        proposal=replace(
            record.proposal,
            hypothesis=ESCAPES,
            rationale=ESCAPES,
            plan=AgentPlan(hypothesis=ESCAPES, rationale=ESCAPES, instructions=ESCAPES),
            review=AgentReview(text=ESCAPES, error=ESCAPES),
        ),
    )
    texts = [
        iteration_subject(hostile),
        iteration_message(hostile),
        to_json(hostile),
        AgentActivity(role="coder", model="m", draft=ESCAPES, waiting_for=ESCAPES).line(),
        AgentActivity(role="coder", model="m", draft=ESCAPES).draft,
    ]
    back = record_from_json(to_json(hostile))
    texts += [back.proposal.hypothesis, back.proposal.plan.instructions, back.proposal.review.text]
    for text in texts:
        assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text, repr(text)[:200]
    assert "[2J" in back.proposal.hypothesis and "DESREVER" in back.proposal.hypothesis  # shown, not dropped
    assert record.proposal.new_source == hostile.proposal.new_source  # code is never rewritten
