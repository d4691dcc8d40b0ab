"""A session: one git repository that remembers every iteration, decision and edit.

Writes go files first, commit second, so a kill at any moment loses at most the iteration
in flight: on the next writable open, a half-written iteration (files on disk, no commit)
is set aside under ``.workbench/recovered/`` and the tree is reset to HEAD; a git lock left
by the killed process is removed; a ``best`` ref whose move was interrupted is moved.
Reads come from HEAD's tree (never the work tree), so a read-only viewer sees only
committed iterations even while a writer is mid-iteration.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import ParamSpec, TypeVar

import numpy as np
from git import Actor

from engine.errors import SessionError
from engine.iteration import IterationRecord, record_from_json
from engine.jsonable import to_json
from engine.problem import EDITABLE_FILES, Problem
from engine.records import CompileResult, Finding, Loop, Proposal, VerdictKind, unified_diff
from engine.store import files as F
from engine.store.files import SessionInfo
from engine.store.gitrepo import GitRepo, LogEntry
from engine.store.lock import SessionLock
from engine.store.messages import (
    PRINCIPAL_FALLBACK,
    edit_message,
    iteration_author,
    iteration_message,
    start_message,
)
from engine.store.pending import PendingProposal, read_pending, write_pending
from engine.store.recovery import clear_stale_git_locks, discard_unfinished_write
from engine.store.spend import Spend, SpendEntry, append_spend, read_spend
from engine.versions import package_versions

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def _serialised(method: Callable[P, R]) -> Callable[P, R]:
    """One git operation at a time per Session: GitPython's object readers are not thread-safe."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with args[0]._mutex:  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return wrapper


