"""The audit hook a job's child installs right before the function runs.

It refuses, with :class:`SandboxViolation`: writes (and removes, renames, links, chmod)
outside the work folder (which holds the job's own temp dir) and the PyTensor and Numba caches; opening any
``truth.json``, even through a symlink; reading other processes' ``/proc`` entries; sockets
and DNS look-ups; subprocesses, ``exec``, ``fork`` and ``kill``; loading shared libraries
with ctypes, or ctypes symbols that spawn, open or connect; SQLite files. Reading library
files keeps working. Audit hooks see only what Python itself does: a C extension that opens
files on its own is invisible to them, and code that tampers with the interpreter (ctypes
memory writes, patching the modules the hook uses) can defeat them. This is one layer behind
the static guard, not a container.
"""

from __future__ import annotations

import os
import sys
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_BLOCKED_ALWAYS = frozenset(
    {
        "socket.__new__",
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "os.kill",
        "os.killpg",
        "signal.pthread_kill",
        "os.symlink",
        "os.link",
        "ctypes.dlopen",
        "pty.spawn",
    }
)
_PATH_WRITE_EVENTS = {  # event -> indices of the path arguments it writes
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.rename": (0, 1),
    "os.truncate": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.utime": (0,),
    "os.mkfifo": (0,),
    "os.mknod": (0,),
    "os.setxattr": (0,),
    "os.removexattr": (0,),
    "shutil.rmtree": (0,),
    "shutil.chown": (0,),
}
_DANGEROUS_SYMBOLS = frozenset(
    {
        "system",
        "popen",
        "fork",
        "vfork",
        "execv",
        "execve",
        "execvp",
        "execl",
        "execlp",
        "posix_spawn",
        "kill",
        "open",
        "openat",
        "fopen",
        "socket",
        "connect",
        "dlopen",
    }
)
HIDDEN_FILE_NAMES = frozenset({"truth.json"})
"""Files no job may open, in any mode: the ground truth of semi-synthetic problems."""


class HookRefused(RuntimeError):
    """Raised on ``sys.addaudithook`` in a child: Python then leaves the new hook out (it must be a RuntimeError).

    An audit hook sees every open, import and frame the harness touches after the model's code
    has run; one added by model code could rewrite the arrays on their way to disk."""


class SandboxViolation(PermissionError):
    """Raised in the child when the audit hook refuses an action (a PermissionError, so
    libraries that tolerate an unwritable cache keep working)."""


def allowed_write_roots(workdir: str) -> tuple[str, ...]:
    """Folders a job may write to: its work folder (its temp dir lives there) and the compiler caches.

    Parameters
    ----------
    workdir
        The job's work folder.

    Returns
    -------
    tuple of str
        Real paths, without duplicates: ``workdir``, ``/dev/null``, ``NUMBA_CACHE_DIR`` when set,
        and PyTensor's compile folders when PyTensor imports.
    """
    roots = [workdir, "/dev/null"]
    cache = os.environ.get("NUMBA_CACHE_DIR")
    if cache:
        roots.append(cache)
    try:
        import pytensor

        roots.append(str(pytensor.config.base_compiledir))
        roots.append(str(pytensor.config.compiledir))
    except Exception:  # noqa: BLE001 - PyTensor is optional for generic jobs
        pass
    return tuple(dict.fromkeys(os.path.realpath(r) for r in roots))


def install_audit_hook(workdir: str) -> None:
    """Install the sandbox's audit hook in this process (irreversible; children only).

    Parameters
    ----------
    workdir
        The job's work folder: writes are allowed there (the job's temp dir is inside it) and in the
        PyTensor and Numba caches, nowhere else.
    """
    roots = allowed_write_roots(workdir)
    realpath, basename, fsdecode = os.path.realpath, os.path.basename, os.fsdecode
    sep = os.sep
    own_proc = f"/proc/{os.getpid()}"
    blocked_always, path_events, hidden = _BLOCKED_ALWAYS, _PATH_WRITE_EVENTS, HIDDEN_FILE_NAMES
    write_flags, dangerous = _WRITE_FLAGS, _DANGEROUS_SYMBOLS
    violation = SandboxViolation
    watched = blocked_always | set(path_events) | {"open", "ctypes.dlsym", "sqlite3.connect", "sys.addaudithook"}

    def resolve(path: Any) -> str | None:
        if isinstance(path, int):
            return None  # an already open descriptor
        try:
            return realpath(fsdecode(path))
        except (TypeError, ValueError):
            return None

    def writable(real: str) -> bool:
        return any(real == root or real.startswith(root + sep) for root in roots)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event not in watched:
            return
        if event == "sys.addaudithook":
            raise HookRefused("sandbox: adding an audit hook is not allowed")
        if event == "open":
            path, _mode, flags = args
            real = resolve(path)
            if real is None:
                return
            if basename(real) in hidden or (not isinstance(path, int) and basename(fsdecode(path)) in hidden):
                raise violation(f"sandbox: {basename(real)} holds the ground truth and may not be opened")
            if (
                real.startswith("/proc/")
                and real[6:7].isdigit()
                and not (real == own_proc or real.startswith(own_proc + "/"))
            ):
                raise violation("sandbox: reading other processes is not allowed")
            if isinstance(flags, int) and flags & write_flags and not writable(real):
                raise violation(f"sandbox: writing outside the work folder is not allowed: {real}")
            return
        if event in blocked_always:
            raise violation(f"sandbox: {event} is not allowed in model code")
        if event == "ctypes.dlsym":
            name = args[1] if len(args) > 1 else None
            if isinstance(name, str) and name in dangerous:
                raise violation(f"sandbox: ctypes access to {name} is not allowed")
            return
        if event == "sqlite3.connect":
            database = args[0] if args else None
            if database not in (":memory:", b":memory:", ""):
                raise violation("sandbox: opening database files is not allowed")
            return
        for index in path_events[event]:
            real = resolve(args[index]) if len(args) > index else None
            if real is not None and (not writable(real) or basename(real) in hidden):
                raise violation(f"sandbox: {event} outside the work folder is not allowed: {real}")

    sys.addaudithook(hook)
