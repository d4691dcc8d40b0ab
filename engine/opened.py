"""What opening a session yields for a screen to show: a light record, cheap to import.

:func:`workbench.opening.open_workbench` fills it in a worker thread; the screens read it
through the :class:`screens.messages.SessionOpened` message. Every type is named for the
type checker only, so importing this module loads nothing of the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.iteration import IterationRecord
    from engine.loop import Reviewed, Workbench
    from engine.problem import Problem
    from engine.store import Session
    from engine.summary import ArmSummary


@dataclass
class Opened:
    """Everything the open worker loads: the UI reads it, only workers call into it."""

    problem: Problem
    session: Session
    workbench: Workbench
    summary: ArmSummary
    records: list[IterationRecord] = field(default_factory=list)
    pending: Reviewed | None = None
    next_number: int = 1
    recovered: tuple[str, ...] = ()
    sandbox_warning: str | None = None  # set when agent code runs without the namespace sandbox
