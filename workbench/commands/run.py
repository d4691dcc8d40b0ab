"""``workbench run PROBLEM`` — the agent loop, headless, under an approval policy.

Progress goes to stderr; the results table (or, with ``--json``, one JSON object) to stdout,
also when the run stops early. The exit code says how the run ended (:data:`EXIT_CODES`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import TaskID

POLICIES = ("guard-clean", "stop-at-blocker", "ignore-guard", "none")
"""The names of :class:`engine.headless.Approval`, in the order --help lists them."""

EXIT_CODES = {
    "finished": 0,
    "error": 1,
    "awaiting-review": 3,
    "agent-stopped": 4,
    "interrupted": 130,
}
"""Exit code by :class:`engine.headless.Outcome`; 2 is bad input (``workbench.cli``), before anything is written."""

EPILOG = """\
approval policies (--approve); every policy rejects a proposal that does not compile:
  guard-clean      run proposals with no guard blocker; reject a blocked one (the reason is
                   recorded and the agent reads it) and go on (default)
  stop-at-blocker  as guard-clean, but stop at the first blocked proposal and leave it
                   pending for review in the TUI (exit 3)
  ignore-guard     run blocked proposals too, each recorded with an override naming its
                   blockers (only for an agent you trust)
  none             run nothing: stop at the first proposal and leave it pending (exit 3)

exit codes:
  0    every iteration asked for was recorded
  1    stopped by an error (harness, session store, sandbox); the message says which
  2    bad input, nothing written: a problem folder, problem.toml, data file or option
       that is invalid, or a session that cannot be opened
  3    stopped: a proposal awaits review (workbench open SESSION)
  4    stopped: the agent had nothing more to propose, or its backend failed
  130  interrupted (Ctrl-C)
With --json the summary object is printed on stdout for every code but 2; its "outcome"
is finished, error, awaiting-review, agent-stopped or interrupted."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("problem", type=Path, nargs="?", help="problem folder, e.g. problems/ihdp")
    parser.add_argument("--iterations", "-n", type=_iterations, default=10, help="iterations to run (default 10)")
    parser.add_argument("--agent", default="heuristic", help="heuristic (default, offline), anthropic or replay")
    parser.add_argument("--replay-file", type=Path, help="proposals for the replay agent (JSON or TOML)")
    from workbench.config import add_agent_arguments

    add_agent_arguments(parser)
    parser.add_argument(
        "--approve",
        type=_policy,
        default="guard-clean",
        metavar="{" + ",".join(POLICIES) + "}",
        help="approval policy (default guard-clean; see below)",
    )
    parser.add_argument(
        "--loop",
        choices=("model", "design"),
        default="model",
        help="model: edit model.py, judged by gates and PSIS-LOO; design: edit analysis.toml",
    )
    parser.add_argument("--resume", metavar="SESSION", help="continue a session (path or id) instead of starting one")
    parser.add_argument("--sessions-root", type=Path, default=Path("sessions"), help="where sessions live")
    parser.add_argument("--chains", type=_sampling("chains"), help="override the problem's nutpie chains (1–64)")
    parser.add_argument("--draws", type=_sampling("draws"), help="override the problem's draws per chain (10–100,000)")
    parser.add_argument(
        "--tune", type=_sampling("tune"), help="override the problem's tuning steps per chain (10–100,000)"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="end with one JSON object on stdout (for scripts), also when the run stops early",
    )


