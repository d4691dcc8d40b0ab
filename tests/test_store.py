"""The session store against real git repositories in tmp_path, real locks and real kills."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import git
import numpy as np
import pytest

from engine.errors import SessionError, SessionLockedError
from engine.iteration import IterationRecord
from engine.problem import EDITABLE_FILES
from engine.problem_load import load_problem
from engine.records import (
    CompileResult,
    Decision,
    DecisionKind,
    Effect,
    Finding,
    GateResult,
    Loop,
    Metrics,
    ParamDiagnostic,
    Proposal,
    Severity,
    Verdict,
    VerdictKind,
)
from engine.store import HARNESS, PRINCIPAL_FALLBACK, Session, find_session, latest_session, lock_holder

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def problem():
    return load_problem(ROOT / "problems" / "ihdp")


@pytest.fixture
def session(problem, tmp_path):
    s = Session.create(problem, tmp_path / "sessions")
    yield s
    s.close()


def sh(path: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=path, capture_output=True, text=True, check=True).stdout


def make_record(
    number: int,
    *,
    old: str,
    new: str,
    loop: Loop = Loop.MODEL,
    verdict: VerdictKind | None = VerdictKind.KEPT,
    decision: DecisionKind = DecisionKind.APPROVED,
    hypothesis: str | None = None,
    agent: str = "heuristic",
    edited: bool = False,
    elpd: float = -2000.0,
) -> IterationRecord:
    proposal = Proposal(
        loop=loop,
        hypothesis=hypothesis or f"Add move {number} to the model",
        rationale=f"Because step {number} should explain more of the outcome surface.",
        old_source=old,
        new_source=new,
        agent=agent,
        move=f"move-{number}",
        repair_attempts=number % 2,
    )
    gates = (
        GateResult(
            "rhat",
            1.002 if verdict is not VerdictKind.FAILED_GATE else 1.04,
            1.01,
            verdict is not VerdictKind.FAILED_GATE,
        ),
        GateResult("ess_bulk", 1450.0, 400.0, True),
    )
    v = None
    if verdict is not None:
        metrics = Metrics()
        if verdict in (VerdictKind.KEPT, VerdictKind.DISCARDED, VerdictKind.FAILED_GATE):
            metrics = Metrics(
                elpd=elpd,
                elpd_se=20.5,
                p_loo=41.2,
                pareto_k_bad=0,
                pareto_k_max=0.41,
                delta_elpd=22.7,
                delta_se=6.1,
                effect=Effect("ATE", 3.97, 0.12, 3.74, 4.19),
                rhat_max=gates[0].value,
                ess_bulk_min=1450.0,
                ess_tail_min=1300.0,
                divergences=0,
                divergence_rate=0.0,
                n_draws=4000,
            )
        reason = {
            VerdictKind.KEPT: "ΔELPD +22.7 > 2 × 6.1",
            VerdictKind.DISCARDED: "ΔELPD +1.0 within 2 SE and the interval is wider",
            VerdictKind.FAILED_GATE: "R-hat 1.04 exceeds 1.01",
            VerdictKind.CRASHED: "ValueError: shapes (747,6) and (5,) not aligned",
        }[verdict]
        v = Verdict(verdict, reason, metrics, gates if verdict is not VerdictKind.CRASHED else ())
    return IterationRecord(
        number=number,
        proposal=proposal,
        findings=(Finding("unused-column", Severity.WARNING, "bw is never used", line=3),),
        compile=CompileResult(ok=True, seconds=1.3, n_free=44, logp=-2500.0),
        decision=Decision(
            decision,
            "principal" if edited or decision is not DecisionKind.APPROVED else "policy:auto",
            reason="too many parameters" if decision is DecisionKind.REJECTED else "",
            edited=edited,
        ),
        verdict=v,
        timings={"compile": 4.1, "sampling": 5.2, "total": 12.0} if v else {},
        seeds={"sampling": 20261122},
        versions={"pymc": "5.28.5"},
        data_hash="e48b1e57",
        created_at="2026-11-22T10:00:00+00:00",
        convergence=(ParamDiagnostic("alpha", 1.002, 2210.0, 1702.0),),
    )


def record_next(session: Session, **kw) -> tuple[IterationRecord, str]:
    """Record the next iteration as a change of the current file; returns (record, sha)."""
    pointwise = kw.pop("pointwise", None)
    loop = kw.get("loop", Loop.MODEL)
    n = session.next_number()
    old = session.current_source(loop)
    new = old + f"\n# iteration {n}\n"
    record = make_record(n, old=old, new=new, **kw)
    sha = session.record_iteration(record, candidate_source=new, pointwise_elpd=pointwise)
    return record, sha


# --------------------------------------------------------------------------- create


def test_create_copies_the_editable_files_and_never_truth(problem, session):
    head = set(sh(session.path, "ls-tree", "--name-only", "HEAD").split())
    assert head == {*EDITABLE_FILES, "problem.toml", "session.json", ".gitignore"}
    for name in EDITABLE_FILES:
        assert session.read_file(name) == (problem.path / name).read_text()
    assert (problem.path / "truth.json").is_file()  # the problem has one ...
    assert not (session.path / "truth.json").exists()  # ... the session never does
    everything = sh(session.path, "log", "--all", "--name-only", "--format=")
    assert "truth.json" not in everything

    info = json.loads((session.path / "session.json").read_text())
    assert info["problem"] == "ihdp"
    assert info["problem_path"] == str(problem.path)
    assert info["data_hash"] == problem.data_hash
    assert info["versions"]["pymc"]
    assert "T" in info["created_at"]

    assert (
        sh(session.path, "log", "--format=%s").strip() == "session: start ihdp from problems/ihdp"
    )  # run from the repo root
    root = sh(session.path, "rev-parse", "HEAD").strip()
    assert sh(session.path, "rev-parse", "best", "best-design").split() == [root, root]
    ignored = sh(session.path, "check-ignore", "artifacts/0001/trace.nc", ".workbench/lock").split()
    assert ignored == ["artifacts/0001/trace.nc", ".workbench/lock"]
    assert session.id.startswith("ihdp-") and len(session.id) == len("ihdp-20261122-101500")


def test_session_names_never_collide(problem, tmp_path):
    with Session.create(problem, tmp_path, name="mine") as first:
        with pytest.raises(SessionError, match="already exists"):
            Session.create(problem, tmp_path, name="mine")
        assert first.id == "mine"
    a = Session.create(problem, tmp_path)
    b = Session.create(problem, tmp_path)
    assert a.path != b.path
    a.close()
    b.close()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no half-made folders


# --------------------------------------------------------------------------- iterations


def test_every_verdict_and_decision_is_committed_and_best_moves_only_on_kept(session):
    root = sh(session.path, "rev-parse", "HEAD").strip()
    recorded = []
    plan = [
        dict(verdict=VerdictKind.KEPT, hypothesis="Add quadratic terms of continuous controls."),
        dict(verdict=VerdictKind.DISCARDED),
        dict(verdict=VerdictKind.FAILED_GATE),
        dict(verdict=VerdictKind.CRASHED),
        dict(verdict=None, decision=DecisionKind.REJECTED),
        dict(verdict=None, decision=DecisionKind.SKIPPED),
        dict(verdict=VerdictKind.KEPT, loop=Loop.DESIGN),
        dict(verdict=VerdictKind.KEPT, edited=True),
    ]
    best_after = []
    for kw in plan:
        record, sha = record_next(session, **kw)
        recorded.append((record, sha))
        best_after.append(tuple(sh(session.path, "rev-parse", "best", "best-design").split()))

    shas = [sha for _, sha in recorded]
    assert best_after[0] == (shas[0], root)
    assert all(b == (shas[0], root) for b in best_after[1:6])  # nothing but kept moves it
    assert best_after[6] == (shas[0], shas[6])
    assert best_after[7] == (shas[7], shas[6])

    subjects = sh(session.path, "log", "--reverse", "--format=%s").splitlines()
    assert subjects[0].startswith("session: start ihdp")
    assert subjects[1] == "iter 1: kept — add quadratic terms of continuous controls"
    statuses = [s.split(":")[1].split("—")[0].strip() for s in subjects[1:]]
    assert statuses == ["kept", "discarded", "failed_gate", "crashed", "rejected", "skipped", "kept", "kept"]

    # The kept line: git alone shows it, and the top-level files follow it.
    assert sh(session.path, "show", "best:model.py") == recorded[7][0].proposal.new_source
    assert sh(session.path, "show", "best-design:analysis.toml") == recorded[6][0].proposal.new_source
    assert session.current_source(Loop.MODEL) == recorded[7][0].proposal.new_source
    assert session.best(Loop.MODEL) == recorded[7][0]
    assert session.best("design") == recorded[6][0]
    assert session.best_source(Loop.MODEL) == recorded[7][0].proposal.new_source

    # Records round-trip equal, and again after a reopen.
    records = [r for r, _ in recorded]
    assert session.iterations() == records
    session.close()
    with Session.open(session.path) as again:
        assert again.iterations() == records
        assert again.recovered == ()
        assert again.next_number() == 9
        assert again.iteration(3) == records[2]

    # Authors: the agent, unless the principal edited the diff; the harness always commits.
    log = git.Repo(session.path).iter_commits("main")
    people = {c.message.split("\n")[0]: (c.author.name, c.committer.email) for c in log}
    assert people[subjects[1]] == ("heuristic agent", HARNESS.email)
    assert people[subjects[8]][0] == session.principal.name
    assert all(committer == HARNESS.email for _, committer in people.values())


def test_the_commit_body_tells_the_story(session):
    record, sha = record_next(session, verdict=VerdictKind.KEPT)
    body = sh(session.path, "log", "-1", "--format=%b")
    for text in (
        "Hypothesis: Add move 1",
        "Rationale: Because step 1",
        "Decision: approved by policy:auto",
        "Verdict: kept — ΔELPD +22.7 > 2 × 6.1",
        "ΔELPD vs best: +22.7 ± 6.1",
        "ATE: 3.970 [3.740, 4.190] 94% HDI",
        "R-hat max 1.002",
        "divergences 0",
        "Timings: compile 4.1 s, sampling 5.2 s, total 12.0 s",
        "[warning] line 3: bw is never used",
        "Workbench-Iteration: 1",
        "Workbench-Status: kept",
    ):
        assert text in body, text
    rejected, _ = record_next(session, verdict=None, decision=DecisionKind.REJECTED)
    assert "Decision: rejected by principal — too many parameters" in sh(session.path, "log", "-1", "--format=%b")
    entries = session.log()
    assert [e.iteration for e in entries] == [2, 1, None]
    assert entries[0].status == "rejected" and entries[1].status == "kept"
    assert "best" in entries[1].refs and "main" in entries[0].refs
    assert session.file_at(sha, "iterations/0001/model.py") == record.proposal.new_source
    assert session.file_at(sha, "iterations/0001/proposal.diff") == record.proposal.diff
    assert session.iteration_commit(1) == sha


def test_edited_candidate_and_pointwise_elpd_are_kept_with_the_iteration(session):
    old = session.current_source()
    proposed, edited = old + "# agent\n", old + "# agent, edited\n"
    record = make_record(1, old=old, new=proposed, edited=True)
    elpd_i = np.linspace(-3.0, -1.0, 747)
    session.record_iteration(record, candidate_source=edited, pointwise_elpd=elpd_i)
    assert session.best_source() == edited
    assert "+# agent, edited" in session.file_at("HEAD", "iterations/0001/edit.diff")
    session.close()
    with Session.open(session.path, readonly=True) as again:
        np.testing.assert_array_equal(again.best_pointwise_elpd(), elpd_i)
        assert again.best_pointwise_elpd(Loop.DESIGN) is None
        assert again.pointwise_elpd(1).dtype == np.float64


def test_out_of_order_numbers_are_refused(session):
    old = session.current_source()
    with pytest.raises(SessionError, match="next iteration of this session is 1"):
        session.record_iteration(make_record(2, old=old, new=old + "#\n"), candidate_source=old + "#\n")
    assert session.iterations() == []


def test_best_ref_moved_by_someone_else_is_not_overwritten(session):
    record_next(session, verdict=VerdictKind.KEPT)
    record_next(session, verdict=VerdictKind.DISCARDED)
    sh(session.path, "branch", "-f", "best", "HEAD")  # someone else moves it
    with pytest.raises(SessionError, match="moved by something other than this session"):
        record_next(session, verdict=VerdictKind.KEPT)
    assert session.next_number() == 3  # nothing written
    assert sh(session.path, "status", "--porcelain") == ""


# --------------------------------------------------------------------------- principal edits


def test_principal_edits_are_authored_by_the_principal(session):
    sha = session.commit_edit("PROGRAM.md", "# Program\nSimplify after a failed gate.\n", "tighten the search")
    commit = git.Repo(session.path).commit(sha)
    expected = git.Repo(session.path).config_reader().get_value("user", "name", default=PRINCIPAL_FALLBACK.name)
    assert commit.author.name == expected == session.principal.name
    assert commit.committer.name == HARNESS.name
    assert commit.summary == "edit PROGRAM.md: tighten the search"
    assert session.read_file("PROGRAM.md").startswith("# Program")
    assert session.commit_edit("PROGRAM.md", session.read_file("PROGRAM.md"), "no change") is None
    with pytest.raises(SessionError, match="not editable"):
        session.commit_edit("problem.toml", "x", "sneaky")


def test_principal_falls_back_when_git_has_no_identity(problem, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    with Session.create(problem, tmp_path / "s") as s:
        assert s.principal == PRINCIPAL_FALLBACK
        sha = s.commit_edit("PROBLEM.md", "# notes\n", "")
        assert git.Repo(s.path).commit(sha).author.email == "principal@workbench"


# --------------------------------------------------------------------------- pending proposal


def test_pending_proposal_survives_a_close_and_goes_stale_once_recorded(session):
    old = session.current_source()
    proposal = Proposal(Loop.MODEL, "Try splines.", "Smooth surface.", old, old + "# s\n", "heuristic", "spline")
    findings = [Finding("forbidden-column", Severity.BLOCKER, "uses y0", 4)]
    compiled = CompileResult(ok=False, seconds=0.9, error="ValueError: bad shape", hint="check X")
    session.save_pending(proposal, findings, compiled)
    assert sh(session.path, "status", "--porcelain") == ""  # never committed
    session.close()
    with Session.open(session.path) as again:
        pending = again.load_pending()
        assert pending is not None
        assert (pending.proposal, pending.findings, pending.compile, pending.number) == (
            proposal,
            tuple(findings),
            compiled,
            1,
        )
        record = make_record(1, old=old, new=proposal.new_source, verdict=None, decision=DecisionKind.REJECTED)
        again.record_iteration(record, candidate_source=proposal.new_source)
        assert again.load_pending() is None
        again.save_pending(proposal, findings, None)
        again.clear_pending()
        assert again.load_pending() is None


# --------------------------------------------------------------------------- locking

HOLDER = """
import sys, time, os
from engine.store import Session
s = Session.open(sys.argv[1])
child = 0
if len(sys.argv) > 2:  # fork a child that outlives us, as a sandbox worker would
    child = os.fork()
    if child == 0:
        time.sleep(60)
        os._exit(0)
