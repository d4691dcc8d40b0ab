"""The forked child of one job: leave the server's state behind, apply the limits, run the function.

In order: drop the server's descriptors and signal handlers, take its own process group and
die with the server (``PR_SET_PDEATHSIG``); move into the work folder and send stdout and
stderr to its log (faulthandler writes there too); set ``RLIMIT_AS``, ``RLIMIT_FSIZE``, no
core dumps and the niceness (:func:`_apply_limits`); unpickle the call; install the audit hook
(:mod:`engine.sandbox.audit`); run the function with a ``progress`` sender; send the result or
the error. These limits are defence in depth, not isolation: see :mod:`engine.sandbox`.
"""

from __future__ import annotations

import dataclasses
import os
import selectors
import signal
import sys
import threading
import traceback as tb_module
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from typing import Any

from engine.sandbox.audit import install_audit_hook
from engine.sandbox.cache import use_private_cache
from engine.sandbox.protocol import decode_call, decode_job, encode_message
from engine.sandbox.seccomp import install_seccomp
from engine.sandbox.settings import ADDRESS_SPACE_SLACK_MB, LOG_NAME, MAX_PROGRESS_BYTES, MAX_RESULT_BYTES


def _child_after_fork(
    selector: selectors.BaseSelector,
    close_fds: list[int],
    prctl: Callable[..., int] | None,
    payload: bytes,
    msg_fd: int,
) -> None:
    """In the freshly forked child: drop the server's state, then run the job; never returns."""
    code = 70
    try:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        selector.close()
        for fd in close_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        os.setpgid(0, 0)
        if prctl is not None:
            prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: die with the server
        conn = Connection(msg_fd, readable=False)
        code = _run_job(payload, conn)
    except BaseException:  # noqa: BLE001 - the child must never return into the server loop
        try:
            tb_module.print_exc()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


class _ProgressSender:
    """The ``progress`` callable a job receives: sends small dicts to the parent."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def __call__(self, message: Any) -> None:
        if isinstance(message, Mapping):
            message = dict(message)
        elif not (dataclasses.is_dataclass(message) and not isinstance(message, type)):
            raise TypeError(f"progress() takes a dict of plain values or a dataclass, not {type(message).__name__}")
        data = encode_message("progress", message)
        if len(data) > MAX_PROGRESS_BYTES:
            raise ValueError(f"a progress message may be at most {MAX_PROGRESS_BYTES} bytes, this one is {len(data)}")
        with self._lock:
            self._conn.send_bytes(data)


def _private_tempdir(workdir: str) -> None:
    """Point the job's temp files into its work folder, so the shared system temp dir stays out of reach."""
    import tempfile

    private = os.path.join(workdir, "tmp")
    os.makedirs(private, exist_ok=True)
    os.environ["TMPDIR"] = private
    tempfile.tempdir = private


def _run_job(payload: bytes, conn: Connection) -> int:
    header, call = decode_job(payload)
    workdir = header["workdir"]
    os.chdir(workdir)
    log_fd = os.open(os.path.join(workdir, LOG_NAME), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    import faulthandler

    faulthandler.enable(file=sys.stderr)
    # On SIGTERM (timeout, cancel) dump every thread's stack to the log, then die as usual:
    # the caller learns where an endless loop was.
    faulthandler.register(signal.SIGTERM, file=sys.stderr, all_threads=True, chain=True)
    sys.path[:] = header["sys_path"]
    sys.dont_write_bytecode = True
    _apply_limits(header)
    use_private_cache(workdir)
    install_seccomp()

    def send(kind: str, body: Any) -> None:
        conn.send_bytes(encode_message(kind, body))

    try:
        fn, args, kwargs = decode_call(call)
    except BaseException as exc:  # noqa: BLE001
        send("error", _error_info(exc, where="loading the job "))
        return 0
    _private_tempdir(workdir)
    if header["audit"]:
        install_audit_hook(workdir)
    send("started", {"pid": os.getpid()})
    try:
        value = fn(*args, **kwargs, progress=_ProgressSender(conn))
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are reported too
        send("error", _error_info(exc))
        return 0
    try:
        data = encode_message("result", value)
    except Exception as exc:  # noqa: BLE001
        send("error", _error_info(exc, where="pickling the result "))
        return 0
    if len(data) > MAX_RESULT_BYTES:
        error = ValueError(
            f"the result is {len(data) / 2**20:.1f} MiB, over the {MAX_RESULT_BYTES // 2**20} MiB limit; "
            "write it to a file in the work folder and return the path"
        )
        send("error", _error_info(error, where="returning the result "))
        return 0
    conn.send_bytes(data)
    return 0


def _error_info(exc: BaseException, where: str = "") -> dict[str, Any]:
    text = "".join(tb_module.format_exception(exc))
    lines = text.splitlines()
    if len(lines) > 60:
        lines = lines[:10] + ["  …"] + lines[-48:]
    return {
        "type": type(exc).__name__,
        "message": str(exc)[:4000],
        "traceback": "\n".join(lines)[:16000],
        "memory": isinstance(exc, MemoryError),
        "where": where,
    }


def _apply_limits(header: Mapping[str, Any]) -> None:
    import resource

    vm_mb = 0.0
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmSize:"):
                    vm_mb = int(line.split()[1]) / 1024
    except OSError:
        pass
    address_space = int((vm_mb + header["memory_mb"] + ADDRESS_SPACE_SLACK_MB) * 2**20)
    for limit, value in (
        (resource.RLIMIT_AS, address_space),
        (resource.RLIMIT_FSIZE, int(header["max_file_mb"]) * 2**20),
        (resource.RLIMIT_CORE, 0),
    ):
        _soft, hard = resource.getrlimit(limit)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(limit, (value, value))
    if header["nice"]:
        os.nice(header["nice"])
