"""Collect what a session report shows from the session's records and artefacts.

Reads the session read-only (it may be open for writing elsewhere, e.g. by the TUI) and
copies numbers from the records: the report never re-estimates anything. The only
things computed here are labels and plot inputs (``engine.plots`` series), the diff of
the final files from the baseline, and — for semi-synthetic problems — the error of each
recorded estimate against ``truth.json`` (:mod:`engine.evaluation`).
"""

from __future__ import annotations

import hashlib
import shlex
import tomllib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine import plots
from engine.errors import SessionError, WorkbenchError
from engine.iteration import SANDBOX_INNER, IterationRecord
from engine.problem import Contract, Gates
from engine.problem_load import parse_contract, parse_gates
from engine.records import Effect, Loop, VerdictKind, unified_diff
from engine.report.content import (
    BatchView,
    CodeView,
    Command,
    Credibility,
    DesignView,
    Evaluation,
    FinalEstimate,
    IterationRow,
    Report,
    Reproducibility,
)
from engine.report.costs import cost_table
from engine.store.files import EFFECT_DRAWS_FILE, PARETO_K_FILE

if TYPE_CHECKING:
    from engine.stacking import StackedEffect

CONVERGENCE_ROWS = 10
"""Parameters shown in the final model's convergence table (worst first)."""


@dataclass(frozen=True)
class Artefacts:
    """Arrays of the focus iteration (the final model, else the latest sampled one)."""

    effect_draws: np.ndarray | None  # (chains, draws)
    pareto_k: np.ndarray | None  # (observations,)


def build_report(session_path: str | Path, *, figures: bool = True) -> Report:
    """Everything the report of one session shows, from its records and artefacts.

    Parameters
    ----------
    session_path
        The session folder (``sessions/<id>``). It is opened read-only, so a session open
        for writing (the TUI, a headless run) can be reported on at any time; only
        committed iterations appear.
    figures
        Render the plots (matplotlib, Agg). Off, :attr:`Report.figures` is empty.

    Returns
    -------
    Report

    Raises
    ------
    SessionError
        The folder is not a readable session.
    """
    from engine.store import Session

    with Session.open(session_path, readonly=True) as session:
        return _build(session, figures)


def _build(session: Any, with_figures: bool) -> Report:
    info = session.info
    records = session.iterations()
    log = session.log()
    commits = {e.iteration: e.sha for e in log if e.iteration is not None}
    root = log[-1].sha if log else None
    head = log[0].sha if log else None
    best_commit = next((e.sha for e in log if "best" in e.refs), None)
    best_design_commit = next((e.sha for e in log if "best-design" in e.refs), None)

    meta, contract, gates = _contract(session)
    problem = _problem(info.problem_path)
    notes: list[str] = []
    if problem is None:
        notes.append(
            f"The problem folder {info.problem_path} could not be read: the data hash today and any evaluation "
            "against truth are unavailable."
        )

    designs = {r.number: r.design for r in records if r.proposal.loop is Loop.DESIGN}
    rows = tuple(_row(session, r, commits.get(r.number), gates, designs.get(r.number)) for r in records)

    best_model = session.best(Loop.MODEL)
    focus = best_model or _latest_sampled(records)
    artefacts = _artefacts(session, focus, notes)
    design = _design_view(session, records, designs)
    final = replace(_final_estimate(contract, best_model, design), stacked=_stacked(session, notes))
    credibility = _credibility(session, contract, meta, problem, focus, design, artefacts, gates)
    code = _code(session, root, best_model, records)
    reproducibility = _reproducibility(
        session, info, problem, head, best_commit, best_design_commit, root, focus, artefacts, design
    )
    data_now = reproducibility.data_hash_now
    if data_now is not None and info.data_hash and data_now != info.data_hash:
        notes.append(
            f"The problem's data file ({info.data_file}) changed after this session started: its hash today differs "
            "from the one recorded in session.json, so re-running will not reproduce these numbers."
        )
    unsandboxed = [r.number for r in records if r.sandbox == SANDBOX_INNER]  # every proposal is compile-checked
    if unsandboxed:
        notes.append(
            f"Iterations {', '.join(map(str, unsandboxed))} ran agent-written code without the namespace sandbox "
            "(bubblewrap was unavailable): only the inner layers — limits, seccomp, the audit hook and the guard — "
            "protected the machine, and those layers can be bypassed by determined code."
        )
    evaluation, evaluation_note = _evaluation(
        problem, meta.get("kind", "observational"), info.problem_path, rows, data_now
    )
    batches = _batches(session, notes)

    report = Report(
        session_id=session.id,
        problem=info.problem,
        title=str(meta.get("title", info.problem)),
        question=str(meta.get("question", "")),
        kind=str(meta.get("kind", "observational")),
        contract=contract,
        gates=gates,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        iterations=rows,
        final=final,
        credibility=credibility,
        design=design,
        code=code,
        focus_iteration=focus.number if focus else None,
        focus_kept=best_model is not None,
        figures=(),
        reproducibility=reproducibility,
        evaluation=evaluation,
        evaluation_note=evaluation_note,
        problem_md=_read(session, "PROBLEM.md"),
        program_md=_read(session, "PROGRAM.md"),
        notes=tuple(notes),
        costs=cost_table(records, session.spend()),
        batches=batches,
    )
    if with_figures:
        from engine.report.figures import render_figures

        report = replace(report, figures=render_figures(report, artefacts.effect_draws, artefacts.pareto_k))
    return report


