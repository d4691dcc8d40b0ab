"""Names in a session folder, its ``session.json`` metadata, and finding sessions on disk.

A session folder::

    sessions/ihdp-20261122-101500/
      .git/                  the history (one commit per iteration or principal edit)
      .gitignore             excludes artifacts/, .workbench/ and report/
      session.json           problem name and path, created_at, data hash, package versions
      problem.toml           read-only reference copy of the contract
      PROBLEM.md PROGRAM.md model.py analysis.toml   the editable files (kept line on top)
      iterations/0003/       record.json, the candidate as run, proposal.diff, elpd_pointwise.npy
      batches/<id>/          a batch: plan.json (tasks, population, the file they ran), tasks/<key>.json
      artifacts/0003/        traces (NetCDF) and plots: beside the history, regenerable
      .workbench/            lock (the write lock), pending.json (a proposal awaiting review),
                             spend.jsonl (every language-model call and its cost)
      report/                the session report (workbench report): derived, never committed
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import SessionError
from engine.records import Loop

SESSION_FILE = "session.json"
ITERATIONS_DIR = "iterations"
BATCHES_DIR = "batches"  # batches/<id>/plan.json and tasks/<key>.json: one commit per finished task
ARTIFACTS_DIR = "artifacts"
STATE_DIR = ".workbench"
LOCK_FILE = "lock"
PENDING_FILE = "pending.json"
SPEND_FILE = "spend.jsonl"  # every call to a language model, appended as it ends (failed and cancelled too)
RECOVERED_DIR = "recovered"
RECORD_FILE = "record.json"
DIFF_FILE = "proposal.diff"
EDIT_DIFF_FILE = "edit.diff"  # the principal's edit on top of the proposal, when they made one
ELPD_FILE = "elpd_pointwise.npy"
EFFECT_DRAWS_FILE = "effect_draws.npy"  # artifacts/0003/: the estimand per draw, (chain, draw)
PARETO_K_FILE = "pareto_k.npy"  # artifacts/0003/: Pareto k per observation
REFERENCE_FILES = ("problem.toml",)  # copied for reference, never edited
FORMAT = 1

BEST_REFS = {Loop.MODEL: "best", Loop.DESIGN: "best-design"}
"""The branch that points at each loop's kept line (``git log best``, ``git show best:model.py``)."""

GITIGNORE = """\
# Traces (NetCDF) and plots: big, regenerable, kept beside the history rather than in it.
/artifacts/
# Process state, not history: the write lock and a proposal awaiting review.
/.workbench/
# The session report (workbench report): derived from the history, rewritten at will.
/report/
"""


def iteration_dir(number: int) -> str:
    """``iterations/0003``: zero-padded so a plain listing sorts in order.

    Parameters
    ----------
    number
        The iteration number.

    Returns
    -------
    str
        The folder, relative to the session.
    """
    return f"{ITERATIONS_DIR}/{number:04d}"


@dataclass(frozen=True)
class SessionInfo:
    """What ``session.json`` records about where a session came from."""

    id: str
    problem: str
    problem_path: str  # absolute
    created_at: str  # ISO 8601, UTC
    data_file: str
    data_hash: str
    versions: dict[str, str] = field(default_factory=dict)
    format: int = FORMAT

    def to_json(self) -> str:
        """The text of ``session.json``.

        Returns
        -------
        str
            Indented JSON with a final newline.
        """
        return json.dumps(self.__dict__, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, where: object) -> SessionInfo:
        """Read ``session.json``; keys this version does not know are ignored.

        Parameters
        ----------
        text
            The file's contents.
        where
            The session (or file) to name in an error message.

        Returns
        -------
        SessionInfo

        Raises
        ------
        SessionError
            When the text is not JSON, or lacks a required field.
        """
        try:
            raw: Any = json.loads(text)
            known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
            return cls(**known)
        except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as exc:
            raise SessionError(
                f"{where}: {SESSION_FILE} is unreadable ({exc}); this folder is not a usable session"
            ) from exc


# --------------------------------------------------------------------------- finding sessions


def is_session_dir(path: Path) -> bool:
    """A cheap check: a git repository with a ``session.json`` beside it.

    Parameters
    ----------
    path
        Any folder.

    Returns
    -------
    bool
    """
    return (path / ".git").is_dir() and (path / SESSION_FILE).is_file()


