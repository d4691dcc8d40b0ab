"""Claude as a colleague the principal can watch, stop and afford: streaming, cancel, retries,
budget, the spend ledger and the report's cost table, against the validating fake Messages API.

Every request goes through the real anthropic SDK to :mod:`tests.fake_anthropic`, which
refuses (and fails the test on) anything the real API would refuse.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_anthropic import FakeAnthropic, error, streamed, tool_use  # noqa: E402

from engine.agents import anthropic as claude  # noqa: E402
from engine.agents import api_errors, make_agent  # noqa: E402
from engine.agents.activity import AgentActivity, AgentCancelled, AgentControl, BudgetReached, controlled  # noqa: E402
from engine.agents.anthropic import AnthropicAgent  # noqa: E402
from engine.agents.ledger import price_for  # noqa: E402
from engine.errors import AgentError  # noqa: E402
from engine.loop import RunOptions, Workbench  # noqa: E402
from engine.problem_load import load_problem  # noqa: E402
from engine.records import Decision, DecisionKind, Loop  # noqa: E402
from engine.report.costs import cost_table, record_calls  # noqa: E402
from engine.store import Session  # noqa: E402
from engine.store.spend import Outcome, Purpose  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PLAN = {
    "hypothesis": "A wider prior on the treatment effect changes nothing but the interval.",
    "rationale": "A small, safe first step.",
    "instructions": "Double the prior scale of beta_t.",
    "label": "wider-effect-prior",
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORKBENCH_CONFIG", "")  # no user config file leaks into a test


@pytest.fixture
def fake():
    with FakeAnthropic(lifetime_s=30) as server:  # any request the API would refuse fails the test
        yield server


@pytest.fixture
def workbench(fake, tmp_path):
    def build(budget_usd: float | None = None, model: str | None = None) -> Workbench:
        problem = load_problem(ROOT / "problems" / "ihdp")
        agent = AnthropicAgent(api_key="test-key", base_url=fake.url, model=model)
        return Workbench(problem, Session.create(problem, tmp_path), agent, RunOptions(budget_usd=budget_usd))

    made: list[Workbench] = []
    yield lambda **kw: made.append(build(**kw)) or made[-1]
    for wb in made:
        wb.session.close()


def _model_source(wb: Workbench) -> str:
    return wb.context().best_source.replace(
        'beta_t = pm.Normal("beta_t", 0, y_scale)', 'beta_t = pm.Normal("beta_t", 0, 2 * y_scale)'
    )


def _replies(wb: Workbench, **usage) -> tuple:
    plan = tool_use("plan_next_step", PLAN, **usage)
    code = tool_use(
        "submit_model", {"hypothesis": PLAN["hypothesis"], "rationale": "wider", "source": _model_source(wb)}, **usage
    )
    return plan, code


def _propose(wb: Workbench):
    return wb.ask_agent(Purpose.PROPOSAL, Loop.MODEL, lambda: wb.agent.propose(wb.context()))


def test_a_streamed_proposal_reports_its_progress_and_the_coders_file(fake, workbench, monkeypatch) -> None:
    monkeypatch.setattr(claude, "PROGRESS_EVERY_S", 0.0)  # every delta reported (0.25 s apart in use)
    wb = workbench()
    plan, code = _replies(wb, output_tokens=900)
    fake.script(streamed(plan, pieces=6), streamed(code, pieces=40))
    seen: list[AgentActivity] = []
    wb.on_agent_activity = seen.append
    proposal = _propose(wb)
    assert all(r.streamed for r in fake.requests)
    roles = [a.role for a in seen]
    assert roles[0] == "orchestrator" and "coder" in roles
    drafts = [a.draft for a in seen if a.role == "coder" and a.draft]
    assert len(drafts) >= 2 and len(drafts[0]) < len(drafts[-1])  # the file grows as it streams
    assert drafts[-1] == proposal.new_source and all(proposal.new_source.startswith(d) for d in drafts)
    final = [a for a in seen if a.exact]
    assert final and final[-1].output_tokens == 900 and "900 tokens so far" in final[-1].line()
    entries = wb.session.spend().entries  # both calls in the ledger, matched to nothing yet
    assert [(e.purpose, e.outcome) for e in entries] == [(Purpose.PROPOSAL, Outcome.RETURNED)] * 2
    assert {e.call.request_id for e in entries} == {c.request_id for c in proposal.usage.calls}
    assert all(e.call.model == claude.DEFAULT_MODEL for e in entries)


def test_a_cancel_mid_stream_records_nothing_but_the_cost(fake, workbench) -> None:
    wb = workbench()
    plan, code = _replies(wb)
    fake.script(plan, streamed(code, pieces=60, event_delay_s=0.05))  # the coder takes ~3 s to stream

    def cancel_once_coding(activity: AgentActivity) -> None:
        if activity.role == "coder" and activity.characters:
            threading.Thread(target=wb.cancel_agent).start()  # as the UI thread would

    wb.on_agent_activity = cancel_once_coding
    with pytest.raises(AgentCancelled, match="nothing was recorded"):
        _propose(wb)
    assert wb.agent_control is None and wb.session.load_pending() is None and wb.session.iterations() == []
    outcomes = [(e.call.role, e.outcome) for e in wb.session.spend().entries]
    assert outcomes == [("orchestrator", Outcome.CANCELLED)]  # the finished plan's call is paid for
    assert fake.streams[-1].outcome != "complete"  # the coder's stream was closed, not read to its end
    # A clean state: the principal asks again and gets a proposal.
    wb.on_agent_activity = None
    fake.script(*_replies(wb))
    assert _propose(wb).new_source == _model_source(wb)


def test_retry_after_is_capped_counted_down_and_cancellable(fake, workbench, monkeypatch) -> None:
    monkeypatch.setattr(api_errors, "RETRY_CAP_S", 0.6)
    wb = workbench()
    plan, code = _replies(wb)
    fake.script(error(429, "rate limited", retry_after_s=120), plan, code)  # the SDK alone would wait 2 minutes
    seen: list[AgentActivity] = []
    wb.on_agent_activity = seen.append
    _propose(wb)
    waits = [a for a in seen if a.retry_in_s > 0]
    assert waits and max(a.retry_in_s for a in waits) <= 0.6
    assert "HTTP 429" in waits[0].line() and "retrying in" in waits[0].line()
    # Cancelled during the countdown: no second request.
    fake.script(error(529, "overloaded", retry_after_s=120))
    monkeypatch.setattr(api_errors, "RETRY_CAP_S", 20.0)
    control = AgentControl()
    timer = threading.Timer(0.3, control.cancel)
    timer.start()
    asked = len(fake.requests)
    with controlled(control), pytest.raises(AgentCancelled):
        wb.agent.propose(wb.context())
    assert len(fake.requests) == asked + 1


def test_a_budget_stops_the_next_proposal_with_a_clear_message(fake, workbench) -> None:
    wb = workbench(budget_usd=0.03)
    usage = {"input_tokens": 3000, "output_tokens": 600}  # each call: (3000 × $3 + 600 × $15) / 1e6 = $0.018
    fake.script(*_replies(wb, **usage))
    _propose(wb)  # the plan leaves $0.012 of the budget, so the coder is still asked
    assert wb.session.spend().known_usd == pytest.approx(0.036)
    assert wb.budget_left() < 0 and "agent spend $0.04 of the $0.03 budget (120%)" in wb.budget_warning()
    asked = len(fake.requests)
    with pytest.raises(BudgetReached, match=r"budget of \$0.03 is spent .*raise --budget-usd"):
        _propose(wb)
    assert len(fake.requests) == asked  # nothing was asked of Claude


def test_a_budget_spent_mid_proposal_stops_before_the_next_call(fake, workbench) -> None:
    wb = workbench(budget_usd=0.01)
    fake.script(*_replies(wb, input_tokens=3000, output_tokens=600))
    with pytest.raises(BudgetReached, match="this proposal alone cost"):
        _propose(wb)
    assert len(fake.requests) == 1  # the coder was never asked
    assert [e.outcome for e in wb.session.spend().entries] == [Outcome.OVER_BUDGET]


def test_cache_reads_are_counted_and_priced_at_a_tenth(fake, workbench) -> None:
    wb = workbench()
    fake.script(*_replies(wb, input_tokens=100, cache_read_input_tokens=5000, output_tokens=50))
    proposal = _propose(wb)
    plan_request = fake.bodies()[0]
    assert plan_request["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert plan_request["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}  # the stable block
    inp, out = price_for(claude.DEFAULT_MODEL)
    call = proposal.usage.calls[0]
    assert call.cache_read_input_tokens == 5000
    assert call.cost_usd == pytest.approx((100 * inp + 5000 * inp * 0.1 + 50 * out) / 1e6)
    assert wb.session.spend().cache_read_tokens == 10_000


def test_the_cost_table_adds_up_to_every_recorded_call(fake, workbench) -> None:
    wb = workbench()
    fake.script(*_replies(wb, input_tokens=1000, output_tokens=200))
    proposal = _propose(wb)
    from engine.loop import Reviewed

    # Recorded as a rejected iteration (no sampling needed).
    record = wb.execute(Reviewed(proposal, (), None), Decision(DecisionKind.REJECTED, "principal", reason="not now"))
    fake.script(*_replies(wb, input_tokens=1000, output_tokens=200))
    wb.on_agent_activity = lambda a: wb.cancel_agent() if a.role == "coder" else None
    with pytest.raises(AgentCancelled):
        _propose(wb)
    fake.script(error(402, "Your credit balance is too low"))
    wb.on_agent_activity = None
    with pytest.raises(AgentError, match="credit balance or spend limit is exhausted"):
        _propose(wb)
    spend = wb.session.spend()
    table = cost_table(wb.session.iterations(), spend)
    assert table is not None
    labels = [r.label for r in table.rows]
    assert labels[0] == f"iteration {record.number}" and any("cancelled" in label for label in labels)
    assert table.total.calls == len(spend.entries) == sum(r.calls for r in table.rows)
    assert table.total.cost_usd == pytest.approx(sum(r.cost_usd for r in table.rows))
    assert table.total.cost_usd == pytest.approx(spend.known_usd)
    assert table.rows[0].calls == len(record_calls(record)) == 2


def test_a_model_that_refuses_forced_tools_is_asked_with_auto(fake, workbench) -> None:
    wb = workbench(model="claude-sonnet-5-5")
    fake.script(*_replies(wb))
    _propose(wb)
    assert [b["tool_choice"] for b in fake.bodies()] == [{"type": "auto"}] * 2
    assert wb.session.spend().entries[0].call.cost_usd is not None  # priced: $2 / $10
    # A model not in the list learns it from the API's 400 and asks again at once.
    other = workbench(model="claude-mythos-5-1")
    fake.script(error(400, 'tool_choice: type "tool" and "any" are not supported for this model'), *_replies(other))
    before = len(fake.requests)
    _propose(other)
    assert [b["tool_choice"]["type"] for b in fake.bodies()[before:]] == ["tool", "auto", "auto"]
    assert other.session.spend().entries[0].call.cost_usd is None  # no listed price: tokens only
    fake.take_violations()  # the first request was refused on purpose


def test_temperature_is_not_an_option_and_errors_say_what_to_do(fake) -> None:
    with pytest.raises(AgentError, match="bad options for the anthropic agent"):
        make_agent("anthropic", api_key="k", base_url=fake.url, temperature=0.2)
    agent = AnthropicAgent(api_key="test-key", base_url=fake.url)
    assert agent.model == claude.DEFAULT_MODEL and price_for("claude-3-5-haiku") is None  # retired: not listed
    agent.use_model("claude-opus-5-5")
    assert agent.price == (4.0, 20.0) and not agent.forced_tools


def test_a_deprecated_model_is_named_when_the_workbench_opens(fake, tmp_path, monkeypatch) -> None:
    from engine.launch import open_workbench

    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    wb = open_workbench(
        ROOT / "problems" / "ihdp", sessions_root=tmp_path, agent="anthropic", agent_model="claude-opus-4-5"
    )
    try:
        assert any("claude-opus-4-5 is deprecated" in note and "--model" in note for note in wb.notes)
    finally:
        wb.session.close()
    assert AnthropicAgent(api_key="k", base_url=fake.url).deprecation is None  # the default is current
