"""The warm server process: preload, then fork one fresh child per job; never returns.

Started by :mod:`engine.sandbox.server` as ``python -c "from engine.sandbox.zygote import
_server_main; _server_main()"``. It imports the preload modules once, runs their
``warm_sandbox()`` hooks, freezes the garbage collector so forks share those pages, and then
serves commands: each job is forked (:func:`engine.sandbox.child._child_after_fork`), put in
its own process group, and reaped; its exit code goes back to the parent. A requested JIT
warm-up runs only once the server has been idle for :data:`~engine.sandbox.settings.JIT_IDLE_S`.
When the parent's command socket closes, every job is killed and the server exits.
"""

from __future__ import annotations

import gc
import os
import pickle
import selectors
import signal
import socket
import sys
import time
import traceback as tb_module
from collections.abc import Callable
from multiprocessing.connection import Connection

from engine.sandbox.child import _child_after_fork
from engine.sandbox.protocol import CMD_JIT, CMD_JOB, CTL_EXIT, CTL_PID, ORDER_KILL, pack_control
from engine.sandbox.settings import JIT_IDLE_S


def _server_main() -> None:
    """Entry point of the warm server (``python -c`` in a new session); never returns."""
    cmd_fd = int(sys.argv[1])
    preload = [m for m in sys.argv[2].split(",") if m]
    own_dir = sys.argv[3]
    cmd = socket.socket(fileno=cmd_fd)
    announce = Connection(os.dup(cmd_fd), readable=False)
    jobs: dict[int, Connection] = {}  # pid -> control connection to the parent

    def finish() -> None:
        """The parent is gone: take every job with it, remove the server's folder, exit."""
        for pid in list(jobs):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        for name in ("server.log",):
            try:
                os.unlink(os.path.join(own_dir, name))
            except OSError:
                pass
        try:
            os.rmdir(own_dir)
        except OSError:
            pass
        os._exit(0)

    t0 = time.monotonic()
    failed = _preload(preload)
    prctl = _libc_prctl()
    if prctl is not None:
        prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: jobs cannot read or trace the server through /proc
    try:
        from engine.sandbox.cache import disable_disk_cache

        disable_disk_cache()  # the server never reads a cache file a job could have written
    except ImportError:
        pass
    _seal_home()
    gc.freeze()  # keep the collector off the preloaded objects, so forks share their pages
    print(f"sandbox server {os.getpid()} ready in {time.monotonic() - t0:.1f} s; failed preloads: {failed}", flush=True)
    try:
        announce.send_bytes(pickle.dumps({"event": "ready", "seconds": time.monotonic() - t0, "failed": failed}))
    except OSError:
        finish()

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    selector = selectors.DefaultSelector()
    selector.register(cmd, selectors.EVENT_READ, "cmd")
    selector.register(wake_r, selectors.EVENT_READ, "wake")
    server_fds = [cmd_fd, announce.fileno(), wake_r, wake_w]
    jit_pending = False
    jit_after = 0.0

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = jobs.pop(pid, None)
            if conn is not None:
                selector.unregister(conn)
                try:
                    conn.send_bytes(pack_control(CTL_EXIT, os.waitstatus_to_exitcode(status)))
                except OSError:
                    pass
                conn.close()

    while True:
        wait_s = min(1.0, max(0.0, jit_after - time.monotonic())) if jit_pending else 1.0
        for key, _ in selector.select(timeout=wait_s):
            if key.data == "wake":
                try:
                    os.read(wake_r, 4096)
                except BlockingIOError:
                    pass
            elif key.data == "cmd":
                try:
                    data, fds, _flags, _addr = socket.recv_fds(cmd, 1, 4)
                except OSError:
                    data, fds = b"", []
                if not data:
                    finish()
                jit_after = time.monotonic() + JIT_IDLE_S  # let the caller's first jobs in first
                if data == CMD_JIT:
                    jit_pending = True
                elif data == CMD_JOB and len(fds) == 2:
                    ctl = Connection(fds[0])
                    try:
                        payload = ctl.recv_bytes()
                        withdrawn = ctl.poll(0)  # the parent sends nothing before the pid: this is EOF
                    except (EOFError, OSError):
                        withdrawn = True
                    if withdrawn:
                        ctl.close()
                        os.close(fds[1])
                        continue
                    others = [c.fileno() for c in jobs.values()]
                    pid = os.fork()
                    if pid == 0:
                        _child_after_fork(selector, server_fds + others + [fds[0]], prctl, payload, fds[1])
                    os.close(fds[1])
                    try:
                        os.setpgid(pid, pid)
                    except OSError:
                        pass
                    jobs[pid] = ctl
                    selector.register(ctl, selectors.EVENT_READ, pid)
                    try:
                        ctl.send_bytes(pack_control(CTL_PID, pid))
                    except OSError:
                        pass
                else:
                    for fd in fds:
                        os.close(fd)
            else:  # a parent's command for one job
                pid = key.data
                conn = jobs.get(pid)
                if conn is None:
                    continue
                try:
                    order = conn.recv_bytes(16)
                except (EOFError, OSError):
                    order = ORDER_KILL  # the parent stopped watching: never leave an orphan running
                    selector.unregister(conn)
                    jobs.pop(pid, None)
                    conn.close()
                sig = signal.SIGKILL if order == ORDER_KILL else signal.SIGTERM
                try:
                    os.killpg(pid, sig)
                except OSError:
                    pass
        reap()
        if jit_pending and time.monotonic() >= jit_after and not selector.select(timeout=0):
            # Idle: warm the JIT now. Jobs that arrive meanwhile wait for it to finish.
            jit_pending = False
            t1 = time.monotonic()
            _warm_jit()
            gc.freeze()
            print(f"JIT warm-up took {time.monotonic() - t1:.1f} s", flush=True)
            try:
                announce.send_bytes(pickle.dumps({"event": "jit", "seconds": time.monotonic() - t1}))
            except OSError:
                finish()


