"""The Claude agent against a local fake of the Messages API, through the real anthropic SDK.

No network and no sampling: :mod:`tests.fake_anthropic` answers on 127.0.0.1 with scripted
replies shaped as the real API's, and records every request so the tests can check what was
sent — the forced tools, the key, the compile traceback, and that neither the truth nor the
reviewer-only part of PROBLEM.md ever leaves the machine.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_anthropic import FakeAnthropic, error, slow, text_reply, tool_use  # noqa: E402

from engine.agents import make_agent  # noqa: E402
from engine.agents.anthropic import DEFAULT_MODEL, AnthropicAgent  # noqa: E402
from engine.agents.base import build_context  # noqa: E402
from engine.agents.ledger import fit_transcript, price_for  # noqa: E402
from engine.errors import AgentError  # noqa: E402
from engine.iteration import IterationRecord  # noqa: E402
from engine.jsonable import from_dict, to_json  # noqa: E402
from engine.problem_load import load_problem  # noqa: E402
from engine.records import (  # noqa: E402
    CompileResult,
    Decision,
    DecisionKind,
    Effect,
    GateResult,
    Loop,
    Metrics,
    Proposal,
    TranscriptEntry,
    Verdict,
    VerdictKind,
)

ROOT = Path(__file__).resolve().parents[1]

PLAN = {
    "hypothesis": "Separate arms with their own mean and noise will raise ELPD by more than 2 SE.",
    "rationale": "PROGRAM.md says per-arm structure is the single biggest fix; nothing has been tried yet.",
    "instructions": "Give each arm its own intercept, slopes and sigma; keep the priors on y_scale.",
    "label": "Separate Arms",
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def _user(body: dict) -> str:
    """The first user turn's text (the orchestrator's arrives as a cached block and a changing one)."""
    content = body["messages"][0]["content"]
    return content if isinstance(content, str) else "\n\n".join(block["text"] for block in content)


def _system(body: dict) -> str:
    """The system prompt's text (sent as cached text blocks)."""
    system = body["system"]
    return system if isinstance(system, str) else "".join(block["text"] for block in system)


@pytest.fixture
def fake():
    with FakeAnthropic(lifetime_s=30) as server:  # leaving the block fails the test on any request the API refuses
        yield server


@pytest.fixture
def agent(fake):
    return AnthropicAgent(api_key="test-key", base_url=fake.url)


@pytest.fixture(scope="module")
def ihdp_problem():
    return load_problem(ROOT / "problems" / "ihdp")


@pytest.fixture(scope="module")
def model_context(ihdp_problem):
    return build_context(ihdp_problem)


def new_model(context) -> str:
    """A small valid change to the baseline: a wider prior on the treatment coefficient."""
    old = 'beta_t = pm.Normal("beta_t", 0, y_scale)'
    assert old in context.best_source
    return context.best_source.replace(old, 'beta_t = pm.Normal("beta_t", 0, 2 * y_scale)')


def submit(source: str, **kwargs) -> object:
    return tool_use(
        "submit_model", {"hypothesis": PLAN["hypothesis"], "rationale": "Per-arm terms.", "source": source}, **kwargs
    )


# --------------------------------------------------------------------------- round trips