print(os.getpid(), child, flush=True)
time.sleep(60)
"""


def spawn_holder(path: Path, *extra: str) -> tuple[subprocess.Popen, int]:
    """A process holding the session open for writing; with ``extra``, also its forked child's pid."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), *extra], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert proc.stdout is not None
    pid, child = map(int, proc.stdout.readline().split())
    assert pid == proc.pid
    return proc, child


def test_a_second_writer_is_refused_until_the_holder_is_killed(session):
    record_next(session)
    session.close()
    holder, _ = spawn_holder(session.path)
    try:
        with pytest.raises(SessionLockedError, match=f"process {holder.pid}") as info:
            Session.open(session.path)
        assert info.value.pid == holder.pid
        assert lock_holder(session.path / ".workbench" / "lock") == holder.pid
        with Session.open(session.path, readonly=True) as reader:  # readers need no lock
            assert len(reader.iterations()) == 1
            with pytest.raises(SessionError, match="read-only"):
                reader.commit_edit("PROGRAM.md", "x", "no")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with Session.open(session.path) as again:
        assert again.iterations()[0].number == 1
    assert lock_holder(session.path / ".workbench" / "lock") is None


def test_the_same_process_cannot_open_a_session_twice_for_writing(session):
    with pytest.raises(SessionLockedError, match="this process"):
        Session.open(session.path)


