"""The new-problem form's first step (``workbench new``): the causal question in one sentence.

:class:`QuestionScreen` asks for the question, the treatment (and the value that means
"treated" when it is not 0/1), the outcome and its type, the estimand, the missing-value
policy and reviewer-only notes, and posts :class:`~screens.new_problem.QuestionAnswered`.
The second step, a role for every column, is :class:`~screens.new_problem.ColumnsScreen`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Header, Input, Label, Select, Static, TextArea

from engine.intake.dictionary import Draft, MissingPolicy
from engine.problem import Estimand, OutcomeType
from screens.format import literal
from screens.new_problem import PREVIOUS_NOTE, FormStep, Inspection, QuestionAnswered, QuestionAnswers, source_line

if TYPE_CHECKING:
    from engine.intake.csvfile import CsvTable

ESTIMANDS = (
    ("ATE: over everyone", Estimand.ATE),
    ("ATT: over the treated", Estimand.ATT),
    ("ATO: over the overlap population", Estimand.ATO),
)
MISSING = (
    ("stop: refuse, and say which columns", MissingPolicy.STOP),
    ("drop the rows missing a used value (recorded)", MissingPolicy.DROP),
)
TREATED_HINT = "Here: type the value that means treated after 'treated ='."
OUTCOME_TYPES = tuple((kind.value, kind) for kind in OutcomeType)  # whatever types the engine models


class QuestionScreen(FormStep):
    """Step 1: the question, treatment, outcome and its type, estimand, missing values, notes."""

    BINDINGS = [
        Binding("ctrl+n", "app.columns", "Columns", id="new.columns", tooltip="On to the table of every column"),
        Binding(
            "escape",
            "app.cancel",
            "Cancel",
            id="new.cancel",
            tooltip="Leave without writing anything (asks again if you decided columns)",
        ),
    ]

    def __init__(self, table: CsvTable, draft: Draft, *, previous: bool = False) -> None:
        super().__init__(id="question-step")
        self._table = table
        self._draft = draft
        self._previous = previous
        self._columns = [str(c) for c in table.frame.columns]
        # The outcome whose type the select shows: a new outcome takes the guess for it.
        self._typed_for = draft.outcome if draft.outcome_type is not None else None
        self._candidates: list[str] | None = None
        self._inspection: Inspection | None = None

    def compose(self) -> ComposeResult:
        d = self._draft
        yield Header()
        with VerticalScroll(id="question-body"):
            yield Static(source_line(self._table), id="new-source")
            if self._previous:
                yield Static(literal(PREVIOUS_NOTE), classes="new-previous")
            with Horizontal(classes="new-row"):
                yield Label("question", classes="new-label")
                yield Input(d.question, placeholder=self._placeholder(d), id="question-text", compact=True)
            with Horizontal(classes="new-row"):
                yield Label("treatment", classes="new-label")
                yield Select(
                    self._options(self._columns),
                    value=d.treatment if d.treatment is not None else Select.NULL,
                    prompt="choose the 0/1 column",
                    id="treatment",
                    compact=True,
                )
                yield Label("treated =", classes="new-label-short")
                yield Input(
                    d.treated_value or "",
                    placeholder="only if not 0/1",
                    id="treated-value",
                    compact=True,
                )
            yield Static("", id="treatment-note", classes="new-note")
            with Horizontal(classes="new-row"):
                yield Label("outcome", classes="new-label")
                yield Select(
                    self._options(self._columns),
                    value=d.outcome if d.outcome is not None else Select.NULL,
                    prompt="choose the outcome",
                    id="outcome",
                    compact=True,
                )
                yield Label("type", classes="new-label-short")
                yield Select(
                    OUTCOME_TYPES,
                    value=d.outcome_type if d.outcome_type is not None else Select.NULL,
                    prompt="confirm",
                    id="outcome-type",
                    compact=True,
                )
            yield Static("", id="outcome-note", classes="new-note")
            with Horizontal(classes="new-row"):
                yield Label("estimand", classes="new-label")
                yield Select(ESTIMANDS, value=d.estimand, allow_blank=False, id="estimand", compact=True)
            with Horizontal(classes="new-row"):
                yield Label("missing values", classes="new-label")
                yield Select(MISSING, value=d.missing, allow_blank=False, id="missing", compact=True)
            with Horizontal(classes="new-row new-notes-row"):
                yield Label("for the reviewer\nonly (optional)", classes="new-label")
                yield TextArea(
                    d.reviewer_notes,
                    id="reviewer-notes",
                    compact=True,
                    placeholder="never shown to an agent: what you know that it must find out",
                )
        yield Static("", id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "1/2 the question"
        self.query_one("#question-text", Input).focus()
        self.set_status(self._status)
        if self._candidates is not None:
            self.set_candidates(self._candidates)
        if self._inspection is not None:
            self.show_inspection(self._inspection)

    # ------------------------------------------------------------------ data down

    def set_candidates(self, names: list[str]) -> None:
        """Offer the treatment's choices with the likely ones (two values) first."""
        self._candidates = names
        if not self._drawn():
            return  # on_mount offers them
        select = self.query_one("#treatment", Select)
        value = select.value
        rest = [c for c in self._columns if c not in names]
        with select.prevent(Select.Changed):
            select.set_options([(literal(f"{n} (two values)"), n) for n in names] + self._options(rest))
            if value is not Select.NULL:
                select.value = value

    def show_inspection(self, inspection: Inspection) -> None:
        """Say what the treatment and the outcome hold; a new outcome gets its guessed type."""
        self._inspection = inspection
        if not self._drawn():
            return  # on_mount shows it
        note = self.query_one("#treatment-note", Static)
        if inspection.treatment_error:
            # The engine's words are the command line's (--treated-value); say where that is here.
            note.update(literal(f"⚠ {inspection.treatment_error}\n", style="bold red").append(TREATED_HINT))
        elif inspection.key.treatment is None:
            note.update(literal("the treatment must be 0/1, or a value that means treated", style="dim"))
        else:
            note.update(literal(inspection.treatment_rule or "0/1 already: used as it is", style="dim"))
        guess = inspection.outcome_guess
        outcome_note = self.query_one("#outcome-note", Static)
        if inspection.outcome_error:
            outcome_note.update(literal(f"⚠ {inspection.outcome_error}", style="bold red"))
        elif guess is not None:
            text = literal(f"looks {guess.looks_like}: ", style="bold")
            text.append(guess.evidence)
            outcome_note.update(text)
            if inspection.key.outcome != self._typed_for:
                self._typed_for = inspection.key.outcome
                self.query_one("#outcome-type", Select).value = guess.outcome_type  # posts the answers
        else:
            outcome_note.update("")
        if inspection.error:
            outcome_note.update(literal(f"⚠ {inspection.error}", style="bold red"))

    # ------------------------------------------------------------------ messages up

    def answers(self) -> QuestionAnswers:
        """The answers the widgets hold now."""

        def chosen(selector: str) -> Any:
            value = self.query_one(selector, Select).value
            return None if value is Select.NULL else value

        treated = self.query_one("#treated-value", Input).value.strip()
        return QuestionAnswers(
            question=self.query_one("#question-text", Input).value.strip(),
            treatment=chosen("#treatment"),
            treated_value=treated or None,
            outcome=chosen("#outcome"),
            outcome_type=chosen("#outcome-type"),
            estimand=chosen("#estimand"),
            missing=chosen("#missing"),
            reviewer_notes=self.query_one("#reviewer-notes", TextArea).text.strip(),
        )

    @on(Input.Changed)
    @on(Select.Changed)
    @on(TextArea.Changed)
    def _changed(self, event: Message) -> None:
        answers = self.answers()
        if isinstance(event, Select.Changed):
            placeholder = self._placeholder(replace(self._draft, treatment=answers.treatment, outcome=answers.outcome))
            self.query_one("#question-text", Input).placeholder = placeholder
        self.post_message(QuestionAnswered(answers))

    @staticmethod
    def _options(names: list[str]) -> list[tuple[Text, str]]:
        return [(literal(n), n) for n in names]

    @staticmethod
    def _placeholder(draft: Draft) -> str:
        if draft.treatment is None or draft.outcome is None:
            return "in one sentence (empty: the default question, once treatment and outcome are chosen)"
        return draft.default_question()


# --------------------------------------------------------------------------- step 2: the columns
