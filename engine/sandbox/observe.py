"""What the parent reads of a child it does not trust: its resident set size in ``/proc`` and
the tail of the log it wrote (without following symlinks the child may have planted).
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.sandbox.settings import _LOG_TAIL_LINES


def _read_rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _read_tail(path: Path, lines: int = _LOG_TAIL_LINES, max_bytes: int = 8192) -> str:
    """The end of a log the child wrote (not following symlinks it may have planted)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return ""
    with os.fdopen(fd, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - max_bytes))
        text = fh.read().decode("utf-8", "replace")
    kept = [line for line in text.splitlines() if not line.startswith("Extension modules:")]  # faulthandler's list
    return "\n".join(kept[-lines:])
