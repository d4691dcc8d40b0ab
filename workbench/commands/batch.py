"""``workbench batch TARGET --by COLUMN | --vary NAME=V1,V2,…`` — many analyses at once, on Dask.

Re-runs the session's best analysis (``--loop design``, the default) or model (``--loop model``)
on each level of a pre-treatment column, at each value of a setting, or both, as Dask tasks:
on a ``LocalCluster`` of this machine's cores, or on a running cluster (``--scheduler`` or
``$DASK_SCHEDULER_ADDRESS``). Each task runs the same sandboxed harness as an approved
iteration; this process alone records the results, one commit per finished task. Running the
same command again resumes: finished tasks are not run twice.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from typing import Any

EPILOG = """\
examples:
  workbench batch problems/retention_email --by wave          a new session, the analysis per wave
  workbench batch sessions/<id> --vary trim=0,0.01,0.05,0.1   the trimming-sensitivity curve
  workbench batch sessions/<id> --by region --trim 0.05       partitions on one trimmed population
  workbench batch sessions/<id> --loop model --by wave        the best model per wave
  workbench batch sessions/<id> --loop model --vary prior_scale=0.1,0.5,1,2
                                                              prior sensitivity of a generated model

population: with --by, propensity and trimming are decided once on the pooled data (the spec's
trim, or --trim) and the same units are left out of every partition; the estimand's label
follows (ATE -> ATO when units are excluded).

exit codes:
  0    every task recorded (failed analyses are recorded too, with their reason)
  1    some tasks raised or lost their workers twice: not recorded; run the command again
  2    bad input, nothing run: an unusable column, setting, session or scheduler
  130  stopped with Ctrl-C: what finished is recorded; run the command again to resume"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("target", help="a session (folder or id) or a problem folder (starts a session)")
    parser.add_argument("--loop", choices=("design", "model"), default="design", help="which best to re-run")
    parser.add_argument("--by", metavar="COLUMN", help="one task per level of this pre-treatment column")
    parser.add_argument("--vary", metavar="NAME=V1,V2", help="one task per value of a setting (e.g. trim=0,0.05,0.1)")
    parser.add_argument("--trim", metavar="T|LOW,HIGH", help="with --by: the pooled population's trimming bounds")
    parser.add_argument(
        "--checks",
        choices=("full", "estimate"),
        default="full",
        help="design: every diagnostic (default) or the estimate with balance and overlap only",
    )
    parser.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler (tcp://host:8786)")
    parser.add_argument("--workers", type=int, help="worker processes of the local cluster (default: one per core)")
    parser.add_argument("--sessions-root", type=Path, default=Path("sessions"), help="where sessions live")


def request_from(args: argparse.Namespace) -> Any:  # a BatchRequest (imported late: the CLI starts fast)
    """The typed request the flags describe.

    Parameters
    ----------
    args
        Parsed flags.

    Returns
    -------
    engine.batch.request.BatchRequest

    Raises
    ------
    BatchError
        Neither --by nor --vary, or a malformed --vary or --trim.
    """
    from engine.batch.request import parse_request

    return parse_request(args.loop, args.by, args.vary, args.checks, args.trim)


def run(args: argparse.Namespace) -> int:
    from engine.batch.cluster import dask_client, describe
    from engine.batch.run import run_batch
    from engine.errors import SessionLockedError
    from engine.launch import open_workbench

    request = request_from(args)
    try:
        workbench = open_workbench(args.target, sessions_root=args.sessions_root)
    except SessionLockedError as exc:  # the workbench has it open: the batch screen there runs batches too
        raise SessionLockedError(
            f"{exc}; or, in that workbench, start the batch from the batch screen (B, then n)"
        ) from None
    session, problem = workbench.session, workbench.problem
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: _stop(stop, previous))
    try:
        print(f"session {session.path}", flush=True)
        with dask_client(args.scheduler, args.workers) as client:
            print(describe(client), flush=True)
            with _ProgressBar() as bar:
                outcome = run_batch(session, problem, request, client, on_progress=bar.update, stop=stop)
    finally:
        signal.signal(signal.SIGINT, previous)
        session.close()
    _print_summary(outcome)
    if outcome.stopped:
        print(
            f"stopped: {len(outcome.batch.results)} of {len(outcome.batch.plan.tasks)} recorded; run the same "
            "command again to resume",
            flush=True,
        )
        return 130
    return 1 if outcome.errors else 0