def test_model_proposal_round_trip(fake, agent, model_context):
    source = new_model(model_context)
    fake.script(
        tool_use("plan_next_step", PLAN, input_tokens=5000, output_tokens=400),
        submit(source, input_tokens=3000, output_tokens=1500),
    )
    proposal = agent.propose(model_context)

    assert proposal.new_source == source
    assert proposal.old_source == model_context.best_source
    assert proposal.loop is Loop.MODEL and proposal.agent == "anthropic"
    assert proposal.hypothesis == PLAN["hypothesis"]
    assert PLAN["rationale"] in proposal.rationale and "Per-arm terms." in proposal.rationale
    assert proposal.move == "separate-arms"

    usage = proposal.usage
    assert usage is not None and usage.model == DEFAULT_MODEL
    assert [c.role for c in usage.calls] == ["orchestrator", "coder"]
    assert usage.input_tokens == 8000 and usage.output_tokens == 1900
    inp, out = price_for(DEFAULT_MODEL)
    assert usage.cost_usd == pytest.approx((8000 * inp + 1900 * out) / 1e6)
    assert all(c.stop_reason == "tool_use" and c.request_id.startswith("req_fake") for c in usage.calls)
    assert [e.role for e in usage.transcript] == ["orchestrator", "coder"]
    assert usage.transcript[1].response["content"][0]["input"]["source"].startswith('"""Baseline')
    assert proposal.plan is not None and proposal.plan.implementation == "Per-arm terms."
    assert from_dict(Proposal, json.loads(to_json(proposal))) == proposal  # into record.json and back
    assert len(agent.totals.calls) == 2 and agent.totals.input_tokens == 8000

    plan_request, code_request = fake.bodies()
    assert fake.requests[0].headers["authorization"] == "Bearer test-key"
    assert fake.requests[0].path == "/v1/messages"
    assert plan_request["model"] == DEFAULT_MODEL
    assert plan_request["tool_choice"] == {"type": "tool", "name": "plan_next_step"}
    assert [t["name"] for t in plan_request["tools"]] == ["plan_next_step"]
    assert code_request["tool_choice"] == {"type": "tool", "name": "submit_model"}
    # The orchestrator sees PROBLEM.md and PROGRAM.md; the coder starts fresh with the plan only.
    plan_text = _user(plan_request)
    code_text = _user(code_request)
    assert "## PROGRAM.md" in plan_text and "Search heuristic" in plan_text and "Hill (2011)" in plan_text
    assert len(code_request["messages"]) == 1
    assert PLAN["instructions"] in code_text and PLAN["hypothesis"] in code_text
    assert "Search heuristic" not in code_text and "Hill (2011)" not in code_text
    assert 'pm.Data("t", data.t, dims="obs")' in _system(code_request)
    assert "Imports only from: pymc, pytensor, numpy" in _system(code_request)


def test_design_proposal_round_trip(fake, agent, ihdp_problem):
    context = build_context(ihdp_problem, loop=Loop.DESIGN)
    toml = context.best_source.replace('propensity_learner = "auto"', 'propensity_learner = "gradient_boosting"')
    assert toml != context.best_source
    fake.script(
        tool_use("plan_next_step", {**PLAN, "label": "boosted-propensity"}),
        tool_use("submit_analysis", {"hypothesis": "h", "rationale": "Boosted propensity.", "toml": toml}),
    )
    proposal = agent.propose(context)

    assert proposal.loop is Loop.DESIGN and proposal.new_source == toml
    assert proposal.usage.input_tokens == 2400 and proposal.usage.cost_usd > 0
    code_request = fake.bodies()[1]
    assert code_request["tool_choice"] == {"type": "tool", "name": "submit_analysis"}
    assert "analysis.toml is flat TOML" in _system(code_request)
    assert '"gradient_boosting"' in _system(code_request)  # the schema's choices, from engine.design.spec


def test_make_agent_builds_the_claude_backend(fake, model_context):
    agent = make_agent("anthropic", base_url=fake.url, api_key="test-key", model="claude-haiku-4-5")
    assert isinstance(agent, AnthropicAgent)
    assert agent.offline is False and agent.can_repair is True
    assert {loop.value for loop in agent.loops} == {"model", "design"}
    fake.script(tool_use("plan_next_step", PLAN), submit(new_model(model_context)))
    proposal = agent.propose(model_context)
    assert proposal.usage.model == "claude-haiku-4-5"
    assert fake.bodies()[0]["model"] == "claude-haiku-4-5"