def _preload(modules: list[str]) -> list[str]:
    """Import the preload modules and run their ``warm_sandbox()``; return what failed."""
    import importlib

    failed = []
    for name in modules:
        t0 = time.monotonic()
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - a missing optional module must not stop the server
            failed.append(f"{name}: {exc}")
            continue
        t1 = time.monotonic()
        warm = getattr(module, "warm_sandbox", None)
        if callable(warm):
            try:
                warm()
            except Exception as exc:  # noqa: BLE001
                failed.append(f"{name}.warm_sandbox: {exc}")
        print(f"preload {name}: import {t1 - t0:.2f} s, warm {time.monotonic() - t1:.2f} s", flush=True)
    t0 = time.monotonic()
    try:  # load llvmlite's library now: a ctypes load after the audit hook would be refused
        import numba

        numba.njit(lambda x: x + 1)(1)
    except Exception as exc:  # noqa: BLE001
        failed.append(f"numba: {exc}")
    print(f"preload numba JIT: {time.monotonic() - t0:.2f} s", flush=True)
    sys.stdout.flush()
    return failed


def _seal_home() -> None:
    """Make the server's home read-only before any job exists (jobs cannot chmod: see seccomp).

    ArviZ and Matplotlib write their caches there while the server imports them; once sealed,
    no job can leave a file there that a later job or the server would read.
    """
    home = os.environ.get("WORKBENCH_SANDBOX_HOME")
    if not home:
        return
    for folder, dirs, files in os.walk(home, topdown=False):
        for name in files:
            try:
                os.chmod(os.path.join(folder, name), 0o444, follow_symlinks=False)
            except OSError:
                pass
        for name in dirs:
            try:
                os.chmod(os.path.join(folder, name), 0o555)
            except OSError:
                pass
    os.chmod(home, 0o555)


def _warm_jit() -> None:
    """Compile a tiny model with nutpie so Numba's compiler is warm in every forked job."""
    try:
        import numpy as np
        import nutpie
        import pymc as pm

        x = np.linspace(-1, 1, 8)
        with pm.Model(coords={"obs": np.arange(8), "k": [0, 1]}) as model:
            t = pm.Data("t", (x > 0).astype(float), dims="obs")
            beta = pm.Normal("beta", 0, 1, dims="k")
            sigma = pm.HalfNormal("sigma", 1)
            mu = pm.Deterministic("mu", beta[0] + beta[1] * t + pm.math.dot(np.c_[x, x**2], beta), dims="obs")
            pm.Normal("y", mu, sigma, observed=x, dims="obs")
        nutpie.compile_pymc_model(model, backend="numba")
    except Exception:  # noqa: BLE001 - warm-up is an optimisation; log and carry on
        tb_module.print_exc()
    sys.stdout.flush()
    sys.stderr.flush()


def _libc_prctl() -> Callable[..., int] | None:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
