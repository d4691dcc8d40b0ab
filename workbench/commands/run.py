"""``workbench run PROBLEM`` — the agent loop, headless, under an approval policy.

Progress goes to stderr; the results table (or, with ``--json``, one JSON object) to stdout.
"""

from __future__ import annotations

import argparse
from pathlib import Path

POLICIES = ("auto", "guard-clean", "none")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("problem", type=Path, nargs="?", help="problem folder, e.g. problems/ihdp")
    parser.add_argument("--iterations", "-n", type=int, default=10, help="iterations to run (default 10)")
    parser.add_argument("--agent", default="heuristic", help="heuristic (default, offline), anthropic or replay")
    parser.add_argument("--replay-file", type=Path, help="proposals for the replay agent (JSON or TOML)")
    parser.add_argument("--approve", choices=POLICIES, default="guard-clean",
                        help="approval policy: auto (everything), guard-clean (no blocker findings, default), "
                             "none (stop at the first proposal and leave it pending for a human)")
    parser.add_argument("--loop", choices=("model", "design"), default="model",
                        help="model: edit model.py, judged by gates and PSIS-LOO; design: edit analysis.toml")
    parser.add_argument("--resume", metavar="SESSION", help="continue a session (path or id) instead of starting one")
    parser.add_argument("--sessions-root", type=Path, default=Path("sessions"), help="where sessions live")
    parser.add_argument("--chains", type=int, help="override the problem's nutpie chains")
    parser.add_argument("--draws", type=int, help="override the problem's draws per chain")
    parser.add_argument("--tune", type=int, help="override the problem's tuning steps per chain")
    parser.add_argument("--json", action="store_true", help="end with one JSON object on stdout (for scripts)")


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from rich.console import Console

    from engine.errors import WorkbenchError
    from engine.headless import HeadlessRun
    from engine.launch import open_workbench
    from workbench.render import results_table

    if args.problem is None and args.resume is None:
        raise WorkbenchError("name a problem folder (e.g. problems/ihdp) or --resume a session")
    err = Console(stderr=True, highlight=False)
    workbench = open_workbench(
        args.problem,
        session=args.resume,
        sessions_root=args.sessions_root,
        agent=args.agent,
        replay_file=args.replay_file,
        options=_options(args),
    )
    with workbench.session:
        for note in workbench.notes:
            err.print(f"[yellow]note:[/] {note}")
        err.print(f"session [bold]{workbench.session.path}[/] · agent {workbench.agent.name} · approve {args.approve}")
        headless = HeadlessRun(workbench, policy=args.approve, loop=args.loop)
        with _ProgressView(err) as view:
            headless.run(args.iterations, on_event=view.update)
        records = workbench.session.iterations()
        if args.json:
            print(json.dumps(headless.summary(), indent=2))
        else:
            Console(highlight=False).print(results_table(records, loop=args.loop))
            for line in headless.closing_lines():
                err.print(line)
    return 0


def _options(args: argparse.Namespace):
    """Harness options with any sampling overrides from the command line."""
    from engine.loop import RunOptions
    from engine.problem import SamplingSettings

    overrides = {k: getattr(args, k) for k in ("chains", "draws", "tune") if getattr(args, k) is not None}
    if not overrides:
        return None
    return RunOptions(sampling_overrides=overrides)


class _ProgressView:
    """A Rich progress bar for the iteration count plus a line for the current stage."""

    def __init__(self, console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("{task.fields[stage]}"), console=console, transient=True,
        )
        self.task = None

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def update(self, event) -> None:
        if self.task is None:
            self.task = self.progress.add_task("iterations", total=event.total, stage="")
        self.progress.update(self.task, completed=event.done, stage=event.stage)
        if event.line:
            self.console.print(event.line)
