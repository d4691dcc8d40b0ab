"""Compile during review: the model child compiles while the principal reads, and waits behind a gate.

Real parts: the sandboxed model child, nutpie's compile, the session's git repository.
"""

from __future__ import annotations

import time
from pathlib import Path

from conftest import PROBLEMS
from fixtures.processes import descendants

from engine.launch import open_workbench
from engine.loop import RunOptions
from engine.progress import Phase, SamplingProgress
from engine.records import Decision, DecisionKind, Loop, VerdictKind

TINY = RunOptions(sampling_overrides={"chains": 2, "draws": 100, "tune": 100})
READY_TIMEOUT_S = 240.0  # a cold sandbox and nutpie's compile on a busy 2-core machine


def _wait_ready(prepared) -> None:  # noqa: ANN001
    assert prepared is not None
    assert prepared.ready.wait(READY_TIMEOUT_S), "the prepared child never reported ready"


def test_a_rejected_child_goes_and_an_approved_one_samples_without_compiling(tmp_path: Path) -> None:
    from engine.sandbox import server_status

    wb = open_workbench(PROBLEMS / "ihdp", sessions_root=tmp_path, options=TINY)
    try:
        # Rejected: the child that waited behind its gate is killed, and its folder goes.
        reviewed = wb.propose(Loop.MODEL)  # the compile check starts the warm server
        server = server_status()
        assert server.running and server.pid is not None
        before = descendants(server.pid)  # the server's own processes (bubblewrap, the zygote)
        prepared = wb.prepare(reviewed)
        _wait_ready(prepared)
        waiting = descendants(server.pid) - before
        assert waiting, "no child process waits behind the gate"
        rejected = wb.execute(reviewed, Decision(DecisionKind.REJECTED, "principal", reason="not this one"))
        assert prepared.wait_closed(30.0), "the discarded child's job did not end"
        deadline = time.monotonic() + 10
        while descendants(server.pid) & waiting and time.monotonic() < deadline:
            time.sleep(0.1)
        left = descendants(server.pid) & waiting
        assert not left, f"processes left behind: {left}"
        assert not list((wb.session.path / "artifacts").glob(".prepared-*"))

        # Approved after "ready": sampling starts at once, with no compile phase.
        reviewed = wb.propose(Loop.MODEL)
        statuses: list[str] = []
        prepared = wb.prepare(reviewed, on_status=statuses.append)
        _wait_ready(prepared)
        assert statuses and statuses[-1].startswith("compiled, ready")
        phases: list[str] = []
        record = wb.execute(
            reviewed,
            Decision(DecisionKind.APPROVED, "principal"),
            on_progress=lambda p: phases.append(p.phase) if isinstance(p, SamplingProgress) else None,
        )
        staging = list((wb.session.path / "artifacts").glob(".prepared-*"))
        assert wb.wait_for_traces(120)
    finally:
        wb.session.close()
    assert rejected.decision.kind is DecisionKind.REJECTED and rejected.verdict is None
    assert record.verdict is not None and record.verdict.kind is not VerdictKind.CRASHED, record.verdict
    assert phases and Phase.COMPILING not in phases and Phase.READY not in phases  # straight to sampling
    assert record.timings["compile"] == prepared.compile_s > 0  # paid during review, recorded as it was
    assert record.timings["review_wait"] >= 0
    # The staged arrays moved to the iteration's folder, and became its trace after the verdict.
    artifacts = wb.session.path / "artifacts" / f"{record.number:04d}"
    assert (artifacts / "trace.nc").is_file() and not (artifacts / "draws.npz").exists() and not staging