class Session:
    """An open session repository; use :meth:`create` or :meth:`open`, then :meth:`close`.

    Opened for writing, it holds the session's write lock until closed (or until the
    process dies). Opened read-only, it takes no lock and refuses to write.
    """

    def __init__(self, path: Path, repo: GitRepo, info: SessionInfo, lock: SessionLock | None) -> None:
        self.path = path
        self.info = info
        self.recovered: tuple[str, ...] = ()  # what the last writable open had to clean up, in words
        self._git = repo
        self._lock = lock
        self._mutex = threading.RLock()
        self._head_seen: str | None = None
        self._records: list[IterationRecord] = []  # as of _head_seen
        self._parsed: dict[str, IterationRecord] = {}  # record.json blob sha → record
        self._best_known: dict[Loop, str | None] = {}
        self._principal: Actor | None = None
        if lock is not None and lock.fd is not None:
            repo.inherit_fds = (lock.fd,)

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def create(cls, problem: Problem, root: str | Path, *, name: str | None = None) -> Session:
        """Start a session for ``problem``: a new repository whose first commit holds its files.

        The folder is built under a hidden temporary name and renamed into place once the
        first commit exists, so a kill during creation never leaves a half-made session.

        Parameters
        ----------
        problem
            The validated problem; its editable files and ``problem.toml`` are copied,
            ``truth.json`` never is.
        root
            The sessions folder (default home: ``sessions/``).
        name
            The session id; default ``<problem>-<YYYYmmdd-HHMMSS>`` in local time.

        Returns
        -------
        Session
            Open for writing (it holds the lock).

        Raises
        ------
        SessionError
            An explicit ``name`` that is taken or unusable, or a git failure.
        """
        root = Path(root).resolve()
        root.mkdir(parents=True, exist_ok=True)
        F.remove_abandoned_creations(root)
        now = datetime.now().astimezone()
        final = F.free_session_path(root, name or f"{problem.name}-{now:%Y%m%d-%H%M%S}", explicit=name is not None)
        tmp = root / f".{final.name}.creating-{os.getpid()}"
        lock = SessionLock(tmp / F.STATE_DIR / F.LOCK_FILE)
        lock.acquire()
        repo: GitRepo | None = None
        try:
            repo = GitRepo.init(tmp)
            repo.inherit_fds = (lock.fd,) if lock.fd is not None else ()
            info = SessionInfo(
                id=final.name,
                problem=problem.name,
                problem_path=str(problem.path.resolve()),
                created_at=now.astimezone(UTC).isoformat(timespec="seconds"),
                data_file=problem.data_file.name,
                data_hash=problem.data_hash,
                versions=package_versions(),
            )
            copied = [*EDITABLE_FILES, *F.REFERENCE_FILES]
            for filename in copied:
                shutil.copyfile(problem.path / filename, tmp / filename)
            (tmp / F.SESSION_FILE).write_text(info.to_json(), encoding="utf-8")
            (tmp / ".gitignore").write_text(F.GITIGNORE, encoding="utf-8")
            message = start_message(problem.name, _shown(problem.path), problem.question, info.data_hash, copied)
            paths = [tmp / f for f in (*copied, F.SESSION_FILE, ".gitignore")]
            start = repo.commit(paths, message, author=_principal_of(repo))
            for loop, ref in F.BEST_REFS.items():
                repo.compare_and_swap_ref(ref, start, None, f"session: {loop.value} loop starts from the baseline")
            repo.close()
            repo = None
            os.rename(tmp, final)
        except BaseException:
            if repo is not None:
                repo.close()
            lock.release()
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        lock.path = final / F.STATE_DIR / F.LOCK_FILE  # same inode: the lock is still held
        session = cls(final, GitRepo.open(final), info, lock)
        session._best_known = {loop: start for loop in F.BEST_REFS}
        return session

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False) -> Session:
        """Resume a session, validating that ``path`` is one.

        Parameters
        ----------
        path
            The session folder.
        readonly
            Take no lock and never write (for reports and the history screen while a
            writer may be running).

        Returns
        -------
        Session
            ``recovered`` lists, in words, anything a writable open had to clean up.

        Raises
        ------
        SessionLockedError
            Another process has the session open for writing.
        SessionError
            The folder is not a session, or its creation was interrupted.
        """
        path = Path(path).resolve()
        if not path.is_dir():
            raise SessionError(f"no session at {path}: no such folder; pass a folder under sessions/")
        if not (path / ".git").exists():
            raise SessionError(f"{path} is not a session: it has no git repository")
        repo = GitRepo.open(path)
        try:
            head = repo.head()
            if head is None:
                raise SessionError(
                    f"{path} has no commits: its creation was interrupted; delete the folder and start a new session"
                )
            raw = repo.blob(head, F.SESSION_FILE)
            if raw is None:
                raise SessionError(f"{path} is a git repository but not a workbench session (no {F.SESSION_FILE})")
            info = SessionInfo.from_json(raw, path)
            lock = None
            if not readonly:
                lock = SessionLock(path / F.STATE_DIR / F.LOCK_FILE)
                lock.acquire()
        except BaseException:
            repo.close()
            raise
        session = cls(path, repo, info, lock)
        if lock is not None:
            try:
                session._recover()
            except BaseException:
                session.close()
                raise
        return session

    def close(self) -> None:
        """Release the write lock and git's helper processes (idempotent)."""
        with self._mutex:
            self._git.close()
            self._git.inherit_fds = ()
            if self._lock is not None:
                self._lock.release()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "read-only" if self.readonly else "writable"
        return f"Session({str(self.path)!r}, {mode})"

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def readonly(self) -> bool:
        return self._lock is None or not self._lock.held

    @property
    def principal(self) -> Actor:
        """The human's git identity: user.name/user.email from git config, else ``principal <principal@workbench>``."""
        if self._principal is None:
            self._principal = _principal_of(self._git)
        return self._principal

    # ------------------------------------------------------------------ writing

    @_serialised
    def record_iteration(
        self,
        record: IterationRecord,
        *,
        candidate_source: str,
        pointwise_elpd: np.ndarray | None = None,
        author: Actor | None = None,
    ) -> str:
        """Commit one iteration, whatever its outcome; on ``kept`` also move the loop's best ref.

        Parameters
        ----------
        record
            The iteration; ``record.number`` must equal :meth:`next_number`.
        candidate_source
            The file as it was run (the proposal, or the principal's edit of it).
        pointwise_elpd
            Per-observation ELPD of the candidate, stored so the keep rule can compare
            against the best after a resume.
        author
            Overrides who the commit says wrote the change (default: the agent, or the
            principal when they edited the diff).

        Returns
        -------
        str
            The new commit's sha.

        Raises
        ------
        SessionError
            Wrong iteration number, read-only session, the best ref moved by someone else,
            or a git failure.
        """
        self._require_writable()
        expected = self.next_number()
        if record.number != expected:
            raise SessionError(
                f"cannot record iteration {record.number}: the next iteration of this session is {expected}"
            )
        loop = record.proposal.loop
        kept = record.verdict is not None and record.verdict.kind is VerdictKind.KEPT
        ref = F.BEST_REFS[loop]
        if kept and self._git.ref(ref) != self._best_known.get(loop):
            raise SessionError(
                f"refusing to record a kept iteration: branch {ref!r} was moved by something other than this "
                "session; inspect it with `git log` in the session folder, then reopen the session"
            )
        parent = self._git.head()
        d = self.path / F.iteration_dir(record.number)
        with self._undone_unless_committed():
            d.mkdir(parents=True, exist_ok=True)
            paths = [d / F.RECORD_FILE, d / loop.file, d / F.DIFF_FILE]
            (d / F.RECORD_FILE).write_text(to_json(record), encoding="utf-8")
            (d / loop.file).write_text(candidate_source, encoding="utf-8")
            (d / F.DIFF_FILE).write_text(record.proposal.diff, encoding="utf-8")
            if candidate_source != record.proposal.new_source:
                paths.append(d / F.EDIT_DIFF_FILE)
                edit = unified_diff(record.proposal.new_source, candidate_source, loop.file)
                (d / F.EDIT_DIFF_FILE).write_text(edit, encoding="utf-8")
            if pointwise_elpd is not None:
                paths.append(d / F.ELPD_FILE)
                with open(d / F.ELPD_FILE, "wb") as fh:
                    np.save(fh, np.asarray(pointwise_elpd, dtype=np.float64), allow_pickle=False)
            if kept:
                paths.append(self.path / loop.file)
                (self.path / loop.file).write_text(candidate_source, encoding="utf-8")
            who = author or iteration_author(record, self.principal)
            sha = self._git.commit(paths, iteration_message(record), author=who)
        if kept:
            old = self._best_known.get(loop)
            self._git.compare_and_swap_ref(ref, sha, old, f"iter {record.number}: kept")
            self._best_known[loop] = sha
        # Keep the read cache current without listing the tree again: parse what was committed.
        if self._head_seen == parent:  # the commit's parent, checked by update-ref
            self._records.append(record_from_json((d / F.RECORD_FILE).read_text(encoding="utf-8")))
            self._head_seen = sha
        pending = read_pending(self._pending_path)
        if pending is not None and pending.number <= record.number:
            self.clear_pending()
        return sha

    @_serialised
    def commit_edit(self, filename: str, text: str, message: str = "", *, author: Actor | None = None) -> str | None:
        """Save the principal's edit of an editable file as one commit.

        Parameters
        ----------
        filename
            One of ``PROBLEM.md``, ``PROGRAM.md``, ``model.py``, ``analysis.toml``.
        text
            The new content.
        message
            The principal's words; the subject becomes ``edit <filename>: <message>``.
        author
            Default: :attr:`principal`.

        Returns
        -------
        str or None
            The commit sha, or None when the text is unchanged (nothing to commit).

        Raises
        ------
        SessionError
            A read-only session, a file that is not editable, or a git failure.
        """
        self._require_writable()
        if filename not in EDITABLE_FILES:
            raise SessionError(
                f"{filename!r} is not editable in a session; editable files: {', '.join(EDITABLE_FILES)}"
            )
        if self.read_file(filename) == text:
            return None
        target = self.path / filename
        target.write_text(text, encoding="utf-8")
        return self._git.commit([target], edit_message(filename, message), author=author or self.principal)

    @_serialised
    def commit_batch_files(self, files: dict[str, str], message: str) -> str:
        """Commit files of a batch (``batches/...``): its plan, or one task's result.

        Parameters
        ----------
        files
            Path relative to the session (under ``batches/``) → text.
        message
            The commit message.

        Returns
        -------
        str
            The new commit's sha.

        Raises
        ------
        SessionError
            A read-only session, a path outside ``batches/``, or a git failure.
        """
        self._require_writable()
        paths = []
        with self._undone_unless_committed():
            for rel, text in files.items():
                target = (self.path / rel).resolve()
                if not target.is_relative_to((self.path / F.BATCHES_DIR).resolve()):
                    raise SessionError(f"batch files live under {F.BATCHES_DIR}/, not at {rel!r}")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
                paths.append(target)
            return self._git.commit(paths, message, author=self.principal)

    @contextlib.contextmanager
    def _undone_unless_committed(self) -> Iterator[None]:
        """Files first, commit second: when the commit does not happen, the tree goes back to HEAD."""
        parent = self._git.head()
        try:
            yield
        except BaseException:
            if self._git.head() == parent:  # nothing committed: leave the tree as HEAD has it
                with contextlib.suppress(SessionError):
                    for note in discard_unfinished_write(self._git, self.path):
                        log.warning("session %s: %s", self.id, note)
            raise

    @_serialised
    def files_under(self, folder: str, rev: str = "HEAD") -> list[str]:
        """Paths of the committed files below ``folder`` (e.g. ``batches``), sorted.

        Parameters
        ----------
        folder
            Relative to the session.
        rev
            The commit to list (default the latest).

        Returns
        -------
        list of str
            Empty when the folder does not exist there.
        """
        return sorted(self._git.files_under(rev, folder))

    def record_spend(self, entries: list[SpendEntry]) -> None:
        """Add the calls of one agent interaction to the spend ledger (on disk when this returns).

        Parameters
        ----------
        entries
            One per call, failed and cancelled interactions included.

        Raises
        ------
        SessionError
            When the session is open read-only.
        """
        self._require_writable()
        append_spend(self.path / F.STATE_DIR / F.SPEND_FILE, entries)

    def spend(self) -> Spend:
        """Every language-model call of this session and what it cost.

        Returns
        -------
        Spend
        """
        return read_spend(self.path / F.STATE_DIR / F.SPEND_FILE)

    def save_pending(
        self, proposal: Proposal, findings: list[Finding] | tuple[Finding, ...], compile_result: CompileResult | None
    ) -> Path:
        """Keep a proposal awaiting review in ``.workbench/pending.json`` (not committed; survives a kill).

        Parameters
        ----------
        proposal
            The proposal; it will be iteration :meth:`next_number`.
        findings
            What the guard found.
        compile_result
            The compile check's result, or None when it did not run.

        Returns
        -------
        Path
            The file written.

        Raises
        ------
        SessionError
            When the session is open read-only.
        """
        self._require_writable()
        pending = PendingProposal(
            number=self.next_number(),
            proposal=proposal,
            findings=tuple(findings),
            compile=compile_result,
            saved_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        path = self._pending_path
        write_pending(path, pending)
        return path

    def load_pending(self) -> PendingProposal | None:
        """The saved proposal awaiting review, or None (also when it went stale: its iteration exists).

        Returns
        -------
        PendingProposal or None
            None also when the file is unreadable (logged).
        """
        pending = read_pending(self._pending_path)
        if pending is None or pending.number != self.next_number():
            return None
        return pending

    def clear_pending(self) -> None:
        """Forget the proposal awaiting review (nothing happens when there is none).

        Raises
        ------
        SessionError
            When the session is open read-only.
        """
        self._require_writable()
        self._pending_path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ reading

    @_serialised
    def iterations(self) -> list[IterationRecord]:
        """Every recorded iteration in order, read from HEAD's tree (cached by blob).

        Returns
        -------
        list of IterationRecord
            Ordered by iteration number.
        """
        self._refresh()
        return list(self._records)

    def iteration(self, number: int) -> IterationRecord:
        """The record of iteration ``number``.

        Parameters
        ----------
        number
            The iteration number.

        Returns
        -------
        IterationRecord

        Raises
        ------
        SessionError
            When the session has no such iteration.
        """
        for record in self.iterations():
            if record.number == number:
                return record
        raise SessionError(f"session {self.id} has no iteration {number}")

    def next_number(self) -> int:
        """The number the next iteration will get: one more than the last recorded, or 1.

        Returns
        -------
        int
        """
        records = self.iterations()
        return records[-1].number + 1 if records else 1

    def best(self, loop: Loop | str = Loop.MODEL) -> IterationRecord | None:
        """The loop's current best: its most recent ``kept`` iteration, or None before the first.

        Parameters
        ----------
        loop
            ``Loop.MODEL`` (default) or ``Loop.DESIGN``, or its value.

        Returns
        -------
        IterationRecord or None
        """
        loop = Loop(loop)
        kept = [
            r
            for r in self.iterations()
            if r.proposal.loop is loop and r.verdict is not None and r.verdict.kind is VerdictKind.KEPT
        ]
        return kept[-1] if kept else None

    def best_source(self, loop: Loop | str = Loop.MODEL) -> str:
        """The best candidate's file; before anything was kept, the session's current file (the baseline).

        Parameters
        ----------
        loop
            ``Loop.MODEL`` (default, ``model.py``) or ``Loop.DESIGN`` (``analysis.toml``), or its value.

        Returns
        -------
        str
            The text of the file as the kept iteration ran it.

        Raises
        ------
        SessionError
            When the file is missing from the commit.
        """
        loop = Loop(loop)
        best = self.best(loop)
        if best is None:
            return self.current_source(loop)
        return self.file_at("HEAD", f"{F.iteration_dir(best.number)}/{loop.file}")

    def current_source(self, loop: Loop | str = Loop.MODEL) -> str:
        """The top-level file at HEAD: what the next proposal edits (the best, or the principal's edit).

        Parameters
        ----------
        loop
            ``Loop.MODEL`` (default, ``model.py``) or ``Loop.DESIGN`` (``analysis.toml``), or its value.

        Returns
        -------
        str

        Raises
        ------
        SessionError
            When HEAD has no such file.
        """
        return self.read_file(Loop(loop).file)

    def best_pointwise_elpd(self, loop: Loop | str = Loop.MODEL) -> np.ndarray | None:
        """The per-observation ELPD of the loop's current best, or None before the first kept iteration.

        Parameters
        ----------
        loop
            ``Loop.MODEL`` (default) or ``Loop.DESIGN``, or its value.

        Returns
        -------
        numpy.ndarray or None
            None also when the best iteration stored none.
        """
        best = self.best(loop)
        return None if best is None else self.pointwise_elpd(best.number)

    @_serialised
    def pointwise_elpd(self, number: int) -> np.ndarray | None:
        """The per-observation ELPD stored with iteration ``number``, if any.

        Parameters
        ----------
        number
            The iteration number.

        Returns
        -------
        numpy.ndarray or None
            One value per observation, as read from the commit at HEAD.
        """
        raw = self._git.blob("HEAD", f"{F.iteration_dir(number)}/{F.ELPD_FILE}")
        return None if raw is None else np.load(io.BytesIO(raw), allow_pickle=False)

    def read_file(self, name: str) -> str:
        """A file of the session as of HEAD, e.g. ``PROGRAM.md``.

        Parameters
        ----------
        name
            A path relative to the session folder.

        Returns
        -------
        str

        Raises
        ------
        SessionError
            When HEAD has no such file.
        """
        return self.file_at("HEAD", name)

    @_serialised
    def file_at(self, rev: str, path: str) -> str:
        """Any file at any commit (or branch: ``best``), to show an iteration as it was.

        Parameters
        ----------
        rev
            A commit sha or branch (``HEAD``, ``best``, ``best-design``).
        path
            A path relative to the session folder.

        Returns
        -------
        str
            The file's text (UTF-8).

        Raises
        ------
        SessionError
            When ``rev`` names no commit or the commit has no such file.
        """
        data = self._git.blob(rev, path)
        if data is None:
            raise SessionError(f"session {self.id} has no file {path!r} at {rev}")
        return data.decode("utf-8")

    @_serialised
    def log(self, rev: str = "HEAD", max_count: int | None = None) -> list[LogEntry]:
        """Commits, newest first, with subject, body, author, date, branches and trailers.

        Parameters
        ----------
        rev
            Where to start: a commit sha or branch.
        max_count
            At most this many commits; None for all.

        Returns
        -------
        list of LogEntry

        Raises
        ------
        SessionError
            For an unknown revision, or one that starts with ``-``.
        """
        return self._git.log(rev, max_count)

    @_serialised
    def iteration_commit(self, number: int) -> str | None:
        """The sha of the commit that recorded iteration ``number``.

        Parameters
        ----------
        number
            The iteration number.

        Returns
        -------
        str or None
            None when HEAD's history has no record of that iteration.
        """
        return self._git.commit_adding(f"{F.iteration_dir(number)}/{F.RECORD_FILE}")

    def best_ref(self, loop: Loop | str = Loop.MODEL) -> str:
        """The branch name of the loop's kept line: ``best`` or ``best-design``.

        Parameters
        ----------
        loop
            ``Loop.MODEL`` (default) or ``Loop.DESIGN``, or its value.

        Returns
        -------
        str
        """
        return F.BEST_REFS[Loop(loop)]

    def artifacts_dir(self, number: int) -> Path:
        """``artifacts/0003``: traces and plots of an iteration, beside the history (created when writable).

        Parameters
        ----------
        number
            The iteration number.

        Returns
        -------
        Path
            May not exist when the session is read-only.
        """
        path = self.path / F.ARTIFACTS_DIR / f"{number:04d}"
        if not self.readonly:
            path.mkdir(parents=True, exist_ok=True)
        return path

    # ------------------------------------------------------------------ internals

    @property
    def _pending_path(self) -> Path:
        return self.path / F.STATE_DIR / F.PENDING_FILE

    def _require_writable(self) -> None:
        if self.readonly:
            raise SessionError(f"session {self.id} is open read-only (or closed); open it for writing to change it")

    def _refresh(self) -> None:
        head = self._git.head()
        if head == self._head_seen:
            return
        files = self._git.files_under(head, F.ITERATIONS_DIR) if head else {}
        records = []
        for path, sha in files.items():
            parts = path.split("/")
            if len(parts) != 3 or parts[2] != F.RECORD_FILE:
                continue
            record = self._parsed.get(sha)
            if record is None:
                record = self._parse_record(path, self._git.blob_by_sha(sha))
                self._parsed[sha] = record
            records.append(record)
        records.sort(key=lambda r: r.number)
        self._records, self._head_seen = records, head

    def _parse_record(self, path: str, raw: bytes) -> IterationRecord:
        try:
            return record_from_json(raw.decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError, ValueError, KeyError) as exc:
            raise SessionError(f"session {self.id}: {path} is not a valid iteration record ({exc})") from exc

    def _note(self, message: str) -> None:
        log.warning("session %s: %s", self.id, message)
        self.recovered = (*self.recovered, message)

    def _recover(self) -> None:
        """Clean up after a killed writer; we hold the lock, so no writer of ours is alive."""
        for note in clear_stale_git_locks(self._git, self.path) + discard_unfinished_write(self._git, self.path):
            self._note(note)
        self._repair_best_refs()

    def _repair_best_refs(self) -> None:
        root = None
        for loop, ref in F.BEST_REFS.items():
            best = self.best(loop)
            if best is not None:
                expected = self.iteration_commit(best.number)
            else:
                root = root or self._git.root_commit()
                expected = root
            current = self._git.ref(ref)
            if expected is not None and current != expected:
                if current is None or self._git.is_ancestor(current, expected):
                    what = f"iteration {best.number}" if best else "the baseline"
                    self._git.compare_and_swap_ref(ref, expected, current, f"session: repair {ref} after a kill")
                    self._note(f"moved {ref!r} to {what}: its move was interrupted")
                    current = expected
                else:
                    self._note(f"{ref!r} does not point at the last kept {loop.value} iteration; left as it is")
            self._best_known[loop] = current


# --------------------------------------------------------------------------- helpers


def _principal_of(repo: GitRepo) -> Actor:
    return repo.identity() or PRINCIPAL_FALLBACK


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path.resolve())
