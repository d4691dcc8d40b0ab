"""The session report: an account of a session for a reviewer who was not there.

:func:`build_report` collects everything the report shows into a typed
:class:`Report` (numbers copied from the session's records, plots rendered with
matplotlib); :func:`render_html` writes it as one self-contained HTML file,
:func:`render_markdown` as GitHub-flavoured Markdown; :func:`write_report` does both
into ``<session>/report/``.

Examples
--------
>>> from engine.report import write_report
>>> write_report("sessions/ihdp-20261122-101500")  # doctest: +SKIP
[PosixPath('.../report/report.html'), PosixPath('.../report/report.md'), ...]
"""

from engine.report.build import build_report
from engine.report.content import Figure, IterationRow, Report
from engine.report.html import render_html
from engine.report.markdown import render_markdown
from engine.report.write import write_report

__all__ = ["Figure", "IterationRow", "Report", "build_report", "render_html", "render_markdown", "write_report"]
