"""The parent's side of one job: submit it, watch the child, enforce its limits, classify the crash.

:class:`_JobRun` runs in the thread that called :func:`~engine.sandbox.run_in_sandbox`. It
polls the child's resident set size every 0.1 s and kills it above its memory limit, stops
it on timeout or cancel (SIGTERM, then SIGKILL after
:data:`~engine.sandbox.settings.KILL_GRACE_S`), delivers progress messages (coalesced to one
per interval), refuses messages the restricted unpickler rejects, and turns whatever
happened into a :class:`~engine.sandbox.outcome.SandboxOutcome` whose message says what to do.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from engine.errors import SandboxError
from engine.sandbox.observe import _read_rss_mb, _read_tail
from engine.sandbox.outcome import CrashKind, Gate, SandboxOutcome, _CancelLike
from engine.sandbox.protocol import (
    CTL_EXIT,
    CTL_PID,
    ORDER_KILL,
    ORDER_TERM,
    _safe_loads,
    nonconformity,
    printable,
    unpack_control,
)
from engine.sandbox.server import _Server
from engine.sandbox.settings import _POLL_S, EXIT_GRACE_S, KILL_GRACE_S, LOG_NAME, MAX_RESULT_BYTES


class _JobRun:
    """The parent's side of one job: submit, watch, enforce limits, build the outcome."""

    def __init__(
        self,
        server: _Server,
        payload: bytes,
        t_call: float,
        workdir: Path,
        timeout_s: float,
        memory_mb: int,
        on_progress: Callable[[Any], None] | None,
        cancel: _CancelLike | None,
        progress_interval_s: float,
        start_timeout_s: float,
        gate: Gate | None = None,
    ) -> None:
        self.server = server
        self.payload = payload
        self.t_call = t_call
        self.workdir = workdir
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.on_progress = on_progress
        self.cancel = cancel
        self.interval = progress_interval_s
        self.start_timeout_s = start_timeout_s
        self.gate = gate
        self.pid: int | None = None  # in the sandbox's PID namespace
        self.host_pid: int | None = None  # the same process as the host sees it
        self.exit_code: int | None = None
        self.server_lost = False
        self.started_at: float | None = None
        self.start_latency: float | None = None
        self.result: tuple[str, Any] | None = None  # ("result", value) or ("error", info)
        self.result_at: float | None = None
        self.stop_reason: CrashKind | None = None
        self.term_at: float | None = None
        self.killed = False
        self.peak_rss_mb: float | None = None
        self.protocol_error: str | None = None
        self.pending: Any = None
        self.last_delivery = 0.0

    # -- main loop

    def run(self) -> SandboxOutcome:
        self.server.ensure_started()
        if not self.server.wait_ready(self.start_timeout_s, cancel=self.cancel):
            if self.cancel is not None and self.cancel.is_set():
                return self._outcome(CrashKind.CANCELLED, "cancelled before the sandbox server was ready")
            if self.server._dead.is_set():
                raise SandboxError(
                    "the sandbox server stopped while starting; its log says:\n" + self.server.log_tail()
                )
            raise SandboxError(f"the sandbox server was not ready after {self.start_timeout_s:g} s; try again")
        channels = self.server.submit(self.payload, self._keep_going)
        if channels is None:
            return self._build_outcome()
        ctl, msg = channels
        self.ctl, self.msg = ctl, msg
        msg_open = True
        ctl_open = True
        try:
            while True:
                self._enforce_limits()
                if self.pid is None and self.stop_reason is not None:
                    break  # not forked yet (the server is busy): closing the channel withdraws the job
                if not ctl_open and not msg_open:
                    break
                if not ctl_open and self.exit_code is None:
                    break  # server lost: the child died with it (PR_SET_PDEATHSIG)
                if self.exit_code is not None and not msg_open:
                    break
                ready = wait([c for c, o in ((msg, msg_open), (ctl, ctl_open)) if o], timeout=self._wait_time())
                if msg in ready:
                    msg_open = self._drain_messages(msg)
                if ctl in ready:
                    ctl_open = self._read_control(ctl)
                    if self.exit_code is not None and msg_open:
                        # The child is gone; take what it left in the pipe, then stop.
                        while msg_open and msg.poll(0):
                            msg_open = self._drain_messages(msg)
                        msg_open = False
                self._deliver_pending(force=False)
            self._deliver_pending(force=True)
        finally:
            if self.exit_code is None and ctl_open and self.pid is not None:
                self._signal(signal.SIGKILL)
            ctl.close()
            msg.close()
        return self._build_outcome()

    def _keep_going(self) -> bool:
        """While handing the job over: False once cancelled or past the start timeout."""
        if self.cancel is not None and self.cancel.is_set():
            self.stop_reason = CrashKind.CANCELLED
        elif time.monotonic() - self.t_call > self.start_timeout_s:
            self.stop_reason = CrashKind.TIMEOUT
        return self.stop_reason is None

    def _wait_time(self) -> float:
        waits = [_POLL_S]
        if self.pending is not None and self.interval > 0:
            waits.append(max(0.0, self.last_delivery + self.interval - time.monotonic()))
        return min(waits)

    def _enforce_limits(self) -> None:
        now = time.monotonic()
        if self.pid is None or self.exit_code is not None:
            if self.pid is None and self.cancel is not None and self.cancel.is_set() and self.stop_reason is None:
                self.stop_reason = CrashKind.CANCELLED  # killed as soon as its pid arrives
            if self.pid is None and now - self.t_call > self.start_timeout_s and self.stop_reason is None:
                self.stop_reason = CrashKind.TIMEOUT
            return
        if self.result is not None:
            if self.result_at is not None and now - self.result_at > EXIT_GRACE_S and not self.killed:
                self._signal(signal.SIGKILL)
            return
        rss = _read_rss_mb(self.host_pid) if self.host_pid is not None else None
        if rss is not None:
            self.peak_rss_mb = max(self.peak_rss_mb or 0.0, rss)
            if rss > self.memory_mb and not self.killed:
                self.stop_reason = self.stop_reason or CrashKind.MEMORY
                self._signal(signal.SIGKILL)
                return
        if self.stop_reason is None:
            if self.cancel is not None and self.cancel.is_set():
                self.stop_reason = CrashKind.CANCELLED
            elif self.started_at is not None and self._past_timeout(now, self.started_at):
                self.stop_reason = CrashKind.TIMEOUT
            elif self.started_at is None and now - self.t_call > self.start_timeout_s:
                self.stop_reason = CrashKind.TIMEOUT
        if self.stop_reason is not None and self.term_at is None:
            self.term_at = now
            self._signal(signal.SIGTERM)
        elif self.term_at is not None and now - self.term_at > KILL_GRACE_S and not self.killed:
            self._signal(signal.SIGKILL)

    def _past_timeout(self, now: float, started_at: float) -> bool:
        """The run's clock: from the start, or for a gated job from the opening (its wait is bounded apart)."""
        gate = self.gate
        if gate is None:
            return now - started_at > self.timeout_s
        if gate.opened_at is None:
            return now - started_at > gate.max_wait_s
        return now - max(started_at, gate.opened_at) > self.timeout_s

    def _signal(self, sig: signal.Signals) -> None:
        if sig == signal.SIGKILL:
            self.killed = True
        try:
            self.ctl.send_bytes(ORDER_KILL if sig == signal.SIGKILL else ORDER_TERM)
        except OSError:  # the server is gone; signal the group ourselves
            if self.host_pid is not None:
                try:
                    os.killpg(self.host_pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass

    def _read_control(self, ctl: Connection) -> bool:
        try:
            data = ctl.recv_bytes(64)
        except (EOFError, OSError):
            if self.exit_code is None:
                self.server_lost = True
            return False
        kind, value = unpack_control(data)
        if kind == CTL_PID:
            self.pid = value
            self.host_pid = self.server.host_pid(value)
            if self.stop_reason is not None:  # cancelled or timed out while it was being forked
                self._signal(signal.SIGKILL)
        elif kind == CTL_EXIT:
            self.exit_code = value
            return False
        return True

    def _drain_messages(self, msg: Connection) -> bool:
        """Read what the child sent (bounded per call, so a flood cannot starve the limits)."""
        for _ in range(1000):
            try:
                data = msg.recv_bytes(MAX_RESULT_BYTES + 1024)
            except (EOFError, OSError) as exc:
                if isinstance(exc, OSError) and "bad message length" in str(exc) and self.protocol_error is None:
                    self.protocol_error = f"a message longer than {MAX_RESULT_BYTES // 2**20} MiB"
                    self.stop_reason = self.stop_reason or CrashKind.PROTOCOL
                    self._signal(signal.SIGKILL)
                return False
            self._handle(data)
            if not msg.poll(0):
                break
        return True

    def _handle(self, data: bytes) -> None:
        try:
            kind, body = _safe_loads(data)
        except Exception as exc:  # noqa: BLE001 - anything the child sends is untrusted
            if self.protocol_error is None:
                self.protocol_error = str(exc)
            if self.result is None and self.stop_reason is None:
                self.stop_reason = CrashKind.PROTOCOL
                self._signal(signal.SIGKILL)
            return
        if kind == "started" and self.started_at is None:
            self.started_at = time.monotonic()
            self.start_latency = self.started_at - self.t_call
        elif kind in ("progress", "result") and (problem := _nonconformity(body, kind)):
            # A dataclass whose fields do not match their types: refuse it at the border.
            if self.protocol_error is None:
                self.protocol_error = problem
            if self.result is None and self.stop_reason is None:
                self.stop_reason = CrashKind.PROTOCOL
                self._signal(signal.SIGKILL)
        elif kind == "progress" and (isinstance(body, dict) or dataclasses.is_dataclass(body)):
            self.pending = printable(body)
            if self.interval <= 0:
                self._deliver_pending(force=True)  # every message, in order
        elif kind in ("result", "error") and self.result is None:
            self.result = (kind, printable(body))
            self.result_at = time.monotonic()

    def _deliver_pending(self, force: bool) -> None:
        if self.pending is None:
            return
        if self.on_progress is None:
            # Nobody listens: drop it. Kept pending, it would make _wait_time 0 for the rest of
            # the job and this loop spin a whole core beside the child (headless runs sampled
            # at half speed on two cores).
            self.pending = None
            return
        now = time.monotonic()
        if force or self.interval <= 0 or now - self.last_delivery >= self.interval:
            message, self.pending = self.pending, None
            self.last_delivery = now
            try:
                self.on_progress(message)
            except Exception:  # noqa: BLE001 - progress is advisory: a callback's failure must not end the job
                pass

    # -- outcome

    def _build_outcome(self) -> SandboxOutcome:
        code = self.exit_code
        if self.result is not None:
            kind, body = self.result
            if kind == "result":
                return self._outcome(None, "", value=body)
            info = body if isinstance(body, dict) else {}
            error_type = str(info.get("type", "Exception"))
            error = str(info.get("message", ""))
            if info.get("memory"):
                return self._outcome(
                    CrashKind.MEMORY,
                    f"the job ran out of memory ({error_type}: {error}) under its {self.memory_mb} MB limit; "
                    "make the model smaller or raise the memory limit",
                    error_type=error_type,
                    error=error,
                    traceback=info.get("traceback"),
                )
            where = info.get("where", "")
            return self._outcome(
                CrashKind.EXCEPTION,
                f"{where}raised {error_type}: {_one_line(error)}; see the traceback",
                error_type=error_type,
                error=error,
                traceback=info.get("traceback"),
            )
        reason = self.stop_reason
        if reason is CrashKind.CANCELLED:
            return self._outcome(reason, "cancelled: the job was stopped before it finished; nothing it did was kept")
        if reason is CrashKind.TIMEOUT:
            if self.started_at is None:
                return self._outcome(
                    reason,
                    f"the job did not start within {self.start_timeout_s:g} s; the sandbox server may be overloaded",
                )
            return self._outcome(
                reason,
                f"the job ran longer than its {self.timeout_s:g} s budget and was stopped; "
                "look for loops that never end or work that grows with the data, or raise the time budget",
            )
        if reason is CrashKind.MEMORY:
            peak = f"{self.peak_rss_mb:.0f} MB" if self.peak_rss_mb else "more"
            return self._outcome(
                reason,
                f"the job used {peak}, over its {self.memory_mb} MB memory limit, and was stopped; "
                "make the model smaller (fewer parameters, no large intermediate arrays) or raise the limit",
            )
        if reason is CrashKind.PROTOCOL:
            return self._outcome(
                reason,
                f"the job sent a message the runner refuses ({self.protocol_error}); "
                "return small plain values and write large results to files in the work folder",
            )
        if self.server_lost:
            return self._outcome(
                CrashKind.PROTOCOL,
                "the sandbox server stopped while the job ran, taking the job with it; run it again "
                "(the server restarts by itself)",
            )
        if code is not None and code < 0:
            return self._outcome(CrashKind.SIGNAL, _signal_message(-code, self.peak_rss_mb, self.memory_mb))
        return self._outcome(
            CrashKind.EXIT,
            f"the job's process exited with status {code} without returning a result "
            "(sys.exit or os._exit in the code?); remove the exit call",
        )

    def _outcome(self, crash: CrashKind | None, message: str, value: Any = None, **fields: Any) -> SandboxOutcome:
        log = self.workdir / LOG_NAME
        return SandboxOutcome(
            ok=crash is None,
            value=value,
            crash=crash,
            message=message,
            exit_code=self.exit_code,
            seconds=time.monotonic() - self.t_call,
            start_latency_s=self.start_latency,
            peak_rss_mb=self.peak_rss_mb,
            log_path=str(log) if log.exists() else None,
            log_tail="" if crash is None else printable(_read_tail(log)),
            **fields,
        )


def _signal_message(signum: int, peak_rss_mb: float | None, memory_mb: int) -> str:
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    near_limit = peak_rss_mb is not None and peak_rss_mb > 0.8 * memory_mb
    what = {
        "SIGSEGV": "a segmentation fault: compiled code (a C extension, ctypes or Numba) read invalid memory",
        "SIGBUS": "a bus error in compiled code",
        "SIGABRT": "an abort in compiled code, often an allocation that failed",
        "SIGFPE": "a floating-point exception in compiled code",
        "SIGILL": "an illegal instruction in compiled code",
        "SIGKILL": "SIGKILL from outside the runner (the system's out-of-memory killer, or a person)",
        "SIGXFSZ": "the file size limit: it wrote a file larger than allowed",
        "SIGXCPU": "the CPU time limit",
        "SIGTERM": "SIGTERM from outside the runner",
    }.get(name, "a signal")
    advice = (
        "it was close to its memory limit, so raise the limit or shrink the model"
        if near_limit
        else "see the log tail; simplify the model code around the last step it logged"
    )
    return f"the job's process was killed by {name} ({what}); {advice}"


def _one_line(text: str, limit: int = 300) -> str:
    """The message on one line: a message that lists its issues below a heading keeps them (QA round 13)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _nonconformity(body: Any, kind: str) -> str | None:
    """:func:`nonconformity`, with a structure nested past Python's recursion limit refused too."""
    try:
        return nonconformity(body, where=f"the {kind}")
    except RecursionError:
        return f"the {kind} is nested too deeply to check"
