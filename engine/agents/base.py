"""The agent interface: what every backend receives, and what it must return.

An agent sees an :class:`AgentContext` — the contract, the agent-visible part of
PROBLEM.md, PROGRAM.md, the current best file, its metrics, the whole history and a
summary of the data (names and counts, never values) — and returns a
:class:`~engine.records.Proposal`. Nothing here reads ``truth.json``: the context is
built from the contract, the Markdown files and :class:`~engine.problem.ModelData` only.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol

import numpy as np

from engine.errors import AgentError
from engine.iteration import IterationRecord
from engine.problem import Contract, Gates, ModelData, OutcomeType
from engine.records import AgentReview, CompileResult, Finding, Loop, Metrics, Proposal

if TYPE_CHECKING:
    from engine.problem import Problem

REVIEWER_HEADING = "## For the reviewer only"
"""PROBLEM.md sections starting at this heading are for the human reviewer, never the agent."""

POSITIVE_SHARE = 0.95  # share of positive outcomes above which a multiplicative mean is proposed
_HEADING = re.compile(r"^(#{1,6})\s")
_FENCE = re.compile(r"^\s*(```|~~~)")


def agent_visible_problem_text(text: str) -> str:
    """PROBLEM.md without its reviewer-only sections.

    A section starts at a heading ``## For the reviewer only`` (case-insensitive, any
    suffix such as ``: published estimates``) and runs to the next heading of level one
    or two. Headings inside fenced code blocks do not count.

    Parameters
    ----------
    text
        The whole PROBLEM.md.

    Returns
    -------
    str
        The text without those sections; every other line as it was.

    Examples
    --------
    >>> agent_visible_problem_text("# Q\\nask\\n## For the reviewer only\\nATE is 4\\n## Data\\nok\\n")
    '# Q\\nask\\n## Data\\nok\\n'
    """
    out: list[str] = []
    hiding = False
    in_fence = False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading and line.strip().lower().startswith(REVIEWER_HEADING.lower()):
            hiding = True
            continue
        if hiding and heading and len(heading.group(1)) <= 2:
            hiding = False
        if not hiding:
            out.append(line)
    return "".join(out)


def _by_strength(data: ModelData) -> tuple[str, ...]:
    """Continuous controls ordered by the size of their correlation with the outcome (the names only).

    A screening order for wide data: splines go on the first few. Ties keep the data's order.
    """
    if not data.continuous or data.n < 3 or float(np.std(data.y)) == 0.0:
        return tuple(data.continuous)
    X = data.X_continuous
    sd = X.std(axis=0)
    centred = (X - X.mean(axis=0)) * np.where(sd > 0, 1.0, 0.0)
    y = data.y - data.y.mean()
    corr = np.abs(centred.T @ y) / (np.where(sd > 0, sd, 1.0) * float(np.std(data.y)) * data.n)
    order = sorted(range(len(data.continuous)), key=lambda i: (-corr[i], i))
    return tuple(data.continuous[i] for i in order)


@dataclass(frozen=True)
class DataSummary:
    """What an agent may know about the data: names and counts, no values."""

    columns: tuple[str, ...]  # design-matrix columns the model receives (allowed controls, encoded)
    continuous: tuple[str, ...]
    binary: tuple[str, ...]
    n: int
    n_treated: int
    outcome_type: OutcomeType
    treatment: str
    outcome: str
    outcome_mostly_positive: bool = False  # ≥ 95 % of outcomes > 0: a log-linear mean makes sense
    strongest: tuple[str, ...] = ()  # continuous controls by |correlation with the outcome|, names only

    @classmethod
    def from_model_data(cls, data: ModelData) -> DataSummary:
        """Summarise the encoded data: column names, sizes and the outcome, no values.

        Parameters
        ----------
        data
            The problem's encoded data.

        Returns
        -------
        DataSummary
            ``outcome_mostly_positive`` is set when at least :data:`POSITIVE_SHARE` of the
            outcomes are above zero.
        """
        return cls(
            columns=tuple(str(c) for c in data.X.columns),
            continuous=tuple(data.continuous),
            binary=tuple(data.binary),
            n=int(data.n),
            n_treated=int(round(float(data.t.sum()))),
            outcome_type=data.outcome_type,
            treatment=data.treatment_name,
            outcome=data.outcome_name,
            outcome_mostly_positive=bool((data.y > 0).mean() >= POSITIVE_SHARE),
            strongest=_by_strength(data),
        )

    def describe(self) -> str:
        """One paragraph for prompts: sizes and column lists.

        Returns
        -------
        str
            The units (treated among them), the treatment and outcome, and the continuous and
            binary controls by name.
        """
        return (
            f"{self.n} units ({self.n_treated} treated); treatment {self.treatment!r}, "
            f"{self.outcome_type.value} outcome {self.outcome!r}; "
            f"{len(self.continuous)} continuous controls ({', '.join(self.continuous) or 'none'}) "
            f"and {len(self.binary)} binary ({', '.join(self.binary) or 'none'})."
        )


@dataclass(frozen=True)
class AgentContext:
    """Everything an agent may see when it proposes the next step.

    Attributes
    ----------
    contract
        The causal contract (treatment, outcome, estimand, allowed and forbidden columns).
    problem_text
        PROBLEM.md with reviewer-only sections removed (enforced on construction).
    program_text
        PROGRAM.md: the objective, keep rule and search strategy.
    loop
        Which loop, and so which file, the proposal edits.
    best_source
        The current best version of that file.
    data
        Names and counts of the data, never values.
    best_metrics
        What the harness measured for the current best, if it has been run.
    history
        Every iteration of the session so far, in order: kept or not, with the
        decision, the reviewer's reason and the verdict.
    gates
        The convergence gates and keep rule the harness will judge the proposal by
        (the problem's own, so a prompt states the thresholds that apply).
    """

    contract: Contract
    problem_text: str
    program_text: str
    loop: Loop
    best_source: str
    data: DataSummary
    best_metrics: Metrics | None = None
    history: tuple[IterationRecord, ...] = ()
    gates: Gates = field(default_factory=Gates)
    modelling_notes: str = ""  # the problem folder's own MODELLING.md, added to the shipped guide

    def __post_init__(self) -> None:
        # Whoever builds a context, the reviewer's notes never reach the agent.
        object.__setattr__(self, "problem_text", agent_visible_problem_text(self.problem_text))
        object.__setattr__(self, "history", tuple(self.history))

    @property
    def loop_history(self) -> tuple[IterationRecord, ...]:
        """The iterations of this context's loop only."""
        return tuple(r for r in self.history if r.proposal.loop is self.loop)

    @classmethod
    def build(cls, problem: Problem, session: SessionView, loop: Loop = Loop.MODEL) -> AgentContext:
        """The context for the next proposal in a session.

        The texts come from the session (the principal may have edited them), the file
        to edit is the session's current one (what the diff applies to), the metrics
        are those of the loop's best iteration, and the history is every iteration.

        Parameters
        ----------
        problem
            The loaded problem: its contract, data and gates (``truth.json`` is never read).
        session
            The session to read the texts, the current file and the history from.
        loop
            The loop being proposed for.

        Returns
        -------
        AgentContext
        """
        best = session.best(loop)
        return build_context(
            problem,
            loop=loop,
            best_source=session.current_source(loop),
            best_metrics=best.verdict.metrics if best is not None and best.verdict is not None else None,
            history=session.iterations(),
            problem_text=session.read_file("PROBLEM.md"),
            program_text=session.read_file("PROGRAM.md"),
        )


class SessionView(Protocol):
    """What :meth:`AgentContext.build` reads from a session (``engine.store.Session`` has it)."""

    def iterations(self) -> list[IterationRecord]:
        """Every recorded iteration, in order.

        Returns
        -------
        list of IterationRecord
        """
        ...

    def best(self, loop: Loop = ...) -> IterationRecord | None:
        """The loop's most recent kept iteration.

        Returns
        -------
        IterationRecord or None
            None before the loop's first kept iteration.
        """
        ...

    def current_source(self, loop: Loop = ...) -> str:
        """The loop's file as the session holds it now: what the next proposal edits.

        Returns
        -------
        str
        """
        ...

    def read_file(self, name: str) -> str:
        """A file of the session as it is now, e.g. ``PROBLEM.md``.

        Returns
        -------
        str
        """
        ...


def build_context(
    problem: Problem,
    *,
    loop: Loop = Loop.MODEL,
    best_source: str | None = None,
    best_metrics: Metrics | None = None,
    history: tuple[IterationRecord, ...] | list[IterationRecord] = (),
    problem_text: str | None = None,
    program_text: str | None = None,
    data: ModelData | None = None,
) -> AgentContext:
    """Assemble an :class:`AgentContext` for a problem (or a session built on one).

    Parameters
    ----------
    problem
        The loaded problem: only its contract and data go in (``truth.json`` is never read).
    loop
        The loop being proposed for.
    best_source
        The current best file; defaults to the problem folder's baseline for ``loop``.
    best_metrics, history
        From the session store.
    problem_text, program_text
        The session's edited PROBLEM.md and PROGRAM.md; default to the problem folder's.
    data
        Pass the ModelData if it is already built, to avoid encoding the data twice.

    Returns
    -------
    AgentContext
    """
    model_data = data if data is not None else problem.model_data()
    return AgentContext(
        contract=problem.contract,
        problem_text=problem.read_text("PROBLEM.md") if problem_text is None else problem_text,
        program_text=problem.read_text("PROGRAM.md") if program_text is None else program_text,
        loop=loop,
        best_source=problem.read_text(loop.file) if best_source is None else best_source,
        data=DataSummary.from_model_data(model_data),
        best_metrics=best_metrics,
        history=tuple(history),
        gates=problem.gates,
        modelling_notes=_modelling_notes(problem),
    )


MODELLING_NOTES_FILE = "MODELLING.md"
"""A problem folder's own modelling knowledge, added to the coder's guide when present."""


def _modelling_notes(problem: Problem) -> str:
    path = problem.path / MODELLING_NOTES_FILE
    return path.read_text(encoding="utf-8") if path.is_file() else ""


class Agent(ABC):
    """A backend that proposes changes to ``model.py`` or ``analysis.toml``.

    Subclasses set the capability flags as class attributes and implement
    :meth:`propose`; those that can fix a proposal that failed the compile check set
    ``can_repair`` and implement :meth:`repair`.

    Attributes
    ----------
    name
        Backend name, recorded as ``Proposal.agent``.
    loops
        The loops this backend can propose for.
    offline
        Works with no network and no API key.
    can_repair
        :meth:`repair` can revise a proposal from a compile traceback.
    can_critique
        :meth:`critique` reviews a verdict in the agent's own words.
    can_review
        :meth:`review` reads a proposal against the contract and the plan before the principal decides.
    """

    name: ClassVar[str]
    loops: ClassVar[frozenset[Loop]]
    offline: ClassVar[bool]
    can_repair: ClassVar[bool] = False
    can_critique: ClassVar[bool] = False
    can_review: ClassVar[bool] = False

    @abstractmethod
    def propose(self, context: AgentContext) -> Proposal:
        """The next proposal for ``context.loop``.

        Parameters
        ----------
        context
            What the agent may see.

        Returns
        -------
        Proposal
            A whole new file for ``context.loop``, with ``old_source`` set to
            ``context.best_source``.

        Raises
        ------
        AgentError
            When the backend has nothing left to propose or fails.
        """

    def repair(self, context: AgentContext, proposal: Proposal, compile_result: CompileResult) -> Proposal:
        """Revise ``proposal`` after the compile check failed with ``compile_result``.

        The loop calls this a few times before it shows the proposal to the principal.

        Parameters
        ----------
        context
            The context the proposal was made in.
        proposal
            The proposal whose model failed the compile check.
        compile_result
            The failed check: error, traceback and hint.

        Returns
        -------
        Proposal
            The revised proposal, ``repair_attempts`` one higher.

        Raises
        ------
        AgentError
            When this backend cannot repair (``can_repair`` is false) or gives up.
        """
        raise AgentError(f"the {self.name} agent cannot repair proposals; the proposal is shown as it is")

    def critique(self, context: AgentContext, record: IterationRecord) -> AgentReview:
        """The agent's own review of ``record``'s verdict, with what it cost.

        Parameters
        ----------
        context
            The context of the record's loop.
        record
            The recorded iteration, verdict included.

        Returns
        -------
        AgentReview

        Raises
        ------
        AgentError
            When this backend has no critic (``can_critique`` is false) or its critic fails.
        """
        raise AgentError(f"the {self.name} agent has no critic of its own")

    def review(self, context: AgentContext, proposal: Proposal, findings: tuple[Finding, ...]) -> AgentReview:
        """A review of ``proposal`` before the principal decides: estimand drift, columns against their role,
        a hypothesis the code does not implement, overfitting risk.

        Parameters
        ----------
        context
            The context the proposal was made in.
        proposal
            The checked proposal.
        findings
            What the guard found in it.

        Returns
        -------
        AgentReview

        Raises
        ------
        AgentError
            When this backend has no reviewer (``can_review`` is false) or its reviewer fails.
        """
        raise AgentError(f"the {self.name} agent has no reviewer of its own")

    def observe(self, record: IterationRecord) -> None:  # noqa: B027 - optional hook, empty on purpose
        """Called after each recorded iteration; stateful backends may learn here.

        The default does nothing: the heuristic and replay agents read everything they
        need from the context's history, so a resumed session behaves the same.
        """

    def check_loop(self, context: AgentContext) -> None:
        """Raise :class:`AgentError` when this backend does not serve ``context.loop``."""
        if context.loop not in self.loops:
            served = ", ".join(sorted(loop.value for loop in self.loops))
            raise AgentError(
                f"the {self.name} agent proposes for the {served} loop only, not the {context.loop.value} loop; "
                "choose another agent for this loop"
            )
