"""The data dictionary: every column's timing and role, and the contract they imply.

The causal code-contract workflow starts here: a column's *timing* (when it is measured
relative to treatment) and *role* (confounder, mediator, leakage…) are decided first, by
the principal, and the contract the guard enforces is derived from them, never the other
way round.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from engine.problem import Contract, Estimand, ForbiddenReason, ForbiddenVariable, OutcomeType


class Timing(StrEnum):
    """When a column is measured, relative to the treatment."""

    PRE = "pre-treatment"
    TREATMENT = "treatment"
    POST = "post-treatment"
    OUTCOME_WINDOW = "outcome window"
    FUTURE = "future"
    NOT_OBSERVED = "not observed"  # simulation-only truth: no real data set has it


class Role(StrEnum):
    """What a column may do in the analysis."""

    TREATMENT = "treatment"
    OUTCOME = "outcome"
    CONFOUNDER = "confounder"  # a control: pre-treatment, affects treatment and outcome
    PRETREATMENT = "pre-treatment only"  # fixed before treatment but not a control (a placebo outcome)
    MEDIATOR = "mediator"  # on the path treatment → column → outcome
    DESCENDANT = "descendant"  # caused by the treatment, off the path to the outcome
    SECONDARY_OUTCOME = "secondary outcome"  # another outcome, or the outcome measured another way
    LEAKAGE = "leakage"  # carries the future or the outcome
    ORACLE = "simulation truth"  # propensities, potential outcomes: evaluation only
    IDENTIFIER = "identifier"  # a row key: no causal content
    UNUSED = "unused"  # kept in the data, used by nobody (dates, free text…)


FORBIDDEN_REASONS: dict[Role, ForbiddenReason] = {
    Role.MEDIATOR: ForbiddenReason.MEDIATOR,
    Role.DESCENDANT: ForbiddenReason.POST_TREATMENT,
    Role.SECONDARY_OUTCOME: ForbiddenReason.OUTCOME,
    Role.LEAKAGE: ForbiddenReason.LEAKAGE,
    Role.ORACLE: ForbiddenReason.ORACLE,
}
"""Roles the guard forbids, and the contract's word for each."""

ROLE_FOR_REASON = {reason: role for role, reason in FORBIDDEN_REASONS.items()}

DEFAULT_TIMING: dict[Role, Timing] = {
    Role.TREATMENT: Timing.TREATMENT,
    Role.OUTCOME: Timing.OUTCOME_WINDOW,
    Role.CONFOUNDER: Timing.PRE,
    Role.PRETREATMENT: Timing.PRE,
    Role.MEDIATOR: Timing.POST,
    Role.DESCENDANT: Timing.POST,
    Role.SECONDARY_OUTCOME: Timing.OUTCOME_WINDOW,
    Role.LEAKAGE: Timing.FUTURE,
    Role.ORACLE: Timing.NOT_OBSERVED,
    Role.IDENTIFIER: Timing.PRE,
    Role.UNUSED: Timing.PRE,
}
"""The timing a role implies unless the principal says otherwise."""

COLUMN_ROLES = tuple(r for r in Role if r not in (Role.TREATMENT, Role.OUTCOME))
"""Roles a column other than the treatment and the outcome can take."""

AFTER_TREATMENT = frozenset({Timing.POST, Timing.OUTCOME_WINDOW, Timing.FUTURE})


class MissingPolicy(StrEnum):
    """What to do with rows missing a value the analysis uses."""

    STOP = "stop"  # refuse, and say which columns
    DROP = "drop"  # drop those rows (complete-case analysis), recorded


@dataclass(frozen=True)
class ColumnDecision:
    """The principal's decision for one column."""

    name: str
    role: Role
    timing: Timing
    reason: str = ""  # why: required for a forbidden role, shown in PROBLEM.md
    categorical: bool = False  # for a confounder: one-hot encode it

    @property
    def forbidden(self) -> bool:
        return self.role in FORBIDDEN_REASONS


