"""How records look on screen: numbers, verdict words and their colours, the diff.

Plain functions returning Rich ``Text`` (usable in DataTable cells and Statics), so every
screen shows a verdict, an effect or an ELPD the same way.

Text the workbench did not write — the agent's hypotheses and rationales, the model's
tracebacks and messages, guard findings quoting code, reviewer notes, file names — goes
on screen through :func:`literal` (or inside a ``Text`` built from it), never as a markup
string: Rich and Textual would read ``[low, high]`` as a style tag and drop it, and Rich
turns ``root:x:0:0`` into an emoji. The CLI (:mod:`workbench.render`) uses the same helper.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from engine.showable import spelled_out

if TYPE_CHECKING:
    from engine.iteration import IterationRecord
    from engine.records import Effect, Finding, Metrics

STATUS_STYLES = {
    "kept": "bold green",
    "discarded": "yellow",
    "failed_gate": "bold dark_orange",
    "crashed": "bold red",
    "cancelled": "italic yellow",
    "rejected": "magenta",
    "skipped": "dim",
    "approved": "cyan",  # approved, run not recorded yet
    "pending": "bold cyan",
}

STATUS_WORDS = {"failed_gate": "failed gate"}


def literal(text: object, style: str = "") -> Text:
    """``text`` exactly as written: never parsed as Rich/Textual markup or emoji codes.

    Examples
    --------
    >>> literal("root:x:0:0 [low, high] [bold]x[/bold]").plain
    'root:x:0:0 [low, high] [bold]x[/bold]'
    """
    return Text("" if text is None else str(text), style=style)


def status_text(status: str) -> Text:
    """A verdict or decision word in its colour (``failed_gate`` reads ``failed gate``)."""
    return Text(STATUS_WORDS.get(status, status), style=STATUS_STYLES.get(status, ""))


def num(value: float | None, spec: str = ".1f", missing: str = "—") -> str:
    if value is None or value != value:
        return missing
    return format(value, spec)


def effect_text(effect: Effect | None, digits: int = 2) -> str:
    """``ATE 4.12 [3.60, 4.65]``: the estimand, posterior mean and HDI."""
    if effect is None:
        return "—"
    spec = f".{digits}f"
    text = f"{effect.estimand} {effect.mean:{spec}} [{effect.hdi_low:{spec}}, {effect.hdi_high:{spec}}]"
    return text if effect.interval == "HDI" and round(effect.hdi_prob, 2) == 0.94 else f"{text} {effect.interval_name}"


def record_effect_text(record: IterationRecord) -> str | Text:
    """The effect cell of an iteration's row: "not credible" where the sanity net failed, not a bare number."""
    sanity = record.design.sanity if record.design is not None else None
    if sanity is not None and not sanity.credible:
        return Text("not credible", style="bold red")
    m = metrics_of(record)
    return effect_text(m.effect if m else None)


def elpd_text(metrics: Metrics | None) -> str:
    if metrics is None or metrics.elpd is None:
        return "—"
    return f"{metrics.elpd:.1f} ± {num(metrics.elpd_se)}"


def delta_text(metrics: Metrics | None) -> str:
    if metrics is None or metrics.delta_elpd is None:
        return "—"
    return f"{metrics.delta_elpd:+.1f} ± {num(metrics.delta_se)}"


def metrics_of(record: IterationRecord) -> Metrics | None:
    return record.verdict.metrics if record.verdict else None


def decider_text(record: IterationRecord) -> str:
    d = record.decision
    who = d.decider
    if d.edited:
        who += " (edited)"
    if d.override:
        who += " (override)"
    return who


def one_line(text: str, width: int = 60) -> str:
    """First line of ``text``, shortened to ``width`` characters with an ellipsis."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def finding_text(finding: Finding) -> Text:
    """``✗ blocker  l.12  message (code)`` in the severity's colour."""
    blocker = finding.is_blocker
    text = Text()
    text.append("✗ blocker" if blocker else "! warning", style="bold red" if blocker else "bold yellow")
    if finding.line:
        text.append(f"  line {finding.line}", style="bold")
    text.append(f"\n  {finding.message} ", style="")
    text.append(f"({finding.code})", style="dim")
    return text


def diff_text(diff: str, dark: bool = True) -> Text:
    """A unified diff with Python syntax highlighting and tinted added/removed lines.

    Pygments' diff lexer only colours whole lines; here the code inside each line is
    highlighted as Python and the line's background says whether it was added or removed.
    """
    from rich.syntax import Syntax

    theme = "monokai" if dark else "default"
    highlighter = Syntax("", "python", theme=theme, background_color="default")
    added_bg = "on #1e3a26" if dark else "on #dcf5e0"
    removed_bg = "on #44202a" if dark else "on #fbe0e3"
    out = Text(no_wrap=True, overflow="ignore")
    for line in spelled_out(diff).splitlines():  # a direction override is shown, not obeyed
        if line.startswith(("+++", "---")):
            out.append(line + "\n", style="bold")
        elif line.startswith("@@"):
            out.append(line + "\n", style="bold cyan")
        elif line[:1] in "+- ":
            marker, code = line[:1], line[1:]
            highlighted = highlighter.highlight(code)
            highlighted.rstrip()
            row = Text(marker, style="bold green" if marker == "+" else "bold red" if marker == "-" else "dim")
            row.append_text(highlighted)
            row.append("\n")
            if marker == "+":
                row.stylize(added_bg)
            elif marker == "-":
                row.stylize(removed_bg)
            out.append_text(row)
        else:
            out.append(line + "\n", style="dim")
    out.rstrip()
    return out