def _stop(stop: threading.Event, previous: Any) -> None:
    """The first Ctrl-C asks the batch to stop cleanly; a second one interrupts at once."""
    if stop.is_set():
        signal.signal(signal.SIGINT, previous)
        raise KeyboardInterrupt
    stop.set()
    print("\nstopping: cancelling the running tasks (Ctrl-C again to interrupt at once)", flush=True)


class _ProgressBar:
    """Rich's progress bar: tasks done of all, running, failed, and the time left at this pace."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("running {task.fields[running]} · failed {task.fields[failed]} · {task.fields[eta]}"),
            TimeElapsedColumn(),
        )
        self._task: Any = None

    def __enter__(self) -> _ProgressBar:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)  # type: ignore[arg-type]

    def update(self, progress: Any) -> None:  # a BatchProgress
        eta = "ETA —" if progress.eta_s is None else f"ETA {progress.eta_s:.0f} s"
        if self._task is None:
            self._task = self._progress.add_task(
                progress.batch_id, total=progress.total, running=0, failed=0, eta="ETA —"
            )
        self._progress.update(
            self._task, completed=progress.done, running=progress.running, failed=progress.failed, eta=eta
        )
        if progress.line:
            self._progress.console.print(progress.line, highlight=False, markup=False)


def _print_summary(outcome: Any) -> None:  # a BatchOutcome
    from engine.batch.series import effect_series

    batch = outcome.batch
    plan = batch.plan
    print(f"\nbatch {plan.id}: {plan.request.describe}; runs {plan.source_from}")
    for population in plan.populations:
        print(f"population: {population.rule}")
    print(f"{'task':<24} {'estimate':>14}  {'interval':<30} {'units':>7}  rating")
    for task in plan.tasks:
        result = batch.results.get(task.key)
        if result is None:
            print(f"{task.key:<24} {'—':>14}  {'not recorded':<30} {task.n_units:>7}")
        elif result.effect is None:
            print(f"{task.key:<24} {'—':>14}  {'failed':<30} {result.n_units:>7}  {result.reason[:60]}")
        else:
            e = result.effect
            interval = f"[{e.hdi_low:.4g}, {e.hdi_high:.4g}] {e.interval_name}"
            mark = "" if result.credible is not False else " NOT CREDIBLE"
            print(
                f"{task.key:<24} {e.estimand + ' ' + f'{e.mean:.4g}':>14}  {interval:<30} {result.n_units:>7}  "
                f"{result.rating}{mark}"
            )
    for series in effect_series(batch):
        if len(series.points) >= 2:
            print(_text_plot(series))
    for error in outcome.errors:
        print(f"not recorded: {error}")


def _text_plot(series: Any) -> str:  # an EffectSeries
    """The effect along the axis with its interval, drawn in text (a one-shot process: plotext's global figure)."""
    import sys

    import plotext as plt

    plt.clf()
    x = list(range(1, len(series.points) + 1))
    plt.plot_size(72, 18)
    for i, p in zip(x, series.points):
        plt.plot([i, i], [p.low, p.high], marker="│", color="blue")
    plt.scatter(x, [p.mean for p in series.points], marker="●", color="red", label=f"estimate, {series.interval}")
    plt.xticks(x, [p.label for p in series.points])
    plt.xlim(0.5, len(x) + 0.5)
    plt.title(series.title + (f" ({series.group})" if series.group else ""))
    if not sys.stdout.isatty():
        plt.theme("clear")
    text = str(plt.build())
    return text if sys.stdout.isatty() else plt.uncolorize(text)