def test_environment_supplies_key_base_url_and_model(fake, model_context, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "env-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    monkeypatch.setenv("ANTHROPIC_MODEL", "claude-opus-4-5")
    fake.script(tool_use("plan_next_step", PLAN), submit(new_model(model_context)))
    make_agent("anthropic").propose(model_context)
    assert fake.requests[0].headers["authorization"] == "Bearer env-key"
    assert fake.bodies()[0]["model"] == "claude-opus-4-5"


def test_missing_key_says_what_to_do():
    with pytest.raises(AgentError, match="ANTHROPIC_API_KEY") as caught:
        make_agent("anthropic")
    assert "--agent heuristic" in str(caught.value)


def test_unknown_model_has_no_cost_unless_priced(fake, model_context):
    agent = AnthropicAgent(api_key="test-key", base_url=fake.url, model="claude-future-9")
    fake.script(tool_use("plan_next_step", PLAN), submit(new_model(model_context)))
    assert agent.propose(model_context).usage.cost_usd is None

    priced = AnthropicAgent(api_key="test-key", base_url=fake.url, model="claude-future-9", price_per_mtok=(2.0, 10.0))
    fake.script(tool_use("plan_next_step", PLAN), submit(new_model(model_context)))
    assert priced.propose(model_context).usage.cost_usd == pytest.approx((2400 * 2 + 600 * 10) / 1e6)


# --------------------------------------------------------------------------- repair


def test_repair_sends_the_traceback_and_hint_to_the_coder(fake, agent, model_context):
    broken = new_model(model_context).replace('dims="control")', 'dims="controls")')
    fixed = new_model(model_context)
    fake.script(tool_use("plan_next_step", PLAN), submit(broken))
    proposal = agent.propose(model_context)
    compile_result = CompileResult(
        ok=False,
        seconds=0.2,
        error="KeyError: 'controls'",
        traceback='File "model.py", line 17, in build_model\n    beta_x = pm.Normal("beta_x", 0, y_scale, dims="controls")',
        hint="use a dimension declared in coords",
    )
    fake.script(submit(fixed, input_tokens=2000, output_tokens=900))
    repaired = agent.repair(model_context, proposal, compile_result)

    assert repaired.new_source == fixed
    assert repaired.old_source == model_context.best_source
    assert repaired.hypothesis == proposal.hypothesis
    assert repaired.repair_attempts == 1
    assert [c.role for c in repaired.usage.calls] == ["orchestrator", "coder", "coder-repair"]
    assert repaired.usage.input_tokens == 1200 + 1200 + 2000
    assert "KeyError" in repaired.rationale

    request = fake.bodies()[-1]
    assert request["tool_choice"] == {"type": "tool", "name": "submit_model"}
    text = _user(request)
    for piece in (
        "KeyError: 'controls'",
        'File "model.py", line 17',
        "use a dimension declared in coords",
        broken.strip(),
    ):
        assert piece in text

    fake.script(submit(new_model(model_context).replace("2 * y_scale", "3 * y_scale")))
    again = agent.repair(model_context, repaired, compile_result)
    assert again.repair_attempts == 2 and len(again.usage.calls) == 4


def test_a_model_written_error_reaches_the_coder_clipped(fake, agent, model_context):
    """model.py writes its own messages: a raise can carry the data's rows, so only a clipped error goes back."""
    from engine.agents.prompts import ERROR_CHARS

    fake.script(tool_use("plan_next_step", PLAN), submit(new_model(model_context)))
    proposal = agent.propose(model_context)
    rows = " ".join(f"{i % 2}" for i in range(20_000))
    compile_result = CompileResult(ok=False, seconds=0.2, error=f"ValueError: {rows}", traceback=f"ValueError: {rows}")
    fake.script(submit(new_model(model_context)))
    agent.repair(model_context, proposal, compile_result)

    text = _user(fake.bodies()[-1])
    assert "ValueError: 0 1 0 1" in text
    assert (
        len(text) < len(proposal.new_source) + ERROR_CHARS + 4000 + 4000
    )  # the file, the error, the traceback, the rest
    assert rows not in text


def test_design_proposals_are_not_repaired(agent, ihdp_problem):
    context = build_context(ihdp_problem, loop=Loop.DESIGN)
    proposal = Proposal(Loop.DESIGN, "h", "r", context.best_source, context.best_source, "anthropic")
    with pytest.raises(AgentError, match="only model.py"):
        agent.repair(context, proposal, CompileResult(ok=False, seconds=0.0, error="x"))


# --------------------------------------------------------------------------- malformed replies


def test_malformed_tool_input_is_retried_then_raises(fake, agent, model_context):
    fake.script(
        tool_use("plan_next_step", PLAN),
        tool_use("submit_model", {"hypothesis": "h", "rationale": "r", "source": 42}),
        tool_use(
            "submit_model", {"hypothesis": "h", "rationale": "r", "source": "def build_model(data):\n    return (\n"}
        ),
    )
    with pytest.raises(AgentError, match="unusable twice") as caught:
        agent.propose(model_context)
    assert "not valid Python" in str(caught.value)
    retry = fake.bodies()[2]
    assert [m["role"] for m in retry["messages"]] == ["user", "assistant", "user"]
    assert retry["messages"][1]["content"][0]["type"] == "tool_use"
    result = retry["messages"][2]["content"][0]
    assert result["type"] == "tool_result" and result["is_error"] is True
    assert result["tool_use_id"] == retry["messages"][1]["content"][0]["id"]
    assert "'source' must be a string" in result["content"]
    assert len(agent.totals.calls) == 3  # the failed proposal's calls still count


def test_a_corrected_retry_is_accepted(fake, agent, model_context):
    source = new_model(model_context)
    fake.script(
        tool_use("plan_next_step", {"hypothesis": "", "rationale": "r", "instructions": "i", "label": "x"}),
        tool_use("plan_next_step", PLAN),
        submit(source),
    )
    proposal = agent.propose(model_context)
    assert proposal.new_source == source
    assert [(e.role, e.attempt) for e in proposal.usage.transcript] == [
        ("orchestrator", 1),
        ("orchestrator", 2),
        ("coder", 1),
    ]
    assert "'hypothesis' is empty" in proposal.usage.transcript[1].user


def test_a_reply_without_the_tool_call_is_retried_then_raises(fake, agent, model_context):
    fake.script(text_reply("I think we should add splines."), text_reply("Still thinking."))
    with pytest.raises(AgentError, match="no plan_next_step tool call"):
        agent.propose(model_context)
    retry = fake.bodies()[1]
    assert retry["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "I think we should add splines."}],
    }
    assert "no plan_next_step tool call" in retry["messages"][2]["content"]


def test_a_reply_cut_at_max_tokens_asks_for_a_shorter_one(fake, agent, model_context):
    fake.script(
        tool_use("plan_next_step", PLAN),
        tool_use("submit_model", {"hypothesis": "h"}, stop_reason="max_tokens"),
        submit(new_model(model_context)),
    )
    proposal = agent.propose(model_context)
    assert proposal.usage.calls[1].stop_reason == "max_tokens"
    assert "cut off" in fake.bodies()[2]["messages"][2]["content"][0]["content"]


def test_guard_blockers_get_one_retry_then_reach_the_reviewer(fake, agent, model_context):
    blocked = "import os\n" + new_model(model_context)
    fake.script(tool_use("plan_next_step", PLAN), submit(blocked), submit(blocked))
    proposal = agent.propose(model_context)
    assert proposal.new_source == blocked  # shown as it is: the guard's blocker stops approval
    assert any("process-access" in p for p in proposal.unresolved)
    corrective = fake.bodies()[2]["messages"][2]["content"][0]["content"]
    assert "the guard blocks it" in corrective and "process-access" in corrective


def test_an_unchanged_file_is_sent_back_once(fake, agent, model_context):
    source = new_model(model_context)
    fake.script(tool_use("plan_next_step", PLAN), submit(model_context.best_source), submit(source))
    assert agent.propose(model_context).new_source == source
    assert "identical to the current model.py" in fake.bodies()[2]["messages"][2]["content"][0]["content"]


def test_an_invalid_spec_is_sent_back_once(fake, agent, ihdp_problem):
    context = build_context(ihdp_problem, loop=Loop.DESIGN)
    bad = context.best_source.replace("folds = 5", "folds = 1")
    good = context.best_source.replace("folds = 5", "folds = 10")
    fake.script(
        tool_use("plan_next_step", PLAN),
        tool_use("submit_analysis", {"hypothesis": "h", "rationale": "r", "toml": "folds = [1,"}),
        tool_use("submit_analysis", {"hypothesis": "h", "rationale": "r", "toml": bad}),
    )
    proposal = agent.propose(context)  # TOML error, then a parseable but invalid spec: shown, flagged
    assert proposal.new_source == bad and any("folds" in p for p in proposal.unresolved)
    assert "not valid TOML" in fake.bodies()[2]["messages"][2]["content"][0]["content"]

    fake.script(
        tool_use("plan_next_step", PLAN),
        tool_use("submit_analysis", {"hypothesis": "h", "rationale": "r", "toml": bad}),
        tool_use("submit_analysis", {"hypothesis": "h", "rationale": "r", "toml": good}),
    )
    assert agent.propose(context).new_source == good


# --------------------------------------------------------------------------- API errors


@pytest.mark.parametrize(
    ("status", "words", "attempts"),
    [
        (401, ("HTTP 401", "ANTHROPIC_API_KEY", "--agent heuristic"), 1),
        (429, ("HTTP 429", "rate limited", "wait a minute"), 3),
        (500, ("HTTP 500", "server error", "ask again later"), 3),
        (529, ("HTTP 529", "overloaded", "ask again in a few minutes"), 3),
    ],
)
def test_api_errors_become_agent_errors(fake, agent, model_context, status, words, attempts):
    fake.script(*[error(status)] * attempts)
    with pytest.raises(AgentError) as caught:
        agent.propose(model_context)
    message = str(caught.value)
    for word in words:
        assert word in message
    assert "--agent heuristic" in message
    assert len(fake.requests) == attempts  # 401 is final; the rest are retried twice by the SDK, then reported
    assert fake.remaining == 0


def test_unreachable_api_says_so(model_context):
    server = FakeAnthropic().start()
    url = server.url
    server.stop()  # nothing listens there now
    agent = AnthropicAgent(api_key="test-key", base_url=url, max_retries=0, timeout_s=5)
    with pytest.raises(AgentError, match="could not reach the Anthropic API") as caught:
        agent.propose(model_context)
    assert url in str(caught.value) and "--agent heuristic" in str(caught.value)


def test_a_slow_api_times_out_instead_of_hanging(fake, model_context):
    agent = AnthropicAgent(api_key="test-key", base_url=fake.url, max_retries=0, timeout_s=0.3)
    fake.script(slow(tool_use("plan_next_step", PLAN), 1.0))
    with pytest.raises(AgentError, match=r"no answer from the Anthropic API within 0\.3 s") as caught:
        agent.propose(model_context)
    assert "--agent heuristic" in str(caught.value)


# --------------------------------------------------------------------------- history and critic


def _record(number: int, context, *, decision: Decision, verdict: Verdict | None, move: str) -> IterationRecord:
    proposal = Proposal(
        Loop.MODEL,
        f"Hypothesis {number} ({move}).",
        "why",
        context.best_source,
        context.best_source,
        "heuristic",
        move=move,
    )
    return IterationRecord(
        number=number, proposal=proposal, findings=(), compile=None, decision=decision, verdict=verdict
    )


def _history(context):
    effect = Effect("ATE", 3.71, 0.21, 3.30, 4.12)
    kept = Verdict(
        VerdictKind.KEPT, "baseline measured", Metrics(elpd=-1234.5, elpd_se=20.1, effect=effect, rhat_max=1.002)
    )
    failed = Verdict(
        VerdictKind.FAILED_GATE,
        "R-hat gate failed",
        Metrics(elpd=-1200.0, elpd_se=19.0),
        (GateResult("rhat", 1.034, 1.01, False), GateResult("ess_bulk", 900, 400, True)),
    )
    return [
        _record(1, context, decision=Decision(DecisionKind.APPROVED, "principal"), verdict=kept, move="baseline"),
        _record(2, context, decision=Decision(DecisionKind.APPROVED, "principal"), verdict=failed, move="horseshoe"),
        _record(
            3,
            context,
            decision=Decision(DecisionKind.REJECTED, "principal", "no interactions with site dummies"),
            verdict=None,
            move="site-interactions",
        ),
    ]


def test_orchestrator_sees_verdicts_gate_failures_and_reviewer_reasons(fake, agent, ihdp_problem):
    base = build_context(ihdp_problem)
    history = _history(base)
    context = build_context(ihdp_problem, history=history, best_metrics=history[0].verdict.metrics)
    fake.script(tool_use("plan_next_step", PLAN), submit(new_model(context)))
    agent.propose(context)
    text = _user(fake.bodies()[0])
    assert "rhat 1.034 (needs < 1.01) FAILED" in text
    assert '"no interactions with site dummies"' in text
    assert "-1234.5" in text and "ATE 3.71" in text
    assert "| 3 | site-interactions (heuristic)" in text
    coder_text = _user(fake.bodies()[1])
    assert "no interactions with site dummies" not in coder_text  # the coder's context is fresh


def test_critique_returns_a_structured_review(fake, agent, ihdp_problem):
    context = build_context(ihdp_problem)
    record = _history(context)[1]
    review = {
        "credibility": "Low",
        "evidence": "R-hat 1.034 failed the gate, so no estimate can be trusted.",
        "estimand": "The ATE, as the contract asks.",
        "blind_spots": ["Misfit in the treated arm", ""],
        "alternative": "A doubly-robust estimate with a boosted outcome model.",
        "summary": "Not credible until the sampler converges.",
    }
    fake.script(tool_use("submit_critique", review, input_tokens=3000, output_tokens=250))
    assert agent.can_critique
    written = agent.critique(context, record)
    text = written.text
    assert text.startswith("Credibility: low. R-hat 1.034")
    assert "- Misfit in the treated arm" in text and "Alternative: A doubly-robust" in text
    assert written.usage.calls[0].role == "critic"
    assert written.usage.input_tokens == 3000 and written.usage.cost_usd > 0
    request = fake.bodies()[0]
    assert request["tool_choice"] == {"type": "tool", "name": "submit_critique"}
    assert "rhat 1.034 (needs < 1.01) FAILED" in _user(request)

    fake.script(
        tool_use("submit_critique", {**review, "credibility": "sure"}), tool_use("submit_critique", {"summary": 1})
    )
    with pytest.raises(AgentError, match="critic"):
        agent.critique(context, record)


# --------------------------------------------------------------------------- what never leaves


def _ihdp_truth_strings() -> list[str]:
    truth = json.loads((ROOT / "problems" / "ihdp" / "truth.json").read_text())
    strings = ["truth.json"]
    for key in ("ate", "att", "atc"):
        strings += [f"{truth[key]:.2f}", f"{truth[key]:.3f}"]
    strings += [f"{v:.6f}" for v in truth["ite"][:20]]  # per-unit effects as stored
    return strings


def test_truth_never_reaches_a_request(fake, agent, ihdp_problem):
    context = build_context(ihdp_problem, history=_history(build_context(ihdp_problem)))
    source = new_model(context)
    fake.script(tool_use("plan_next_step", PLAN), submit(source), submit(source))
    proposal = agent.propose(context)
    agent.repair(
        context, proposal, CompileResult(ok=False, seconds=0.1, error="ValueError: x", traceback="tb", hint="h")
    )
    fake.script(
        tool_use(
            "submit_critique",
            {
                "credibility": "medium",
                "evidence": "e",
                "estimand": "ATE",
                "blind_spots": [],
                "alternative": "a",
                "summary": "s",
            },
        )
    )
    agent.critique(context, context.history[0])

    assert len(fake.requests) == 4
    sent = "\n".join(r.text for r in fake.requests)
    assert "Hill (2011)" in sent  # the agent-visible problem text is there…
    for secret in _ihdp_truth_strings():
        assert secret not in sent, f"{secret!r} from truth.json was sent to the API"
    assert "truth.json" not in to_json(proposal.usage)


def test_reviewer_only_text_never_reaches_a_request(fake, agent):
    problem = load_problem(ROOT / "problems" / "nhefs")
    raw = problem.read_text("PROBLEM.md")
    hidden = raw[raw.index("## For the reviewer only") :]
    assert "3.44" in hidden and "IP weighting, stabilised weights" in hidden
    context = build_context(problem, problem_text=raw)
    source = context.best_source.replace("import numpy as np", "import numpy as np  # nhefs")
    fake.script(tool_use("plan_next_step", PLAN), submit(source))
    agent.propose(context)
    fake.script(
        tool_use(
            "submit_critique",
            {
                "credibility": "medium",
                "evidence": "e",
                "estimand": "ATE",
                "blind_spots": [],
                "alternative": "a",
                "summary": "s",
            },
        )
    )
    agent.critique(context, _history(context)[0])

    sent = "\n".join(r.text for r in fake.requests)
    assert "Known facts and pitfalls" in sent  # the visible part is sent…
    for secret in ("For the reviewer only", "3.44", "IP weighting, stabilised weights", "g-estimation of a structural"):
        assert secret not in sent, f"reviewer-only text {secret!r} was sent to the API"


# --------------------------------------------------------------------------- the record stays small


def test_transcript_is_clipped_to_fit_the_record():
    entries = (TranscriptEntry("coder", 1, "x" * 50_000, {"content": [{"input": {"source": "y" * 50_000}}]}),) * 3
    clipped = fit_transcript(entries, max_chars=20_000)
    assert len(to_json(clipped)) <= 20_000
    assert clipped[0].user.startswith("xxx") and "characters cut" in clipped[0].user
    short = (TranscriptEntry("coder", 1, "short", {}),)
    assert fit_transcript(short) == short


def test_fake_server_stops_by_itself():
    server = FakeAnthropic(lifetime_s=0.2).start()
    server._thread.join(timeout=5)
    assert not server._thread.is_alive()


def test_coder_rules_name_the_forbidden_columns_and_the_likelihood():
    from engine.agents import prompts

    problem = load_problem(ROOT / "problems" / "retention_email")
    contract = problem.contract
    assert contract.forbidden and contract.outcome_type.value == "binary"
    rules = prompts.model_rules(contract, problem.gates)
    for f in contract.forbidden:
        assert f"{f.name} ({f.reason.value})" in rules
    assert 'pm.Bernoulli("y", p=mu' in rules
    spec_rules = prompts.design_rules(contract)
    assert all(f.name in spec_rules for f in contract.forbidden)


def test_the_coder_is_told_the_problems_own_gates_and_keep_rule():
    from dataclasses import replace

    from engine.agents import prompts
    from engine.problem import TieBreak

    problem = load_problem(ROOT / "problems" / "ihdp")
    gates = replace(problem.gates, rhat_max=1.005, ess_bulk_min=800, ess_tail_min=600, tie_break=TieBreak.SIMPLER)
    rules = prompts.model_rules(problem.contract, gates)
    assert "R-hat < 1.005" in rules and "bulk ESS > 800" in rules and "tail ESS > 600" in rules
    assert "1.01" not in rules and "the simpler model (lower p_loo)" in rules


def test_each_tool_schema_and_its_check_come_from_one_model():
    from engine.agents.tools import AnalysisSubmission, CritiqueReply, ModelSubmission, Plan

    for reply in (Plan, ModelSubmission, AnalysisSubmission, CritiqueReply):
        tool = reply.tool()
        schema = tool["input_schema"]
        assert tool["name"] == reply.tool_name and schema["type"] == "object"
        complete = {
            name: (["a spot"] if name == "blind_spots" else "low" if name == "credibility" else "text")
            for name in schema["properties"]
        }
        assert reply.check(complete)[0] is not None, reply
        for name in schema.get("required", []):  # what the schema requires, the check requires
            missing = {k: v for k, v in complete.items() if k != name}
            value, problems = reply.check(missing)
            assert value is None and problems == [f"{name!r} is missing"], (reply, name, problems)
