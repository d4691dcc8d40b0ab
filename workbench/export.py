"""Exporting a session from the app: the report's documents and a note for the user.

Runs in the app's ``export`` worker; :mod:`engine.report` is imported inside the function.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.opening import Opened


def export_session(opened: Opened) -> tuple[list[Path], str]:
    """Write the session report (HTML and Markdown, :func:`engine.report.write_report`).

    Returns the documents written (figures left out) and a note for the user.
    """
    from engine.report import write_report

    paths = [Path(p) for p in write_report(opened.session.path)]
    documents = [p for p in paths if p.suffix in (".html", ".md")] or paths
    figures = len(paths) - len(documents)
    return documents, f"{figures} figure(s) beside them" if figures else ""
