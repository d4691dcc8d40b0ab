"""The sandboxed runner, with real child processes forked from the real warm server.

Job functions live at module level so the child can import them by name. One warm server
serves the whole module (the fixture starts it once; imports take 5–20 s on this machine).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from engine import sandbox
from engine.sandbox import CrashKind, run_in_sandbox

ROOT = Path(__file__).resolve().parents[1]
TRUTH = ROOT / "problems" / "ihdp" / "truth.json"


@pytest.fixture(scope="module", autouse=True)
def warm_server():
    sandbox.warm_up()
    assert sandbox.wait_until_warm(600), "the sandbox server did not come up; see " + str(
        sandbox.server_status().log_path
    )
    yield


# --------------------------------------------------------------------------- jobs (run in the child)


def job_value(x, *, progress, scale=2):
    Path("value.txt").write_text(str(scale * x))
    return {"doubled": scale * x, "pid": os.getpid(), "cwd": os.getcwd()}


def job_dataclass_progress(*, progress):
    from engine.records import GateResult

    progress(GateResult("rhat", 1.002, 1.01, True))
    return "done"


def job_raise(*, progress):
    raise ValueError("boom from the child")


def job_exit(*, progress):
    os._exit(3)


def job_segfault(*, progress):
    import ctypes

    ctypes.string_at(0)


def job_spin(*, progress):
    while True:
        pass


def job_sleep(*, progress):
    while True:
        time.sleep(0.01)


def job_allocate_at_once(*, progress):
    import numpy as np

    return np.ones(16 * 2**30 // 8).sum()  # 16 GiB in one go


def job_allocate_steadily(*, progress):
    import numpy as np

    blocks = []
    for _ in range(400):  # up to 25 GiB, 64 MiB at a time, every page touched
        blocks.append(np.ones(8 * 2**20))
        time.sleep(0.005)
    return len(blocks)


def job_progress(n, *, progress):
    for i in range(n):
        progress({"step": i, "of": n})
        time.sleep(0.02)
    return n


def job_flood(seconds, *, progress):
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        progress({"i": i})
        i += 1
    return i


def job_big_progress(*, progress):
    progress({"blob": "x" * (sandbox.MAX_PROGRESS_BYTES + 1)})


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {ROOT / '.sandbox-pwned'}",))


def job_forged_result(*, progress):
    return {"innocent": _Evil()}


def job_probe(outside: str, truth: str, link: str, *, progress) -> dict[str, str]:
    """Try what the audit hook must refuse, and what must keep working."""
    import importlib
    import socket
    import subprocess

    results: dict[str, str] = {}

    def attempt(name, action):
        try:
            action()
            results[name] = "allowed"
        except PermissionError as exc:
            results[name] = f"blocked: {exc}"
        except Exception as exc:  # noqa: BLE001
            results[name] = f"error: {type(exc).__name__}: {exc}"

    def write(path):
        with open(path, "w") as fh:
            fh.write("x")

    attempt("write_workdir", lambda: write("inside.txt"))
    attempt("write_outside", lambda: write(outside))
    attempt("read_truth", lambda: open(truth).read())
    attempt("read_truth_link", lambda: open(link).read())
    attempt("socket", lambda: socket.create_connection(("127.0.0.1", 9), timeout=1))
    attempt("subprocess", lambda: subprocess.run(["true"], check=False))
    attempt("os_system", lambda: os.system("true"))
    attempt("kill", lambda: os.kill(os.getppid(), 0))
    attempt("fork", lambda: os.fork())
    attempt("ctypes_load", lambda: __import__("ctypes").CDLL("libc.so.6"))
    attempt("remove_outside", lambda: os.remove(outside))
    attempt("import_new_module", lambda: importlib.import_module("wave"))
    attempt("read_library_file", lambda: open(importlib.import_module("numpy").__file__).read(10))
    attempt("numpy_works", lambda: importlib.import_module("numpy").linalg.inv([[2.0, 0.0], [0.0, 2.0]]))
    results["secrets_in_env"] = ",".join(k for k in os.environ if "KEY" in k.upper() or "TOKEN" in k.upper())
    return results


# --------------------------------------------------------------------------- results and crashes


def test_returns_the_value_from_a_child_in_workdir(tmp_path):
    outcome = run_in_sandbox(job_value, 21, timeout_s=30, workdir=tmp_path)
    assert outcome.ok, outcome.message
    assert outcome.value["doubled"] == 42
    assert outcome.value["pid"] != os.getpid()
    assert Path(outcome.value["cwd"]) != tmp_path.resolve()  # a private folder of the sandbox's own
    assert (tmp_path / "value.txt").read_text() == "42"  # what it wrote there lands in workdir
    assert outcome.start_latency_s is not None and outcome.start_latency_s < outcome.seconds


def test_keyword_arguments_reach_the_function(tmp_path):
    outcome = run_in_sandbox(job_value, 21, timeout_s=30, workdir=tmp_path, scale=3)
    assert outcome.value["doubled"] == 63


def test_every_job_is_a_fresh_process(tmp_path):
    pids = {run_in_sandbox(job_value, 1, timeout_s=30, workdir=tmp_path).value["pid"] for _ in range(2)}
    assert len(pids) == 2


def test_exception_is_reported_with_traceback(tmp_path):
    outcome = run_in_sandbox(job_raise, timeout_s=30, workdir=tmp_path)
    assert outcome.crash is CrashKind.EXCEPTION
    assert outcome.error_type == "ValueError"
    assert "boom from the child" in outcome.error
    assert "job_raise" in outcome.traceback
    assert "ValueError" in outcome.message


def test_os_exit_is_reported(tmp_path):
    outcome = run_in_sandbox(job_exit, timeout_s=30, workdir=tmp_path)
    assert outcome.crash is CrashKind.EXIT
    assert outcome.exit_code == 3
    assert "status 3" in outcome.message


def test_segfault_is_reported_and_the_parent_survives(tmp_path):
    outcome = run_in_sandbox(job_segfault, timeout_s=30, workdir=tmp_path)
    assert outcome.crash is CrashKind.SIGNAL
    assert outcome.exit_code == -signal.SIGSEGV
    assert "SIGSEGV" in outcome.message
    assert "job_segfault" in outcome.log_tail  # faulthandler wrote the child's stack to its log
    assert run_in_sandbox(job_value, 1, timeout_s=30, workdir=tmp_path).ok  # the server is fine


def test_endless_loop_times_out(tmp_path):
    outcome = run_in_sandbox(job_spin, timeout_s=1.0, workdir=tmp_path)
    assert outcome.crash is CrashKind.TIMEOUT
    assert "1 s budget" in outcome.message
    assert outcome.seconds < 1.0 + sandbox.KILL_GRACE_S + 3.0
    assert "job_spin" in outcome.log_tail  # the SIGTERM dump says where it was


def test_one_huge_allocation_is_a_memory_crash(tmp_path):
    outcome = run_in_sandbox(job_allocate_at_once, timeout_s=30, workdir=tmp_path, memory_mb=1024)
    assert outcome.crash is CrashKind.MEMORY, outcome.message
    assert "memory" in outcome.message


def test_steady_growth_past_the_limit_is_killed(tmp_path):
    outcome = run_in_sandbox(job_allocate_steadily, timeout_s=60, workdir=tmp_path, memory_mb=1200)
    assert outcome.crash is CrashKind.MEMORY, outcome.message
    assert outcome.peak_rss_mb is not None and outcome.peak_rss_mb < 4000


def test_unpicklable_job_is_refused_in_the_parent(tmp_path):
    with pytest.raises(TypeError, match="module-level function"):
        run_in_sandbox(lambda *, progress: 1, timeout_s=5, workdir=tmp_path)


def test_a_forged_message_cannot_run_code_in_the_parent(tmp_path):
    marker = ROOT / ".sandbox-pwned"
    marker.unlink(missing_ok=True)
    outcome = run_in_sandbox(job_forged_result, timeout_s=30, workdir=tmp_path)
    assert outcome.crash is CrashKind.PROTOCOL
    assert "not allowed" in outcome.message
    assert not marker.exists()


# --------------------------------------------------------------------------- progress and cancellation


def test_progress_arrives_in_order_in_the_calling_thread(tmp_path):
    seen: list[tuple[int, dict]] = []
    outcome = run_in_sandbox(
        job_progress,
        5,
        timeout_s=30,
        workdir=tmp_path,
        progress_interval_s=0,
        on_progress=lambda m: seen.append((threading.get_ident(), m)),
    )
    assert outcome.ok and outcome.value == 5
    assert [m["step"] for _, m in seen] == [0, 1, 2, 3, 4]
    assert {ident for ident, _ in seen} == {threading.get_ident()}


def test_progress_may_be_an_engine_dataclass(tmp_path):
    from engine.records import GateResult

    seen: list = []
    outcome = run_in_sandbox(job_dataclass_progress, timeout_s=30, workdir=tmp_path, on_progress=seen.append)
    assert outcome.ok
    assert seen == [GateResult("rhat", 1.002, 1.01, True)]


def test_runs_from_a_worker_thread(tmp_path):
    box: dict = {}

    def worker():
        box["ident"] = threading.get_ident()
        box["seen"] = []
        box["outcome"] = run_in_sandbox(
            job_progress,
            3,
            timeout_s=30,
            workdir=tmp_path,
            progress_interval_s=0,
            on_progress=lambda m: box["seen"].append(threading.get_ident()),
        )

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(60)
    assert box["outcome"].ok
    assert set(box["seen"]) == {box["ident"]}


def test_a_progress_flood_is_coalesced_and_the_last_message_kept(tmp_path):
    seen: list[dict] = []
    outcome = run_in_sandbox(
        job_flood, 1.0, timeout_s=30, workdir=tmp_path, on_progress=seen.append, progress_interval_s=0.05
    )
    assert outcome.ok, outcome.message
    sent = outcome.value
    assert sent > 1000  # it really flooded
    assert seen[-1] == {"i": sent - 1}  # the final state is never lost
    assert len(seen) < 200  # about one per 50 ms, not one per message


def job_report_then_wait(seconds, *, progress):
    progress({"phase": "sampling"})
    time.sleep(seconds)
    return "done"


@pytest.mark.parametrize("listening", [False, True])
def test_waiting_on_a_child_costs_the_parent_no_cpu_whoever_listens(tmp_path, listening):
    # A progress message nobody took once stayed pending and made the watchdog's wait zero:
    # the calling thread spun a core for the rest of the job (headless runs sampled at half speed).
    seen: list[dict] = []
    before = time.thread_time()
    outcome = run_in_sandbox(
        job_report_then_wait,
        2.0,
        timeout_s=30,
        workdir=tmp_path,
        on_progress=seen.append if listening else None,
        progress_interval_s=0.05,
    )
    busy = time.thread_time() - before
    assert outcome.ok, outcome.message
    assert seen == ([{"phase": "sampling"}] if listening else [])
    assert busy < 0.5, f"the calling thread used {busy:.2f} s of CPU while the child slept 2 s"


def test_an_oversized_progress_message_fails_in_the_child(tmp_path):
    outcome = run_in_sandbox(job_big_progress, timeout_s=30, workdir=tmp_path)
    assert outcome.crash is CrashKind.EXCEPTION
    assert "at most" in outcome.error


def test_cancel_stops_the_child_promptly(tmp_path):
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    t0 = time.monotonic()
    outcome = run_in_sandbox(job_sleep, timeout_s=60, workdir=tmp_path, cancel=cancel)
    assert outcome.crash is CrashKind.CANCELLED
    assert time.monotonic() - t0 < 0.5 + sandbox.KILL_GRACE_S + 2.0


def test_cancel_set_before_the_call_runs_nothing(tmp_path):
    cancel = threading.Event()
    cancel.set()
    outcome = run_in_sandbox(job_value, 1, timeout_s=30, workdir=tmp_path, cancel=cancel)
    assert outcome.crash is CrashKind.CANCELLED


# --------------------------------------------------------------------------- the audit hook


@pytest.fixture
def inner_layers_only(monkeypatch):
    """A server without namespaces, so one inner layer is tested alone; the shared server comes back after."""
    sandbox.shutdown()
    monkeypatch.setenv("WORKBENCH_SANDBOX", "inner")
    yield
    sandbox.shutdown()
    monkeypatch.delenv("WORKBENCH_SANDBOX")
    sandbox.warm_up()


def test_audit_hook_blocks_escapes_while_imports_work(tmp_path, inner_layers_only):
    outside = ROOT / ".sandbox-escape-probe"
    outside.unlink(missing_ok=True)
    link = tmp_path / "innocent.json"
    link.symlink_to(TRUTH)
    try:
        outcome = run_in_sandbox(job_probe, str(outside), str(TRUTH), str(link), timeout_s=60, workdir=tmp_path)
        assert outcome.ok, outcome.message + (outcome.traceback or "")
        results = outcome.value
        assert results["write_workdir"] == "allowed"
        assert (tmp_path / "inside.txt").read_text() == "x"
        for blocked in (
            "write_outside",
            "read_truth",
            "read_truth_link",
            "socket",
            "subprocess",
            "os_system",
            "kill",
            "fork",
            "ctypes_load",
            "remove_outside",
        ):
            assert results[blocked].startswith("blocked"), (blocked, results[blocked])
        assert not outside.exists()
        assert "truth.json" in results["read_truth_link"]
        for works in ("import_new_module", "read_library_file", "numpy_works"):
            assert results[works] == "allowed", (works, results[works])
        assert results["secrets_in_env"] == ""
    finally:
        outside.unlink(missing_ok=True)


def job_make_pipe(*, progress):
    """Plant a FIFO in the job's own folder (one under an output's name would hold the harness mid-write)."""
    try:
        os.mkfifo("dims.json")
    except PermissionError as exc:
        return f"blocked: {exc}"
    return "made"


def test_a_job_cannot_make_a_pipe_or_device_node(tmp_path):
    from engine.sandbox.seccomp import seccomp_supported

    supported, why = seccomp_supported()
    if not supported:
        pytest.skip(f"no seccomp filter here: {why}")
    outcome = run_in_sandbox(job_make_pipe, timeout_s=30, workdir=tmp_path)
    assert outcome.ok, outcome.describe()
    assert outcome.value.startswith("blocked"), outcome.value
    assert not (tmp_path / "dims.json").exists()


ESCAPES = "\x1b[2J\x1b]8;;file:///etc/passwd\x1b\\x\u202etxt.exe\r"
"""A screen clear, a hidden hyperlink, a right-to-left override and a carriage return."""


def job_escapes_in_a_report(*, progress):
    from engine.harness import SampleReport
    from engine.records import VerdictKind

    progress({"note": ESCAPES})
    return {"report": SampleReport(crashed=ESCAPES, error_type="Boom"), "kind": VerdictKind.KEPT}


def job_escapes_in_an_exception(*, progress):
    raise ValueError(ESCAPES)


def test_text_from_a_child_reaches_the_parent_without_terminal_escapes(tmp_path):
    seen: list = []
    outcome = run_in_sandbox(
        job_escapes_in_a_report, timeout_s=30, workdir=tmp_path / "a", on_progress=seen.append, progress_interval_s=0
    )
    assert outcome.ok, outcome.describe()
    crashed = outcome.value["report"].crashed
    assert "\x1b" not in crashed and "\u202e" not in crashed and "\r" not in crashed and "[2J" in crashed
    assert seen and "\x1b" not in seen[-1]["note"]
    from engine.records import VerdictKind

    assert outcome.value["kind"] is VerdictKind.KEPT  # the engine's enums arrive as themselves
    failed = run_in_sandbox(job_escapes_in_an_exception, timeout_s=30, workdir=tmp_path / "b")
    shown = f"{failed.message}{failed.traceback}{failed.error}"
    assert not failed.ok and "txt.exe" in shown and "\x1b" not in shown and "\u202e" not in shown


def test_server_environment_drops_secrets_and_the_c_compiler():
    env = sandbox._server_environ(
        {"ANTHROPIC_API_KEY": "k", "GITHUB_TOKEN": "t", "HOME": "/h", "PYTENSOR_FLAGS": "floatX=float64"}, "/repo"
    )
    assert "ANTHROPIC_API_KEY" not in env and "GITHUB_TOKEN" not in env
    assert env["HOME"] == "/h"
    assert env["PYTENSOR_FLAGS"] == "floatX=float64,cxx="
    assert env["PYTHONPATH"].split(os.pathsep)[0] == "/repo"
    assert env["OMP_NUM_THREADS"] == "1"
    assert sandbox._server_environ({"OMP_NUM_THREADS": "2"}, "/repo")["OMP_NUM_THREADS"] == "2"  # the user's word


def job_openmp_threads(*, progress):
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    return _openmp_effective_n_threads()


def test_a_job_runs_one_openmp_thread_so_side_by_side_checks_do_not_oversubscribe(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    outcome = run_in_sandbox(job_openmp_threads, timeout_s=60, workdir=tmp_path)
    assert outcome.ok, outcome.message
    assert outcome.value == 1


def job_score_and_count_compiles(*, progress):
    import numba.core.event

    from engine.scorer import warm_sandbox

    with numba.core.event.install_recorder("numba:compile") as compiles:
        warm_sandbox()  # scores a set of draws end to end, trace included
    return len(compiles.buffer)


def test_a_forked_scorer_compiles_nothing_the_warm_server_already_compiled(tmp_path):
    # ArviZ's ESS compiles with Numba on first use (0.3 s of every verdict before the server
    # warmed it); a child forked after the warm-up inherits the compiled code.
    assert sandbox.server_status().failed_preload == ()
    outcome = run_in_sandbox(job_score_and_count_compiles, timeout_s=120, workdir=tmp_path)
    assert outcome.ok, outcome.message
    assert outcome.value == 0


def test_jobs_from_several_threads_run_side_by_side(tmp_path):
    outcomes: dict[int, object] = {}

    def worker(i: int) -> None:
        outcomes[i] = run_in_sandbox(job_value, i, timeout_s=30, workdir=tmp_path / str(i))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(o.value["doubled"] for o in outcomes.values()) == [0, 2, 4]
    assert len({o.value["pid"] for o in outcomes.values()}) == 3


def job_leaves_things(*, progress):
    Path("a.txt").write_text("a")
    Path("b.txt").write_text("b")
    Path("sub").mkdir()
    Path("sub", "c.txt").write_text("c")
    os.symlink("/etc/passwd", "trace.nc")
    os.symlink("/etc/passwd", "sub/link")
    try:
        os.mkfifo("pipe")  # refused where the seccomp filter runs; the collector skips one where it does not
    except PermissionError:
        pass
    return "done"


def test_only_regular_files_and_folders_come_back(tmp_path):
    outcome = run_in_sandbox(job_leaves_things, timeout_s=30, workdir=tmp_path, audit=False)
    assert outcome.ok, outcome.message + (outcome.traceback or "")
    names = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert names == ["a.txt", "b.txt", "sandbox.log", "sub", "sub/c.txt"]  # no symlink, no FIFO


def test_a_job_that_names_its_outputs_returns_only_those(tmp_path):
    outcome = run_in_sandbox(job_leaves_things, timeout_s=30, workdir=tmp_path, audit=False, outputs=("a.txt",))
    assert outcome.ok
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "sandbox.log"]


def test_a_planted_symlink_in_workdir_is_not_written_through(tmp_path):
    target = tmp_path / "outside.txt"
    target.write_text("keep me")
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "a.txt").symlink_to(target)
    outcome = run_in_sandbox(job_leaves_things, timeout_s=30, workdir=tmp_path / "work", audit=False)
    assert outcome.ok
    assert target.read_text() == "keep me"


def job_malformed_progress(*, progress):
    """A child that sends the engine's own progress type with a string where a float belongs."""
    from engine.progress import SamplingProgress

    forged = SamplingProgress.__new__(SamplingProgress)
    object.__setattr__(forged, "__dict__", {"phase": "sampling", "elapsed_s": "soon", "budget_s": 300.0})
    progress(forged)
    time.sleep(5)
    return 1


def job_malformed_result(*, progress):
    from engine.records import GateResult

    forged = GateResult.__new__(GateResult)
    object.__setattr__(forged, "__dict__", {"name": "rhat", "value": [1.0], "threshold": 1.01, "passed": True})
    return forged


def test_a_dataclass_with_fields_of_the_wrong_type_is_refused_at_the_border(tmp_path):
    seen: list = []
    outcome = run_in_sandbox(job_malformed_progress, timeout_s=30, workdir=tmp_path, on_progress=seen.append)
    assert outcome.crash is CrashKind.PROTOCOL and not seen, outcome
    assert "elapsed_s is str, not float" in outcome.message
    outcome = run_in_sandbox(job_malformed_result, timeout_s=30, workdir=tmp_path)
    assert outcome.crash is CrashKind.PROTOCOL and outcome.value is None, outcome
    assert "value is list, not float" in outcome.message
