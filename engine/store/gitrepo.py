"""GitPython behind one small interface, so the session store speaks in its own terms.

Following scmrepo, every git failure the library reports (``GitCommandError``,
``InvalidGitRepositoryError``, gitdb's ``BadName``/``BadObject``, …) becomes one
:class:`~engine.errors.SessionError` whose message says what was being done; nothing
broader is caught. Author and committer are passed to each commit, never set through
``os.environ``; git subprocesses that write reflogs (``update-ref``, ``reset``) get the
harness as committer through GitPython's per-instance environment.

Git never runs a program the session could have planted (an agent's code that escaped
its sandbox writes where git looks): every git process the workbench starts gets
``core.hooksPath=/dev/null`` and ``core.fsmonitor=false`` as command-line-level config
(``GIT_CONFIG_COUNT``, which outranks the repository's own ``.git/config``), so no hook
and no file-system monitor runs; and a repository whose ``.git/config`` defines a filter
driver or includes another config file is refused before any git command runs, since
``git add``, ``status`` and ``reset`` would run the filter's command.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import git
from git import Actor, Repo
from gitdb.exc import ODBError

from engine.errors import SessionError

ZERO_SHA = "0" * 40
BRANCH = "main"
HARNESS = Actor("workbench harness", "harness@workbench")
"""The committer of every commit the workbench makes."""

SAFE_CONFIG = (("core.hooksPath", "/dev/null"), ("core.fsmonitor", "false"))
"""Config every git process of the workbench runs with: no hooks, no fsmonitor command."""

_UNSAFE_SECTION = re.compile(r"^\s*\[\s*(filter|include|includeif)\b[^\]]*\]", re.IGNORECASE | re.MULTILINE)
"""Sections of a repository's own ``.git/config`` that make git run, or read, what the workbench never wrote."""


