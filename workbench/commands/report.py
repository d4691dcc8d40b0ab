"""``workbench report SESSION [--format html|md|both] [--out DIR]``.

Writes the session report — a self-contained HTML file and/or Markdown with its figures —
into ``<session>/report/`` (or ``--out``) and prints where. Exit codes: 0 written,
2 invalid input (no such session, unwritable folder).
"""

from __future__ import annotations

import argparse
from pathlib import Path

FORMATS = {"html": ("html",), "md": ("md",), "both": ("html", "md")}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", help="session folder or id (e.g. sessions/ihdp-20261122-101500, or a unique prefix)")
    parser.add_argument("--format", choices=tuple(FORMATS), default="both", help="html, md or both (default)")
    parser.add_argument("--out", type=Path, help="folder to write into (default: <session>/report/)")
    parser.add_argument("--sessions-root", type=Path, default=Path("sessions"), help="where session ids are looked up")


def run(args: argparse.Namespace) -> int:
    from engine.report import write_report
    from engine.store import find_session

    session = find_session(args.session, args.sessions_root)
    written = write_report(session, args.out, FORMATS[args.format])
    figures = [p for p in written if p.suffix == ".png"]
    for path in written:
        if path.suffix != ".png":
            print(_shown(path))
    if figures:
        print(f"{_shown(figures[0].parent)}/ ({len(figures)} figures for the Markdown)")
    return 0


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
