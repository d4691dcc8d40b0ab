"""The ``workbench new`` form: a Textual app that turns a CSV and the principal's answers into an :class:`Intake`.

:class:`NewProblemApp` owns the draft (every answer so far) and the suggestions; its
two screens (:mod:`screens.new_problem`) show them and post what the principal asks
for. The suggestions take a few seconds on large data, so a thread worker computes them
whenever the treatment, the outcome or the treated value changes; decisions already made
stay. ``ctrl+s`` returns the complete intake, or lists what is still open and refuses;
Escape (or ``ctrl+q``) returns None and nothing is written. Writing the folder is the
caller's job (``workbench new``).
"""

from __future__ import annotations

import traceback
from dataclasses import replace
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState, get_current_worker

from screens.dialogs import ErrorDialog
from screens.new_problem import (
    CandidatesFound,
    ColumnsDecided,
    ColumnsScreen,
    FormHelpScreen,
    Inspected,
    Inspection,
    InspectionKey,
    QuestionAnswered,
)
from screens.new_question import QuestionScreen

if TYPE_CHECKING:
    from engine.intake.csvfile import CsvTable
    from engine.intake.dictionary import Draft, Intake
    from engine.intake.suggest import Suggestions

INSPECT_DELAY = 0.3
"""Seconds of quiet after a change to the treatment, outcome or treated value before suggestions are recomputed."""

WHERE = (
    "\n\nThe question step (Escape from the columns) holds the treatment and treated value, the outcome and "
    "its type, the estimand and the missing-value policy; the columns step decides each column's role."
)

INSPECT_GROUP = "suggest"
CANDIDATES_GROUP = "candidates"


