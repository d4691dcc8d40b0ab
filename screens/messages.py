"""Typed messages: results the app's thread workers post back, and requests screens send up.

Workers never touch widgets; they post one of these and a handler on the UI thread
updates the screens (Harlequin's pattern). Progress messages are small and merged with
``can_replace`` so a flood of them never queues up (Toolong's pattern). A screen asks the
app for something (open an iteration, save a plan file) by posting a request; it bubbles
up to the app, so screens never call the app's methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from engine.agents.activity import AgentActivity
    from engine.batch.results import BatchProgress
    from engine.batch.run import BatchOutcome
    from engine.batch.store import StoredBatch
    from engine.iteration import IterationRecord
    from engine.loop import Reviewed
    from engine.opened import Opened
    from engine.progress import RunProgress
    from engine.records import Decision
    from engine.stacking import StackedEffect


@dataclass
class SessionOpened(Message):
    """The problem, session and workbench are loaded."""

    opened: Opened


@dataclass
class RecordsChanged(Message):
    """The session's iterations, re-read after a commit."""

    records: list[IterationRecord]


@dataclass
class AgentActivityChanged(Message):
    """A streaming agent call moved on: tokens so far, the coder's file so far, or a retry countdown."""

    activity: AgentActivity

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, AgentActivityChanged)


@dataclass
class StatusChanged(Message):
    """One line for the status bar: what the agent or the harness is doing now."""

    text: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatusChanged)


@dataclass
class PreparedStatus(Message):
    """Where the model child compiled during review stands ("compiled, ready …")."""

    text: str


@dataclass
class ProposalReady(Message):
    """A proposal with the guard and compile check done, awaiting the principal."""

    reviewed: Reviewed
    edited: bool = False
    number: int | None = None  # the iteration number it will get


@dataclass
class SamplingProgressed(Message, bubble=False):
    """Live progress from the sampler or the design run: the latest replaces any not yet shown."""

    progress: RunProgress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SamplingProgressed)


@dataclass
class IterationRecorded(Message):
    """The harness (or a rejection) produced a record, now one commit in the session."""

    record: IterationRecord
    records: list[IterationRecord] = field(default_factory=list)
    then_propose: bool = False


@dataclass
class BatchProgressed(Message, bubble=False):
    """A running batch's counts moved (a task started or was recorded): the latest replaces any not yet shown."""

    progress: BatchProgress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, BatchProgressed)


@dataclass
class BatchFinished(Message):
    """The batch worker returned: every task recorded, or stopped early (what finished is recorded)."""

    outcome: BatchOutcome


@dataclass
class BatchesLoaded(Message):
    """The session's batches, read from its history (oldest first); ``select`` names one to show."""

    batches: list[StoredBatch]
    select: str | None = None


@dataclass
class Decided(Message):
    """The principal decided on the proposal under review."""

    decision: Decision
    then_propose: bool = False


@dataclass
class EditSubmitted(Message):
    """The principal edited the proposed file and wants the edited version approved."""

    source: str


@dataclass
class FileCommitted(Message):
    filename: str
    sha: str


@dataclass
class StackComputed(Message):
    """The model loop's effect stacked over its scored models (None: fewer than two, or none stackable)."""

    stacked: StackedEffect | None


@dataclass
class Exported(Message):
    paths: list[Path]
    note: str = ""


# --------------------------------------------------------------------------- requests, screens → app


@dataclass
class OpenIteration(Message):
    """Show an iteration's verdict, diagnostics, diff and record."""

    record: IterationRecord


@dataclass
class SavePlanFile(Message):
    """Validate and commit an edited plan file (PROBLEM.md, PROGRAM.md or analysis.toml)."""

    filename: str
    text: str


@dataclass
class ReviewShown(Message):
    """A review screen is on screen: the app tells it what it knows (the prepared child's state)."""
