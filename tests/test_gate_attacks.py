"""Red-team attacks on compile during review: the gate file, the staging move, discard, the border check.

Each test is one attack by a hostile model child (real sandbox: bubblewrap + seccomp where
available) or a forged message, and asserts what the defence promises. Attacks that get
through were fixed: each test now holds the fix in place.

Job functions live at module level so the sandbox child can import them by name.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from fixtures.processes import descendants

from engine import sandbox
from engine.sandbox import CrashKind, Gate, run_in_sandbox
from engine.sandbox.outcome import GATE_FILE

# --------------------------------------------------------------------------- jobs (run in the child)


def job_plant_gate(target: str, kind: str, *, progress):
    """Plant ``GO`` as a symlink to a host path, or as a folder, then let the parent open the gate."""
    if kind == "symlink":
        import ctypes

        # os.symlink is refused by the audit hook; libc's symlink through pythonapi is not.
        rc = ctypes.pythonapi.symlink(target.encode(), GATE_FILE.encode())
    else:
        os.mkdir(GATE_FILE)
        with open(os.path.join(GATE_FILE, "inside"), "w") as fh:
            fh.write("x")
        rc = 0
    progress({"planted": rc})
    time.sleep(1.0)
    return {"rc": rc, "link": os.path.islink(GATE_FILE), "dir": os.path.isdir(GATE_FILE)}


def job_swap_own_folder(target: str, *, progress):
    """Rename the job's own folder away and put a symlink to a host folder in its place."""
    import ctypes

    here = os.getcwd()
    moved = ctypes.pythonapi.rename(here.encode(), (here + "-moved").encode())
    linked = ctypes.pythonapi.symlink(target.encode(), here.encode()) if moved == 0 else -1
    progress({"moved": moved, "linked": linked})
    time.sleep(1.0)
    return {"moved": moved, "linked": linked}


