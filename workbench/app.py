"""The workbench app: one Textual ``App`` that owns the session and runs every slow call
(agent, compile check, sampling, git writes, export) in thread workers.

Workers post typed messages (:mod:`screens.messages`) back to the UI thread; a single
``Worker.StateChanged`` handler turns their errors into a dialog that says what happened.
Screens get their data as constructor arguments and send decisions up as messages.

Importing this module is cheap: the engine (pandas, git, the agents) is imported inside
the open worker, after the first frame, and PyMC never loads in this process.

What the workers call lives in plain modules beside this one: opening a session
(:mod:`workbench.opening`), keymaps (:mod:`workbench.keymap`), plan-file checks
(:mod:`workbench.plan_files`), per-iteration arrays (:mod:`workbench.arrays`), export
(:mod:`workbench.export`) and the error dialog's words (:mod:`workbench.failures`). The batch
commands (start, follow, stop, list), the principal's own file (`m`) and the command palette are
mixins of their own (:mod:`workbench.app_batches`, :mod:`workbench.app_own_file`,
:mod:`workbench.app_palette`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from screens.dialogs import ErrorDialog
from screens.home import HomeScreen
from screens.messages import (
    AgentActivityChanged,
    Decided,
    EditSubmitted,
    Exported,
    FileCommitted,
    IterationRecorded,
    OpenIteration,
    PreparedStatus,
    ProposalReady,
    ReviewShown,
    SamplingProgressed,
    SavePlanFile,
    SessionOpened,
    StackComputed,
    StatusChanged,
)

# The plain helpers live in their own modules; they are re-exported here because
# `workbench open`, tests and older callers import them from workbench.app.
from workbench.app_batches import BatchCommands
from workbench.app_own_file import OwnFileCommands
from workbench.app_palette import PaletteCommands
from workbench.arrays import load_iteration_arrays
from workbench.export import export_session
from workbench.failures import WorkerGroup, describe_error
from workbench.keymap import DEFAULT_KEYMAP_PATH, load_keymap
from workbench.opening import Opened, OpenRequest, open_workbench
from workbench.plan_files import validate_plan_file

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

    from engine.iteration import IterationRecord
    from engine.loop import Reviewed, RunOptions, Workbench
    from engine.problem import Gates
    from engine.progress import RunProgress
    from engine.records import Decision
    from screens.batch import ActiveBatch
    from screens.run import ActiveRun
    from screens.verdict import VerdictScreen

__all__ = [
    "DARK_THEME",
    "DEFAULT_KEYMAP_PATH",
    "LIGHT_THEME",
    "OpenRequest",
    "Opened",
    "WorkbenchApp",
    "create_app",
    "describe_error",
    "export_session",
    "load_iteration_arrays",
    "load_keymap",
    "open_workbench",
    "validate_plan_file",
]

LIGHT_THEME = "textual-light"
DARK_THEME = "textual-dark"


class WorkbenchApp(PaletteCommands, OwnFileCommands, BatchCommands, App[int]):
    """Causal Workbench: supervise an agent iterating on a causal analysis."""

    CSS_PATH = "app.tcss"
    TITLE = "Causal Workbench"
    ENABLE_COMMAND_PALETTE = True
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-normal")]  # app.tcss fits 80 columns under -narrow
    BINDINGS = [
        Binding("question_mark", "help", "Help", id="app.help", tooltip="Keys of this screen and the workflow"),
        Binding("x", "export", "Export", id="app.export", tooltip="Write the session report and say where"),
        Binding(
            "v",
            "view_run",
            "View run",
            id="app.view-run",
            tooltip="Back to the running iteration, or to the verdict it just reached",
        ),
        Binding(
            "c,escape",
            "cancel_agent",
            "Cancel agent",
            id="app.cancel-agent",
            tooltip="Stop the agent's call now: nothing is recorded (its cost is); p asks again",
        ),
        Binding("ctrl+t", "toggle_theme", "Theme", id="app.theme", show=False, tooltip="Switch dark / light"),
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit; the session is saved as it goes"),
    ]

    def __init__(
        self,
        request: OpenRequest,
        *,
        keymap: dict[str, str] | None = None,
        theme: str = DARK_THEME,
        opener: Callable[[OpenRequest], Opened] = open_workbench,
    ) -> None:
        super().__init__()
        self.request = request
        self._opener = opener
        self.opened: Opened | None = None
        self.records: list[IterationRecord] = []
        self.reviewed: Reviewed | None = None
        self.next_number: int | None = None
        self.busy = ""  # what a worker is doing now ("" when idle)
        self.active_run: ActiveRun | None = None  # the approved iteration now running
        self.active_batch: ActiveBatch | None = None  # the batch now running on Dask (beside everything else)
        self.batch_workers: int | None = None  # worker processes of a batch's local cluster; None: one per core
        self.unseen: IterationRecord | None = None  # a run that finished while the principal browsed
        self.readiness = ""  # where the model child compiled during review stands
        self._status_follows_batch = False  # the status line shows the running batch's counts
        self._quit_armed = False
        self._propose_when_idle = False  # `n` on a review: ask again once the skip is recorded
        self._initial_theme = theme
        if keymap:
            self.set_keymap(keymap)

    # ------------------------------------------------------------------ lifecycle

    def get_default_screen(self) -> Screen:
        return HomeScreen()

    def on_mount(self) -> None:
        self.theme = self._initial_theme
        self.sub_title = "opening…"
        self.set_interval(1.0, self._tick_run)  # the header's run clock moves between progress messages
        # Start loading after the first frame is on screen: the worker's imports (pandas,
        # git) hold the GIL in long stretches and would delay the first paint.
        self.call_after_refresh(self._open)

    @property
    def home(self) -> HomeScreen:
        return self.screen_stack[0]  # type: ignore[return-value]

    def close_session(self) -> None:
        """Release the session's write lock (idempotent); the app calls it on exit."""
        if self.active_batch is not None:
            self.active_batch.stop.set()
        if self.opened is not None:
            self.opened.workbench.discard_prepared()  # a child compiled during review dies with the session
            self.opened.session.close()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A toast whose message is never parsed as markup, whoever asks (screens pass ``markup=True``).

        Notifications carry file names, session notes and recovered paths; ``[low, high]``
        must read as written.
        """
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    async def action_quit(self) -> None:
        run = self.active_run
        if run is not None and not run.cancel.is_set() and not self._quit_armed:
            self._quit_armed = True
            self.notify("Sampling is running: c cancels it; q again cancels and quits.", severity="warning")
            return
        batch = self.active_batch
        if batch is not None and not batch.stop.is_set() and not self._quit_armed:
            self._quit_armed = True
            self.notify(
                "A batch is running: q again stops it and quits (what finished is recorded; starting the same "
                "batch again resumes it).",
                severity="warning",
            )
            return
        if run is not None:
            run.cancel.set()
        if batch is not None:
            batch.stop.set()  # the worker cancels its tasks and closes the cluster before the app's exit completes
        self.exit(0)

    # ------------------------------------------------------------------ workers

    @work(thread=True, exclusive=True, group=WorkerGroup.OPEN, exit_on_error=False, description="open the session")
    def _open(self) -> None:
        opened = self._opener(self.request)
        if opened.pending is not None:  # a resumed proposal: compile it while the principal rereads it
            self._prepare_run(opened.workbench, opened.pending)
        self.post_message(SessionOpened(opened))

    @work(thread=True, exclusive=True, group=WorkerGroup.AGENT, exit_on_error=False, description="agent proposes")
    def _propose(self, loop: str = "model") -> None:
        from engine.records import Loop

        wb = self._workbench()
        wb.on_agent_activity = lambda activity: self.post_message(AgentActivityChanged(activity))
        self.call_from_thread(self.refresh_bindings)  # c: cancel the agent, while it works
        reviewed = wb.propose(Loop(loop), on_status=lambda text: self.post_message(StatusChanged(text)))
        # Prepared before the review shows, so an approve can never come before the child exists.
        self._prepare_run(wb, reviewed)
        self.post_message(ProposalReady(reviewed, number=wb.session.next_number()))

    def _prepare_run(self, wb: Workbench, reviewed: Reviewed) -> None:
        """Compile the proposal's model while the principal reads it, so approve → verdict is sampling only."""
        self.post_message(PreparedStatus(""))  # whatever was said of the last proposal no longer holds
        if wb.prepare(reviewed, on_status=lambda text: self.post_message(PreparedStatus(text))) is not None:
            self.post_message(PreparedStatus("compiling the model in the sandbox while you read…"))

    @work(thread=True, exclusive=True, group=WorkerGroup.AGENT, exit_on_error=False, description="check the edit")
    def _check_edit(self, source: str) -> None:
        wb = self._workbench()
        assert self.reviewed is not None
        self.post_message(StatusChanged("checking your edit: guard and compile check…"))
        self.post_message(PreparedStatus(""))  # the child compiled the proposal, not the edit
        # The agent's proposal stays as it was; the store records the edit as edit.diff.
        reviewed = wb.check(self.reviewed.proposal, source=source)
        self.post_message(ProposalReady(reviewed, edited=True, number=wb.session.next_number()))

    @work(thread=True, exclusive=True, group=WorkerGroup.RUN, exit_on_error=False, description="run the decision")
    def _execute(self, reviewed: Reviewed, decision: Decision, cancel: threading.Event, then_propose: bool) -> None:
        wb = self._workbench()

        def progress(p: RunProgress) -> None:
            self.post_message(SamplingProgressed(p))

        record = wb.execute(reviewed, decision, on_progress=progress, cancel=cancel)
        self.post_message(IterationRecorded(record, wb.session.iterations(), then_propose))

    @work(thread=True, exclusive=True, group=WorkerGroup.ARRAYS, exit_on_error=False, description="load draws")
    def _load_arrays(self, record: IterationRecord, screen: VerdictScreen) -> None:
        arrays = load_iteration_arrays(self._workbench().session, record)
        self.call_from_thread(screen.set_arrays, arrays)

    @work(thread=True, exclusive=True, group=WorkerGroup.STACK, exit_on_error=False, description="stack the models")
    def _load_stack(self) -> None:
        """The effect stacked over the session's scored models, for the home screen (ArviZ loads here, off the UI)."""
        from engine.stacking import stack_session

        try:
            stacked = stack_session(self._workbench().session)
        except ValueError:  # the optimiser found no weights: the best model alone is shown, as before
            stacked = None
        self.post_message(StackComputed(stacked))

    @work(thread=True, exclusive=True, group=WorkerGroup.FILES, exit_on_error=False, description="read the plan")
    def _load_plan(self) -> None:
        from screens.editor import PLAN_FILES, EditorScreen

        session = self._workbench().session
        files = {name: session.read_file(name) for name in PLAN_FILES}
        self.call_from_thread(self.push_screen, EditorScreen(files))

    @work(thread=True, exclusive=True, group=WorkerGroup.FILES, exit_on_error=False, description="save a plan file")
    def _save_plan(self, filename: str, text: str) -> None:
        opened = self._require_opened()
        warnings = validate_plan_file(filename, text, opened.problem)
        sha = opened.session.commit_edit(filename, text, "edited in the workbench")
        self.post_message(FileCommitted(filename, sha or ""))
        for warning in warnings:
            self.post_message(StatusChanged(f"{filename}: {warning}"))

    @work(thread=True, exclusive=True, group=WorkerGroup.EXPORT, exit_on_error=False, description="export the report")
    def _export(self) -> None:
        opened = self._require_opened()
        paths, note = export_session(opened)
        self.post_message(Exported(paths, note))

    # ------------------------------------------------------------------ worker results

    def on_stack_computed(self, message: StackComputed) -> None:
        self.home.show_stacked(message.stacked)

    def on_session_opened(self, message: SessionOpened) -> None:
        opened: Opened = message.opened
        self.opened = opened
        self.records = list(opened.records)
        self.reviewed = opened.pending
        self.next_number = opened.next_number
        self.title = f"Causal Workbench — {opened.problem.name}"
        self.sub_title = f"session {opened.session.id}"
        self.home.show(opened, self.records, pending=self.reviewed is not None)
        self._show_spend()
        agent = opened.workbench.agent
        status = f"agent: {getattr(agent, 'name', self.request.agent)} · "
        if self.reviewed is not None:
            status += "a proposal is waiting for your review: press p"
        else:
            status += "press p for the next proposal"
        self._set_status(status)
        for line in opened.recovered:
            self.notify(line, title="note on this session", severity="warning", timeout=10)
        self.refresh_bindings()
        from engine.stacking import stackable

        if any(stackable(r) for r in self.records):
            self._load_stack()

    def on_status_changed(self, message: StatusChanged) -> None:
        self._set_status(message.text)

    def on_agent_activity_changed(self, message: AgentActivityChanged) -> None:
        self._set_status(message.activity.line())
        self.home.show_agent(message.activity)

    def _show_spend(self) -> None:
        """The language-model agent's spend so far on the home screen (offline agents cost nothing)."""
        if self.opened is None or getattr(self.opened.workbench.agent, "offline", True):
            return
        wb = self.opened.workbench
        budget = wb.options.budget_usd
        model = getattr(wb.agent, "model", "")
        text = f"{wb.agent.name} · {model} · spend {wb.session.spend().text()}"
        if budget is not None:
            text += f" of ${budget:.2f}"
        warning = wb.budget_warning()
        self.home.show_spend(text + (" ⚠ 80 % of the budget" if warning else ""))

    def on_prepared_status(self, message: PreparedStatus) -> None:
        self.readiness = message.text
        self._show_readiness()

    def on_review_shown(self, _message: ReviewShown) -> None:
        self._show_readiness()

    def _show_readiness(self) -> None:
        from screens.review import ReviewScreen

        for screen in self.screen_stack:
            if isinstance(screen, ReviewScreen) and screen.is_mounted:
                screen.set_readiness(self.readiness)

    def on_proposal_ready(self, message: ProposalReady) -> None:
        from screens.review import ReviewScreen

        self.reviewed = message.reviewed
        self.next_number = message.number
        self.home.show_records(self.records, pending=True)
        self.home.show_agent(None)
        self._show_spend()
        if isinstance(self.screen, ReviewScreen) and message.edited:
            screen = self.screen
            screen.update_reviewed(message.reviewed, edited=True)
            self._set_status("your edit was checked")
            compiled = message.reviewed.compile
            if message.reviewed.blocked and not screen.override:
                self.notify("Your edit has a blocker: fix it (e), override (!) or reject (r).", severity="warning")
            elif compiled is not None and not compiled.ok:
                self.notify("Your edit does not compile: fix it (e), or approve it anyway (a).", severity="warning")
            else:
                screen.action_approve()
            return
        wb = self.opened.workbench if self.opened is not None else None
        spend = (
            "" if wb is None or getattr(wb.agent, "offline", True) else f" · agent spend {wb.session.spend().text()}"
        )
        self._set_status(f"proposal ready for iteration {message.number}: review it{spend}")
        self._back_to_home()  # a new proposal starts a new review → run → verdict; Esc leads home
        self.push_screen(ReviewScreen(message.reviewed, message.number, edited=message.edited))

    def on_decided(self, message: Decided) -> None:
        from engine.records import DecisionKind
        from screens.run import ActiveRun, RunScreen

        reviewed = self.reviewed
        if reviewed is None:
            return
        cancel = threading.Event()
        if message.decision.kind is DecisionKind.APPROVED:
            wb = self._workbench()
            settings = wb.sampling if reviewed.proposal.loop == "model" else None
            self.active_run = ActiveRun(reviewed.proposal, self.next_number, settings, cancel)
            self.unseen = None
            self.switch_screen(RunScreen(self.active_run))
            self._set_status("sampling…")
            self._tick_run()
        else:
            self._set_status(f"recording: {message.decision.kind.value}…")
        self._execute(reviewed, message.decision, cancel, message.then_propose)

    def on_sampling_progressed(self, message: SamplingProgressed) -> None:
        if self.active_run is not None:
            self.active_run.receive(message.progress)
            self._tick_run()

    def _tick_run(self) -> None:
        """Show the run's progress: in full on the run screen, in one line in every header (the batch's too)."""
        from screens.run import RunScreen

        if self.active_batch is not None:
            self._show_batch_line()  # its ETA counts down between progress messages
        run = self.active_run
        if run is None:
            return
        self._show_subtitle()
        for screen in self.screen_stack:
            if isinstance(screen, RunScreen):
                screen.show_progress()

    def _show_subtitle(self) -> None:
        """The header's second half: the running iteration and the running batch, else the session."""
        parts = []
        if self.active_run is not None:
            parts.append(f"▶ {self.active_run.brief()}")
        if self.active_batch is not None:
            parts.append(self.active_batch.line(short=True))
        if parts:
            self.sub_title = " · ".join(parts)
        elif self.opened is not None:
            self.sub_title = f"session {self.opened.session.id}"

    def on_edit_submitted(self, message: EditSubmitted) -> None:
        self._check_edit(message.source)

    def on_iteration_recorded(self, message: IterationRecorded) -> None:
        from screens.review import ReviewScreen
        from screens.run import RunScreen
        from screens.verdict import VerdictScreen

        record = message.record
        self.records = list(message.records) or [*self.records, record]
        self.reviewed = None
        self._end_run()
        self.next_number = record.number + 1
        self.home.show_records(self.records)
        from engine.stacking import stackable

        if stackable(record):
            self._load_stack()
        if record.verdict is not None:
            watching = any(isinstance(screen, RunScreen) for screen in self.screen_stack)
            self._set_status(f"iteration {record.number}: {record.status.replace('_', ' ')} — {record.verdict.reason}")
            if not watching:  # the principal left to browse: say so, and let them come when ready
                self.unseen = record
                self.notify(
                    f"Iteration {record.number} finished: {record.status.replace('_', ' ')}. v opens the verdict.",
                    timeout=10,
                )
                self.refresh_bindings()
                return
            self._pop_modals()
            verdict = VerdictScreen(record, self.records, self._gates())
            if isinstance(self.screen, RunScreen):
                self.switch_screen(verdict)
            else:
                self.push_screen(verdict)
            if record.proposal.loop == "design":
                verdict.action_design()
            else:
                self._load_arrays(record, verdict)
        else:
            self._pop_modals()
            if isinstance(self.screen, ReviewScreen):
                self.pop_screen()
            words = {"rejected": "rejected; the agent will read your reason", "skipped": "skipped"}
            self._set_status(f"iteration {record.number} {words.get(record.status, record.status)}")
            self.notify(f"Iteration {record.number} recorded: {record.status}.")
        if message.then_propose:
            self._propose_when_idle = True  # the run worker is still finishing; see _worker_state

    def on_file_committed(self, message: FileCommitted) -> None:
        from screens.editor import EditorScreen

        for screen in self.screen_stack:
            if isinstance(screen, EditorScreen):
                screen.mark_saved(message.filename, screen.text_of(message.filename))
        if message.sha:
            self.notify(f"{message.filename} committed ({message.sha[:7]}), author: the principal.")
        else:
            self.notify(f"{message.filename}: unchanged, nothing to commit.")

    def on_exported(self, message: Exported) -> None:
        where = ", ".join(str(p) for p in message.paths)
        self.notify(f"Report written: {where}" + (f"\n{message.note}" if message.note else ""), timeout=12)
        self._set_status(f"report: {where}")

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        """The one place worker failures surface: a dialog saying what happened, nothing lost."""
        worker = event.worker
        if worker.group not in WorkerGroup.__members__.values():
            return  # Textual's own workers (the command palette's search)
        group = WorkerGroup(worker.group)
        if group.gates_keys:  # the workers that change which keys can act
            finished = event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED)
            busy = "" if finished else (worker.description or worker.group)
            if busy != self.busy:
                self.busy = busy
                self.refresh_bindings()  # the footer recomposes: do it only when something changed
            if finished and self._propose_when_idle:
                self._propose_when_idle = False
                if event.state is WorkerState.SUCCESS:
                    self.action_propose()
        if group is WorkerGroup.AGENT and event.state in (WorkerState.SUCCESS, WorkerState.ERROR):
            self.home.show_agent(None)
            self._show_spend()
        if event.state is not WorkerState.ERROR:
            return
        self._recover_from_failure(group)
        error = worker.error
        from engine.agents.activity import AgentCancelled

        if isinstance(error, AgentCancelled):  # the principal's own stop: no dialog, nothing recorded
            self._set_status("agent cancelled: nothing was recorded (its calls' cost is counted); p asks again")
            return
        title, message = describe_error(group, error)
        self._set_status(f"{title}: {str(error).splitlines()[0] if str(error) else type(error).__name__}")
        self.push_screen(ErrorDialog(title, message))

    def _recover_from_failure(self, group: WorkerGroup) -> None:
        """Put the screens back where the principal can act again after a failed worker."""
        from screens.review import ReviewScreen
        from screens.run import RunScreen

        self._pop_modals()
        if group is WorkerGroup.RUN:
            self._end_run()
            if isinstance(self.screen, RunScreen) and self.reviewed is not None:
                self.switch_screen(ReviewScreen(self.reviewed, self.next_number))
            elif isinstance(self.screen, ReviewScreen):
                self.screen.release()
        elif group is WorkerGroup.AGENT and isinstance(self.screen, ReviewScreen):
            self.screen.release()
        elif group is WorkerGroup.OPEN:
            self.sub_title = "could not open"
            self.home.show_nothing_open()
        elif group is WorkerGroup.BATCH:
            self.active_batch = None
            self._quit_armed = False
            self._show_batch_line()
            self._refresh_batches()
            self.refresh_bindings()

    # ------------------------------------------------------------------ actions

    def action_propose(self, loop: str = "model") -> None:
        """Review the pending proposal, or ask the agent for one (``loop``: model or design)."""
        from screens.review import ReviewScreen

        if self.opened is None:
            return
        if self.reviewed is not None:
            if not isinstance(self.screen, ReviewScreen):
                self.push_screen(ReviewScreen(self.reviewed, self.next_number))
            return
        if self.busy:
            self.notify(f"Busy: {self.busy}.", severity="warning")
            return
        agent = self.opened.workbench.agent
        loops = {getattr(x, "value", x) for x in getattr(agent, "loops", ("model", "design"))}
        if loop not in loops:
            self.notify(
                f"The {getattr(agent, 'name', '')} agent does not propose {loop}-loop steps.", severity="warning"
            )
            return
        self._set_status(f"{getattr(agent, 'name', 'the')} agent is proposing ({loop} loop)…")
        self._propose(loop)

    def action_cancel_agent(self) -> None:
        """Stop the agent's streaming call: the worker ends with nothing recorded."""
        if self.opened is not None and self.opened.workbench.cancel_agent():
            self._set_status("cancelling the agent's call…")

    def action_view_run(self) -> None:
        """Back to the running iteration's screen, or to the verdict it reached while the principal browsed."""
        from screens.run import RunScreen

        self._pop_modals()
        if self.active_run is not None:
            if not isinstance(self.screen, RunScreen):
                self.push_screen(RunScreen(self.active_run))
        elif self.unseen is not None:
            record, self.unseen = self.unseen, None
            self.open_iteration(record)
            self.refresh_bindings()

    def action_history(self) -> None:
        from screens.history import HistoryScreen

        if self.opened is not None:
            self.push_screen(HistoryScreen(self.records))

    def action_edit_plan(self) -> None:
        if self.opened is not None:
            self._load_plan()

    def action_export(self) -> None:
        if self.opened is None:
            return
        self._set_status("exporting the session report…")
        self._export()

    def action_help(self) -> None:
        from screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        # One installed help screen per kind of screen: pushing it again skips compose and mount.
        name = f"help-{type(self.screen).__name__}"
        if not self.is_screen_installed(name):
            self.install_screen(HelpScreen(self.screen), name)
        self.push_screen(name)

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT_THEME if self.current_theme.dark else DARK_THEME

    def on_open_iteration(self, message: OpenIteration) -> None:
        self.open_iteration(message.record)

    def on_save_plan_file(self, message: SavePlanFile) -> None:
        self.save_plan_file(message.filename, message.text)

    def open_iteration(self, record: IterationRecord) -> None:
        """Show an iteration's verdict, diagnostics, diff and record."""
        from screens.verdict import VerdictScreen

        screen = VerdictScreen(record, self.records, self._gates())
        self.push_screen(screen)
        if record.proposal.loop == "design":
            screen.action_design()  # the design diagnostics on top; escape shows the verdict
        elif record.verdict is not None:
            self._load_arrays(record, screen)

    def save_plan_file(self, filename: str, text: str) -> None:
        """Validate and commit an edited plan file (the editor screen calls this)."""
        self._set_status(f"saving {filename}…")
        self._save_plan(filename, text)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("batches", "start_batch"):
            if self.opened is None:
                return None
            return True if action == "batches" or self.active_batch is None else None
        if action == "stop_batch":
            return True if self.active_batch is not None and not self.active_batch.stop.is_set() else None
        if action == "cancel_agent":
            return self.opened is not None and self.opened.workbench.agent_control is not None
        if action == "view_run":
            from screens.run import RunScreen

            return (self.active_run is not None or self.unseen is not None) and not isinstance(self.screen, RunScreen)
        if action in ("propose", "history", "edit_plan", "export", "write_model"):
            if self.opened is None:
                return None
            if action in ("propose", "write_model") and self.active_run is not None:
                return False  # hidden while a run goes on: the footer makes room for v
            if action == "propose" and self.busy and self.reviewed is None:
                return None
        return True

    # ------------------------------------------------------------------ helpers

    def _back_to_home(self) -> None:
        """Pop every screen above home (modals first, so none is left to pop the wrong screen)."""
        self._pop_modals()
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def _pop_modals(self) -> None:
        """Close help and dialogs before a worker's result changes screens.

        A modal dismisses by popping the top screen: left open under a newly pushed screen,
        it would later pop that screen instead of itself.
        """
        from textual.screen import ModalScreen

        from screens.help import HelpScreen

        while len(self.screen_stack) > 1 and isinstance(self.screen, (ModalScreen, HelpScreen)):
            self.pop_screen()

    def _end_run(self) -> None:
        """The run is over (recorded or failed): the header shows the session again."""
        self.active_run = None
        self._quit_armed = False
        self._show_subtitle()
        self.refresh_bindings()

    def _set_status(self, text: str, *, batch: bool = False) -> None:
        """The home screen's status line; a running batch's counts keep it only until something else speaks."""
        self._status_follows_batch = batch
        self.home.set_status(text)

    def _require_opened(self) -> Opened:
        if self.opened is None:
            from engine.errors import WorkbenchError

            raise WorkbenchError("the session is still opening; wait a moment")
        return self.opened

    def _workbench(self) -> Workbench:
        return self._require_opened().workbench

    def _gates(self) -> Gates | None:
        return self.opened.problem.gates if self.opened is not None else None


