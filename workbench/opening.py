"""Opening a session for the app: what ``workbench open`` asked for, and what the open worker loads.

A thin wrapper around :func:`engine.launch.open_workbench` that also reads what the home
screen shows. No Textual here, and the engine is imported inside the function, so the
app can import this module before its first frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.opened import Opened

if TYPE_CHECKING:
    from engine.loop import RunOptions


@dataclass(frozen=True)
class OpenRequest:
    """What ``workbench open`` was asked to open (see :func:`open_workbench`)."""

    target: str | Path | None
    session: str | Path | None = None
    agent: str = "heuristic"
    replay_file: Path | None = None
    sessions_root: Path = Path("sessions")
    options: RunOptions | None = None
    warm_up: bool = True
    agent_model: str | None = None  # --model: the Claude model for --agent anthropic


def open_workbench(request: OpenRequest) -> Opened:
    """Open the workbench (:func:`engine.launch.open_workbench`) and read what the home screen shows.

    Runs in a worker thread: it imports pandas and git, reads the data and the session.

    Raises
    ------
    WorkbenchError
        A problem or session that cannot be opened, or an agent that cannot be built.
    """
    from engine.launch import open_workbench as launch
    from engine.summary import data_summary

    workbench = launch(
        request.target,
        session=request.session,
        agent=request.agent,
        replay_file=request.replay_file,
        sessions_root=request.sessions_root,
        options=request.options,
        agent_model=request.agent_model,
    )
    session = workbench.session
    try:
        opened = Opened(
            problem=workbench.problem,
            session=session,
            workbench=workbench,
            summary=data_summary(workbench.problem),
            records=session.iterations(),
            pending=workbench.pending(),
            next_number=session.next_number(),
            recovered=tuple(getattr(workbench, "notes", ()) or ()),
            sandbox_warning=_sandbox_warning(),
        )
    except BaseException:
        session.close()
        raise
    if request.warm_up:
        _warm_up_sandbox(workbench.problem)
    return opened


def _sandbox_warning() -> str | None:
    from engine.sandbox import isolation_report

    return isolation_report().warning


def _warm_up_sandbox(problem) -> None:
    """Start the sandbox's warm server, and warm the trusted compiler cache with the problem's baseline."""
    from engine.cache_warmer import warm_in_background
    from engine.sandbox import warm_up
    from engine.sandbox.cache import ReferenceModel

    warm_up()
    warm_in_background([ReferenceModel(problem.read_text("model.py"), problem.model_data())])
