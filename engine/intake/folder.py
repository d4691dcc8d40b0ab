"""Write a complete problem folder from an intake, all or nothing.

The folder is assembled in a temporary sibling, loaded back with :func:`~engine.problem_load.load_problem` and
scanned by the guard before it takes its final name, so a folder under that name is always
one the workbench opens; an existing folder is replaced only with ``force``. The
``[intake]`` table of ``problem.toml`` keeps the source file's path, size and hash and every
column's decision, so a second run on the same CSV proposes the same answers.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from engine.agents.base import REVIEWER_HEADING
from engine.agents.modelgen import render_model
from engine.design.spec import AnalysisSpec, render_spec
from engine.errors import ProblemError
from engine.guard import scan_analysis, scan_model
from engine.intake.csvfile import CsvTable, IntakeError
from engine.intake.dictionary import (
    ColumnDecision,
    Draft,
    Intake,
    MissingPolicy,
    Role,
    Timing,
    build_contract,
)
from engine.intake.program import program_text
from engine.intake.suggest import treatment_values
from engine.modelspec import baseline_spec
from engine.problem import PROBLEM_FILE, SESSION_NAME, Estimand, Gates, OutcomeType, SamplingSettings
from engine.problem_load import load_problem
from engine.records import has_blocker

DATA_FILE = "data.csv"
REASONS_IN_ANALYSIS = {
    "propensity_learner": "auto: logistic or early-stopped boosting, whichever predicts the treatment better out of fold",
    "folds": "5 folds: each nuisance model trains on 80 % of the units",
    "min_propensity": "no unit stands for more than 99 others; clipping keeps the estimand (PROGRAM.md)",
}


@dataclass(frozen=True)
class PreparedData:
    """The data as the problem folder stores it, and what was done to get there."""

    frame: pd.DataFrame
    dropped: int  # rows dropped for missing values (policy "drop")
    treatment_rule: str | None  # how the treatment was made 0/1, when it was not already


def data_issues(table: CsvTable, intake: Intake) -> list[str]:
    """What in the data stops this intake, each as a sentence saying what to do.

    Parameters
    ----------
    table
        The CSV as read.
    intake
        The decisions.

    Returns
    -------
    list of str
        Missing values in used columns under the "stop" policy; a text confounder not marked
        categorical; a treatment that cannot be made 0/1; no rows left after dropping.
    """
    issues: list[str] = []
    frame = table.frame
    try:
        treatment_values(frame[intake.question.treatment], intake.question.treated_value)
    except IntakeError as exc:
        issues.append(str(exc))
    missing = {name: int(frame[name].isna().sum()) for name in intake.used_columns() if name in frame.columns}
    missing = {name: n for name, n in missing.items() if n}
    if missing and intake.missing is MissingPolicy.STOP:
        shown = ", ".join(f"{name} ({n:,})" for name, n in missing.items())
        issues.append(
            f"missing values in columns the analysis uses: {shown}. Choose the policy 'drop' (those rows are "
            "dropped and the count recorded; --missing drop) or fill them in before running workbench new"
        )
    elif missing and frame[list(missing)].notna().all(axis=1).sum() == 0:
        issues.append("every row misses a value the analysis uses; nothing would be left to analyse")
    for c in intake.columns:
        if c.role is Role.CONFOUNDER and not c.categorical and not pd.api.types.is_numeric_dtype(frame[c.name]):
            issues.append(f"confounder {c.name!r} is text: mark it categorical (one-hot encoded) or make it unused")
    return issues


def prepare_data(table: CsvTable, intake: Intake) -> PreparedData:
    """The data the folder stores: UTF-8, commas, the treatment 0/1, incomplete rows dropped by policy.

    Parameters
    ----------
    table
        The CSV as read.
    intake
        Decisions that :func:`data_issues` found nothing wrong with.

    Returns
    -------
    PreparedData

    Raises
    ------
    IntakeError
        When :func:`data_issues` finds anything.
    """
    issues = data_issues(table, intake)
    if issues:
        raise IntakeError("cannot write the problem folder:\n" + "\n".join(f"  - {i}" for i in issues))
    frame = table.frame.copy()
    q = intake.question
    t, rule = treatment_values(frame[q.treatment], q.treated_value)
    frame[q.treatment] = pd.array(t, dtype="Float64").astype("Int64") if pd.isna(t).any() else t.astype(int)
    complete = frame[list(intake.used_columns())].notna().all(axis=1)
    dropped = int((~complete).sum())
    frame = frame[complete].reset_index(drop=True)
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_float_dtype(values) and values.dropna().isin([0.0, 1.0]).all() and values.notna().all():
            frame[name] = values.astype(int)  # booleans read from text are written 0/1, not 0.0/1.0
    return PreparedData(frame, dropped, rule)


def write_problem(table: CsvTable, intake: Intake, out: Path, *, force: bool = False) -> Path:
    """Write the problem folder ``out``; validate it before it takes that name.

    Parameters
    ----------
    table
        The CSV as read.
    intake
        The principal's decisions.
    out
        The folder to create.
    force
        Replace ``out`` when it exists.

    Returns
    -------
    Path
        The folder, resolved.

    Raises
    ------
    IntakeError
        When ``out`` exists without ``force``, the name cannot name a session, the data do
        not fit the decisions, or the written folder fails validation (nothing is left behind).
    """
    out = Path(out).resolve()
    if out.exists() and not force:
        raise IntakeError(f"{out} exists; pass --force to replace it (its answers are proposed again), or choose --out")
    if out.exists():
        _check_replaceable(out)
    if not SESSION_NAME.match(intake.name):
        raise IntakeError(
            f"name {intake.name!r} cannot start a session id: use letters, digits, '-', '_' and '.', "
            "starting with a letter or digit (--name)"
        )
    prepared = prepare_data(table, intake)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-new-", dir=out.parent))
    try:
        _write_files(staging, table, intake, prepared)
        _validate(staging)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return out


WRITTEN_FILES = frozenset({DATA_FILE, PROBLEM_FILE, "PROBLEM.md", "PROGRAM.md", "model.py", "analysis.toml"})
"""What ``workbench new`` writes into a problem folder: all that ``--force`` may replace."""


def _check_replaceable(out: Path) -> None:
    """Refuse to replace anything but a problem folder ``workbench new`` wrote: ``--force`` must not lose a file.

    A user's own CSV kept beside the problem, notes, or a parent folder of problems typed as
    ``--out`` by mistake would all be deleted by replacing the folder.
    """
    if not out.is_dir():
        raise IntakeError(f"{out} is a file, not a problem folder; choose another --out")
    foreign = sorted(entry.name for entry in out.iterdir() if entry.name not in WRITTEN_FILES | {"__pycache__"})
    if foreign or not (out / PROBLEM_FILE).is_file():
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise IntakeError(
            f"{out} holds files workbench new did not write ({shown or 'and no problem.toml'}); --force replaces "
            "only a problem folder it wrote, so nothing else is lost: move those files, or choose another --out"
        )


def _write_files(folder: Path, table: CsvTable, intake: Intake, prepared: PreparedData) -> None:
    prepared.frame.to_csv(folder / DATA_FILE, index=False)
    contract = build_contract(intake)
    placebo = tuple(name for name in contract.pretreatment if pd.api.types.is_numeric_dtype(prepared.frame[name]))
    (folder / PROBLEM_FILE).write_text(_problem_toml(table, intake, prepared), encoding="utf-8")
    (folder / "PROBLEM.md").write_text(_problem_md(table, intake, prepared), encoding="utf-8")
    (folder / "PROGRAM.md").write_text(
        program_text(intake.title, intake.question.outcome_type, intake.question.estimand.value, placebo),
        encoding="utf-8",
    )
    (folder / "model.py").write_text(render_model(baseline_spec(intake.question.outcome_type.value)), encoding="utf-8")
    spec = AnalysisSpec(estimand=intake.question.estimand, placebo_outcomes=placebo)
    (folder / "analysis.toml").write_text(_analysis_toml(spec, intake.name), encoding="utf-8")


def _validate(folder: Path) -> None:
    """Load the folder as the workbench will, and scan its model and analysis with the guard."""
    try:
        problem = load_problem(folder)
    except ProblemError as exc:
        raise IntakeError(
            "the folder would not load, so nothing was written:\n" + "\n".join(f"  - {i}" for i in exc.issues)
        ) from exc
    findings = [
        *scan_model(problem.read_text("model.py"), problem.contract),
        *scan_analysis(problem.read_text("analysis.toml"), problem.contract),
    ]
    clashes = sorted(
        {f.name for f in problem.contract.forbidden if any(repr(f.name) in x.message for x in findings if x.is_blocker)}
    )
    if clashes and all(x.code == "forbidden-column" for x in findings if x.is_blocker):
        # a forbidden column named like a variable the code must use (mu, y, sigma, n…): the guard cannot tell them apart
        raise IntakeError(
            f"the forbidden column{'s' if len(clashes) > 1 else ''} {', '.join(map(repr, clashes))} "
            + ("share names" if len(clashes) > 1 else "shares a name")
            + " with a variable the model or analysis code uses, so the guard would block every model; "
            "rename the column in the CSV (for example "
            + ", ".join(f"{c!r} to '{c}_column'" for c in clashes)
            + ") and run workbench new again"
        )
    if has_blocker(findings):
        shown = "; ".join(f.message for f in findings)
        raise IntakeError(f"the guard blocks the written baseline ({shown}); this is a bug in workbench new")


def _analysis_toml(spec: AnalysisSpec, name: str) -> str:
    lines = []
    for line in render_spec(spec, f"Design-based analysis of {name}").splitlines():
        lines.append(line)
        key = line.split("=", 1)[0].strip()
        if key in REASONS_IN_ANALYSIS:
            lines.append(f"# ^ {REASONS_IN_ANALYSIS[key]}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- problem.toml


def _s(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def _list(names: tuple[str, ...]) -> str:
    return "[" + ", ".join(_s(n) for n in names) + "]"


def _problem_toml(table: CsvTable, intake: Intake, prepared: PreparedData) -> str:
    q = intake.question
    contract = build_contract(intake)
    gates, sampling, src = Gates(), SamplingSettings(), table.source
    lines = [
        f"# The causal contract for {intake.name}, written by `workbench new` from {Path(src.path).name}.",
        "# The harness reads this file; the agent never edits it. Re-run `workbench new` to change roles.",
        "",
        "[problem]",
        f"name = {_s(intake.name)}",
        f"title = {_s(intake.title)}",
        f"question = {_s(q.text)}",
        'kind = "observational"',
        f"data = {_s(DATA_FILE)}",
        "",
        "[contract]",
        f"treatment = {_s(q.treatment)}",
        f"outcome = {_s(q.outcome)}",
        f"outcome_type = {_s(q.outcome_type.value)}",
        f"estimand = {_s(q.estimand.value)}",
        f"controls = {_list(contract.controls)}",
        f"categorical = {_list(contract.categorical)}",
        f"pretreatment = {_list(contract.pretreatment)}",
        f"ignore = {_list(contract.ignore)}",
    ]
    for f in contract.forbidden:
        lines += [
            "",
            "[[contract.forbidden]]",
            f"name = {_s(f.name)}",
            f"reason = {_s(f.reason.value)}",
            f"note = {_s(f.note)}",
        ]
    lines += [
        "",
        "[gates]",
        f"rhat_max = {gates.rhat_max!r}",
        f"ess_bulk_min = {gates.ess_bulk_min:g}",
        f"ess_tail_min = {gates.ess_tail_min:g}",
        f"divergence_rate_max = {gates.divergence_rate_max!r}",
        f"elpd_se_multiple = {gates.elpd_se_multiple!r}",
        f"sampling_budget_s = {gates.sampling_budget_s:g}",
        "",
        "[sampling]",
        f"chains = {sampling.chains}",
        f"draws = {sampling.draws}",
        f"tune = {sampling.tune}",
        f"seed = {sampling.seed}",
        "",
        "# Where the data came from and every column's decision: `workbench new` reads this back",
        "# to propose the same answers when it runs on the same CSV again.",
        "[intake]",
        f"source = {_s(src.path)}",
        f"bytes = {src.bytes}",
        f"sha256 = {_s(src.sha256)}",
        f"encoding = {_s(src.encoding)}",
        f"delimiter = {_s(src.delimiter)}",
        f"rows = {src.rows}",
        f"rows_kept = {len(prepared.frame)}",
        f"missing = {_s(intake.missing.value)}",
        f"rows_dropped = {prepared.dropped}",
        f"treated_value = {_s(q.treated_value or '')}",
        f"treatment_rule = {_s(prepared.treatment_rule or '')}",
        f"conversions = {_list(table.conversions)}",
        f"written = {_s(datetime.now(UTC).isoformat(timespec='seconds'))}",
    ]
    for c in (*intake.columns, *intake.extra_forbidden):
        lines += [
            "",
            "[[intake.column]]",
            f"name = {_s(c.name)}",
            f"role = {_s(c.role.value)}",
            f"timing = {_s(c.timing.value)}",
            f"reason = {_s(c.reason)}",
            f"categorical = {str(c.categorical).lower()}",
        ]
    return "\n".join(lines) + "\n"


def previous_draft(out: Path, table: CsvTable) -> Draft | None:
    """The answers an earlier ``workbench new`` wrote into ``out``, when it read the same CSV.

    Parameters
    ----------
    out
        The problem folder.
    table
        The CSV read now: its hash must match the recorded one.

    Returns
    -------
    Draft or None
        None when there is no readable ``[intake]`` table or it was made from other data.
    """
    path = Path(out) / PROBLEM_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        intake, problem, contract = raw["intake"], raw["problem"], raw["contract"]
        if intake.get("sha256") != table.source.sha256:
            return None
        decisions = tuple(_decision(c) for c in intake.get("column", []))
        columns = set(table.frame.columns)
        return Draft(
            name=problem["name"],
            title=problem.get("title", ""),
            question=problem.get("question", ""),
            treatment=contract["treatment"],
            outcome=contract["outcome"],
            outcome_type=OutcomeType(contract["outcome_type"]),
            estimand=Estimand(contract["estimand"]),
            treated_value=intake.get("treated_value") or None,
            decisions=tuple(d for d in decisions if d.name in columns),
            missing=MissingPolicy(intake.get("missing", "stop")),
            reviewer_notes=_reviewer_notes(Path(out) / "PROBLEM.md"),
            extra_forbidden=tuple(d for d in decisions if d.name not in columns),
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError, ValueError, TypeError):
        return None


def _decision(entry: dict[str, Any]) -> ColumnDecision:
    return ColumnDecision(
        name=entry["name"],
        role=Role(entry["role"]),
        timing=Timing(entry["timing"]),
        reason=entry.get("reason", ""),
        categorical=bool(entry.get("categorical", False)),
    )


# --------------------------------------------------------------------------- PROBLEM.md


def _reviewer_notes(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ""
    _, found, notes = text.partition(REVIEWER_HEADING + "\n")
    return notes.strip() if found else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _problem_md(table: CsvTable, intake: Intake, prepared: PreparedData) -> str:
    q = intake.question
    src = table.source
    population = {
        Estimand.ATE: "every unit in the data",
        Estimand.ATT: "the treated units",
        Estimand.ATO: "the overlap population (units weighted by e(x)·(1 − e(x)), where either arm is plausible)",
    }[q.estimand]
    scale = "a difference in probabilities" if q.outcome_type is OutcomeType.BINARY else f"units of `{q.outcome}`"
    t = prepared.frame[q.treatment]
    lines = [
        f"# {intake.title}",
        "",
        "## The causal question",
        "",
        q.text,
        "",
        "## Where the data come from",
        "",
        f"`{Path(src.path).name}`: {src.rows:,} rows × {src.columns} columns, {src.bytes:,} bytes, "
        f"SHA-256 `{src.sha256[:16]}…` ({src.encoding}, {src.delimiter}-separated). "
        f"`data.csv` here is that file as the workbench reads it: {len(prepared.frame):,} rows.",
        "",
    ]
    made = list(table.conversions)
    if prepared.treatment_rule:
        made.append(f"treatment: {prepared.treatment_rule}")
    if prepared.dropped:
        made.append(
            f"{prepared.dropped:,} rows dropped for missing values in the columns the analysis uses (policy: drop)"
        )
    lines += [f"- {m}" for m in made] + ([""] if made else [])
    lines += [
        "## Unit, treatment, outcome",
        "",
        f"- **Treatment** `{q.treatment}`: 1 for {int(t.sum()):,} units, 0 for {int((t == 0).sum()):,}.",
        f"- **Outcome** `{q.outcome}` ({q.outcome_type.value}).",
        f"- **Estimand**: the {q.estimand} — the average effect over {population}, in {scale}.",
        "",
        "## Data dictionary",
        "",
        "Decided by the principal with `workbench new`; the contract in problem.toml follows from it.",
        "",
        "| column | timing | role | why |",
        "|---|---|---|---|",
        f"| `{q.treatment}` | treatment | treatment | the intervention asked about |",
        f"| `{q.outcome}` | outcome window | outcome | the outcome asked about |",
    ]
    for c in (*intake.columns, *intake.extra_forbidden):
        role = f"{c.role} (categorical)" if c.categorical else str(c.role)
        lines.append(f"| `{c.name}` | {c.timing} | {role} | {_cell(c.reason)} |")
    lines += [
        "",
        "Confounders are the model's controls. Forbidden columns (mediator, descendant, secondary",
        "outcome, leakage, simulation truth) never enter a model, neither as a predictor nor as a",
        "row filter: the guard blocks any code that reads them.",
        "",
    ]
    if intake.reviewer_notes.strip():
        lines += [
            REVIEWER_HEADING,
            "",
            intake.reviewer_notes.strip(),
            "",
        ]
    return "\n".join(lines)