def create_app(
    target: str | Path | None = None,
    *,
    session: str | Path | None = None,
    agent: str = "heuristic",
    replay_file: str | Path | None = None,
    sessions_root: str | Path = "sessions",
    options: RunOptions | None = None,
    keymap: dict[str, str] | None = None,
    theme: str = DARK_THEME,
    warm_up: bool = True,
    agent_model: str | None = None,
) -> WorkbenchApp:
    """Build the app with fixed inputs (``workbench open``, tests and snapshots all use this).

    Parameters
    ----------
    target
        A problem folder (starts a new session) or a session folder / id (resumes it).
    session
        Resume this session (a path or an id under ``sessions_root``); ``target``, when
        also given, names the problem folder to load instead of the one the session recorded.
    agent
        ``heuristic`` (offline, default), ``replay`` (needs ``replay_file``) or ``anthropic``.
    replay_file
        Proposals for the replay agent (JSON or TOML).
    sessions_root
        Where new sessions go and session ids are looked up.
    options
        Harness settings (``RunOptions(sampling=SamplingSettings(chains=2, draws=100, tune=100))``
        in tests).
    keymap
        Binding id → key, to remap keys (see :func:`load_keymap`).
    theme
        ``textual-dark`` or ``textual-light``.
    warm_up
        Start the sandbox's warm worker once the session is open.
    agent_model
        The Claude model for ``agent="anthropic"``.
    """
    request = OpenRequest(
        target=target,
        session=session,
        agent=agent,
        replay_file=Path(replay_file) if replay_file is not None else None,
        sessions_root=Path(sessions_root),
        options=options,
        warm_up=warm_up,
        agent_model=agent_model,
    )
    return WorkbenchApp(request, keymap=keymap, theme=theme)
