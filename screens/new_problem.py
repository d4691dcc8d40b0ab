"""The new-problem form (``workbench new``): the causal question, then a role for every column.

Two steps. :class:`~screens.new_question.QuestionScreen` (its own module) asks the question in
one sentence, the treatment, the outcome and its type, the estimand, the missing-value policy
and reviewer-only notes. :class:`ColumnsScreen` (here, with what both steps share) lists
every column with what it holds, the role the checks suggest, the role decided and its
timing, and shows the highlighted column's evidence in full below the table.

Nothing is decided for the principal: a column stays open until a key decides it
(``Enter`` takes the suggestion, a letter sets a role, ``a`` takes every remaining
suggestion and says how many). The app (:mod:`workbench.new_app`) owns the draft and the
suggestions and hands them down; these screens post what the principal asked for as
messages (:class:`QuestionAnswered`, :class:`ColumnsDecided`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from engine.intake.dictionary import (
    DEFAULT_TIMING,
    FORBIDDEN_REASONS,
    ColumnDecision,
    Draft,
    MissingPolicy,
    Role,
    Timing,
    decide,
)
from engine.problem import Estimand, OutcomeType
from screens.dialogs import ReasonDialog
from screens.format import literal
from screens.help import bindings_table

if TYPE_CHECKING:
    from engine.intake.csvfile import CsvTable
    from engine.intake.suggest import ColumnSuggestion, OutcomeGuess, Suggestions

ROLE_KEYS: tuple[tuple[str, Role], ...] = (
    ("c", Role.CONFOUNDER),
    ("p", Role.PRETREATMENT),
    ("m", Role.MEDIATOR),
    ("d", Role.DESCENDANT),
    ("s", Role.SECONDARY_OUTCOME),
    ("l", Role.LEAKAGE),
    ("x", Role.ORACLE),
    ("i", Role.IDENTIFIER),
    ("u", Role.UNUSED),
)
"""The single keys that set a column's role on the columns step."""

SHORT_ROLE = {
    Role.TREATMENT: "treatment",
    Role.OUTCOME: "outcome",
    Role.CONFOUNDER: "confounder",
    Role.PRETREATMENT: "pre-only",
    Role.MEDIATOR: "mediator",
    Role.DESCENDANT: "descendant",
    Role.SECONDARY_OUTCOME: "2nd outcome",
    Role.LEAKAGE: "leakage",
    Role.ORACLE: "sim. truth",
    Role.IDENTIFIER: "identifier",
    Role.UNUSED: "unused",
}
"""Roles as the table shows them at 80 columns; the evidence panel and the legend use the full words."""

SHORT_TIMING = {
    Timing.PRE: "pre",
    Timing.TREATMENT: "treatment",
    Timing.POST: "post",
    Timing.OUTCOME_WINDOW: "window",
    Timing.FUTURE: "future",
    Timing.NOT_OBSERVED: "unobserved",
}

TIMING_CYCLE = (Timing.PRE, Timing.POST, Timing.OUTCOME_WINDOW, Timing.FUTURE, Timing.NOT_OBSERVED)
"""What ``t`` steps through (a column other than the treatment is never timed "treatment")."""

LEGEND = " · ".join(f"{key} {SHORT_ROLE[role]}" for key, role in ROLE_KEYS) + " · g categorical"

ROLE_HELP = """\
Every column needs a role before the folder is written; nothing is decided for you.

confounder          a control: measured before treatment, affects treatment and outcome
pre-treatment only  fixed before treatment but not a control (a placebo outcome)
mediator            on the path treatment -> column -> outcome: forbidden
descendant          caused by the treatment, off the path to the outcome: forbidden
secondary outcome   another outcome, or the outcome measured another way: forbidden
leakage             carries the future or the outcome: forbidden
simulation truth    propensities, potential outcomes: evaluation only, forbidden
identifier          a row key: no causal content
unused              kept in the data, used by nobody (dates, free text...)

A forbidden role needs a reason, written into the contract the guard enforces.
t steps the timing; g makes a confounder categorical (one-hot encoded); e edits the reason.
"""

# --------------------------------------------------------------------------- data and messages


@dataclass(frozen=True)
class InspectionKey:
    """What a set of suggestions depends on."""

    treatment: str | None
    outcome: str | None
    treated_value: str | None


