"""What the error dialog says when a worker fails: a title per worker group and a message.

User errors (:class:`engine.errors.WorkbenchError`) keep the engine's own words; anything
else is a bug and gets a short traceback.
"""

from __future__ import annotations

import traceback

TITLES = {
    "open": "Could not open",
    "agent": "The agent could not propose",
    "run": "The run failed",
    "files": "Not saved",
    "export": "Export failed",
    "arrays": "Could not load the draws",
}


def describe_error(group: str, error: BaseException | None) -> tuple[str, str]:
    """A dialog title and message: the engine's own words for user errors, a traceback for bugs."""
    from engine.errors import WorkbenchError

    title = TITLES.get(group, "Something failed")
    if isinstance(error, WorkbenchError):
        message = str(error)
    else:
        lines = traceback.format_exception(error, limit=-3) if error is not None else ["unknown error"]
        message = (
            f"{type(error).__name__}: {error}\n\nThis is a bug in the workbench; nothing recorded was lost "
            "and a pending proposal is still pending.\n\n" + "".join(lines)
        )
    if group == "run":
        message += "\n\nThe proposal is still pending: review it again, or reject it."
    return title, message
