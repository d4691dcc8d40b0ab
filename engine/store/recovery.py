"""Cleaning up after a writer that was killed: git locks, half-written iterations.

Called only by a writable open, after it took the session lock, so no writer of ours can
still be running (its git children inherit the lock, see :mod:`engine.store.lock`).
Each function returns what it did, in words, for :attr:`Session.recovered`.
"""

from __future__ import annotations

import shutil
import time
from datetime import datetime
from pathlib import Path

from engine.store import files as F
from engine.store.gitrepo import GitRepo

STALE_GIT_LOCK_GRACE_S = 2.0
"""A git lock younger than this may belong to a git command the user is running: wait that long."""


def clear_stale_git_locks(repo: GitRepo, session_path: Path) -> list[str]:
    """Remove ``index.lock``, ``HEAD.lock`` and ref locks a killed process left behind.

    A lock younger than :data:`STALE_GIT_LOCK_GRACE_S` is given until that age to disappear.

    Parameters
    ----------
    repo
        The session's repository.
    session_path
        The session folder, for the paths in the notes.

    Returns
    -------
    list of str
        One note per lock removed.
    """
    notes = []
    for lock_file in repo.stale_lock_files():
        deadline = time.monotonic() + STALE_GIT_LOCK_GRACE_S - _age(lock_file)
        while lock_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if lock_file.exists():
            lock_file.unlink(missing_ok=True)
            notes.append(f"removed a stale git lock {lock_file.relative_to(session_path)} left by a killed process")
    return notes


def discard_unfinished_write(repo: GitRepo, session_path: Path) -> list[str]:
    """Reset the work tree to HEAD, keeping copies of what was there under ``.workbench/recovered/``.

    Every write goes files first, commit second, so anything that differs from HEAD is an
    iteration or edit whose commit never happened.

    Parameters
    ----------
    repo
        The session's repository.
    session_path
        The session folder.

    Returns
    -------
    list of str
        One note when something was discarded (naming up to four paths and where the copies
        are), else empty.
    """
    dirty = repo.dirty_paths()
    if not dirty:
        return []
    backup = session_path / F.STATE_DIR / F.RECOVERED_DIR / datetime.now().strftime("%Y%m%d-%H%M%S")
    for rel in dirty:
        src = session_path / rel
        if src.is_file():
            (backup / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, backup / rel)
    repo.discard_changes()
    shown = ", ".join(dirty[:4]) + (f" and {len(dirty) - 4} more" if len(dirty) > 4 else "")
    where = f"; copies are in {backup.relative_to(session_path)}" if backup.exists() else ""
    return [f"discarded an unfinished write ({shown}) and kept the last recorded commit{where}"]


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return STALE_GIT_LOCK_GRACE_S
