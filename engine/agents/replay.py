"""The replay agent: proposals read from a file, for demos and tests.

The file is JSON (a list, or an object with a ``proposals`` list) or TOML (an array of
tables ``[[proposals]]``). Each entry has a ``hypothesis``, optionally a ``rationale``,
a ``loop`` (``model`` by default) and a ``move``, and exactly one of

- ``file``: a path, relative to the replay file, whose text is the new file;
- ``new_source``: the new file's text;
- ``diff``: a unified diff applied to the current best file.

Entries are played in order for the context's loop; the position is recovered from the
session history, so a resumed session continues where it stopped. When they run out,
:meth:`ReplayAgent.propose` raises :class:`~engine.errors.AgentError`.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from engine.agents.base import Agent, AgentContext
from engine.errors import AgentError
from engine.records import Loop, Proposal

SOURCE_KEYS = ("file", "new_source", "diff")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class ReplayEntry:
    """One proposal from a replay file, before it meets the current best file."""

    loop: Loop
    hypothesis: str
    rationale: str
    move: str | None
    new_source: str | None = None
    diff: str | None = None

    def source_for(self, old: str) -> str:
        """The entry's new file, given the current best one.

        Parameters
        ----------
        old
            The current best file, which a ``diff`` entry is applied to.

        Returns
        -------
        str
            ``new_source`` when the entry has one, else ``old`` with the diff applied.

        Raises
        ------
        AgentError
            When the diff does not apply (see :func:`apply_unified_diff`).
        """
        return self.new_source if self.new_source is not None else apply_unified_diff(old, self.diff or "")


def load_replay_file(path: str | Path) -> list[ReplayEntry]:
    """Read and validate a replay file.

    Parameters
    ----------
    path
        A ``.toml`` file (read as TOML) or any other (read as JSON).

    Returns
    -------
    list of ReplayEntry
        In file order; the texts of ``file`` entries already read.

    Raises
    ------
    AgentError
        When the file is missing, does not parse, or an entry is malformed; the message
        names the entry and what to fix.
    """
    path = Path(path)
    if not path.is_file():
        raise AgentError(f"replay file {path} does not exist; pass an existing JSON or TOML file (--replay-file FILE)")
    text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise AgentError(f"replay file {path} does not parse: {exc}") from exc
    if isinstance(raw, dict):
        raw = raw.get("proposals", raw.get("proposal"))
    if not isinstance(raw, list):
        raise AgentError(f"replay file {path} must hold a list of proposals (JSON list, or [[proposals]] in TOML)")
    return [_entry(item, i, path) for i, item in enumerate(raw, start=1)]


def _entry(item: object, index: int, path: Path) -> ReplayEntry:
    where = f"replay file {path}, proposal {index}"
    if not isinstance(item, dict):
        raise AgentError(f"{where} must be a table/object")
    hypothesis = item.get("hypothesis")
    if not isinstance(hypothesis, str) or not hypothesis.strip():
        raise AgentError(f"{where} needs a 'hypothesis' (one sentence)")
    given = [k for k in SOURCE_KEYS if k in item]
    if len(given) != 1:
        raise AgentError(f"{where} needs exactly one of {', '.join(SOURCE_KEYS)}; it has {', '.join(given) or 'none'}")
    try:
        loop = Loop(item.get("loop", Loop.MODEL.value))
    except ValueError:
        raise AgentError(f"{where}: loop must be 'model' or 'design', not {item.get('loop')!r}") from None
    new_source = diff = None
    if "file" in item:
        file = path.parent / str(item["file"])
        if not file.is_file():
            raise AgentError(f"{where}: file {file} does not exist")
        new_source = file.read_text(encoding="utf-8")
    elif "new_source" in item:
        new_source = str(item["new_source"])
    else:
        diff = str(item["diff"])
    move = item.get("move")
    return ReplayEntry(
        loop=loop,
        hypothesis=hypothesis.strip(),
        rationale=str(item.get("rationale", "")).strip(),
        move=str(move) if move else None,
        new_source=new_source,
        diff=diff,
    )


class ReplayAgent(Agent):
    """Plays proposals from a file in order.

    Parameters
    ----------
    path
        A JSON or TOML replay file (see the module docstring for its shape).
    """

    name = "replay"
    loops = frozenset(Loop)
    offline = True
    can_repair = False

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.entries = load_replay_file(self.path)
        self._served: dict[Loop, int] = {}

    def propose(self, context: AgentContext) -> Proposal:
        """The next entry for ``context.loop``.

        Parameters
        ----------
        context
            The context; its loop's entries are played in order, after those its history
            already holds.

        Returns
        -------
        Proposal
            The entry's file, with ``origin`` naming the replay file and the entry's number.

        Raises
        ------
        AgentError
            When the file has no more entries for this loop, or the entry's diff does not apply.
        """
        self.check_loop(context)
        entries = [e for e in self.entries if e.loop is context.loop]
        played = sum(1 for r in context.loop_history if r.proposal.agent == self.name)
        position = max(played, self._served.get(context.loop, 0))
        if position >= len(entries):
            raise AgentError(
                f"replay file {self.path} has no more {context.loop.value}-loop proposals "
                f"(all {len(entries)} played); add entries or switch to another agent"
            )
        entry = entries[position]
        self._served[context.loop] = position + 1
        return Proposal(
            loop=context.loop,
            hypothesis=entry.hypothesis,
            rationale=entry.rationale,
            old_source=context.best_source,
            new_source=entry.source_for(context.best_source),
            agent=self.name,
            move=entry.move,
            origin=f"{self.path} #{position + 1}",
        )


def apply_unified_diff(source: str, diff: str) -> str:
    """Apply a unified diff to ``source`` strictly: every context and removed line must match.

    Parameters
    ----------
    source
        The file to patch.
    diff
        A unified diff; file headers and anything else outside a hunk are skipped.

    Returns
    -------
    str
        The patched file.

    Raises
    ------
    AgentError
        When the diff has no hunks, a hunk line is malformed, or a hunk does not match the source.

    Examples
    --------
    >>> apply_unified_diff("a\\nb\\n", "@@ -1,2 +1,2 @@\\n a\\n-b\\n+c\\n")
    'a\\nc\\n'
    """
    lines = source.splitlines(keepends=True)
    out: list[str] = []
    cursor = 0  # index into lines of the next line not yet copied
    hunks = 0
    diff_lines = diff.splitlines(keepends=True)
    i = 0
    while i < len(diff_lines):
        match = _HUNK.match(diff_lines[i])
        i += 1
        if not match:
            continue  # file headers (---, +++), git metadata
        hunks += 1
        old_left = int(match.group(2)) if match.group(2) is not None else 1
        new_left = int(match.group(4)) if match.group(4) is not None else 1
        old: list[str] = []
        new: list[str] = []
        last = ""
        while i < len(diff_lines) and (old_left > 0 or new_left > 0 or diff_lines[i].startswith("\\")):
            line = diff_lines[i]
            i += 1
            tag, text = line[:1], line[1:]
            if tag == "\\":  # "\ No newline at end of file" refers to the line before
                for target, kind in ((old, "-"), (new, "+")):
                    if target and last in (kind, " "):
                        target[-1] = target[-1].rstrip("\n")
                continue
            if tag in (" ", "\n", ""):
                text = text if tag == " " else "\n"
                old.append(text)
                new.append(text)
                old_left, new_left, last = old_left - 1, new_left - 1, " "
            elif tag == "-":
                old.append(text)
                old_left, last = old_left - 1, "-"
            elif tag == "+":
                new.append(text)
                new_left, last = new_left - 1, "+"
            else:
                raise AgentError(f"the replayed diff has a malformed hunk line: {line.rstrip()!r}")
        start = int(match.group(1)) - 1 if old else int(match.group(1))
        start = _locate(lines, old, max(start, cursor), cursor)
        out.extend(lines[cursor:start])
        out.extend(new)
        cursor = start + len(old)
    if not hunks:
        raise AgentError("the replayed diff has no hunks (@@ -a,b +c,d @@ lines); give new_source or file instead")
    out.extend(lines[cursor:])
    return "".join(out)


def _locate(lines: list[str], old: list[str], hint: int, floor: int) -> int:
    def fits(at: int) -> bool:
        return [s.rstrip("\n") for s in lines[at : at + len(old)]] == [s.rstrip("\n") for s in old]

    if fits(hint):
        return hint
    for at in range(floor, len(lines) - len(old) + 1):
        if fits(at):
            return at
    shown = "".join(old[:3]).rstrip()
    raise AgentError(f"the replayed diff does not apply to the current file; no match for:\n{shown}")
