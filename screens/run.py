"""Run: live nutpie progress per chain while the approved proposal samples in a child process.

The app's worker posts :class:`screens.messages.SamplingProgressed` straight to this screen;
a flood of them collapses to the latest (``can_replace``), so the UI never falls behind.
``c`` sets the cancel event the worker passed to the engine.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from screens.format import literal
from screens.messages import SamplingProgressed, StatusChanged

if TYPE_CHECKING:
    from engine.problem import SamplingSettings
    from engine.records import Proposal


@dataclass(frozen=True)
class ChainRow:
    """What one row of the progress table shows, whatever shape the engine's progress has."""

    chain: int
    done: int
    total: int
    divergences: int
    step_size: float | None
    tuning: bool


def chain_rows(progress: Any) -> list[ChainRow]:
    """Read per-chain rows from the engine's progress object.

    Accepts ``progress.chains`` as a sequence of per-chain objects (attributes
    ``finished_draws``/``draws``, ``total_draws``/``total``, ``divergences``, ``step_size``,
    ``tuning``), or parallel sequences on ``progress`` itself.
    """
    chains = getattr(progress, "chains", None)
    rows: list[ChainRow] = []
    if chains is not None and not isinstance(chains, int):
        for i, c in enumerate(chains):
            rows.append(
                ChainRow(
                    chain=int(_get(c, ("chain", "index"), i)),
                    done=int(_get(c, ("finished", "finished_draws", "draws", "done"), 0)),
                    total=int(_get(c, ("total_draws", "total"), 0)),
                    divergences=int(_get(c, ("divergences",), 0)),
                    step_size=_opt_float(_get(c, ("step_size",), None)),
                    tuning=bool(_get(c, ("tuning",), False)),
                )
            )
        return rows
    done = _get(progress, ("finished_draws", "draws"), [])
    total = _get(progress, ("total_draws", "total"), 0)
    div = _get(progress, ("divergences",), [0] * len(done))
    step = _get(progress, ("step_size", "step_sizes"), [None] * len(done))
    tuning = _get(progress, ("tuning",), [False] * len(done))
    for i, d in enumerate(done):
        rows.append(
            ChainRow(
                chain=i,
                done=int(d),
                total=int(total[i] if isinstance(total, (list, tuple)) else total),
                divergences=int(div[i]) if i < len(div) else 0,
                step_size=_opt_float(step[i]) if i < len(step) else None,
                tuning=bool(tuning[i] if isinstance(tuning, (list, tuple)) else tuning),
            )
        )
    return rows


def _get(obj: Any, names: tuple[str, ...], default: Any) -> Any:
    for name in names:
        if isinstance(obj, dict) and name in obj:
            return obj[name]
        if hasattr(obj, name):
            return getattr(obj, name)
    return default


def _opt_float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def progress_table(rows: list[ChainRow], bar_width: int = 24) -> Table:
    table = Table(expand=False, box=None, padding=(0, 1), header_style="bold")
    table.add_column("chain", justify="right")
    table.add_column("progress", width=bar_width)
    table.add_column("draws", justify="right")
    table.add_column("phase")
    table.add_column("divergences", justify="right")
    table.add_column("step size", justify="right")
    for row in rows:
        total = max(row.total, 1)
        table.add_row(
            str(row.chain),
            ProgressBar(total=total, completed=min(row.done, total), width=bar_width),
            f"{row.done}/{row.total}",
            "tuning" if row.tuning else ("done" if row.done >= row.total > 0 else "sampling"),
            Text(str(row.divergences), style="bold red" if row.divergences else ""),
            "—" if row.step_size is None or (row.done == 0 and not row.step_size) else f"{row.step_size:.3g}",
        )
    return table


