"""Open a workbench from what a user typed: a problem folder or a session (path or id).

Shared by ``workbench open`` (the TUI) and ``workbench run`` (headless), so both resolve
sessions, agents and harness options the same way and say the same things on resume.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError
from engine.loop import RunOptions, Workbench


def check_target(target: str | Path | None, session: str | Path | None, sessions_root: str | Path) -> str:
    """Say what ``workbench open`` was pointed at — ``"problem"`` or ``"session"`` — before anything opens.

    Parameters
    ----------
    target
        A problem folder or a session path or id, or None.
    session
        A session path or id given explicitly; when set, ``target`` is not looked at.
    sessions_root
        Where session ids are looked up.

    Returns
    -------
    str
        ``"problem"`` or ``"session"``.

    Raises
    ------
    WorkbenchError
        Neither a problem folder (one with ``problem.toml``) nor a session (a folder, an id or a
        unique prefix under ``sessions_root``); the message says what each looks like.
    """
    from engine.errors import SessionError
    from engine.store import find_session, is_session_dir

    if session is not None:
        find_session(session, sessions_root)
        return "session"
    if target is None:
        raise WorkbenchError("nothing to open: pass a problem folder (problems/ihdp) or a session (sessions/<id>)")
    path = Path(target)
    if is_session_dir(path):
        return "session"
    if (path / "problem.toml").is_file():
        return "problem"
    try:
        find_session(target, sessions_root)
    except SessionError:
        hint = f"{path} is a folder without problem.toml" if path.is_dir() else f"{path} does not exist"
        raise WorkbenchError(
            f"no problem folder or session at {target}: {hint}. A problem folder holds problem.toml "
            f"(e.g. problems/ihdp); a session is a folder under {sessions_root}/ or its id "
            "(workbench open sessions/<id>)"
        ) from None
    return "session"


def open_workbench(
    target: str | Path | None,
    *,
    session: str | Path | None = None,
    agent: str = "heuristic",
    replay_file: str | Path | None = None,
    sessions_root: str | Path = "sessions",
    options: RunOptions | None = None,
    agent_model: str | None = None,
) -> Workbench:
    """Load the problem, create or resume the session, build the agent.

    Parameters
    ----------
    target
        A problem folder (starts a new session) or a session folder (resumes it).
    session
        A session path or id to resume; ``target`` may then be None or the problem folder
        (useful when the problem folder moved since the session started).
    agent, replay_file
        The agent backend, and the proposals file the ``replay`` backend plays.
    sessions_root
        Where new sessions are created and session ids are looked up.
    options
        Harness settings (tests shrink the sampling) and the agent budget.
    agent_model
        The Claude model for ``--agent anthropic`` (else ``$ANTHROPIC_MODEL`` or the default).

    Returns
    -------
    Workbench
        Holding the session open for writing; close it with ``workbench.session.close()``.
        ``workbench.notes`` lists what the user should know (recovered files, changed data).

    Raises
    ------
    WorkbenchError
        A problem or session that cannot be opened, or an agent that cannot be built.
    """
    from engine.agents import make_agent
    from engine.problem_load import load_problem
    from engine.store import Session, find_session, is_session_dir

    root = Path(sessions_root)
    problem_path = Path(target) if target is not None else None
    if session is None and problem_path is not None:
        # A session folder holds a reference copy of problem.toml too: test for a session first.
        if is_session_dir(problem_path) or not (problem_path / "problem.toml").is_file():
            check_target(target, None, root)
            session, problem_path = target, None
    if session is not None:
        opened = Session.open(find_session(session, root))
        try:
            problem = load_problem(problem_path or opened.info.problem_path)
        except WorkbenchError as exc:
            opened.close()
            raise WorkbenchError(
                f"{exc}\nThe session {opened.path} was started from {opened.info.problem_path}; "
                "if the problem folder moved, pass it as well: workbench open PROBLEM --session SESSION"
            ) from exc
    elif problem_path is not None:
        problem = load_problem(problem_path)
        opened = Session.create(problem, root)
    else:
        raise WorkbenchError("nothing to open: pass a problem folder (problems/ihdp) or a session (sessions/<id>)")
    try:
        agent_options: dict[str, Any] = {}
        if agent == "replay":
            if replay_file is None:
                raise WorkbenchError("--agent replay needs --replay-file FILE (a JSON or TOML list of proposals)")
            agent_options["path"] = Path(replay_file)
        if agent == "anthropic" and agent_model:
            agent_options["model"] = agent_model
        workbench = Workbench(problem, opened, make_agent(agent, **agent_options), options)
    except BaseException:
        opened.close()
        raise
    workbench.notes.extend(opened.recovered)
    deprecation = getattr(workbench.agent, "deprecation", None)
    if deprecation:
        workbench.notes.append(deprecation)
    recorded_hash = opened.info.data_hash
    if recorded_hash and recorded_hash != problem.data_hash:
        workbench.notes.append(
            f"the data file {problem.data_file} changed since this session started "
            "(its hash differs from session.json): earlier iterations were scored on other data, "
            "so compare ELPD across this point with care"
        )
    return workbench