# --------------------------------------------------------------------------- contract


def _contract(session: Any) -> tuple[dict[str, Any], Contract, Gates]:
    """The contract the session ran under: its reference copy of ``problem.toml``."""
    text = session.read_file("problem.toml")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SessionError(f"session {session.id}: its problem.toml copy is unreadable ({exc})") from exc
    issues: list[str] = []
    contract = parse_contract(raw.get("contract", {}), issues)
    if contract is None:
        raise SessionError(
            f"session {session.id}: its problem.toml copy has no usable [contract] ({'; '.join(issues)})"
        )
    gates = parse_gates(raw.get("gates", {}), issues)  # load_problem checked it when the session began
    return raw.get("problem", {}), contract, gates


def _problem(problem_path: str) -> Any:
    from engine.problem_load import load_problem

    try:
        return load_problem(problem_path)
    except WorkbenchError:
        return None


def _read(session: Any, name: str) -> str:
    try:
        return session.read_file(name)
    except SessionError:
        return ""


# --------------------------------------------------------------------------- iterations


def _usage(record: IterationRecord) -> tuple[int | None, float | None]:
    """Tokens and cost a language-model agent spent on this iteration: its proposal and both reviews."""
    review = record.proposal.review
    pre = review.usage if review else None
    usages = [u for u in (record.proposal.usage, pre, record.agent_review.usage if record.agent_review else None) if u]
    if not usages:
        return None, None
    costs = [u.cost_usd for u in usages]
    cost = None if any(c is None for c in costs) else sum(c for c in costs if c is not None)
    return sum(u.input_tokens + u.output_tokens for u in usages), cost


def _row(session: Any, record: IterationRecord, commit: str | None, gates: Gates, design: Any) -> IterationRow:
    verdict = record.verdict
    m = verdict.metrics if verdict else None
    effect, source = (m.effect if m else None), "posterior"
    if design is not None:
        effect, source = design.estimate.as_effect(), "doubly robust"
    rule = ""
    if verdict is not None:
        if record.proposal.loop is Loop.MODEL:
            rule = plots.deciding_rule(verdict, gates.elpd_se_multiple)
        else:
            rule = verdict.reason
    edit_diff = ""
    if record.decision.edited and commit:
        from engine.store.files import EDIT_DIFF_FILE, iteration_dir

        try:
            edit_diff = session.file_at(commit, f"{iteration_dir(record.number)}/{EDIT_DIFF_FILE}")
        except SessionError:
            edit_diff = ""
    tokens, cost = _usage(record)
    return IterationRow(
        number=record.number,
        loop=record.proposal.loop,
        commit=commit,
        hypothesis=record.proposal.hypothesis,
        rationale=record.proposal.rationale,
        agent=record.proposal.agent,
        agent_model=record.proposal.usage.model if record.proposal.usage else None,
        move=record.proposal.move,
        decision=record.decision.kind.value,
        decider=record.decision.decider,
        reason=record.decision.reason or record.decision.override,
        edited=record.decision.edited,
        status=record.status,
        verdict_reason=verdict.reason if verdict else "",
        deciding_rule=rule,
        elpd=m.elpd if m else None,
        elpd_se=m.elpd_se if m else None,
        delta_elpd=m.delta_elpd if m else None,
        delta_se=m.delta_se if m else None,
        effect=effect,
        effect_source=source,
        rhat_max=m.rhat_max if m else None,
        ess_bulk_min=m.ess_bulk_min if m else None,
        ess_tail_min=m.ess_tail_min if m else None,
        divergences=m.divergences if m else None,
        seconds=record.timings.get("total"),
        tokens=tokens,
        cost_usd=cost,
        findings=record.findings,
        compile=record.compile,
        gates=verdict.gates if verdict else (),
        diff=record.proposal.diff,
        edit_diff=edit_diff,
        error=(record.crash.traceback or record.crash.type) if record.crash else "",
        record=record,
    )