def progress_line(progress: Any, rows: list[ChainRow], waited_s: float = 0.0) -> str:
    """``sampling · 21 s in all: compile 9 s, sampling 12 s of 300 s budget · 5620/8000 draws · 1 divergence``.

    One clock from the approve: the compile is its own phase and the sampling budget (which
    the compile does not use) is counted from when the chains start. ``waited_s`` is the time
    since the progress object arrived, so the clock keeps moving between messages.
    """
    phase = _get(progress, ("phase",), None)
    elapsed = _opt_float(_get(progress, ("elapsed_s",), None))
    budget = _opt_float(_get(progress, ("budget_s",), None))
    compile_s = _opt_float(_get(progress, ("compile_s",), None)) or 0.0
    parts = []
    stage = _get(progress, ("stage",), None)
    if stage:  # the design loop reports stages, not chains
        parts.append(f"{stage} ({_get(progress, ('step',), '?')}/{_get(progress, ('total',), '?')})")
    if phase:
        parts.append("compiling the model (nutpie, numba)" if phase == "compiling" else str(phase))
    if elapsed is not None and phase == "compiling":
        parts.append(f"{elapsed + waited_s:.0f} s")
    elif elapsed is not None and compile_s:
        sampling = elapsed + waited_s
        budget_text = f" of {budget:.0f} s budget" if budget else ""
        parts.append(f"{compile_s + sampling:.0f} s in all: compile {compile_s:.0f} s, sampling {sampling:.0f} s{budget_text}")
    elif elapsed is not None:
        parts.append(f"{elapsed + waited_s:.0f} s" + (f" of {budget:.0f} s budget" if budget else ""))
    if rows:
        done = sum(r.done for r in rows)
        total = sum(r.total for r in rows)
        divergences = sum(r.divergences for r in rows)
        parts.append(f"{done}/{total} draws")
        parts.append(f"{divergences} divergence{'s' if divergences != 1 else ''}")
    return " · ".join(parts)


class RunScreen(Screen):
    """Live sampling progress for one approved proposal; ``c`` cancels."""

    BINDINGS = [
        Binding("c", "cancel", "Cancel run", id="run.cancel", tooltip="Stop sampling; the iteration is recorded as cancelled"),
    ]

    def __init__(
        self,
        proposal: Proposal,
        number: int | None,
        settings: SamplingSettings | None,
        cancel: threading.Event | None = None,
    ) -> None:
        super().__init__()
        self.proposal = proposal
        self.number = number
        self.settings = settings
        self.cancel_event = cancel or threading.Event()
        self.updates = 0  # how many progress messages were drawn (the benchmark reads it)
        self.last_progress: Any = None
        self._received_at: float | None = None  # monotonic time the last progress arrived

    def compose(self) -> ComposeResult:
        yield Header()
        head = Text()
        head.append("running", style="bold reverse")
        if self.number is not None:
            head.append(f" iteration {self.number}", style="bold")
        head.append(f" · {self.proposal.hypothesis}")
        yield Static(head, id="run-head")
        if self.settings is not None:
            s = self.settings
            yield Static(
                f"nutpie · {s.chains} chains × ({s.tune} tuning + {s.draws} draws) · seed {s.seed}",
                id="run-settings",
            )
        with VerticalScroll(id="run-body") as body:
            body.border_title = "chains" if self.proposal.loop == "model" else "design analysis"
            waiting = (
                "running the doubly-robust estimate and the design diagnostics…"
                if self.proposal.loop == "design"
                else "waiting for the sampler (the model compiles first)…"
            )
            yield Static(Text(waiting, style="dim"), id="chains")
        yield Static("", id="run-status")
        yield Footer()

    def update_progress(self, progress: Any) -> None:
        self.last_progress = progress
        rows = chain_rows(progress)
        if rows:
            self.query_one("#chains", Static).update(progress_table(rows))
        line = progress_line(progress, rows)
        if line and not self.cancel_event.is_set():
            self.set_status(line)
        self.updates += 1

    def on_sampling_progressed(self, message: SamplingProgressed) -> None:
        self.update_progress(message.progress)
        self._received_at = time.monotonic()
        if not hasattr(self, "_ticker"):
            # nutpie's compile sends no progress for 10–20 s: keep the clock moving meanwhile.
            self._ticker = self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        progress = self.last_progress
        elapsed = _opt_float(_get(progress, ("elapsed_s",), None))
        if elapsed is None or self._received_at is None or self.cancel_event.is_set():
            return
        since = time.monotonic() - self._received_at
        if since < 0.9:
            return  # progress is flowing; it carries its own clock
        self.set_status(progress_line(progress, chain_rows(progress), waited_s=since))

    def on_status_changed(self, message: StatusChanged) -> None:
        self.set_status(message.text)

    def set_status(self, text: str) -> None:
        self.query_one("#run-status", Static).update(literal(text))  # stage names, agent status, errors

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return None if self.cancel_event.is_set() else True
        return True

    def action_cancel(self) -> None:
        if self.cancel_event.is_set():
            return
        self.cancel_event.set()
        self.set_status("cancelling: stopping the sampler…")
        self.refresh_bindings()
