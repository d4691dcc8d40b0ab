"""Checking a plan file the principal edited in the workbench before it is committed.

Runs in the app's ``files`` worker; the engine (guard) is imported inside the function.
"""

from __future__ import annotations

import tomllib
from typing import Any


def validate_plan_file(filename: str, text: str, problem: Any) -> list[str]:
    """Check an edited plan file before it is committed; blockers raise, warnings are returned.

    Raises
    ------
    SpecError
        ``analysis.toml`` that does not parse or breaks the contract.
    WorkbenchError
        An empty PROBLEM.md or PROGRAM.md.
    """
    from engine.errors import SpecError, WorkbenchError

    if filename.endswith(".md"):
        if not text.strip():
            raise WorkbenchError(f"{filename} is empty; the agent reads it, so write something (or press Escape)")
        return []
    if filename == "analysis.toml":
        try:
            tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(f"TOML syntax error: {exc}") from exc
        from engine.guard import scan_analysis

        findings = scan_analysis(text, problem.contract)
        blockers = [str(f) for f in findings if f.is_blocker]
        if blockers:
            raise SpecError(blockers)
        return [str(f) for f in findings]
    raise WorkbenchError(f"{filename} cannot be edited here; edit PROBLEM.md, PROGRAM.md or analysis.toml")
