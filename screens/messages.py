"""Typed messages the app's thread workers post back to the UI thread.

Workers never touch widgets; they post one of these and a handler on the UI thread
updates the screens (Harlequin's pattern). Progress messages are small and merged with
``can_replace`` so a flood of them never queues up (Toolong's pattern).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from engine.loop import Reviewed
    from engine.records import Decision, IterationRecord


@dataclass
class SessionOpened(Message):
    """The problem, session and workbench are loaded (see :class:`workbench.app.Opened`)."""

    opened: Any


@dataclass
class RecordsChanged(Message):
    """The session's iterations, re-read after a commit."""

    records: list[IterationRecord]


@dataclass
class StatusChanged(Message):
    """One line for the status bar: what the agent or the harness is doing now."""

    text: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatusChanged)


@dataclass
class ProposalReady(Message):
    """A proposal with the guard and compile check done, awaiting the principal."""

    reviewed: Reviewed
    edited: bool = False
    number: int | None = None  # the iteration number it will get


@dataclass
class SamplingProgressed(Message, bubble=False):
    """Live progress from the sampler: the latest replaces any not yet shown."""

    progress: Any

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SamplingProgressed)


@dataclass
class IterationRecorded(Message):
    """The harness (or a rejection) produced a record, now one commit in the session."""

    record: IterationRecord
    records: list[IterationRecord] = field(default_factory=list)
    then_propose: bool = False


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
class Exported(Message):
    paths: list[Path]
    note: str = ""
