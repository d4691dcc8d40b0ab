"""Text that shows on a screen as it is: no control characters and no invisible reordering.

An escape sequence reaches the principal's terminal as a command (clear the screen, a hidden
hyperlink); a right-to-left override shows ``exe.txt`` as ``txt.exe``, and in code shows one
program while Python runs another (Trojan Source, CVE-2021-42574). Agent-written prose is
cleaned (:func:`showable`); agent-written code is refused by the guard instead
(:func:`unshowable_lines`), since what the principal reads must be exactly what runs.
"""

from __future__ import annotations

import re

UNSHOWABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
"""Control characters (tab and newline aside) and the invisible ones that reorder or hide text."""
REPLACEMENT = "\ufffd"
"""What an unshowable character becomes in cleaned text: visible, and never a command."""


def showable(text: str) -> str:
    """``text`` with every unshowable character replaced by U+FFFD.

    Parameters
    ----------
    text
        Prose from outside the engine: an agent's hypothesis, a child's error message.

    Returns
    -------
    str
        The same string when there was nothing to replace.
    """
    if not UNSHOWABLE.search(text):
        return text
    return UNSHOWABLE.sub(REPLACEMENT, text.replace("\r\n", "\n"))  # a Windows line end is a line end


def unshowable_lines(text: str) -> list[tuple[int, str]]:
    """Each line of ``text`` that holds an unshowable character, with the first one's code point.

    A carriage return ending a line (Windows line ends) is not counted.

    Parameters
    ----------
    text
        A file's text.

    Returns
    -------
    list of (int, str)
        1-based line numbers and ``U+XXXX`` names, in order.
    """
    found = []
    for number, line in enumerate(text.split("\n"), start=1):
        match = UNSHOWABLE.search(line.removesuffix("\r"))
        if match:
            found.append((number, f"U+{ord(match.group()):04X}"))
    return found


def spelled_out(code: str) -> str:
    """``code`` with each unshowable character written out as ``⟨U+202E⟩``, for showing code that holds one.

    Code is never cleaned (what is shown must be what ran); where the guard's blocker was
    overridden, the screen and the report spell the character out instead of obeying it.

    Parameters
    ----------
    code
        A file's text or a diff.

    Returns
    -------
    str
        The same string when there was nothing to spell out.
    """
    if not UNSHOWABLE.search(code):
        return code
    return UNSHOWABLE.sub(lambda m: f"⟨U+{ord(m.group()):04X}⟩", code)