def _latest_sampled(records: list[IterationRecord]) -> IterationRecord | None:
    """The latest model iteration that produced a posterior (shown when nothing was kept)."""
    sampled = [
        r
        for r in records
        if r.proposal.loop is Loop.MODEL and r.verdict is not None and r.verdict.metrics.effect is not None
    ]
    return sampled[-1] if sampled else None


def _artefacts(session: Any, focus: IterationRecord | None, notes: list[str]) -> Artefacts:
    if focus is None:
        return Artefacts(None, None)
    folder = session.artifacts_dir(focus.number)
    arrays = {}
    for name in (EFFECT_DRAWS_FILE, PARETO_K_FILE):
        path = folder / name
        try:
            arrays[name] = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            arrays[name] = None
            notes.append(
                f"{path.relative_to(session.path)} is missing: artefacts live beside the history, not in it, so the "
                f"plots that need it are left out (re-run iteration {focus.number} to regenerate them)."
            )
    return Artefacts(arrays[EFFECT_DRAWS_FILE], arrays[PARETO_K_FILE])


# --------------------------------------------------------------------------- estimate and credibility


def _design_view(session: Any, records: list[IterationRecord], designs: dict[int, Any]) -> DesignView | None:
    best = session.best(Loop.DESIGN)
    if best is not None and designs.get(best.number) is not None:
        return DesignView(best.number, True, designs[best.number])
    ran = [n for n, result in designs.items() if result is not None]
    if not ran:
        return None
    return DesignView(max(ran), False, designs[max(ran)])


def _final_estimate(contract: Contract, best_model: IterationRecord | None, design: DesignView | None) -> FinalEstimate:
    bayes = best_model.verdict.metrics.effect if best_model and best_model.verdict else None
    notes = []
    if best_model is None:
        notes.append("No model passed the gates and the keep rule, so there is no Bayesian estimate to report.")
    dr = design.result.estimate if design else None
    if design is None:
        notes.append(
            "No design-loop iteration was run, so there is no doubly-robust estimate beside the Bayesian one "
            "(workbench run --resume SESSION --loop design)."
        )
    elif not design.kept:
        notes.append(
            f"No design run was kept; the doubly-robust estimate is the latest run (iteration {design.iteration})."
        )
    recorded = design.result.triangulation if design else None
    final_tri = None
    if dr is not None and bayes is not None and not _same_bayes(recorded, bayes):
        from engine.design.critic import triangulate

        final_tri = triangulate(dr, bayes)
    return FinalEstimate(
        contract_estimand=contract.estimand.value,
        bayes=bayes,
        bayes_iteration=best_model.number if best_model else None,
        bayes_kept=best_model is not None,
        dr=dr,
        dr_iteration=design.iteration if design else None,
        dr_kept=bool(design and design.kept),
        triangulation=recorded,
        triangulation_final=final_tri,
        notes=tuple(notes),
    )


def _stacked(session: Any, notes: list[str]) -> StackedEffect | None:
    """The model loop's effect stacked over its scored models; None (with a note) when it cannot be built."""
    from engine.stacking import stack_session

    try:
        return stack_session(session)
    except ValueError as exc:
        notes.append(f"The models could not be stacked: {exc}.")
        return None