def decide(
    name: str, role: Role, reason: str = "", *, timing: Timing | None = None, categorical: bool = False
) -> ColumnDecision:
    """A decision with the timing its role implies unless ``timing`` is given.

    Parameters
    ----------
    name, role, reason
        The column, its role and why.
    timing
        When it is measured; defaults to :data:`DEFAULT_TIMING` of the role.
    categorical
        Whether a confounder is one-hot encoded.

    Returns
    -------
    ColumnDecision
    """
    return ColumnDecision(name, role, timing or DEFAULT_TIMING[role], reason, categorical and role is Role.CONFOUNDER)


@dataclass(frozen=True)
class Question:
    """The causal question: who is treated, what is measured, over whom."""

    text: str
    treatment: str
    outcome: str
    outcome_type: OutcomeType
    estimand: Estimand
    treated_value: str | None = None  # treatment = 1 where the raw column equals this value


@dataclass(frozen=True)
class Intake:
    """Everything the principal decided about a CSV: enough to write a problem folder."""

    name: str
    title: str
    question: Question
    columns: tuple[ColumnDecision, ...]  # every column but the treatment and the outcome
    missing: MissingPolicy = MissingPolicy.STOP
    reviewer_notes: str = ""  # PROBLEM.md's "For the reviewer only" section; never shown to an agent
    extra_forbidden: tuple[ColumnDecision, ...] = ()  # forbidden names absent from the data (oracle columns)

    def decision(self, name: str) -> ColumnDecision | None:
        """The decision for one column.

        Parameters
        ----------
        name
            A column name (or a forbidden name absent from the data).

        Returns
        -------
        ColumnDecision or None
            None for the treatment, the outcome and names nobody decided.
        """
        return next((c for c in (*self.columns, *self.extra_forbidden) if c.name == name), None)

    def used_columns(self) -> tuple[str, ...]:
        """Columns whose missing values matter.

        Returns
        -------
        tuple of str
            The treatment, the outcome, the confounders and the pre-treatment-only columns
            (placebo outcomes).
        """
        q = self.question
        kept = (Role.CONFOUNDER, Role.PRETREATMENT)
        return (q.treatment, q.outcome, *(c.name for c in self.columns if c.role in kept))


def decision_issues(intake: Intake) -> list[str]:
    """What stops an intake from becoming a contract, each as a sentence saying what to do.

    Parameters
    ----------
    intake
        The decisions so far.

    Returns
    -------
    list of str
        A control timed after treatment, a forbidden column without a reason, no controls,
        the treatment equal to the outcome.
    """
    issues: list[str] = []
    q = intake.question
    if q.treatment == q.outcome:
        issues.append(f"the treatment and the outcome are the same column ({q.treatment!r}); pick two")
    for c in intake.columns:
        if c.role is Role.CONFOUNDER and c.timing is not Timing.PRE:
            issues.append(
                f"{c.name!r} is a confounder but timed {c.timing}: a control must be measured before treatment; "
                "make it a mediator, descendant or leakage, or correct its timing"
            )
        if c.role is Role.PRETREATMENT and c.timing is not Timing.PRE:
            issues.append(f"{c.name!r} is 'pre-treatment only' but timed {c.timing}; correct one of the two")
        if c.forbidden and not c.reason.strip():
            issues.append(
                f"{c.name!r} is forbidden as {c.role}: say why in a few words (it is written into the contract)"
            )
    if not any(c.role is Role.CONFOUNDER for c in intake.columns):
        issues.append("no column is a confounder: the contract needs at least one pre-treatment control")
    return issues


def build_contract(intake: Intake) -> Contract:
    """The causal contract the decisions imply.

    Parameters
    ----------
    intake
        Decisions that :func:`decision_issues` found nothing wrong with.

    Returns
    -------
    Contract
    """
    q = intake.question
    columns = intake.columns
    return Contract(
        treatment=q.treatment,
        outcome=q.outcome,
        outcome_type=q.outcome_type,
        estimand=q.estimand,
        controls=tuple(c.name for c in columns if c.role is Role.CONFOUNDER),
        categorical=tuple(c.name for c in columns if c.role is Role.CONFOUNDER and c.categorical),
        forbidden=tuple(
            ForbiddenVariable(c.name, FORBIDDEN_REASONS[c.role], c.reason)
            for c in (*columns, *intake.extra_forbidden)
            if c.forbidden
        ),
        pretreatment=tuple(c.name for c in columns if c.role is Role.PRETREATMENT),
        ignore=tuple(c.name for c in columns if c.role in (Role.IDENTIFIER, Role.UNUSED)),
    )


