"""Write a session's report to disk: ``report.html`` (self-contained) and ``report.md``
with its figures as PNG files in ``figures/``.

The default folder is ``<session>/report/``: a derived artefact, regenerable at any
time, so it must never enter the session's history. New sessions ignore it through
their ``.gitignore``; for sessions created before that line existed, the writer adds it
to the repository's local ``.git/info/exclude`` — otherwise the next writable open would
take the folder for an unfinished write and clean it away.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from engine.errors import WorkbenchError

REPORT_DIR = "report"
HTML_FILE = "report.html"
MARKDOWN_FILE = "report.md"
FORMATS = ("html", "md")


def write_report(
    session_path: str | Path,
    out_dir: str | Path | None = None,
    formats: Iterable[str] = FORMATS,
) -> list[Path]:
    """Build the report of a session and write it in the requested formats.

    Parameters
    ----------
    session_path
        The session folder.
    out_dir
        Where to write; default ``<session>/report/`` (kept out of the session's git).
    formats
        Any of ``"html"`` and ``"md"``.

    Returns
    -------
    list of pathlib.Path
        The documents written (HTML first, then Markdown), then the figure files.

    Raises
    ------
    WorkbenchError
        An unknown format, or a folder that cannot be written.
    SessionError
        The session cannot be read.
    """
    from engine.report.build import build_report
    from engine.report.html import render_html
    from engine.report.markdown import FIGURES_DIR, render_markdown

    wanted = tuple(dict.fromkeys(formats))
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown or not wanted:
        raise WorkbenchError(f"unknown report format {', '.join(unknown) or '(none)'}; choose from html, md")
    session = Path(session_path).resolve()
    target = Path(out_dir).resolve() if out_dir is not None else session / REPORT_DIR
    report = build_report(session)
    if target == session / REPORT_DIR:
        exclude_from_git(session, REPORT_DIR)
    written: list[Path] = []
    figure_files: list[Path] = []
    try:
        target.mkdir(parents=True, exist_ok=True)
        if "html" in wanted:
            path = target / HTML_FILE
            path.write_text(render_html(report), encoding="utf-8")
            written.append(path)
        if "md" in wanted:
            folder = target / FIGURES_DIR
            folder.mkdir(exist_ok=True)
            for figure in report.figures:
                path = folder / figure.filename
                path.write_bytes(figure.png)
                figure_files.append(path)
            path = target / MARKDOWN_FILE
            path.write_text(render_markdown(report, FIGURES_DIR), encoding="utf-8")
            written.append(path)
    except OSError as exc:
        raise WorkbenchError(
            f"cannot write the report to {target}: {exc.strerror}; pass another folder with --out"
        ) from exc
    return written + figure_files


def exclude_from_git(session: Path, name: str) -> None:
    """List ``/<name>/`` in the session repository's ``.git/info/exclude`` unless its ``.gitignore`` does.

    Local to this clone and never committed: it only keeps git (and the session's
    recovery, which cleans untracked files) away from a derived folder.

    Parameters
    ----------
    session
        The session folder (a git repository).
    name
        The folder, relative to ``session``, to keep out of git (``report``).

    Raises
    ------
    WorkbenchError
        When ``.git/info/exclude`` cannot be read or written.
    """
    pattern = f"/{name}/"
    gitignore = session / ".gitignore"
    try:
        if gitignore.is_file() and pattern in gitignore.read_text(encoding="utf-8").splitlines():
            return
        exclude = session / ".git" / "info" / "exclude"
        existing = exclude.read_text(encoding="utf-8") if exclude.is_file() else ""
        if pattern in existing.splitlines():
            return
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with open(exclude, "a", encoding="utf-8") as fh:
            if existing and not existing.endswith("\n"):
                fh.write("\n")
            fh.write(f"# the session report (workbench report): derived, regenerable\n{pattern}\n")
    except OSError as exc:
        raise WorkbenchError(f"cannot keep {name}/ out of the session's git ({exc.strerror}); pass --out DIR") from exc
