"""One replication of the quality battery, as a Dask task: both loops as a user runs them, on data nobody tuned on.

The client builds each replication's problem folder (the shipped problem's contract and
starting files, one replication's data), reads its truth and keeps it: the task carries the
folder's files *without* ``truth.json``, so no worker, session or agent ever sees the truth.
The worker runs the real workbench headless (sandbox, offline agent, git, in a scratch
session of its own) and returns the first and the best estimate with the critic's rating;
the client scores them against the truth it kept (``benchmarks/bench_quality.py``).

Unlike ``workbench batch``, a replication's task does run an agent (the offline heuristic
agent, deterministic code, never a language model): the battery judges the loops, agent
included. Its scratch session is the worker's own and is deleted with it.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.design.support import POPULATION_FILE
from engine.evaluation import TRUTH_FILE
from engine.iteration import IterationRecord
from engine.records import Effect, Loop

if TYPE_CHECKING:
    from engine.store.session import Session

BATTERY_TOPIC = "workbench-battery-started"


@dataclass(frozen=True)
class Replication:
    """One replication to run: a problem folder's files (never its truth) and how many iterations."""

    name: str  # "acic 3 ATT", "ihdp seed 7"
    loop: Loop
    files: dict[str, bytes]  # file name → content; truth.json is refused
    iterations: int  # records to run: the first is the starting file's own run (design) or the baseline (model)


@dataclass(frozen=True)
class Answer:
    """An estimate the loop gave at one stage, with how the critic (or the gates) rated it."""

    # first | best | stacked (the model loop's LOO-stacked mixture, engine.stacking) | every (each design
    # run the critic reviewed, first and best included: the critic's separation over all it rated)
    stage: str
    effect: Effect
    rating: str  # design: the critic's tier; model: the verdict
    credible: bool  # design: the sanity net did not fail; model: always True
    decided_by: str = ""  # the keep rule's clause that gave the verdict (engine.scoring.CLAUSES)
    move: str = ""  # the proposal's move ("baseline", a catalogue move, a design move): what the answer came from
    iteration: int = 0  # the record's number in its session
    # design: how much each unit counts in the estimate (engine.design.support.target_weights), so an
    # overlap-weighted or trimmed estimand is scored against the same weighted mean of the unit effects
    population: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ReplicationResult:
    """What a replication's loop answered, and how long it took where."""

    name: str
    loop: Loop
    answers: tuple[Answer, ...]
    recorded: int  # iterations recorded
    seconds: float
    worker: str
    stopped_because: str = ""


def run_replication(replication: Replication) -> ReplicationResult:
    """Run one replication's loop headless in a scratch folder (a Dask task; runs anywhere).

    Parameters
    ----------
    replication
        The folder's files and the loop to run.

    Returns
    -------
    ReplicationResult
        The first and best answers (either may be missing when nothing ran or nothing was kept).

    Raises
    ------
    ValueError
        When the files include ``truth.json``: the truth stays with the client.
    """
    from engine.batch.task import announce
    from engine.headless import HeadlessRun
    from engine.launch import open_workbench
    from engine.loop import RunOptions

    if TRUTH_FILE in replication.files:
        raise ValueError(f"{replication.name}: a replication must not carry {TRUTH_FILE}; the client keeps the truth")
    worker = announce(BATTERY_TOPIC, replication.name)
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="wb-battery-"))
    try:
        folder = scratch / "problem"
        folder.mkdir()
        for name, content in replication.files.items():
            (folder / Path(name).name).write_bytes(content)
        # The session is deleted below: no trace.nc is worth writing for it.
        options = RunOptions(write_traces=False)
        wb = open_workbench(folder, sessions_root=scratch / "sessions", agent="heuristic", options=options)
        try:
            run = HeadlessRun(wb, "guard-clean", loop=replication.loop)
            try:
                records = run.run(replication.iterations)
            except Exception:  # noqa: BLE001  (the battery reports how a replication stopped; it does not stop)
                records = run.recorded
            given = answers(records, replication.loop, wb.session)
            stacked = stacked_answer(wb.session) if replication.loop is Loop.MODEL else None
        finally:
            wb.discard_prepared()
            wb.session.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return ReplicationResult(
        replication.name,
        replication.loop,
        given + ((stacked,) if stacked is not None else ()),
        len(records),
        round(time.perf_counter() - started, 2),
        worker,
        run.stopped_because,
    )


def answers(records: list[IterationRecord], loop: Loop, session: Session | None = None) -> tuple[Answer, ...]:
    """The first answer and the best kept one; for the design loop, every reviewed run too.

    The design loop's first answer is its first run, kept or not (what the principal sees first);
    the model loop's is its first kept model (the baseline when it passes the gates). Every design
    run with an estimate is also an ``every`` answer, failed gates and discarded ones included: the
    critic rated each, so its separation can be read over all of them, not only over the two the
    loop's own rule picked.

    Parameters
    ----------
    records
        The replication's iterations, in order.
    loop
        Which loop ran.
    session
        Their session, still open: a design answer carries its population weights from the
        iteration's artefacts folder (none without a session, or when the run saved none).

    Returns
    -------
    tuple of Answer
    """
    kept = [r for r in records if r.status == "kept"]
    first = (records[:1] if loop is Loop.DESIGN else kept[:1]) or []
    chosen = [("first", r) for r in first] + [("best", r) for r in kept[-1:]]
    if loop is Loop.DESIGN:
        chosen += [("every", r) for r in records]
    populations = _populations(records, session) if loop is Loop.DESIGN and session is not None else {}
    out = []
    for stage, record in chosen:
        answer = _answer(record, stage)
        if answer is not None:
            # one array per iteration, shared by its answers (first and best are also in every)
            out.append(replace(answer, population=populations.get(record.number)))
    return tuple(out)


def _populations(records: list[IterationRecord], session: Session) -> dict[int, np.ndarray]:
    """Each design run's saved target weights, by iteration number (runs that saved none are absent)."""
    found = {}
    for record in records:
        path = session.artifacts_dir(record.number) / POPULATION_FILE
        if path.is_file() and not path.is_symlink():
            found[record.number] = np.load(path, allow_pickle=False)
    return found


def stacked_answer(session: Session) -> Answer | None:
    """The model loop's stacked estimate over its scored models, as an answer (None when fewer than two).

    Parameters
    ----------
    session
        The replication's session, still open (the effect draws live in its artefacts).

    Returns
    -------
    Answer or None
        Rated ``stacked``; its move is the heaviest model's, and the weights are in the clause.
    """
    from engine.stacking import stack_session

    try:
        stacked = stack_session(session)
    except ValueError:  # the models could not be stacked: the replication still answers first and best
        return None
    if stacked is None:
        return None
    shares = ", ".join(f"#{w.number} {w.weight:.0%}" for w in stacked.named)
    return Answer("stacked", stacked.effect, "stacked", True, f"weights {shares}", stacked.weights[0].move)


def _answer(record: IterationRecord, stage: str) -> Answer | None:
    effect = record.verdict.metrics.effect if record.verdict is not None else None
    if effect is None:
        return None
    rating = record.critique.tier.value if record.critique is not None else record.status
    design = record.design
    credible = design is None or design.sanity is None or design.sanity.credible
    clause = record.verdict.clause if record.verdict is not None else ""
    return Answer(stage, effect, rating, credible, clause, record.proposal.move or "", record.number)