def _same_bayes(tri: Any, bayes: Effect) -> bool:
    return tri is not None and (tri.bayes_mean, tri.bayes_low, tri.bayes_high) == (
        bayes.mean,
        bayes.hdi_low,
        bayes.hdi_high,
    )


def _credibility(
    session: Any,
    contract: Contract,
    meta: dict[str, Any],
    problem: Any,
    focus: IterationRecord | None,
    design: DesignView | None,
    artefacts: Artefacts,
    gates: Gates,
) -> Credibility:
    critique, recorded, where = None, False, None
    if design is not None:
        record = session.iteration(design.iteration)
        critique = record.critique
        recorded = critique is not None
        where = design.iteration
        if critique is None:
            from engine.design.critic import critique as review

            target = problem if problem is not None else contract
            critique = review(target, design.result.spec, design.result, question=str(meta.get("question", "")))
    checks: list[tuple[str, str, str]] = []
    convergence: tuple = ()
    pareto = None
    if focus is not None and focus.verdict is not None:
        for gate in focus.verdict.gates:
            checks.append((gate.name, "pass" if gate.passed else "fail", gate.describe()))
        m = focus.verdict.metrics
        if m.pareto_k_bad is not None:
            status = "pass" if m.pareto_k_bad == 0 else "warn"
            checks.append(
                (
                    "pareto_k",
                    status,
                    f"{m.pareto_k_bad} observations with k > {plots.PARETO_K_BAD} (max {m.pareto_k_max:.2f})",
                )
            )
        convergence = plots.convergence_rows(focus.convergence, gates.rhat_max, gates.ess_bulk_min)[:CONVERGENCE_ROWS]
        if artefacts.pareto_k is not None:
            pareto = plots.pareto_k_counts(artefacts.pareto_k)
    model_review = focus.model_review if focus is not None else None
    agent_review = focus.agent_review.text if focus is not None and focus.agent_review else None
    return Credibility(
        critique, where, recorded, tuple(checks), pareto, convergence, model_review, agent_review or None
    )


# --------------------------------------------------------------------------- batches


def _batches(session: Any, notes: list[str]) -> tuple[BatchView, ...]:
    """Every batch committed in the session, oldest first, with the series its figure draws."""
    from engine.batch.series import effect_series
    from engine.batch.store import list_batches

    try:
        batches = list_batches(session)
    except SessionError as exc:
        notes.append(f"The session's batches could not be read, so the report leaves them out: {exc}")
        return ()
    return tuple(BatchView(batch, tuple(effect_series(batch))) for batch in batches)


# --------------------------------------------------------------------------- code and reproducibility


def _code(
    session: Any, root: str | None, best_model: IterationRecord | None, records: list[IterationRecord]
) -> CodeView:
    baseline_model = session.file_at(root, "model.py") if root else ""
    final_model = session.best_source(Loop.MODEL)
    baseline_analysis = _file_at(session, root, "analysis.toml")
    final_analysis = None
    if any(r.proposal.loop is Loop.DESIGN for r in records):
        final_analysis = session.best_source(Loop.DESIGN)
    best_design = session.best(Loop.DESIGN)
    return CodeView(
        final_model=final_model,
        baseline_model=baseline_model,
        model_diff=unified_diff(baseline_model, final_model, "model.py"),
        model_iteration=best_model.number if best_model else None,
        final_analysis=final_analysis,
        baseline_analysis=baseline_analysis,
        analysis_diff=unified_diff(baseline_analysis, final_analysis, "analysis.toml")
        if final_analysis is not None
        else "",
        analysis_iteration=best_design.number if best_design else None,
    )


def _file_at(session: Any, rev: str | None, path: str) -> str:
    if rev is None:
        return ""
    try:
        return session.file_at(rev, path)
    except SessionError:
        return ""


