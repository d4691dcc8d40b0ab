"""Run: live nutpie progress per chain while the approved proposal samples in a child process.

The app's worker posts :class:`screens.messages.SamplingProgressed` to the app; a flood of
them collapses to the latest (``can_replace``), so the UI never falls behind. The app keeps
the :class:`ActiveRun` and shows its one-line :meth:`ActiveRun.brief` in every screen's
header, so the principal can leave this screen (``escape``), browse, and come back (``v``).
``c`` sets the cancel event the worker passed to the engine.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from engine.progress import ChainProgress, DesignProgress, Phase, RunProgress, SamplingProgress
from screens.format import literal
from screens.messages import StatusChanged

if TYPE_CHECKING:
    from engine.problem import SamplingSettings
    from engine.records import Proposal


def progress_table(chains: tuple[ChainProgress, ...], bar_width: int = 24) -> Table:
    table = Table(expand=False, box=None, padding=(0, 1), header_style="bold")
    table.add_column("chain", justify="right")
    table.add_column("progress", width=bar_width)
    table.add_column("draws", justify="right")
    table.add_column("phase")
    table.add_column("divergences", justify="right")
    table.add_column("step size", justify="right")
    for chain in chains:
        total = max(chain.total, 1)
        table.add_row(
            str(chain.chain),
            ProgressBar(total=total, completed=min(chain.finished, total), width=bar_width),
            f"{chain.finished}/{chain.total}",
            "tuning" if chain.tuning else ("done" if chain.finished >= chain.total > 0 else "sampling"),
            Text(str(chain.divergences), style="bold red" if chain.divergences else ""),
            "—" if chain.finished == 0 and not chain.step_size else f"{chain.step_size:.3g}",
        )
    return table


def progress_line(progress: RunProgress, waited_s: float = 0.0) -> str:
    """``sampling · 21 s in all: compile 9 s, sampling 12 s of 300 s budget · 5620/8000 draws · 1 divergence``.

    One clock from the approve: the compile is its own phase and the sampling budget (which
    the compile does not use) is counted from when the chains start. ``waited_s`` is the time
    since the progress object arrived, so the clock keeps moving between messages.
    """
    elapsed = progress.elapsed_s + waited_s
    if isinstance(progress, DesignProgress):  # the design loop reports stages, not chains
        return f"{progress.stage} ({progress.step}/{progress.total}) · {elapsed:.0f} s"
    phase, budget, compile_s = progress.phase, progress.budget_s, progress.compile_s or 0.0
    parts = ["compiling the model (nutpie, numba)" if phase == Phase.COMPILING else phase]
    budget_text = f" of {budget:.0f} s budget" if budget else ""
    if phase == Phase.COMPILING:
        parts.append(f"{elapsed:.0f} s")
    elif compile_s:
        parts.append(
            f"{compile_s + elapsed:.0f} s in all: compile {compile_s:.0f} s, sampling {elapsed:.0f} s{budget_text}"
        )
    else:
        parts.append(f"{elapsed:.0f} s{budget_text}")
    if progress.chains:
        done = sum(c.finished for c in progress.chains)
        total = sum(c.total for c in progress.chains)
        parts.append(f"{done}/{total} draws")
        parts.append(f"{progress.divergences} divergence{'s' if progress.divergences != 1 else ''}")
    return " · ".join(parts)


def chains_of(progress: RunProgress | None) -> tuple[ChainProgress, ...]:
    """The per-chain states, when the run has any yet (the design loop never does)."""
    return progress.chains if isinstance(progress, SamplingProgress) else ()


@dataclass
class ActiveRun:
    """One approved iteration while it runs: the run screen and every screen's header read it.

    The app owns it (the principal may leave the run screen and come back); the worker's
    progress lands in :meth:`receive` on the UI thread.
    """

    proposal: Proposal
    number: int | None
    settings: SamplingSettings | None
    cancel: threading.Event = field(default_factory=threading.Event)
    progress: RunProgress | None = None
    received_at: float | None = None  # monotonic time the last progress arrived

    def receive(self, progress: RunProgress) -> None:
        self.progress = progress
        self.received_at = time.monotonic()

    def waited_s(self) -> float:
        """Seconds since the last progress, once it stops flowing (the compile sends none)."""
        since = 0.0 if self.received_at is None else time.monotonic() - self.received_at
        return since if since >= 0.9 else 0.0

    def line(self) -> str:
        """The run screen's status line: the one clock, the draws, the divergences."""
        if self.cancel.is_set():
            return "cancelling: stopping the sampler…"
        if self.progress is None:
            return "starting the sandboxed run…"
        return progress_line(self.progress, self.waited_s())

    def brief(self) -> str:
        """The header's line on every other screen: short enough for 80 columns."""
        name = f"iteration {self.number}" if self.number is not None else "the run"
        progress = self.progress
        if self.cancel.is_set():
            return f"{name}: cancelling"
        if progress is None:
            return f"{name}: starting"
        elapsed = progress.elapsed_s + self.waited_s()
        if isinstance(progress, DesignProgress):
            return f"{name}: {progress.stage} {progress.step}/{progress.total}, {elapsed:.0f} s"
        if progress.chains:
            return f"{name}: {progress.phase} {progress.fraction:.0%}, {progress.divergences} div, {elapsed:.0f} s"
        return f"{name}: {progress.phase} {elapsed:.0f} s"


