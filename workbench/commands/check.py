"""``workbench check PROBLEM [--model FILE] [--analysis FILE]``.

Prints the contract, a data summary, the guard's findings and the compile result.
Exit codes: 0 clean, 1 findings (a blocker, or a model that does not compile), 2 invalid input.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("problem", type=Path, nargs="?", help="problem folder, e.g. problems/ihdp")
    parser.add_argument("--model", type=Path, help="model file to check (default: the problem's model.py)")
    parser.add_argument("--analysis", type=Path, help="analysis spec to check (default: the problem's analysis.toml)")
    parser.add_argument("--no-compile", action="store_true", help="skip the compile check (guard only)")
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="print which layers protect you from agent-written code on this machine, then exit",
    )


def run(args: argparse.Namespace) -> int:
    from engine.errors import WorkbenchError
    from engine.guard import scan_analysis, scan_model
    from engine.problem_load import load_problem
    from engine.records import has_blocker
    from engine.sandbox import isolation_report
    from workbench.render import console as make_console
    from workbench.render import contract_table, data_summary_table, findings_table, literal

    console = make_console()
    report = isolation_report()
    if args.sandbox:
        console.print(literal("sandbox layers on this machine:", "bold"))
        for line in report.lines():
            console.print("  ", literal(line), sep="")
        if report.warning:
            console.print(literal(report.warning, "yellow"))
        return 0
    if args.problem is None:
        raise WorkbenchError("name a problem folder (e.g. problems/ihdp), or pass --sandbox")
    problem = load_problem(args.problem)
    console.print(literal(problem.title, "bold"), "\n", literal(problem.question), "\n", sep="")
    console.print(contract_table(problem))
    console.print(data_summary_table(problem))

    model_path = args.model or problem.path / "model.py"
    analysis_path = args.analysis or problem.path / "analysis.toml"
    model_source = _read(model_path)
    analysis_text = _read(analysis_path)

    findings = scan_model(model_source, problem.contract)
    console.print(findings_table(findings, f"guard: {model_path}"))
    spec_findings = scan_analysis(analysis_text, problem.contract)
    console.print(findings_table(spec_findings, f"guard: {analysis_path}"))
    failed = has_blocker([*findings, *spec_findings])

    if not args.no_compile:
        from engine.compile_check import compile_check

        if report.warning:
            console.print(literal("sandbox: " + report.warning, "yellow"))
        else:
            console.print(literal("sandbox: namespaces on (bubblewrap), seccomp, limits, audit hook", "green"))

        with console.status("compile check: building the model and evaluating log-density and gradient…"):
            result = compile_check(model_source, problem.model_data())
        if result.ok:
            console.print(
                f"[green]compile check passed[/] in {result.seconds:.1f} s: "
                f"{result.n_free} free parameters, logp {result.logp:.1f} at the initial point"
            )
        else:
            console.print(f"[red]compile check failed[/] after {result.seconds:.1f} s: ", literal(result.error), sep="")
            if result.traceback:
                console.print(literal(result.traceback))
            if result.hint:
                console.print("hint: ", literal(result.hint), sep="")
            failed = True
    return 1 if failed else 0


def _read(path: Path) -> str:
    from engine.errors import WorkbenchError
    from engine.problem import read_utf8

    try:
        return read_utf8(path)
    except OSError as exc:
        raise WorkbenchError(f"cannot read {path}: {exc.strerror}") from exc