class NewProblemApp(App["Intake | None"]):
    """Ask the causal question and a role for every column of a CSV; return the intake, or None."""

    CSS_PATH = ["app.tcss", "new_app.tcss"]
    TITLE = "Causal Workbench — new problem"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-normal")]
    BINDINGS = [
        Binding(
            "ctrl+s",
            "write",
            "Write",
            id="new.write",
            priority=True,  # from any field: the inputs have no use for it
            tooltip="Write the problem folder once every answer is in; otherwise list what is open",
        ),
        Binding("question_mark", "help", "Keys", id="new.help", tooltip="Every key of this step, and the roles"),
    ]

    def __init__(self, table: CsvTable, draft: Draft, *, previous: bool = False) -> None:
        super().__init__()
        self.table = table
        self.draft = draft
        self.previous = previous
        self.columns = [str(c) for c in table.frame.columns]
        self.inspection: Inspection | None = None  # for the current key, once the worker is done
        self._key = self._current_key()
        self._timer: Timer | None = None
        self._touched = False  # the principal decided a column in this form
        self._cancel_armed = False
        self.question = QuestionScreen(table, draft, previous=previous)
        self.columns_step = ColumnsScreen(table, previous=previous)

    # ------------------------------------------------------------------ lifecycle

    def get_default_screen(self) -> Screen:
        return self.question

    def on_mount(self) -> None:
        self.sub_title = self.table.source.path.rsplit("/", 1)[-1]
        self._find_candidates()
        if self.draft.treatment is not None or self.draft.outcome is not None:
            self._inspect(self._key)
        self._set_status("answer the question, then ctrl+n for the columns; ctrl+s writes once all is decided")

    @property
    def suggestions(self) -> Suggestions | None:
        """The suggestions for the current treatment and outcome, or None while they are computed."""
        return self.inspection.suggestions if self.inspection is not None else None

    # ------------------------------------------------------------------ workers

    @work(thread=True, exclusive=True, group=CANDIDATES_GROUP, exit_on_error=False, description="find 0/1 columns")
    def _find_candidates(self) -> None:
        from engine.intake.suggest import binary_candidates

        self.post_message(CandidatesFound(binary_candidates(self.table.frame)))

    @work(thread=True, exclusive=True, group=INSPECT_GROUP, exit_on_error=False, description="suggest roles")
    def _inspect(self, key: InspectionKey) -> None:
        from engine.intake.csvfile import IntakeError
        from engine.intake.suggest import guess_outcome, suggest, treatment_values

        frame = self.table.frame
        inspection = Inspection(key)
        if key.outcome is not None:
            try:
                inspection = replace(inspection, outcome_guess=guess_outcome(frame[key.outcome]))
            except IntakeError as exc:
                inspection = replace(inspection, outcome_error=str(exc))
        if key.treatment is not None:
            try:
                _, rule = treatment_values(frame[key.treatment], key.treated_value)
                inspection = replace(inspection, treatment_rule=rule or "")
            except IntakeError as exc:
                inspection = replace(inspection, treatment_error=str(exc))
        usable = not (inspection.outcome_error or inspection.treatment_error)
        if key.treatment is not None and key.outcome is not None and usable and not get_current_worker().is_cancelled:
            try:
                inspection = replace(
                    inspection, suggestions=suggest(self.table, key.treatment, key.outcome, key.treated_value)
                )
            except IntakeError as exc:
                inspection = replace(inspection, error=str(exc))
        if not get_current_worker().is_cancelled:
            self.post_message(Inspected(inspection))

    def _inspect_soon(self) -> None:
        """Recompute after a short quiet spell, so typing a treated value starts one worker, not one per key."""
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(INSPECT_DELAY, lambda: self._inspect(self._key))

    # ------------------------------------------------------------------ messages up

    def on_candidates_found(self, message: CandidatesFound) -> None:
        self.question.set_candidates(message.names)

    def on_question_answered(self, message: QuestionAnswered) -> None:
        a = message.answers
        self.draft = replace(
            self.draft,
            question=a.question,
            treatment=a.treatment,
            treated_value=a.treated_value,
            outcome=a.outcome,
            outcome_type=a.outcome_type,
            estimand=a.estimand,
            missing=a.missing,
            reviewer_notes=a.reviewer_notes,
        )
        key = self._current_key()
        if key != self._key:
            self._key = key
            self.inspection = None  # stale suggestions must not be accepted
            self._inspect_soon()
        self._show_columns()

    def on_inspected(self, message: Inspected) -> None:
        inspection = message.inspection
        if inspection.key != self._key:
            return  # the principal changed the question meanwhile; a newer worker is on its way
        self.inspection = inspection
        self.question.show_inspection(inspection)
        self._show_columns()
        if inspection.suggestions is not None:
            columns = inspection.suggestions.columns
            flagged = sum(c.flagged for c in columns)
            where = "" if self.screen is self.columns_step else "; ctrl+n shows them"
            self._set_status(f"suggestions ready: {flagged} of {len(columns)} column(s) flagged{where}")

    def on_columns_decided(self, message: ColumnsDecided) -> None:
        draft = self.draft
        for decision in message.decisions:
            draft = draft.with_decision(decision)
        self.draft = draft
        self._touched = True
        self._cancel_armed = False
        left = len(draft.undecided(self.columns))
        self._set_status(f"{message.note} · {left} open" if left else f"{message.note} · every column decided")
        self._show_columns()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """A bug in a worker (the data's own problems come back as words in the inspection): say so."""
        if event.state is not WorkerState.ERROR or event.worker.group not in (INSPECT_GROUP, CANDIDATES_GROUP):
            return
        error = event.worker.error
        lines = traceback.format_exception(error, limit=-3) if error is not None else ["unknown error"]
        self._set_status(f"could not {event.worker.description}: {type(error).__name__}")
        self.push_screen(
            ErrorDialog(
                f"Could not {event.worker.description}",
                f"{type(error).__name__}: {error}\n\nThis is a bug in the workbench; your answers are kept, and "
                "role keys still decide columns.\n\n" + "".join(lines),
            )
        )

    # ------------------------------------------------------------------ actions

    def action_columns(self) -> None:
        """On to the columns step."""
        if self.draft.treatment is None or self.draft.outcome is None:
            self._set_status("choose the treatment and the outcome first")
            return
        if self.screen is not self.columns_step:
            self._show_columns()
            if not self.is_screen_installed(self.columns_step):  # installed: kept, cursor and all, when popped
                self.install_screen(self.columns_step, "columns")
            self.push_screen(self.columns_step)

    def action_question(self) -> None:
        """Back to the question step (the decisions stay)."""
        if self.screen is self.columns_step:
            self.pop_screen()

    def action_cancel(self) -> None:
        """Leave without writing; asks once more when columns were decided here."""
        if self._touched and not self._cancel_armed:
            self._cancel_armed = True
            self._set_status("you decided columns here: Escape again leaves without writing anything")
            return
        self.exit(None)

    def action_write(self) -> None:
        """Return the intake, or list what is open or wrong and stay."""
        issues = self.open_items()
        if isinstance(issues, list):
            self._set_status(f"not written: {len(issues)} thing(s) open — {issues[0]}")
            self.push_screen(ErrorDialog("Not ready to write", "\n".join(f"• {line}" for line in issues) + WHERE))
            return
        self.exit(issues)

    def action_help(self) -> None:
        if not isinstance(self.screen, FormHelpScreen):
            self.push_screen(FormHelpScreen(self.screen))

    def open_items(self) -> Intake | list[str]:
        """The intake the answers amount to, or every sentence saying what is still open or wrong."""
        from engine.intake.dictionary import complete

        issues: list[str] = []
        inspection = self.inspection
        if self.draft.treatment is not None and self.draft.outcome is not None:
            if inspection is None:
                issues.append("the treatment and the outcome are still being checked; try again in a moment")
            else:
                issues += [e for e in (inspection.treatment_error, inspection.outcome_error, inspection.error) if e]
        result = complete(self.draft, self.columns)
        if isinstance(result, list):
            return issues + result
        if issues:
            return issues
        try:
            from engine.intake.folder import data_issues
        except ImportError:  # the folder writer lands with `workbench new`; until then complete() is the check
            return result
        return data_issues(self.table, result) or result

    # ------------------------------------------------------------------ helpers

    def _current_key(self) -> InspectionKey:
        d = self.draft
        return InspectionKey(d.treatment, d.outcome, d.treated_value)

    def _show_columns(self) -> None:
        self.columns_step.show(self.draft, self.inspection)

    def _set_status(self, text: str) -> None:
        self.question.set_status(text)
        self.columns_step.set_status(text)