def list_sessions(sessions_root: str | Path) -> list[Path]:
    """Session folders under ``sessions_root``, oldest first (by name, which embeds the time).

    Parameters
    ----------
    sessions_root
        The folder that holds sessions; hidden entries (half-created sessions) are skipped.

    Returns
    -------
    list of Path
        Empty when the folder does not exist.
    """
    root = Path(sessions_root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if not p.name.startswith(".") and is_session_dir(p))


def find_session(arg: str | Path, sessions_root: str | Path) -> Path:
    """Resolve what a user typed (a path, a session id, or a unique prefix of one) to a session folder.

    Parameters
    ----------
    arg
        ``sessions/ihdp-20261122-101500``, ``ihdp-20261122-101500`` or ``ihdp-20261122``.
    sessions_root
        Where session ids are looked up (default home: ``sessions/``).

    Returns
    -------
    pathlib.Path
        The absolute session folder.

    Raises
    ------
    SessionError
        No session, or an ambiguous prefix; the message lists what exists.
    """
    path = Path(arg).expanduser()
    if path.is_dir():
        if is_session_dir(path):
            return path.resolve()
        raise SessionError(f"{path} is a folder but not a session (it needs .git and {SESSION_FILE})")
    root = Path(sessions_root)
    candidate = root / str(arg)
    if is_session_dir(candidate):
        return candidate.resolve()
    sessions = list_sessions(root)
    matches = [p for p in sessions if p.name.startswith(str(arg))]
    if len(matches) == 1:
        return matches[0].resolve()
    if matches:
        names = ", ".join(p.name for p in matches)
        raise SessionError(f"{arg!r} matches several sessions ({names}); give more of the id")
    known = ", ".join(p.name for p in sessions[-5:]) or "none yet"
    raise SessionError(f"no session {str(arg)!r} under {root}; recent sessions: {known}")


def read_info(path: Path) -> SessionInfo:
    """The :class:`SessionInfo` in a session folder's ``session.json``.

    Parameters
    ----------
    path
        The session folder.

    Returns
    -------
    SessionInfo

    Raises
    ------
    SessionError
        When the file is not valid JSON or lacks a required field.
    OSError
        When the file cannot be read.
    """
    return SessionInfo.from_json((path / SESSION_FILE).read_bytes(), path)


def latest_session(problem_name: str, sessions_root: str | Path) -> Path | None:
    """The most recently created session of ``problem_name`` under ``sessions_root``, if any.

    Parameters
    ----------
    problem_name
        The problem's name as ``session.json`` records it.
    sessions_root
        The folder that holds sessions; sessions with an unreadable ``session.json`` are skipped.

    Returns
    -------
    Path or None
        The absolute session folder with the latest ``created_at``.
    """
    found = []
    for path in list_sessions(sessions_root):
        try:
            info = read_info(path)
        except SessionError:
            continue
        if info.problem == problem_name:
            found.append((info.created_at, path.name, path))
    return max(found)[2].resolve() if found else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one owned by another user counts).

    Parameters
    ----------
    pid
        The process id.

    Returns
    -------
    bool
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def free_session_path(root: Path, name: str, *, explicit: bool) -> Path:
    """``root/name``, or ``root/name-2``… when an automatic name is taken; an explicit one must be free.

    Parameters
    ----------
    root
        The folder that holds sessions.
    name
        The session id wanted.
    explicit
        True when the user chose the name: it is then never changed.

    Returns
    -------
    Path
        A path that does not exist yet.

    Raises
    ------
    SessionError
        For a name with ``/``, a leading dot or nothing but spaces; for an explicit name that
        is taken; when ``name-2`` to ``name-999`` are all taken.
    """
    if "/" in name or name.startswith(".") or not name.strip():
        raise SessionError(f"{name!r} is not a usable session id; use letters, digits, '-' and '_'")
    path = root / name
    if not path.exists():
        return path
    if explicit:
        raise SessionError(f"a session named {name!r} already exists in {root}; choose another name or resume it")
    for i in range(2, 1000):
        candidate = root / f"{name}-{i}"
        if not candidate.exists():
            return candidate
    raise SessionError(f"too many sessions named {name}-N in {root}")


def remove_abandoned_creations(root: Path) -> None:
    """Delete hidden ``.<id>.creating-<pid>`` folders whose creating process is gone.

    Parameters
    ----------
    root
        The folder that holds sessions.
    """
    for path in root.glob(".*.creating-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not pid_alive(int(pid)) and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
