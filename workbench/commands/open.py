"""``workbench open PROBLEM|SESSION [--session S] [--agent heuristic|anthropic|replay]``.

Opens the TUI. A problem folder starts a new session under ``--sessions-root``; a session
folder or id (or ``--session``) resumes one. Textual and the app are imported inside
:func:`run`, so ``workbench --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from workbench.config import add_agent_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        nargs="?",
        help="problem folder (problems/ihdp: starts a new session) or session folder / id (resumes it)",
    )
    parser.add_argument("--session", help="resume this session (folder or id); TARGET may then name the problem")
    parser.add_argument(
        "--agent",
        default="heuristic",
        choices=("heuristic", "anthropic", "replay"),
        help="who proposes: heuristic (offline, default), anthropic (needs ANTHROPIC_API_KEY), replay (a file)",
    )
    parser.add_argument("--replay-file", type=Path, help="proposals for --agent replay (JSON or TOML)")
    add_agent_arguments(parser)
    parser.add_argument(
        "--sessions-root", type=Path, default=Path("sessions"), help="where sessions live (default: sessions/)"
    )
    parser.add_argument("--light", action="store_true", help="start with the light theme")
    parser.add_argument(
        "--keymap",
        type=Path,
        default=None,
        help="TOML file remapping keys by binding id (default: $WORKBENCH_KEYMAP or ~/.config/causal-workbench/keymap.toml)",
    )


def run(args: argparse.Namespace) -> int:
    from engine.errors import WorkbenchError
    from workbench.app import DARK_THEME, LIGHT_THEME, create_app
    from workbench.keymap import load_keymap

    if args.target is None and args.session is None:
        raise WorkbenchError("nothing to open: pass a problem folder (workbench open problems/ihdp) or --session ID")
    if args.agent == "replay" and args.replay_file is None:
        raise WorkbenchError("--agent replay needs --replay-file FILE")
    from engine.launch import check_target
    from engine.loop import RunOptions
    from workbench.config import resolve_agent_settings

    check_target(args.target, args.session, args.sessions_root)  # a bad target stops here, before the TUI
    settings = resolve_agent_settings(args.model, args.budget_usd, args.agent)
    keymap_path = args.keymap or (Path(os.environ["WORKBENCH_KEYMAP"]) if os.environ.get("WORKBENCH_KEYMAP") else None)
    app = create_app(
        args.target,
        session=args.session,
        agent=args.agent,
        replay_file=args.replay_file,
        sessions_root=args.sessions_root,
        options=RunOptions(budget_usd=settings.budget_usd) if settings.budget_usd is not None else None,
        agent_model=settings.model,
        keymap=load_keymap(keymap_path),
        theme=LIGHT_THEME if args.light else DARK_THEME,
    )
    try:
        result = app.run()
    finally:
        app.close_session()
    if app.opened is not None:
        print(f"session: {app.opened.session.path}")
    return int(result or 0)