def job_linger(*, progress):
    """Ignore SIGTERM, start busy threads, ask to be discarded, and keep running."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def spin():
        while True:
            sum(range(1000))

    for _ in range(4):
        threading.Thread(target=spin, daemon=False).start()
    try:
        os.setsid()  # leave the process group the runner kills
    except OSError:
        pass
    progress({"lingering": os.getpid()})
    while True:
        time.sleep(0.05)


def job_ready_none(*, progress):
    """READY before any compile, with ``compile_s=None`` (its annotation allows None)."""
    from engine.progress import Phase, SamplingProgress

    progress(SamplingProgress(Phase.READY, 0.0, 1.0, (), None))
    time.sleep(1.0)
    return None


def job_forged_report(*, progress):
    """A SampleReport with timings the harness never measured: negative, NaN, infinite."""
    from engine.harness import SampleReport

    return SampleReport(timings={"compile": -5.0, "sampling": float("nan"), "review_wait": float("inf")})


def job_send(body, *, progress):
    """Send ``body`` as progress (pickled as given), then return a plain value."""
    progress(body)
    time.sleep(0.5)
    return "survived"


def job_self_cycle(*, progress):
    """An engine dataclass whose ``Any`` field holds itself (pickle keeps the cycle)."""
    from engine.sandbox.outcome import SandboxOutcome

    outcome = SandboxOutcome(ok=True)
    object.__setattr__(outcome, "value", outcome)
    progress(outcome)
    time.sleep(0.5)
    return "survived"


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module", autouse=True)
def warm_server():
    sandbox.warm_up()
    assert sandbox.wait_until_warm(600), "the sandbox server did not come up; see " + str(
        sandbox.server_status().log_path
    )
    yield


def _gated(fn, workdir: Path, *args, outputs=("draws.npz",), **kwargs):
    """Run ``fn`` behind a gate the first progress message opens."""
    gate = Gate()
    seen: list = []

    def on_progress(p) -> None:  # noqa: ANN001
        seen.append(p)
        gate.open()

    outcome = run_in_sandbox(
        fn,
        *args,
        timeout_s=30,
        workdir=workdir,
        on_progress=on_progress,
        progress_interval_s=0,
        gate=gate,
        outputs=outputs,
        **kwargs,
    )
    return outcome, seen, gate


# --------------------------------------------------------------------------- (a) the gate file


@pytest.mark.parametrize("kind", ["symlink", "dir"])
def test_a_planted_go_is_neither_followed_nor_written_through(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "host" / "pwned"
    target.parent.mkdir()
    outcome, seen, gate = _gated(job_plant_gate, tmp_path / "work", str(target), kind)
    assert outcome.ok, outcome.describe()
    assert gate.opened_at is not None and seen
    assert not target.exists() and not target.is_symlink(), "the parent created a file through the planted GO"
    assert not list((tmp_path / "work").iterdir()) or set(os.listdir(tmp_path / "work")) <= {"sandbox.log"}


def test_a_swapping_the_job_folder_for_a_symlink_redirects_nothing(tmp_path: Path) -> None:
    # The GO open follows every component but the last (O_NOFOLLOW is for the last only), and
    # collect_outputs scans the job folder by path: a job that could replace its own folder by
    # a symlink would get GO created in, and draws.npz moved out of, any host folder.
    target = tmp_path / "victim"
    target.mkdir()
    (target / "draws.npz").write_bytes(b"someone else's draws")
    outcome, seen, _ = _gated(job_swap_own_folder, tmp_path / "work", str(target))
    assert not (target / GATE_FILE).exists(), f"GO written into a host folder ({seen})"
    assert (target / "draws.npz").read_bytes() == b"someone else's draws", "a host file was moved out"
    if outcome.ok:
        assert outcome.value["moved"] != 0, "the job renamed its own folder (the jobs root is writable to it)"


# --------------------------------------------------------------------------- (b) staging → artifacts


def test_b_move_outputs_takes_regular_files_only(tmp_path: Path) -> None:
    from engine.loop import _move_outputs

    staging, work, host = tmp_path / ".prepared-x", tmp_path / "0001", tmp_path / "host"
    for p in (staging, work, host):
        p.mkdir()
    (host / "secret").write_text("host")
    (staging / "draws.npz").write_bytes(b"ok")
    (staging / "dims.json").symlink_to(host / "secret")
    (staging / "nested").mkdir()
    (staging / "nested" / "evil.py").write_text("x")
    os.mkfifo(staging / "fifo")
    _move_outputs(staging, work)
    assert sorted(os.listdir(work)) == ["draws.npz"]
    assert not staging.exists() and (host / "secret").read_text() == "host"


def job_plant_outputs(*, progress):
    """Leave look-alike outputs: a folder named dims.json with a payload, a symlink draws.npz, extras."""
    import ctypes

    os.mkdir("dims.json")
    with open(os.path.join("dims.json", "payload.py"), "w") as fh:
        fh.write("import os\n")
    ctypes.pythonapi.symlink(b"/etc/passwd", b"draws.npz")
    with open("effect_draws.npy", "wb") as fh:
        fh.write(b"forged")
    progress({"planted": True})
    return None


def test_b_prepared_staging_keeps_only_the_expected_regular_files(tmp_path: Path) -> None:
    from engine.loop import _move_outputs

    staging, work = tmp_path / ".prepared-y", tmp_path / "0002"
    staging.mkdir()
    work.mkdir()
    outcome, _, _ = _gated(job_plant_outputs, staging, outputs=("draws.npz", "dims.json"))
    assert outcome.ok, outcome.describe()
    _move_outputs(staging, work)
    assert set(os.listdir(work)) <= {"sandbox.log"}, os.listdir(work)
    assert not staging.exists()


# --------------------------------------------------------------------------- (c) discard


def test_c_a_discarded_child_that_ignores_sigterm_and_spins_threads_is_gone(tmp_path: Path) -> None:
    server = sandbox.server_status()
    assert server.pid is not None
    before = descendants(server.pid)
    cancel = threading.Event()
    gate = Gate()
    t0 = time.monotonic()
    outcome = run_in_sandbox(
        job_linger,
        timeout_s=60,
        workdir=tmp_path / "work",
        on_progress=lambda p: cancel.set(),
        progress_interval_s=0,
        cancel=cancel,
        gate=gate,
        outputs=(),
    )
    took = time.monotonic() - t0
    assert outcome.crash is CrashKind.CANCELLED, outcome.describe()
    assert gate.opened_at is None and took < 20
    deadline = time.monotonic() + 10
    while descendants(server.pid) - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not descendants(server.pid) - before, "the discarded child left processes behind"


# --------------------------------------------------------------------------- (d) forged progress and results


def test_d_ready_without_a_compile_time_does_not_break_the_prepared_run(tmp_path: Path) -> None:
    from engine.prepare import PreparedKey, PreparedRun

    statuses: list[str] = []
    prepared = PreparedRun(PreparedKey("src", 1, tmp_path), Gate(), statuses.append)

    def job(run: PreparedRun):
        return run_in_sandbox(
            job_ready_none,
            timeout_s=30,
            workdir=tmp_path / "work",
            on_progress=run.progress,
            progress_interval_s=0,
            cancel=run,
            gate=run.gate,
            outputs=(),
        )

    thread = threading.Thread(target=prepared.run, args=(job,))
    thread.start()
    outcome = prepared.go(None, None)  # the approve: raises the TypeError from the watchdog thread
    thread.join(30)
    assert outcome is not None


def test_d_a_forged_report_cannot_carry_impossible_timings(tmp_path: Path) -> None:
    """The border checks types only; the loop keeps a model child's timings only where they can be true."""
    from engine.model_run import trusted_timings

    outcome = run_in_sandbox(job_forged_report, timeout_s=30, workdir=tmp_path / "work", outputs=())
    assert outcome.ok, outcome.describe()
    timings = trusted_timings(outcome.value.timings, outcome.seconds)  # what Workbench._run_model records
    bad = {k: v for k, v in timings.items() if not (math.isfinite(v) and 0 <= v <= outcome.seconds + 1)}
    assert not bad, f"impossible timings reach the record: {bad}"
    assert set(outcome.value.timings) - set(timings), "the forged entries were not dropped"


