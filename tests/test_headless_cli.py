"""``workbench run`` through the real CLI function: what each --approve policy does with a
guard blocker, and that --json prints its summary and the exit code says why, however the
run ends (finished, awaiting review, agent out of proposals, an error, Ctrl-C, a bug).

The workbench is a scripted stand-in over a real session (real git store, real records),
so no sampling runs: the policy, the loop's stopping and the CLI's reporting are under
test. The real loop end to end is in tests/test_loop.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_store import make_record

from engine.errors import AgentError, SandboxError, WorkbenchError
from engine.headless import Approval, HeadlessRun, Outcome
from engine.loop import Reviewed
from engine.problem_load import load_problem
from engine.records import CompileResult, DecisionKind, Finding, Loop, Proposal, Severity, VerdictKind
from engine.store import Session
from workbench.cli import main
from workbench.commands.run import EXIT_CODES, POLICIES

ROOT = Path(__file__).resolve().parents[1]
BLOCKER = Finding("forbidden-column", Severity.BLOCKER, "uses 'opened' [post-treatment]", line=4)
COMPILED = CompileResult(ok=True, seconds=0.2, n_free=3, logp=-10.0)


def proposal(hypothesis: str, *, blocked: bool = False, compiles: bool = True) -> Reviewed:
    p = Proposal(Loop.MODEL, hypothesis, "because", "a = 1\n", f"a = 2  # {hypothesis}\n", "scripted", move="m")
    compiled = (
        COMPILED if compiles else CompileResult(ok=False, seconds=0.1, error="NameError: name 'b' is not defined")
    )
    return Reviewed(p, (BLOCKER,) if blocked else (), compiled)


class ScriptedWorkbench:
    """What HeadlessRun and ``workbench run`` use of a Workbench, over a real session."""

    def __init__(self, session: Session, script: list, execute_raises: BaseException | None = None) -> None:
        self.session = session
        self.agent = SimpleNamespace(name="scripted")
        self.notes: list[str] = []
        self.script = list(script)
        self.execute_raises = execute_raises
        self.decisions = []

    def pending(self):
        return None

    def propose(self, loop, on_status=None):
        item = self.script.pop(0) if self.script else AgentError("the scripted agent has nothing left to propose")
        if isinstance(item, BaseException):
            raise item
        return item

    def execute(self, reviewed, decision, on_progress=None):
        if decision.kind is DecisionKind.APPROVED and reviewed.blocked and not decision.override:
            raise WorkbenchError("this proposal has a blocker finding; approving it needs a written override reason")
        self.decisions.append(decision)
        if self.execute_raises is not None:
            raise self.execute_raises
        n = self.session.next_number()
        old = self.session.current_source(Loop.MODEL)
        approved = decision.kind is DecisionKind.APPROVED
        record = make_record(
            n,
            old=old,
            new=old + f"\n# {n}\n",
            hypothesis=reviewed.proposal.hypothesis,
            verdict=VerdictKind.DISCARDED if approved else None,
            decision=decision.kind,
        )
        record = replace(record, decision=decision, findings=reviewed.findings)
        self.session.record_iteration(record, candidate_source=record.proposal.new_source)
        return record


@pytest.fixture(scope="module")
def problem():
    return load_problem(ROOT / "problems" / "ihdp")


@pytest.fixture
def scripted(problem, tmp_path, monkeypatch):
    """Install a scripted workbench for the next ``workbench run``; returns a factory."""
    made = {}

    def install(script: list, execute_raises: BaseException | None = None) -> ScriptedWorkbench:
        session = Session.create(problem, tmp_path / "sessions")
        made["wb"] = ScriptedWorkbench(session, script, execute_raises)
        monkeypatch.setattr("engine.launch.open_workbench", lambda *a, **k: made["wb"])
        return made["wb"]

    yield install
    if "wb" in made:
        made["wb"].session.close()


def cli_run(capsys, *args: str) -> tuple[int, dict, str]:
    code = main(["run", "problems/ihdp", "--json", *args])
    out = capsys.readouterr()
    return code, json.loads(out.out), out.err


def statuses(session_path: str) -> list[tuple[str, str]]:
    with Session.open(session_path, readonly=True) as s:
        return [(r.status, r.decision.decider) for r in s.iterations()]


# ---------------------------------------------------------------------------- policies


def test_guard_clean_rejects_a_blocked_proposal_and_goes_on(scripted, capsys) -> None:
    wb = scripted([proposal("clean one"), proposal("leaky", blocked=True), proposal("clean two")])
    code, summary, _ = cli_run(capsys, "--iterations", "3", "--approve", "guard-clean")
    assert code == EXIT_CODES["finished"] == 0
    assert summary["outcome"] == "finished" and summary["policy"] == "guard-clean"
    assert statuses(summary["session"]) == [
        ("discarded", "policy:guard-clean"),
        ("rejected", "policy:guard-clean"),
        ("discarded", "policy:guard-clean"),
    ]
    assert wb.decisions[1].reason == "guard blocker: forbidden-column"


def test_stop_at_blocker_stops_and_leaves_the_blocked_proposal_for_review(scripted, capsys) -> None:
    scripted([proposal("clean one"), proposal("leaky", blocked=True), proposal("never asked")])
    code, summary, err = cli_run(capsys, "--iterations", "3", "--approve", "stop-at-blocker")
    assert code == EXIT_CODES["awaiting-review"] == 3
    assert summary["outcome"] == "awaiting-review"
    assert "proposal 2 awaits review (it has a guard blocker; policy stop-at-blocker)" in summary["stopped_because"]
    assert summary["this_run"] == 1 and statuses(summary["session"]) == [("discarded", "policy:stop-at-blocker")]
    assert "awaits review" in err


def test_ignore_guard_runs_a_blocked_proposal_with_an_override_on_record(scripted, capsys) -> None:
    scripted([proposal("leaky", blocked=True)])
    code, summary, _ = cli_run(capsys, "--iterations", "1", "--approve", "ignore-guard")
    assert code == 0
    with Session.open(summary["session"], readonly=True) as s:
        (record,) = s.iterations()
    assert record.decision.kind is DecisionKind.APPROVED and record.decision.decider == "policy:ignore-guard"
    assert "forbidden-column" in record.decision.override


@pytest.mark.parametrize("policy", POLICIES[:3])
def test_every_policy_rejects_a_proposal_that_does_not_compile(policy) -> None:
    decision = Approval(policy).decide(proposal("broken", compiles=False))
    assert decision.kind is DecisionKind.REJECTED and "does not compile" in decision.reason


def test_none_stops_at_the_first_proposal(scripted, capsys) -> None:
    scripted([proposal("clean one")])
    code, summary, _ = cli_run(capsys, "--iterations", "2", "--approve", "none")
    assert code == 3 and summary["outcome"] == "awaiting-review" and summary["this_run"] == 0
    assert "nothing is approved; policy none" in summary["stopped_because"]


def test_auto_is_refused_with_what_replaced_it(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "problems/ihdp", "--approve", "auto", "--sessions-root", str(tmp_path / "s")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--approve auto was removed" in err and "guard blockers" in err
    assert all(name in err for name in ("guard-clean", "stop-at-blocker", "ignore-guard"))
    assert not (tmp_path / "s").exists()
    with pytest.raises(WorkbenchError, match="was removed"):
        Approval.parse("auto")


def test_help_describes_every_policy_and_exit_code(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for name in POLICIES:
        assert f"  {name} " in text
    assert "ignore-guard     run blocked proposals too" in text
    for code in ("0 ", "1 ", "2 ", "3 ", "4 ", "130 "):
        assert f"\n  {code}" in text
    assert set(EXIT_CODES) == {o.value for o in Outcome}


def test_readme_says_what_each_policy_and_exit_code_means() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in POLICIES:
        assert re.search(rf"^\| `{name}`( \(default\))? \| ", readme, flags=re.M), name
    assert "`auto` approves everything" not in readme
    for code in EXIT_CODES.values():
        assert f"| {code} |" in readme


# ---------------------------------------------------------------------------- stopping early


def test_agent_out_of_proposals_prints_the_summary_and_exits_4(scripted, capsys) -> None:
    scripted([proposal("clean one")])
    code, summary, err = cli_run(capsys, "--iterations", "3")
    assert code == EXIT_CODES["agent-stopped"] == 4
    assert summary["outcome"] == "agent-stopped" and summary["this_run"] == 1 and summary["iterations"] == 1
    assert "nothing left to propose" in summary["stopped_because"] and "nothing left to propose" in err


def test_an_error_mid_run_prints_the_summary_and_exits_1(scripted, capsys) -> None:
    scripted([proposal("clean one")], execute_raises=SandboxError("the sandbox server died [signal 9]"))
    code, summary, err = cli_run(capsys, "--iterations", "2")
    assert code == EXIT_CODES["error"] == 1
    assert summary["outcome"] == "error"
    assert (
        summary["stopped_because"] == "stopped by an error after 0 of 2 iterations: the sandbox server died [signal 9]"
    )
    assert "the sandbox server died [signal 9]" in err  # literally: no markup ate the brackets


def test_ctrl_c_prints_the_summary_and_exits_130(scripted, capsys) -> None:
    wb = scripted([proposal("clean one"), proposal("clean two")])
    calls = {"n": 0}
    real_execute = wb.execute

    def execute(reviewed, decision, on_progress=None):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_execute(reviewed, decision, on_progress)

    wb.execute = execute
    code, summary, _ = cli_run(capsys, "--iterations", "2")
    assert code == EXIT_CODES["interrupted"] == 130
    assert summary["outcome"] == "interrupted" and summary["iterations"] == 1
    assert summary["stopped_because"] == "interrupted (Ctrl-C) after 1 of 2 iterations"


def test_a_bug_still_prints_the_summary_then_raises(scripted, capsys) -> None:
    scripted([proposal("clean one")], execute_raises=RuntimeError("boom"))
    with pytest.raises(RuntimeError, match="boom"):
        main(["run", "problems/ihdp", "--json", "--iterations", "1"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["outcome"] == "error" and "RuntimeError: boom" in summary["stopped_because"]


def test_the_table_and_closing_lines_without_json_on_early_stop(scripted, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # the table fits the terminal; a test worker's default is narrower
    scripted([proposal("keeps [low, high] and root:x:0:0 [bold]x[/bold]")])
    code = main(["run", "problems/ihdp", "--iterations", "2"])
    out = capsys.readouterr()
    assert code == 4
    assert "keeps [low, high] and root:x:0:0" in out.out  # the results table: no markup, no emoji
    assert "iter 1: discarded — keeps [low, high] and root:x:0:0 [bold]x[/bold] (" in out.err  # the progress log
    assert "the agent stopped: the scripted agent has nothing left to propose" in out.err


def test_headless_run_records_its_outcome_for_python_callers(scripted) -> None:
    wb = scripted([proposal("clean one")], execute_raises=SandboxError("gone"))
    run = HeadlessRun(wb, policy="guard-clean")
    with pytest.raises(SandboxError):
        run.run(1)
    assert run.outcome is Outcome.ERROR and run.summary()["outcome"] == "error"


@pytest.mark.parametrize("width", [80, 100, 140, 200])
def test_the_results_table_fits_the_terminal_with_every_cell_whole(width: int) -> None:
    """A narrow terminal shortens the hypothesis, then drops the time and convergence columns: a
    verdict never reads "k…" and no line runs past the edge (Rich alone cut every column to fit)."""
    from rich.console import Console

    from workbench.render import results_table

    old = "a = 1\n"
    records = [
        make_record(1, old=old, new="a = 2\n", verdict=VerdictKind.KEPT, hypothesis="Run the baseline model " * 3),
        make_record(2, old=old, new="a = 3\n", verdict=VerdictKind.DISCARDED, hypothesis="Splines " * 9),
        make_record(3, old=old, new="a = 4\n", verdict=VerdictKind.FAILED_GATE),
    ]
    console = Console(width=width, record=True, highlight=False)
    console.print(results_table(records, loop="model", width=width))
    lines = console.export_text().splitlines()
    assert max(len(line.rstrip()) for line in lines) <= width
    body = "\n".join(lines)
    assert all(word in body for word in ("kept", "discarded", "failed_gate", "ATE 3.97 [3.74, 4.19]"))
    for line in (line for line in lines if "ATE" in line):
        cells = line.split("│")[1:-1]  # #, hypothesis, verdict, …
        assert "…" not in "".join(cells[2:]), line  # only the hypothesis is ever cut
    assert ("R-hat" in body) is (width >= 140)
