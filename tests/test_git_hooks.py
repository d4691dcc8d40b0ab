"""Git never runs what the agent wrote: hooks, fsmonitor and filter drivers planted in a
session's ``.git`` stay inert through every git call the workbench makes.

Each planted program appends its name to a marker file outside the session. The tests
first prove the plants are live (plain ``git`` run by hand triggers them), then run the
real store operations — create, record iterations, move ``best``, commit an edit,
recover a killed write, reopen, read the history — and check the marker is still empty.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from test_store import make_record, problem, record_next  # noqa: F401  (problem is a fixture)

from engine.errors import SessionError
from engine.records import DecisionKind, Loop, VerdictKind
from engine.store import Session
from engine.store.gitrepo import SAFE_CONFIG, safe_git_environment

HOOKS = (
    "pre-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "pre-auto-gc",
    "post-checkout",
    "post-merge",
    "post-rewrite",
    "reference-transaction",
    "post-index-change",
    "pre-push",
    "fsmonitor-watchman",
)


def _plant_program(path: Path, marker: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\necho "$(basename "$0") $*" >> "{marker}"\nexit 0\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def plant_hooks(git_dir: Path, marker: Path, elsewhere: Path) -> None:
    """Hooks in ``.git/hooks``, a second set behind ``core.hooksPath``, and an fsmonitor command."""
    for name in HOOKS:
        _plant_program(git_dir / "hooks" / name, marker)
        _plant_program(elsewhere / "hooks" / name, marker)
    _plant_program(elsewhere / "fsmonitor", marker)
    with open(git_dir / "config", "a", encoding="utf-8") as fh:
        fh.write(f"[core]\n\thooksPath = {elsewhere / 'hooks'}\n\tfsmonitor = {elsewhere / 'fsmonitor'}\n")


def plain_git(path: Path, *args: str) -> subprocess.CompletedProcess:
    """git as a user would run it by hand: no workbench environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_CONFIG_")}
    return subprocess.run(["git", *args], cwd=path, capture_output=True, text=True, env=env, check=True)


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "hook-ran.txt"


def test_safe_environment_appends_to_the_callers_own_config_entries() -> None:
    env = safe_git_environment({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "user.name", "GIT_CONFIG_VALUE_0": "x"})
    assert env["GIT_CONFIG_COUNT"] == str(1 + len(SAFE_CONFIG))
    assert [(env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"]) for i in range(1, 1 + len(SAFE_CONFIG))] == list(
        SAFE_CONFIG
    )
    assert "GIT_CONFIG_KEY_0" not in env


def test_planted_hooks_never_run_through_the_store(problem, tmp_path, marker):
    session = Session.create(problem, tmp_path / "sessions")
    path = session.path
    plant_hooks(path / ".git", marker, tmp_path / "planted")
    (path / "planted.txt").write_text("x\n")

    # The plants are live: git run by hand fires them (update-ref → reference-transaction,
    # add → post-index-change, status → fsmonitor).
    plain_git(path, "update-ref", "refs/heads/probe", "HEAD")
    plain_git(path, "add", "planted.txt")
    plain_git(path, "status", "--porcelain")
    fired = marker.read_text()
    assert "reference-transaction" in fired and "post-index-change" in fired and "fsmonitor" in fired
    plain_git(path, "reset", "--quiet")  # unstage by hand (fires hooks again), then clear the marker
    (path / "planted.txt").unlink()
    marker.unlink()

    try:
        record_next(session)  # kept: a commit, then `best` moves with update-ref
        record_next(session, verdict=VerdictKind.DISCARDED)
        record_next(session, loop=Loop.DESIGN)  # kept in the design loop: best-design moves
        record_next(session, verdict=None, decision=DecisionKind.REJECTED)
        session.commit_edit("PROGRAM.md", session.read_file("PROGRAM.md") + "\nOne more note.\n", "note")
        assert [e.status for e in session.log()][:4] == ["edit", "rejected", "kept", "discarded"]
        assert session.best(Loop.MODEL).number == 1
        assert session.principal  # reads git config
    finally:
        session.close()
    assert not marker.exists(), marker.read_text()

    # A killed write leaves a dirty tree and an un-moved best; reopening resets, cleans,
    # checks ancestry and repairs the ref — all git calls, none of them runs a hook.
    (path / "iterations" / "stray.txt").parent.mkdir(exist_ok=True)
    (path / "iterations" / "stray.txt").write_text("half-written\n")
    (path / "model.py").write_text("# clobbered\n")
    with Session.open(path) as again:
        assert again.recovered
        assert (path / "model.py").read_text() != "# clobbered\n"
        again.iterations()
        again.file_at("best", "model.py")
    with Session.open(path, readonly=True) as reader:
        reader.log("best")
    assert not marker.exists(), marker.read_text()


def test_hooks_from_a_template_never_run_while_a_session_is_created(problem, tmp_path, marker, monkeypatch):
    """``git init`` copies hooks from the template directory; the first commit and the best refs must not fire them."""
    template = tmp_path / "template"
    for name in HOOKS:
        _plant_program(template / "hooks" / name, marker)
    monkeypatch.setenv("GIT_TEMPLATE_DIR", str(template))
    with Session.create(problem, tmp_path / "sessions") as session:
        assert (session.path / ".git" / "hooks" / "reference-transaction").is_file()  # copied: a live plant
        record_next(session)
    assert not marker.exists(), marker.read_text()


def test_a_filter_driver_in_the_session_config_is_refused_before_git_runs_it(problem, tmp_path, marker):
    """A clean filter runs on `git add`; the store refuses the repository instead."""
    session = Session.create(problem, tmp_path / "sessions")
    path = session.path
    program = tmp_path / "planted" / "filter"
    _plant_program(program, marker)
    with open(path / ".git" / "config", "a", encoding="utf-8") as fh:
        fh.write(f'[filter "evil"]\n\tclean = {program}\n\tsmudge = {program}\n')
    (path / ".git" / "info").mkdir(exist_ok=True)
    (path / ".git" / "info" / "attributes").write_text("* filter=evil\n")
    try:
        with pytest.raises(SessionError, match=r'filter "evil".*would make git run a command'):
            record_next(session)
    finally:
        session.close()
    assert not marker.exists(), marker.read_text()
    with pytest.raises(SessionError, match='filter "evil"'):
        Session.open(path)
    assert not marker.exists(), marker.read_text()


def test_an_include_in_the_session_config_is_refused(problem, tmp_path):
    with Session.create(problem, tmp_path / "sessions") as session:
        path = session.path
    with open(path / ".git" / "config", "a", encoding="utf-8") as fh:
        fh.write(f'[includeIf "gitdir:{path}/"]\n\tpath = {tmp_path / "other.cfg"}\n')
    with pytest.raises(SessionError, match="includeIf"):
        Session.open(path, readonly=True)