def test_d_a_string_where_a_float_belongs_is_a_protocol_error(tmp_path: Path) -> None:
    from engine.progress import Phase, SamplingProgress

    forged = SamplingProgress.__new__(SamplingProgress)
    for name, value in dict(phase=Phase.READY, elapsed_s="0", budget_s=1.0, chains=(), compile_s=1.0).items():
        object.__setattr__(forged, name, value)
    seen: list = []
    outcome = run_in_sandbox(
        job_send, forged, timeout_s=30, workdir=tmp_path / "w", on_progress=seen.append, progress_interval_s=0
    )
    assert outcome.crash is CrashKind.PROTOCOL and not seen, outcome.describe()


# --------------------------------------------------------------------------- (e) the conformity checker


def test_e_a_self_containing_dataclass_is_refused_not_a_crash(tmp_path: Path) -> None:
    outcome = run_in_sandbox(job_self_cycle, timeout_s=30, workdir=tmp_path / "w", progress_interval_s=0)
    assert outcome.crash is CrashKind.PROTOCOL, outcome.describe()
    assert "contains itself" in outcome.message  # found as a cycle, whatever the recursion limit


def job_huge_report(*, progress):
    """A result report with 400,000 timings (about 7 MB pickled): the whole dict is checked."""
    from engine.harness import SampleReport

    return SampleReport(timings={f"k{i}": float(i) for i in range(400_000)})


def test_e_a_huge_dict_of_floats_does_not_stall_the_watchdog(tmp_path: Path) -> None:
    t0 = time.monotonic()
    outcome = run_in_sandbox(job_huge_report, timeout_s=30, workdir=tmp_path / "w", outputs=())
    assert outcome.ok and len(outcome.value.timings) == 400_000, outcome.describe()
    assert time.monotonic() - t0 < 20


def test_an_approved_run_cancelled_before_its_files_move_does_not_break_the_record(tmp_path: Path) -> None:
    """Cancel after approve: the staging folder may be gone already; moving its files is then a no-op."""
    from engine.loop import _move_outputs

    work = tmp_path / "0001"
    work.mkdir()
    _move_outputs(tmp_path / ".prepared-gone", work)
    assert list(work.iterdir()) == []