def safe_git_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment variables adding :data:`SAFE_CONFIG` to git's command-line-level config.

    ``GIT_CONFIG_COUNT`` entries already in ``base`` (default ``os.environ``) are kept:
    ours are appended after them, and the last value of a key wins.

    Parameters
    ----------
    base
        The environment git will run with; None for ``os.environ``. A ``GIT_CONFIG_COUNT``
        that is not an integer counts as 0.

    Returns
    -------
    dict of str to str
        ``GIT_CONFIG_COUNT`` and our ``GIT_CONFIG_KEY_<i>``/``GIT_CONFIG_VALUE_<i>`` pairs, to be
        merged into that environment.
    """
    env = os.environ if base is None else base
    try:
        start = max(int(env.get("GIT_CONFIG_COUNT", "0")), 0)
    except ValueError:
        start = 0
    out = {"GIT_CONFIG_COUNT": str(start + len(SAFE_CONFIG))}
    for i, (key, value) in enumerate(SAFE_CONFIG, start=start):
        out[f"GIT_CONFIG_KEY_{i}"] = key
        out[f"GIT_CONFIG_VALUE_{i}"] = value
    return out


def unsafe_config(git_dir: Path) -> list[str]:
    """Section headers of ``git_dir/config`` that would make git run a command (filters) or read another file.

    Parameters
    ----------
    git_dir
        The repository's ``.git`` folder.

    Returns
    -------
    list of str
        The ``[filter …]``, ``[include …]`` and ``[includeIf …]`` headers found; empty when
        there are none or the file cannot be read.
    """
    try:
        text = (git_dir / "config").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [m.group(0).strip() for m in _UNSAFE_SECTION.finditer(text)]


_TRAILER = re.compile(r"^Workbench-(Iteration|Loop|Status): (\S+)\s*$", re.MULTILINE)


@contextlib.contextmanager
def git_errors(action: str) -> Iterator[None]:
    """Turn GitPython's and gitdb's errors into :class:`SessionError` naming ``action``.

    Parameters
    ----------
    action
        What was being done, for the message (``committing``).

    Yields
    ------
    None

    Raises
    ------
    SessionError
        For a failed git command, a missing path, a folder that is not a repository, or any
        other GitPython or gitdb error raised inside the block.
    """
    try:
        yield
    except git.exc.GitCommandError as exc:
        detail = str(exc.stderr or "").strip().removeprefix("stderr:").strip().strip("'").strip()
        raise SessionError(f"git failed while {action}: {detail or exc}") from exc
    except git.exc.NoSuchPathError as exc:
        raise SessionError(f"{exc} does not exist; check the session path") from exc
    except git.exc.InvalidGitRepositoryError as exc:
        raise SessionError(f"{exc} is not a git repository, so not a session; pass a session folder") from exc
    except (git.exc.GitError, ODBError) as exc:
        raise SessionError(f"git failed while {action}: {type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True)
class LogEntry:
    """One commit as the history screen lists it."""

    sha: str
    short_sha: str
    subject: str
    body: str
    author_name: str
    author_email: str
    date: datetime  # author date, with its offset
    committer_name: str
    refs: tuple[str, ...]  # branch names pointing here: main, best, best-design
    iteration: int | None  # from the Workbench-Iteration trailer
    status: str | None  # kept, discarded, rejected, … from the Workbench-Status trailer
    loop: str | None


class GitRepo:
    """The few git operations a session needs."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self.inherit_fds: tuple[int, ...] = ()  # the session lock, so our git children hold it too
        self._config_checked: tuple[int, int, int] | None = None  # (inode, size, mtime) of a config found safe
        repo.git.update_environment(
            GIT_COMMITTER_NAME=HARNESS.name,
            GIT_COMMITTER_EMAIL=HARNESS.email,
            GIT_TERMINAL_PROMPT="0",
            **safe_git_environment(),
        )
        try:
            self.check_config()
        except SessionError:
            repo.close()
            raise

    @classmethod
    def init(cls, path: Path) -> GitRepo:
        """Create a repository on branch ``main`` in ``path``.

        Parameters
        ----------
        path
            The folder (created if missing).

        Returns
        -------
        GitRepo

        Raises
        ------
        SessionError
            When git fails.
        """
        with git_errors(f"creating a repository in {path}"):
            return cls(Repo.init(path, initial_branch=BRANCH, env=safe_git_environment()))

    @classmethod
    def open(cls, path: Path) -> GitRepo:
        """Open the repository in ``path`` (not a parent of it).

        Parameters
        ----------
        path
            The work tree.

        Returns
        -------
        GitRepo

        Raises
        ------
        SessionError
            When ``path`` is missing or not a repository, or its ``.git/config`` defines a filter
            driver or an include.
        """
        with git_errors(f"opening {path}"):
            return cls(Repo(path, search_parent_directories=False))

    @property
    def git_dir(self) -> Path:
        return Path(self.repo.git_dir)

    @property
    def workdir(self) -> Path:
        return Path(self.repo.working_tree_dir or ".")

    def close(self) -> None:
        self.repo.close()

    def check_config(self) -> None:
        """Refuse a repository whose ``.git/config`` defines a filter driver or includes another file.

        The workbench never writes either; git would run a filter's command on ``add``,
        ``status`` and ``reset``. Re-read only when the file changed (inode, size, mtime).

        Raises
        ------
        SessionError
            When the config has a ``[filter …]``, ``[include …]`` or ``[includeIf …]`` section.
        """
        config = self.git_dir / "config"
        try:
            st = config.stat()
        except OSError:
            return
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if stamp == self._config_checked:
            return
        found = unsafe_config(self.git_dir)
        if found:
            raise SessionError(
                f"refusing to run git in {self.workdir}: its {config} has {', '.join(found)}, which the workbench "
                "never writes and which would make git run a command; something else wrote it — inspect and "
                "remove those sections, then reopen the session"
            )
        self._config_checked = stamp

    def _run(self, *args: str, env: dict[str, str] | None = None, keep_newline: bool = False) -> str:
        """One git command in the work tree; it inherits the session lock (see :mod:`.lock`).

        Hooks and fsmonitor are off for every command (see :data:`SAFE_CONFIG`), and the
        repository's config is checked for filter drivers first.
        """
        self.check_config()
        command = [self.repo.git.GIT_PYTHON_GIT_EXECUTABLE, *args]
        return self.repo.git.execute(
            command, env=env, strip_newline_in_stdout=not keep_newline, pass_fds=self.inherit_fds
        )

    # ------------------------------------------------------------------ refs and commits

    def head(self) -> str | None:
        """HEAD's commit sha, or None before the first commit (read from the ref files, no object lookup).

        Returns
        -------
        str or None
        """
        return self._resolve("HEAD")

    def ref(self, name: str) -> str | None:
        """The sha a branch points at, or None if the branch does not exist.

        Parameters
        ----------
        name
            A branch name (``best``).

        Returns
        -------
        str or None
        """
        return self._resolve(f"refs/heads/{name}")

    def _resolve(self, path: str) -> str | None:
        with git_errors(f"reading {path}"):
            try:
                return git.SymbolicReference.dereference_recursive(self.repo, path)
            except ValueError:  # GitPython's answer for an unborn branch or a missing ref
                return None

    def commit(self, paths: Iterable[Path], message: str, *, author: Actor, committer: Actor = HARNESS) -> str:
        """Stage ``paths`` (inside the work tree) and commit them on HEAD's branch.

        Plumbing, not GitPython's pure-Python index: ``add``, ``write-tree`` (which reuses
        the cached trees of untouched folders), ``commit-tree`` and a compare-and-swap
        ``update-ref`` of HEAD. GitPython's index rewrites every entry on each commit, which
        made the 200th iteration about 10× slower than the first. Author and committer go
        to ``commit-tree`` alone, through that one call's environment.

        Parameters
        ----------
        paths
            Files to stage, absolute or relative to the current directory; each must resolve inside
            the work tree.
        message
            The commit message; its first line is also the reflog's.
        author
            Who wrote the change.
        committer
            Who recorded it (the harness by default).

        Returns
        -------
        str
            The new commit's sha.

        Raises
        ------
        SessionError
            When a git command fails (with a specific message when ``index.lock`` is held) or HEAD
            moved while committing.
        """
        rel = [str(Path(p).resolve().relative_to(self.workdir.resolve())) for p in paths]
        parent = self.head()
        try:
            with git_errors("committing"):
                self._run("add", "--", *rel)
                tree = self._run("write-tree")
                parents = ["-p", parent] if parent else []
                # GitPython types Actor's fields Optional; every Actor here is built with both
                assert author.name is not None and author.email is not None
                assert committer.name is not None and committer.email is not None
                people = {
                    "GIT_AUTHOR_NAME": author.name,
                    "GIT_AUTHOR_EMAIL": author.email,
                    "GIT_COMMITTER_NAME": committer.name,
                    "GIT_COMMITTER_EMAIL": committer.email,
                }
                sha = self._run("commit-tree", "--no-gpg-sign", tree, *parents, "-m", message.rstrip("\n"), env=people)
                subject = message.split("\n", 1)[0]
                self._run("update-ref", "-m", f"commit: {subject}", "HEAD", sha, parent or ZERO_SHA)
        except SessionError as exc:
            index_lock = self.git_dir / "index.lock"
            if index_lock.exists():
                raise SessionError(
                    f"git's index is locked ({index_lock}): another git command is running in the session; "
                    "wait for it, or close and reopen the session to clear a lock left by a killed process"
                ) from exc
            raise
        return sha

    def compare_and_swap_ref(self, name: str, new: str, expected: str | None, message: str) -> None:
        """Point branch ``name`` at ``new`` only if it still points at ``expected``.

        ``git update-ref`` checks the old value under the ref's lock, so two writers can
        never silently overwrite each other (DVC's experiment refs work the same way).
        ``expected=None`` means the branch must not exist yet.

        Parameters
        ----------
        name
            The branch name.
        new
            The sha to point it at.
        expected
            The sha it must point at now, or None.
        message
            The reflog message.

        Raises
        ------
        SessionError
            When the branch has moved (or exists when it should not), naming where it points now.
        """
        ref = f"refs/heads/{name}"
        try:
            self._run("update-ref", "-m", message, ref, new, expected or ZERO_SHA)
        except git.exc.GitCommandError as exc:
            now = self.ref(name)
            raise SessionError(
                f"refusing to move {name!r}: it should point at {(expected or 'nothing')[:10]} but points at "
                f"{(now or 'nothing')[:10]}, so something else moved it; inspect `git log {name}` in the session "
                "and reopen it"
            ) from exc

    def root_commit(self) -> str:
        """The sha of a first commit on HEAD's history (the session's ``start`` commit).

        Returns
        -------
        str

        Raises
        ------
        SessionError
            When git fails (no commit yet, for one).
        """
        with git_errors("finding the first commit"):
            return self._run("rev-list", "--max-parents=0", "HEAD").split()[-1]

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether ``ancestor`` is reachable from ``descendant`` (a commit counts as its own ancestor).

        Parameters
        ----------
        ancestor, descendant
            Commit shas or branch names.

        Returns
        -------
        bool

        Raises
        ------
        SessionError
            When git fails, or the repository's config became unsafe.
        """
        with git_errors("comparing commits"):
            self.check_config()
            # GitPython annotates Commit but hands the revs to `git merge-base --is-ancestor` as they are
            return self.repo.is_ancestor(ancestor, descendant)  # type: ignore[arg-type]  # repo.git: the safe environment

    def commit_adding(self, path: str) -> str | None:
        """The commit on HEAD's history that added ``path``.

        Parameters
        ----------
        path
            A path relative to the work tree.

        Returns
        -------
        str or None
            The sha of the most recent commit that added it, or None when none did.
        """
        with git_errors(f"finding the commit that added {path}"):
            out = self._run("log", "--format=%H", "--diff-filter=A", "-1", "HEAD", "--", path)
            return out.strip() or None

    # ------------------------------------------------------------------ reading objects

    def blob(self, rev: str, path: str) -> bytes | None:
        """A file's bytes at ``rev``, or None if it has no such file.

        Parameters
        ----------
        rev
            A commit sha, a branch or another revision GitPython resolves.
        path
            A path relative to the work tree.

        Returns
        -------
        bytes or None
            None also when ``path`` is a folder at ``rev``.

        Raises
        ------
        SessionError
            When ``rev`` does not name a commit.
        """
        with git_errors(f"reading {path} at {rev}"):
            try:
                tree = self.repo.commit(rev).tree
            except (ValueError, IndexError) as exc:  # GitPython: not a commit, missing object, no such reflog entry
                raise SessionError(f"{rev!r} does not name a commit of this session ({exc})") from exc
            try:
                obj = tree[path]
            except KeyError:
                return None
            if obj.type != "blob":
                return None
            return obj.data_stream.read()

    def blob_by_sha(self, sha: str) -> bytes:
        """The bytes of the blob with this sha.

        Parameters
        ----------
        sha
            The blob's full hexadecimal sha (from :meth:`files_under`).

        Returns
        -------
        bytes

        Raises
        ------
        SessionError
            When the object is missing.
        """
        with git_errors(f"reading object {sha[:10]}"):
            return self.repo.odb.stream(bytes.fromhex(sha)).read()

    def files_under(self, rev: str, folder: str) -> dict[str, str]:
        """Every file below ``folder`` at ``rev``: path → blob sha (one ``ls-tree``).

        Parameters
        ----------
        rev
            A commit sha or branch; it must not start with ``-``.
        folder
            A path relative to the work tree.

        Returns
        -------
        dict of str to str
            Paths relative to the work tree; empty when the folder does not exist at ``rev``.

        Raises
        ------
        SessionError
            For a revision that starts with ``-``, or when git fails (an unknown revision).
        """
        _check_rev(rev)
        with git_errors(f"listing {folder} at {rev}"):
            out = self._run("ls-tree", "-r", "-z", rev, "--", folder)
        files = {}
        for item in out.split("\0"):
            if not item:
                continue
            meta, path = item.split("\t", 1)
            _mode, kind, sha = meta.split()
            if kind == "blob":
                files[path] = sha
        return files

    def log(self, rev: str = "HEAD", max_count: int | None = None) -> list[LogEntry]:
        """Commits reachable from ``rev``, newest first (one ``git log``).

        Parameters
        ----------
        rev
            Where to start: a commit sha or branch; it must not start with ``-``.
        max_count
            At most this many commits; None for all.

        Returns
        -------
        list of LogEntry
            With the branches that point at each commit and the ``Workbench-*`` trailers read
            from its body.

        Raises
        ------
        SessionError
            For a revision that starts with ``-``, or when git fails (an unknown revision).
        """
        _check_rev(rev)
        fmt = "%x1e" + "%x1f".join(["%H", "%h", "%an", "%ae", "%aI", "%cn", "%D", "%s", "%b"])
        args = [f"--format={fmt}", "--decorate-refs=refs/heads/"]
        if max_count is not None:
            args.append(f"--max-count={max_count}")
        with git_errors(f"reading the history of {rev}"):
            out = self._run("log", *args, rev, "--", keep_newline=True)
        entries = []
        for chunk in out.split("\x1e")[1:]:
            sha, short, an, ae, date, cn, refs, subject, body = chunk.split("\x1f")
            body = body.strip("\n")
            trailers = dict(_TRAILER.findall(body))
            names = tuple(r.removeprefix("HEAD -> ").strip() for r in refs.split(",") if r.strip())
            entries.append(
                LogEntry(
                    sha=sha,
                    short_sha=short,
                    subject=subject,
                    body=body,
                    author_name=an,
                    author_email=ae,
                    date=datetime.fromisoformat(date),
                    committer_name=cn,
                    refs=names,
                    iteration=int(trailers["Iteration"]) if "Iteration" in trailers else None,
                    status=trailers.get("Status"),
                    loop=trailers.get("Loop"),
                )
            )
        return entries

    # ------------------------------------------------------------------ work tree state

    def dirty_paths(self) -> list[str]:
        """Work-tree paths that differ from HEAD: modified, staged, deleted or untracked.

        Returns
        -------
        list of str
            Paths relative to the work tree; a rename or copy lists its new path only.
        """
        with git_errors("reading the session's status"):
            out = self._run("status", "--porcelain=v1", "-z", "--untracked-files=all", keep_newline=True)
        paths: list[str] = []
        items = iter(out.split("\0"))
        for item in items:
            if not item:
                continue
            code, path = item[:2], item[3:]
            paths.append(path)
            if "R" in code or "C" in code:
                next(items, None)  # the rename's source path
        return paths

    def discard_changes(self) -> None:
        """Reset index and work tree to HEAD and remove untracked (not ignored) files."""
        with git_errors("discarding an unfinished write"):
            self._run("reset", "--hard", "--quiet", "HEAD")
            self._run("clean", "-f", "-d", "--quiet")

    def stale_lock_files(self) -> list[Path]:
        """Git lock files a killed process may have left: index, HEAD, refs, packed-refs.

        Returns
        -------
        list of Path
            Those that exist now.
        """
        gd = self.git_dir
        found = [p for p in (gd / "index.lock", gd / "HEAD.lock", gd / "packed-refs.lock") if p.exists()]
        found.extend(sorted((gd / "refs").rglob("*.lock")))
        return found

    def identity(self) -> Actor | None:
        """user.name and user.email from git config (system, global, repository), if both set.

        Returns
        -------
        git.Actor or None
            None unless both are set and not blank.
        """
        with git_errors("reading git config"):
            reader = self.repo.config_reader()
            name = reader.get_value("user", "name", default="")
            email = reader.get_value("user", "email", default="")
        if isinstance(name, str) and isinstance(email, str) and name.strip() and email.strip():
            return Actor(name.strip(), email.strip())
        return None


def _check_rev(rev: str) -> None:
    """A revision handed to the git command line must not be read as an option."""
    if not rev or rev.startswith("-"):
        raise SessionError(f"{rev!r} is not a revision; pass a commit sha or a branch such as best")
