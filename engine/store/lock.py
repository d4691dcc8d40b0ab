"""The session's write lock: one writing process per session, freed when that process dies.

An ``fcntl.flock`` on ``.workbench/lock`` is held for as long as a session is open for
writing. The kernel drops it when the holder exits for any reason (SIGKILL included), so
there is never a stale lock to clean up by hand. The file holds the holder's pid so that
a second writer can say who is in the way.

A flock belongs to the open file description, which a forked child shares: a sandbox
child forked while the lock is held would keep the session locked after its parent was
killed. The descriptor is therefore closed in every forked child (``os.register_at_fork``);
closing a shared descriptor in the child never releases the parent's lock. The git commands
a writer runs are the exception: they inherit it on purpose (``pass_fds``), so a ``git
update-ref`` that outlives a killed writer by a few milliseconds still counts as the writer,
and the next opener waits for it instead of recovering under its feet.
"""

from __future__ import annotations

import fcntl
import os
import time
import weakref
from pathlib import Path

from engine.errors import SessionLockedError
from engine.store.files import pid_alive

ORPHAN_WAIT_S = 10.0
"""How long to wait for a dead writer's last git command to finish and free the lock."""

_HELD: weakref.WeakSet[SessionLock] = weakref.WeakSet()


def _close_in_child() -> None:
    for lock in list(_HELD):
        lock._forget_in_child()


os.register_at_fork(after_in_child=_close_in_child)


class SessionLock:
    """An exclusive, non-blocking ``flock`` on one file.

    Parameters
    ----------
    path
        The lock file (created if missing); conventionally ``<session>/.workbench/lock``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    @property
    def fd(self) -> int | None:
        """The locked descriptor, for git children to inherit (``pass_fds``) while they write."""
        return self._fd

    def acquire(self, *, orphan_wait_s: float = ORPHAN_WAIT_S) -> None:
        """Take the lock or raise; waits only while the holder is a dead writer's leftover child.

        Git commands a writer runs inherit the lock, so a ``git update-ref`` still finishing
        after its parent was killed keeps the session locked until it exits (milliseconds);
        that case is waited out, up to ``orphan_wait_s``.

        Parameters
        ----------
        orphan_wait_s
            How long to wait while the holder's pid is unreadable or no longer alive.

        Raises
        ------
        SessionLockedError
            Another live process (or another open handle in this one) holds it; ``.pid``
            names the holder when it could be read.
        """
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + orphan_wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pid = _read_pid(fd)
                orphaned = pid is None or not pid_alive(pid)
                if orphaned and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                os.close(fd)
                session = self.path.parent.parent
                who = f"process {pid}" if pid else "another process"
                me = " (this process)" if pid == os.getpid() else ""
                err = SessionLockedError(
                    f"session {session} is being written by {who}{me}; wait for it to finish, stop it, "
                    "or open the session read-only"
                )
                err.pid = pid  # type: ignore[attr-defined]
                raise err from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        _HELD.add(self)

    def release(self) -> None:
        """Give the lock back (idempotent)."""
        fd, self._fd = self._fd, None
        _HELD.discard(self)
        if fd is None:
            return
        os.ftruncate(fd, 0)  # so a later reader sees no holder
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def _forget_in_child(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # drops the child's reference only; the parent keeps its lock

    def __enter__(self) -> SessionLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None


def lock_holder(path: Path) -> int | None:
    """The pid holding the lock at ``path`` (-1 if unreadable), or None when it is free.

    A cheap probe for read-only viewers; it takes a shared lock for an instant and writes
    nothing.

    Parameters
    ----------
    path
        The lock file (``<session>/.workbench/lock``).

    Returns
    -------
    int or None
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_pid(fd) or -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