@dataclass(frozen=True)
class Inspection:
    """What the app's worker found for one treatment and outcome: each part, or why it could not."""

    key: InspectionKey
    outcome_guess: OutcomeGuess | None = None
    outcome_error: str = ""
    treatment_rule: str = ""  # how the treatment was made 0/1 ("" when it was 0/1 already)
    treatment_error: str = ""
    suggestions: Suggestions | None = None
    error: str = ""  # why there are no suggestions although both columns are chosen


@dataclass(frozen=True)
class QuestionAnswers:
    """Everything the question step holds, read from its widgets."""

    question: str
    treatment: str | None
    treated_value: str | None
    outcome: str | None
    outcome_type: OutcomeType | None
    estimand: Estimand
    missing: MissingPolicy
    reviewer_notes: str


@dataclass
class QuestionAnswered(Message):
    """The principal changed an answer on the question step."""

    answers: QuestionAnswers


@dataclass
class ColumnsDecided(Message):
    """The principal decided one or more columns; ``note`` says what, for the status line."""

    decisions: tuple[ColumnDecision, ...]
    note: str


@dataclass
class Inspected(Message):
    """The worker finished looking at a treatment and outcome."""

    inspection: Inspection


@dataclass
class CandidatesFound(Message):
    """Columns that could be the treatment, likeliest first."""

    names: list[str]


def source_line(table: CsvTable) -> Text:
    """Where the data came from and how it was read, for both steps' heads."""
    s = table.source
    name = s.path.rsplit("/", 1)[-1]
    text = literal(f"{name} · {s.rows:,} rows × {s.columns} columns · {s.encoding}, {s.delimiter}-separated")
    if table.conversions:
        text.append("\nread: ", style="bold")
        text.append("; ".join(table.conversions))
    else:
        text.append("\nread as is: no conversions", style="dim")
    return text


PREVIOUS_NOTE = "answers from your previous run on this CSV are filled in: check each one"


# --------------------------------------------------------------------------- a step of the form


class FormStep(Screen[None]):
    """A step of the form: a status line that keeps its text until the step is drawn."""

    _status = ""

    def set_status(self, text: str) -> None:
        """Show ``text`` in the status line (now, or once the step is mounted)."""
        self._status = text
        if self._drawn():
            self.query_one("#status", Static).update(literal(text))

    def _drawn(self) -> bool:
        """The widgets exist: mounted, and not being taken down as the app exits."""
        return self.is_mounted and bool(self.query("#status"))


# --------------------------------------------------------------------------- step 2: the columns