def _reproducibility(
    session: Any,
    info: Any,
    problem: Any,
    head: str | None,
    best_commit: str | None,
    best_design_commit: str | None,
    root: str | None,
    focus: IterationRecord | None,
    artefacts: Artefacts,
    design: DesignView | None,
) -> Reproducibility:
    s = shlex.quote(str(session.path))
    p = shlex.quote(info.problem_path)
    sampling = ""
    if artefacts.effect_draws is not None and artefacts.effect_draws.ndim == 2:
        chains, draws = artefacts.effect_draws.shape
        if problem is None or (chains, draws) != (problem.sampling.chains, problem.sampling.draws):
            sampling = f" --chains {chains} --draws {draws}"
    commands = [
        Command(
            "Compile-check the final model (the best branch) against the problem",
            f"git -C {s} show best:model.py > model.py && workbench check {p} --model model.py",
        ),
        Command(
            "Continue this session headless (the agent proposes, the policy approves)",
            f"workbench run --resume {s} --iterations 5 --approve guard-clean{sampling}",
        ),
        Command("Read the kept line of models in git", f"git -C {s} log --stat best"),
        Command("Write this report again", f"workbench report {s}"),
    ]
    if design is not None:
        commands.insert(
            1,
            Command(
                "Check the final analysis spec (the best-design branch)",
                f"git -C {s} show best-design:analysis.toml > analysis.toml && "
                f"workbench check {p} --analysis analysis.toml --no-compile",
            ),
        )
    data_file = Path(info.problem_path) / info.data_file
    try:
        now = hashlib.sha256(data_file.read_bytes()).hexdigest()
    except OSError:
        now = None
    m = focus.verdict.metrics if focus is not None and focus.verdict is not None else None
    return Reproducibility(
        session_path=str(session.path),
        problem_path=info.problem_path,
        created_at=info.created_at,
        head=head,
        best_commit=best_commit,
        best_design_commit=best_design_commit,
        root_commit=root,
        data_file=info.data_file,
        data_hash=info.data_hash,
        data_hash_now=now,
        seeds=dict(focus.seeds) if focus else {},
        draws=m.n_draws if m else None,
        versions=dict(info.versions),
        final_versions=dict(focus.versions) if focus else {},
        commands=tuple(commands),
    )


# --------------------------------------------------------------------------- evaluation (semi-synthetic only)


def _evaluation(
    problem: Any, kind: str, problem_path: str, rows: tuple[IterationRow, ...], data_hash_now: str | None
) -> tuple[Evaluation | None, str]:
    if problem is None:
        return None, f"The problem folder {problem_path} could not be read, so no estimate is scored against a truth."
    if not problem.has_truth:
        return None, (
            f"This problem ({kind}) has no ground truth: no estimate here can be scored against the true effect, "
            "as in every real analysis. Trust rests on the diagnostics and the critic's review above."
        )
    from engine.evaluation import load_truth, score

    truth = load_truth(problem.path)
    if truth is None:  # pragma: no cover - has_truth checked the file exists
        return None, "truth.json disappeared while the report was written."
    scored = []
    stale = 0
    for row in rows:
        if row.effect is None or row.status not in (VerdictKind.KEPT, VerdictKind.DISCARDED, VerdictKind.FAILED_GATE):
            continue
        if row.record.data_hash and row.record.data_hash != data_hash_now:
            stale += 1  # truth.json describes today's data, not the data this iteration saw
            continue
        what = "model" if row.source_is_posterior else "doubly robust"
        label = f"{what} #{row.number} ({row.status.replace('_', ' ')})"
        e = row.effect
        interval = f"{e.hdi_prob:.0%} " + ("HDI" if row.source_is_posterior else "CI")
        scored.append(score(label, e.estimand, e.mean, e.hdi_low, e.hdi_high, interval, truth))
    if stale and not scored:
        return None, (
            "The problem's data changed after these iterations ran, so its truth.json describes other data: "
            "no estimate here can be scored against it."
        )
    note = (
        f"Semi-synthetic problem: truth.json ({truth.source}) holds the effects the data were simulated with. "
        "This appendix is computed only when the report is written, is never shown to an agent or fed back into the "
        "loop, and does not exist for a real analysis. Estimands with no true value in truth.json (ATO, trimmed "
        "populations) are listed without an error."
    )
    if stale:
        note += f" {stale} estimates made on an earlier version of the data are left out."
    return Evaluation(truth.source, dict(truth.values), tuple(scored)), note
