"""A proposal awaiting review, kept in ``.workbench/pending.json`` so it survives a kill.

Not part of the history: it becomes history when the principal decides and the iteration
is recorded. Written atomically (temporary file, fsync, rename).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from engine.jsonable import from_dict, to_json
from engine.records import CompileResult, Finding, Proposal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingProposal:
    """A proposal awaiting the principal's review, with what the cheap checks found."""

    number: int  # the iteration number it will get
    proposal: Proposal
    findings: tuple[Finding, ...]
    compile: CompileResult | None
    saved_at: str  # ISO 8601, UTC


def write_pending(path: Path, pending: PendingProposal) -> None:
    """Write the pending proposal atomically: a temporary file, fsync, then a rename.

    Parameters
    ----------
    path
        ``.workbench/pending.json`` of the session; its folder is created if missing.
    pending
        The proposal and what the checks found.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(to_json(pending))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_pending(path: Path) -> PendingProposal | None:
    """The saved proposal, or None if there is none or it cannot be read (logged).

    Parameters
    ----------
    path
        ``.workbench/pending.json`` of the session.

    Returns
    -------
    PendingProposal or None
    """
    if not path.is_file():
        return None
    try:
        return from_dict(PendingProposal, json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, ValueError, KeyError) as exc:
        log.warning("the pending proposal in %s was unreadable (%s); it was ignored", path, exc)
        return None