def run(args: argparse.Namespace) -> int:
    from engine.errors import WorkbenchError
    from engine.headless import HeadlessRun
    from engine.launch import open_workbench
    from workbench.render import console, literal

    if args.problem is None and args.resume is None:
        raise WorkbenchError("name a problem folder (e.g. problems/ihdp) or --resume a session")
    err = console(stderr=True)
    from workbench.config import resolve_agent_settings

    settings = resolve_agent_settings(args.model, args.budget_usd, args.agent)
    options = _options(args, settings.budget_usd)
    workbench = open_workbench(
        args.problem,
        session=args.resume,
        sessions_root=args.sessions_root,
        agent=args.agent,
        replay_file=args.replay_file,
        options=options,
        agent_model=settings.model,
    )
    with workbench.session:
        from engine.sandbox import isolation_report

        warning = isolation_report().warning
        for note in [*workbench.notes, *([warning] if warning else [])]:
            err.print("[yellow]note:[/] ", literal(note), sep="", soft_wrap=True)
        err.print(
            "session ",
            literal(workbench.session.path, "bold"),
            " · agent ",
            literal(workbench.agent.name),
            f" · approve {args.approve}",
            sep="",
            soft_wrap=True,
        )
        headless = HeadlessRun(workbench, policy=args.approve, loop=args.loop)
        try:
            with _ProgressView(err) as view:
                headless.run(args.iterations, on_event=view.update)
        except (KeyboardInterrupt, WorkbenchError):
            pass  # headless.outcome and headless.stopped_because say what happened
        except BaseException:
            _report(headless, args, err)  # then the traceback: a bug, exit 1
            raise
        _report(headless, args, err)
    assert headless.outcome is not None  # run() sets it on every way out that returns
    return EXIT_CODES[headless.outcome.value]


def _report(headless, args: argparse.Namespace, err) -> None:
    """The summary (JSON) or the results table, and the lines that say how the run ended."""
    import json

    from workbench.render import console, literal, results_table

    try:
        summary = headless.summary()
        records = headless.workbench.session.iterations()
    except Exception as exc:  # the session itself is what failed: say so, keep what we know
        summary = {
            "session": str(headless.workbench.session.path),
            "loop": headless.loop.value,
            "policy": headless.policy.value,
            "outcome": headless.outcome.value if headless.outcome else None,
            "this_run": len(headless.recorded),
            "stopped_because": headless.stopped_because or None,
            "summary_error": f"{type(exc).__name__}: {exc}",
        }
        records = None
    if args.json:
        print(json.dumps(summary, indent=2), flush=True)
        if headless.outcome is not None and headless.outcome.value in ("error", "interrupted"):
            # the other early stops were already logged as they happened
            err.print("workbench: ", literal(headless.stopped_because), sep="", soft_wrap=True)
        return
    if records is not None:
        out = console()
        out.print(results_table(records, loop=args.loop, width=out.width))
        lines = headless.closing_lines()
    else:
        lines = [headless.stopped_because, f"could not read the session: {summary['summary_error']}"]
    for line in lines:
        err.print(literal(line), soft_wrap=True)


def _options(args: argparse.Namespace, budget_usd: float | None):
    """Harness options with any sampling overrides from the command line (already bounded), and the budget."""
    from engine.loop import RunOptions

    overrides = {k: getattr(args, k) for k in ("chains", "draws", "tune") if getattr(args, k) is not None}
    if not overrides and budget_usd is None:
        return None
    return RunOptions(sampling_overrides=overrides or None, budget_usd=budget_usd)


def _policy(value: str) -> str:
    from engine.errors import WorkbenchError
    from engine.headless import Approval

    try:
        return Approval.parse(value).value
    except WorkbenchError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _iterations(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--iterations must be a whole number, not {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"--iterations must be 0 or more, not {number}")
    return number


def _sampling(key: str):
    """An argparse type holding ``--chains``/``--draws``/``--tune`` to the bounds problem.toml has."""

    def parse(value: str) -> int:
        from engine.problem import sampling_issue

        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(str(sampling_issue(key, value, f"--{key}"))) from None
        issue = sampling_issue(key, number, f"--{key}")
        if issue:
            raise argparse.ArgumentTypeError(issue)
        return number

    parse.__name__ = key  # argparse names the type in some messages
    return parse


class _ProgressView:
    """A Rich progress bar for the iteration count plus a line for the current stage."""

    def __init__(self, console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[stage]}", markup=False),
            console=console,
            transient=True,
        )
        self.task: TaskID | None = None

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def update(self, event) -> None:
        from workbench.render import literal

        if self.task is None:
            self.task = self.progress.add_task("iterations", total=event.total, stage="")
        self.progress.update(self.task, completed=event.done, stage=event.stage)
        if event.line:
            self.console.print(literal(event.line), soft_wrap=True)