def test_a_forked_child_does_not_keep_the_lock_after_its_parent_dies(session):
    session.close()
    holder, child = spawn_holder(session.path, "fork")
    try:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        os.kill(child, 0)  # the forked child is still alive ...
        with Session.open(session.path) as again:  # ... but it closed its copy of the lock at fork
            assert not again.readonly
    finally:
        os.kill(child, signal.SIGKILL)


# --------------------------------------------------------------------------- crash safety


def test_a_half_written_iteration_is_discarded_and_recorded_ones_survive(session):
    records = [record_next(session)[0], record_next(session, verdict=VerdictKind.DISCARDED)[0]]
    head = sh(session.path, "rev-parse", "HEAD")
    # What a kill between "write files" and "commit" leaves behind: new files, a modified
    # top-level file, and some of it staged.
    partial = session.path / "iterations" / "0003"
    partial.mkdir()
    (partial / "record.json").write_text('{"number": 3, "propo')
    (session.path / "model.py").write_text("half a model")
    git.Repo(session.path).index.add([str(partial / "record.json")])
    session.close()

    with Session.open(session.path) as again:
        assert any("discarded an unfinished write" in note for note in again.recovered)
        assert again.iterations() == records
        assert again.next_number() == 3
        assert sh(session.path, "rev-parse", "HEAD") == head
        assert sh(session.path, "status", "--porcelain", "--untracked-files=all") == ""
        assert again.current_source() == records[0].proposal.new_source
        backups = list((session.path / ".workbench" / "recovered").rglob("model.py"))
        assert backups and backups[0].read_text() == "half a model"
        record_next(again)  # and the session goes on


