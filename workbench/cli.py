"""``workbench`` command line: one subcommand per module in :mod:`workbench.commands`.

Each command module exposes ``add_arguments(parser)`` and ``run(args) -> int``; they are
imported only when their command runs, so ``workbench open`` never pays for PyMC.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from engine.errors import WorkbenchError

COMMANDS = {
    "open": "Open the workbench TUI on a problem folder or a session",
    "new": "Turn a CSV and a causal question into a problem folder (form or flags)",
    "run": "Run the agent loop headless under an approval policy",
    "check": "Validate a problem; guard and compile-check a model or analysis",
    "report": "Write a session report (HTML and Markdown)",
    "batch": "Re-run the best analysis or model per partition or setting, as Dask tasks",
    "bench": "Print timing benchmarks",
}


DESCRIPTION = (
    "Causal Workbench: supervise an agent that iterates on causal analyses. "
    "Start with `workbench open problems/ihdp`; `workbench COMMAND --help` tells more."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        module = _module(name)
        if module is None:
            continue
        command = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command)
    return parser


def _module(name: str):
    try:
        return importlib.import_module(f"workbench.commands.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"workbench.commands.{name}":
            return None  # command not built yet
        raise


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _module(args.command).run(args)
    except WorkbenchError as exc:
        print(f"workbench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("workbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