class ColumnsScreen(FormStep):
    """Step 2: every column, its suggested and decided role and timing; the evidence below."""

    BINDINGS = [
        Binding(
            "enter",
            "accept",
            "Accept",
            id="new.accept",
            priority=True,  # before the table's own Enter, so a mouse click never decides a row
            tooltip="Take the highlighted column's suggestion",
        ),
        Binding(
            "a",
            "accept_rest",
            "Accept rest",
            id="new.accept-rest",
            tooltip="Take the suggestion for every column still open (the status line says how many)",
        ),
        *(
            Binding(
                key,
                f"role('{role.value}')",
                role.value,
                id=f"new.role-{role.name.lower()}",
                show=False,
                tooltip=f"Role of the highlighted column: {role.value}",
            )
            for key, role in ROLE_KEYS
        ),
        Binding("t", "timing", "Timing", id="new.timing", tooltip="Step the highlighted column's timing"),
        Binding(
            "g",
            "categorical",
            "Categorical",
            id="new.categorical",
            show=False,
            tooltip="A confounder: one-hot encode it, or not",
        ),
        Binding("e", "reason", "Reason", id="new.reason", tooltip="Write why (prefilled with the evidence)"),
        Binding("escape", "app.question", "Question", id="new.back", tooltip="Back to the question step"),
    ]

    def __init__(self, table: CsvTable, *, previous: bool = False) -> None:
        super().__init__(id="columns-step")
        self._table = table
        self._previous = previous
        self._columns = [str(c) for c in table.frame.columns]
        self._draft: Draft | None = None
        self._suggestions: Suggestions | None = None
        self._inspection: Inspection | None = None
        self._built_for: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="columns-body"):
            yield Static("", id="columns-head")
            table: DataTable[Any] = DataTable(id="columns", cursor_type="row", zebra_stripes=True)
            yield table
            yield Static(literal(LEGEND, style="dim"), id="legend")
            with VerticalScroll(id="evidence-pane"):
                yield Static("", id="evidence")
        yield Static("", id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "2/2 the columns"
        table = self.query_one("#columns", DataTable)
        for key, label, width in (
            ("name", "column", 14),
            ("holds", "holds", 15),
            ("suggested", "suggested", 11),
            ("decided", "decided", 15),
            ("timing", "timing", 10),
        ):
            table.add_column(label, key=key, width=width)
        table.focus()
        self._draw()
        self.set_status(self._status)

    # ------------------------------------------------------------------ data down

    def show(self, draft: Draft, inspection: Inspection | None) -> None:
        """Draw the columns for this draft and these suggestions (None while they are computed)."""
        self._draft = draft
        self._inspection = inspection
        self._suggestions = inspection.suggestions if inspection is not None else None
        if self._drawn():
            self._draw()

    # ------------------------------------------------------------------ drawing

    def _draw(self) -> None:
        draft, suggestions = self._draft, self._suggestions
        if draft is None:
            return
        self.query_one("#columns-head", Static).update(self._head())
        table = self.query_one("#columns", DataTable)
        structure = (draft.treatment, draft.outcome, id(suggestions))
        if structure != self._built_for:
            row = table.cursor_row
            table.clear()
            for name in self._columns:
                table.add_row(*self._cells(name), key=name)
            self._built_for = structure
            if table.row_count:
                table.move_cursor(row=min(row, table.row_count - 1))
        else:
            for name in self._columns:
                for key, cell in zip(("name", "holds", "suggested", "decided", "timing"), self._cells(name)):
                    table.update_cell(name, key, cell)
        self._show_evidence()

    def _head(self) -> Text:
        draft = self._draft
        assert draft is not None
        # Three lines at most, each cut rather than wrapped: the table needs the rows at 80×24.
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("treatment ", style="bold")
        text.append(draft.treatment or "?")
        text.append(" · outcome ", style="bold")
        text.append(f"{draft.outcome or '?'} ({draft.outcome_type or 'type?'})")
        text.append(f" · {draft.estimand}\n")
        if self._suggestions is not None:
            text.append(self._suggestions.sample_note, style="dim")
        elif self._inspection is not None and self._inspection.error:
            text.append(f"⚠ {self._inspection.error}", style="bold red")
        else:
            text.append("computing suggestions…", style="italic")
        if self._table.conversions:  # in full on the question step
            text.append(" · read: ", style="bold")
            text.append("; ".join(self._table.conversions), style="dim")
        if self._previous:
            text.append(f"\n{PREVIOUS_NOTE}", style="bold yellow")
        return text

    def _cells(self, name: str) -> tuple[Text, ...]:
        draft = self._draft
        assert draft is not None
        fixed = self._fixed_role(name)
        if fixed is not None:
            word = SHORT_ROLE[fixed]
            return (
                literal(name, style="bold"),
                Text(""),
                Text(word, style="dim"),
                Text(word, style="bold"),
                Text(SHORT_TIMING[DEFAULT_TIMING[fixed]]),
            )
        suggestion = self._suggestion(name)
        decision = draft.decided(name)
        holds = literal(suggestion.summary) if suggestion is not None else Text("…", style="dim")
        suggested = Text("…", style="dim")
        if suggestion is not None:
            role = suggestion.suggested.role
            suggested = Text(SHORT_ROLE[role], style="red" if role in FORBIDDEN_REASONS else "")
        decided, timing = Text(""), Text("")
        if decision is not None:
            word = SHORT_ROLE[decision.role] + ("·cat" if decision.categorical else "")
            differs = suggestion is not None and decision.role is not suggestion.suggested.role
            style = "bold red" if decision.forbidden else ("bold yellow" if differs else "bold green")
            decided = Text(word, style=style)
            timing = Text(SHORT_TIMING[decision.timing])
        elif suggestion is not None:
            timing = Text(SHORT_TIMING[suggestion.suggested.timing], style="dim")
        for cell in (holds, suggested, decided, timing):
            cell.no_wrap, cell.overflow = True, "ellipsis"
        name_cell = literal(name)
        name_cell.no_wrap, name_cell.overflow = True, "ellipsis"
        return name_cell, holds, suggested, decided, timing

    def _show_evidence(self) -> None:
        pane = self.query_one("#evidence", Static)
        name = self._highlighted()
        if name is None or self._draft is None:
            pane.update("")
            return
        pane.update(self._evidence(name))

    def _evidence(self, name: str) -> Text:
        draft = self._draft
        assert draft is not None
        text = literal(name, style="bold")
        fixed = self._fixed_role(name)
        inspection = self._inspection
        if fixed is Role.TREATMENT:
            text.append(" is the treatment. ")
            if inspection is not None:
                text.append(inspection.treatment_error or inspection.treatment_rule or "0/1 already.")
            text.append("\nChange it on the question step (Escape).", style="dim")
            return text
        if fixed is Role.OUTCOME:
            text.append(" is the outcome. ")
            if inspection is not None and inspection.outcome_guess is not None:
                text.append(f"Looks {inspection.outcome_guess.looks_like}: {inspection.outcome_guess.evidence}.")
            text.append("\nChange it on the question step (Escape).", style="dim")
            return text
        suggestion = self._suggestion(name)
        if suggestion is None:
            text.append(" · suggestions are being computed…", style="italic")
        else:
            missing = f"{suggestion.missing:,} missing" if suggestion.missing else "none missing"
            text.append(f" · {suggestion.summary} · {missing}")
            s = suggestion.suggested
            text.append("\nsuggested: ", style="bold")
            text.append(f"{s.role}, {s.timing}" + (", categorical" if s.categorical else ""))
            if s.forbidden:
                text.append(" — forbidden: no model may use it", style="red")
            for line in suggestion.evidence:
                text.append(f"\n  • {line}")
        decision = draft.decided(name)
        text.append("\ndecided: ", style="bold")
        if decision is None:
            text.append("not yet — Enter takes the suggestion, or press a role key", style="yellow")
        else:
            text.append(f"{decision.role}, {decision.timing}" + (", categorical" if decision.categorical else ""))
            if decision.reason:
                text.append("\nreason: ", style="bold")
                text.append(decision.reason)
            elif decision.forbidden:
                text.append("\nreason: none yet — press e to write one", style="bold red")
        return text

    # ------------------------------------------------------------------ lookups

    def _fixed_role(self, name: str) -> Role | None:
        draft = self._draft
        if draft is not None and name == draft.treatment:
            return Role.TREATMENT
        if draft is not None and name == draft.outcome:
            return Role.OUTCOME
        return None

    def _suggestion(self, name: str) -> ColumnSuggestion | None:
        return self._suggestions.get(name) if self._suggestions is not None else None

    def _highlighted(self) -> str | None:
        table = self.query_one("#columns", DataTable)
        if table.row_count == 0:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _decidable(self) -> tuple[str, ColumnSuggestion | None, ColumnDecision | None] | None:
        """The highlighted column, its suggestion and decision; None (and a word why) when it cannot be decided."""
        name = self._highlighted()
        if name is None or self._draft is None:
            return None
        fixed = self._fixed_role(name)
        if fixed is not None:
            self.set_status(f"{name} is the {fixed}: change it on the question step (Escape)")
            return None
        return name, self._suggestion(name), self._draft.decided(name)

    # ------------------------------------------------------------------ actions

    @on(DataTable.RowHighlighted, "#columns")
    def _highlight(self, _event: DataTable.RowHighlighted) -> None:
        self._show_evidence()

    def action_accept(self) -> None:
        row = self._decidable()
        if row is None:
            return
        name, suggestion, _ = row
        if suggestion is None:
            self.set_status("the suggestions are still being computed; a role key decides without them")
            return
        s = suggestion.suggested
        self._decide((s,), f"{name}: {s.role} (suggested), {s.timing}")
        table = self.query_one("#columns", DataTable)
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)

    def action_accept_rest(self) -> None:
        draft = self._draft
        if draft is None or self._suggestions is None:
            self.set_status("the suggestions are still being computed; wait a moment")
            return
        open_names = draft.undecided(self._columns)
        taken = tuple(s.suggested for name in open_names if (s := self._suggestions.get(name)) is not None)
        if not taken:
            self.set_status("no column is open: every column is decided")
            return
        shown = ", ".join(d.name for d in taken[:6]) + (", …" if len(taken) > 6 else "")
        self._decide(taken, f"accepted the suggestion for {len(taken)} remaining column(s): {shown}")

    def action_role(self, value: str) -> None:
        row = self._decidable()
        if row is None:
            return
        name, suggestion, current = row
        role = Role(value)
        same_as_suggested = suggestion is not None and suggestion.suggested.role is role
        if current is not None and current.role is role:
            reason, categorical = current.reason, current.categorical
        elif same_as_suggested:
            assert suggestion is not None
            reason, categorical = suggestion.suggested.reason, suggestion.suggested.categorical
        else:
            reason, categorical = "", False
        if role in FORBIDDEN_REASONS and not reason:

            def written(text: str | None) -> None:
                if text:
                    self._decide((decide(name, role, text),), f"{name}: {role}, because {text}")
                else:
                    self.set_status(f"{name}: not changed (a {role} needs a reason)")

            self.app.push_screen(
                PrefilledReasonDialog(
                    f"Why is {name} a {role}?",
                    "A forbidden column needs a reason: it is written into the contract the guard enforces.",
                    value="",
                    confirm="Forbid it",
                ),
                written,
            )
            return
        self._decide((decide(name, role, reason, categorical=categorical),), f"{name}: {role}")

    def action_timing(self) -> None:
        row = self._decidable()
        if row is None:
            return
        name, _, current = row
        if current is None:
            self.set_status(f"{name} is not decided yet: Enter takes the suggestion, or press a role key")
            return
        position = TIMING_CYCLE.index(current.timing) if current.timing in TIMING_CYCLE else -1
        timing = TIMING_CYCLE[(position + 1) % len(TIMING_CYCLE)]
        self._decide((replace(current, timing=timing),), f"{name}: timed {timing}")

    def action_categorical(self) -> None:
        row = self._decidable()
        if row is None:
            return
        name, _, current = row
        if current is None or current.role is not Role.CONFOUNDER:
            self.set_status(f"only a confounder is encoded: make {name} a confounder first (c)")
            return
        flipped = not current.categorical
        word = "categorical (one-hot encoded)" if flipped else "numeric (not one-hot encoded)"
        self._decide((replace(current, categorical=flipped),), f"{name}: {word}")

    def action_reason(self) -> None:
        row = self._decidable()
        if row is None:
            return
        name, suggestion, current = row
        if current is None:
            self.set_status(f"{name} is not decided yet: Enter takes the suggestion, or press a role key")
            return
        prefill = current.reason or ("; ".join(suggestion.evidence) if suggestion is not None else "")

        def written(text: str | None) -> None:
            if text:
                self._decide((replace(current, reason=text),), f"{name}: reason written")

        self.app.push_screen(
            PrefilledReasonDialog(f"Why is {name} a {current.role}?", "In a few words:", value=prefill, confirm="Keep"),
            written,
        )

    def _decide(self, decisions: tuple[ColumnDecision, ...], note: str) -> None:
        self.post_message(ColumnsDecided(decisions, note))


# --------------------------------------------------------------------------- small screens


class PrefilledReasonDialog(ReasonDialog):
    """The reason dialog with its input prefilled (the suggestion's evidence, or the reason so far)."""

    def __init__(self, title: str, prompt: str, *, value: str = "", confirm: str = "OK") -> None:
        super().__init__(title, prompt, placeholder="in a few words", confirm=confirm)
        self._value = value

    def on_mount(self) -> None:
        field = self.query_one("#reason", Input)
        field.value = self._value
        field.focus()


class FormHelpScreen(Screen[None]):
    """The keys of the step underneath, and what each role means."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="new.help-close"),
        Binding("question_mark", "close", "Close", show=False, id="new.help-close-again"),
    ]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="new-help"):
            yield Static(bindings_table(self.under), id="new-help-keys")
            yield Static(ROLE_HELP, id="new-help-roles", markup=False)
        yield Footer(compact=True)

    def action_close(self) -> None:
        self.dismiss(None)