WRITER = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from test_store import record_next
from engine.records import DecisionKind, VerdictKind
from engine.store import Session
s = Session.open(sys.argv[1])
plan = [
    dict(verdict=VerdictKind.KEPT, pointwise=[0.0] * 747),
    dict(verdict=VerdictKind.DISCARDED),
    dict(verdict=VerdictKind.FAILED_GATE),
    dict(verdict=None, decision=DecisionKind.SKIPPED),
]
i = 0
while True:
    record_next(s, **plan[i % 4])
    print(i, flush=True)
    i += 1
"""


@pytest.mark.parametrize("delay", [0.7, 1.3])
def test_a_kill_at_a_random_moment_loses_no_recorded_iteration(session, delay):
    session.close()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(session.path), str(Path(__file__).parent)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # at least one iteration is in
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Session.open(session.path) as again:
        numbers = [r.number for r in again.iterations()]
        assert numbers == list(range(1, len(numbers) + 1)) and numbers
        assert sh(session.path, "status", "--porcelain", "--untracked-files=all") == ""
        best = again.best()
        assert best is not None
        assert sh(session.path, "rev-parse", "best").strip() == again.iteration_commit(best.number)
        print(f"killed after {len(numbers)} iterations; recovery notes: {again.recovered}")
        record_next(again)


def test_an_interrupted_best_move_is_completed_on_open(session):
    _, kept = record_next(session)
    root = sh(session.path, "rev-list", "--max-parents=0", "HEAD").strip()
    sh(session.path, "update-ref", "refs/heads/best", root)  # killed before the ref moved
    session.close()
    with Session.open(session.path) as again:
        assert sh(session.path, "rev-parse", "best").strip() == kept
        assert any("'best'" in note for note in again.recovered)


def test_a_stale_index_lock_is_removed_on_open(session):
    record_next(session)
    lock = session.path / ".git" / "index.lock"
    lock.write_text("")
    with pytest.raises(SessionError, match="index is locked"):  # a git error, in our words
        record_next(session)
    session.close()
    old = time.time() - 60
    os.utime(lock, (old, old))  # left by a process killed a minute ago
    with Session.open(session.path) as again:
        assert not lock.exists()
        assert any("index.lock" in note for note in again.recovered)
        record_next(again)
        assert again.next_number() == 3


# --------------------------------------------------------------------------- opening and finding


def test_opening_something_that_is_not_a_session_says_so(session, tmp_path):
    with pytest.raises(SessionError, match="no such folder"):
        Session.open(tmp_path / "nope")
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(SessionError, match="no git repository"):
        Session.open(plain)
    git.Repo.init(plain)
    with pytest.raises(SessionError, match="no commits"):
        Session.open(plain)
    (plain / "a.txt").write_text("a")
    repo = git.Repo(plain)
    repo.index.add(["a.txt"])
    repo.index.commit("x", author=HARNESS, committer=HARNESS)
    with pytest.raises(SessionError, match="not a workbench session"):
        Session.open(plain)
    with pytest.raises(SessionError, match="no file"):
        session.file_at("HEAD", "truth.json")
    with pytest.raises(SessionError, match="git failed"):
        session.file_at("no-such-rev", "model.py")
    for rev in ("0" * 40, "main@{5}", "HEAD:model.py"):  # GitPython's ValueError/IndexError, in our words
        with pytest.raises(SessionError, match="does not name a commit"):
            session.file_at(rev, "model.py")
    with pytest.raises(SessionError, match="git failed"):
        session.log("no-such-rev")


def test_find_and_latest_session(problem, tmp_path):
    root = tmp_path / "sessions"
    a = Session.create(problem, root, name="ihdp-20260101-000000")
    b = Session.create(problem, root, name="ihdp-20260102-000000")
    a.close()
    b.close()
    assert find_session(a.path, root) == a.path
    assert find_session("ihdp-20260101-000000", root) == a.path
    assert find_session("ihdp-20260102", root) == b.path
    with pytest.raises(SessionError, match="several sessions"):
        find_session("ihdp-2026", root)
    with pytest.raises(SessionError, match="no session 'lalonde'"):
        find_session("lalonde", root)
    with pytest.raises(SessionError, match="not a session"):
        find_session(tmp_path, root)
    assert latest_session("ihdp", root) == b.path
    assert latest_session("lalonde", root) is None
    assert latest_session("ihdp", tmp_path / "missing") is None


def test_artifacts_live_beside_the_history(session):
    folder = session.artifacts_dir(1)
    (folder / "trace.nc").write_bytes(b"\x89HDF")
    assert folder == session.path / "artifacts" / "0001"
    assert sh(session.path, "status", "--porcelain", "--untracked-files=all") == ""


# --------------------------------------------------------------------------- speed (printed, not asserted)


def test_recording_200_iterations_stays_fast(session):
    kinds = [VerdictKind.KEPT, VerdictKind.DISCARDED, VerdictKind.FAILED_GATE, VerdictKind.CRASHED]
    elpd_i = np.zeros(747)
    times = []
    for i in range(200):
        start = time.perf_counter()
        record_next(session, verdict=kinds[i % 4], pointwise=elpd_i)
        times.append(time.perf_counter() - start)
    session.close()
    start = time.perf_counter()
    with Session.open(session.path, readonly=True) as again:
        records = again.iterations()
        opened = time.perf_counter() - start
        best = again.best()
        log = again.log()
    assert len(records) == 200 and best is not None and best.number == 197 and len(log) == 201
    start = time.perf_counter()
    with Session.open(session.path) as writer:
        writer.iterations()
    resume = time.perf_counter() - start
    print(
        textwrap.dedent(
            f"""
            200 iterations: first 10 mean {np.mean(times[:10]) * 1e3:.0f} ms, last 10 mean {np.mean(times[-10:]) * 1e3:.0f} ms,
            total {sum(times):.1f} s; read-only open + all records {opened * 1e3:.0f} ms; writable resume {resume * 1e3:.0f} ms
            """
        )
    )


ORPHANING_HOLDER = """
import subprocess, sys, time, os
from pathlib import Path
from engine.store.lock import SessionLock
lock = SessionLock(Path(sys.argv[1]) / ".workbench" / "lock")
lock.acquire()
# A git command still finishing when its parent dies inherits the lock (as ours do).
subprocess.Popen(["sleep", "2.5"], pass_fds=(lock.fd,))
print(os.getpid(), flush=True)
time.sleep(60)
"""


def test_a_dead_writers_last_git_command_is_waited_for(session):
    session.close()
    proc = subprocess.Popen(
        [sys.executable, "-c", ORPHANING_HOLDER, str(session.path)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert proc.stdout is not None
    assert int(proc.stdout.readline()) == proc.pid
    with pytest.raises(SessionLockedError):  # the writer is alive: refused at once
        Session.open(session.path)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    start = time.monotonic()
    with Session.open(session.path) as again:  # its orphaned child holds the lock for a moment
        assert not again.readonly
    assert time.monotonic() - start > 0.3


def test_a_reader_sees_only_committed_iterations(session):
    first, _ = record_next(session)
    (session.path / "iterations" / "0002").mkdir()
    (session.path / "iterations" / "0002" / "record.json").write_text("{}")  # a writer mid-iteration
    with Session.open(session.path, readonly=True) as reader:
        assert reader.iterations() == [first]
        assert reader.next_number() == 2
        assert reader.artifacts_dir(1) == session.path / "artifacts" / "0001"
        assert not reader.artifacts_dir(1).exists()  # readers create nothing