@dataclass(frozen=True)
class Draft:
    """Answers so far, from flags, the form or a previous run: any of them may still be open."""

    name: str
    title: str = ""
    question: str = ""
    treatment: str | None = None
    outcome: str | None = None
    outcome_type: OutcomeType | None = None
    estimand: Estimand = Estimand.ATE
    treated_value: str | None = None
    decisions: tuple[ColumnDecision, ...] = ()
    missing: MissingPolicy = MissingPolicy.STOP
    reviewer_notes: str = ""
    extra_forbidden: tuple[ColumnDecision, ...] = ()

    def decided(self, name: str) -> ColumnDecision | None:
        """The decision made so far for one column.

        Parameters
        ----------
        name
            A column name.

        Returns
        -------
        ColumnDecision or None
            None while the column is open.
        """
        return next((c for c in self.decisions if c.name == name), None)

    def with_decision(self, decision: ColumnDecision) -> Draft:
        """This draft with one column decided (again).

        Parameters
        ----------
        decision
            The column's new decision; an earlier one for the same column is dropped.

        Returns
        -------
        Draft
        """
        others = tuple(c for c in self.decisions if c.name != decision.name)
        return replace(self, decisions=(*others, decision))

    def undecided(self, columns: list[str] | tuple[str, ...]) -> list[str]:
        """The columns nobody has decided yet.

        Parameters
        ----------
        columns
            Column names, in the data's order.

        Returns
        -------
        list of str
            Those of ``columns`` without a decision, the treatment and outcome excepted.
        """
        done = {c.name for c in self.decisions} | {self.treatment, self.outcome}
        return [c for c in columns if c not in done]

    def default_question(self) -> str:
        """The question the answers so far ask, when the principal words none.

        Returns
        -------
        str
        """
        population = {
            Estimand.ATE: "over everyone",
            Estimand.ATT: "over the treated",
            Estimand.ATO: "over the overlap population",
        }
        return f"What is the average effect of {self.treatment} on {self.outcome}, {population[self.estimand]} ({self.estimand})?"


def complete(draft: Draft, columns: list[str] | tuple[str, ...]) -> Intake | list[str]:
    """The intake a draft amounts to, or what is still open or wrong.

    Parameters
    ----------
    draft
        The answers so far.
    columns
        Every column of the data, in order.

    Returns
    -------
    Intake or list of str
        An intake when every column is decided and :func:`decision_issues` finds nothing;
        otherwise one sentence per open or wrong answer.
    """
    open_items: list[str] = []
    if draft.treatment is None:
        open_items.append("no treatment column chosen")
    if draft.outcome is None:
        open_items.append("no outcome column chosen")
    if draft.outcome_type is None:
        open_items.append("the outcome type is not confirmed (continuous, binary or count)")
    undecided = draft.undecided(columns)
    if undecided:
        open_items.append(f"{len(undecided)} column(s) not decided: {', '.join(undecided)}")
    if open_items:
        return open_items
    assert draft.treatment is not None and draft.outcome is not None and draft.outcome_type is not None
    order = {name: i for i, name in enumerate(columns)}
    intake = Intake(
        name=draft.name,
        title=draft.title or f"{draft.name}: the effect of {draft.treatment} on {draft.outcome} ({draft.estimand})",
        question=Question(
            text=draft.question or draft.default_question(),
            treatment=draft.treatment,
            outcome=draft.outcome,
            outcome_type=draft.outcome_type,
            estimand=draft.estimand,
            treated_value=draft.treated_value,
        ),
        columns=tuple(
            sorted(
                (c for c in draft.decisions if c.name in order and c.name not in (draft.treatment, draft.outcome)),
                key=lambda c: order[c.name],
            )
        ),
        missing=draft.missing,
        reviewer_notes=draft.reviewer_notes,
        extra_forbidden=tuple(
            c for c in (*draft.extra_forbidden, *(d for d in draft.decisions if d.name not in order))
        ),
    )
    issues = decision_issues(intake)
    return issues or intake