class RunScreen(Screen):
    """Live progress of the :class:`ActiveRun`; ``c`` cancels, ``escape`` leaves it running."""

    BINDINGS = [
        Binding(
            "c",
            "cancel",
            "Cancel run",
            id="run.cancel",
            tooltip="Stop sampling; the iteration is recorded as cancelled",
        ),
        Binding(
            "escape",
            "back",
            "Back (run goes on)",
            id="run.back",
            tooltip="Browse while it runs; the header shows its progress and v comes back",
        ),
    ]

    def __init__(self, run: ActiveRun) -> None:
        super().__init__()
        self.run = run
        self.updates = 0  # how many progress messages were drawn (the benchmark reads it)
        self._composed = False  # set on mount: the app's ticker may reach a pushed screen before its widgets exist

    @property
    def cancel_event(self) -> threading.Event:
        return self.run.cancel

    def compose(self) -> ComposeResult:
        run = self.run
        yield Header()
        head = Text()
        head.append("running", style="bold reverse")
        if run.number is not None:
            head.append(f" iteration {run.number}", style="bold")
        head.append(f" · {run.proposal.hypothesis}")
        yield Static(head, id="run-head")
        if run.settings is not None:
            s = run.settings
            yield Static(
                f"nutpie · {s.chains} chains × ({s.tune} tuning + {s.draws} draws) · seed {s.seed}",
                id="run-settings",
            )
        with VerticalScroll(id="run-body") as body:
            body.border_title = "chains" if run.proposal.loop == "model" else "design analysis"
            waiting = (
                "running the doubly-robust estimate and the design diagnostics…"
                if run.proposal.loop == "design"
                else "waiting for the sampler (the model compiles first)…"
            )
            yield Static(Text(waiting, style="dim"), id="chains")
        yield Static("", id="run-status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._composed = True
        self.show_progress()  # coming back to a run already under way

    def show_progress(self) -> None:
        """Draw the run's latest progress (the app calls this as progress arrives and each second).

        Nothing happens before the screen's widgets exist; mounting draws the latest progress then.
        """
        if not self._composed:
            return
        chains = chains_of(self.run.progress)
        if chains:  # query, not query_one: a screen being popped has lost its widgets before it leaves the stack
            for table in self.query("#chains").results(Static):
                table.update(progress_table(chains))
        if self.run.progress is not None or self.run.cancel.is_set():
            self.set_status(self.run.line())
        self.updates += 1

    def update_progress(self, progress: RunProgress) -> None:
        """Receive and draw one snapshot (snapshots and tests drive the screen with this)."""
        self.run.receive(progress)
        self.show_progress()

    def on_status_changed(self, message: StatusChanged) -> None:
        self.set_status(message.text)

    def set_status(self, text: str) -> None:
        for status in self.query("#run-status").results(Static):  # none once the screen is being popped
            status.update(literal(text))  # stage names, agent status, errors

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return None if self.run.cancel.is_set() else True
        return True

    def action_cancel(self) -> None:
        if self.run.cancel.is_set():
            return
        self.run.cancel.set()
        self.set_status(self.run.line())
        self.refresh_bindings()

    def action_back(self) -> None:
        self.app.pop_screen()
