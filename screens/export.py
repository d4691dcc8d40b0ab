"""A Markdown summary of a session: the fallback for ``x`` until the report engine lands.

Pure text from records (no Textual), so the app's export worker can write it anywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from screens.format import delta_text, effect_text, elpd_text, metrics_of, num

if TYPE_CHECKING:
    from engine.records import IterationRecord


def _cell(text: str) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ").strip()


def markdown_summary(problem: Any, session_id: str, records: list[IterationRecord]) -> str:
    """The question, the contract, the current best and one table row per iteration."""
    c = problem.contract
    records = sorted(records, key=lambda r: r.number)
    kept = [r for r in records if r.verdict is not None and r.verdict.kind == "kept"]
    lines = [
        f"# {problem.title}",
        "",
        f"Session `{session_id}`. {problem.question}",
        "",
        "## Contract",
        "",
        f"- treatment: `{c.treatment}`; outcome: `{c.outcome}` ({c.outcome_type}); estimand: {c.estimand}",
        f"- allowed controls ({len(c.controls)}): " + ", ".join(f"`{x}`" for x in c.controls),
    ]
    for f in c.forbidden:
        lines.append(f"- forbidden: `{f.name}` ({f.reason}){': ' + f.note if f.note else ''}")
    lines += ["", "## Current best", ""]
    if kept:
        best = kept[-1]
        m = best.verdict.metrics
        lines.append(f"Iteration {best.number}: {best.proposal.hypothesis}")
        lines.append("")
        lines.append(f"- effect: {effect_text(m.effect)} (94% HDI)")
        lines.append(f"- ELPD: {elpd_text(m)}; R-hat max {num(m.rhat_max, '.3f')}; ESS bulk min {num(m.ess_bulk_min, '.0f')}")
    else:
        lines.append("No model has been kept yet.")
    lines += [
        "",
        "## Iterations",
        "",
        "| # | hypothesis | decision | decider | reason | verdict | ELPD ± SE | ΔELPD | effect [HDI] |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        m = metrics_of(r)
        reason = r.decision.reason or r.decision.override
        lines.append(
            "| "
            + " | ".join(
                _cell(x)
                for x in (
                    str(r.number),
                    r.proposal.hypothesis,
                    r.decision.kind.value + (" (edited)" if r.decision.edited else ""),
                    r.decision.decider,
                    reason,
                    r.status.replace("_", " "),
                    elpd_text(m),
                    delta_text(m),
                    effect_text(m.effect if m else None),
                )
            )
            + " |"
        )
    lines += ["", "Each iteration is one commit in the session's git repository (`git log` in the session folder).", ""]
    return "\n".join(lines)
