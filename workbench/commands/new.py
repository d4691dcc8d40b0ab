"""``workbench new DATA.csv``: turn a CSV and a causal question into a problem folder.

In a terminal it opens a form where the principal decides every column's timing and role,
with the suggestions and their evidence beside each; from flags it works without one
(``--no-form``, or when there is no terminal) and refuses, exit 2, while anything is
undecided. Then it writes the folder (nothing is written on any error), runs
``workbench check`` on it and opens the workbench.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import replace
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", type=Path, help="the CSV (comma, semicolon, tab or pipe separated)")
    parser.add_argument("--name", help="problem name (default: the CSV's file name); starts every session id")
    parser.add_argument("--out", type=Path, help="the folder to write (default: problems/NAME)")
    parser.add_argument("--title", help="one-line title (default: the question)")
    parser.add_argument("--question", help="the causal question in one sentence")
    parser.add_argument("--treatment", help="the treatment column (0/1, or see --treated-value)")
    parser.add_argument("--treated-value", help="treatment = 1 where the treatment column equals this value, else 0")
    parser.add_argument("--outcome", help="the outcome column")
    parser.add_argument("--outcome-type", choices=("continuous", "binary", "count"), help="confirm the outcome type")
    parser.add_argument("--estimand", choices=("ATE", "ATT", "ATO"), help="the population averaged over (default ATE)")
    parser.add_argument("--controls", action="append", default=[], metavar="COLS", help="confounders, comma-separated")
    parser.add_argument(
        "--categorical", action="append", default=[], metavar="COLS", help="confounders to one-hot encode"
    )
    parser.add_argument(
        "--pretreatment",
        action="append",
        default=[],
        metavar="COLS",
        help="pre-treatment columns that are not controls",
    )
    parser.add_argument(
        "--forbid",
        action="append",
        default=[],
        metavar="COL=REASON[:NOTE]",
        help="forbid a column: REASON is mediator, descendant (post-treatment), outcome, leakage or oracle",
    )
    parser.add_argument("--ignore", action="append", default=[], metavar="COLS", help="identifiers and unused columns")
    parser.add_argument(
        "--timing", action="append", default=[], metavar="COL=TIMING", help="override a column's timing"
    )
    parser.add_argument(
        "--accept-suggestions",
        action="store_true",
        help="decide every column the flags leave open as suggested (each is printed with its evidence)",
    )
    parser.add_argument(
        "--missing", choices=("stop", "drop"), help="rows missing a used value: stop (default) or drop them (recorded)"
    )
    parser.add_argument("--reviewer-notes", type=Path, help="a file for PROBLEM.md's reviewer-only section")
    parser.add_argument("--force", action="store_true", help="replace an existing folder (its answers are proposed)")
    parser.add_argument("--no-form", action="store_true", help="never open the form: flags decide everything")
    parser.add_argument("--no-open", action="store_true", help="do not open the workbench afterwards")
    parser.add_argument("--no-compile", action="store_true", help="check the folder without the compile check")
    parser.add_argument(
        "--sessions-root", type=Path, default=Path("sessions"), help="where the opened workbench keeps sessions"
    )


def run(args: argparse.Namespace) -> int:
    from engine.intake.csvfile import IntakeError, read_csv
    from engine.intake.dictionary import complete
    from engine.intake.folder import previous_draft, write_problem
    from engine.intake.suggest import suggest
    from workbench.render import console as make_console
    from workbench.render import literal

    console = make_console()
    table = read_csv(args.data)
    console.print(
        literal(f"read {args.data}: {table.source.rows:,} rows × {table.source.columns} columns", "bold"),
        *(literal(f"\n  {c}") for c in table.conversions),
        sep="",
    )
    name = args.name or _name_from(args.data)
    out = args.out or Path("problems") / name
    if out.exists() and not args.force:
        raise IntakeError(
            f"{out} exists and is never overwritten without --force; `workbench new {args.data} --force` "
            "replaces it (its answers are proposed again), or pass --out/--name for a new folder"
        )
    previous = previous_draft(out, table) if out.exists() else None
    if previous is not None:
        console.print(literal(f"{out} was made from this CSV: its answers are proposed again", "yellow"))
    draft = _apply_flags(replace(previous, name=args.name or previous.name) if previous else _blank(name), args, table)
    columns = list(table.frame.columns)
    suggestions = None
    if draft.treatment and draft.outcome:
        suggestions = suggest(table, draft.treatment, draft.outcome, draft.treated_value)
        draft = _accept(draft, suggestions, args.accept_suggestions, console)
    interactive = not args.no_form and sys.stdin.isatty() and sys.stdout.isatty()
    if interactive:
        from workbench.new_app import NewProblemApp

        intake = NewProblemApp(table, draft, previous=previous is not None).run()
        if intake is None:
            console.print("cancelled: nothing written")
            return 1
    else:
        result = complete(draft, columns)
        if isinstance(result, list):
            _explain_open(result, draft, suggestions, console)
            return 2
        intake = result
    folder = write_problem(table, intake, out, force=args.force)  # says what in the data stops it, if anything
    console.print(literal(f"wrote {folder}", "bold green"))
    if suggestions is not None:
        _warn_against_evidence(intake, suggestions, console)
    return _check_and_open(folder, args, interactive)


def _blank(name: str):
    from engine.intake.dictionary import Draft

    return Draft(name=name)


def _name_from(path: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem).strip("_.-") or "problem"
    return stem if stem[0].isalnum() else f"p{stem}"


def _names(values: list[str]) -> list[str]:
    return [n.strip() for value in values for n in value.split(",") if n.strip()]


def _apply_flags(draft, args: argparse.Namespace, table):
    """The draft with every decision the flags make; a column named that the data lack is an error."""
    from engine.intake.csvfile import IntakeError
    from engine.intake.dictionary import FORBIDDEN_REASONS, ROLE_FOR_REASON, Role, Timing, decide
    from engine.problem import Estimand, ForbiddenReason, OutcomeType, read_utf8

    columns = set(table.frame.columns)
    changes: dict[str, object] = {}
    for flag in ("question", "title", "treatment", "outcome", "treated_value"):
        if getattr(args, flag) is not None:
            changes[flag] = getattr(args, flag)
    for flag in ("treatment", "outcome"):
        if flag in changes and changes[flag] not in columns:
            raise IntakeError(
                f"--{flag} {changes[flag]!r} is not a column; the columns are {', '.join(table.frame.columns)}"
            )
    if args.outcome_type:
        changes["outcome_type"] = OutcomeType(args.outcome_type)
    if args.estimand:
        changes["estimand"] = Estimand(args.estimand)
    if args.missing:
        from engine.intake.dictionary import MissingPolicy

        changes["missing"] = MissingPolicy(args.missing)
    if args.reviewer_notes:
        if not args.reviewer_notes.is_file():
            raise IntakeError(f"--reviewer-notes {args.reviewer_notes}: no such file; pass the path of a text file")
        changes["reviewer_notes"] = read_utf8(args.reviewer_notes)
    draft = replace(draft, **changes)

    words = {r.value: ROLE_FOR_REASON[r] for r in ForbiddenReason} | {
        r.value.replace(" ", "-"): r for r in FORBIDDEN_REASONS
    }
    categorical = set(_names(args.categorical))
    timings = dict(_pair(item, "--timing") for item in args.timing)
    decisions = []
    for name in _names(args.controls):
        decisions.append((name, Role.CONFOUNDER, "named by --controls"))
    for name in _names(args.pretreatment):
        decisions.append((name, Role.PRETREATMENT, "named by --pretreatment"))
    for name in _names(args.ignore):
        decisions.append((name, Role.UNUSED, "named by --ignore"))
    extra = list(draft.extra_forbidden)
    for item in args.forbid:
        name, spec = _pair(item, "--forbid")
        word, _, note = spec.partition(":")
        if word.strip() not in words:
            raise IntakeError(f"--forbid {item!r}: the reason must be one of {', '.join(sorted(words))}")
        role = words[word.strip()]
        if name in columns:
            decisions.append((name, role, note.strip() or f"forbidden by --forbid as {word.strip()}"))
        else:  # an oracle column kept out of the data: the guard still blocks code that names it
            extra = [e for e in extra if e.name != name]
            extra.append(decide(name, role, note.strip() or f"forbidden by --forbid as {word.strip()}"))
    for name, role, reason in decisions:
        if name not in columns:
            raise IntakeError(f"{name!r} is named in the flags but is not a column of {args.data}")
        timing = Timing(timings[name]) if name in timings else None
        draft = draft.with_decision(decide(name, role, reason, timing=timing, categorical=name in categorical))
    for name in categorical - {n for n, _, _ in decisions}:
        raise IntakeError(
            f"--categorical {name!r}: list it under --controls too (only a confounder is one-hot encoded)"
        )
    return replace(draft, extra_forbidden=tuple(extra))


def _pair(item: str, flag: str) -> tuple[str, str]:
    from engine.intake.csvfile import IntakeError

    name, sep, value = item.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise IntakeError(f"{flag} {item!r}: write it as COLUMN=VALUE")
    return name.strip(), value.strip()


def _accept(draft, suggestions, accept_all: bool, console):
    """With ``--accept-suggestions``, every open column (and the outcome type) as suggested, each printed."""
    from workbench.render import literal

    if draft.outcome_type is None and accept_all:
        draft = replace(draft, outcome_type=suggestions.outcome.outcome_type)
        console.print(
            literal(f"outcome type {suggestions.outcome.outcome_type} (suggested: {suggestions.outcome.evidence})")
        )
    if not accept_all:
        return draft
    console.print(literal(suggestions.sample_note, "dim"))
    for column in suggestions.columns:
        if draft.decided(column.name) is None:
            draft = draft.with_decision(column.suggested)
            console.print(
                literal(f"  {column.name}: {column.suggested.role} (accepted) — {'; '.join(column.evidence)}")
            )
    return draft


def _explain_open(issues: list[str], draft, suggestions, console) -> None:
    from workbench.render import literal

    console.print(literal("not everything is decided, so nothing was written:", "bold red"))
    for issue in issues:
        console.print(literal(f"  - {issue}"))
    if suggestions is not None and draft.outcome_type is None:
        guess = suggestions.outcome
        console.print(
            literal(f"outcome type: suggested {guess.looks_like} ({guess.evidence}); confirm with --outcome-type")
        )
    if suggestions is not None:
        open_columns = draft.undecided([c.name for c in suggestions.columns])
        if open_columns:
            console.print(literal(f"suggestions ({suggestions.sample_note}):"))
        for name in open_columns:
            column = suggestions.get(name)
            assert column is not None  # open_columns come from the suggestions
            console.print(literal(f"  {name}: {column.suggested.role} — {'; '.join(column.evidence)}"))
    console.print(
        literal(
            "decide them with --controls/--pretreatment/--forbid/--ignore, accept the suggestions with "
            "--accept-suggestions, or run in a terminal without --no-form for the form"
        )
    )


def _warn_against_evidence(intake, suggestions, console) -> None:
    """Say where a decision goes against what the checks found (the principal decides; the record shows both)."""
    from engine.intake.dictionary import Role
    from workbench.render import literal

    for column in suggestions.columns:
        decided = intake.decision(column.name)
        if decided and decided.role is Role.CONFOUNDER and column.suggested.role is not Role.CONFOUNDER:
            console.print(
                literal(
                    f"warning: {column.name} is a control, but the checks suggest {column.suggested.role}: "
                    + "; ".join(column.evidence),
                    "yellow",
                )
            )


def _check_and_open(folder: Path, args: argparse.Namespace, interactive: bool) -> int:
    from workbench.commands import check
    from workbench.commands import open as open_command

    status = check.run(
        argparse.Namespace(problem=folder, model=None, analysis=None, no_compile=args.no_compile, sandbox=False)
    )
    if status != 0 or args.no_open or not interactive:
        return status
    parser = argparse.ArgumentParser()
    open_command.add_arguments(parser)
    return open_command.run(parser.parse_args([str(folder), "--sessions-root", str(args.sessions_root)]))
